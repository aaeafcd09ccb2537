package station_test

import (
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/stations/station"
)

// rig is a charger connected to the fake central system, in a bubble.
type rig struct {
	t    *testing.T
	fc   *fakeCS
	ch   *station.Charger
	conn *fakeConn // the charger's connection now
	seen int       // how many of conn's calls next has returned
	n    int       // the server's calls so far, for their ids
}

// newRig starts charger CS0001 with co (its Options from opts) and waits
// until it has booted and reported its connectors. Close it when done.
func newRig(t *testing.T, fc *fakeCS, opts station.Options, co station.ChargerOptions) *rig {
	t.Helper()
	co.Options = opts
	ch, err := station.StartCharger(t.Context(), "CS0001", co)
	require.NoError(t, err)
	r := &rig{t: t, fc: fc, ch: ch, conn: <-fc.arrived}
	synctest.Wait()
	return r
}

// ask sends the charger a call from the server and returns its answer: the
// CALLRESULT's payload, or the CALLERROR's code. It returns once the
// charger has done what the call made it do.
func (r *rig) ask(action string, payload any) string {
	r.t.Helper()
	r.n++
	id := "srv" + strconv.Itoa(r.n)
	r.conn.call(r.t, id, action, payload)
	m := <-r.conn.answers
	require.Equal(r.t, id, m.MessageID())
	synctest.Wait()
	switch m := m.(type) {
	case *ocpp.CallResult:
		return string(m.Payload)
	case *ocpp.CallError:
		return string(m.Code)
	}
	r.t.Fatalf("answer %#v", m)
	return ""
}

// next returns the calls the charger made since the last look, each in a
// few words (see describe).
func (r *rig) next() []string {
	r.t.Helper()
	calls := r.conn.Calls()
	var out []string
	for _, c := range calls[r.seen:] {
		out = append(out, describe(r.t, c))
	}
	r.seen = len(calls)
	return out
}

// reconnected waits for the charger's next connection, reports how long it
// took, and waits until it has booted.
func (r *rig) reconnected() time.Duration {
	start := time.Now()
	r.conn, r.seen = <-r.fc.arrived, 0
	took := time.Since(start)
	synctest.Wait()
	return took
}

// describe says what a call was in a few words: the action, and what
// tells it apart (the connector and status, the idTag, the transaction and
// reason).
func describe(t *testing.T, c *ocpp.Call) string {
	t.Helper()
	switch c.Action {
	case ocpp.ActionStatusNotification:
		r := decode[ocpp.StatusNotificationRequest](t, c)
		require.Equal(t, ocpp.ChargePointNoError, r.ErrorCode)
		return fmt.Sprintf("%s %d %s", c.Action, r.ConnectorId, r.Status)
	case ocpp.ActionAuthorize:
		return c.Action + " " + decode[ocpp.AuthorizeRequest](t, c).IdTag
	case ocpp.ActionStartTransaction:
		r := decode[ocpp.StartTransactionRequest](t, c)
		s := fmt.Sprintf("%s %d %s", c.Action, r.ConnectorId, r.IdTag)
		if r.ReservationId != nil {
			s += fmt.Sprintf(" reservation %d", *r.ReservationId)
		}
		return s
	case ocpp.ActionStopTransaction:
		r := decode[ocpp.StopTransactionRequest](t, c)
		return fmt.Sprintf("%s %d %s", c.Action, r.TransactionId, r.Reason)
	case ocpp.ActionMeterValues:
		r := decode[ocpp.MeterValuesRequest](t, c)
		s := fmt.Sprintf("%s %d %s", c.Action, r.ConnectorId, r.MeterValue[0].SampledValue[0].Context)
		if r.TransactionId != nil {
			s += fmt.Sprintf(" tx %d", *r.TransactionId)
		}
		return s
	case ocpp.ActionDiagnosticsStatusNotification:
		return c.Action + " " + string(decode[ocpp.DiagnosticsStatusNotificationRequest](t, c).Status)
	case ocpp.ActionFirmwareStatusNotification:
		return c.Action + " " + string(decode[ocpp.FirmwareStatusNotificationRequest](t, c).Status)
	}
	return c.Action
}

func remoteStart(tag string, connector ...int) ocpp.RemoteStartTransactionRequest {
	req := ocpp.RemoteStartTransactionRequest{IdTag: tag}
	if len(connector) > 0 {
		req.ConnectorId = &connector[0]
	}
	return req
}

