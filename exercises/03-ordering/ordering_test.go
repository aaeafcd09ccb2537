package ordering_test

import (
	"slices"
	"testing"
	"testing/synctest"
	"time"

	ordering "github.com/ocppkata/kata/exercises/03-ordering"
	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/kit"
	"github.com/ocppkata/kata/harness/memnet"
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
			st := kit.Boot(t, l, i+1)
			for n, ans := range kit.SendMeterValues(t, st, perBurst) {
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
			st := kit.Boot(t, l, i+1)
			kit.AwaitAnswers(t, kit.SendMeterValues(t, st, perBurst), 10*time.Minute)
		}
		awaitProcessed(t, b, n*perBurst)

		late, overlapping := 0, 0
		for i := range n {
			id := station.StationID(i + 1)
			late += kit.OutOfOrder(kit.Processed(b, id))
			overlapping = max(overlapping, b.StationPeak(id, backend.KindProcess))
		}
		t.Logf("%d stations × %d meter values: %d processed after a later one, at most %d of one station's at once",
			n, perBurst, late, overlapping)

		for i := range n {
			id := station.StationID(i + 1)
			order := kit.Processed(b, id)
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
			answers = append(answers, kit.SendMeterValues(t, kit.Boot(t, l, i+1), 1)...)
		}
		kit.AwaitAnswers(t, answers, 10*time.Minute)
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
			kit.AwaitAnswers(t, kit.SendMeterValues(t, kit.Boot(t, l, i+1), perBurst), 10*time.Minute)
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
			kit.AwaitAnswers(t, kit.SendMeterValues(t, kit.Boot(t, l, i+1), perBurst), 10*time.Minute)
		}
		time.Sleep(2 * time.Second) // processing under way, most of it still queued
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	kit.NoLeaks(t)
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

// count returns how many calls the backend has finished processing in the background.
func count(b *backend.Backend) int {
	n := 0
	for _, r := range b.Records() {
		if r.Kind == backend.KindProcess && !r.End.IsZero() {
			n++
		}
	}
	return n
}
