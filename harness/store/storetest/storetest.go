// Package storetest is the conformance suite of store.Store: the behaviour
// every Store must show, whatever keeps its data.
//
// A Store's own tests call Run with a function that opens a new, empty
// store for one test:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store {
//			s := store.NewMemory()
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// Stores that share their data, as the nodes of a cluster share one
// database, also call RunShared with a function that opens two Stores on
// the same new, empty data.
//
// Run the suite with -race: some of its tests write and read from many
// goroutines at once.
package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/harness/store"
)

// Run runs the conformance suite, each test on a store of its own that
// open returns. open closes the store it returns in a t.Cleanup.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		test func(t *testing.T, s store.Store)
	}{
		{"BootThenStations", testBoot},
		{"SeenNeverMovesBack", testSeen},
		{"StartTransactionIDs", testStartIDs},
		{"StartTransactionReplay", testStartReplay},
		{"StopTransaction", testStop},
		{"StopUnknownTransaction", testStopUnknown},
		{"StopSentTwice", testStopTwice},
		{"StatusPerConnector", testStatus},
		{"StatusesInOneWrite", testStatuses},
		{"MeterValues", testMeterValues},
		{"FirmwareReports", testFirmwareReports},
		{"LocalList", testLocalList},
		{"Reservations", testReservations},
		{"ChargingProfiles", testChargingProfiles},
		{"ClearChargingProfile", testClearChargingProfile},
		{"OpenTransactions", testOpenTransactions},
		{"NotFound", testNotFound},
		{"Concurrent", testConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.test(t, open(t)) })
	}
}

// t0 is the suite's reference time: fixed, so that nothing depends on the
// clock, with nanoseconds, so that a store that rounds is caught.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)

func at(seconds int) time.Time { return t0.Add(time.Duration(seconds) * time.Second) }

func dt(seconds int) ocpp.DateTime { return ocpp.DateTime{Time: at(seconds)} }

func boot(vendor, model, firmware string) ocpp.BootNotificationRequest {
	return ocpp.BootNotificationRequest{ChargePointVendor: vendor, ChargePointModel: model, FirmwareVersion: firmware}
}

func start(connector int, idTag string, meterStart, seconds int) ocpp.StartTransactionRequest {
	return ocpp.StartTransactionRequest{ConnectorId: connector, IdTag: idTag, MeterStart: meterStart, Timestamp: dt(seconds)}
}

func energy(seconds int, wh string) ocpp.MeterValue {
	return ocpp.MeterValue{Timestamp: dt(seconds), SampledValue: []ocpp.SampledValue{{
		Value: wh, Measurand: "Energy.Active.Import.Register", Unit: "Wh", Context: "Sample.Periodic",
	}}}
}

func must(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func mustStart(t *testing.T, s store.Store, station string, req ocpp.StartTransactionRequest) int {
	t.Helper()
	id, err := s.StartTransaction(t.Context(), station, req)
	must(t, err, fmt.Sprintf("StartTransaction(%s, connector %d)", station, req.ConnectorId))
	return id
}

func sameTime(a, b time.Time) bool { return a.Equal(b) }

func testBoot(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(t, s.Boot(ctx, "CS2", boot("Acme", "Fast", ""), at(1)), "Boot CS2")
	must(t, s.Boot(ctx, "CS1", boot("Acme", "Slow", "1.0"), at(2)), "Boot CS1")
	// A second boot replaces what the first said: a firmware update.
	must(t, s.Boot(ctx, "CS1", boot("Acme", "Slow", "1.1"), at(3)), "Boot CS1 again")

	want := []store.Station{
		{ID: "CS1", Vendor: "Acme", Model: "Slow", Firmware: "1.1", LastSeen: at(3)},
		{ID: "CS2", Vendor: "Acme", Model: "Fast", LastSeen: at(1)},
	}
	got, err := s.Stations(ctx)
	must(t, err, "Stations")
	if len(got) != len(want) {
		t.Fatalf("Stations returned %d stations, want %d (every station booted, by id): %+v", len(got), len(want), got)
	}
	for i, w := range want {
		checkStation(t, "Stations", got[i], w)
		one, err := s.Station(ctx, w.ID)
		must(t, err, "Station "+w.ID)
		checkStation(t, "Station", one, w)
	}
}

// checkStation compares what the tests set: the identity and the times.
// Connectors and open transactions have tests of their own.
func checkStation(t *testing.T, call string, got, want store.Station) {
	t.Helper()
	if got.ID != want.ID || got.Vendor != want.Vendor || got.Model != want.Model || got.Firmware != want.Firmware {
		t.Errorf("%s: got %s %s/%s firmware %q, want %s %s/%s firmware %q", call,
			got.ID, got.Vendor, got.Model, got.Firmware, want.ID, want.Vendor, want.Model, want.Firmware)
	}
	if !sameTime(got.LastSeen, want.LastSeen) {
		t.Errorf("%s(%s): lastSeen %v, want %v", call, want.ID, got.LastSeen, want.LastSeen)
	}
}

func testSeen(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, id := range []string{"CS1", "CS2"} {
		must(t, s.Boot(ctx, id, boot("Acme", "Fast", ""), at(10)), "Boot "+id)
	}
	steps := []struct {
		name string
		seen map[string]time.Time
		want map[string]time.Time
	}{
		{"forward", map[string]time.Time{"CS1": at(20), "CS2": at(30)}, map[string]time.Time{"CS1": at(20), "CS2": at(30)}},
		{"one of two", map[string]time.Time{"CS1": at(40)}, map[string]time.Time{"CS1": at(40), "CS2": at(30)}},
		// Signs of life are collected concurrently and flushed in bulk: an
		// older one may arrive after a newer one, and must not win.
		{"older arrives late", map[string]time.Time{"CS1": at(35), "CS2": at(31)}, map[string]time.Time{"CS1": at(40), "CS2": at(31)}},
		{"empty", map[string]time.Time{}, map[string]time.Time{"CS1": at(40), "CS2": at(31)}},
	}
	for _, step := range steps {
		must(t, s.Seen(ctx, step.seen), "Seen "+step.name)
		for id, want := range step.want {
			st, err := s.Station(ctx, id)
			must(t, err, "Station "+id)
			if !sameTime(st.LastSeen, want) {
				t.Errorf("after Seen (%s): %s lastSeen %v, want %v", step.name, id, st.LastSeen, want)
			}
		}
	}
	// A boot is a sign of life too, and an old one does not move it back.
	must(t, s.Boot(ctx, "CS2", boot("Acme", "Fast", ""), at(25)), "late Boot CS2")
	st, err := s.Station(ctx, "CS2")
	must(t, err, "Station CS2")
	if !sameTime(st.LastSeen, at(31)) {
		t.Errorf("after a Boot at %v: CS2 lastSeen %v, want %v (it never moves back)", at(25), st.LastSeen, at(31))
	}
}

func testStartIDs(t *testing.T, s store.Store) {
	ctx := t.Context()
	seen := map[int]string{}
	for _, station := range []string{"CS1", "CS2", "CS3"} {
		must(t, s.Boot(ctx, station, boot("Acme", "Fast", ""), at(0)), "Boot "+station)
		for connector := 1; connector <= 3; connector++ {
			// The same idTag, meterStart and time everywhere: only the
			// station and the connector tell these starts apart.
			id := mustStart(t, s, station, start(connector, "TAG", 100, 5))
			where := fmt.Sprintf("%s connector %d", station, connector)
			if other, dup := seen[id]; dup {
				t.Errorf("transaction id %d given to %s and to %s: ids must be unique across stations and connectors", id, other, where)
			}
			seen[id] = where
		}
	}
	// A new session on a connector, later, is a new transaction.
	id := mustStart(t, s, "CS1", start(1, "TAG", 100, 6))
	if other, dup := seen[id]; dup {
		t.Errorf("a later start on CS1 connector 1 got id %d, already given to %s", id, other)
	}
}

func testStartReplay(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(t, s.Boot(ctx, "CS1", boot("Acme", "Fast", ""), at(0)), "Boot")
	first := mustStart(t, s, "CS1", start(1, "TAG", 100, 5))
	tests := []struct {
		name    string
		station string
		req     ocpp.StartTransactionRequest
		same    bool
	}{
		{"replayed", "CS1", start(1, "TAG", 100, 5), true},
		{"other station", "CS2", start(1, "TAG", 100, 5), false},
		{"other connector", "CS1", start(2, "TAG", 100, 5), false},
		{"other idTag", "CS1", start(1, "TAG2", 100, 5), false},
		{"other meterStart", "CS1", start(1, "TAG", 101, 5), false},
		{"other timestamp", "CS1", start(1, "TAG", 100, 6), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := mustStart(t, s, tt.station, tt.req)
			if tt.same && id != first {
				t.Errorf("a replayed StartTransaction got id %d, the first got %d: a station that resends a start (it got no answer) must get the same id", id, first)
			}
			if !tt.same && id == first {
				t.Errorf("StartTransaction %+v on %s got id %d, the id of a different start", tt.req, tt.station, id)
			}
		})
	}
	txs, err := s.Transactions(ctx, "CS1")
	must(t, err, "Transactions")
	n := 0
	for _, tx := range txs {
		if tx.ID == first {
			n++
		}
	}
	if n != 1 {
		t.Errorf("transaction %d listed %d times, want once: a replay records nothing new", first, n)
	}
}

