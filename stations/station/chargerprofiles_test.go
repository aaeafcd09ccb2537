package station_test

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/stations/station"
)

// trigger asks the charger for message and returns what it sent.
func (r *rig) trigger(message string) []string {
	r.t.Helper()
	require.Equal(r.t, accepted, r.ask(ocpp.ActionTriggerMessage, ocpp.TriggerMessageRequest{RequestedMessage: message}))
	return r.next()
}

// wait lets d of fake time pass, and waits until the charger has done what
// it made it do.
func wait(d time.Duration) {
	time.Sleep(d)
	synctest.Wait()
}

// GetDiagnostics names a file, then reports Uploading and, a short upload
// later, Uploaded; a location the charger cannot use fails. A triggered
// DiagnosticsStatusNotification says how it goes.
func TestChargerGetDiagnostics(t *testing.T) {
	defer goleak.VerifyNone(t)
	for _, tt := range []struct{ location, end string }{
		{"ftp://diagnostics.example.com/uploads/", "Uploaded"},
		{"HTTPS://user:secret@diagnostics.example.com/x", "Uploaded"},
		{"file:///var/log/", "UploadFailed"},
		{"mailto:ops@example.com", "UploadFailed"},
	} {
		t.Run(tt.location, func(t *testing.T) {
			inBubble(t, fakeConfig{}, func(t *testing.T, fc *fakeCS, opts station.Options) {
				r := newRig(t, fc, opts, station.ChargerOptions{})
				defer r.ch.Close()
				r.next()
				require.Equal(t, []string{"DiagnosticsStatusNotification Idle"}, r.trigger(ocpp.TriggerDiagnosticsStatusNotification))

				get := ocpp.GetDiagnosticsRequest{Location: tt.location}
				require.Equal(t, `{"fileName":"CS0001-20000101T000000Z.log"}`, r.ask(ocpp.ActionGetDiagnostics, get))
				require.Equal(t, []string{"DiagnosticsStatusNotification Uploading"}, r.next())
				require.Equal(t, `{}`, r.ask(ocpp.ActionGetDiagnostics, get), "one upload at a time")
				require.Equal(t, []string{"DiagnosticsStatusNotification Uploading"}, r.trigger(ocpp.TriggerDiagnosticsStatusNotification))
				wait(5*time.Second - time.Millisecond)
				require.Empty(t, r.next())
				wait(time.Millisecond)
				require.Equal(t, []string{"DiagnosticsStatusNotification " + tt.end}, r.next())
				require.Equal(t, []string{"DiagnosticsStatusNotification Idle"}, r.trigger(ocpp.TriggerDiagnosticsStatusNotification))
			})
		})
	}
}

