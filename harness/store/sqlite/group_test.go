package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3"

	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/harness/store"
)

// queueBehindALock holds the file's write lock from another connection,
// starts a first Boot, which leads and waits for the lock alone, and
// returns once it does; release lets it go on. Writes made meanwhile queue
// behind it, and go together in the group after it.
func queueBehindALock(t *testing.T, s *Store, path string) (first <-chan error, release func()) {
	t.Helper()
	release = lockOnTheSide(t, path)
	done := make(chan error, 1)
	go func() {
		done <- s.Boot(context.Background(), "FIRST", bootFrom("V"), t0)
	}()
	waitQueued(t, s, 0, "the first write to take its group")
	return done, release
}

// bootFrom is a BootNotification from a station of vendor.
func bootFrom(vendor string) ocpp.BootNotificationRequest {
	return ocpp.BootNotificationRequest{ChargePointVendor: vendor, ChargePointModel: "M"}
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
			errs[i] = s.Boot(t.Context(), fmt.Sprintf("CP%02d", i), bootFrom("V"), t0)
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
			okErrs[i] = s.Boot(t.Context(), fmt.Sprintf("OK%d", i), bootFrom("V"), t0)
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
		goneErr = s.Boot(ctx, "GONE", bootFrom("V"), t0)
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

// returnsWhile waits for a call's result while something else still holds
// what the call would otherwise wait for; it fails the test if the call has
// not returned within 10 s.
func returnsWhile(t *testing.T, result <-chan error, what string) error {
	t.Helper()
	select {
	case err := <-result:
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: not returned after 10 s", what)
		return nil
	}
}

// TestAQueuedWriteLeavesWhenItsContextEnds: a write that waits behind a
// group that waits for the disk (here: for another program's lock) returns
// as soon as its context ends, as it did when every write had a
// transaction of its own, and is not written.
func TestAQueuedWriteLeavesWhenItsContextEnds(t *testing.T) {
	s, path := openTemp(t, Options{})
	first, release := queueBehindALock(t, s, path)
	ctx, cancel := context.WithCancel(t.Context())
	result := make(chan error, 1)
	go func() {
		result <- s.Boot(ctx, "HURRY", bootFrom("V"), t0)
	}()
	waitQueued(t, s, 1, "the boot to queue")
	cancel()
	err := returnsWhile(t, result, "a queued boot whose context was cancelled, while the group ahead waits for the lock")
	release()
	if err := <-first; err != nil {
		t.Fatalf("the first boot: %v", err)
	}
	if !errors.Is(err, context.Canceled) || storedStation(t, s, "HURRY") {
		t.Errorf("a boot whose context ended while it was queued returned %v, stored %v; want context.Canceled, and not stored", err, storedStation(t, s, "HURRY"))
	}
}

// TestAPanickingWriteFailsAlone: a write whose code panics panics in its
// own caller's goroutine, not in the leader's; the others of its group are
// committed, and the store takes writes after it.
func TestAPanickingWriteFailsAlone(t *testing.T) {
	s, path := openTemp(t, Options{})
	first, release := queueBehindALock(t, s, path)
	var wg sync.WaitGroup
	var okErrs [2]error
	var recovered any
	for i := range okErrs {
		wg.Go(func() {
			okErrs[i] = s.Boot(t.Context(), fmt.Sprintf("OK%d", i), bootFrom("V"), t0)
		})
	}
	wg.Go(func() {
		defer func() { recovered = recover() }()
		s.write(t.Context(), "the panicking one", func(ctx context.Context, tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, upsertStation, "PANIC"); err != nil {
				return err
			}
			panic("boom")
		})
	})
	waitQueued(t, s, 3, "the writes to queue")
	release()
	all := make(chan error, 1)
	go func() { wg.Wait(); all <- nil }()
	returnsWhile(t, all, "the writes of the panicking write's group (the store is wedged)")
	if err := <-first; err != nil {
		t.Fatalf("the first boot: %v", err)
	}
	if recovered != "boom" {
		t.Errorf("the panicking write's caller recovered %v; want its panic, boom", recovered)
	}
	if storedStation(t, s, "PANIC") {
		t.Error("the panicking write's row is stored")
	}
	for i, err := range okErrs {
		if err != nil || !storedStation(t, s, fmt.Sprintf("OK%d", i)) {
			t.Errorf("boot OK%d in the panicking write's group: %v, stored %v; want committed", i, err, storedStation(t, s, fmt.Sprintf("OK%d", i)))
		}
	}
	result := make(chan error, 1)
	go func() {
		result <- s.Boot(t.Context(), "AFTER", bootFrom("V"), t0)
	}()
	if err := returnsWhile(t, result, "a boot after the panic"); err != nil {
		t.Errorf("a boot after the panic: %v", err)
	}
}

