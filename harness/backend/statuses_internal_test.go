package backend

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/harness/store"
)

// writesKept is a store that keeps each Statuses call's updates, and holds
// the first call until release is closed.
type writesKept struct {
	store.Memory
	release chan struct{}
	mu      sync.Mutex
	writes  [][]store.StatusUpdate
}

func (s *writesKept) Statuses(ctx context.Context, us []store.StatusUpdate) error {
	s.mu.Lock()
	s.writes = append(s.writes, slices.Clone(us))
	first := len(s.writes) == 1
	s.mu.Unlock()
	if first {
		<-s.release
	}
	return s.Memory.Statuses(ctx, us)
}

func TestStatusesWrittenInGroups(t *testing.T) {
	st := &writesKept{release: make(chan struct{})}
	var w statusWriter
	status := func(station string, connector int, s ocpp.ChargePointStatus) store.StatusUpdate {
		return store.StatusUpdate{Station: station, At: time.Now(), Request: ocpp.StatusNotificationRequest{
			ConnectorId: connector, Status: s, ErrorCode: ocpp.ChargePointNoError}}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	write := func(us ...store.StatusUpdate) {
		wg.Go(func() { errs <- w.write(context.Background(), st, us) })
	}
	write(status("CS0", 1, ocpp.StatusAvailable)) // its write is held
	waitFor(t, "the first write to start", func() bool { st.mu.Lock(); defer st.mu.Unlock(); return len(st.writes) == 1 })
	for i := 1; i <= 10; i++ {
		write(status(fmt.Sprintf("CS%d", i), 1, ocpp.StatusPreparing))
	}
	waitFor(t, "10 statuses to wait for the held write", func() bool { w.mu.Lock(); defer w.mu.Unlock(); return len(w.pending) == 10 })
	// The same connector twice in one group: only the later is written.
	write(status("CS1", 1, ocpp.StatusCharging))
	waitFor(t, "11 statuses to wait for the held write", func() bool { w.mu.Lock(); defer w.mu.Unlock(); return len(w.pending) == 11 })
	close(st.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a status write failed: %v", err)
		}
	}
	if len(st.writes) != 2 || len(st.writes[1]) != 10 {
		t.Fatalf("the store got %d writes of %v statuses, want 2: the held one, then the 11 that waited for it in one "+
			"write of 10 (CS1's connector 1 twice: its later status only)", len(st.writes), lens(st.writes))
	}
	cs1, err := st.Station(t.Context(), "CS1")
	if err != nil || len(cs1.Connectors) != 1 || cs1.Connectors[0].Status != string(ocpp.StatusCharging) {
		t.Errorf("CS1 after its Preparing and then Charging went in one write: %+v (%v), want connector 1 Charging", cs1, err)
	}
}

func lens(writes [][]store.StatusUpdate) []int {
	var n []int
	for _, w := range writes {
		n = append(n, len(w))
	}
	return n
}

// waitFor polls cond until it holds, or fails the test after ten seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s for %s", what)
		}
	}
}
