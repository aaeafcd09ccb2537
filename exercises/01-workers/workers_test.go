package workers_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	workers "github.com/ocppkata/kata/exercises/01-workers"
	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/kit"
	"github.com/ocppkata/kata/harness/memnet"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/stations/station"
)

// The suite runs the server and its stations inside a synctest bubble over
// the in-memory network: time is fake, so the backend's seconds of latency
// cost nothing to wait for, and every duration below is exact.

const stations = 10

// answerWithin bounds, on the fake clock, the wait for answers that should
// come at once: a server that never answers fails the test instead of
// deadlocking the bubble.
const answerWithin = time.Minute

// session is how long the backend works on one station's 14-call session.
func session(l backend.Latencies) time.Duration {
	var d time.Duration
	for _, action := range station.SessionActions {
		d += l.Total(action)
	}
	return d
}

// heartbeats connects stations CS{first}…CS{first+n-1}, each of which sends
// one Heartbeat and does not wait for its answer; it returns the answers to
// come. The stations are closed when the test ends.
func heartbeats(t *testing.T, l *memnet.Listener, first, n int) []<-chan station.Answer {
	t.Helper()
	answers := make([]<-chan station.Answer, 0, n)
	for i := first; i < first+n; i++ {
		st := kit.Dial(t, l, i)
		t.Cleanup(func() { st.Close() })
		ans, err := st.Send(t.Context(), ocpp.ActionHeartbeat, ocpp.HeartbeatRequest{})
		if err != nil {
			t.Fatalf("%s's heartbeat: %v", st.ID(), err)
		}
		answers = append(answers, ans)
	}
	return answers
}

// setGOMAXPROCS sets GOMAXPROCS for the rest of the test.
func setGOMAXPROCS(t *testing.T, n int) {
	prev := runtime.GOMAXPROCS(n)
	t.Cleanup(func() { runtime.GOMAXPROCS(prev) })
}

// unlikeNumCPU returns a GOMAXPROCS, smaller than the number of stations,
// that is not the number of CPUs: a default of runtime.NumCPU() must not
// pass for runtime.GOMAXPROCS(0) on any machine.
func unlikeNumCPU() int {
	if runtime.NumCPU() == 3 {
		return 5
	}
	return 3
}

func TestEveryCallAnswered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := backend.New(backend.Options{Latencies: backend.WorkshopLatencies()})
		l := kit.Serve(t, workers.New(workers.Config{Backend: b, Workers: 4}))

		report, err := station.RunFleet(t.Context(), station.FleetOptions{
			Options: kit.Stations(l), Stations: stations, Mode: station.LockStep,
		})
		if err != nil {
			t.Fatalf("running %d stations: %v", stations, err)
		}
		want := stations * len(station.SessionActions)
		if report.Answered != want || report.Failed != 0 {
			t.Errorf("%d of %d calls answered, %d failed, want all %d answered:\n%s",
				report.Answered, report.Calls, report.Failed, want, report.Summary())
		}
		if got := len(b.Records()); got != want {
			t.Errorf("the backend handled %d calls, want %d: every call goes through the backend exactly once", got, want)
		}
	})
}

func TestPeakConcurrency(t *testing.T) {
	// Each case runs with a GOMAXPROCS other than the workers it wants, so
	// a pool sized by the processors instead of Config.Workers shows.
	defaultProcs := unlikeNumCPU()
	tests := []struct {
		name    string
		workers int // Config.Workers
		procs   int // GOMAXPROCS for the test
		want    int
	}{
		{name: "1 worker", workers: 1, procs: 2, want: 1},
		{name: "4 workers", workers: 4, procs: 2, want: 4},
		{name: "10 workers", workers: 10, procs: 2, want: stations},
		{name: fmt.Sprintf("Workers 0, GOMAXPROCS %d", defaultProcs), workers: 0, procs: defaultProcs, want: defaultProcs},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setGOMAXPROCS(t, tt.procs)
			synctest.Test(t, func(t *testing.T) {
				b := backend.New(backend.Options{})
				gate := b.Hold(nil)
				l := kit.Serve(t, workers.New(workers.Config{Backend: b, Workers: tt.workers}))

				// Every station sends one call; the gate holds each call
				// that reaches the backend, so what is in flight stays there.
				answers := heartbeats(t, l, 1, stations)
				synctest.Wait() // until every goroutine is blocked: nothing more can enter the backend

				if got := b.Stats().InFlight; got != tt.want {
					t.Errorf("%d stations each sent a call: the backend had %d in flight at once, want %d (%s).\n%s",
						stations, got, tt.want, tt.name, explainPeak(got, tt.want, tt.workers))
				}
				gate.Open()
				kit.AwaitAnswers(t, answers, answerWithin)
			})
		})
	}
}

