package ordering_test

import (
	"fmt"
	"slices"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	ordering "github.com/ocppkata/kata/exercises/03-ordering"
	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/kit"
	"github.com/ocppkata/kata/harness/memnet"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/stations/station"
)

// Stations in these tests pipeline their meter values: they send them back
// to back without waiting for answers. A station numbers its calls 1, 2, 3,
// … so the call ids are the order in which the station sent them.

const (
	workers  = 4
	perBurst = 20 // meter values per station
)

func newServer(t *testing.T, b *backend.Backend) *memnet.Listener {
	return kit.Serve(t, ordering.New(ordering.Config{Backend: b, Workers: workers}))
}

func TestAcknowledgedBeforeProcessing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := backend.New(backend.Options{Latencies: backend.WorkshopLatencies()})
		b.Hold(func(w backend.Work) bool { return w.Kind == backend.KindProcess }) // never opened
		l := newServer(t, b)

		for i := range 3 {
			st := boot(t, l, i+1)
			for n, ans := range burst(t, st, perBurst) {
				select {
				case a := <-ans:
					if a.Err != nil {
						t.Fatalf("%s's meter value %d: %v", st.ID(), n+1, a.Err)
					}
				case <-time.After(time.Minute):
					t.Fatalf("%s's meter value %d was not acknowledged in a minute while background processing was "+
						"held: the station must get its answer at once, not after the processing", st.ID(), n+1)
				}
			}
		}
	})
}

func TestStationOrderKept(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := backend.New(backend.Options{Latencies: backend.WorkshopLatencies()})
		l := newServer(t, b)

		const n = 5
		for i := range n {
			st := boot(t, l, i+1)
			waitAll(t, burst(t, st, perBurst))
		}
		awaitProcessed(t, b, n*perBurst)

		late, overlapping := 0, 0
		for i := range n {
			id := station.StationID(i + 1)
			late += outOfOrder(processed(b, id))
			overlapping = max(overlapping, b.StationPeak(id, backend.KindProcess))
		}
		t.Logf("%d stations × %d meter values: %d processed after a later one, at most %d of one station's at once",
			n, perBurst, late, overlapping)

		for i := range n {
			id := station.StationID(i + 1)
			order := processed(b, id)
			if !slices.IsSortedFunc(order, func(a, b int) int { return a - b }) {
				t.Errorf("%s's meter values were processed in the order %v, want the order they were sent "+
					"(ascending call ids): a station's readings must be analysed in the order they were taken",
					id, order)
			}
			if peak := b.StationPeak(id, backend.KindProcess); peak > 1 {
				t.Errorf("%d of %s's meter values were processed at the same time, want one at a time: "+
					"whichever finishes first wins, so their order is lost", peak, id)
			}
		}
	})
}

func TestStationsProcessedInParallel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := backend.New(backend.Options{})
		gate := b.Hold(func(w backend.Work) bool { return w.Kind == backend.KindProcess })
		l := newServer(t, b)

		const n = workers
		var answers []<-chan station.Answer
		for i := range n {
			answers = append(answers, burst(t, boot(t, l, i+1), 1)...)
		}
		waitAll(t, answers)
		synctest.Wait()

		busy := make(map[string]bool)
		for _, r := range b.Records() {
			if r.Kind == backend.KindProcess && r.End.IsZero() {
				busy[r.Station] = true
			}
		}
		if len(busy) != n {
			t.Errorf("%d stations each had one meter value to process: %d were processed at the same time, want %d. "+
				"Ordering one station's work must not serialise everybody's", n, len(busy), n)
		}
		gate.Open()
	})
}

