package main

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ocppkata/kata/harness/backend"
)

func TestSpeedup(t *testing.T) {
	s := time.Second
	tests := []struct {
		name              string
		starter, solution time.Duration
		same              bool
		want              string
	}{
		{"solution much faster", 19 * s, 1900 * time.Millisecond, false, "10.0× faster"},
		{"solution slower", 2 * s, 3 * s, false, "1.5× slower"},
		{"noise", 1950 * time.Millisecond, 1900 * time.Millisecond, false, "about the same: the difference is measurement noise"},
		{"noise the other way", 1900 * time.Millisecond, 2300 * time.Millisecond, false, "about the same: the difference is measurement noise"},
		{"just beyond noise", 2 * s, 2500 * time.Millisecond, false, "1.2× slower"},
		{"the solution itself", 1900 * time.Millisecond, 1950 * time.Millisecond, true, "about the same, as expected: your code is the solution's"},
		{"the solution, but a slow run", 4 * s, 2 * s, true, "2.0× faster, though your code is the solution's: the machine was busy, try again"},
		{"no time at all", 0, 0, false, "about the same: the difference is measurement noise"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := speedup(tt.starter, tt.solution, tt.same); got != tt.want {
				t.Errorf("speedup(%v, %v, %v) = %q, want %q", tt.starter, tt.solution, tt.same, got, tt.want)
			}
		})
	}
}

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

func TestStarterIsSolution(t *testing.T) {
	const code = "package x\n"
	tests := []struct {
		name     string
		exercise map[string]string
		solution map[string]string
		wantSame bool
	}{
		{"the same", map[string]string{"a.go": code, "b.go": code}, map[string]string{"a.go": code, "b.go": code}, true},
		{"tests aside", map[string]string{"a.go": code, "a_test.go": "package x // test\n"}, map[string]string{"a.go": code}, true},
		{"edited", map[string]string{"a.go": code + "// mine\n"}, map[string]string{"a.go": code}, false},
		{"a file more", map[string]string{"a.go": code, "b.go": code}, map[string]string{"a.go": code}, false},
		{"a file less", map[string]string{"a.go": code}, map[string]string{"a.go": code, "b.go": code}, false},
		{"no code", map[string]string{}, map[string]string{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			write := func(dir string, files map[string]string) {
				path := filepath.Join(root, dir, "01-x")
				if err := os.MkdirAll(path, 0o755); err != nil {
					t.Fatal(err)
				}
				for name, text := range files {
					if err := os.WriteFile(filepath.Join(path, name), []byte(text), 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			write("exercises", tt.exercise)
			write("solutions", tt.solution)
			t.Chdir(root)
			saved := linked
			linked = &link{Step: 1, Name: "01-x"}
			t.Cleanup(func() { linked = saved })
			if got := starterIsSolution(); got != tt.wantSame {
				t.Errorf("starterIsSolution() = %v, want %v", got, tt.wantSame)
			}
		})
	}
}
