package main

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"time"
)

// sampler reads gauges at a steady pace while a run goes on, so the demo
// can draw how they moved, not only where they ended.
type sampler struct {
	start time.Time
	read  func() sample

	mu      sync.Mutex
	samples []sample
	quit    chan struct{}
	done    chan struct{}
}

// startSampling reads the gauges every interval until stop.
func startSampling(start time.Time, every time.Duration, read func() sample) *sampler {
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

// stop takes a last reading and returns them all.
func (s *sampler) stop() []sample {
	close(s.quit)
	<-s.done
	s.take()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.samples
}

// processGauges reads what every demo can: OS threads and goroutines.
func processGauges() sample {
	n, _ := threads()
	return sample{Threads: n, Goroutines: runtime.NumGoroutine()}
}

// peak returns the highest reading of a gauge.
func peak(samples []sample, gauge func(sample) int) int {
	top := 0
	for _, s := range samples {
		top = max(top, gauge(s))
	}
	return top
}

// gaugeLane draws a gauge over the run as width cells, each the highest
// reading in its slice of time, scaled so that a full block is top. A
// reading of zero is blank, so "nothing" stands out from "a little".
func gaugeLane(samples []sample, wall time.Duration, gauge func(sample) int, top, width int) string {
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

// drawGauges draws a few gauges of one run on a shared time axis, with
// the phases of the run marked under it.
func drawGauges(w io.Writer, st style, r *runResult, rows []gaugeRow) {
	wall := max(r.Wall, time.Millisecond)
	for _, row := range rows {
		top := peak(r.Samples, row.gauge)
		if row.top > 0 {
			top = row.top
		}
		fmt.Fprintf(w, "  %-11s%s  %s\n", row.name, st.paint(row.color, gaugeLane(r.Samples, wall, row.gauge, top, timelineWidth)),
			st.dim(fmt.Sprintf("max %d", peak(r.Samples, row.gauge))))
	}
	ticks, labels := axis(wall, timelineWidth)
	fmt.Fprintf(w, "  %-11s%s\n  %-11s%s\n", "", st.dim(ticks), "", st.dim(labels))
	if len(r.Phases) > 0 {
		marks := []rune(strings.Repeat(" ", timelineWidth+20))
		next := 0
		for _, p := range r.Phases {
			col := int(float64(p.At) / float64(wall) * float64(timelineWidth))
			col = max(col, next)
			label := []rune("↑" + p.Name)
			if col+len(label) > len(marks) {
				break
			}
			copy(marks[col:], label)
			next = col + len(label) + 1
		}
		fmt.Fprintf(w, "  %-11s%s\n", "", st.dim(strings.TrimRight(string(marks), " ")))
	}
}

// A gaugeRow is one gauge drawn by drawGauges.
type gaugeRow struct {
	name  string
	gauge func(sample) int
	top   int    // the reading a full block stands for; 0: the run's highest
	color string // an ANSI SGR code
}