func testStop(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(t, s.Boot(ctx, "CS1", boot("Acme", "Fast", ""), at(0)), "Boot")
	id := mustStart(t, s, "CS1", start(2, "TAG", 1000, 10))
	stop := ocpp.StopTransactionRequest{
		TransactionId: id, MeterStop: 1500, Timestamp: dt(70), IdTag: "TAG", Reason: ocpp.ReasonEVDisconnected,
		TransactionData: []ocpp.MeterValue{energy(40, "1250"), energy(70, "1500")},
	}
	known, err := s.StopTransaction(ctx, "CS1", stop)
	must(t, err, "StopTransaction")
	if !known {
		t.Fatalf("StopTransaction of transaction %d (just started) reported it unknown", id)
	}
	tx, err := s.Transaction(ctx, id)
	must(t, err, "Transaction")
	if tx.ID != id || tx.Station != "CS1" || tx.ConnectorID != 2 || tx.IdTag != "TAG" || tx.MeterStart != 1000 || !sameTime(tx.Start, at(10)) {
		t.Errorf("Transaction(%d) = %+v; want its start as recorded: CS1, connector 2, TAG, meterStart 1000, start %v", id, tx, at(10))
	}
	if tx.MeterStop == nil || *tx.MeterStop != 1500 {
		t.Errorf("Transaction(%d).MeterStop = %v, want 1500", id, fmtPtr(tx.MeterStop))
	}
	if tx.Stop == nil || !sameTime(*tx.Stop, at(70)) {
		t.Errorf("Transaction(%d).Stop = %v, want %v", id, fmtPtr(tx.Stop), at(70))
	}
	if tx.Reason != ocpp.ReasonEVDisconnected {
		t.Errorf("Transaction(%d).Reason = %q, want %q", id, tx.Reason, ocpp.ReasonEVDisconnected)
	}
	samples, err := s.TransactionMeterValues(ctx, id)
	must(t, err, "TransactionMeterValues")
	checkSamples(t, id, samples, []store.Sample{
		{Timestamp: at(40), Value: "1250", Measurand: "Energy.Active.Import.Register", Unit: "Wh", Context: "Sample.Periodic"},
		{Timestamp: at(70), Value: "1500", Measurand: "Energy.Active.Import.Register", Unit: "Wh", Context: "Sample.Periodic"},
	})
}

func fmtPtr[T any](p *T) string {
	if p == nil {
		return "nil"
	}
	return fmt.Sprint(*p)
}

// testStopTwice: a station that did not hear the answer sends its stop
// again; the first one stands, and its samples are kept once. Another
// station stopping the transaction does not know it.
func testStopTwice(t *testing.T, s store.Store) {
	ctx := t.Context()
	id := mustStart(t, s, "CS1", start(1, "T", 0, 0))
	stop := ocpp.StopTransactionRequest{TransactionId: id, MeterStop: 7, Timestamp: dt(9), TransactionData: []ocpp.MeterValue{energy(9, "7")}}
	for i := range 2 {
		known, err := s.StopTransaction(ctx, "CS1", stop)
		if err != nil || !known {
			t.Fatalf("stop %d: known %v, err %v; want known, no error", i+1, known, err)
		}
	}
	samples, err := s.TransactionMeterValues(ctx, id)
	must(t, err, "TransactionMeterValues")
	if len(samples) != 1 {
		t.Errorf("a stop sent twice left %d samples, want 1: a replay records nothing new", len(samples))
	}
	if known, err := s.StopTransaction(ctx, "CS2", stop); err != nil || known {
		t.Errorf("CS2 stopping CS1's transaction: known %v, err %v; want unknown, no error", known, err)
	}
}