// UpdateFirmware downloads at its retrieve date, installs, reboots (a
// transaction under way stops, reason Reboot), boots with the new
// firmwareVersion and reports Installed; a location the charger cannot use
// fails the download. A triggered FirmwareStatusNotification says how it
// goes.
func TestChargerUpdateFirmware(t *testing.T) {
	defer goleak.VerifyNone(t)
	const reboot = 3 * time.Second
	t.Run("installed", func(t *testing.T) {
		inBubble(t, fakeConfig{}, func(t *testing.T, fc *fakeCS, opts station.Options) {
			r := newRig(t, fc, opts, station.ChargerOptions{RebootDelay: reboot})
			defer r.ch.Close()
			require.Equal(t, "1.6.0-sim", decode[ocpp.BootNotificationRequest](t, r.conn.Calls()[0]).FirmwareVersion)
			require.Equal(t, accepted, r.ask(ocpp.ActionChangeConfiguration,
				ocpp.ChangeConfigurationRequest{Key: station.KeyMeterValueSampleInterval, Value: "0"}))
			require.Equal(t, accepted, r.ask(ocpp.ActionRemoteStartTransaction, remoteStart("OPERATOR1")))
			r.next()
			// Heartbeats come every 300 s; the download is between two.
			retrieve := time.Hour + time.Second
			update := ocpp.UpdateFirmwareRequest{Location: "https://firmware.example.com/station-2.0.bin", RetrieveDate: ocpp.DateTime{Time: time.Now().Add(retrieve)}}
			require.Equal(t, `{}`, r.ask(ocpp.ActionUpdateFirmware, update))
			require.Empty(t, r.next())
			require.Equal(t, []string{"FirmwareStatusNotification Idle"}, r.trigger(ocpp.TriggerFirmwareStatusNotification), "waiting for the retrieve date")
			update.Location = "https://firmware.example.com/other.bin"
			require.Equal(t, `{}`, r.ask(ocpp.ActionUpdateFirmware, update), "one update at a time: this one is ignored")

			wait(retrieve - time.Millisecond)
			require.NotContains(t, r.next(), "FirmwareStatusNotification Downloading")
			wait(time.Millisecond)
			require.Equal(t, []string{"FirmwareStatusNotification Downloading"}, r.next())
			require.Equal(t, []string{"FirmwareStatusNotification Downloading"}, r.trigger(ocpp.TriggerFirmwareStatusNotification))
			wait(10 * time.Second)
			require.Equal(t, []string{
				"FirmwareStatusNotification Downloaded",
				"FirmwareStatusNotification Installing",
				"StopTransaction 1001 Reboot",
			}, r.next())

			require.Equal(t, reboot, r.reconnected())
			require.Equal(t, []string{"BootNotification", "StatusNotification 1 Available", "FirmwareStatusNotification Installed"}, r.next())
			require.Equal(t, "station-2.0", decode[ocpp.BootNotificationRequest](t, r.conn.Calls()[0]).FirmwareVersion)
			require.Equal(t, []string{"FirmwareStatusNotification Idle"}, r.trigger(ocpp.TriggerFirmwareStatusNotification))

			// The version outlives the next reboot, and nothing is
			// installed again.
			require.Equal(t, accepted, r.ask(ocpp.ActionReset, ocpp.ResetRequest{Type: ocpp.ResetSoft}))
			r.reconnected()
			require.Equal(t, []string{"BootNotification", "StatusNotification 1 Available"}, r.next())
			require.Equal(t, "station-2.0", decode[ocpp.BootNotificationRequest](t, r.conn.Calls()[0]).FirmwareVersion)
		})
	})
	t.Run("download failed", func(t *testing.T) {
		inBubble(t, fakeConfig{}, func(t *testing.T, fc *fakeCS, opts station.Options) {
			r := newRig(t, fc, opts, station.ChargerOptions{RebootDelay: reboot})
			defer r.ch.Close()
			r.next()
			past := ocpp.DateTime{Time: time.Now().Add(-time.Hour)}
			update := ocpp.UpdateFirmwareRequest{Location: "file:///firmware/station-2.0.bin", RetrieveDate: past}
			require.Equal(t, `{}`, r.ask(ocpp.ActionUpdateFirmware, update))
			require.Equal(t, []string{"FirmwareStatusNotification Downloading", "FirmwareStatusNotification DownloadFailed"}, r.next(), "a retrieve date past is now")
			wait(time.Minute)
			require.Empty(t, r.next(), "no reboot")
			require.Equal(t, []string{"FirmwareStatusNotification Idle"}, r.trigger(ocpp.TriggerFirmwareStatusNotification))

			update.Location = "ftp://firmware.example.com/station-2.1.bin"
			require.Equal(t, `{}`, r.ask(ocpp.ActionUpdateFirmware, update), "the next update is taken")
			require.Equal(t, []string{"FirmwareStatusNotification Downloading"}, r.next())
		})
	})
	t.Run("closed while downloading", func(t *testing.T) {
		inBubble(t, fakeConfig{}, func(t *testing.T, fc *fakeCS, opts station.Options) {
			r := newRig(t, fc, opts, station.ChargerOptions{})
			update := ocpp.UpdateFirmwareRequest{Location: "https://firmware.example.com/station-2.0.bin", RetrieveDate: ocpp.DateTime{Time: time.Now()}}
			require.Equal(t, `{}`, r.ask(ocpp.ActionUpdateFirmware, update))
			require.Equal(t, `{"fileName":"CS0001-20000101T000000Z.log"}`, r.ask(ocpp.ActionGetDiagnostics, ocpp.GetDiagnosticsRequest{Location: "ftp://example.com/"}))
			require.NoError(t, r.ch.Close()) // the timers of both stop
		})
	})
}

func sendLocalList(version int, typ ocpp.UpdateType, entries ...ocpp.AuthorizationData) ocpp.SendLocalListRequest {
	return ocpp.SendLocalListRequest{ListVersion: version, UpdateType: typ, LocalAuthorizationList: entries}
}

