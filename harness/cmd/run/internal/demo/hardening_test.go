package demo

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/cmd/run/internal/chart"
	"github.com/ocppkata/kata/harness/internal/term"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/stations/edgecheck/edge"
	"github.com/ocppkata/kata/stations/station"
)

// edgeResult returns a run of step 9's demo whose cases passed as ok says,
// in order, and whose neighbours had answered and failed calls.
func edgeResult(variant string, ok []bool, answered, failed int) *runResult {
	e := &edgeRun{Keys: true, Timeout: edgeTimeout, Took: 1500 * time.Millisecond, Sessions: answered / station.SessionCalls}
	for i, pass := range ok {
		c := edgeCase{Name: "case " + string(rune('A'+i)), Got: "got " + string(rune('A'+i)), Want: "want " + string(rune('A'+i)), OK: pass}
		e.Cases = append(e.Cases, c)
	}
	return &runResult{Run: chart.Run{Variant: variant, Stations: edgeNeighbours}, Answered: answered, Failed: failed, Planned: answered + failed, Edge: e}
}

func TestShowHardening(t *testing.T) {
	var out strings.Builder
	showHardening(&out, term.Style{}, edgeResult("your code", []bool{false, true, false, true}, 280, 0))
	got := out.String()
	checkText(t, "the run's picture", got, []string{
		"✗ case A  got A   want: want A",
		"✗ case C  got C   want: want C",
		"✓ 2 as OCPP-J expects: case B · case D",
		"2 of 4 edge checks as OCPP-J expects · in 1.5s",
		"neighbours meanwhile: 280/280 calls answered · 20 sessions completed",
		"500ms per answer · as station " + edgeStation + " with its key",
	}, []string{"✗ case B", "want: want B", "\x1b["})

	out.Reset()
	r := edgeResult("solution", []bool{true, true}, 140, 3)
	r.Edge.Keys = false
	showHardening(&out, term.Style{}, r)
	got = out.String()
	for _, want := range []string{"✓ all 2 as OCPP-J expects: case A · case B", "140/143 calls answered, 3 failed", "no keys"} {
		if !strings.Contains(got, want) {
			t.Errorf("the run's picture lacks %q:\n%s", want, got)
		}
	}

	out.Reset()
	r = edgeResult("your code", nil, 140, 0)
	r.Edge.Err = "cannot reach ws://127.0.0.1:1/ocpp"
	showHardening(&out, term.Style{}, r)
	if got = out.String(); !strings.Contains(got, "the check could not start: cannot reach") {
		t.Errorf("the run's picture does not say why the check did not start:\n%s", got)
	}
}

func TestHardeningSummary(t *testing.T) {
	starter := []bool{false, true, false, true, false}
	solution := []bool{true, true, true, true, true}
	unreachable := edgeResult("your code", nil, 0, 0)
	unreachable.Edge.Err = "401"
	tests := []struct {
		name string
		runs []*runResult
		want string
	}{
		{"the lesson's gap", []*runResult{edgeResult("your code", starter, 5880, 0), edgeResult("solution", solution, 1120, 0)},
			"your code: 2 of 5 edge checks; solution: 5 of 5; neighbours: all calls answered in both (5880 and 1120)"},
		{"neighbours harmed", []*runResult{edgeResult("your code", starter, 100, 12), edgeResult("solution", solution, 1120, 0)},
			"your code: 2 of 5 edge checks; solution: 5 of 5; neighbours: your code 12 of 112 calls failed, solution all 1120 answered"},
		{"check could not connect", []*runResult{unreachable, edgeResult("solution", solution, 1120, 0)},
			"your code: the edge check could not connect; solution: 5 of 5; neighbours: your code made no calls, solution all 1120 answered"},
		{"one run", []*runResult{edgeResult("solution", solution, 1120, 0)},
			"solution: 5 of 5 edge checks; neighbours: all 1120 calls answered"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := hardeningSummary(tt.runs); got != tt.want {
				t.Errorf("hardeningSummary =\n  %q\nwant\n  %q", got, tt.want)
			}
		})
	}
}

func TestPassedLineWraps(t *testing.T) {
	var names []string
	for _, c := range edge.Cases() {
		names = append(names, c.Name)
	}
	got := passedLine(names, true)
	lines := strings.Split(got, "\n")
	if len(lines) < 2 {
		t.Fatalf("%d case names on one line of %d runes, want them wrapped at %d:\n%s", len(names), utf8.RuneCountInString(got), edgeWidth, got)
	}
	for i, line := range lines {
		if i > 0 && !strings.HasPrefix(line, "    ") {
			t.Errorf("line %d is not indented under the first: %q", i+1, line)
		}
		if n := utf8.RuneCountInString(strings.TrimPrefix(line, "    ")); n > edgeWidth {
			t.Errorf("line %d has %d runes, over %d: %q", i+1, n, edgeWidth, line)
		}
		if i < len(lines)-1 && !strings.HasSuffix(line, " ·") {
			t.Errorf("line %d does not end in \" ·\", though the list goes on: %q", i+1, line)
		}
	}
	for _, name := range names {
		if !strings.Contains(got, name) {
			t.Errorf("the list lacks %q:\n%s", name, got)
		}
	}
}

func TestHardeningKeys(t *testing.T) {
	keys := hardeningKeys()
	if len(keys) != edgeNeighbours+1 {
		t.Errorf("%d keys, want one per neighbour (%d) and the check's", len(keys), edgeNeighbours)
	}
	if keys[edgeStation] == "" {
		t.Errorf("no key for the check's station %s", edgeStation)
	}
	seen := make(map[string]bool)
	for id, key := range keys {
		if key == "" || seen[key] {
			t.Errorf("station %s: key %q is empty or another station's", id, key)
		}
		seen[key] = true
	}
}

func TestEdgeAnswerTimeout(t *testing.T) {
	lat := backend.Latencies{
		Before: 10 * time.Millisecond,
		After:  5 * time.Millisecond,
		Other:  20 * time.Millisecond,
		Action: map[string]time.Duration{ocpp.ActionStartTransaction: 35 * time.Millisecond}, // the slowest: 50ms in all
	}
	tests := []struct {
		workers int
		want    time.Duration
	}{
		{10, edgeTimeout},             // 2 rounds of 50ms, twice: 200ms, under the floor
		{4, edgeTimeout},              // 5 rounds: 500ms
		{2, time.Second},              // 10 rounds: 1s
		{1, 2 * time.Second},          // 20 rounds: 2s
		{0, 2 * time.Second},          // as one worker
		{edgeNeighbours, edgeTimeout}, // 1 round
	}
	for _, tt := range tests {
		if got := edgeAnswerTimeout(lat, tt.workers); got != tt.want {
			t.Errorf("edgeAnswerTimeout(%d workers) = %v, want %v", tt.workers, got, tt.want)
		}
	}
	if got := edgeAnswerTimeout(backend.WorkshopLatencies().Scaled(edgeScale), 10); got != edgeTimeout {
		t.Errorf("the demo's default (10 workers) waits %v per answer, want %v", got, edgeTimeout)
	}
}