// TestAWriteThatEndsTheTransactionFailsAlone: a write that makes SQLite
// end the whole transaction (a full disk: max_page_count stands in for
// it) fails with SQLite's error; the writes of its group that need no more
// room are written all the same, in the next transaction.
func TestAWriteThatEndsTheTransactionFailsAlone(t *testing.T) {
	s, path := openTemp(t, Options{})
	fill(t, s) // CS0..CS2 exist: a boot of theirs is an update in place
	if _, err := s.w.ExecContext(t.Context(), `PRAGMA max_page_count = 1`); err != nil {
		t.Fatal(err)
	}
	first, release := queueBehindALock(t, s, path)
	var wg sync.WaitGroup
	var small [3]error
	var big error
	for i := range small {
		wg.Go(func() {
			small[i] = s.Boot(t.Context(), fmt.Sprintf("CS%d", i), bootFrom(fmt.Sprint("V", i)), t0)
		})
	}
	var many []ocpp.SampledValue
	for range 2000 {
		many = append(many, ocpp.SampledValue{Value: strings.Repeat("9", 100)})
	}
	wg.Go(func() {
		big = s.MeterValues(t.Context(), []store.Reading{{Station: "CS0", Request: ocpp.MeterValuesRequest{ConnectorId: 1,
			MeterValue: []ocpp.MeterValue{{Timestamp: dt(9), SampledValue: many}}}}})
	})
	waitQueued(t, s, 4, "the writes to queue")
	release()
	wg.Wait()
	<-first // FIRST is a new station's row: it may need a page, and fail
	if !errors.Is(big, sqlite3.FULL) {
		t.Errorf("the write that fills the disk: %v; want an error wrapping SQLITE_FULL", big)
	}
	stations, err := s.Stations(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	vendor := map[string]string{}
	for _, st := range stations {
		vendor[st.ID] = st.Vendor
	}
	for i, err := range small {
		id := fmt.Sprintf("CS%d", i)
		if err != nil || vendor[id] != fmt.Sprint("V", i) {
			t.Errorf("boot of %s, in the group of the write that filled the disk: %v, vendor stored %q; want committed, %q", id, err, vendor[id], fmt.Sprint("V", i))
		}
	}
}

// TestGroupsKeepEveryWriteApart: a hundred stations boot, start two
// transactions each (and send each start twice, as a station that lost the
// answer does), send a meter value and stop, all at once, so that their
// writes share groups. No id is given twice, a replayed start gets its
// first id, and every write that was acknowledged is there.
func TestGroupsKeepEveryWriteApart(t *testing.T) {
	s, _ := openTemp(t, Options{})
	ctx := t.Context()
	const stations, perStation = 100, 2
	type started struct {
		station   string
		k, id     int
		stopKnown bool
	}
	var mu sync.Mutex
	var all []started
	var wg sync.WaitGroup
	for g := range stations {
		wg.Go(func() {
			st := fmt.Sprintf("S%03d", g)
			if err := s.Boot(ctx, st, bootFrom("V"), t0); err != nil {
				t.Error(err)
				return
			}
			for k := range perStation {
				req := ocpp.StartTransactionRequest{ConnectorId: 1, IdTag: "TAG", MeterStart: k, Timestamp: dt(k)}
				id, err := s.StartTransaction(ctx, st, req)
				if err != nil {
					t.Error(err)
					return
				}
				if again, err := s.StartTransaction(ctx, st, req); err != nil || again != id {
					t.Errorf("the start %d of %s sent again: id %d, %v; want its first id, %d", k, st, again, err, id)
				}
				if err := s.MeterValues(ctx, []store.Reading{{Station: st, Request: ocpp.MeterValuesRequest{ConnectorId: 1, TransactionId: &id,
					MeterValue: []ocpp.MeterValue{energy(k, fmt.Sprint(k))}}}}); err != nil {
					t.Error(err)
				}
				known, err := s.StopTransaction(ctx, st, ocpp.StopTransactionRequest{TransactionId: id, MeterStop: k + 1, Timestamp: dt(k + 1), Reason: ocpp.ReasonRemote})
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				all = append(all, started{st, k, id, known})
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	txs, err := s.Transactions(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	stored := map[int]store.Transaction{}
	for _, tx := range txs {
		stored[tx.ID] = tx
	}
	given := map[int]started{}
	for _, a := range all {
		if b, twice := given[a.id]; twice {
			t.Errorf("transaction id %d given twice: to %s's start %d and to %s's start %d", a.id, a.station, a.k, b.station, b.k)
		}
		given[a.id] = a
		tx, ok := stored[a.id]
		if !ok || tx.Station != a.station || tx.MeterStart != a.k || tx.Stop == nil || !a.stopKnown {
			t.Errorf("%s's transaction %d (start %d) was acknowledged, started and stopped; stored: %v %+v", a.station, a.id, a.k, ok, tx)
			continue
		}
		if values, err := s.TransactionMeterValues(ctx, a.id); err != nil || len(values) != 1 {
			t.Errorf("meter values of transaction %d: %v, %v; want the one acknowledged", a.id, values, err)
		}
	}
	if len(txs) != stations*perStation {
		t.Errorf("%d transactions stored, want %d", len(txs), stations*perStation)
	}
	t.Logf("%d commits for %d writes", s.commits.Load(), stations*(1+4*perStation))
}