func entry(tag string, status ocpp.AuthorizationStatus) ocpp.AuthorizationData {
	if status == "" {
		return ocpp.AuthorizationData{IdTag: tag}
	}
	return ocpp.AuthorizationData{IdTag: tag, IdTagInfo: &ocpp.IdTagInfo{Status: status}}
}

// SendLocalList keeps a versioned list, whole or by changes; the charger
// authorizes from it as its configuration says.
func TestChargerLocalList(t *testing.T) {
	defer goleak.VerifyNone(t)
	const mismatch, failed = `{"status":"VersionMismatch"}`, `{"status":"Failed"}`
	inBubble(t, fakeConfig{}, func(t *testing.T, fc *fakeCS, opts station.Options) {
		r := newRig(t, fc, opts, station.ChargerOptions{})
		defer r.ch.Close()
		r.next()
		version := func() string { return r.ask(ocpp.ActionGetLocalListVersion, struct{}{}) }
		send := func(req ocpp.SendLocalListRequest) string { return r.ask(ocpp.ActionSendLocalList, req) }

		require.Equal(t, `{"listVersion":0}`, version())
		require.Equal(t, mismatch, send(sendLocalList(0, ocpp.UpdateDifferential, entry("A", ocpp.AuthorizationAccepted))))
		require.Equal(t, accepted, send(sendLocalList(3, ocpp.UpdateFull, entry("alice", ocpp.AuthorizationAccepted), entry("BOB", ocpp.AuthorizationBlocked))))
		require.Equal(t, `{"listVersion":3}`, version())
		require.Equal(t, mismatch, send(sendLocalList(3, ocpp.UpdateDifferential, entry("CAROL", ocpp.AuthorizationAccepted))))
		require.Equal(t, `{"listVersion":3}`, version())
		var many []ocpp.AuthorizationData
		for i := range 101 {
			many = append(many, entry(fmt.Sprint("T", i), ocpp.AuthorizationAccepted))
		}
		require.Equal(t, failed, send(sendLocalList(4, ocpp.UpdateFull, many...)), "more than SendLocalListMaxLength")
		require.Equal(t, accepted, send(sendLocalList(5, ocpp.UpdateDifferential, entry("CAROL", ocpp.AuthorizationAccepted), entry("ALICE", ""))))
		require.Equal(t, `{"listVersion":5}`, version())
		require.Empty(t, r.next())

		start := func(tag string) []string {
			require.Equal(t, accepted, r.ask(ocpp.ActionRemoteStartTransaction, remoteStart(tag)))
			calls := r.next()
			if len(calls) > 0 && strings.HasPrefix(calls[len(calls)-1], "StatusNotification 1 Charging") {
				tx := r.ch.Connectors()[0].Transaction
				require.Equal(t, accepted, r.ask(ocpp.ActionRemoteStopTransaction, ocpp.RemoteStopTransactionRequest{TransactionId: tx}))
				r.next()
			}
			return calls
		}
		set := func(key, value string) {
			require.Equal(t, accepted, r.ask(ocpp.ActionChangeConfiguration, ocpp.ChangeConfigurationRequest{Key: key, Value: value}))
		}
		// LocalPreAuthorize is false: the central system authorizes.
		require.Contains(t, start("carol"), "Authorize carol")
		set(station.KeyLocalPreAuthorize, "true")
		require.Equal(t, []string{"StatusNotification 1 Preparing", "StartTransaction 1 carol", "StatusNotification 1 Charging"}, start("carol"), "listed: no Authorize")
		require.Contains(t, start("ALICE"), "Authorize ALICE", "removed from the list")
		require.Contains(t, start("BOB"), "Authorize BOB", "listed, but Blocked")
		set(station.KeyLocalAuthListEnabled, "false")
		require.Contains(t, start("CAROL"), "Authorize CAROL", "the list is not used")
		require.Equal(t, `{"listVersion":5}`, version(), "but kept")

		// A Full update replaces the list.
		set(station.KeyLocalAuthListEnabled, "true")
		require.Equal(t, accepted, send(sendLocalList(1, ocpp.UpdateFull, entry("DAVE", ocpp.AuthorizationAccepted))))
		require.Equal(t, `{"listVersion":1}`, version())
		require.Contains(t, start("CAROL"), "Authorize CAROL")
		require.NotContains(t, start("DAVE"), "Authorize DAVE")
	})

	// With LocalAuthorizeOffline (true by default), an Authorize without
	// an answer lets a listed idTag charge; an unlisted one, or a
	// CALLERROR, does not.
	t.Run("offline", func(t *testing.T) {
		cfg := fakeConfig{
			silent: func(c *ocpp.Call) bool {
				return c.Action == ocpp.ActionAuthorize && !strings.Contains(string(c.Payload), "REFUSED")
			},
			tweak: func(c *ocpp.Call) any {
				if c.Action == ocpp.ActionAuthorize {
					return ocpp.NewCallError("", ocpp.InternalError, "store down")
				}
				return nil
			},
		}
		inBubble(t, cfg, func(t *testing.T, fc *fakeCS, opts station.Options) {
			r := newRig(t, fc, opts, station.ChargerOptions{Connectors: 3})
			defer r.ch.Close()
			r.next()
			require.Equal(t, accepted, r.ask(ocpp.ActionChangeConfiguration,
				ocpp.ChangeConfigurationRequest{Key: station.KeyMeterValueSampleInterval, Value: "0"}))
			require.Equal(t, accepted, r.ask(ocpp.ActionSendLocalList, sendLocalList(1, ocpp.UpdateFull,
				entry("LISTED", ocpp.AuthorizationAccepted), entry("REFUSED", ocpp.AuthorizationAccepted))))
			for _, tag := range []string{"LISTED", "UNLISTED", "REFUSED"} {
				require.Equal(t, accepted, r.ask(ocpp.ActionRemoteStartTransaction, remoteStart(tag)))
			}
			wait(time.Minute) // the charger's waits for an answer, one after the other
			require.Equal(t, []string{
				"StatusNotification 1 Preparing", "Authorize LISTED", "StartTransaction 1 LISTED", "StatusNotification 1 Charging",
				"StatusNotification 2 Preparing", "Authorize UNLISTED", "StatusNotification 2 Available",
				"StatusNotification 3 Preparing", "Authorize REFUSED", "StatusNotification 3 Available",
			}, r.next())
		})
	})
}

