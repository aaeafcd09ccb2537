package eviction_test

import (
	"fmt"
	"runtime"
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

		// Start at an odd instant, so that a scan every so often cannot
		// meet the end of the idle timeout by luck.
		time.Sleep(50*time.Millisecond + 300*time.Microsecond)
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
			t.Errorf("%d of %d processors were already stopped %v after their last work, want none: "+
				"a processor may stop only once it has been idle for the whole idle timeout (%v), "+
				"counted from the end of its last processing", n-got, n, ttl-time.Millisecond, ttl)
		}

		time.Sleep(2 * time.Millisecond)
		synctest.Wait()
		if got := srv.Processors(); got != 0 {
			late, stopped := whenAllStopped(srv, ttl)
			if stopped {
				t.Errorf("%d of %d processors were still alive %v after their last work, and the last stopped %v later, "+
					"want every one stopped within 1 ms of the idle timeout (%v). This kata asks each processor to time "+
					"its own idleness: then it stops on time, to the millisecond, and nothing scans every processor "+
					"under the lock that every station's calls need.",
					got, n, ttl+time.Millisecond, late, ttl)
			} else {
				t.Fatalf("%d of %d processors still alive %v after their last work, and still alive an idle timeout "+
					"later, want 0: a processor idle for the idle timeout (%v) must stop, or every station that ever "+
					"connected keeps one forever", got, n, ttl+time.Millisecond, ttl)
			}
		}
		if got := kit.Goroutines(); got != baseline {
			t.Errorf("%d goroutines once the processors had stopped, want %d as before the first meter value: "+
				"a stopped processor's goroutine must end (a processor that only leaves the map runs on forever)",
				got, baseline)
		}
	})
}

// whenAllStopped waits, on fake time and for at most limit, until srv has no
// processor left, and says how long that took.
func whenAllStopped(srv *eviction.Server, limit time.Duration) (time.Duration, bool) {
	const step = 10 * time.Millisecond
	for waited := step; waited <= limit; waited += step {
		time.Sleep(step)
		synctest.Wait()
		if srv.Processors() == 0 {
			return waited, true
		}
	}
	return limit, false
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
		synctest.Wait()
		if got := srv.Processors(); got != 1 {
			t.Fatalf("%d processors alive while the station's backlog was being worked on, want 1: "+
				"idle time counts from the end of the last processing, not from the last call queued", got)
		}

		gate.Open()
		time.Sleep(items*process + ttl - time.Millisecond) // the backlog ends items*process after the gate opens
		synctest.Wait()
		if got := srv.Processors(); got != 1 {
			t.Errorf("the processor was stopped less than an idle timeout (%v) after it finished its backlog, want it "+
				"alive until then: idle time counts from the end of the last processing, not from when the calls "+
				"came or were taken, or a processor that just worked through a backlog is stopped at once", ttl)
		}
		if got, want := kit.Processed(b, st.ID()), kit.IDs(2, items); !slices.Equal(got, want) {
			t.Errorf("the backlog was processed as %v, want %v: each call once, in order", got, want)
		}
	})
}

// Schedule of TestEvictionRaceLosesNothing.
const (
	raceStations = 40
	raceCycles   = 8
	// raceCycle is one cycle: two calls processed, then an idle timeout.
	raceCycle = 2*process + ttl
)

