package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ocppkata/kata/harness/ocpp"
)

// queueBehindALock holds the file's write lock from another connection,
// starts a first Boot, which leads and waits for the lock alone, and
// returns once it does; release lets it go on. Writes made meanwhile queue
// behind it, and go together in the group after it.
func queueBehindALock(t *testing.T, s *Store, path string) (first <-chan error, release func()) {
	t.Helper()
	other, err := rawDB(t, path).Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	if _, err := other.ExecContext(t.Context(), `BEGIN EXCLUSIVE`); err != nil {
		t.Fatalf("taking the lock on the side: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		done <- s.Boot(context.Background(), "FIRST", ocpp.BootNotificationRequest{ChargePointVendor: "V", ChargePointModel: "M"}, t0)
	}()
	waitQueued(t, s, 0, "the first write to take its group")
	return done, func() {
		if _, err := other.ExecContext(t.Context(), `ROLLBACK`); err != nil {
			t.Fatal(err)
		}
	}
}

// waitQueued waits until a write leads and n others are queued behind it.
func waitQueued(t *testing.T, s *Store, n int, what string) {
	t.Helper()
	var leading bool
	var queued int
	for range 10000 {
		s.mu.Lock()
		leading, queued = s.leading, len(s.queued)
		s.mu.Unlock()
		if leading && queued == n {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("waited 10 s for %s: %d writes queued (one leading: %v), want %d", what, queued, leading, n)
}

// storedStation reports whether the station has a row.
func storedStation(t *testing.T, s *Store, id string) bool {
	t.Helper()
	var n int
	if err := s.r.QueryRowContext(t.Context(), `SELECT count(*) FROM stations WHERE id = ?`, id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

// TestWritesThatWaitShareACommit: while one write waits for the disk
// (here: for a lock another program holds), the writes that come queue,
// and the next transaction commits them all, with one flush: a burst of
// ten thousand stations booting costs tens of commits, not ten thousand.
// Each is still committed before its call returns.
func TestWritesThatWaitShareACommit(t *testing.T) {
	s, path := openTemp(t, Options{})
	first, release := queueBehindALock(t, s, path)
	const n = 20
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = s.Boot(t.Context(), fmt.Sprintf("CP%02d", i), ocpp.BootNotificationRequest{ChargePointVendor: "V", ChargePointModel: "M"}, t0)
		})
	}
	waitQueued(t, s, n, "the boots to queue")
	release()
	wg.Wait()
	if err := <-first; err != nil {
		t.Fatalf("the first boot: %v", err)
	}
	for i, err := range errs {
		if err != nil {
			t.Errorf("boot %d: %v", i, err)
		}
		if id := fmt.Sprintf("CP%02d", i); !storedStation(t, s, id) {
			t.Errorf("boot of %s returned, and its station is not stored", id)
		}
	}
	if got := s.commits.Load(); got != 2 {
		t.Errorf("%d commits for the first boot and %d that queued behind it; want 2: the first's, then one for all that waited", got, n)
	}
}

// TestAFailedWriteFailsAlone: in a group, a write that fails is rolled
// back to its savepoint: its error is its own, nothing of it is stored,
// and the others of its group are committed. A write whose context ends
// while it is queued is not written.
func TestAFailedWriteFailsAlone(t *testing.T) {
	s, path := openTemp(t, Options{})
	first, release := queueBehindALock(t, s, path)
	refused := errors.New("refused")
	var wg sync.WaitGroup
	var okErrs [2]error
	var badErr, goneErr error
	for i := range okErrs {
		wg.Go(func() {
			okErrs[i] = s.Boot(t.Context(), fmt.Sprintf("OK%d", i), ocpp.BootNotificationRequest{ChargePointVendor: "V", ChargePointModel: "M"}, t0)
		})
	}
	wg.Go(func() {
		badErr = s.write(t.Context(), "the bad one", func(ctx context.Context, tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, upsertStation, "BAD"); err != nil {
				return err
			}
			return refused
		})
	})
	ctx, cancel := context.WithCancel(t.Context())
	wg.Go(func() {
		goneErr = s.Boot(ctx, "GONE", ocpp.BootNotificationRequest{ChargePointVendor: "V", ChargePointModel: "M"}, t0)
	})
	waitQueued(t, s, 4, "the writes to queue")
	cancel()
	release()
	wg.Wait()
	if err := <-first; err != nil {
		t.Fatalf("the first boot: %v", err)
	}
	if !errors.Is(badErr, refused) {
		t.Errorf("the failing write returned %v; want its own error, wrapped", badErr)
	}
	if storedStation(t, s, "BAD") {
		t.Error("the failing write's row is stored: it was not rolled back to its savepoint")
	}
	if !errors.Is(goneErr, context.Canceled) || storedStation(t, s, "GONE") {
		t.Errorf("a boot whose context ended while it was queued returned %v, stored %v; want context.Canceled, and not stored", goneErr, storedStation(t, s, "GONE"))
	}
	for i, err := range okErrs {
		if err != nil || !storedStation(t, s, fmt.Sprintf("OK%d", i)) {
			t.Errorf("boot OK%d in the failing write's group: %v, stored %v; want committed", i, err, storedStation(t, s, fmt.Sprintf("OK%d", i)))
		}
	}
}
