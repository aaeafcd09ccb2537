package asyncio_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	asyncio "github.com/ocppkata/kata/exercises/02-async-io"
	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/kit"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/stations/station"
)

// These tests use real loopback sockets, because the netpoller is what they
// are about, and each runs in a fresh process (kit.Isolated), because Go
// never gives an OS thread back: a count is only meaningful against a
// process that did nothing else before.

const (
	fleet   = 1000 // stations
	workers = 8
	slack   = 10 // threads the runtime may start for its own reasons
)

func TestIdleStationsCostNoThreads(t *testing.T) {
	kit.Isolated(t, func(t *testing.T) {
		t.Cleanup(func() { kit.NoLeaks(t) })
		b := backend.New(backend.Options{Blocking: true})
		opts, _ := kit.ServeLoopback(t, asyncio.New(asyncio.Config{Backend: b, Workers: workers}))
		before := settledThreads(t, func() bool { return true })

		stations := connect(t, opts, fleet)
		for _, st := range stations {
			// Each station's first call is answered, so its reader is running.
			if err := st.Call(t.Context(), ocpp.ActionBootNotification, bootRequest, nil); err != nil {
				t.Fatalf("BootNotification from %s: %v", st.ID(), err)
			}
		}
		after := settledThreads(t, func() bool { return true })

		checkThreads(t, before, after, fmt.Sprintf("%d stations connected and idle", fleet),
			"A goroutine waiting for data from a socket holds no OS thread: the runtime parks it and "+
				"the netpoller wakes it when data arrives. Something pins a thread to each connection.")
	})
}

func TestBlockingCallsAreBounded(t *testing.T) {
	kit.Isolated(t, func(t *testing.T) {
		t.Cleanup(func() { kit.NoLeaks(t) })
		// The backend blocks its thread in a system call for the whole of a
		// call, like a database driver written in C; the gate holds every
		// Heartbeat there until the test has counted.
		b := backend.New(backend.Options{Blocking: true})
		gate := b.Hold(func(w backend.Work) bool { return w.Action == ocpp.ActionHeartbeat })
		opts, traffic := kit.ServeLoopback(t, asyncio.New(asyncio.Config{Backend: b, Workers: workers}))
		t.Cleanup(gate.Open) // before Close: a blocked system call cannot be cancelled
		before := settledThreads(t, func() bool { return true })

		stations := connect(t, opts, fleet)
		answers := make([]<-chan station.Answer, len(stations))
		for i, st := range stations {
			ans, err := st.Send(t.Context(), ocpp.ActionHeartbeat, ocpp.HeartbeatRequest{})
			if err != nil {
				t.Fatalf("Heartbeat from %s: %v", st.ID(), err)
			}
			answers[i] = ans
		}
		// Wait until the server has read every call and nothing moves any
		// more: each call is then either in the backend or waiting for it.
		held := settledThreads(t, func() bool {
			in := b.Stats().InFlight
			return traffic.Drained() && (in == fleet || in >= workers)
		})
		inFlight := b.Stats().InFlight
		gate.Open()
		for i, ans := range answers {
			select {
			case a := <-ans:
				if a.Err != nil {
					t.Errorf("Heartbeat from %s: %v", stations[i].ID(), a.Err)
				}
			case <-t.Context().Done():
				t.Fatal("the test ended before every Heartbeat was answered")
			}
		}
		after := max(held, settledThreads(t, func() bool { return true }))

		t.Logf("%d calls were in the backend at once", inFlight)
		checkThreads(t, before, after, fmt.Sprintf("%d stations each waiting for a blocking backend call", fleet),
			fmt.Sprintf("%d calls were in the backend at once. A goroutine in a blocking system call holds its OS "+
				"thread until the call returns, so the number of goroutines that can make such calls must be "+
				"bounded: by the %d workers.", inFlight, workers))
	})
}

// checkThreads fails the test if the load made the process start more OS
// threads than one per processor, one per worker and a little slack.
func checkThreads(t *testing.T, before, after int, load, why string) {
	t.Helper()
	procs := runtime.GOMAXPROCS(0)
	limit := procs + workers + slack
	t.Logf("OS threads: %d before, %d with %s (%+d)", before, after, load, after-before)
	if after-before > limit {
		t.Errorf("with %s the server started %d more OS threads (%d before, %d after), want at most %d "+
			"(GOMAXPROCS %d + %d workers + %d slack).\n%s",
			load, after-before, before, after, limit, procs, workers, slack, why)
	}
}

// settledThreads waits until ready holds and the thread count has stopped
// changing, and returns it. Polling here only decides when to look; what is
// asserted is a count, never a duration.
func settledThreads(t *testing.T, ready func() bool) int {
	t.Helper()
	const stableFor = 10
	deadline := time.Now().Add(time.Minute)
	last, stable := -1, 0
	for {
		n, err := kit.Threads()
		if err != nil {
			t.Fatal(err)
		}
		if ready() && n == last {
			stable++
		} else {
			stable = 0
		}
		if stable >= stableFor {
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server did not settle within a minute (%d OS threads, still changing or not ready)", n)
		}
		last = n
		time.Sleep(20 * time.Millisecond)
	}
}

var bootRequest = ocpp.BootNotificationRequest{ChargePointVendor: "Kata", ChargePointModel: "Idle"}

// connect dials n stations, a few at a time, and closes them when the test ends.
func connect(t *testing.T, opts station.Options, n int) []*station.Station {
	t.Helper()
	stations := make([]*station.Station, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			st, err := station.Dial(ctx, station.StationID(i+1), opts)
			if err != nil {
				errs <- err
				return
			}
			stations[i] = st
		})
	}
	wg.Wait()
	t.Cleanup(func() {
		var wg sync.WaitGroup
		for _, st := range stations {
			if st != nil {
				wg.Go(func() { st.Close() })
			}
		}
		wg.Wait()
	})
	close(errs)
	if err := <-errs; err != nil {
		t.Fatalf("connecting %d stations: %v", n, err)
	}
	return stations
}