const (
	accepted = `{"status":"Accepted"}`
	rejected = `{"status":"Rejected"}`
)

// The fake's first transaction id.
const firstTx = 1001

// A charger boots, reports its connectors, and sends a Heartbeat every
// interval the BootNotification's answer gave.
func TestChargerBoots(t *testing.T) {
	defer goleak.VerifyNone(t)
	inBubble(t, fakeConfig{}, func(t *testing.T, fc *fakeCS, opts station.Options) {
		r := newRig(t, fc, opts, station.ChargerOptions{Connectors: 2})
		defer r.ch.Close()
		require.Equal(t, []string{"BootNotification", "StatusNotification 1 Available", "StatusNotification 2 Available"}, r.next())
		require.Equal(t, "CS0001", r.ch.ID())
		for i, k := range r.ch.Connectors() {
			require.Equal(t, i+1, k.ID)
			require.Equal(t, ocpp.StatusAvailable, k.Status)
		}

		time.Sleep(299 * time.Second) // the fake answers with an interval of 300 s
		synctest.Wait()
		require.Empty(t, r.next())
		time.Sleep(time.Second)
		synctest.Wait()
		require.Equal(t, []string{"Heartbeat"}, r.next())

		require.NoError(t, r.ch.Close())
		require.NoError(t, r.ch.Err())
		select {
		case <-r.ch.Done():
		default:
			t.Fatal("Done is open after Close")
		}
		for _, c := range r.ch.Calls() {
			require.NoError(t, c.Err)
		}
		require.Len(t, r.ch.Calls(), 4)
	})
}

// RemoteStartTransaction runs a charging session, with meter values every
// MeterValueSampleInterval, until RemoteStopTransaction ends it.
func TestChargerRemoteStartStop(t *testing.T) {
	defer goleak.VerifyNone(t)
	inBubble(t, fakeConfig{}, func(t *testing.T, fc *fakeCS, opts station.Options) {
		r := newRig(t, fc, opts, station.ChargerOptions{})
		defer r.ch.Close()
		r.next()

		time.Sleep(3 * time.Second) // samples count from the start, not from the boot
		require.Equal(t, accepted, r.ask(ocpp.ActionRemoteStartTransaction, remoteStart("OPERATOR1")))
		require.Equal(t, []string{
			"StatusNotification 1 Preparing",
			"Authorize OPERATOR1", // AuthorizeRemoteTxRequests is true by default
			"StartTransaction 1 OPERATOR1",
			"StatusNotification 1 Charging",
		}, r.next())
		k := r.ch.Connectors()[0]
		require.Equal(t, ocpp.StatusCharging, k.Status)
		require.Equal(t, firstTx, k.Transaction)
		start := decode[ocpp.StartTransactionRequest](t, r.conn.Calls()[4])

		// The connector is busy.
		require.Equal(t, rejected, r.ask(ocpp.ActionRemoteStartTransaction, remoteStart("OPERATOR2", 1)))
		require.Equal(t, rejected, r.ask(ocpp.ActionRemoteStartTransaction, remoteStart("OPERATOR2")))
		require.Empty(t, r.next())

		energy := start.MeterStart
		for range 3 {
			time.Sleep(station.DefaultMeterValueSampleInterval - time.Millisecond)
			synctest.Wait()
			require.Empty(t, r.next())
			time.Sleep(time.Millisecond)
			synctest.Wait()
			require.Equal(t, []string{"MeterValues 1 Sample.Periodic tx 1001"}, r.next())
			mv := decode[ocpp.MeterValuesRequest](t, r.conn.Calls()[r.seen-1])
			sv := mv.MeterValue[0].SampledValue
			require.Len(t, sv, 2)
			require.Equal(t, ocpp.MeasurandEnergyActiveImportRegister, sv[0].Measurand)
			require.Equal(t, ocpp.MeasurandPowerActiveImport, sv[1].Measurand)
			wh, err := strconv.Atoi(sv[0].Value)
			require.NoError(t, err)
			require.InDelta(t, 11000.0*10/3600, wh-energy, 2, "Wh in 10 s at 11 kW")
			energy = wh
		}

		require.Equal(t, rejected, r.ask(ocpp.ActionRemoteStopTransaction, ocpp.RemoteStopTransactionRequest{TransactionId: 999}))
		require.Empty(t, r.next())
		require.Equal(t, accepted, r.ask(ocpp.ActionRemoteStopTransaction, ocpp.RemoteStopTransactionRequest{TransactionId: firstTx}))
		require.Equal(t, []string{"StatusNotification 1 Finishing", "StopTransaction 1001 Remote", "StatusNotification 1 Available"}, r.next())
		stop := decode[ocpp.StopTransactionRequest](t, r.conn.Calls()[r.seen-2])
		require.Equal(t, energy, stop.MeterStop, "no time passed since the last sample")
		require.Equal(t, "OPERATOR1", stop.IdTag)
		require.Equal(t, rejected, r.ask(ocpp.ActionRemoteStopTransaction, ocpp.RemoteStopTransactionRequest{TransactionId: firstTx}))

		// Stopped: no more samples; the register kept what it counted.
		time.Sleep(time.Minute)
		synctest.Wait()
		require.Empty(t, r.next())
		require.Equal(t, station.ConnectorState{ID: 1, Status: ocpp.StatusAvailable, Energy: energy}, r.ch.Connectors()[0])
		require.Equal(t, accepted, r.ask(ocpp.ActionRemoteStartTransaction, remoteStart("OPERATOR1", 1)))
		r.next()
		require.Equal(t, energy, decode[ocpp.StartTransactionRequest](t, r.conn.Calls()[r.seen-2]).MeterStart)
	})
}

