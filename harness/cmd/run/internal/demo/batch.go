package demo

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/cmd/run/internal/chart"
	"github.com/ocppkata/kata/harness/cmd/run/internal/steplink"
	"github.com/ocppkata/kata/harness/internal/term"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/stations/station"
)

// Step 6's demo: many stations send meter values at a steady pace, and the
// demo counts the backend writes that persist them, and how full each was.
const (
	batchStations = 40
	batchReadings = 25
	batchEvery    = 20 * time.Millisecond // between one station's readings
	batchTop      = 100                   // the Batcher's default Size: a full block in the size lane
)

// A batchWrite is one WriteBatch the backend did, as offsets from the run's start.
type batchWrite struct {
	At, Took time.Duration
	Size     int
}

func batchScenario() scenario {
	lat := backend.WorkshopLatencies().Scaled(demoScale)
	intro := fmt.Sprintf(`%d stations each send %d meter values, one every %s, each waiting for its answer:
%d meter values. The server answers each at once and persists it through its Batcher,
which calls the backend's WriteBatch. Latencies are scaled ×%g: a write takes %s plus
%s a value here (%s plus %s in the lesson).
Below, for each run: the writes started in each slice of time, and the largest batch among them.`,
		batchStations, batchReadings, batchEvery, batchStations*batchReadings, demoScale,
		lat.Batch, lat.BatchItem, backend.WorkshopLatencies().Batch, backend.WorkshopLatencies().BatchItem)
	return scenario{
		intro: intro,
		unit:  "meter values answered",
		run: func(ctx context.Context, v string, newServer func(steplink.Config) steplink.Server, _ []string, workers int, progress func(done, total int)) (*runResult, error) {
			return runBatch(ctx, v, newServer, workers, lat, progress)
		},
		show: showBatch,
		compare: func(w io.Writer, st term.Style, runs []*runResult) {
			fmt.Fprintln(w)
			var parts []string
			for _, r := range runs {
				parts = append(parts, fmt.Sprintf("%s: %d writes for %d meter values, database busy %.1fs",
					r.Variant, len(r.Writes), r.Planned, busy(r.Writes).Seconds()))
			}
			line := strings.Join(parts, "  →  ")
			if len(runs) == 2 && len(runs[1].Writes) > 0 {
				line += fmt.Sprintf("  (%.0f× fewer writes)", float64(len(runs[0].Writes))/float64(len(runs[1].Writes)))
			}
			fmt.Fprintln(w, st.Bold(line))
		},
	}
}

func runBatch(ctx context.Context, v string, newServer func(steplink.Config) steplink.Server, workers int, lat backend.Latencies, progress func(done, total int)) (*runResult, error) {
	b := backend.New(backend.Options{Latencies: lat})
	opts, stop, err := onLoopback(newServer(steplink.Config{Backend: b, Workers: workers}))
	if err != nil {
		return nil, err
	}
	r := &runResult{Run: chart.Run{Variant: v, Stations: batchStations}, Workers: workers, Planned: batchStations * batchReadings}
	stations, err := connectAll(ctx, opts, batchStations, func(int) {})
	defer closeAll(stations)
	if err != nil {
		stop()
		return nil, err
	}
	boot := ocpp.BootNotificationRequest{ChargePointVendor: "Kata", ChargePointModel: "Demo"}
	for _, st := range stations {
		if err := st.Call(ctx, ocpp.ActionBootNotification, boot, nil); err != nil {
			stop()
			return nil, fmt.Errorf("BootNotification from %s: %w", st.ID(), err)
		}
	}

	start := time.Now()
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	for k, st := range stations {
		wg.Go(func() {
			// Stations start a little apart, as they would in the field.
			time.Sleep(time.Duration(k) * batchEvery / batchStations)
			for i := range batchReadings {
				err := st.Call(ctx, ocpp.ActionMeterValues, station.MeterValue(i), nil)
				mu.Lock()
				if err != nil {
					r.Failed++
					firstErr = cmpOr(firstErr, fmt.Errorf("meter value from %s: %w", st.ID(), err))
				} else {
					r.Answered++
				}
				progress(r.Answered+r.Failed, r.Planned)
				mu.Unlock()
				if err != nil {
					return
				}
				time.Sleep(batchEvery)
			}
		})
	}
	wg.Wait()
	r.Phases = append(r.Phases, chart.Phase{Name: "last answer", At: time.Since(start)})
	// Wait for the last values to be written: the Batcher's Interval, then the write.
	for deadline := time.Now().Add(5 * time.Second); written(b) < r.Answered && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	r.Wall = time.Since(start)
	for _, rec := range b.Batches() {
		r.Writes = append(r.Writes, batchWrite{At: rec.Start.Sub(start), Took: rec.End.Sub(rec.Start), Size: len(rec.Items)})
	}
	r.Peak = b.Stats().Peak
	if err := stop(); firstErr == nil {
		firstErr = err
	}
	return r, firstErr
}

