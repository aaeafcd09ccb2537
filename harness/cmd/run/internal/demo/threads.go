package demo

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/cmd/run/internal/chart"
	"github.com/ocppkata/kata/harness/cmd/run/internal/steplink"
	"github.com/ocppkata/kata/harness/internal/term"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/stations/station"
)

// Step 2's demo: a thousand stations, first idle, then each waiting on a
// backend call that blocks its OS thread.
const (
	threadsFleet   = 1000
	threadsIdle    = 500 * time.Millisecond
	threadsBlocked = 50 * time.Millisecond // each Heartbeat, in a blocking system call
)

func threadsScenario() scenario {
	intro := fmt.Sprintf(`%d stations connect over loopback and stay idle for %s. Then each sends a Heartbeat,
and the backend answers it like a database driver written in C: it blocks its OS thread
in a system call for %s. OS threads are read every 20 ms (Go never gives one back, so
that row only climbs); calls in the backend come from the backend's own records.`, threadsFleet, threadsIdle, threadsBlocked)
	return scenario{
		intro:   intro,
		unit:    "steps (connect, answer)",
		run:     runThreads,
		show:    showThreads,
		compare: compareThreads,
	}
}

// compareThreads sums up step 2's runs: what each cost in threads and in
// time, and, when the bound made the solution slower, what that price is.
func compareThreads(w io.Writer, st term.Style, runs []*runResult) {
	fmt.Fprintln(w)
	var line string
	for i, r := range runs {
		if i > 0 {
			line += "  →  "
		}
		line += fmt.Sprintf("%s: Heartbeats in %s, %d OS threads at the peak (%d while idle)",
			r.Variant, term.Seconds(heartbeatTime(r).Seconds()), chart.Peak(r.Samples, func(s chart.Sample) int { return s.Threads }), idleThreads(r))
	}
	fmt.Fprintln(w, st.Bold(line))
	if len(runs) != 2 || heartbeatTime(runs[1]) <= heartbeatTime(runs[0]) {
		return
	}
	starter, solution := runs[0], runs[1]
	rate := float64(solution.Workers) / threadsBlocked.Seconds()
	fmt.Fprintf(w, `The bound has a price here: %s, each call %s, answer at most %.0f calls a second,
so %d Heartbeats take %s. The starter was quicker only because this backend never says no:
it ran %d calls at once, each on a thread of its own. A real database serves a few dozen at
a time, and the rest would wait all the same, each still holding a thread.
`, term.Plural(solution.Workers, "worker"), threadsBlocked, rate, solution.Stations, term.Seconds(heartbeatTime(solution).Seconds()), starter.Peak)
	if solution.Workers < 100 {
		fmt.Fprintln(w, "Size the pool to what the backend can take: make demo STEP=2 WORKERS=100.")
	}
}

func runThreads(ctx context.Context, v string, newServer func(steplink.Config) steplink.Server, _ []string, workers int, progress func(done, total int)) (*runResult, error) {
	if !backend.BlockingSupported {
		return nil, backend.ErrBlockingUnsupported
	}
	b := backend.New(backend.Options{Blocking: true, Latencies: backend.Latencies{
		Action: map[string]time.Duration{ocpp.ActionHeartbeat: threadsBlocked},
	}})
	opts, stop, err := onLoopback(newServer(steplink.Config{Backend: b, Workers: workers}))
	if err != nil {
		return nil, err
	}

	start := time.Now()
	r := &runResult{Run: chart.Run{Variant: v, Stations: threadsFleet}, Workers: workers, Planned: threadsFleet}
	gauges := chart.StartSampling(start, 20*time.Millisecond, chart.ProcessGauges)
	mark := func(name string) { r.Phases = append(r.Phases, chart.Phase{Name: name, At: time.Since(start)}) }

	mark("connect")
	stations, err := connectAll(ctx, opts, threadsFleet, func(n int) { progress(n, 2*threadsFleet) })
	defer closeAll(stations)
	if err == nil {
		mark("idle")
		time.Sleep(threadsIdle)
		mark("calls")
		err = heartbeats(ctx, stations, func(n int) { progress(threadsFleet+n, 2*threadsFleet) }, r)
		mark("answered")
	}
	time.Sleep(100 * time.Millisecond)
	r.Wall = time.Since(start)
	r.Samples = gauges.Stop()
	r.Peak = inBackend(r.Samples, start, b.Records())
	closeAll(stations)
	if stopErr := stop(); err == nil {
		err = stopErr
	}
	return r, err
}