// A start the server refuses ends where it was refused.
func TestChargerStartRefused(t *testing.T) {
	defer goleak.VerifyNone(t)
	invalid := ocpp.IdTagInfo{Status: ocpp.AuthorizationInvalid}
	tests := []struct {
		name      string
		authorize string // AuthorizeRemoteTxRequests
		answer    func(c *ocpp.Call) any
		want      []string
	}{
		{
			name: "Authorize Invalid", authorize: "true",
			answer: func(c *ocpp.Call) any {
				if c.Action == ocpp.ActionAuthorize {
					return ocpp.AuthorizeResponse{IdTagInfo: invalid}
				}
				return nil
			},
			want: []string{"StatusNotification 1 Preparing", "Authorize LOST", "StatusNotification 1 Available"},
		},
		{
			name: "StartTransaction Invalid", authorize: "false",
			answer: func(c *ocpp.Call) any {
				if c.Action == ocpp.ActionStartTransaction {
					return ocpp.StartTransactionResponse{IdTagInfo: invalid, TransactionId: 7}
				}
				return nil
			},
			want: []string{"StatusNotification 1 Preparing", "StartTransaction 1 LOST",
				"StatusNotification 1 Finishing", "StopTransaction 7 DeAuthorized", "StatusNotification 1 Available"},
		},
		{
			name: "StartTransaction CALLERROR", authorize: "false",
			answer: func(c *ocpp.Call) any {
				if c.Action == ocpp.ActionStartTransaction {
					return ocpp.NewCallError("", ocpp.InternalError, "store down")
				}
				return nil
			},
			want: []string{"StatusNotification 1 Preparing", "StartTransaction 1 LOST", "StatusNotification 1 Available"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inBubble(t, fakeConfig{tweak: tt.answer}, func(t *testing.T, fc *fakeCS, opts station.Options) {
				r := newRig(t, fc, opts, station.ChargerOptions{})
				defer r.ch.Close()
				r.next()
				require.Equal(t, accepted, r.ask(ocpp.ActionChangeConfiguration,
					ocpp.ChangeConfigurationRequest{Key: station.KeyAuthorizeRemoteTxRequests, Value: tt.authorize}))
				require.Equal(t, accepted, r.ask(ocpp.ActionRemoteStartTransaction, remoteStart("LOST")))
				require.Equal(t, tt.want, r.next())
				require.Equal(t, station.ConnectorState{ID: 1, Status: ocpp.StatusAvailable, Energy: r.ch.Connectors()[0].Energy}, r.ch.Connectors()[0])
			})
		})
	}
}