func explainPeak(got, want, workers int) string {
	var why string
	switch {
	case got == 0:
		why = "No call reached the backend: no worker took calls off the queue."
	case got == 1:
		why = "Only one call at a time: every call waited in the queue for the one before it to finish."
	case got < want:
		why = fmt.Sprintf("Some workers sat idle while calls waited: %d should be busy.", want)
	default:
		why = fmt.Sprintf("More calls than workers were in the backend: the pool must bound the work to %d at a time.", want)
	}
	if workers == 0 {
		why += " Config.Workers 0 means runtime.GOMAXPROCS(0) workers."
	}
	return why
}

func TestSlowCallBlocksOnlyItsWorker(t *testing.T) {
	const (
		workerCount = 4
		perStation  = 3 // calls each of the other stations sends
	)
	synctest.Test(t, func(t *testing.T) {
		b := backend.New(backend.Options{})
		first := station.StationID(1)
		gate := b.Hold(func(w backend.Work) bool { return w.Station == first })
		l := kit.Serve(t, workers.New(workers.Config{Backend: b, Workers: workerCount}))

		// The first station's call is slow: the gate keeps it, and the
		// worker that took it, in the backend.
		slow := heartbeats(t, l, 1, 1)
		synctest.Wait()
		if got := gate.Waiting(); got != 1 {
			t.Fatalf("%s sent a call and the backend held %d of it, want 1: no worker took it", first, got)
		}

		// The other stations run short lock-step sessions: the free workers
		// must answer every call while the slow one is held.
		ctx, cancel := context.WithTimeout(t.Context(), answerWithin)
		defer cancel()
		var done atomic.Int64
		var failed sync.Map // station → why its session stopped
		var sessions sync.WaitGroup
		for i := 2; i <= stations; i++ {
			st := kit.Dial(t, l, i)
			t.Cleanup(func() { st.Close() })
			sessions.Go(func() {
				for range perStation {
					if err := st.Call(ctx, ocpp.ActionHeartbeat, ocpp.HeartbeatRequest{}, nil); err != nil {
						failed.Store(st.ID(), err)
						return
					}
					done.Add(1)
				}
			})
		}
		synctest.Wait() // every call that a free worker could answer has been answered

		want := (stations - 1) * perStation
		if got := int(done.Load()); got != want {
			t.Errorf("%s's call was held in the backend, keeping one of the %d workers busy. "+
				"Of the %d calls the other stations made next (%d stations × %d heartbeats), %d were answered and the rest waited, "+
				"want all answered by the %d free workers.\n"+
				"A call must go to whichever worker is free. With one worker, every call waits behind the slow one; "+
				"with a queue per worker, the calls handed to the busy worker wait while the others are idle.",
				first, workerCount, want, stations-1, perStation, got, workerCount-1)
		}
		gate.Open()
		sessions.Wait()
		var stopped []string
		var why error
		failed.Range(func(id, err any) bool {
			stopped = append(stopped, id.(string))
			why = err.(error)
			return true
		})
		if len(stopped) > 0 {
			t.Errorf("%d stations' calls failed once the slow call was let go, e.g. %s: %v", len(stopped), stopped[0], why)
		}
		kit.AwaitAnswers(t, slow, answerWithin)
	})
}

func TestSessionDuration(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lat := backend.WorkshopLatencies()
		b := backend.New(backend.Options{Latencies: lat})
		l := kit.Serve(t, workers.New(workers.Config{Backend: b, Workers: stations}))

		start := time.Now()
		report, err := station.RunFleet(t.Context(), station.FleetOptions{
			Options: kit.Stations(l), Stations: stations, Mode: station.LockStep,
		})
		if err != nil {
			t.Fatalf("running %d stations: %v", stations, err)
		}
		elapsed := time.Since(start)
		if report.Failed != 0 {
			t.Fatalf("%d calls failed:\n%s", report.Failed, report.Summary())
		}

		one := session(lat)
		if limit := 2 * one; elapsed > limit {
			t.Errorf("%d stations took %v (fake time) to run their sessions with %d workers, want at most %v: twice one session.\n"+
				"One session keeps the backend busy for %v; with a worker per station they should run side by side. "+
				"%v is the time of about %.0f sessions one after the other: every call waited for the calls before it.",
				stations, elapsed, stations, limit, one, elapsed.Round(time.Second), elapsed.Seconds()/one.Seconds())
		} else {
			t.Logf("%d stations, %d workers: the sessions took %v of fake time; one session alone keeps the backend busy for %v",
				stations, stations, elapsed, one)
		}
	})
}

