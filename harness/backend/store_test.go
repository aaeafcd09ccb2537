package backend_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/idtags"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/harness/store"
)

// failing is a store whose writes all fail, as a full disk makes them.
type failing struct{ store.Memory }

var errDiskFull = errors.New("disk full")

func (*failing) Boot(context.Context, string, ocpp.BootNotificationRequest, time.Time) error {
	return errDiskFull
}
func (*failing) StartTransaction(context.Context, string, ocpp.StartTransactionRequest) (int, error) {
	return 0, errDiskFull
}
func (*failing) StopTransaction(context.Context, string, ocpp.StopTransactionRequest) (bool, error) {
	return false, errDiskFull
}
func (*failing) Statuses(context.Context, []store.StatusUpdate) error { return errDiskFull }
func (*failing) MeterValues(context.Context, []store.Reading) error   { return errDiskFull }

// observed records what an Observer is told.
type observed struct {
	mu          sync.Mutex
	calls       map[string]int // "action result"
	batches     []int
	storeErrors map[string]int
}

func (o *observed) Call(action, result string, took time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.calls == nil {
		o.calls = make(map[string]int)
	}
	o.calls[action+" "+result]++
}
func (o *observed) Batch(size int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.batches = append(o.batches, size)
}
func (o *observed) StoreError(op string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.storeErrors == nil {
		o.storeErrors = make(map[string]int)
	}
	o.storeErrors[op]++
}

// handled runs Handle and returns the answer it sent.
func handled(t *testing.T, b *backend.Backend, station string, call *ocpp.Call) ocpp.Message {
	t.Helper()
	var got ocpp.Message
	require.NoError(t, b.Handle(t.Context(), station, call, func(m ocpp.Message) error { got = m; return nil }))
	return got
}

const (
	bootPayload   = `{"chargePointVendor":"Kata","chargePointModel":"Test","firmwareVersion":"1.2"}`
	startPayload  = `{"connectorId":1,"idTag":"TAG1","meterStart":100,"timestamp":"2026-12-01T10:00:00Z"}`
	meterPayload  = `{"connectorId":1,"transactionId":1,"meterValue":[{"timestamp":"2026-12-01T10:01:00Z","sampledValue":[{"value":"150","unit":"Wh"}]}]}`
	statusPayload = `{"connectorId":1,"errorCode":"NoError","status":"Charging"}`
)