func testStopUnknown(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(t, s.Boot(ctx, "CS1", boot("Acme", "Fast", ""), at(0)), "Boot")
	known, err := s.StopTransaction(ctx, "CS1", ocpp.StopTransactionRequest{
		TransactionId: 424242, MeterStop: 10, Timestamp: dt(5), TransactionData: []ocpp.MeterValue{energy(5, "10")},
	})
	if err != nil {
		t.Fatalf("StopTransaction of an unknown transaction: %v; want no error: the station must get its answer all the same", err)
	}
	if known {
		t.Errorf("StopTransaction of transaction 424242, never started, reported it known")
	}
	if _, err := s.Transaction(ctx, 424242); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Transaction(424242) after stopping it unknown: %v, want ErrNotFound: a stop creates no transaction", err)
	}
}

func checkSamples(t *testing.T, id int, got, want []store.Sample) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("TransactionMeterValues(%d) returned %d samples, want %d: %+v", id, len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		gt, wt := g.Timestamp, w.Timestamp
		g.Timestamp, w.Timestamp = time.Time{}, time.Time{}
		if g != w || !sameTime(gt, wt) {
			t.Errorf("TransactionMeterValues(%d)[%d] = %+v at %v, want %+v at %v", id, i, g, gt, w, wt)
		}
	}
}

func testStatus(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(t, s.Boot(ctx, "CS1", boot("Acme", "Fast", ""), at(0)), "Boot")
	status := func(connector int, st ocpp.ChargePointStatus, code ocpp.ChargePointErrorCode, info string, seconds int) {
		t.Helper()
		req := ocpp.StatusNotificationRequest{ConnectorId: connector, Status: st, ErrorCode: code, Info: info}
		must(t, s.Statuses(ctx, []store.StatusUpdate{{Station: "CS1", Request: req, At: at(seconds)}}),
			fmt.Sprintf("Statuses connector %d %s", connector, st))
	}
	status(2, ocpp.StatusAvailable, ocpp.ChargePointNoError, "", 1)
	status(0, ocpp.StatusAvailable, ocpp.ChargePointNoError, "", 2)
	status(1, ocpp.StatusAvailable, ocpp.ChargePointNoError, "", 3)
	status(1, ocpp.StatusCharging, ocpp.ChargePointNoError, "", 4)
	status(2, ocpp.StatusFaulted, ocpp.ChargePointGroundFailure, "RCD tripped", 5)
	// With a timestamp of its own, the status is of that time, not of
	// when it arrived.
	must(t, s.Statuses(ctx, []store.StatusUpdate{{Station: "CS1", Request: ocpp.StatusNotificationRequest{
		ConnectorId: 3, Status: ocpp.StatusUnavailable, ErrorCode: ocpp.ChargePointNoError, Timestamp: &ocpp.DateTime{Time: at(6)},
	}, At: at(9)}}), "Statuses connector 3 with a timestamp")

	want := []store.Connector{
		{ID: 0, Status: "Available", ErrorCode: "NoError", Updated: at(2)},
		{ID: 1, Status: "Charging", ErrorCode: "NoError", Updated: at(4)},
		{ID: 2, Status: "Faulted", ErrorCode: "GroundFailure", Info: "RCD tripped", Updated: at(5)},
		{ID: 3, Status: "Unavailable", ErrorCode: "NoError", Updated: at(6)},
	}
	st, err := s.Station(ctx, "CS1")
	must(t, err, "Station")
	if len(st.Connectors) != len(want) {
		t.Fatalf("Station(CS1).Connectors = %+v; want %d connectors, 0 (the station itself) included, by id", st.Connectors, len(want))
	}
	for i, w := range want {
		g := st.Connectors[i]
		if g.ID != w.ID || g.Status != w.Status || g.ErrorCode != w.ErrorCode || g.Info != w.Info || !sameTime(g.Updated, w.Updated) {
			t.Errorf("connector %d = %+v, want %+v (the latest status wins)", w.ID, g, w)
		}
	}
	all, err := s.Stations(ctx)
	must(t, err, "Stations")
	if len(all) != 1 || len(all[0].Connectors) != len(want) {
		t.Errorf("Stations() = %+v; want CS1 with the same %d connectors as Station(CS1)", all, len(want))
	}
}

// testStatuses writes many statuses at once: of two stations, of the same
// connector twice (the later wins), and one unchanged by an empty write.
func testStatuses(t *testing.T, s store.Store) {
	ctx := t.Context()
	req := func(connector int, st ocpp.ChargePointStatus) ocpp.StatusNotificationRequest {
		return ocpp.StatusNotificationRequest{ConnectorId: connector, Status: st, ErrorCode: ocpp.ChargePointNoError}
	}
	must(t, s.Statuses(ctx, []store.StatusUpdate{
		{Station: "CS1", Request: req(1, ocpp.StatusPreparing), At: at(1)},
		{Station: "CS2", Request: req(1, ocpp.StatusAvailable), At: at(1)},
		{Station: "CS1", Request: req(1, ocpp.StatusCharging), At: at(2)},
		{Station: "CS1", Request: req(2, ocpp.StatusAvailable), At: at(2)},
	}), "Statuses of two stations")
	must(t, s.Statuses(ctx, nil), "Statuses of nothing")
	for _, w := range []struct {
		station string
		want    []store.Connector
	}{
		{"CS1", []store.Connector{{ID: 1, Status: "Charging", ErrorCode: "NoError", Updated: at(2)}, {ID: 2, Status: "Available", ErrorCode: "NoError", Updated: at(2)}}},
		{"CS2", []store.Connector{{ID: 1, Status: "Available", ErrorCode: "NoError", Updated: at(1)}}},
	} {
		st, err := s.Station(ctx, w.station)
		must(t, err, "Station "+w.station)
		if len(st.Connectors) != len(w.want) {
			t.Fatalf("Station(%s).Connectors = %+v, want %+v", w.station, st.Connectors, w.want)
		}
		for i, c := range w.want {
			g := st.Connectors[i]
			if g.ID != c.ID || g.Status != c.Status || g.ErrorCode != c.ErrorCode || !sameTime(g.Updated, c.Updated) {
				t.Errorf("%s connector %d = %+v, want %+v (of one connector's updates in one write, the later wins)", w.station, c.ID, g, c)
			}
		}
	}
}