func TestStalledStationDelaysNobody(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := backend.New(backend.Options{Latencies: backend.WorkshopLatencies()})
		stalled := station.StationID(1)
		gate := b.Hold(func(w backend.Work) bool { return w.Kind == backend.KindProcess && w.Station == stalled })
		l := newServer(t, b)

		const n = 10
		for i := range n {
			waitAll(t, burst(t, boot(t, l, i+1), perBurst))
		}
		// The others need 20 × 600 ms each; give them five times that.
		time.Sleep(time.Minute)

		done := 0
		for _, r := range b.Records() {
			if r.Kind == backend.KindProcess && r.Station != stalled && !r.End.IsZero() {
				done++
			}
		}
		if want := (n - 1) * perBurst; done != want {
			t.Errorf("while %s's processing was stalled, the other %d stations got %d of their %d meter values "+
				"processed in a minute, want all %d: one slow station must delay nobody but itself",
				stalled, n-1, done, want, want)
		}
		gate.Open()
	})
}

func TestCloseLeavesNothingBehind(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := backend.New(backend.Options{Latencies: backend.WorkshopLatencies()})
		srv := ordering.New(ordering.Config{Backend: b, Workers: workers})
		l := kit.Serve(t, srv)
		for i := range 5 {
			waitAll(t, burst(t, boot(t, l, i+1), perBurst))
		}
		time.Sleep(2 * time.Second) // processing under way, most of it still queued
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	kit.NoLeaks(t)
}

// boot connects station n and registers it; the station closes at the end of the test.
func boot(t *testing.T, l *memnet.Listener, n int) *station.Station {
	t.Helper()
	st, err := station.Dial(t.Context(), station.StationID(n), kit.Stations(l))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	req := ocpp.BootNotificationRequest{ChargePointVendor: "Kata", ChargePointModel: "Pipeline"}
	if err := st.Call(t.Context(), ocpp.ActionBootNotification, req, nil); err != nil {
		t.Fatalf("BootNotification from %s: %v", st.ID(), err)
	}
	return st
}

// burst sends n meter values back to back and returns their answers to come.
func burst(t *testing.T, st *station.Station, n int) []<-chan station.Answer {
	t.Helper()
	answers := make([]<-chan station.Answer, n)
	for i := range n {
		tx := 1
		req := ocpp.MeterValuesRequest{ConnectorId: 1, TransactionId: &tx, MeterValue: []ocpp.MeterValue{{
			Timestamp:    ocpp.DateTime{Time: time.Now()},
			SampledValue: []ocpp.SampledValue{{Value: strconv.Itoa(1000 * i), Measurand: "Energy.Active.Import.Register", Unit: "Wh"}},
		}}}
		ans, err := st.Send(t.Context(), ocpp.ActionMeterValues, req)
		if err != nil {
			t.Fatalf("%s's meter value %d: %v", st.ID(), i+1, err)
		}
		answers[i] = ans
	}
	return answers
}

// waitAll waits for every answer, on fake time.
func waitAll(t *testing.T, answers []<-chan station.Answer) {
	t.Helper()
	for i, ans := range answers {
		select {
		case a := <-ans:
			if a.Err != nil {
				t.Fatalf("call %d: %v", i+1, a.Err)
			}
		case <-time.After(10 * time.Minute):
			t.Fatalf("call %d was not answered in 10 minutes", i+1)
		}
	}
}

// awaitProcessed waits, on fake time, until the backend has processed n calls in the background.
func awaitProcessed(t *testing.T, b *backend.Backend, n int) {
	t.Helper()
	deadline := time.Now().Add(time.Hour)
	for count(b) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d meter values were processed in an hour", count(b), n)
		}
		time.Sleep(time.Second)
	}
}

func count(b *backend.Backend) int {
	n := 0
	for _, r := range b.Records() {
		if r.Kind == backend.KindProcess && !r.End.IsZero() {
			n++
		}
	}
	return n
}

// outOfOrder counts the ids that come after a larger one.
func outOfOrder(ids []int) int {
	n, highest := 0, 0
	for _, id := range ids {
		if id < highest {
			n++
		}
		highest = max(highest, id)
	}
	return n
}

// processed returns the call ids of a station's background work in the order it started.
func processed(b *backend.Backend, id string) []int {
	var order []int
	for _, r := range b.StationRecords(id, backend.KindProcess) {
		n, err := strconv.Atoi(r.CallID)
		if err != nil {
			panic(fmt.Sprintf("call id %q is not a number", r.CallID))
		}
		order = append(order, n)
	}
	return order
}