// written returns how many items the backend's batch writes have written.
func written(b *backend.Backend) int {
	n := 0
	for _, rec := range b.Batches() {
		n += len(rec.Items)
	}
	return n
}

// busy returns how long the writes kept the database busy, added up.
func busy(writes []batchWrite) time.Duration {
	var d time.Duration
	for _, w := range writes {
		d += w.Took
	}
	return d
}

func showBatch(w io.Writer, st term.Style, r *runResult) {
	runHeader(w, st, r, fmt.Sprintf("%d stations × %d meter values", r.Stations, batchReadings))
	sizes := make([]int, len(r.Writes))
	values := 0
	for i, wr := range r.Writes {
		sizes[i] = wr.Size
		values += wr.Size
	}
	fmt.Fprintf(w, "%s · %d backend writes of %s · %d values written · database busy %.1fs\n\n",
		answered(st, r, "meter values"), len(r.Writes), sizeRange(sizes), values, busy(r.Writes).Seconds())
	wall := max(r.Wall, time.Millisecond)
	cell := wall / chart.TimelineWidth
	lane := func(value func(in []batchWrite) int, top int, color string) string {
		blocks := []rune("▁▂▃▄▅▆▇█")
		var sb strings.Builder
		i := 0
		for c := range chart.TimelineWidth {
			to := time.Duration(c+1) * cell
			j := i
			for j < len(r.Writes) && r.Writes[j].At < to {
				j++
			}
			v := value(r.Writes[i:j])
			i = j
			if v <= 0 {
				sb.WriteByte(' ')
				continue
			}
			level := min((v*len(blocks)+top-1)/top, len(blocks))
			sb.WriteRune(blocks[max(level, 1)-1])
		}
		return st.Paint(color, sb.String())
	}
	count := func(in []batchWrite) int { return len(in) }
	largest := func(in []batchWrite) int {
		m := 0
		for _, wr := range in {
			m = max(m, wr.Size)
		}
		return m
	}
	most := 0
	for i := 0; i < len(r.Writes); {
		j := i
		for j < len(r.Writes) && r.Writes[j].At < r.Writes[i].At+cell {
			j++
		}
		most = max(most, j-i)
		i = j
	}
	fmt.Fprintf(w, "  %-11s%s  %s\n", "writes", lane(count, max(most, 1), "36"), st.Dim(fmt.Sprintf("up to %d in %v", most, cell.Round(time.Millisecond))))
	fmt.Fprintf(w, "  %-11s%s  %s\n", "batch size", lane(largest, batchTop, "32"), st.Dim(fmt.Sprintf("full block: %d", batchTop)))
	ticks, labels := chart.Axis(wall, chart.TimelineWidth)
	fmt.Fprintf(w, "  %-11s%s\n  %-11s%s\n", "", st.Dim(ticks), "", st.Dim(labels))
}

// sizeRange describes batch sizes: "1 value each", or "3 to 100 values (mean 71.4)".
func sizeRange(sizes []int) string {
	if len(sizes) == 0 {
		return "no values"
	}
	lo, hi, total := sizes[0], sizes[0], 0
	for _, n := range sizes {
		lo, hi, total = min(lo, n), max(hi, n), total+n
	}
	if lo == hi {
		if lo == 1 {
			return "1 value each"
		}
		return fmt.Sprintf("%d values each", lo)
	}
	return fmt.Sprintf("%d to %d values (mean %.1f)", lo, hi, float64(total)/float64(len(sizes)))
}
