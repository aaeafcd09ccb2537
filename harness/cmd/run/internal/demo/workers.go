package demo

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/cmd/run/internal/chart"
	"github.com/ocppkata/kata/harness/cmd/run/internal/steplink"
	"github.com/ocppkata/kata/harness/internal/term"
	"github.com/ocppkata/kata/stations/station"
)

// The first step's demo: 10 stations in lock-step on scaled real time.
const (
	demoStations = 10
	demoScale    = 0.1 // the backend runs at a tenth of the workshop's latencies
)

// workersScenario is step 1's demo: the same fleet against the starter's
// single consumer, then against the solution's pool of workers.
func workersScenario() scenario {
	lat := backend.WorkshopLatencies().Scaled(demoScale)
	var session time.Duration
	for _, action := range station.SessionActions {
		session += lat.Total(action)
	}
	intro := fmt.Sprintf(`%d simulated stations each run a %d-call charging session over real WebSockets,
all at the same time: %d calls. The backend takes the workshop's time at 1/%.0f speed,
so one session keeps a worker busy for %s. The starter runs first, then the solution.

Each row of a timeline is a worker; each cell the station whose call it is answering
(CS0001 → 1 … CS0010 → 0), · when it is idle. The queue row shows how many calls
the stations have sent that no worker has taken yet (█ = all %d).`, demoStations, len(station.SessionActions), demoStations*len(station.SessionActions), 1/demoScale, term.Seconds(session.Seconds()), demoStations)
	return scenario{
		intro: intro,
		run: func(ctx context.Context, v string, newServer func(steplink.Config) steplink.Server, _ []string, workers int, progress func(done, total int)) (*runResult, error) {
			return runFleet(ctx, v, newServer, workers, demoStations, lat, progress)
		},
		show:    showWorkers,
		compare: compareWorkers,
	}
}

// runFleet serves a fleet of lock-step stations over loopback TCP and
// records who did what, when.
func runFleet(ctx context.Context, v string, newServer func(steplink.Config) steplink.Server, workers, stations int,
	lat backend.Latencies, progress func(done, total int)) (*runResult, error) {
	b := backend.New(backend.Options{Latencies: lat})
	opts, stop, err := onLoopback(newServer(steplink.Config{Backend: b, Workers: workers}))
	if err != nil {
		return nil, err
	}

	start := time.Now()
	report, err := station.RunFleet(ctx, station.FleetOptions{
		Options:       opts,
		Stations:      stations,
		Mode:          station.LockStep,
		ProgressEvery: 100 * time.Millisecond,
		Progress:      func(p station.Progress) { progress(p.Answered+p.Failed, p.Planned) },
	})
	wall := time.Since(start)
	stopErr := stop()
	if err != nil {
		return nil, fmt.Errorf("run the stations: %w", err)
	}
	if stopErr != nil {
		return nil, fmt.Errorf("the %s: %w", v, stopErr)
	}

	r := &runResult{
		Run:      chart.Run{Variant: v, Stations: stations, Wall: wall},
		Workers:  workers,
		Planned:  stations * len(station.SessionActions),
		Answered: report.Answered,
		Failed:   report.Failed,
		Peak:     b.Stats().Peak,
	}
	for _, rec := range b.Records() {
		end := wall
		if !rec.End.IsZero() {
			end = rec.End.Sub(start)
		}
		r.Work = append(r.Work, chart.Span{Worker: rec.Worker, Station: rec.Station, Call: rec.CallID, Start: rec.Start.Sub(start), End: end})
	}
	for _, st := range report.Stations {
		for _, c := range st.Calls {
			r.Sent = append(r.Sent, chart.Sending{Station: st.ID, Call: c.ID, At: c.Sent.Sub(start)})
		}
	}
	return r, nil
}

// showWorkers draws one run of step 1's demo.
func showWorkers(w io.Writer, st term.Style, r *runResult) {
	runHeader(w, st, r, fmt.Sprintf("Config.Workers %d", r.Workers))
	lanes := len(chart.LaneNames(r.Work))
	done := answered(st, r, "calls") + fmt.Sprintf(" in %s", term.Seconds(r.Wall.Seconds()))
	fmt.Fprintf(w, "%s · %s busy · at most %s at once · %d OS threads\n\n",
		done, term.Plural(lanes, "worker"), term.Plural(r.Peak, "call"), r.Threads)
	chart.DrawTimeline(w, st, &r.Run)
}

// compareWorkers draws the wall times of step 1's runs and sums them up.
func compareWorkers(w io.Writer, st term.Style, runs []*runResult) {
	fmt.Fprintf(w, "\n%s\n", st.Bold("wall time"))
	bars := make([]*chart.Run, len(runs))
	for i, r := range runs {
		bars[i] = &r.Run
	}
	chart.DrawBars(w, st, bars, 50)
	fmt.Fprintln(w)
	var line string
	for i, r := range runs {
		if i > 0 {
			line += "  →  "
		}
		line += fmt.Sprintf("%s: %s, peak concurrency %d, %d threads", r.Variant, term.Seconds(r.Wall.Seconds()), r.Peak, r.Threads)
	}
	if len(runs) == 2 {
		line += "  (" + speedup(runs[0].Wall, runs[1].Wall, runs[0].SameAsSolution) + ")"
	}
	fmt.Fprintln(w, st.Bold(line))
}

// noise is how far apart two wall times of the same code can be: 36 runs
// of make demo with the solution against itself, on a 2-core machine with a
// load average of 10 to 16, came out within 5% of each other in most runs
// and 21% in the worst.
const noise = 1.25

// speedup says how the solution's wall time compares with the starter's:
// "10.0× faster" when the solution is faster, "about the same" when the two
// are within measurement noise. same is whether the starter's code is the
// solution's: then any difference is noise, and the words say so.
func speedup(starter, solution time.Duration, same bool) string {
	ratio := float64(max(starter, 1)) / float64(max(solution, 1))
	within := ratio < noise && ratio > 1/noise
	var diff string
	if ratio >= 1 {
		diff = fmt.Sprintf("%.1f× faster", ratio)
	} else {
		diff = fmt.Sprintf("%.1f× slower", 1/ratio)
	}
	switch {
	case within && same:
		return "about the same, as expected: your code is the solution's"
	case within:
		return "about the same: the difference is measurement noise"
	case same:
		return diff + ", though your code is the solution's: the machine was busy, try again"
	default:
		return diff
	}
}
