package demo

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/cmd/run/internal/chart"
	"github.com/ocppkata/kata/harness/cmd/run/internal/steplink"
	"github.com/ocppkata/kata/harness/internal/term"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/stations/station"
)

// Step 4's demo: stations come, send a few meter values and go, in waves,
// while the demo watches the server's processors and goroutines.
const (
	evictWaves     = 4
	evictPerWave   = 50
	evictEvery     = time.Second
	evictIdle      = time.Second // Config.IdleTimeout
	evictReadings  = 3
	evictAfterLast = 2500 * time.Millisecond
)

func evictionScenario() scenario {
	intro := fmt.Sprintf(`%d waves of %d stations, %s apart: each station connects, sends %d meter values and
disconnects. Config.IdleTimeout is %s. The gauges are read every 50 ms: how many
station processors are alive, and how many goroutines the process has.`,
		evictWaves, evictPerWave, evictEvery, evictReadings, evictIdle)
	return scenario{
		intro: intro,
		unit:  "stations come and gone",
		run:   runEviction,
		show:  showEviction,
		compare: func(w io.Writer, st term.Style, runs []*runResult) {
			fmt.Fprintln(w)
			var line string
			for i, r := range runs {
				if i > 0 {
					line += "  →  "
				}
				end := r.Samples[len(r.Samples)-1]
				line += fmt.Sprintf("%s: %d processors and %d goroutines at the end (%d at the start)",
					r.Variant, end.Processors, end.Goroutines, r.Samples[0].Goroutines)
			}
			fmt.Fprintln(w, st.Bold(line))
		},
	}
}

func runEviction(ctx context.Context, v string, newServer func(steplink.Config) steplink.Server, _ []string, workers int, progress func(done, total int)) (*runResult, error) {
	b := backend.New(backend.Options{Latencies: backend.WorkshopLatencies().Scaled(demoScale)})
	srv := newServer(steplink.Config{Backend: b, Workers: workers, IdleTimeout: evictIdle})
	counter, ok := srv.(interface{ Processors() int })
	if !ok {
		return nil, fmt.Errorf("the %s's server has no Processors method to count its processors", v)
	}
	opts, stop, err := onLoopback(srv)
	if err != nil {
		return nil, err
	}

	start := time.Now()
	total := evictWaves * evictPerWave
	r := &runResult{Run: chart.Run{Variant: v, Stations: total}, Workers: workers, Planned: total * evictReadings}
	gauges := chart.StartSampling(start, 50*time.Millisecond, func() chart.Sample {
		s := chart.ProcessGauges()
		s.Processors = counter.Processors()
		return s
	})
	time.Sleep(200 * time.Millisecond) // a reading or two before anyone comes
	var (
		mu       sync.Mutex
		gone     int
		firstErr error
	)
	for wave := range evictWaves {
		r.Phases = append(r.Phases, chart.Phase{Name: fmt.Sprintf("wave %d", wave+1), At: time.Since(start)})
		var wg sync.WaitGroup
		for i := range evictPerWave {
			wg.Go(func() {
				n, err := comeAndGo(ctx, station.StationID(wave*evictPerWave+i+1), opts)
				mu.Lock()
				defer mu.Unlock()
				r.Answered += n
				r.Failed += evictReadings - n
				firstErr = cmpOr(firstErr, err)
				gone++
				progress(gone, total)
			})
		}
		wg.Wait()
		if wave < evictWaves-1 {
			time.Sleep(evictEvery - r.Phases[len(r.Phases)-1].At%evictEvery)
		}
	}
	r.Phases = append(r.Phases, chart.Phase{Name: "all gone", At: time.Since(start)})
	time.Sleep(evictAfterLast)
	r.Wall = time.Since(start)
	r.Samples = gauges.Stop()
	r.Peak = b.Stats().Peak
	if err := stop(); firstErr == nil {
		firstErr = err
	}
	return r, firstErr
}

// comeAndGo connects a station, sends its meter values, waits for the
// answers and disconnects. It returns how many were answered.
func comeAndGo(ctx context.Context, id string, opts station.Options) (int, error) {
	st, err := station.Dial(ctx, id, opts)
	if err != nil {
		return 0, err
	}
	defer st.Close()
	n := 0
	for i := range evictReadings {
		req := station.MeterValue(i)
		if err := st.Call(ctx, ocpp.ActionMeterValues, req, nil); err != nil {
			return n, fmt.Errorf("meter value from %s: %w", id, err)
		}
		n++
	}
	return n, nil
}

func showEviction(w io.Writer, st term.Style, r *runResult) {
	runHeader(w, st, r, fmt.Sprintf("Config.IdleTimeout %s", evictIdle))
	end := r.Samples[len(r.Samples)-1]
	done := answered(st, r, "meter values")
	fmt.Fprintf(w, "%s · at the end: %d processors alive, %d goroutines (%d at the start)\n\n",
		done, end.Processors, end.Goroutines, r.Samples[0].Goroutines)
	chart.DrawGauges(w, st, &r.Run, []chart.GaugeRow{
		{Name: "processors", Gauge: func(s chart.Sample) int { return s.Processors }, Top: r.Stations, Color: "35"},
		{Name: "goroutines", Gauge: func(s chart.Sample) int { return s.Goroutines }, Color: "33"},
	})
}