func reserveNow(id, connector int, tag string, expiry time.Duration) ocpp.ReserveNowRequest {
	return ocpp.ReserveNowRequest{ReservationId: id, ConnectorId: connector, IdTag: tag, ExpiryDate: ocpp.DateTime{Time: time.Now().Add(expiry)}}
}

// ReserveNow reserves a free connector for an idTag until its expiry date,
// or says why not; the idTag's start uses the reservation, another idTag's
// does not get the connector. CancelReservation ends it.
func TestChargerReservation(t *testing.T) {
	defer goleak.VerifyNone(t)
	const occupied, unavailable = `{"status":"Occupied"}`, `{"status":"Unavailable"}`
	inBubble(t, fakeConfig{}, func(t *testing.T, fc *fakeCS, opts station.Options) {
		r := newRig(t, fc, opts, station.ChargerOptions{Connectors: 2})
		defer r.ch.Close()
		r.next()
		reserve := func(req ocpp.ReserveNowRequest) string { return r.ask(ocpp.ActionReserveNow, req) }
		cancel := func(id int) string {
			return r.ask(ocpp.ActionCancelReservation, ocpp.CancelReservationRequest{ReservationId: id})
		}

		require.Equal(t, accepted, reserve(reserveNow(7, 1, "OPERATOR1", time.Hour)))
		require.Equal(t, []string{"StatusNotification 1 Reserved"}, r.next())
		require.Equal(t, ocpp.StatusReserved, r.ch.Connectors()[0].Status)
		for _, tt := range []struct {
			req  ocpp.ReserveNowRequest
			want string
		}{
			{reserveNow(8, 1, "OPERATOR2", time.Hour), occupied},
			{reserveNow(8, 0, "OPERATOR2", time.Hour), rejected},
			{reserveNow(8, 3, "OPERATOR2", time.Hour), rejected},
			{reserveNow(8, 2, "OPERATOR2", -time.Second), rejected},
		} {
			require.Equal(t, tt.want, reserve(tt.req), "%+v", tt.req)
		}
		require.Equal(t, accepted, r.ask(ocpp.ActionChangeAvailability, ocpp.ChangeAvailabilityRequest{ConnectorId: 2, Type: ocpp.AvailabilityInoperative}))
		require.Equal(t, unavailable, reserve(reserveNow(8, 2, "OPERATOR2", time.Hour)))
		require.Equal(t, accepted, r.ask(ocpp.ActionChangeAvailability, ocpp.ChangeAvailabilityRequest{ConnectorId: 2, Type: ocpp.AvailabilityOperative}))
		r.next()

		// Another idTag: not on connector 1; without a connector, on 2.
		require.Equal(t, rejected, r.ask(ocpp.ActionRemoteStartTransaction, remoteStart("OPERATOR2", 1)))
		require.Equal(t, accepted, r.ask(ocpp.ActionRemoteStartTransaction, remoteStart("OPERATOR2")))
		require.Contains(t, r.next(), "StartTransaction 2 OPERATOR2")
		require.Equal(t, occupied, reserve(reserveNow(8, 2, "OPERATOR2", time.Hour)), "charging")
		// The idTag the reservation is for (in any case) uses it.
		require.Equal(t, accepted, r.ask(ocpp.ActionRemoteStartTransaction, remoteStart("operator1")))
		require.Equal(t, []string{
			"StatusNotification 1 Preparing", "Authorize operator1",
			"StartTransaction 1 operator1 reservation 7", "StatusNotification 1 Charging",
		}, r.next())
		require.Equal(t, rejected, cancel(7), "used up")
		for _, tx := range []int{firstTx, firstTx + 1} {
			require.Equal(t, accepted, r.ask(ocpp.ActionRemoteStopTransaction, ocpp.RemoteStopTransactionRequest{TransactionId: tx}))
		}
		require.Contains(t, r.next(), "StatusNotification 1 Available", "the reservation is not back")

		// Expiry.
		require.Equal(t, accepted, reserve(reserveNow(9, 1, "OPERATOR1", time.Minute)))
		require.Equal(t, []string{"StatusNotification 1 Reserved"}, r.next())
		wait(time.Minute - time.Millisecond)
		require.Empty(t, r.next())
		wait(time.Millisecond)
		require.Equal(t, []string{"StatusNotification 1 Available"}, r.next())
		require.Equal(t, rejected, cancel(9))

		// Cancel, and an id made again elsewhere.
		require.Equal(t, accepted, reserve(reserveNow(10, 1, "OPERATOR1", time.Hour)))
		require.Equal(t, accepted, reserve(reserveNow(10, 2, "OPERATOR1", time.Hour)))
		require.Equal(t, []string{"StatusNotification 1 Reserved", "StatusNotification 2 Reserved", "StatusNotification 1 Available"}, r.next())
		// A reservation outlives a reboot.
		require.Equal(t, accepted, r.ask(ocpp.ActionReset, ocpp.ResetRequest{Type: ocpp.ResetSoft}))
		r.reconnected()
		require.Equal(t, []string{"BootNotification", "StatusNotification 1 Available", "StatusNotification 2 Reserved"}, r.next())
		require.Equal(t, accepted, cancel(10))
		require.Equal(t, []string{"StatusNotification 2 Available"}, r.next())
		require.Equal(t, rejected, cancel(10))
		wait(2 * time.Hour)
		require.NotContains(t, r.next(), "StatusNotification 2 Available", "a cancelled reservation does not expire")
	})
}