// Reset stops the transaction, ends the connection (a hard reset without a
// close frame) and connects again after the reboot delay, to boot again.
func TestChargerReset(t *testing.T) {
	defer goleak.VerifyNone(t)
	for _, kind := range []string{ocpp.ResetSoft, ocpp.ResetHard} {
		t.Run(kind, func(t *testing.T) {
			inBubble(t, fakeConfig{}, func(t *testing.T, fc *fakeCS, opts station.Options) {
				const reboot = 5 * time.Second
				r := newRig(t, fc, opts, station.ChargerOptions{RebootDelay: reboot})
				defer r.ch.Close()
				r.next()
				require.Equal(t, accepted, r.ask(ocpp.ActionRemoteStartTransaction, remoteStart("OPERATOR1")))
				r.next()

				old := r.conn
				require.Equal(t, accepted, r.ask(ocpp.ActionReset, ocpp.ResetRequest{Type: kind}))
				require.Equal(t, []string{"StopTransaction 1001 " + kind + "Reset"}, r.next())
				// A soft reset closes the polite way; a hard one drops the
				// connection, which gorilla reports as an abnormal closure.
				var ce *websocket.CloseError
				require.ErrorAs(t, old.readEnd(), &ce)
				require.Equal(t, map[string]int{ocpp.ResetSoft: websocket.CloseNormalClosure, ocpp.ResetHard: websocket.CloseAbnormalClosure}[kind], ce.Code)
				require.Equal(t, station.ConnectorState{ID: 1, Status: ocpp.StatusAvailable, Energy: r.ch.Connectors()[0].Energy}, r.ch.Connectors()[0])

				require.Equal(t, reboot, r.reconnected())
				require.Equal(t, []string{"BootNotification", "StatusNotification 1 Available"}, r.next())
				require.Equal(t, []string{"1", "2"}, ids(r.conn.Calls()), "a new connection numbers its calls afresh")

				// The rebooted charger charges again.
				require.Equal(t, accepted, r.ask(ocpp.ActionRemoteStartTransaction, remoteStart("OPERATOR1")))
				require.Contains(t, r.next(), "StatusNotification 1 Charging")
				require.NoError(t, r.ch.Err())
			})
		})
	}
}

// ChangeAvailability takes connectors out of service and back, at once or,
// for a connector that charges, once its transaction ends.
func TestChargerChangeAvailability(t *testing.T) {
	defer goleak.VerifyNone(t)
	inBubble(t, fakeConfig{}, func(t *testing.T, fc *fakeCS, opts station.Options) {
		r := newRig(t, fc, opts, station.ChargerOptions{Connectors: 2})
		defer r.ch.Close()
		r.next()
		change := func(connector int, typ string) string {
			return r.ask(ocpp.ActionChangeAvailability, ocpp.ChangeAvailabilityRequest{ConnectorId: connector, Type: typ})
		}
		const in, out = ocpp.AvailabilityOperative, ocpp.AvailabilityInoperative

		require.Equal(t, accepted, change(2, out))
		require.Equal(t, []string{"StatusNotification 2 Unavailable"}, r.next())
		require.Equal(t, accepted, change(2, out), "already")
		require.Empty(t, r.next())
		require.Equal(t, rejected, change(3, out), "no connector 3")
		require.Equal(t, rejected, r.ask(ocpp.ActionRemoteStartTransaction, remoteStart("OPERATOR1", 2)))

		require.Equal(t, accepted, r.ask(ocpp.ActionRemoteStartTransaction, remoteStart("OPERATOR1")))
		require.Contains(t, r.next(), "StartTransaction 1 OPERATOR1", "the free connector")
		require.Equal(t, `{"status":"Scheduled"}`, change(0, out))
		require.Empty(t, r.next())
		require.True(t, r.ch.Connectors()[0].Inoperative)
		require.Equal(t, ocpp.StatusCharging, r.ch.Connectors()[0].Status)
		require.Equal(t, accepted, r.ask(ocpp.ActionRemoteStopTransaction, ocpp.RemoteStopTransactionRequest{TransactionId: firstTx}))
		require.Equal(t, []string{"StatusNotification 1 Finishing", "StopTransaction 1001 Remote", "StatusNotification 1 Unavailable"}, r.next())

		require.Equal(t, accepted, change(0, in))
		require.Equal(t, []string{"StatusNotification 1 Available", "StatusNotification 2 Available"}, r.next())

		// Availability outlives a reboot.
		require.Equal(t, accepted, change(1, out))
		r.next()
		require.Equal(t, accepted, r.ask(ocpp.ActionReset, ocpp.ResetRequest{Type: ocpp.ResetSoft}))
		r.reconnected()
		require.Equal(t, []string{"BootNotification", "StatusNotification 1 Unavailable", "StatusNotification 2 Available"}, r.next())
	})
}

