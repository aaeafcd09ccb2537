// Package chart records what a demo run did over time (the backend's work,
// the calls the stations sent, gauges sampled as it ran) and draws it in a
// terminal: a lane per worker, a queue sparkline, gauge lanes and bars.
package chart

import (
	"time"
)

// A Sample is what the gauges read at one moment of a run.
type Sample struct {
	At                            time.Duration
	Threads, Goroutines, InFlight int
	Processors                    int // step 4's live processors
	Backlog, HeapMiB, AckMs       int // step 5's flooder backlog, heap, slowest acknowledgement
	StackMiB, RSSMiB              int // step 11's goroutine stacks and resident memory (HeapMiB too)
}

// A Phase is when the stations began doing something else.
type Phase struct {
	Name string
	At   time.Duration
}

// A Span is one call the backend worked on, as offsets from the run's start.
type Span struct {
	Worker, Station, Call string
	Start, End            time.Duration
}

// A Sending is one call a station sent, as an offset from the run's start.
type Sending struct {
	Station, Call string
	At            time.Duration
}