func TestStoreKeepsWhatIsAnswered(t *testing.T) {
	mem := &store.Memory{}
	obs := &observed{}
	b := backend.New(backend.Options{Store: mem, Observer: obs, HeartbeatInterval: 60})
	ctx := t.Context()

	boot := handled(t, b, "CS1", rawCall("b", ocpp.ActionBootNotification, bootPayload))
	var resp ocpp.BootNotificationResponse
	require.NoError(t, boot.(*ocpp.CallResult).UnmarshalPayload(&resp))
	require.Equal(t, 60, resp.Interval, "the configured heartbeat interval")
	st, err := mem.Station(ctx, "CS1")
	require.NoError(t, err)
	require.Equal(t, "Kata", st.Vendor)
	require.Equal(t, "1.2", st.Firmware)

	start := handled(t, b, "CS1", rawCall("s", ocpp.ActionStartTransaction, startPayload))
	var sr ocpp.StartTransactionResponse
	require.NoError(t, start.(*ocpp.CallResult).UnmarshalPayload(&sr))
	require.Equal(t, 1, sr.TransactionId)
	again := handled(t, b, "CS1", rawCall("s2", ocpp.ActionStartTransaction, startPayload))
	require.NoError(t, again.(*ocpp.CallResult).UnmarshalPayload(&sr))
	require.Equal(t, 1, sr.TransactionId, "a replayed start gets the same id")

	// Steps 01 and 02 answer everything through Handle: stored there.
	_, ok := handled(t, b, "CS1", rawCall("m", ocpp.ActionMeterValues, meterPayload)).(*ocpp.CallResult)
	require.True(t, ok)
	samples, err := mem.TransactionMeterValues(ctx, 1)
	require.NoError(t, err)
	require.Len(t, samples, 1)

	// Steps 03 on: answered at once, stored by Process or WriteBatch.
	require.NoError(t, b.Process(ctx, "CS1", rawCall("st", ocpp.ActionStatusNotification, statusPayload)))
	require.NoError(t, b.WriteBatch(ctx, []backend.Item{{"CS1", rawCall("m2", ocpp.ActionMeterValues, meterPayload)}}))
	st, err = mem.Station(ctx, "CS1")
	require.NoError(t, err)
	require.Equal(t, []int{1}, st.OpenTransactions)
	require.Len(t, st.Connectors, 1)
	require.Equal(t, "Charging", st.Connectors[0].Status)
	samples, err = mem.TransactionMeterValues(ctx, 1)
	require.NoError(t, err)
	require.Len(t, samples, 2)

	stop := `{"transactionId":1,"meterStop":900,"timestamp":"2026-12-01T11:00:00Z","reason":"Local"}`
	_, ok = handled(t, b, "CS1", rawCall("x", ocpp.ActionStopTransaction, stop)).(*ocpp.CallResult)
	require.True(t, ok)
	tx, err := mem.Transaction(ctx, 1)
	require.NoError(t, err)
	require.Equal(t, 900, *tx.MeterStop)
	require.Equal(t, "Local", tx.Reason)

	unknown := `{"transactionId":77,"meterStop":1,"timestamp":"2026-12-01T11:00:00Z"}`
	_, ok = handled(t, b, "CS1", rawCall("u", ocpp.ActionStopTransaction, unknown)).(*ocpp.CallResult)
	require.True(t, ok, "a StopTransaction for an unknown transaction is answered all the same")

	require.NoError(t, b.Flush(ctx))
	st, err = mem.Station(ctx, "CS1")
	require.NoError(t, err)
	require.False(t, st.LastSeen.IsZero(), "every message is a sign of life")

	require.Equal(t, 2, obs.calls["StartTransaction ok"])
	require.Equal(t, []int{1}, obs.batches)
}

func TestStoreRefusalIsNeverAcknowledged(t *testing.T) {
	obs := &observed{}
	b := backend.New(backend.Options{Store: &failing{}, Observer: obs})
	for _, c := range []*ocpp.Call{
		rawCall("b", ocpp.ActionBootNotification, bootPayload),
		rawCall("s", ocpp.ActionStartTransaction, startPayload),
		rawCall("x", ocpp.ActionStopTransaction, `{"transactionId":1,"meterStop":1,"timestamp":"2026-12-01T11:00:00Z"}`),
		rawCall("m", ocpp.ActionMeterValues, meterPayload),
		rawCall("st", ocpp.ActionStatusNotification, statusPayload),
	} {
		t.Run(c.Action, func(t *testing.T) {
			ce, ok := handled(t, b, "CS1", c).(*ocpp.CallError)
			require.Truef(t, ok, "%s whose write failed was answered with a CALLRESULT: the station believes it was kept", c.Action)
			require.Equal(t, ocpp.InternalError, ce.Code)
			require.Contains(t, ce.Description, "disk full")
		})
	}
	require.ErrorIs(t, b.Process(t.Context(), "CS1", rawCall("st", ocpp.ActionStatusNotification, statusPayload)), errDiskFull)
	require.ErrorIs(t, b.WriteBatch(t.Context(), []backend.Item{{"CS1", rawCall("m", ocpp.ActionMeterValues, meterPayload)}}), errDiskFull)
	require.Empty(t, obs.batches, "a batch the store refused is not a batch written")
	require.Equal(t, 2, obs.storeErrors["meter values"])
	require.Equal(t, 2, obs.storeErrors["status"])
	tot := b.Totals()
	require.Equal(t, 2, tot.Failed)
	require.Zero(t, tot.Processed)
	require.Zero(t, tot.Batches)
}