// profileReq is a SetChargingProfile of a Relative profile with periods
// of (startPeriod, limit) pairs.
func profileReq(connector, id, stack int, purpose ocpp.ChargingProfilePurpose, unit ocpp.ChargingRateUnit, periods ...float64) ocpp.SetChargingProfileRequest {
	p := ocpp.ChargingProfile{
		ChargingProfileId: id, StackLevel: stack, ChargingProfilePurpose: purpose, ChargingProfileKind: ocpp.KindRelative,
		ChargingSchedule: ocpp.ChargingSchedule{ChargingRateUnit: unit},
	}
	for i := 0; i < len(periods); i += 2 {
		p.ChargingSchedule.ChargingSchedulePeriod = append(p.ChargingSchedule.ChargingSchedulePeriod,
			ocpp.ChargingSchedulePeriod{StartPeriod: int(periods[i]), Limit: periods[i+1]})
	}
	return ocpp.SetChargingProfileRequest{ConnectorId: connector, CsChargingProfiles: p}
}

// schedule reads a GetCompositeSchedule's answer as (startPeriod, limit)
// pairs, checking the rest.
func (r *rig) schedule(connector, duration int, unit ocpp.ChargingRateUnit) []float64 {
	r.t.Helper()
	var resp ocpp.GetCompositeScheduleResponse
	require.NoError(r.t, json.Unmarshal([]byte(r.ask(ocpp.ActionGetCompositeSchedule,
		ocpp.GetCompositeScheduleRequest{ConnectorId: connector, Duration: duration, ChargingRateUnit: unit})), &resp))
	require.NoError(r.t, resp.Validate())
	require.Equal(r.t, ocpp.CompositeScheduleAccepted, resp.Status)
	require.Equal(r.t, connector, *resp.ConnectorId)
	require.True(r.t, time.Now().Equal(resp.ScheduleStart.Time))
	require.Equal(r.t, duration, *resp.ChargingSchedule.Duration)
	want := unit
	if want == "" {
		want = ocpp.ChargingRateA
	}
	require.Equal(r.t, want, resp.ChargingSchedule.ChargingRateUnit)
	var out []float64
	for _, p := range resp.ChargingSchedule.ChargingSchedulePeriod {
		require.Nil(r.t, p.NumberPhases)
		out = append(out, float64(p.StartPeriod), p.Limit)
	}
	return out
}