func testMeterValues(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, id := range []string{"CS1", "CS2"} {
		must(t, s.Boot(ctx, id, boot("Acme", "Fast", ""), at(0)), "Boot "+id)
	}
	tx1 := mustStart(t, s, "CS1", start(1, "A", 0, 1))
	tx2 := mustStart(t, s, "CS2", start(1, "B", 0, 1))
	full := ocpp.MeterValue{Timestamp: dt(30), SampledValue: []ocpp.SampledValue{
		{Value: "3000", Measurand: "Energy.Active.Import.Register", Unit: "Wh", Context: "Sample.Periodic", Location: "Outlet", Format: "Raw"},
		{Value: "16.2", Measurand: "Current.Import", Unit: "A", Phase: "L1"},
	}}
	readings := []store.Reading{
		{Station: "CS1", Request: ocpp.MeterValuesRequest{ConnectorId: 1, TransactionId: &tx1, MeterValue: []ocpp.MeterValue{energy(10, "1000"), energy(20, "2000")}}},
		{Station: "CS2", Request: ocpp.MeterValuesRequest{ConnectorId: 1, TransactionId: &tx2, MeterValue: []ocpp.MeterValue{energy(10, "500")}}},
		// Outside a transaction: stored, attached to none.
		{Station: "CS2", Request: ocpp.MeterValuesRequest{ConnectorId: 2, MeterValue: []ocpp.MeterValue{energy(15, "7")}}},
		{Station: "CS1", Request: ocpp.MeterValuesRequest{ConnectorId: 1, TransactionId: &tx1, MeterValue: []ocpp.MeterValue{full}}},
		// A station naming another's transaction: not that transaction's.
		{Station: "CS2", Request: ocpp.MeterValuesRequest{ConnectorId: 1, TransactionId: &tx1, MeterValue: []ocpp.MeterValue{energy(25, "666")}}},
	}
	must(t, s.MeterValues(ctx, readings), "MeterValues")
	// A second batch; the stop's transactionData comes last.
	must(t, s.MeterValues(ctx, []store.Reading{
		{Station: "CS1", Request: ocpp.MeterValuesRequest{ConnectorId: 1, TransactionId: &tx1, MeterValue: []ocpp.MeterValue{energy(40, "4000")}}},
	}), "second MeterValues")
	must(t, s.MeterValues(ctx, nil), "MeterValues of no readings")
	// A station back from a time offline sends what it buffered: taken
	// earlier than what is already stored, it is listed in its place.
	must(t, s.MeterValues(ctx, []store.Reading{
		{Station: "CS1", Request: ocpp.MeterValuesRequest{ConnectorId: 1, TransactionId: &tx1, MeterValue: []ocpp.MeterValue{energy(15, "1500")}}},
	}), "late MeterValues")
	_, err := s.StopTransaction(ctx, "CS1", ocpp.StopTransactionRequest{TransactionId: tx1, MeterStop: 5000, Timestamp: dt(50), TransactionData: []ocpp.MeterValue{energy(50, "5000")}})
	must(t, err, "StopTransaction")

	e := func(seconds int, wh string) store.Sample {
		return store.Sample{Timestamp: at(seconds), Value: wh, Measurand: "Energy.Active.Import.Register", Unit: "Wh", Context: "Sample.Periodic"}
	}
	got, err := s.TransactionMeterValues(ctx, tx1)
	must(t, err, "TransactionMeterValues")
	checkSamples(t, tx1, got, []store.Sample{
		e(10, "1000"), e(15, "1500"), e(20, "2000"),
		{Timestamp: at(30), Value: "3000", Measurand: "Energy.Active.Import.Register", Unit: "Wh", Context: "Sample.Periodic", Location: "Outlet", Format: "Raw"},
		{Timestamp: at(30), Value: "16.2", Measurand: "Current.Import", Unit: "A", Phase: "L1"},
		e(40, "4000"), e(50, "5000"),
	})
	got, err = s.TransactionMeterValues(ctx, tx2)
	must(t, err, "TransactionMeterValues")
	checkSamples(t, tx2, got, []store.Sample{e(10, "500")})

	// A transaction without meter values has none, and is no error.
	tx3 := mustStart(t, s, "CS1", start(2, "C", 0, 60))
	got, err = s.TransactionMeterValues(ctx, tx3)
	must(t, err, "TransactionMeterValues of a transaction without samples")
	if len(got) != 0 {
		t.Errorf("TransactionMeterValues(%d) = %+v, want none", tx3, got)
	}
}

func testOpenTransactions(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, id := range []string{"CS1", "CS2"} {
		must(t, s.Boot(ctx, id, boot("Acme", "Fast", ""), at(0)), "Boot "+id)
	}
	a := mustStart(t, s, "CS1", start(1, "A", 0, 1))
	b := mustStart(t, s, "CS1", start(2, "B", 0, 2))
	c := mustStart(t, s, "CS2", start(1, "C", 0, 3))
	_, err := s.StopTransaction(ctx, "CS1", ocpp.StopTransactionRequest{TransactionId: a, MeterStop: 10, Timestamp: dt(4)})
	must(t, err, "StopTransaction")

	want := map[string][]int{"CS1": {b}, "CS2": {c}}
	for id, w := range want {
		st, err := s.Station(ctx, id)
		must(t, err, "Station "+id)
		if !slices.Equal(st.OpenTransactions, w) {
			t.Errorf("Station(%s).OpenTransactions = %v, want %v (the ones not stopped)", id, st.OpenTransactions, w)
		}
	}
	all, err := s.Stations(ctx)
	must(t, err, "Stations")
	for _, st := range all {
		if !slices.Equal(st.OpenTransactions, want[st.ID]) {
			t.Errorf("Stations(): %s OpenTransactions = %v, want %v", st.ID, st.OpenTransactions, want[st.ID])
		}
	}

	txs, err := s.Transactions(ctx, "")
	must(t, err, "Transactions(all)")
	if ids := txIDs(txs); !slices.Equal(ids, sorted(a, b, c)) {
		t.Errorf("Transactions(\"\") ids = %v, want %v: every station's, by id", ids, sorted(a, b, c))
	}
	txs, err = s.Transactions(ctx, "CS1")
	must(t, err, "Transactions(CS1)")
	if ids := txIDs(txs); !slices.Equal(ids, sorted(a, b)) {
		t.Errorf("Transactions(CS1) ids = %v, want %v", ids, sorted(a, b))
	}
	txs, err = s.Transactions(ctx, "CS9")
	must(t, err, "Transactions(CS9)")
	if len(txs) != 0 {
		t.Errorf("Transactions(CS9), a station never seen, = %+v, want none", txs)
	}
}