// UnlockConnector ends the connector's transaction; a connector the charger
// does not have is NotSupported.
func TestChargerUnlockConnector(t *testing.T) {
	defer goleak.VerifyNone(t)
	inBubble(t, fakeConfig{}, func(t *testing.T, fc *fakeCS, opts station.Options) {
		r := newRig(t, fc, opts, station.ChargerOptions{})
		defer r.ch.Close()
		r.next()
		unlock := func(connector int) string {
			return r.ask(ocpp.ActionUnlockConnector, ocpp.UnlockConnectorRequest{ConnectorId: connector})
		}
		const unlocked = `{"status":"Unlocked"}`

		require.Equal(t, unlocked, unlock(1))
		require.Empty(t, r.next())
		require.Equal(t, `{"status":"NotSupported"}`, unlock(2))
		require.Equal(t, accepted, r.ask(ocpp.ActionRemoteStartTransaction, remoteStart("OPERATOR1")))
		r.next()
		require.Equal(t, unlocked, unlock(1))
		require.Equal(t, []string{"StatusNotification 1 Finishing", "StopTransaction 1001 UnlockCommand", "StatusNotification 1 Available"}, r.next())
	})
}

// TriggerMessage sends the message asked for, about the connector asked
// for or all of them.
func TestChargerTriggerMessage(t *testing.T) {
	defer goleak.VerifyNone(t)
	one, five := 1, 5
	tests := []struct {
		message   string
		connector *int
		want      string
		calls     []string
	}{
		{ocpp.TriggerBootNotification, nil, accepted, []string{"BootNotification"}},
		{ocpp.TriggerHeartbeat, nil, accepted, []string{"Heartbeat"}},
		{ocpp.TriggerStatusNotification, nil, accepted, []string{"StatusNotification 1 Charging", "StatusNotification 2 Available"}},
		{ocpp.TriggerStatusNotification, &one, accepted, []string{"StatusNotification 1 Charging"}},
		{ocpp.TriggerStatusNotification, &five, rejected, nil},
		{ocpp.TriggerMeterValues, nil, accepted, []string{"MeterValues 1 Trigger tx 1001", "MeterValues 2 Trigger"}},
		{ocpp.TriggerDiagnosticsStatusNotification, nil, accepted, []string{"DiagnosticsStatusNotification Idle"}},
		{ocpp.TriggerFirmwareStatusNotification, nil, accepted, []string{"FirmwareStatusNotification Idle"}},
	}
	for _, tt := range tests {
		name := tt.message
		if tt.connector != nil {
			name += " " + strconv.Itoa(*tt.connector)
		}
		t.Run(name, func(t *testing.T) {
			inBubble(t, fakeConfig{}, func(t *testing.T, fc *fakeCS, opts station.Options) {
				r := newRig(t, fc, opts, station.ChargerOptions{Connectors: 2})
				defer r.ch.Close()
				require.Equal(t, accepted, r.ask(ocpp.ActionRemoteStartTransaction, remoteStart("OPERATOR1")))
				r.next()
				got := r.ask(ocpp.ActionTriggerMessage, ocpp.TriggerMessageRequest{RequestedMessage: tt.message, ConnectorId: tt.connector})
				require.Equal(t, tt.want, got)
				require.Equal(t, tt.calls, r.next())
			})
		})
	}
}