// The charger keeps its charging profiles, replaces and clears them as
// OCPP 1.6 says, and combines them into its composite schedule.
func TestChargerChargingProfiles(t *testing.T) {
	defer goleak.VerifyNone(t)
	const A, W = ocpp.ChargingRateA, ocpp.ChargingRateW
	const cpMax, txDefault, tx = ocpp.PurposeChargePointMax, ocpp.PurposeTxDefault, ocpp.PurposeTx
	const unknown = `{"status":"Unknown"}`
	inBubble(t, fakeConfig{}, func(t *testing.T, fc *fakeCS, opts station.Options) {
		r := newRig(t, fc, opts, station.ChargerOptions{Connectors: 2})
		defer r.ch.Close()
		r.next()
		set := func(req ocpp.SetChargingProfileRequest) string { return r.ask(ocpp.ActionSetChargingProfile, req) }
		clearProfiles := func(req ocpp.ClearChargingProfileRequest) string {
			return r.ask(ocpp.ActionClearChargingProfile, req)
		}

		// No profile: the charger's own 16 A on three phases.
		require.Equal(t, []float64{0, 16}, r.schedule(1, 3600, ""))
		require.Equal(t, []float64{0, 11040}, r.schedule(1, 3600, W))
		require.Equal(t, []float64{0, 32}, r.schedule(0, 60, A), "two connectors")

		for _, tt := range []struct {
			name string
			req  ocpp.SetChargingProfileRequest
		}{
			{"no connector 3", profileReq(3, 1, 0, txDefault, A, 0, 10)},
			{"stackLevel above 10", profileReq(1, 1, 11, txDefault, A, 0, 10)},
			{"TxProfile without a transaction", profileReq(1, 1, 0, tx, A, 0, 10)},
			{"Recurring without startSchedule", func() ocpp.SetChargingProfileRequest {
				req := profileReq(1, 1, 0, txDefault, A, 0, 10)
				req.CsChargingProfiles.ChargingProfileKind, req.CsChargingProfiles.RecurrencyKind = ocpp.KindRecurring, ocpp.RecurrencyDaily
				return req
			}()},
		} {
			require.Equal(t, rejected, set(tt.req), tt.name)
		}

		// The station's cap (W, absolute from now), a default for all
		// connectors, and connector 1's own, for 10 minutes.
		capNow := profileReq(0, 1, 0, cpMax, W, 0, 20000, 1800, 4600)
		capNow.CsChargingProfiles.ChargingProfileKind = ocpp.KindAbsolute
		capNow.CsChargingProfiles.ChargingSchedule.StartSchedule = &ocpp.DateTime{Time: time.Now()}
		require.Equal(t, accepted, set(capNow))
		require.Equal(t, accepted, set(profileReq(0, 2, 0, txDefault, A, 0, 10)))
		own := profileReq(1, 3, 1, txDefault, A, 0, 12, 300, 8)
		own.CsChargingProfiles.ChargingSchedule.Duration = ptr(600)
		require.Equal(t, accepted, set(own))
		require.Equal(t, []float64{0, 12, 300, 8, 600, 10, 1800, 6.7}, r.schedule(1, 3600, A))
		require.Equal(t, []float64{0, 6900, 1800, 4600}, r.schedule(2, 3600, W), "connector 0's default, capped")
		require.Equal(t, []float64{0, 6900}, r.schedule(2, 1800, W))
		require.Equal(t, []float64{0, 20000, 1800, 4600}, r.schedule(0, 3600, W), "the cap, below both connectors' 22080 W")

		// A TxProfile with the remote start prevails while it lasts; it
		// counts from the transaction's start.
		start := remoteStart("OPERATOR1", 1)
		txp := profileReq(1, 4, 0, tx, A, 0, 6).CsChargingProfiles
		txp.ChargingSchedule.Duration = ptr(120)
		start.ChargingProfile = &txp
		require.Equal(t, accepted, r.ask(ocpp.ActionRemoteStartTransaction, start))
		r.next()
		wait(60 * time.Second)
		require.Equal(t, []float64{0, 6, 60, 12, 240, 8, 540, 10, 1740, 6.7}, r.schedule(1, 3600, A))
		require.Equal(t, []float64{0, 10, 1740, 6.7}, r.schedule(2, 3600, A), "connector 2 counts from now")

		// Replaced: by id, and by stackLevel and purpose on the connector.
		require.Equal(t, accepted, set(profileReq(1, 4, 2, tx, A, 0, 7)))
		require.Equal(t, []float64{0, 7, 1740, 6.7}, r.schedule(1, 3600, A), "TxProfile 4 again, without a duration")
		require.Equal(t, rejected, set(func() ocpp.SetChargingProfileRequest {
			req := profileReq(1, 5, 2, tx, A, 0, 7)
			req.CsChargingProfiles.TransactionId = ptr(firstTx + 1)
			return req
		}()), "another transaction")
		require.Equal(t, accepted, set(profileReq(1, 5, 2, tx, A, 0, 3)))
		require.Equal(t, []float64{0, 3}, r.schedule(1, 3600, A), "5 replaced 4; below the cap throughout")
		require.Equal(t, unknown, clearProfiles(ocpp.ClearChargingProfileRequest{Id: ptr(4)}))

		// The TxProfile ends with its transaction.
		require.Equal(t, accepted, r.ask(ocpp.ActionRemoteStopTransaction, ocpp.RemoteStopTransactionRequest{TransactionId: firstTx}))
		r.next()
		require.Equal(t, unknown, clearProfiles(ocpp.ClearChargingProfileRequest{ChargingProfilePurpose: tx}))
		require.Equal(t, []float64{0, 12, 300, 8, 600, 10, 1740, 6.7}, r.schedule(1, 3600, A), "connector 1's default counts from now")

		// Clear with filters, all of which must match.
		require.Equal(t, unknown, clearProfiles(ocpp.ClearChargingProfileRequest{Id: ptr(3), ConnectorId: ptr(0)}))
		require.Equal(t, accepted, clearProfiles(ocpp.ClearChargingProfileRequest{ConnectorId: ptr(0), ChargingProfilePurpose: txDefault}))
		require.Equal(t, []float64{0, 12, 300, 8, 600, 16, 1740, 6.7}, r.schedule(1, 3600, A))
		require.Equal(t, accepted, clearProfiles(ocpp.ClearChargingProfileRequest{StackLevel: ptr(1)}))
		require.Equal(t, accepted, clearProfiles(ocpp.ClearChargingProfileRequest{}))
		require.Equal(t, unknown, clearProfiles(ocpp.ClearChargingProfileRequest{}))
		require.Equal(t, []float64{0, 16}, r.schedule(1, 3600, A))
	})

	// A Recurring profile starts again each day; validity bounds it.
	t.Run("recurring", func(t *testing.T) {
		inBubble(t, fakeConfig{}, func(t *testing.T, fc *fakeCS, opts station.Options) {
			r := newRig(t, fc, opts, station.ChargerOptions{})
			defer r.ch.Close()
			daily := profileReq(1, 1, 0, txDefault, A, 0, 10, 7200, 5)
			p := &daily.CsChargingProfiles
			p.ChargingProfileKind, p.RecurrencyKind = ocpp.KindRecurring, ocpp.RecurrencyDaily
			p.ChargingSchedule.StartSchedule = &ocpp.DateTime{Time: time.Now().Add(-25 * time.Hour)}
			p.ValidTo = &ocpp.DateTime{Time: time.Now().Add(47 * time.Hour)}
			require.Equal(t, accepted, r.ask(ocpp.ActionSetChargingProfile, daily))
			// An hour into today's cycle: 5 A from 2 h in, until the next
			// cycle 23 h from now, and the next after it, until validTo.
			require.Equal(t, []float64{0, 10, 3600, 5, 82800, 10, 90000, 5, 169200, 16}, r.schedule(1, 2*86400, A))
		})
	})
}

