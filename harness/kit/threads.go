package kit

import (
	"fmt"
	"runtime/metrics"
)

// threadsMetric is the runtime's count of the OS threads it owns (Go 1.26).
const threadsMetric = "/sched/threads/total:threads"

// Threads returns how many OS threads the Go runtime has now, from
// runtime/metrics, on every platform. On Linux it agrees with the Threads
// line of /proc/self/status (but for the process's main thread once a
// goroutine has exited while locked to it: the runtime parks that thread
// for good and stops counting it). Go never gives threads back, so a count taken
// after a load is the most the load ever needed on top of what was there
// before.
func Threads() (int, error) {
	s := []metrics.Sample{{Name: threadsMetric}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0, fmt.Errorf("count threads: runtime/metrics has no %s (Go 1.26 or later has it)", threadsMetric)
	}
	return int(s[0].Value.Uint64()), nil
}