// The configuration is a table of known keys: a read-only key or a value a
// key does not take is Rejected, an unknown key NotSupported, and the
// charger acts on what is accepted.
func TestChargerConfiguration(t *testing.T) {
	defer goleak.VerifyNone(t)
	inBubble(t, fakeConfig{}, func(t *testing.T, fc *fakeCS, opts station.Options) {
		r := newRig(t, fc, opts, station.ChargerOptions{Connectors: 2})
		defer r.ch.Close()
		r.next()
		set := func(key, value string) string {
			return r.ask(ocpp.ActionChangeConfiguration, ocpp.ChangeConfigurationRequest{Key: key, Value: value})
		}
		get := func(keys ...string) ocpp.GetConfigurationResponse {
			var resp ocpp.GetConfigurationResponse
			require.NoError(t, json.Unmarshal([]byte(r.ask(ocpp.ActionGetConfiguration, ocpp.GetConfigurationRequest{Key: keys})), &resp))
			return resp
		}
		value := func(key string) string {
			resp := get(key)
			require.Len(t, resp.ConfigurationKey, 1, key)
			return *resp.ConfigurationKey[0].Value
		}

		all := get()
		require.Len(t, all.ConfigurationKey, 31)
		require.Empty(t, all.UnknownKey)
		require.Equal(t, ocpp.GetConfigurationResponse{
			ConfigurationKey: []ocpp.KeyValue{{Key: "NumberOfConnectors", Readonly: true, Value: ptr("2")}},
			UnknownKey:       []string{"Colour"},
		}, get("NumberOfConnectors", "Colour"))
		require.Equal(t, "300", value(station.KeyHeartbeatInterval), "from the BootNotification's answer")
		require.Equal(t, "10", value(station.KeyMeterValueSampleInterval))
		require.Equal(t, "true", value(station.KeyAuthorizeRemoteTxRequests))

		for _, tt := range []struct{ key, value, want string }{
			{"NumberOfConnectors", "3", rejected},
			{"SupportedFeatureProfiles", "Core", rejected},
			{"Colour", "blue", `{"status":"NotSupported"}`},
			{station.KeyMeterValueSampleInterval, "fast", rejected},
			{station.KeyMeterValueSampleInterval, "-1", rejected},
			{station.KeyAuthorizeRemoteTxRequests, "yes", rejected},
			{station.KeyMeterValuesSampledData, "Energy.Active.Import.Register,Colour", rejected},
			{station.KeyAuthorizeRemoteTxRequests, "FALSE", accepted},
			{station.KeyMeterValueSampleInterval, "30", accepted},
			{station.KeyHeartbeatInterval, "45", accepted},
			{station.KeyMeterValuesSampledData, "Energy.Active.Import.Register, Current.Import,Voltage", accepted},
		} {
			require.Equal(t, tt.want, set(tt.key, tt.value), "%s = %s", tt.key, tt.value)
		}
		require.Equal(t, "false", value(station.KeyAuthorizeRemoteTxRequests))
		require.Equal(t, "Energy.Active.Import.Register,Current.Import,Voltage", value(station.KeyMeterValuesSampledData))
		require.Empty(t, r.next())

		// The charger acts on them: no Authorize, a Heartbeat every 45 s, a
		// sample every 30 s with the measurands asked for.
		require.Equal(t, accepted, r.ask(ocpp.ActionRemoteStartTransaction, remoteStart("OPERATOR1")))
		require.Equal(t, []string{"StatusNotification 1 Preparing", "StartTransaction 1 OPERATOR1", "StatusNotification 1 Charging"}, r.next())
		time.Sleep(time.Minute)
		synctest.Wait()
		require.Equal(t, []string{"MeterValues 1 Sample.Periodic tx 1001", "Heartbeat", "MeterValues 1 Sample.Periodic tx 1001"}, r.next())
		mv := decode[ocpp.MeterValuesRequest](t, r.conn.Calls()[r.seen-1])
		var measurands []string
		for _, sv := range mv.MeterValue[0].SampledValue {
			measurands = append(measurands, sv.Measurand+" "+sv.Value+" "+sv.Unit)
		}
		require.Len(t, mv.MeterValue[0].SampledValue, 3)
		require.Equal(t, ocpp.MeasurandEnergyActiveImportRegister, mv.MeterValue[0].SampledValue[0].Measurand)
		current := mv.MeterValue[0].SampledValue[1]
		require.Equal(t, ocpp.MeasurandCurrentImport, current.Measurand)
		require.Equal(t, ocpp.UnitA, current.Unit)
		amps, err := strconv.ParseFloat(current.Value, 64)
		require.NoError(t, err)
		require.InDelta(t, 16, amps, 0.5, "11 kW on three phases of 230 V")
		require.Equal(t, "Voltage 230 V", measurands[2])

		require.Equal(t, accepted, set(station.KeyMeterValueSampleInterval, "0"))
		time.Sleep(time.Hour)
		synctest.Wait()
		require.NotContains(t, r.next(), "MeterValues 1 Sample.Periodic tx 1001", "0 samples nothing")
	})
}

func ptr[T any](v T) *T { return &v }

