package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"time"

	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/cmd/run/internal/chart"
	"github.com/ocppkata/kata/harness/cmd/run/internal/steplink"
	"github.com/ocppkata/kata/harness/internal/term"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/stations/station"
)

// Step 5's demo: one station floods the server with meter values while
// others run charging sessions, and the demo watches the flooder's backlog,
// the heap, and how long the others wait for their acknowledgements.
const (
	floodFor    = 5 * time.Second
	floodNormal = 20
	floodQueue  = 16 // Config.QueueLimit
	floodEvery  = 100 * time.Millisecond
	// ackTop is the acknowledgement time, in milliseconds, that a full
	// block stands for in both runs, so that their lanes compare.
	ackTop = 50
)

func floodScenario() scenario {
	lat := backend.WorkshopLatencies().Scaled(demoScale)
	intro := fmt.Sprintf(`For %s, station CS0001 sends meter values as fast as the server reads them, while %d
other stations run charging sessions over and over. Each meter value is acknowledged at once
and analysed in the background (%s each here: latencies scaled ×%g). Config.QueueLimit is
%d. Every %s the demo reads how many of CS0001's meter values were acknowledged and not yet
analysed (its backlog), the process's heap, and the slowest acknowledgement the other
stations got for their status notifications and meter values.`,
		floodFor, floodNormal, lat.For(ocpp.ActionMeterValues), demoScale, floodQueue, floodEvery)
	return scenario{
		intro: intro,
		unit:  "seconds of flood",
		run: func(ctx context.Context, v string, newServer func(steplink.Config) steplink.Server, _ []string, workers int, progress func(done, total int)) (*runResult, error) {
			return runFlood(ctx, v, newServer, workers, lat, progress)
		},
		show: showFlood,
		compare: func(w io.Writer, st term.Style, runs []*runResult) {
			fmt.Fprintln(w)
			var line string
			for i, r := range runs {
				if i > 0 {
					line += "  →  "
				}
				line += fmt.Sprintf("%s: backlog up to %d, heap up to %d MiB, others acknowledged within %d ms",
					r.Variant, chart.Peak(r.Samples, backlog), chart.Peak(r.Samples, heapMiB), chart.Peak(r.Samples, ackMs))
			}
			fmt.Fprintln(w, st.Bold(line))
		},
	}
}

// The gauges of the flood demo.
func backlog(s chart.Sample) int { return s.Backlog }

func heapMiB(s chart.Sample) int { return s.HeapMiB }

func ackMs(s chart.Sample) int { return s.AckMs }

func runFlood(ctx context.Context, v string, newServer func(steplink.Config) steplink.Server, workers int, lat backend.Latencies, progress func(done, total int)) (*runResult, error) {
	b := backend.New(backend.Options{Latencies: lat})
	opts, stop, err := onLoopback(newServer(steplink.Config{Backend: b, Workers: workers, QueueLimit: floodQueue}))
	if err != nil {
		return nil, err
	}
	r := &runResult{Run: chart.Run{Variant: v, Stations: floodNormal + 1}, Workers: workers}
	flooder := station.StationID(1)
	fl, err := station.Dial(ctx, flooder, opts)
	if err != nil {
		return nil, errors.Join(err, stop())
	}

	start := time.Now()
	acks := &ackWatch{}
	gauges := chart.StartSampling(start, floodEvery, func() chart.Sample {
		s := chart.ProcessGauges()
		s.Backlog = fl.Stats().Answered - len(b.StationRecords(flooder, backend.KindProcess))
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		s.HeapMiB = int(m.HeapAlloc >> 20)
		s.AckMs = int(acks.take().Milliseconds())
		progress(int(min(time.Since(start), floodFor)/time.Second), int(floodFor/time.Second))
		return s
	})

	floodCtx, endFlood := context.WithTimeout(ctx, floodFor)
	defer endFlood()
	var wg sync.WaitGroup
	wg.Go(func() {
		// Send without waiting for answers; the station counts them.
		for i := 0; floodCtx.Err() == nil; i++ {
			if _, err := fl.Send(floodCtx, ocpp.ActionMeterValues, station.MeterValue(i)); err != nil {
				return
			}
		}
	})
	// A write stuck on a server that stopped reading ends only when the
	// station closes.
	stopFlooder := context.AfterFunc(floodCtx, func() { fl.Close() })
	defer stopFlooder()

	var mu sync.Mutex
	var firstErr error
	for i := range floodNormal {
		wg.Go(func() {
			st, err := station.Dial(ctx, station.StationID(i+2), opts)
			if err != nil {
				mu.Lock()
				firstErr = cmpOr(firstErr, err)
				mu.Unlock()
				return
			}
			defer st.Close()
			for floodCtx.Err() == nil {
				calls, err := st.Session(floodCtx)
				mu.Lock()
				for _, c := range calls {
					if c.Err == nil {
						r.Answered++
						if c.Action == ocpp.ActionMeterValues || c.Action == ocpp.ActionStatusNotification {
							acks.add(c.Latency())
						}
					} else if floodCtx.Err() == nil {
						r.Failed++
					}
				}
				if floodCtx.Err() == nil {
					firstErr = cmpOr(firstErr, err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	r.Wall = time.Since(start)
	r.Samples = gauges.Stop()
	r.Planned = r.Answered + r.Failed
	r.Peak = b.Stats().Peak
	r.Phases = []chart.Phase{{Name: "flood ends", At: floodFor}}
	return r, cmpOr(firstErr, stop())
}

// ackWatch keeps the slowest acknowledgement since it was last read.
type ackWatch struct {
	mu      sync.Mutex
	slowest time.Duration
}

func (a *ackWatch) add(d time.Duration) {
	a.mu.Lock()
	a.slowest = max(a.slowest, d)
	a.mu.Unlock()
}

func (a *ackWatch) take() time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	d := a.slowest
	a.slowest = 0
	return d
}

func showFlood(w io.Writer, st term.Style, r *runResult) {
	runHeader(w, st, r, fmt.Sprintf("Config.QueueLimit %d", floodQueue))
	fmt.Fprintf(w, "%s · CS0001's backlog up to %d meter values · heap up to %d MiB\n\n",
		answered(st, r, "of the other stations' calls"), chart.Peak(r.Samples, backlog), chart.Peak(r.Samples, heapMiB))
	chart.DrawGauges(w, st, &r.Run, []chart.GaugeRow{
		{Name: "backlog", Gauge: backlog, Color: "35"},
		{Name: "heap MiB", Gauge: heapMiB, Color: "33"},
		{Name: "ack (ms)", Gauge: ackMs, Top: ackTop, Color: "36"},
	})
}
