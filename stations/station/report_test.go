package station

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestFloodSummary(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	answered := func(n int, d time.Duration) []CallRecord {
		calls := make([]CallRecord, n)
		for i := range calls {
			calls[i] = CallRecord{Sent: t0, Received: t0.Add(d)}
		}
		return calls
	}
	flooder := StationReport{ID: "CS0001", Connected: true,
		Calls: append(answered(3, time.Millisecond), CallRecord{Sent: t0, Err: context.Canceled})}
	served := StationReport{ID: "CS0002", Connected: true, Calls: answered(SessionCalls, 2*time.Millisecond)}
	stuck := StationReport{ID: "CS0003", Connected: true, Calls: answered(2, 2*time.Millisecond), Err: context.Canceled}

	tests := []struct {
		name        string
		stations    []StationReport
		want        []string
		onlyFlooder bool
	}{
		{"others served", []StationReport{flooder, served},
			[]string{"flooding station CS0001: 4 calls sent, 3 answered", "the other 1 station: 1 of 1 sessions done"}, true},
		{"another cut", []StationReport{flooder, served, stuck},
			[]string{"the other 2 stations: 1 of 2 sessions done"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newReport(FleetOptions{Mode: Flood}, tt.stations, time.Second, true)
			sum := r.Summary()
			for _, w := range tt.want {
				if !strings.Contains(sum, w) {
					t.Errorf("summary lacks %q:\n%s", w, sum)
				}
			}
			if got := r.OnlyFlooderCut(); got != tt.onlyFlooder {
				t.Errorf("OnlyFlooderCut = %v, want %v", got, tt.onlyFlooder)
			}
		})
	}
	if newReport(FleetOptions{Mode: LockStep}, []StationReport{served}, time.Second, false).OnlyFlooderCut() {
		t.Error("OnlyFlooderCut is true outside a flood")
	}
}
func TestDeafSummary(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	answered := func(n int, d time.Duration) []CallRecord {
		calls := make([]CallRecord, n)
		for i := range calls {
			calls[i] = CallRecord{Sent: t0, Received: t0.Add(d)}
		}
		return calls
	}
	deaf := StationReport{ID: "CS0001", Connected: true, Deaf: &DeafReport{Frames: 812, Connections: 3, ServerClosed: 2}}
	deafCut := deaf
	deafCut.Err = context.DeadlineExceeded
	unconnected := StationReport{ID: "CS0001", Err: errors.New("connection refused")}
	served := StationReport{ID: "CS0002", Connected: true, Calls: answered(SessionCalls, 2*time.Millisecond)}
	stuck := StationReport{ID: "CS0003", Connected: true,
		Calls: append(answered(1, 4*time.Millisecond), CallRecord{Sent: t0, Err: context.Canceled}), Err: context.Canceled}

	tests := []struct {
		name     string
		stations []StationReport
		ended    bool
		want     []string
		onlyDeaf bool // OnlyFlooderCut: none of the others was cut short or failed
	}{
		{"others served", []StationReport{deaf, served}, false, []string{
			"14 calls: 14 answered, 0 failed\nlatency: p50 2ms, p99 2ms, max 2ms\n",
			"deaf station CS0001: 812 frames sent (unknown actions of 16000 characters, nothing read) over 3 connections, 2 closed by the server\n",
			"the other 1 station: 1 of 1 sessions done, 14 calls: 14 answered, 0 failed, latency p50 2ms, p99 2ms, max 2ms\n",
		}, true},
		{"another cut", []StationReport{deaf, served, stuck}, true, []string{
			"the other 2 stations: 1 of 2 sessions done, 16 calls: 15 answered, 0 failed, 1 cut off, latency p50 2ms, p99 4ms, max 4ms\n",
		}, false},
		{"only the deaf one cut", []StationReport{deafCut, served}, true, []string{
			"the other 1 station: 1 of 1 sessions done, 14 calls",
		}, true},
		{"never connected", []StationReport{unconnected, served}, false, []string{
			"deaf station CS0001: never connected\n", "1 station failed:\n  CS0001: connection refused\n",
		}, true},
		{"alone", []StationReport{deaf}, false, []string{
			"0 calls: 0 answered, 0 failed\n", "over 3 connections, 2 closed by the server\n",
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newReport(FleetOptions{Mode: Deaf}, tt.stations, time.Second, tt.ended)
			sum := r.Summary()
			for _, w := range tt.want {
				if !strings.Contains(sum, w) {
					t.Errorf("summary lacks %q:\n%s", w, sum)
				}
			}
			if strings.Contains(sum, "flooding") {
				t.Errorf("a deaf run's summary speaks of flooding:\n%s", sum)
			}
			if got := r.OnlyFlooderCut(); got != tt.onlyDeaf {
				t.Errorf("OnlyFlooderCut = %v, want %v", got, tt.onlyDeaf)
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		var out []time.Duration
		for _, n := range ns {
			out = append(out, time.Duration(n)*time.Millisecond)
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	for _, tc := range []struct {
		name   string
		sorted []time.Duration
		p      int
		want   time.Duration
	}{
		{"none", nil, 50, 0},
		{"one", ms(7), 99, 7 * time.Millisecond},
		{"p50 of 1..100", ms(hundred...), 50, 50 * time.Millisecond},
		{"p99 of 1..100", ms(hundred...), 99, 99 * time.Millisecond},
		{"p100 is the max", ms(1, 2, 3), 100, 3 * time.Millisecond},
		{"p50 of four is the second", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Percentile(tc.sorted, tc.p); got != tc.want {
				t.Errorf("percentile(p%d) = %v, want %v", tc.p, got, tc.want)
			}
		})
	}
}

func TestServerGoingAwayIsNoFailure(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	goingAway := fmt.Errorf("station CS0001: server closed the connection: %w",
		&websocket.CloseError{Code: websocket.CloseGoingAway, Text: "server shutting down"})
	policy := fmt.Errorf("station CS0002: server closed the connection: %w",
		&websocket.CloseError{Code: websocket.ClosePolicyViolation, Text: "replaced"})
	r := newReport(FleetOptions{Mode: Idle}, []StationReport{
		{ID: "CS0001", Connected: true, Err: goingAway,
			Calls: []CallRecord{{Sent: t0, Received: t0.Add(time.Millisecond)}, {Sent: t0, Err: goingAway}}},
		{ID: "CS0002", Connected: true, Err: policy},
	}, time.Second, false)

	failed := r.Failures()
	if len(failed) != 1 || failed[0].ID != "CS0002" {
		t.Errorf("failures: %v, want only CS0002 (a close 1001 is the server saying goodbye)", failed)
	}
	if r.Failed != 0 || r.Left != 1 {
		t.Errorf("calls: %d failed, %d left, want 0 and 1", r.Failed, r.Left)
	}
	summary := r.Summary()
	for _, want := range []string{"1 unanswered when the server went away", "1 station closed by the server with 1001", "1 station failed", "CS0002"} {
		if !strings.Contains(summary, want) {
			t.Errorf("the summary lacks %q:\n%s", want, summary)
		}
	}
}