// Calls the charger does not act on get DefaultAnswer's answers.
func TestChargerOtherCalls(t *testing.T) {
	defer goleak.VerifyNone(t)
	inBubble(t, fakeConfig{}, func(t *testing.T, fc *fakeCS, opts station.Options) {
		r := newRig(t, fc, opts, station.ChargerOptions{})
		defer r.ch.Close()
		r.next()
		require.Equal(t, accepted, r.ask(ocpp.ActionClearCache, nil))
		require.Equal(t, accepted, r.ask(ocpp.ActionDataTransfer, ocpp.DataTransferRequest{VendorId: "kata"}))
		require.Equal(t, string(ocpp.NotImplemented), r.ask("SelfDestruct", nil))
		require.Equal(t, string(ocpp.PropertyConstraintViolation), r.ask(ocpp.ActionReset, ocpp.ResetRequest{Type: "Gentle"}))
		require.Equal(t, string(ocpp.OccurenceConstraintViolation), r.ask(ocpp.ActionRemoteStartTransaction, struct{}{}))
		require.Empty(t, r.next())
	})
}

// A charger stops when the server closes its connection, and says why;
// Close ends it wherever it is.
func TestChargerEnds(t *testing.T) {
	defer goleak.VerifyNone(t)
	t.Run("server closes", func(t *testing.T) {
		inBubble(t, fakeConfig{}, func(t *testing.T, fc *fakeCS, opts station.Options) {
			r := newRig(t, fc, opts, station.ChargerOptions{})
			defer r.ch.Close()
			msg := websocket.FormatCloseMessage(websocket.CloseGoingAway, "bye")
			require.NoError(t, r.conn.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second)))
			<-r.ch.Done()
			var ce *websocket.CloseError
			require.ErrorAs(t, r.ch.Err(), &ce)
			require.Equal(t, websocket.CloseGoingAway, ce.Code)
		})
	})
	t.Run("closed while rebooting", func(t *testing.T) {
		inBubble(t, fakeConfig{}, func(t *testing.T, fc *fakeCS, opts station.Options) {
			r := newRig(t, fc, opts, station.ChargerOptions{})
			require.Equal(t, accepted, r.ask(ocpp.ActionReset, ocpp.ResetRequest{Type: ocpp.ResetHard}))
			time.Sleep(time.Second)
			start := time.Now()
			require.NoError(t, r.ch.Close())
			require.Zero(t, time.Since(start))
			require.NoError(t, r.ch.Err())
		})
	})
	t.Run("closed while waiting for an answer", func(t *testing.T) {
		silent := func(c *ocpp.Call) any {
			if c.Action == ocpp.ActionStatusNotification {
				return nil
			}
			return ocpp.BootNotificationResponse{Status: ocpp.RegistrationAccepted, CurrentTime: ocpp.DateTime{Time: time.Now()}, Interval: 300}
		}
		inBubble(t, fakeConfig{answer: silent}, func(t *testing.T, fc *fakeCS, opts station.Options) {
			r := newRig(t, fc, opts, station.ChargerOptions{})
			require.Equal(t, []string{"BootNotification", "StatusNotification 1 Available"}, r.next())
			require.NoError(t, r.ch.Close())
			require.Len(t, r.ch.Calls(), 1, "the call Close cut short is not a failure of the charger")
		})
	})
	t.Run("bad options", func(t *testing.T) {
		for _, co := range []station.ChargerOptions{
			{Options: station.Options{URL: "ws://central.test/ocpp", Answer: station.DefaultAnswer}},
			{Options: station.Options{URL: "ws://central.test/ocpp"}, Connectors: -1},
			{Options: station.Options{URL: "ws://central.test/ocpp"}, RebootDelay: -time.Second},
		} {
			_, err := station.StartCharger(t.Context(), "CS0001", co)
			require.Error(t, err)
		}
	})
}