func txIDs(txs []store.Transaction) []int {
	var ids []int
	for _, tx := range txs {
		ids = append(ids, tx.ID)
	}
	return ids
}

func sorted(ids ...int) []int { slices.Sort(ids); return ids }

func testNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(t, s.Boot(ctx, "CS1", boot("Acme", "Fast", ""), at(0)), "Boot")
	id := mustStart(t, s, "CS1", start(1, "A", 0, 1))
	tests := []struct {
		name string
		call func() error
	}{
		{"Station", func() error { _, err := s.Station(ctx, "CS9"); return err }},
		{"Transaction", func() error { _, err := s.Transaction(ctx, id+1000); return err }},
		{"TransactionMeterValues", func() error { _, err := s.TransactionMeterValues(ctx, id+1000); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s of what does not exist: %v, want an error that errors.Is store.ErrNotFound", tt.name, err)
			}
		})
	}
}

// testConcurrent has stations booting, starting, reporting and stopping from
// goroutines of their own while readers read; -race watches the store's
// data, and the end state shows that no write was lost.
func testConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	const stations, sessions = 8, 5
	var wg sync.WaitGroup
	errs := make(chan error, stations*sessions*4+64)
	ids := make([][]int, stations)
	for i := range stations {
		wg.Go(func() {
			id := fmt.Sprintf("CS%02d", i)
			report := func(err error, what string) bool {
				if err != nil {
					errs <- fmt.Errorf("%s %s: %w", id, what, err)
					return false
				}
				return true
			}
			if !report(s.Boot(ctx, id, boot("Acme", "Fast", ""), at(0)), "Boot") {
				return
			}
			for n := range sessions {
				tx, err := s.StartTransaction(ctx, id, start(1+n%2, "TAG", n*100, n*10))
				if !report(err, "StartTransaction") {
					return
				}
				ids[i] = append(ids[i], tx)
				report(s.Statuses(ctx, []store.StatusUpdate{{Station: id, Request: ocpp.StatusNotificationRequest{
					ConnectorId: 1 + n%2, Status: ocpp.StatusCharging, ErrorCode: ocpp.ChargePointNoError}, At: at(n * 10)}}), "Statuses")
				report(s.MeterValues(ctx, []store.Reading{{Station: id, Request: ocpp.MeterValuesRequest{
					ConnectorId: 1 + n%2, TransactionId: &tx, MeterValue: []ocpp.MeterValue{energy(n*10+1, "1"), energy(n*10+2, "2")},
				}}}), "MeterValues")
				report(s.Seen(ctx, map[string]time.Time{id: at(n*10 + 3)}), "Seen")
				_, err = s.StopTransaction(ctx, id, ocpp.StopTransactionRequest{TransactionId: tx, MeterStop: n*100 + 50, Timestamp: dt(n*10 + 5), TransactionData: []ocpp.MeterValue{energy(n*10+5, "3")}})
				report(err, "StopTransaction")
			}
		})
	}
	for range 2 {
		wg.Go(func() {
			for range 20 {
				if _, err := s.Stations(ctx); err != nil {
					errs <- fmt.Errorf("Stations(): %w", err)
				}
				if _, err := s.Transactions(ctx, ""); err != nil {
					errs <- fmt.Errorf("Transactions(\"\"): %w", err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}

	all := map[int]bool{}
	for i, list := range ids {
		for _, id := range list {
			if all[id] {
				t.Errorf("transaction id %d given twice (the second time to CS%02d)", id, i)
			}
			all[id] = true
			samples, err := s.TransactionMeterValues(ctx, id)
			must(t, err, "TransactionMeterValues")
			if len(samples) != 3 {
				t.Errorf("transaction %d has %d samples, want 3 (2 from MeterValues, 1 from the stop)", id, len(samples))
			}
		}
	}
	sts, err := s.Stations(ctx)
	must(t, err, "Stations")
	if len(sts) != stations {
		t.Fatalf("Stations() lists %d stations, want %d", len(sts), stations)
	}
	for _, st := range sts {
		if len(st.OpenTransactions) != 0 {
			t.Errorf("%s has open transactions %v after stopping them all", st.ID, st.OpenTransactions)
		}
		if want := at((sessions-1)*10 + 3); !sameTime(st.LastSeen, want) {
			t.Errorf("%s lastSeen %v, want %v", st.ID, st.LastSeen, want)
		}
	}
	txs, err := s.Transactions(ctx, "")
	must(t, err, "Transactions")
	if len(txs) != stations*sessions {
		t.Errorf("Transactions() lists %d, want %d", len(txs), stations*sessions)
	}
}

// A station's firmware and diagnostics reports are kept apart, the last of
// each kind; one from a station that never booted gives it a row.
func testFirmwareReports(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(t, s.Boot(ctx, "CS1", boot("Acme", "Fast", "1.0"), at(1)), "Boot CS1")
	reports := []struct {
		station string
		r       store.FirmwareReport
	}{
		{"CS1", store.FirmwareReport{Firmware: ocpp.FirmwareDownloading, At: at(2)}},
		{"CS1", store.FirmwareReport{Diagnostics: ocpp.DiagnosticsUploading, At: at(3)}},
		{"CS1", store.FirmwareReport{Firmware: ocpp.FirmwareInstalled, At: at(4)}},
		{"CS2", store.FirmwareReport{Diagnostics: ocpp.DiagnosticsUploadFailed, At: at(5)}},
	}
	for _, rp := range reports {
		must(t, s.FirmwareReport(ctx, rp.station, rp.r), "FirmwareReport "+rp.station)
	}
	want := []store.Station{
		{ID: "CS1", FirmwareStatus: ocpp.FirmwareInstalled, FirmwareStatusAt: at(4), DiagnosticsStatus: ocpp.DiagnosticsUploading, DiagnosticsStatusAt: at(3)},
		{ID: "CS2", DiagnosticsStatus: ocpp.DiagnosticsUploadFailed, DiagnosticsStatusAt: at(5)},
	}
	for _, w := range want {
		got, err := s.Station(ctx, w.ID)
		must(t, err, "Station "+w.ID)
		if got.FirmwareStatus != w.FirmwareStatus || !sameTime(got.FirmwareStatusAt, w.FirmwareStatusAt) ||
			got.DiagnosticsStatus != w.DiagnosticsStatus || !sameTime(got.DiagnosticsStatusAt, w.DiagnosticsStatusAt) {
			t.Errorf("Station(%s): firmware %q at %v, diagnostics %q at %v; want firmware %q at %v, diagnostics %q at %v",
				w.ID, got.FirmwareStatus, got.FirmwareStatusAt, got.DiagnosticsStatus, got.DiagnosticsStatusAt,
				w.FirmwareStatus, w.FirmwareStatusAt, w.DiagnosticsStatus, w.DiagnosticsStatusAt)
		}
	}
	got, err := s.Station(ctx, "CS1")
	must(t, err, "Station CS1")
	if got.Firmware != "1.0" {
		t.Errorf("Station(CS1): firmware version %q after the reports, want 1.0, as its boot said: a report is not a version", got.Firmware)
	}
}

// A local list: a Full update replaces, a Differential one adds, replaces
// and removes per entry; the version is the last update's; a station that
// never had one has an empty list; each station has its own.
func testLocalList(t *testing.T, s store.Store) {
	ctx := t.Context()
	empty, err := s.LocalList(ctx, "CS1")
	must(t, err, "LocalList of a station with none")
	if empty.Version != 0 || !empty.Updated.IsZero() || empty.Entries == nil || len(empty.Entries) != 0 {
		t.Errorf("LocalList of a station with none: %+v, want version 0, no time, and an empty (not nil) list", empty)
	}
	expiry := ocpp.DateTime{Time: at(100)}
	info := func(status ocpp.AuthorizationStatus) *ocpp.IdTagInfo { return &ocpp.IdTagInfo{Status: status} }
	updates := []struct {
		station string
		req     ocpp.SendLocalListRequest
		at      int
	}{
		{"CS1", ocpp.SendLocalListRequest{ListVersion: 1, UpdateType: ocpp.UpdateFull, LocalAuthorizationList: []ocpp.AuthorizationData{
			{IdTag: "C", IdTagInfo: info(ocpp.AuthorizationAccepted)},
			{IdTag: "A", IdTagInfo: &ocpp.IdTagInfo{Status: ocpp.AuthorizationAccepted, ExpiryDate: &expiry, ParentIdTag: "P"}},
			{IdTag: "B", IdTagInfo: info(ocpp.AuthorizationAccepted)},
		}}, 1},
		{"CS2", ocpp.SendLocalListRequest{ListVersion: 9, UpdateType: ocpp.UpdateFull, LocalAuthorizationList: []ocpp.AuthorizationData{
			{IdTag: "Z", IdTagInfo: info(ocpp.AuthorizationBlocked)},
		}}, 2},
		// Differential: B blocked, C removed, D added, E (not there) removed.
		{"CS1", ocpp.SendLocalListRequest{ListVersion: 2, UpdateType: ocpp.UpdateDifferential, LocalAuthorizationList: []ocpp.AuthorizationData{
			{IdTag: "B", IdTagInfo: info(ocpp.AuthorizationBlocked)}, {IdTag: "C"}, {IdTag: "D", IdTagInfo: info(ocpp.AuthorizationExpired)}, {IdTag: "E"},
		}}, 3},
	}
	for _, u := range updates {
		must(t, s.SendLocalList(ctx, u.station, u.req, at(u.at)), fmt.Sprintf("SendLocalList %s version %d", u.station, u.req.ListVersion))
	}
	check := func(station string, version, updated int, want ...store.LocalListEntry) {
		t.Helper()
		got, err := s.LocalList(ctx, station)
		must(t, err, "LocalList "+station)
		if got.Version != version || !sameTime(got.Updated, at(updated)) {
			t.Errorf("LocalList(%s): version %d updated %v, want version %d updated %v", station, got.Version, got.Updated, version, at(updated))
		}
		if len(got.Entries) != len(want) {
			t.Fatalf("LocalList(%s): entries %+v, want %+v (by idTag)", station, got.Entries, want)
		}
		for i, w := range want {
			g := got.Entries[i]
			gotExpiry, wantExpiry := time.Time{}, time.Time{}
			if g.Info.ExpiryDate != nil {
				gotExpiry = g.Info.ExpiryDate.Time
			}
			if w.Info.ExpiryDate != nil {
				wantExpiry = w.Info.ExpiryDate.Time
			}
			if g.IdTag != w.IdTag || g.Info.Status != w.Info.Status || g.Info.ParentIdTag != w.Info.ParentIdTag || !sameTime(gotExpiry, wantExpiry) {
				t.Errorf("LocalList(%s) entry %d: %s %+v (expiry %v), want %s %+v (expiry %v)", station, i, g.IdTag, g.Info, gotExpiry, w.IdTag, w.Info, wantExpiry)
			}
		}
	}
	entry := func(tag string, status ocpp.AuthorizationStatus) store.LocalListEntry {
		return store.LocalListEntry{IdTag: tag, Info: ocpp.IdTagInfo{Status: status}}
	}
	a := store.LocalListEntry{IdTag: "A", Info: ocpp.IdTagInfo{Status: ocpp.AuthorizationAccepted, ExpiryDate: &expiry, ParentIdTag: "P"}}
	check("CS1", 2, 3, a, entry("B", ocpp.AuthorizationBlocked), entry("D", ocpp.AuthorizationExpired))
	check("CS2", 9, 2, entry("Z", ocpp.AuthorizationBlocked))

	// A Full update replaces the whole list; an empty one empties it.
	must(t, s.SendLocalList(ctx, "CS1", ocpp.SendLocalListRequest{ListVersion: 3, UpdateType: ocpp.UpdateFull,
		LocalAuthorizationList: []ocpp.AuthorizationData{{IdTag: "Y", IdTagInfo: info(ocpp.AuthorizationAccepted)}}}, at(4)), "SendLocalList Full")
	check("CS1", 3, 4, entry("Y", ocpp.AuthorizationAccepted))
	must(t, s.SendLocalList(ctx, "CS2", ocpp.SendLocalListRequest{ListVersion: 10, UpdateType: ocpp.UpdateFull}, at(5)), "SendLocalList Full, empty")
	check("CS2", 10, 5)

	sts, err := s.Stations(ctx)
	must(t, err, "Stations")
	if len(sts) != 2 {
		t.Errorf("Stations() lists %d stations after local lists for CS1 and CS2, want 2: %+v", len(sts), sts)
	}
}

// Reservations: one per id and station, replaced by the same id, ended
// by EndReservation, and left out once expired.
func testReservations(t *testing.T, s store.Store) {
	ctx := t.Context()
	reserve := func(station string, id, connector int, tag string, expiry, made int) {
		t.Helper()
		must(t, s.Reserve(ctx, station, ocpp.ReserveNowRequest{ReservationId: id, ConnectorId: connector, IdTag: tag,
			ParentIdTag: "P" + tag, ExpiryDate: dt(expiry)}, at(made)), fmt.Sprintf("Reserve %s %d", station, id))
	}
	reserve("CS1", 2, 1, "A", 100, 1)
	reserve("CS1", 1, 0, "B", 50, 2)
	reserve("CS2", 1, 2, "C", 100, 3) // another station's reservation 1
	reserve("CS1", 3, 2, "D", 100, 4)
	reserve("CS1", 3, 1, "E", 200, 5) // replaces CS1's 3

	r := func(id, connector int, tag string, expiry, made int) store.Reservation {
		return store.Reservation{ID: id, ConnectorID: connector, IdTag: tag, ParentIdTag: "P" + tag, Expiry: at(expiry), Made: at(made)}
	}
	check := func(station string, when int, want ...store.Reservation) {
		t.Helper()
		got, err := s.Reservations(ctx, station, at(when))
		must(t, err, "Reservations "+station)
		ok := len(got) == len(want) && got != nil
		for i := range want {
			if !ok {
				break
			}
			g, w := got[i], want[i]
			ok = g.ID == w.ID && g.ConnectorID == w.ConnectorID && g.IdTag == w.IdTag && g.ParentIdTag == w.ParentIdTag &&
				sameTime(g.Expiry, w.Expiry) && sameTime(g.Made, w.Made)
		}
		if !ok {
			t.Errorf("Reservations(%s, at %ds): %+v, want %+v (by id, a list even if empty)", station, when, got, want)
		}
	}
	check("CS1", 10, r(1, 0, "B", 50, 2), r(2, 1, "A", 100, 1), r(3, 1, "E", 200, 5))
	check("CS2", 10, r(1, 2, "C", 100, 3))
	check("CS1", 50, r(2, 1, "A", 100, 1), r(3, 1, "E", 200, 5)) // 1 expires at 50
	check("CS9", 10)

	known, err := s.EndReservation(ctx, "CS1", 2)
	must(t, err, "EndReservation CS1 2")
	if !known {
		t.Error("EndReservation(CS1, 2) reports it unknown; it was reserved")
	}
	for _, end := range []struct {
		station string
		id      int
	}{{"CS1", 2}, {"CS1", 7}, {"CS9", 1}} {
		known, err := s.EndReservation(ctx, end.station, end.id)
		must(t, err, fmt.Sprintf("EndReservation %s %d", end.station, end.id))
		if known {
			t.Errorf("EndReservation(%s, %d) reports it known; it is not in force", end.station, end.id)
		}
	}
	check("CS1", 10, r(1, 0, "B", 50, 2), r(3, 1, "E", 200, 5))
	check("CS2", 10, r(1, 2, "C", 100, 3))
}

// profile is a charging profile with the fields the tests vary, its
// times in milliseconds as on the wire.
func profile(id, stackLevel int, purpose ocpp.ChargingProfilePurpose, limit float64) ocpp.ChargingProfile {
	from := ocpp.DateTime{Time: at(0).Truncate(time.Millisecond)}
	p := ocpp.ChargingProfile{ChargingProfileId: id, StackLevel: stackLevel, ChargingProfilePurpose: purpose,
		ChargingProfileKind: ocpp.KindAbsolute, ValidFrom: &from,
		ChargingSchedule: ocpp.ChargingSchedule{StartSchedule: &from, ChargingRateUnit: ocpp.ChargingRateA,
			ChargingSchedulePeriod: []ocpp.ChargingSchedulePeriod{{StartPeriod: 0, Limit: limit}, {StartPeriod: 60, Limit: limit / 2}}}}
	if purpose == ocpp.PurposeTx {
		tx := 5
		p.TransactionId = &tx
	}
	return p
}

func setProfile(t *testing.T, s store.Store, station string, connector int, p ocpp.ChargingProfile, seconds int) {
	t.Helper()
	must(t, s.SetChargingProfile(t.Context(), station, ocpp.SetChargingProfileRequest{ConnectorId: connector, CsChargingProfiles: p}, at(seconds)),
		fmt.Sprintf("SetChargingProfile %s connector %d id %d", station, connector, p.ChargingProfileId))
}

func checkProfiles(t *testing.T, s store.Store, station string, want ...store.ChargingProfile) {
	t.Helper()
	got, err := s.ChargingProfiles(t.Context(), station)
	must(t, err, "ChargingProfiles "+station)
	ok := len(got) == len(want) && got != nil
	for i := range want {
		if !ok {
			break
		}
		ok = got[i].ConnectorID == want[i].ConnectorID && sameTime(got[i].Set, want[i].Set) &&
			reflect.DeepEqual(normal(got[i].Profile), normal(want[i].Profile))
	}
	if !ok {
		t.Errorf("ChargingProfiles(%s):\n%s\nwant (by connector, then id, a list even if empty):\n%s", station, profiles(got), profiles(want))
	}
}

// normal is p with its times in UTC, to compare.
func normal(p ocpp.ChargingProfile) ocpp.ChargingProfile {
	for _, d := range []**ocpp.DateTime{&p.ValidFrom, &p.ValidTo, &p.ChargingSchedule.StartSchedule} {
		if *d != nil {
			*d = &ocpp.DateTime{Time: (*d).UTC()}
		}
	}
	return p
}

func profiles(ps []store.ChargingProfile) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "\tconnector %d id %d stack %d %s limit %v set %v\n", p.ConnectorID, p.Profile.ChargingProfileId,
			p.Profile.StackLevel, p.Profile.ChargingProfilePurpose, p.Profile.ChargingSchedule.ChargingSchedulePeriod, p.Set)
	}
	return b.String()
}

// Charging profiles are kept whole; one with the same id, or on the same
// connector with the same stackLevel and purpose, replaces the one before.
func testChargingProfiles(t *testing.T, s store.Store) {
	max0 := profile(1, 0, ocpp.PurposeChargePointMax, 32)
	def1 := profile(2, 0, ocpp.PurposeTxDefault, 16)
	def2 := profile(3, 0, ocpp.PurposeTxDefault, 10) // same stack and purpose, another connector: both stay
	tx1 := profile(4, 1, ocpp.PurposeTx, 6)
	setProfile(t, s, "CS1", 0, max0, 1)
	setProfile(t, s, "CS1", 1, def1, 2)
	setProfile(t, s, "CS1", 2, def2, 3)
	setProfile(t, s, "CS1", 1, tx1, 4)
	setProfile(t, s, "CS2", 1, def1, 5) // another station's profile 2
	cp := func(connector int, p ocpp.ChargingProfile, set int) store.ChargingProfile {
		return store.ChargingProfile{ConnectorID: connector, Profile: p, Set: at(set)}
	}
	checkProfiles(t, s, "CS1", cp(0, max0, 1), cp(1, def1, 2), cp(1, tx1, 4), cp(2, def2, 3))
	checkProfiles(t, s, "CS2", cp(1, def1, 5))
	checkProfiles(t, s, "CS9")

	// Same stackLevel and purpose on connector 1: replaces profile 2.
	def1b := profile(5, 0, ocpp.PurposeTxDefault, 20)
	setProfile(t, s, "CS1", 1, def1b, 6)
	// Same id as profile 3, now on connector 1 at another stackLevel:
	// replaces it, wherever it was.
	def3 := profile(3, 2, ocpp.PurposeTxDefault, 8)
	setProfile(t, s, "CS1", 1, def3, 7)
	checkProfiles(t, s, "CS1", cp(0, max0, 1), cp(1, def3, 7), cp(1, tx1, 4), cp(1, def1b, 6))
	checkProfiles(t, s, "CS2", cp(1, def1, 5))
}

// ClearChargingProfile removes what matches every filter it gives, only
// of its station.
func testClearChargingProfile(t *testing.T, s store.Store) {
	ctx := t.Context()
	if removed, err := s.ClearChargingProfile(ctx, "CS1", ocpp.ClearChargingProfileRequest{}); err != nil || removed != 0 {
		t.Errorf("ClearChargingProfile in a store with no profile: %d, %v; want 0, nil", removed, err)
	}
	max0 := profile(1, 0, ocpp.PurposeChargePointMax, 32)
	def1 := profile(2, 0, ocpp.PurposeTxDefault, 16)
	def2 := profile(3, 1, ocpp.PurposeTxDefault, 10)
	tx1 := profile(4, 1, ocpp.PurposeTx, 6)
	def0 := profile(5, 1, ocpp.PurposeTxDefault, 12)
	fill := func(station string) {
		setProfile(t, s, station, 0, max0, 1)
		setProfile(t, s, station, 1, def1, 2)
		setProfile(t, s, station, 2, def2, 3)
		setProfile(t, s, station, 1, tx1, 4)
		setProfile(t, s, station, 0, def0, 5)
	}
	cp := func(connector int, p ocpp.ChargingProfile, set int) store.ChargingProfile {
		return store.ChargingProfile{ConnectorID: connector, Profile: p, Set: at(set)}
	}
	all := []store.ChargingProfile{cp(0, max0, 1), cp(0, def0, 5), cp(1, def1, 2), cp(1, tx1, 4), cp(2, def2, 3)}
	fill("CS2")
	one := func(v int) *int { return &v }
	steps := []struct {
		name    string
		req     ocpp.ClearChargingProfileRequest
		removed int
		left    []store.ChargingProfile
	}{
		{"no match", ocpp.ClearChargingProfileRequest{Id: one(9)}, 0, all},
		{"id and another connector", ocpp.ClearChargingProfileRequest{Id: one(2), ConnectorId: one(2)}, 0, all},
		{"stackLevel and purpose", ocpp.ClearChargingProfileRequest{StackLevel: one(1), ChargingProfilePurpose: ocpp.PurposeTxDefault}, 2,
			[]store.ChargingProfile{cp(0, max0, 1), cp(1, def1, 2), cp(1, tx1, 4)}},
		{"connector", ocpp.ClearChargingProfileRequest{ConnectorId: one(1)}, 2, []store.ChargingProfile{cp(0, max0, 1)}},
		{"id", ocpp.ClearChargingProfileRequest{Id: one(1)}, 1, nil},
	}
	fill("CS1")
	for _, st := range steps {
		removed, err := s.ClearChargingProfile(ctx, "CS1", st.req)
		must(t, err, "ClearChargingProfile "+st.name)
		if removed != st.removed {
			t.Errorf("ClearChargingProfile(%s) removed %d, want %d", st.name, removed, st.removed)
		}
		checkProfiles(t, s, "CS1", st.left...)
	}
	checkProfiles(t, s, "CS2", all...)
	removed, err := s.ClearChargingProfile(ctx, "CS2", ocpp.ClearChargingProfileRequest{})
	must(t, err, "ClearChargingProfile with no filter")
	if removed != len(all) {
		t.Errorf("ClearChargingProfile with no filter removed %d, want all %d", removed, len(all))
	}
	checkProfiles(t, s, "CS2")
}
