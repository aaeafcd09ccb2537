package eviction_test

import (
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	eviction "github.com/ocppkata/kata/exercises/04-idle-eviction"
	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/kit"
	"github.com/ocppkata/kata/harness/memnet"
	"github.com/ocppkata/kata/stations/station"
)

// All tests run on fake time: the idle timeout is 30 s and MeterValues take
// 600 ms to process, so every instant below is exact.

const (
	ttl     = 30 * time.Second
	process = 600 * time.Millisecond // backend.WorkshopLatencies().For(MeterValues)
)

func newServer(t *testing.T, b *backend.Backend) (*eviction.Server, *memnet.Listener) {
	srv := eviction.New(eviction.Config{Backend: b, Workers: 4, IdleTimeout: ttl})
	return srv, kit.Serve(t, srv)
}

func TestIdleProcessorStopped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := backend.New(backend.Options{Latencies: backend.WorkshopLatencies()})
		srv, l := newServer(t, b)

		const n, items = 3, 5
		stations := make([]*station.Station, n)
		for i := range n {
			stations[i] = kit.Boot(t, l, i+1)
		}
		synctest.Wait()
		baseline := kit.Goroutines()

		for _, st := range stations {
			kit.AwaitAnswers(t, kit.SendMeterValues(t, st, items), time.Minute)
		}
		time.Sleep(items * process) // the last item's processing ends now
		synctest.Wait()
		if got := srv.Processors(); got != n {
			t.Fatalf("%d stations sent meter values: %d processors alive, want %d", n, got, n)
		}

		time.Sleep(ttl - time.Millisecond)
		synctest.Wait()
		if got := srv.Processors(); got != n {
			t.Errorf("%d processors alive %v after their last work, want all %d: "+
				"a processor may be stopped only once it has been idle for the whole idle timeout (%v)",
				got, ttl-time.Millisecond, n, ttl)
		}

		time.Sleep(2 * time.Millisecond)
		synctest.Wait()
		if got := srv.Processors(); got != 0 {
			t.Errorf("%d processors still alive %v after their last work, want 0: a processor idle for longer "+
				"than the idle timeout (%v) must stop, or every station that ever connected keeps one forever",
				got, ttl+time.Millisecond, ttl)
		}
		if got := kit.Goroutines(); got != baseline {
			t.Errorf("%d goroutines after the processors went idle, want %d as before the first meter value: "+
				"a stopped processor's goroutine must end", got, baseline)
		}
	})
}

func TestBusyProcessorNotEvicted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := backend.New(backend.Options{Latencies: backend.WorkshopLatencies()})
		gate := b.Hold(func(w backend.Work) bool { return w.Kind == backend.KindProcess && w.CallID == "2" })
		srv, l := newServer(t, b)

		// A backlog: the first meter value is held for two idle timeouts and
		// nine more wait behind it. Nothing is enqueued after the first moment.
		const items = 10
		st := kit.Boot(t, l, 1)
		kit.AwaitAnswers(t, kit.SendMeterValues(t, st, items), time.Minute)
		time.Sleep(2 * ttl)
		if got := srv.Processors(); got != 1 {
			t.Fatalf("%d processors alive while the station's backlog was being worked on, want 1: "+
				"idle time counts from the end of the last processing, not from the last call queued", got)
		}
		gate.Open()
		time.Sleep(items*process + ttl/2)
		synctest.Wait()
		if got := srv.Processors(); got != 1 {
			t.Errorf("%d processors alive half an idle timeout after the backlog was done, want 1: "+
				"idle time counts from the end of the last processing", got)
		}
		if got, want := kit.Processed(b, st.ID()), ids(2, items); !slices.Equal(got, want) {
			t.Errorf("the backlog was processed as %v, want %v: each call once, in order", got, want)
		}
		time.Sleep(ttl)
	})
}