// connectAll dials n stations, a few at a time.
func connectAll(ctx context.Context, opts station.Options, n int, progress func(int)) ([]*station.Station, error) {
	return dialAll(ctx, opts, n, nil, progress)
}

// dialAll dials n stations, 32 at a time, and runs then on each (nil: no
// more), counting the stations done with progress. On an error it returns
// the first, with the stations that got through.
func dialAll(ctx context.Context, opts station.Options, n int, then func(*station.Station) error, progress func(int)) ([]*station.Station, error) {
	stations := make([]*station.Station, n)
	sem := make(chan struct{}, 32)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		done  int
		first error
	)
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			id := station.StationID(i + 1)
			st, err := station.Dial(ctx, id, opts)
			if err == nil && then != nil {
				if err = then(st); err != nil {
					st.Close()
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				first = cmpOr(first, fmt.Errorf("%s: %w", id, err))
				return
			}
			stations[i] = st
			done++
			progress(done)
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
			return fmt.Errorf("send a Heartbeat from %s: %w", st.ID(), err)
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

// phaseAt returns when the run's phase of that name began, or 0.
func phaseAt(r *runResult, name string) time.Duration {
	for _, p := range r.Phases {
		if p.Name == name {
			return p.At
		}
	}
	return 0
}

// heartbeatTime is how long the stations waited for all their Heartbeats.
func heartbeatTime(r *runResult) time.Duration {
	return phaseAt(r, "answered") - phaseAt(r, "calls")
}

// idleThreads is the thread count at the end of the idle phase.
func idleThreads(r *runResult) int {
	at := phaseAt(r, "calls")
	n := 0
	for _, s := range r.Samples {
		if s.At <= at {
			n = s.Threads
		}
	}
	return n
}

// inBackend sets each sample's InFlight to the most calls that were in the
// backend at once since the sample before it, worked out from the backend's
// records, and returns the most of all. A reading every 20 ms would miss the
// peaks between readings, and the row would not agree with the peak the
// run reports: this way both are the same measure.
func inBackend(samples []chart.Sample, start time.Time, records []backend.Record) int {
	type change struct {
		at    time.Duration
		delta int
	}
	changes := make([]change, 0, 2*len(records))
	for _, rec := range records {
		changes = append(changes, change{rec.Start.Sub(start), +1})
		if !rec.End.IsZero() {
			changes = append(changes, change{rec.End.Sub(start), -1})
		}
	}
	// At the same instant, a call that ended is counted out before one that
	// began is counted in: never more than the backend had.
	slices.SortFunc(changes, func(a, b change) int { return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.delta, b.delta)) })
	level, top, next := 0, 0, 0
	for i := range samples {
		high := level
		for ; next < len(changes) && changes[next].at <= samples[i].At; next++ {
			level += changes[next].delta
			high = max(high, level)
		}
		samples[i].InFlight = high
		top = max(top, high)
	}
	for ; next < len(changes); next++ {
		level += changes[next].delta
		top = max(top, level)
	}
	return top
}

func showThreads(w io.Writer, st term.Style, r *runResult) {
	runHeader(w, st, r, fmt.Sprintf("Config.Workers %d", r.Workers))
	done := answered(st, r, "Heartbeats")
	fmt.Fprintf(w, "%s in %s · %d OS threads while idle · at most %s in the backend at once\n\n",
		done, term.Seconds(heartbeatTime(r).Seconds()), idleThreads(r), term.Plural(r.Peak, "call"))
	chart.DrawGauges(w, st, &r.Run, []chart.GaugeRow{
		{Name: "OS threads", Gauge: func(s chart.Sample) int { return s.Threads }, Top: r.Stations, Color: "33"},
		{Name: "in backend", Gauge: func(s chart.Sample) int { return s.InFlight }, Top: r.Stations, Color: "36"},
	})
}
