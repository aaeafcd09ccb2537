package station

import (
	"testing"
	"time"
)

// Each wait is between half and all of reconnectWait·2ⁿ, at most
// maxReconnectWait, and the waits of a fleet's chargers differ.
func TestBackoff(t *testing.T) {
	for n := range 40 {
		d := min(reconnectWait<<min(n, 8), maxReconnectWait)
		seen := map[time.Duration]bool{}
		for range 20 {
			w := backoff(n)
			if w < d/2 || w >= d {
				t.Fatalf("backoff(%d) = %v, want in [%v, %v)", n, w, d/2, d)
			}
			seen[w] = true
		}
		if len(seen) < 2 {
			t.Errorf("backoff(%d) gave %v 20 times: no jitter", n, seen)
		}
	}
}
