package gcroom

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	const MiB = 1 << 20
	tests := []struct {
		name           string
		percent        int
		floor, scanned uint64
		want           int
	}{
		{"10,000 idle stations: the share is more than the floor", 50, 8 * MiB, 80 * MiB, 50},
		{"the share is the floor exactly", 50, 8 * MiB, 16 * MiB, 50},
		{"a small heap under load: the floor", 50, 8 * MiB, 4 * MiB, 201},
		{"a heap nearly empty: bounded", 50, 8 * MiB, 1024, maxPercent},
		{"nothing scanned yet", 50, 8 * MiB, 0, 50},
		{"no floor", 50, 0, 1024, 50},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Percent(tt.percent, tt.floor, tt.scanned)
			if got != tt.want {
				t.Errorf("Percent(%d, %d, %d) = %d, want %d", tt.percent, tt.floor, tt.scanned, got, tt.want)
			}
			if room := tt.scanned * uint64(got) / 100; tt.scanned > 0 && got < maxPercent && room < tt.floor {
				t.Errorf("GOGC %d gives %d bytes of room, less than the floor %d", got, room, tt.floor)
			}
		})
	}
}

// Keep sets GOGC after a collection, and its stop puts back the one from
// before; once stopped, collections change nothing.
func TestKeep(t *testing.T) {
	before := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(before) })

	stop := Keep(50, 1<<40) // a floor no test heap reaches: the bound
	if got := gogc(); got != 50 {
		t.Fatalf("GOGC %d right after Keep, want 50", got)
	}
	// The tune runs on the cleanup goroutine after a collection: collect
	// until it has, for as long as the test may run.
	for gogc() != maxPercent {
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	stop()
	if got := gogc(); got != 100 {
		t.Errorf("GOGC %d after stop, want 100 as before Keep", got)
	}
	runtime.GC()
	runtime.GC()
	if got := gogc(); got != 100 {
		t.Errorf("GOGC %d after collections once stopped, want 100: a stopped Keep must not tune", got)
	}
}

// gogc returns the GOGC in force.
func gogc() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}
