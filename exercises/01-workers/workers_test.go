package workers_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	workers "github.com/ocppkata/kata/exercises/01-workers"
	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/kit"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/stations/station"
)

// The suite runs the server and its stations inside a synctest bubble over
// the in-memory network: time is fake, so the backend's seconds of latency
// cost nothing to wait for, and every duration below is exact.

const stations = 10

// session is how long the backend works on one station's 14-call session.
func session(l backend.Latencies) time.Duration {
	var d time.Duration
	for _, action := range station.SessionActions {
		d += l.Total(action)
	}
	return d
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
	tests := []struct {
		name    string
		workers int
		procs   int // GOMAXPROCS for the test; 0 leaves it alone
		want    int
	}{
		{name: "1 worker", workers: 1, want: 1},
		{name: "4 workers", workers: 4, want: 4},
		{name: "10 workers", workers: 10, want: stations},
		{name: "default workers, GOMAXPROCS 3", workers: 0, procs: 3, want: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.procs > 0 {
				defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(tt.procs))
			}
			synctest.Test(t, func(t *testing.T) {
				b := backend.New(backend.Options{})
				gate := b.Hold(nil)
				l := kit.Serve(t, workers.New(workers.Config{Backend: b, Workers: tt.workers}))

				// Every station sends one call; the gate holds each call
				// that reaches the backend, so what is in flight stays there.
				answers := make([]<-chan station.Answer, 0, stations)
				for i := range stations {
					st, err := station.Dial(t.Context(), fmt.Sprintf("CS%04d", i+1), kit.Stations(l))
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { st.Close() })
					ans, err := st.Send(t.Context(), ocpp.ActionHeartbeat, ocpp.HeartbeatRequest{})
					if err != nil {
						t.Fatal(err)
					}
					answers = append(answers, ans)
				}
				synctest.Wait() // until every goroutine is blocked: nothing more can enter the backend

				if got := b.Stats().InFlight; got != tt.want {
					t.Errorf("%d stations each sent a call: the backend had %d in flight at once, want %d (%s).\n"+
						"%s", stations, got, tt.want, tt.name, explainPeak(got, tt.want))
				}
				gate.Open()
				for _, ans := range answers {
					if a := <-ans; a.Err != nil {
						t.Errorf("call %s: %v", a.ID, a.Err)
					}
				}
			})
		})
	}
}

func explainPeak(got, want int) string {
	switch {
	case got == 1:
		return "Only one call at a time: every call waited in the queue for the one before it to finish."
	case got < want:
		return fmt.Sprintf("Some workers sat idle while calls waited: %d should be busy.", want)
	default:
		return fmt.Sprintf("More calls than workers were in the backend: the pool must bound the work to %d at a time.", want)
	}
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
		t.Logf("%d stations, %d workers: the sessions took %v of fake time; one session alone keeps the backend busy for %v",
			stations, stations, elapsed, one)
		if limit := 2 * one; elapsed > limit {
			t.Errorf("%d stations took %v (fake time) to run their sessions with %d workers, want at most %v.\n"+
				"One session keeps the backend busy for %v; with a worker per station they should run side by side. "+
				"%v is the time of about %.0f sessions one after the other: every call waited for the calls before it.",
				stations, elapsed, stations, limit, one, elapsed.Round(time.Second), elapsed.Seconds()/one.Seconds())
		}
	})
}

func TestWorkersAreNamed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := backend.New(backend.Options{Latencies: backend.WorkshopLatencies()})
		l := kit.Serve(t, workers.New(workers.Config{Backend: b, Workers: 3}))

		if _, err := station.RunFleet(t.Context(), station.FleetOptions{
			Options: kit.Stations(l), Stations: stations, Mode: station.LockStep,
		}); err != nil {
			t.Fatal(err)
		}
		records := b.Records()
		for _, r := range records {
			if r.Worker == "" {
				t.Fatalf("call %s %s of %s reached the backend with no worker name: "+
					"put it in the context with backend.WithWorker, so logs and timelines can tell workers apart",
					r.CallID, r.Action, r.Station)
			}
		}
		// Two calls in the backend at the same time cannot be the same worker's.
		for i, a := range records {
			for _, b := range records[i+1:] {
				if a.Worker == b.Worker && a.Start.Before(b.End) && b.Start.Before(a.End) {
					t.Fatalf("%s worked on %s's %s and %s's %s at the same time: each worker should take one call at a time",
						a.Worker, a.Station, a.Action, b.Station, b.Action)
				}
			}
		}
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
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		cancel()
		<-done
		// synctest.Test fails with "deadlock" if a goroutine of the bubble is
		// still blocked when this function returns.
	})
	kit.NoLeaks(t)
}