func TestEvictionRaceLosesNothing(t *testing.T) {
	// Each station sends a call exactly when its processor's idle timeout
	// ends, cycle after cycle, and another a nanosecond later (a processor
	// that left the map but still works would run beside the new one); every
	// fourth station stays quiet in a cycle, so its processor must retire. A
	// call and a retiring processor meet at the door hundreds of times a run.
	// Stations time out a microsecond apart: at its instant, a station's
	// call and its processor are all that run, so neither waits long behind
	// other stations' goroutines while the other acts.
	//
	// One P runs the bubble, so the interleavings are not left to how busy
	// the machine happens to be: they come from the random order in which
	// synctest fires timers due at the same instant, and from harness/queue,
	// which under -race lets other goroutines run at its edges, where a
	// check and the act that depends on it can be torn apart.
	old := runtime.GOMAXPROCS(1)
	t.Cleanup(func() { runtime.GOMAXPROCS(old) })

	synctest.Test(t, func(t *testing.T) {
		b := backend.New(backend.Options{Latencies: backend.WorkshopLatencies()})
		srv, l := newServer(t, b)

		stations := make([]*station.Station, raceStations)
		for i := range stations {
			stations[i] = kit.Dial(t, l, i+1)
			t.Cleanup(func() { stations[i].Close() })
		}
		start := time.Now()
		// Station i's calls of cycle k come at(i, k), a microsecond apart
		// from the other stations'; its processor times out at(i, k+1).
		at := func(i, k int) time.Time {
			return start.Add(time.Duration(k)*raceCycle + time.Duration(i)*time.Microsecond)
		}
		quiet := func(i, k int) bool { return k > raceCycles || k > 0 && (i+k)%4 == 0 }

		var wg sync.WaitGroup
		for i, st := range stations {
			wg.Go(func() {
				for k := range raceCycles + 1 {
					if quiet(i, k) {
						continue
					}
					time.Sleep(time.Until(at(i, k)))
					kit.AwaitAnswers(t, kit.SendMeterValues(t, st, 1), time.Minute)
					time.Sleep(time.Nanosecond)
					kit.AwaitAnswers(t, kit.SendMeterValues(t, st, 1), time.Minute)
				}
			})
		}

		// Right after every station's timeout of a cycle, each station that
		// sent a call has a processor, and no other station has one.
		var tooMany, tooFew []string
		for k := 1; k <= raceCycles+1; k++ {
			time.Sleep(time.Until(at(raceStations-1, k)))
			synctest.Wait()
			want := 0
			for i := range raceStations {
				if !quiet(i, k) {
					want++
				}
			}
			got := srv.Processors()
			count := fmt.Sprintf("in cycle %d, %d processors were alive right after the quiet stations' idle timeout, "+
				"want %d: one per station that had just sent a call", k, got, want)
			switch {
			case got > want:
				tooMany = append(tooMany, count)
			case got < want:
				tooFew = append(tooFew, count)
			}
		}
		wg.Wait()
		synctest.Wait()

		if len(tooMany) > 0 {
			t.Errorf("in %d of %d cycles, processors of stations that had stayed quiet were still alive after their "+
				"idle timeout: they retired late, or not at all (%s). A processor idle for the idle timeout retires "+
				"then, to the millisecond (a janitor that sweeps now and then retires it late). This test races calls "+
				"against retiring processors at that instant, so it needs them to retire on time.",
				len(tooMany), raceCycles+1, tooMany[0])
		}
		if len(tooFew) > 0 {
			t.Errorf("in %d of %d cycles, fewer processors than stations that had just sent a call (%s). A call that "+
				"came as its processor was retiring was left without one. Under one lock, either the processor sees "+
				"the call and stays, or it has left the map and the call starts a new one.",
				len(tooFew), raceCycles+1, tooFew[0])
		}

		var wrong, twoAtOnce []string
		var example string
		for i := range stations {
			id := station.StationID(i + 1)
			sent := 0
			for k := range raceCycles + 1 {
				if !quiet(i, k) {
					sent += 2
				}
			}
			if got, want := kit.Processed(b, id), kit.IDs(1, sent); !slices.Equal(got, want) {
				if example == "" {
					example = fmt.Sprintf("%s's meter values were processed as %v, want %v", id, got, want)
				}
				wrong = append(wrong, id)
			}
			if b.StationPeak(id, backend.KindProcess) > 1 {
				twoAtOnce = append(twoAtOnce, id)
			}
		}
		if len(wrong) > 0 {
			t.Errorf("%d of %d stations lost a call, or had one processed twice or out of order; %s: "+
				"a call that arrives while its processor is being stopped must be processed exactly once, "+
				"after the ones before it", len(wrong), raceStations, example)
		}
		if len(twoAtOnce) > 0 {
			t.Errorf("%d of %d stations had two of their calls processed at the same time (%s first): a processor "+
				"that has left the map must not go on working while a new one starts for the same station",
				len(twoAtOnce), raceStations, twoAtOnce[0])
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
		if got := srv.Processors(); got != 0 {
			t.Errorf("%d stations came and went: %d processors are still alive an idle timeout later, want 0",
				fleet, got)
		}
		if got := kit.Goroutines(); got != baseline {
			why := "Every station that ever connected left a goroutine behind: a server that runs for months " +
				"runs out of memory one station at a time."
			if srv.Processors() == 0 {
				why = "No processor is in the map any more, but their goroutines are still running: " +
					"a processor that leaves the map must also return."
			}
			t.Errorf("%d stations came and went: %d goroutines an idle timeout later, want %d as before them.\n%s",
				fleet, got, baseline, why)
		}
	})
}

func TestCloseLeavesNothingBehind(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := backend.New(backend.Options{Latencies: backend.WorkshopLatencies()})
		// Background processing that has started cannot be called back.
		gate := b.HoldFirm(func(w backend.Work) bool { return w.Kind == backend.KindProcess })
		srv, l := newServer(t, b)
		for i := range 5 {
			kit.AwaitAnswers(t, kit.SendMeterValues(t, kit.Boot(t, l, i+1), 10), time.Minute)
		}
		synctest.Wait() // each station's first meter value is in the backend, nine more queued behind it
		kit.CloseWaits(t, srv, b, gate)
		// kit.Serve's cleanup checks that no goroutine of the server is left.
	})
}