// An idle fleet of chargers acts on the server's calls and reports every
// call its chargers made.
func TestFleetChargers(t *testing.T) {
	defer goleak.VerifyNone(t)
	inBubble(t, fakeConfig{}, func(t *testing.T, fc *fakeCS, opts station.Options) {
		reports := make(chan *station.Report)
		go func() {
			r, err := station.RunFleet(t.Context(), station.FleetOptions{Options: opts, Stations: 2, Mode: station.Idle, Chargers: true, Hold: 55 * time.Second})
			require.NoError(t, err)
			reports <- r
		}()
		for range 2 {
			<-fc.arrived
		}
		synctest.Wait()
		c := fc.conn("CS0002")
		c.call(t, "srv1", ocpp.ActionRemoteStartTransaction, remoteStart("OPERATOR1"))
		require.Equal(t, &ocpp.CallResult{ID: "srv1", Payload: []byte(accepted)}, <-c.answers)
		r := <-reports
		require.Empty(t, r.Failures())
		require.Equal(t, 2, r.Connected)
		require.Equal(t, 55*time.Second, r.Wall)
		// CS0002: boot, Available, Preparing, Authorize, StartTransaction,
		// Charging, and a sample every 10 s while it held.
		require.Equal(t, 2, len(r.Stations[0].Calls))
		require.Equal(t, 6+5, len(r.Stations[1].Calls), "%v", actions(fc.conn("CS0002").Calls()))
		require.Equal(t, r.Calls, r.Answered)

		_, err := station.RunFleet(t.Context(), station.FleetOptions{Options: station.Options{URL: opts.URL, Answer: station.DefaultAnswer}, Stations: 1, Mode: station.Idle, Chargers: true})
		require.ErrorContains(t, err, "leave Options.Answer nil")
		_, err = station.RunFleet(t.Context(), station.FleetOptions{Options: opts, Stations: 1, Mode: station.Idle, Reconnect: true})
		require.ErrorContains(t, err, "only chargers reconnect")
	})
}

// With Reconnect, a charger whose server went away connects again, with
// waits that double and vary, and its transaction goes on.
func TestChargerReconnects(t *testing.T) {
	defer goleak.VerifyNone(t)
	synctest.Test(t, func(t *testing.T) {
		const addr, url = "central.test:80", "ws://central.test/ocpp"
		n := newNetwork()
		fc := newFakeCS(t, n.listen(addr), fakeConfig{})
		r := newRig(t, fc, station.Options{URL: url, Dial: n.DialContext}, station.ChargerOptions{Reconnect: true})
		defer r.ch.Close()
		require.Equal(t, accepted, r.ask(ocpp.ActionRemoteStartTransaction, remoteStart("OPERATOR1")))
		r.next()

		// The server stops, saying goodbye, and is back 10 s later.
		msg := websocket.FormatCloseMessage(websocket.CloseGoingAway, "restarting")
		require.NoError(t, r.conn.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second)))
		synctest.Wait()
		dropped := time.Now()
		n.down(addr)
		fc.Close()
		time.Sleep(10 * time.Second)
		back := time.Now()
		r.fc = newFakeCS(t, n.listen(addr), fakeConfig{})
		defer r.fc.Close()
		r.reconnected()

		// Each attempt came between half and all of a wait after the last:
		// 2 s, then twice as long each time, up to 15 s. Those before the
		// server was back were refused; the first one after connected.
		dials := n.dialed()[1:] // the first connected at the start
		last := dropped
		for i, d := range dials {
			wait := min(station.ReconnectWait<<i, station.MaxReconnectWait)
			gap := d.at.Sub(last)
			require.True(t, gap >= wait/2 && gap < wait, "attempt %d came %v after the one before, want between %v and %v", i+1, gap, wait/2, wait)
			require.Equal(t, i == len(dials)-1, !d.at.Before(back), "attempt %d at %v, the server back at %v", i+1, d.at.Sub(dropped), back.Sub(dropped))
			last = d.at
		}
		require.Equal(t, []station.Reconnect{{From: url, To: url, Took: last.Sub(dropped)}}, r.ch.Reconnects())

		require.Equal(t, []string{"BootNotification", "StatusNotification 1 Charging"}, r.next())
		require.Equal(t, firstTx, r.ch.Connectors()[0].Transaction)
		time.Sleep(station.DefaultMeterValueSampleInterval)
		synctest.Wait()
		require.Equal(t, []string{"MeterValues 1 Sample.Periodic tx 1001"}, r.next())
		require.Equal(t, accepted, r.ask(ocpp.ActionRemoteStopTransaction, ocpp.RemoteStopTransactionRequest{TransactionId: firstTx}))
		require.Equal(t, []string{"StatusNotification 1 Finishing", "StopTransaction 1001 Remote", "StatusNotification 1 Available"}, r.next())
		require.NoError(t, r.ch.Err())
	})
}