func TestEvictionRaceLosesNothing(t *testing.T) {
	// A station sends a meter value, falls quiet for exactly as long as the
	// idle timeout, then sends another: the second arrives as its processor
	// is deciding to stop. Many stations hit that moment at once, each a
	// little before, at, or after it, so every interleaving happens.
	synctest.Test(t, func(t *testing.T) {
		b := backend.New(backend.Options{Latencies: backend.WorkshopLatencies()})
		_, l := newServer(t, b)

		const n = 60
		offsets := []time.Duration{-time.Nanosecond, 0, 0, 0, time.Nanosecond}
		var wg sync.WaitGroup
		for i := range n {
			st := kit.Boot(t, l, i+1)
			wg.Go(func() {
				kit.AwaitAnswers(t, kit.SendMeterValues(t, st, 1), time.Minute)
				time.Sleep(process + ttl + offsets[i%len(offsets)])
				kit.AwaitAnswers(t, kit.SendMeterValues(t, st, 2), time.Minute)
			})
		}
		wg.Wait()
		time.Sleep(2*process + ttl + time.Second)
		synctest.Wait()

		for i := range n {
			id := station.StationID(i + 1)
			if got, want := kit.Processed(b, id), ids(2, 3); !slices.Equal(got, want) {
				t.Errorf("%s's meter values were processed as %v, want %v: a call that arrives while its "+
					"processor is being stopped must be processed exactly once, after the ones before it",
					id, got, want)
			}
		}
	})
}

func TestProcessorsObservable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := backend.New(backend.Options{Latencies: backend.WorkshopLatencies()})
		gate := b.Hold(func(w backend.Work) bool { return w.Kind == backend.KindProcess })
		srv, l := newServer(t, b)

		for i := range 7 {
			st := kit.Boot(t, l, i+1)
			kit.AwaitAnswers(t, kit.SendMeterValues(t, st, 1), time.Minute)
			synctest.Wait()
			if got := srv.Processors(); got != i+1 {
				t.Fatalf("%d stations have sent meter values: Processors() = %d, want %d", i+1, got, i+1)
			}
		}
		gate.Open()
	})
}

func TestGoroutinesBackToBaseline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := backend.New(backend.Options{Latencies: backend.WorkshopLatencies()})
		srv, l := newServer(t, b)
		synctest.Wait()
		baseline := kit.Goroutines()

		// 1000 stations come, send three meter values, and go, 100 at a time.
		const fleet, batch = 1000, 100
		for first := 0; first < fleet; first += batch {
			var wg sync.WaitGroup
			for i := first; i < first+batch; i++ {
				wg.Go(func() {
					st := kit.Dial(t, l, i+1)
					kit.AwaitAnswers(t, kit.SendMeterValues(t, st, 3), time.Minute)
					st.Close()
				})
			}
			wg.Wait()
		}
		time.Sleep(3*process + ttl + time.Second)
		synctest.Wait()
		t.Logf("goroutines: %d before, %d an idle timeout after %d stations came and went (%+d); %d processors alive",
			baseline, kit.Goroutines(), fleet, kit.Goroutines()-baseline, srv.Processors())

		if got := srv.Processors(); got != 0 {
			t.Errorf("%d stations came and went: %d processors are still alive an idle timeout later, want 0",
				fleet, got)
		}
		if got := kit.Goroutines(); got != baseline {
			t.Errorf("%d stations came and went: %d goroutines an idle timeout later, want %d as before them.\n"+
				"Every station that ever connected left a goroutine behind: a server that runs for months "+
				"runs out of memory one station at a time.", fleet, got, baseline)
		}
	})
}

func TestCloseLeavesNothingBehind(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := backend.New(backend.Options{Latencies: backend.WorkshopLatencies()})
		srv, l := newServer(t, b)
		for i := range 5 {
			kit.AwaitAnswers(t, kit.SendMeterValues(t, kit.Boot(t, l, i+1), 10), time.Minute)
		}
		time.Sleep(2 * time.Second)
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	kit.NoLeaks(t)
}

// ids returns first, first+1, …, first+n-1.
func ids(first, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = first + i
	}
	return out
}