func TestNoRecordsKeepsCounts(t *testing.T) {
	b := backend.New(backend.Options{NoRecords: true})
	ctx := t.Context()
	for range 3 {
		handled(t, b, "CS1", rawCall("h", ocpp.ActionHeartbeat, `{}`))
	}
	require.NoError(t, b.Process(ctx, "CS1", rawCall("st", ocpp.ActionStatusNotification, statusPayload)))
	items := []backend.Item{{"CS1", rawCall("m", ocpp.ActionMeterValues, meterPayload)}, {"CS2", rawCall("m", ocpp.ActionMeterValues, meterPayload)}}
	require.NoError(t, b.WriteBatch(ctx, items))
	require.Empty(t, b.Records(), "NoRecords keeps no record")
	require.Zero(t, b.StationPeak("CS1", backend.KindCall), "NoRecords keeps nothing per station")
	require.Equal(t, backend.Totals{Calls: 3, Processed: 1, Batches: 1, Written: 2, Done: 5, PeakCalls: 1, PeakProcessing: 1}, b.Totals())
	require.Equal(t, 5, b.Stats().Done)
}

func TestIdTags(t *testing.T) {
	list := idtags.List{
		"GOOD": {Status: ocpp.AuthorizationAccepted},
		"LOST": {Status: ocpp.AuthorizationBlocked},
	}
	b := backend.New(backend.Options{IdTags: list, Store: &store.Memory{}})
	status := func(m ocpp.Message, v any) {
		t.Helper()
		res, ok := m.(*ocpp.CallResult)
		require.True(t, ok, "%v", m)
		require.NoError(t, res.UnmarshalPayload(v))
	}
	for tag, want := range map[string]ocpp.AuthorizationStatus{"GOOD": "Accepted", "LOST": "Blocked", "NOBODY": "Invalid"} {
		var ar ocpp.AuthorizeResponse
		status(handled(t, b, "CS1", rawCall("a", ocpp.ActionAuthorize, `{"idTag":"`+tag+`"}`)), &ar)
		require.Equal(t, want, ar.IdTagInfo.Status, "Authorize %s", tag)
	}
	var sr ocpp.StartTransactionResponse
	status(handled(t, b, "CS1", rawCall("s", ocpp.ActionStartTransaction, `{"connectorId":1,"idTag":"LOST","meterStart":0,"timestamp":"2026-12-01T10:00:00Z"}`)), &sr)
	require.Equal(t, ocpp.AuthorizationBlocked, sr.IdTagInfo.Status)
	require.NotZero(t, sr.TransactionId, "the transaction is recorded all the same: the station has started")
	var xr ocpp.StopTransactionResponse
	status(handled(t, b, "CS1", rawCall("x", ocpp.ActionStopTransaction, `{"transactionId":1,"meterStop":5,"timestamp":"2026-12-01T11:00:00Z"}`)), &xr)
	require.Nil(t, xr.IdTagInfo, "no idTag, no idTagInfo")
}

func TestRegistrationByConfiguration(t *testing.T) {
	for _, status := range []ocpp.RegistrationStatus{ocpp.RegistrationPending, ocpp.RegistrationRejected} {
		t.Run(string(status), func(t *testing.T) {
			b := backend.New(backend.Options{Registration: status, HeartbeatInterval: 30})
			ce, ok := handled(t, b, "CS1", rawCall("h0", ocpp.ActionHeartbeat, `{}`)).(*ocpp.CallError)
			require.True(t, ok, "a station that never booted")
			require.Equal(t, ocpp.SecurityError, ce.Code)
			res, ok := handled(t, b, "CS1", rawCall("b", ocpp.ActionBootNotification, bootPayload)).(*ocpp.CallResult)
			require.True(t, ok)
			var br ocpp.BootNotificationResponse
			require.NoError(t, res.UnmarshalPayload(&br))
			require.Equal(t, status, br.Status)
			require.Equal(t, 30, br.Interval, "how long to wait before the next BootNotification")
			require.Equal(t, status, b.Registration("CS1"))
			ce, ok = handled(t, b, "CS1", rawCall("h", ocpp.ActionHeartbeat, `{}`)).(*ocpp.CallError)
			require.True(t, ok, "a %s station sends nothing but BootNotification", status)
			require.Equal(t, ocpp.SecurityError, ce.Code)
			require.Contains(t, ce.Description, string(status))
		})
	}
	b := backend.New(backend.Options{})
	_, ok := handled(t, b, "CS1", rawCall("h", ocpp.ActionHeartbeat, `{}`)).(*ocpp.CallResult)
	require.True(t, ok, "Accepted, the default, lets a station that has not booted here be heard: it may have booted before a restart")
}

