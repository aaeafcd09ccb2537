package station

import (
	"context"
	"strings"
	"testing"
	"time"
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
			r := newReport(Flood, tt.stations, time.Second, true)
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
	if newReport(LockStep, []StationReport{served}, time.Second, false).OnlyFlooderCut() {
		t.Error("OnlyFlooderCut is true outside a flood")
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
