package chart

import (
	"fmt"
	"io"
	"runtime/metrics"
	"strings"
	"time"

	"runtime"
	"sync"

	"github.com/ocppkata/kata/harness/internal/term"
)

// Threads returns how many OS threads the process has. Go never gives threads back, so at the end of a run it
// is the most the run needed.
func Threads() (int, error) {
	// The runtime's count agrees with the kernel's (kit.Threads is tested
	// against /proc) and works on every system.
	sample := []metrics.Sample{{Name: "/sched/threads/total:threads"}}
	metrics.Read(sample)
	if sample[0].Value.Kind() != metrics.KindUint64 {
		return 0, nil // an older runtime: the demo shows no thread count
	}
	return int(sample[0].Value.Uint64()), nil
}

// sampler reads gauges at a steady pace while a run goes on, so the demo
// can draw how they moved, not only where they ended.
type sampler struct {
	start time.Time
	read  func() Sample

	mu      sync.Mutex
	samples []Sample
	quit    chan struct{}
	done    chan struct{}
}

// StartSampling reads the gauges every interval until stop.
func StartSampling(start time.Time, every time.Duration, read func() Sample) *sampler {
	s := &sampler{start: start, read: read, quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			s.take()
			select {
			case <-t.C:
			case <-s.quit:
				return
			}
		}
	}()
	return s
}

func (s *sampler) take() {
	g := s.read()
	g.At = time.Since(s.start)
	s.mu.Lock()
	s.samples = append(s.samples, g)
	s.mu.Unlock()
}

// Stop takes a last reading and returns them all.
func (s *sampler) Stop() []Sample {
	close(s.quit)
	<-s.done
	s.take()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.samples
}

// ProcessGauges reads what every demo can: OS threads and goroutines.
func ProcessGauges() Sample {
	n, _ := Threads()
	return Sample{Threads: n, Goroutines: runtime.NumGoroutine()}
}

// Peak returns the highest reading of a gauge.
func Peak(samples []Sample, gauge func(Sample) int) int {
	top := 0
	for _, s := range samples {
		top = max(top, gauge(s))
	}
	return top
}

// gaugeLane draws a gauge over the run as width cells, each the highest
// reading in its slice of time, scaled so that a full block is top. A
// reading of zero is blank, so "nothing" stands out from "a little".
func gaugeLane(samples []Sample, wall time.Duration, gauge func(Sample) int, top, width int) string {
	blocks := []rune("▁▂▃▄▅▆▇█")
	cell := wall / time.Duration(width)
	var lane strings.Builder
	last := 0
	i := 0
	for c := range width {
		to := time.Duration(c+1) * cell
		high, seen := 0, false
		for ; i < len(samples) && samples[i].At < to; i++ {
			high, seen = max(high, gauge(samples[i])), true
		}
		if !seen {
			high = last // no reading in this cell: the gauge held still
		}
		last = high
		if high <= 0 || top <= 0 {
			lane.WriteByte(' ')
			continue
		}
		level := (high*len(blocks) + top - 1) / top
		lane.WriteRune(blocks[min(max(level, 1), len(blocks))-1])
	}
	return lane.String()
}

// DrawGauges draws a few gauges of one run on a shared time axis, with
// the phases of the run marked under it.
func DrawGauges(w io.Writer, st term.Style, r *Run, rows []GaugeRow) {
	wall := max(r.Wall, time.Millisecond)
	for _, row := range rows {
		top := Peak(r.Samples, row.Gauge)
		if row.Top > 0 {
			top = row.Top
		}
		fmt.Fprintf(w, "  %-11s%s  %s\n", row.Name, st.Paint(row.Color, gaugeLane(r.Samples, wall, row.Gauge, top, TimelineWidth)),
			st.Dim(fmt.Sprintf("max %d", Peak(r.Samples, row.Gauge))))
	}
	ticks, labels := Axis(wall, TimelineWidth)
	fmt.Fprintf(w, "  %-11s%s\n  %-11s%s\n", "", st.Dim(ticks), "", st.Dim(labels))
	if len(r.Phases) > 0 {
		marks := []rune(strings.Repeat(" ", TimelineWidth+20))
		next := 0
		for _, p := range r.Phases {
			col := int(float64(p.At) / float64(wall) * float64(TimelineWidth))
			col = max(col, next)
			label := []rune("↑" + p.Name)
			if col+len(label) > len(marks) {
				break
			}
			copy(marks[col:], label)
			next = col + len(label) + 1
		}
		fmt.Fprintf(w, "  %-11s%s\n", "", st.Dim(strings.TrimRight(string(marks), " ")))
	}
}

// A GaugeRow is one gauge drawn by drawGauges.
type GaugeRow struct {
	Name  string
	Gauge func(Sample) int
	Top   int    // the reading a full block stands for; 0: the run's highest
	Color string // an ANSI SGR code
}
