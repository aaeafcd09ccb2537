package chart

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLaneNames(t *testing.T) {
	work := []Span{{Worker: "worker-10"}, {Worker: "worker-2"}, {Worker: "worker-1"}, {Worker: "worker-2"}, {}}
	want := []string{"(unnamed)", "worker-1", "worker-2", "worker-10"}
	if got := LaneNames(work); !slices.Equal(got, want) {
		t.Errorf("laneNames = %q, want %q", got, want)
	}
}

func TestWorkerCell(t *testing.T) {
	ms := time.Millisecond
	work := []Span{
		{Worker: "w", Station: "CS0003", Start: 0, End: 4 * ms},
		{Worker: "w", Station: "CS0010", Start: 4 * ms, End: 10 * ms},
		{Worker: "other", Station: "CS0001", Start: 10 * ms, End: 20 * ms},
	}
	tests := []struct {
		from, to time.Duration
		want     byte
	}{
		{0, 4 * ms, '3'},        // only CS0003
		{0, 10 * ms, '0'},       // CS0010 took most of it
		{1 * ms, 6 * ms, '3'},   // 3ms of CS0003, 2ms of CS0010
		{3 * ms, 5 * ms, '3'},   // a tie keeps the first
		{10 * ms, 20 * ms, '.'}, // another worker's call: idle
		{8 * ms, 20 * ms, '.'},  // busy a sixth of the cell
		{0, 30 * ms, '0'},       // busy a third of it
		{0, 40 * ms, '.'},       // busy a quarter of it
	}
	for _, tt := range tests {
		if got := workerCell(work, "w", tt.from, tt.to).char; got != tt.want {
			t.Errorf("cell [%v, %v) = %q, want %q", tt.from, tt.to, got, tt.want)
		}
	}
}

func TestQueueLane(t *testing.T) {
	s := time.Second
	r := &Run{
		Stations: 2,
		Wall:     4 * s,
		Work:     []Span{{Station: "CS0001", Call: "1", Start: 2 * s, End: 3 * s}},
		Sent: []Sending{
			{Station: "CS0001", Call: "1", At: 0}, // waits 2s
			{Station: "CS0002", Call: "1", At: s}, // never taken: waits to the end
		},
	}
	// Per second: 1 waiting, 2, 1, 1; a full block is 2.
	got := []rune(queueLane(r, s, 4))
	want := []rune("▄█▄▄")
	if !slices.Equal(got, want) {
		t.Errorf("queue lane %q, want %q", string(got), string(want))
	}
}

func TestAxis(t *testing.T) {
	ticks, labels := Axis(20*time.Second, 72)
	if n := strings.Count(ticks, "┬"); n < 3 || n > 9 {
		t.Errorf("%d ticks on a 20s axis, want 3 to 9: %s", n, ticks)
	}
	if !strings.HasPrefix(labels, "0s ") || !strings.Contains(labels, "5s") {
		t.Errorf("labels %q, want 0s, 5s, …", labels)
	}
	if _, labels := Axis(1900*time.Millisecond, 72); !strings.Contains(labels, "0.5s") {
		t.Errorf("labels of a 1.9s axis %q, want 0.5s among them", labels)
	}
}
