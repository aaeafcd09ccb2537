package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/stations/station"
)

// Step 2's demo: a thousand stations, first idle, then each waiting on a
// backend call that blocks its OS thread.
const (
	threadsFleet   = 1000
	threadsIdle    = 500 * time.Millisecond
	threadsBlocked = 50 * time.Millisecond // each Heartbeat, in nanosleep(2)
)

func threadsScenario() scenario {
	intro := fmt.Sprintf(`%d stations connect over loopback and stay idle for %s. Then each sends a Heartbeat,
and the backend answers it like a database driver written in C: it blocks its OS thread
in a system call for %s. The gauges are read every 20 ms; Go never gives a thread back,
so the threads row only climbs.`, threadsFleet, threadsIdle, threadsBlocked)
	return scenario{
		intro: intro,
		unit:  "steps (connect, answer)",
		run:   runThreads,
		show:  showThreads,
		compare: func(w io.Writer, st style, runs []*runResult) {
			fmt.Fprintln(w)
			var line string
			for i, r := range runs {
				if i > 0 {
					line += "  →  "
				}
				line += fmt.Sprintf("%s: %d OS threads with %d idle stations, %d at the peak",
					r.Variant, idleThreads(r), r.Stations, peak(r.Samples, func(s sample) int { return s.Threads }))
			}
			fmt.Fprintln(w, st.bold(line))
		},
	}
}

func runThreads(ctx context.Context, v string, newServer func(Config) Server, workers int, progress func(done, total int)) (*runResult, error) {
	b := backend.New(backend.Options{Blocking: true, Latencies: backend.Latencies{
		Action: map[string]time.Duration{ocpp.ActionHeartbeat: threadsBlocked},
	}})
	opts, stop, err := onLoopback(newServer(Config{Backend: b, Workers: workers}))
	if err != nil {
		return nil, err
	}

	start := time.Now()
	r := &runResult{Variant: v, Workers: workers, Stations: threadsFleet, Planned: threadsFleet}
	gauges := startSampling(start, 20*time.Millisecond, func() sample {
		s := processGauges()
		s.InFlight = b.Stats().InFlight
		return s
	})
	mark := func(name string) { r.Phases = append(r.Phases, phase{Name: name, At: time.Since(start)}) }

	mark("connect")
	stations, err := connectAll(ctx, opts, threadsFleet, func(n int) { progress(n, 2*threadsFleet) })
	defer closeAll(stations)
	if err == nil {
		mark("idle")
		time.Sleep(threadsIdle)
		mark("calls")
		err = heartbeats(ctx, stations, func(n int) { progress(threadsFleet+n, 2*threadsFleet) }, r)
	}
	time.Sleep(100 * time.Millisecond)
	r.Wall = time.Since(start)
	r.Samples = gauges.stop()
	r.Peak = b.Stats().Peak
	closeAll(stations)
	if stopErr := stop(); err == nil {
		err = stopErr
	}
	return r, err
}

// connectAll dials n stations, a few at a time.
func connectAll(ctx context.Context, opts station.Options, n int, progress func(int)) ([]*station.Station, error) {
	stations := make([]*station.Station, n)
	sem := make(chan struct{}, 32)
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		connected int
		first     error
	)
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			st, err := station.Dial(ctx, station.StationID(i+1), opts)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				first = cmpOr(first, err)
				return
			}
			stations[i] = st
			connected++
			progress(connected)
		})
	}
	wg.Wait()
	if first != nil {
		return stations, fmt.Errorf("connect %d stations: %w", n, first)
	}
	return stations, nil
}

// heartbeats sends one Heartbeat from every station and waits for the answers.
func heartbeats(ctx context.Context, stations []*station.Station, progress func(int), r *runResult) error {
	answers := make([]<-chan station.Answer, 0, len(stations))
	for _, st := range stations {
		ans, err := st.Send(ctx, ocpp.ActionHeartbeat, ocpp.HeartbeatRequest{})
		if err != nil {
			return fmt.Errorf("Heartbeat from %s: %w", st.ID(), err)
		}
		answers = append(answers, ans)
	}
	return collect(ctx, answers, r, func(i int, _ station.Answer) { progress(i + 1) })
}

func closeAll(stations []*station.Station) {
	var wg sync.WaitGroup
	for _, st := range stations {
		if st != nil {
			wg.Go(func() { st.Close() })
		}
	}
	wg.Wait()
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// idleThreads is the thread count at the end of the idle phase.
func idleThreads(r *runResult) int {
	var at time.Duration
	for _, p := range r.Phases {
		if p.Name == "calls" {
			at = p.At
		}
	}
	n := 0
	for _, s := range r.Samples {
		if s.At <= at {
			n = s.Threads
		}
	}
	return n
}

func showThreads(w io.Writer, st style, r *runResult) {
	runHeader(w, st, r, fmt.Sprintf("Config.Workers %d", r.Workers))
	done := answered(st, r, "Heartbeats")
	fmt.Fprintf(w, "%s in %s · %d OS threads while idle · at most %s in the backend at once\n\n",
		done, seconds(r.Wall), idleThreads(r), plural(r.Peak, "call"))
	drawGauges(w, st, r, []gaugeRow{
		{name: "OS threads", gauge: func(s sample) int { return s.Threads }, top: r.Stations, color: "33"},
		{name: "in backend", gauge: func(s sample) int { return s.InFlight }, top: r.Stations, color: "36"},
	})
}
