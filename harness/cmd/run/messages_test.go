package main

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/ocppkata/kata/harness/backend"
)

func TestCheckServeFlags(t *testing.T) {
	tests := []struct {
		workers int
		scale   float64
		want    string
	}{
		{0, 1, ""},
		{100, 0, ""},
		{1, 0.1, ""},
		{1, maxScale, ""},
		{-1, 1, "-workers -1: want 0 (the step's default) or more"},
		{1, -0.5, "-scale -0.5: want a factor from 0 to 1000: 1 is the workshop's latencies, 0.1 a tenth of them, 0 none"},
		{1, math.NaN(), "-scale NaN: want a factor from 0 to 1000"},
		{1, math.Inf(1), "-scale +Inf: want a factor from 0 to 1000"},
	}
	for _, tt := range tests {
		err := checkServeFlags(tt.workers, tt.scale)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("checkServeFlags(%d, %v) = %v, want no error", tt.workers, tt.scale, err)
		case tt.want != "" && (err == nil || len(err.Error()) < len(tt.want) || err.Error()[:len(tt.want)] != tt.want):
			t.Errorf("checkServeFlags(%d, %v) = %v, want an error starting %q", tt.workers, tt.scale, err, tt.want)
		}
	}
}

// The summary of make serve tells the workers' calls from the background
// processors' work, so that a peak above the worker count makes sense.
func TestServedSummary(t *testing.T) {
	tests := []struct {
		name    string
		stats   backend.Stats
		totals  backend.Totals
		workers int
		want    string
	}{
		{
			name:    "calls only",
			stats:   backend.Stats{Done: 3, Peak: 2},
			totals:  backend.Totals{Calls: 3, Done: 3, PeakCalls: 2},
			workers: 2,
			want:    "stopped: 3 calls answered by the workers\ncalls in the backend: at most 2 at once (2 workers)\n",
		},
		{
			name:    "with background work",
			stats:   backend.Stats{Done: 5, Peak: 4},
			totals:  backend.Totals{Calls: 2, Processed: 3, Done: 5, PeakCalls: 2, PeakProcessing: 2},
			workers: 2,
			want: "stopped: 2 calls answered by the workers, 3 messages processed in the background\n" +
				"calls in the backend: at most 4 at once (2 workers + background processors; at most 2 answering, 2 in the background)\n",
		},
		{
			name:    "batches and failures",
			stats:   backend.Stats{Done: 9, Peak: 3},
			totals:  backend.Totals{Calls: 4, Processed: 2, Batches: 2, Written: 30, Failed: 1, Done: 9, PeakCalls: 2, PeakProcessing: 1},
			workers: 2,
			want: "stopped: 4 calls answered by the workers, 2 messages processed in the background, 30 meter values written in 2 batches, 1 cut short\n" +
				"calls in the backend: at most 3 at once (2 workers + background processors; at most 2 answering, 1 in the background)\n",
		},
		{
			name:   "the step's default",
			stats:  backend.Stats{Done: 1, Peak: 1},
			totals: backend.Totals{Calls: 1, Done: 1, PeakCalls: 1},
			want:   "stopped: 1 call answered by the workers\ncalls in the backend: at most 1 at once (the step's default workers)\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := servedSummary(tt.stats, tt.totals, tt.workers); got != tt.want {
				t.Errorf("servedSummary:\ngot  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestDrainedSummary(t *testing.T) {
	before := backend.Totals{Calls: 10, Processed: 5, Batches: 2, Written: 20}
	now := backend.Totals{Calls: 12, Processed: 9, Batches: 3, Written: 30}
	if got, want := drainedSummary(before, now, 1500*time.Millisecond),
		"drained in 1.5s: 2 calls answered, 4 messages processed in the background, 10 meter values written in 1 write\n"; got != want {
		t.Errorf("drained:\ngot  %q\nwant %q", got, want)
	}
	if got := drainedSummary(backend.Totals{}, now, 0); !strings.Contains(got, "12 calls answered by the workers + 9 messages processed + 30 meter values written = 51") {
		t.Errorf("in all: %q", got)
	}
}