func TestHeartbeatsReachTheStore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := &store.Memory{}
		b := backend.New(backend.Options{Store: mem})
		handled(t, b, "CS1", rawCall("h1", ocpp.ActionHeartbeat, `{}`))
		time.Sleep(2 * time.Second)
		handled(t, b, "CS1", rawCall("h2", ocpp.ActionHeartbeat, `{}`))
		st, err := mem.Station(t.Context(), "CS1")
		require.NoError(t, err, "a station that only heartbeats is seen")
		require.Equal(t, time.Now().UTC(), st.LastSeen, "the last Heartbeat's time, without waiting for a shutdown")
	})
}

// reservationFails is a store that keeps all but the end of a reservation.
type reservationFails struct{ store.Memory }

func (*reservationFails) EndReservation(context.Context, string, int) (bool, error) {
	return false, errDiskFull
}

// A StartTransaction with a reservationId ends that reservation of its
// station, and no other; one whose end the store refuses is not answered
// as kept.
func TestStartEndsItsReservation(t *testing.T) {
	ctx := t.Context()
	mem := &store.Memory{}
	b := backend.New(backend.Options{Store: mem})
	expiry := ocpp.DateTime{Time: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	for _, r := range []struct {
		station string
		id      int
	}{{"CS1", 7}, {"CS1", 8}, {"CS2", 7}} {
		require.NoError(t, mem.Reserve(ctx, r.station, ocpp.ReserveNowRequest{ConnectorId: 1, ExpiryDate: expiry, IdTag: "TAG1", ReservationId: r.id}, expiry.Add(-time.Hour)))
	}
	reserved := func(station string) []int {
		t.Helper()
		rs, err := mem.Reservations(ctx, station, expiry.Add(-time.Minute))
		require.NoError(t, err)
		var ids []int
		for _, r := range rs {
			ids = append(ids, r.ID)
		}
		return ids
	}
	const reservedStart = `{"connectorId":1,"idTag":"TAG1","meterStart":100,"reservationId":7,"timestamp":"2026-12-01T10:00:00Z"}`
	var sr ocpp.StartTransactionResponse
	_, ok := handled(t, b, "CS1", rawCall("s", ocpp.ActionStartTransaction, startPayload)).(*ocpp.CallResult)
	require.True(t, ok)
	require.Equal(t, []int{7, 8}, reserved("CS1"), "a start without a reservationId ends none")
	res, ok := handled(t, b, "CS1", rawCall("s", ocpp.ActionStartTransaction, reservedStart)).(*ocpp.CallResult)
	require.True(t, ok)
	require.NoError(t, res.UnmarshalPayload(&sr))
	require.Equal(t, []int{8}, reserved("CS1"), "the start used reservation 7 up")
	require.Equal(t, []int{7}, reserved("CS2"), "another station's reservation 7 is its own")
	again, ok := handled(t, b, "CS1", rawCall("s2", ocpp.ActionStartTransaction, reservedStart)).(*ocpp.CallResult)
	require.True(t, ok, "a replayed start is answered, its reservation gone already")
	var sr2 ocpp.StartTransactionResponse
	require.NoError(t, again.UnmarshalPayload(&sr2))
	require.Equal(t, sr.TransactionId, sr2.TransactionId)

	obs := &observed{}
	b = backend.New(backend.Options{Store: &reservationFails{}, Observer: obs})
	ce, ok := handled(t, b, "CS1", rawCall("s", ocpp.ActionStartTransaction, reservedStart)).(*ocpp.CallError)
	require.True(t, ok, "a start whose reservation could not be ended was answered as kept")
	require.Equal(t, ocpp.InternalError, ce.Code)
	require.Contains(t, ce.Description, "disk full")
	require.Equal(t, 1, obs.storeErrors["end reservation"])
}

// clearFails is a store that keeps all but clearing charging profiles.
type clearFails struct{ store.Memory }

func (*clearFails) ClearChargingProfile(context.Context, string, ocpp.ClearChargingProfileRequest) (int, error) {
	return 0, errDiskFull
}

// A StopTransaction ends the TxProfiles of its transaction's connector, as
// the station drops them (OCPP 1.6 §3.13.2), and no other profile; one
// whose profiles the store could not clear is not answered as kept.
func TestStopEndsItsTxProfiles(t *testing.T) {
	ctx := t.Context()
	mem := &store.Memory{}
	b := backend.New(backend.Options{Store: mem})
	profile := func(id, connector int, purpose ocpp.ChargingProfilePurpose) {
		t.Helper()
		require.NoError(t, mem.SetChargingProfile(ctx, "CS1", ocpp.SetChargingProfileRequest{ConnectorId: connector,
			CsChargingProfiles: ocpp.ChargingProfile{ChargingProfileId: id, StackLevel: id, ChargingProfilePurpose: purpose,
				ChargingProfileKind: ocpp.KindRelative, ChargingSchedule: ocpp.ChargingSchedule{ChargingRateUnit: ocpp.ChargingRateA,
					ChargingSchedulePeriod: []ocpp.ChargingSchedulePeriod{{Limit: 16}}}}}, time.Now()))
	}
	kept := func() []int {
		t.Helper()
		ps, err := mem.ChargingProfiles(ctx, "CS1")
		require.NoError(t, err)
		var ids []int
		for _, p := range ps {
			ids = append(ids, p.Profile.ChargingProfileId)
		}
		return ids
	}
	res, ok := handled(t, b, "CS1", rawCall("s", ocpp.ActionStartTransaction, startPayload)).(*ocpp.CallResult)
	require.True(t, ok)
	var sr ocpp.StartTransactionResponse
	require.NoError(t, res.UnmarshalPayload(&sr))
	profile(1, 1, ocpp.PurposeTx)        // the transaction's, on its connector
	profile(2, 1, ocpp.PurposeTxDefault) // the connector's default: stays
	profile(3, 2, ocpp.PurposeTx)        // another connector's transaction: stays
	stop := fmt.Sprintf(`{"transactionId":%d,"meterStop":200,"timestamp":"2026-12-01T11:00:00Z"}`, sr.TransactionId)
	_, ok = handled(t, b, "CS1", rawCall("t", ocpp.ActionStopTransaction, stop)).(*ocpp.CallResult)
	require.True(t, ok)
	require.ElementsMatch(t, []int{2, 3}, kept(), "the stop cleared the TxProfile of its connector, and only it")
	_, ok = handled(t, b, "CS1", rawCall("u", ocpp.ActionStopTransaction, `{"transactionId":999,"meterStop":1,"timestamp":"2026-12-01T11:00:00Z"}`)).(*ocpp.CallResult)
	require.True(t, ok, "a stop of a transaction nobody knows is answered")
	require.ElementsMatch(t, []int{2, 3}, kept(), "a stop of a transaction nobody knows clears nothing")

	obs := &observed{}
	refusing := &clearFails{}
	b = backend.New(backend.Options{Store: refusing, Observer: obs})
	res, ok = handled(t, b, "CS1", rawCall("s", ocpp.ActionStartTransaction, startPayload)).(*ocpp.CallResult)
	require.True(t, ok)
	require.NoError(t, res.UnmarshalPayload(&sr))
	stop = fmt.Sprintf(`{"transactionId":%d,"meterStop":200,"timestamp":"2026-12-01T11:00:00Z"}`, sr.TransactionId)
	ce, ok := handled(t, b, "CS1", rawCall("t", ocpp.ActionStopTransaction, stop)).(*ocpp.CallError)
	require.True(t, ok, "a stop whose TxProfiles could not be cleared was answered as kept")
	require.Equal(t, ocpp.InternalError, ce.Code)
	require.Equal(t, 1, obs.storeErrors["clear the transaction's charging profiles"])
}
