package kit

import (
	"runtime"
	"testing"
	"testing/synctest"
)

func TestGoroutinesCountsTheBubbleOnly(t *testing.T) {
	// A goroutine outside the bubble must not count inside it.
	outside := make(chan struct{})
	go func() { <-outside }()
	defer close(outside)

	synctest.Test(t, func(t *testing.T) {
		base := Goroutines()
		if all := runtime.NumGoroutine(); base >= all {
			t.Fatalf("Goroutines() = %d in the bubble, runtime.NumGoroutine() = %d: the goroutines outside "+
				"the bubble (the test binary's, and one started for this test) must not count", base, all)
		}
		stop := make(chan struct{})
		for range 3 {
			go func() { <-stop }()
		}
		synctest.Wait()
		if got := Goroutines(); got != base+3 {
			t.Errorf("Goroutines() = %d with three more in the bubble, want %d", got, base+3)
		}
		close(stop)
		synctest.Wait()
		if got := Goroutines(); got != base {
			t.Errorf("Goroutines() = %d after they ended, want %d", got, base)
		}
	})
}