// A remote start's chargingProfile must be a TxProfile (the schema says
// so) that names no transaction.
func TestChargerRemoteStartProfile(t *testing.T) {
	defer goleak.VerifyNone(t)
	inBubble(t, fakeConfig{}, func(t *testing.T, fc *fakeCS, opts station.Options) {
		r := newRig(t, fc, opts, station.ChargerOptions{})
		defer r.ch.Close()
		r.next()
		start := remoteStart("OPERATOR1")
		start.ChargingProfile = ptr(profileReq(1, 1, 0, ocpp.PurposeTxDefault, ocpp.ChargingRateA, 0, 10).CsChargingProfiles)
		require.Equal(t, string(ocpp.PropertyConstraintViolation), r.ask(ocpp.ActionRemoteStartTransaction, start))
		start.ChargingProfile.ChargingProfilePurpose = ocpp.PurposeTx
		start.ChargingProfile.TransactionId = ptr(firstTx)
		require.Equal(t, rejected, r.ask(ocpp.ActionRemoteStartTransaction, start))
		require.Empty(t, r.next())
	})
}

// The meter counts at the rate the charging profiles allow, and its
// samples' power says so.
func TestChargerMeterFollowsProfiles(t *testing.T) {
	defer goleak.VerifyNone(t)
	inBubble(t, fakeConfig{}, func(t *testing.T, fc *fakeCS, opts station.Options) {
		r := newRig(t, fc, opts, station.ChargerOptions{})
		defer r.ch.Close()
		r.next()
		require.Equal(t, accepted, r.ask(ocpp.ActionSetChargingProfile, profileReq(0, 1, 0, ocpp.PurposeTxDefault, ocpp.ChargingRateA, 0, 8)))
		require.Equal(t, accepted, r.ask(ocpp.ActionRemoteStartTransaction, remoteStart("OPERATOR1")))
		r.next()
		meterStart := decode[ocpp.StartTransactionRequest](t, r.conn.Calls()[r.seen-2]).MeterStart
		sample := func() (wh, w int) {
			t.Helper()
			wait(station.DefaultMeterValueSampleInterval)
			require.Equal(t, []string{"MeterValues 1 Sample.Periodic tx 1001"}, r.next())
			sv := decode[ocpp.MeterValuesRequest](t, r.conn.Calls()[r.seen-1]).MeterValue[0].SampledValue
			wh, err := strconv.Atoi(sv[0].Value)
			require.NoError(t, err)
			w, err = strconv.Atoi(sv[1].Value)
			require.NoError(t, err)
			return wh, w
		}

		wh, w := sample()
		require.Equal(t, 8*230*3, w, "8 A on three phases")
		require.Equal(t, 8*230*3*10/3600, wh-meterStart, "10 s at 5520 W")
		// A TxProfile of 4 A, until 25 s from the start.
		tx := profileReq(1, 2, 0, ocpp.PurposeTx, ocpp.ChargingRateA, 0, 4)
		tx.CsChargingProfiles.ChargingSchedule.Duration = ptr(25)
		require.Equal(t, accepted, r.ask(ocpp.ActionSetChargingProfile, tx))
		wh2, w := sample()
		require.Equal(t, 4*230*3, w)
		require.InDelta(t, 4*230*3*10.0/3600, wh2-wh, 1, "10 s at 2760 W")
		require.Equal(t, accepted, r.ask(ocpp.ActionClearChargingProfile, ocpp.ClearChargingProfileRequest{}))
		wh3, w := sample()
		require.InDelta(t, 11000, w, 250, "the charger's own power")
		require.InDelta(t, 11000*10.0/3600, wh3-wh2, 2)
		require.Equal(t, wh3, r.ch.Connectors()[0].Energy)
	})
}