func TestWorkersAreNamed(t *testing.T) {
	const workerCount = 3
	synctest.Test(t, func(t *testing.T) {
		b := backend.New(backend.Options{})
		gate := b.Hold(nil)
		l := kit.Serve(t, workers.New(workers.Config{Backend: b, Workers: workerCount}))

		// Hold the calls in the backend: each held call is a busy worker.
		answers := heartbeats(t, l, 1, stations)
		synctest.Wait()

		held := make(map[string][]string) // worker name → stations whose calls it holds
		for _, r := range b.Records() {
			if r.Worker == "" {
				t.Errorf("%s's call %s reached the backend with no worker name: "+
					"put the worker's name in the context with backend.WithWorker, so logs and timelines can tell workers apart",
					r.Station, r.Action)
				break
			}
			held[r.Worker] = append(held[r.Worker], r.Station)
		}
		for name, sts := range held {
			if len(sts) > 1 {
				t.Errorf("%d calls were in the backend at once (%s), all from workers named %q: "+
					"%d workers share that name. Each worker needs its own name (worker-1, worker-2, …), "+
					"so logs and timelines can tell them apart.",
					len(sts), strings.Join(sts, ", "), name, len(sts))
			}
		}
		gate.Open()
		kit.AwaitAnswers(t, answers, answerWithin)
	})
}

func TestWorkersOutliveFailedCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const pool = 4
		b := backend.New(backend.Options{})
		gate := b.Hold(nil)
		srv := workers.New(workers.Config{Backend: b, Workers: pool})
		l := kit.Serve(t, srv)

		// Four stations each send a Heartbeat and hang up while it is held in
		// the backend: when the backend lets go, its answer cannot be sent,
		// and the call fails. That is an ordinary day for a server, not a
		// reason to stop.
		for i := range pool {
			st := kit.Dial(t, l, i+1)
			if _, err := st.Send(t.Context(), ocpp.ActionHeartbeat, ocpp.HeartbeatRequest{}); err != nil {
				t.Fatalf("%s's heartbeat: %v", st.ID(), err)
			}
			synctest.Wait()
			st.Close()
		}
		synctest.Wait()
		gate.Open()
		synctest.Wait()
		failed := b.Stats().Done

		// The server must still answer the next station.
		answers := heartbeats(t, l, pool+1, 1)
		select {
		case a := <-answers[0]:
			if a.Err != nil {
				t.Errorf("%s's Heartbeat after %d stations hung up mid-call: %v", station.StationID(pool+1), pool, a.Err)
			}
		case <-time.After(answerWithin):
			t.Errorf("%d stations hung up while their calls were in the backend (%d calls ended, their answers not "+
				"sent); then a new station's Heartbeat was not answered within %v, want at once: a worker whose "+
				"call fails must log it and take the next one. Only the closed queue ends a worker; otherwise "+
				"every station that hangs up mid-call takes a worker with it, until none is left.",
				pool, failed, answerWithin)
		}
	})
}

func TestCloseWaitsForWorkers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := backend.New(backend.Options{})
		// Held firmly: the workers' calls stay in the backend after Close
		// cancels them, like queries already sent to a database.
		gate := b.HoldFirm(nil)
		srv := workers.New(workers.Config{Backend: b, Workers: 4})
		l := kit.Serve(t, srv)

		// Four calls held by the four workers, six waiting in their
		// stations' connection goroutines to be put on the queue.
		heartbeats(t, l, 1, stations)
		synctest.Wait()
		kit.CloseWaits(t, srv, b, gate)
	})
}

func TestCloseLeavesNothingBehind(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := backend.New(backend.Options{Latencies: backend.WorkshopLatencies()})
		srv := workers.New(workers.Config{Backend: b, Workers: 4})
		l := kit.Serve(t, srv)

		// Close while calls are in flight and stations are connected.
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			defer close(done)
			station.RunFleet(ctx, station.FleetOptions{Options: kit.Stations(l), Stations: stations, Mode: station.LockStep})
		}()
		time.Sleep(3 * time.Second)
		if got := b.Stats().InFlight; got == 0 {
			t.Fatal("no call was in flight 3s into the sessions; the test cannot check Close under load")
		}
		kit.CheckClose(t, srv.Close())
		cancel()
		<-done
		// kit.Serve's cleanup checks that no goroutine of the server is left.
	})
}
