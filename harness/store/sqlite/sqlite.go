// Package sqlite is a store.Store kept in an SQLite file, through the
// pure-Go driver github.com/ncruces/go-sqlite3: no cgo, no server.
//
// The file is in WAL mode: readers never wait for the writer, nor the
// writer for them. Every write goes through one connection, so SQLite never
// sees two writers of this process compete; a transaction that reads then
// writes begins IMMEDIATE, taking the write lock before it reads. The
// writes that come while one is being committed go together in the next
// transaction, each in a savepoint (a group commit: see write). Another
// process that holds the lock makes a write wait up to Options.BusyTimeout,
// then fail with an error: a write returns nil only once it is committed.
// So several processes of one machine may share a file, as the nodes of a
// cluster on one machine do: their writes take turns, transaction ids stay
// unique, and a replayed start gets the first id in any of them
// (TestProcesses, with the writes a second it measures).
//
// The schema is versioned with PRAGMA user_version and migrated by Open; a
// file from a newer schema, or one that is no SQLite database, is refused.
// Times are stored as UTC nanoseconds and come back in UTC, exact.
package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/driver"

	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/harness/store"
)

// Options tune a Store. The zero value is the default.
type Options struct {
	// BusyTimeout is how long a statement waits for a lock that another
	// connection holds before it fails. Zero means 5 seconds.
	BusyTimeout time.Duration
	// Readers is the most connections that read at once. Zero means 4.
	Readers int
}

// Store is a store.Store in an SQLite file. It is safe for concurrent use.
type Store struct {
	path string
	// w is the one connection that writes: the writers of this process
	// take turns on it (see write), so that they never wait on SQLite's
	// lock.
	w *sql.DB
	// r are the connections that read; PRAGMA query_only keeps them so.
	r *sql.DB

	// The writes waiting for the writer, and whether one of their
	// goroutines is writing (see write).
	mu      sync.Mutex
	queued  []*groupWrite
	leading bool
	commits atomic.Int64 // the groups committed, for the tests
}

var _ store.Store = (*Store)(nil)

// Open opens the database at path with the default Options, creating it
// if there is no file yet; see OpenOptions.
func Open(path string) (*Store, error) { return OpenOptions(path, Options{}) }

// OpenOptions opens the database at path, creating it if there is no file
// yet, and brings its schema up to date. It refuses a file that cannot be
// opened, that is not an SQLite database, or whose schema is newer than
// this code knows, with an error that says which file and what to do.
func OpenOptions(path string, opts Options) (*Store, error) {
	// The writer and the readers are connections of their own: they must
	// meet in a file.
	if path == "" || strings.HasPrefix(path, ":memory:") {
		return nil, fmt.Errorf("store/sqlite: %q is no file: give the path of one (store.Memory keeps a store in memory)", path)
	}
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = 5 * time.Second
	}
	if opts.Readers <= 0 {
		opts.Readers = 4
	}
	s := &Store{path: path}
	var err error
	// _txlock=immediate: every transaction of the writer begins with BEGIN
	// IMMEDIATE, so that a read-then-write (StartTransaction's replay
	// check, then its insert) holds the write lock from its first read.
	s.w, err = driver.Open(dsn(path, "immediate"), func(c *sqlite3.Conn) error {
		// The busy timeout first: switching to WAL takes a lock that
		// another process may hold, and must wait for it, not fail.
		if err := c.BusyTimeout(opts.BusyTimeout); err != nil {
			return err
		}
		// The driver refuses to open a file it may not write; should a
		// VFS fall back to opening it read-only, as SQLite's own does,
		// every write would fail: refuse it now.
		if ro, _ := c.ReadOnly("main"); ro {
			return sqlite3.READONLY
		}
		// synchronous=FULL: a commit is on disk when it returns, power
		// cut included. An acknowledged message must survive.
		return c.Exec(`PRAGMA journal_mode=wal; PRAGMA synchronous=full; PRAGMA foreign_keys=on`)
	})
	if err != nil {
		return nil, s.openError(err)
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxLifetime(0)
	s.w.SetConnMaxIdleTime(0)
	// SQLite answers a journal mode it could not set with the mode it
	// kept, not with an error.
	var mode string
	if err := s.w.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil {
		s.w.Close()
		return nil, s.openError(err)
	}
	if !strings.EqualFold(mode, "wal") {
		s.w.Close()
		return nil, fmt.Errorf("store/sqlite: %s stays in journal mode %q, not WAL: check that the file and its folder may be written", path, mode)
	}
	if err := s.migrate(); err != nil {
		s.w.Close()
		return nil, err
	}

	s.r, err = driver.Open(dsn(path, "deferred"), func(c *sqlite3.Conn) error {
		if err := c.BusyTimeout(opts.BusyTimeout); err != nil {
			return err
		}
		return c.Exec(`PRAGMA query_only=on`)
	})
	if err != nil {
		s.w.Close()
		return nil, s.openError(err)
	}
	s.r.SetMaxOpenConns(opts.Readers)
	s.r.SetMaxIdleConns(opts.Readers)
	if err := s.r.Ping(); err != nil {
		s.Close()
		return nil, s.openError(err)
	}
	return s, nil
}

// dsn is the driver's URI for the file at path: the characters that mean
// something in a URI are escaped, so that any file name works.
func dsn(path, txlock string) string {
	esc := strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23").Replace(path)
	if strings.HasPrefix(esc, "//") {
		esc = "/" + strings.TrimLeft(esc, "/")
	}
	return "file:" + esc + "?_txlock=" + txlock
}

func (s *Store) openError(err error) error {
	var hint string
	switch {
	case errors.Is(err, sqlite3.NOTADB):
		hint = "it is not an SQLite database: give another file, or move this one away"
	case errors.Is(err, sqlite3.CANTOPEN_ISDIR):
		hint = "it is a folder: give the path of a file in it"
	case errors.Is(err, sqlite3.CANTOPEN):
		hint = "check that its folder exists and that it may be written"
	case errors.Is(err, sqlite3.READONLY):
		hint = "it may not be written: make it and its folder writable, or give another file"
	case errors.Is(err, sqlite3.BUSY):
		hint = "another program holds it locked: stop it, or give another file"
	default:
		hint = "check the file, or give another one"
	}
	return fmt.Errorf("store/sqlite: cannot open %s: %w (%s)", s.path, err, hint)
}

// migrate brings the schema to len(migrations), one step per transaction.
// Each step reads the version again inside its transaction: another process
// opening the same file may have migrated it meanwhile.
func (s *Store) migrate() error {
	ctx := context.Background()
	for {
		done, err := s.migrateOne(ctx)
		if err != nil || done {
			return err
		}
	}
}

func (s *Store) migrateOne(ctx context.Context) (done bool, err error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return false, s.openError(err)
	}
	defer tx.Rollback()
	var version int
	if err := tx.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
		return false, s.openError(err)
	}
	switch {
	case version > len(migrations):
		return false, fmt.Errorf("store/sqlite: %s has schema version %d, and this code knows versions up to %d: a newer version of the kata wrote it; run that version, or give another file", s.path, version, len(migrations))
	case version == len(migrations):
		return true, nil
	}
	if _, err := tx.ExecContext(ctx, migrations[version]); err != nil {
		return false, fmt.Errorf("store/sqlite: %s: migrating the schema to version %d: %w", s.path, version+1, err)
	}
	// PRAGMA takes no parameters; version is a number this code chose.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, version+1)); err != nil {
		return false, fmt.Errorf("store/sqlite: %s: migrating the schema to version %d: %w", s.path, version+1, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("store/sqlite: %s: migrating the schema to version %d: %w", s.path, version+1, err)
	}
	return false, nil
}

// Close closes the database. Nothing may be called after it.
func (s *Store) Close() error {
	var errR error
	if s.r != nil {
		errR = s.r.Close()
	}
	return errors.Join(s.w.Close(), errR)
}

// write runs fn in a transaction of the writer (BEGIN IMMEDIATE) and
// commits it. Its error names what was being written and wraps the cause;
// nil means committed (synchronous=FULL: on disk).
//
// The writes that come while another is being written wait, and go
// together in the next transaction, each in a savepoint of its own: a
// group commit. A commit costs the disk's flush, about a millisecond, and
// a burst of stations (ten thousand booting after a restart) would
// otherwise queue for their flushes one at a time, each holding a worker
// and a reader meanwhile. A write whose fn fails, or panics, is rolled back
// to its savepoint and fails alone (a panic is raised again in its
// caller's goroutine); one whose statement makes SQLite end the whole
// transaction (a full disk, an I/O error) fails, and the others of its
// group are written again in a new one. A transaction that cannot begin
// or commit fails every write in it. There is no goroutine of the
// Store's: the first writer to find nobody writing leads, commits what is
// queued, and hands the lead to the first of those who queued meanwhile.
//
// fn's ctx is the caller's, without its cancellation: once its group has
// begun, a write is finished, or failed by the database, and a caller
// that gave up cannot interrupt the others' statements (SQLite rolls back
// a whole transaction it interrupts). A caller whose ctx ends while it is
// queued leaves the queue at once, and is not written.
func (s *Store) write(ctx context.Context, what string, fn func(ctx context.Context, tx *sql.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store/sqlite: %s: %w", what, err)
	}
	w := &groupWrite{ctx: ctx, what: what, fn: fn, wake: make(chan struct{}, 1)}
	s.mu.Lock()
	s.queued = append(s.queued, w)
	lead := !s.leading
	s.leading = true
	w.taken = lead
	s.mu.Unlock()
	if !lead {
		select {
		case <-w.wake:
		case <-ctx.Done():
			s.mu.Lock()
			if !w.taken {
				// No leader has it: it leaves the queue unwritten.
				s.queued = slices.DeleteFunc(s.queued, func(q *groupWrite) bool { return q == w })
				s.mu.Unlock()
				return fmt.Errorf("store/sqlite: %s: %w", what, ctx.Err())
			}
			s.mu.Unlock()
			<-w.wake
		}
	}
	if !w.done {
		s.commitQueued()
	}
	if w.panicked != nil {
		panic(w.panicked) // in the goroutine of the write whose fn panicked
	}
	return w.err
}

// A groupWrite is a write queued for the writer.
type groupWrite struct {
	ctx  context.Context
	what string
	fn   func(ctx context.Context, tx *sql.Tx) error
	// Set by the group's leader before it wakes the write.
	err      error
	panicked any
	done     bool
	// taken (guarded by Store.mu): a leader took the write, into its group
	// or to lead the next; it can no longer leave the queue.
	taken bool
	wake  chan struct{} // the write is done, or its goroutine leads now
}

// run runs the write's fn; a panic is its error, and is raised again in
// the write's own goroutine.
func (w *groupWrite) run(tx *sql.Tx) (err error) {
	defer func() {
		if v := recover(); v != nil {
			w.panicked = v
			err = fmt.Errorf("panic: %v", v)
		}
	}()
	return w.fn(context.WithoutCancel(w.ctx), tx)
}

// commitQueued writes everything queued, the leader's own write first, in
// one transaction, wakes their goroutines, and hands the lead on.
func (s *Store) commitQueued() {
	s.mu.Lock()
	group := s.queued
	s.queued = nil
	for _, w := range group {
		w.taken = true
	}
	s.mu.Unlock()
	s.commitGroup(group)
	for _, w := range group[1:] {
		w.done = true
		w.wake <- struct{}{}
	}
	s.mu.Lock()
	if len(s.queued) == 0 {
		s.leading = false
		s.mu.Unlock()
		return
	}
	next := s.queued[0]
	next.taken = true
	s.mu.Unlock()
	next.wake <- struct{}{} // not done: it leads
}

// commitGroup writes group, and sets each write's err. A write whose fn
// makes SQLite end the transaction (SQLITE_FULL, an I/O error) fails; the
// others are written again in a new transaction.
func (s *Store) commitGroup(group []*groupWrite) {
	for len(group) > 0 {
		group = s.tryGroup(group)
	}
}

// tryGroup writes group in one transaction, and sets each write's err; it
// returns the writes to try again.
func (s *Store) tryGroup(group []*groupWrite) (again []*groupWrite) {
	// fail fails every write not failed yet: none of them is committed.
	fail := func(format string, err error) {
		for _, w := range group {
			if w.err == nil {
				w.err = fmt.Errorf(format, w.what, err)
			}
		}
	}
	live := group[:0:0]
	for _, w := range group {
		if err := w.ctx.Err(); err != nil {
			w.err = fmt.Errorf("store/sqlite: %s: %w", w.what, err)
			continue
		}
		live = append(live, w)
	}
	if len(live) == 0 {
		return nil
	}
	group = live
	bg := context.Background()
	tx, err := s.w.BeginTx(bg, nil)
	if err != nil {
		fail("store/sqlite: %s: %w", err)
		return nil
	}
	written := 0
	for _, w := range group {
		if len(group) == 1 {
			// Alone: the transaction is its savepoint.
			if err := w.run(tx); err != nil {
				w.err = fmt.Errorf("store/sqlite: %s: %w", w.what, err)
			} else {
				written++
			}
			continue
		}
		if _, err := tx.ExecContext(bg, `SAVEPOINT write`); err != nil {
			tx.Rollback()
			fail("store/sqlite: %s: %w", err)
			return nil
		}
		if err := w.run(tx); err != nil {
			w.err = fmt.Errorf("store/sqlite: %s: %w", w.what, err)
			if _, err := tx.ExecContext(bg, `ROLLBACK TO write`); err != nil {
				// The statement that failed ended the transaction
				// (SQLITE_FULL, an I/O error): nobody's write is in. This
				// one failed; the others go again.
				tx.Rollback()
				for _, o := range group {
					if o.err == nil {
						again = append(again, o)
					}
				}
				return again
			}
		} else {
			written++
		}
		if _, err := tx.ExecContext(bg, `RELEASE write`); err != nil {
			tx.Rollback()
			fail("store/sqlite: %s: %w", err)
			return nil
		}
	}
	if written == 0 {
		tx.Rollback()
		return nil
	}
	if err := tx.Commit(); err != nil {
		fail("store/sqlite: %s: commit: %w", err)
		return nil
	}
	s.commits.Add(1)
	return nil
}

// nanos is how a time is stored: UTC nanoseconds, NULL for the zero time.
func nanos(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixNano(), Valid: true}
}

func fromNanos(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}

// upsertStation makes sure the station has a row: a station is seen by
// whatever it sends first, which is not always a boot (the central system
// may have restarted since).
const upsertStation = `INSERT INTO stations (id) VALUES (?) ON CONFLICT DO NOTHING`

// Boot implements store.Store.
func (s *Store) Boot(ctx context.Context, station string, req ocpp.BootNotificationRequest, at time.Time) error {
	return s.write(ctx, "boot of "+station, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `
INSERT INTO stations (id, vendor, model, firmware, last_seen) VALUES (?1, ?2, ?3, ?4, ?5)
ON CONFLICT (id) DO UPDATE SET vendor = ?2, model = ?3, firmware = ?4,
	last_seen = max(coalesce(last_seen, ?5), coalesce(?5, last_seen))`,
			station, req.ChargePointVendor, req.ChargePointModel, req.FirmwareVersion, nanos(at))
		return err
	})
}

// FirmwareReport implements store.Store.
func (s *Store) FirmwareReport(ctx context.Context, station string, r store.FirmwareReport) error {
	return s.write(ctx, "firmware report of "+station, func(ctx context.Context, tx *sql.Tx) error {
		if r.Firmware != "" {
			if _, err := tx.ExecContext(ctx, `
INSERT INTO stations (id, firmware_status, firmware_status_at) VALUES (?1, ?2, ?3)
ON CONFLICT (id) DO UPDATE SET firmware_status = ?2, firmware_status_at = ?3`,
				station, string(r.Firmware), nanos(r.At)); err != nil {
				return err
			}
		}
		if r.Diagnostics != "" {
			if _, err := tx.ExecContext(ctx, `
INSERT INTO stations (id, diagnostics_status, diagnostics_status_at) VALUES (?1, ?2, ?3)
ON CONFLICT (id) DO UPDATE SET diagnostics_status = ?2, diagnostics_status_at = ?3`,
				station, string(r.Diagnostics), nanos(r.At)); err != nil {
				return err
			}
		}
		return nil
	})
}

// Seen implements store.Store. A time older than the one stored does not
// move it back.
func (s *Store) Seen(ctx context.Context, seen map[string]time.Time) error {
	if len(seen) == 0 {
		return nil
	}
	return s.write(ctx, fmt.Sprintf("signs of life of %d stations", len(seen)), func(ctx context.Context, tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `
INSERT INTO stations (id, last_seen) VALUES (?1, ?2)
ON CONFLICT (id) DO UPDATE SET last_seen = max(coalesce(last_seen, ?2), coalesce(?2, last_seen))`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for id, at := range seen {
			if _, err := stmt.ExecContext(ctx, id, nanos(at)); err != nil {
				return fmt.Errorf("%s: %w", id, err)
			}
		}
		return nil
	})
}

// StartTransaction implements store.Store. The replay check and the insert
// share one IMMEDIATE transaction: no other writer comes between them.
func (s *Store) StartTransaction(ctx context.Context, station string, req ocpp.StartTransactionRequest) (int, error) {
	var id int
	err := s.write(ctx, "start of a transaction on "+station, func(ctx context.Context, tx *sql.Tx) error {
		key := []any{station, req.ConnectorId, req.IdTag, req.MeterStart, nanos(req.Timestamp.Time)}
		err := tx.QueryRowContext(ctx, `
SELECT id FROM transactions
WHERE station = ? AND connector = ? AND id_tag = ? AND meter_start = ? AND start IS ?`, key...).Scan(&id)
		if err == nil {
			return nil // a replay: the id the first one got
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if _, err := tx.ExecContext(ctx, upsertStation, station); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `
INSERT INTO transactions (station, connector, id_tag, meter_start, start) VALUES (?, ?, ?, ?, ?)
RETURNING id`, key...).Scan(&id)
	})
	if err != nil {
		return 0, err
	}
	return id, nil
}

// StopTransaction implements store.Store. A transaction is known if it was
// started by the same station. A stop of a transaction already stopped (a
// station resending its stop) changes nothing and reports it known.
func (s *Store) StopTransaction(ctx context.Context, station string, req ocpp.StopTransactionRequest) (known bool, err error) {
	err = s.write(ctx, fmt.Sprintf("stop of transaction %d on %s", req.TransactionId, station), func(ctx context.Context, tx *sql.Tx) error {
		var connector int
		var stopped bool
		err := tx.QueryRowContext(ctx, `SELECT connector, stop IS NOT NULL FROM transactions WHERE id = ? AND station = ?`,
			req.TransactionId, station).Scan(&connector, &stopped)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		known = true
		if stopped {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE transactions SET meter_stop = ?, stop = ?, reason = ? WHERE id = ?`,
			req.MeterStop, nanos(req.Timestamp.Time), req.Reason, req.TransactionId); err != nil {
			return err
		}
		if len(req.TransactionData) == 0 {
			return nil
		}
		ins, err := tx.PrepareContext(ctx, insertSample)
		if err != nil {
			return err
		}
		defer ins.Close()
		return insertSamples(ctx, ins, station, connector, &req.TransactionId, req.TransactionData)
	})
	if err != nil {
		return false, err
	}
	return known, nil
}

// Statuses implements store.Store: all updates in one transaction, so
// that a hundred statuses cost one commit (one fsync), not a hundred.
func (s *Store) Statuses(ctx context.Context, updates []store.StatusUpdate) error {
	if len(updates) == 0 {
		return nil
	}
	what := fmt.Sprintf("%d statuses", len(updates))
	if len(updates) == 1 {
		what = fmt.Sprintf("status of %s connector %d", updates[0].Station, updates[0].Request.ConnectorId)
	}
	return s.write(ctx, what, func(ctx context.Context, tx *sql.Tx) error {
		up, err := tx.PrepareContext(ctx, upsertStation)
		if err != nil {
			return err
		}
		defer up.Close()
		set, err := tx.PrepareContext(ctx, `
INSERT INTO connectors (station, id, status, error_code, info, updated) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
ON CONFLICT (station, id) DO UPDATE SET status = ?3, error_code = ?4, info = ?5, updated = ?6`)
		if err != nil {
			return err
		}
		defer set.Close()
		for _, u := range updates {
			// The status is of the time the station gives, if it gives one.
			req, updated := u.Request, u.At
			if req.Timestamp != nil {
				updated = req.Timestamp.Time
			}
			if _, err := up.ExecContext(ctx, u.Station); err != nil {
				return err
			}
			if _, err := set.ExecContext(ctx, u.Station, req.ConnectorId, string(req.Status), string(req.ErrorCode),
				req.Info, nanos(updated)); err != nil {
				return fmt.Errorf("%s connector %d: %w", u.Station, req.ConnectorId, err)
			}
		}
		return nil
	})
}

// MeterValues implements store.Store: all readings in one transaction.
func (s *Store) MeterValues(ctx context.Context, readings []store.Reading) error {
	if len(readings) == 0 {
		return nil
	}
	return s.write(ctx, fmt.Sprintf("%d meter readings", len(readings)), func(ctx context.Context, tx *sql.Tx) error {
		up, err := tx.PrepareContext(ctx, upsertStation)
		if err != nil {
			return err
		}
		defer up.Close()
		ins, err := tx.PrepareContext(ctx, insertSample)
		if err != nil {
			return err
		}
		defer ins.Close()
		for _, r := range readings {
			if _, err := up.ExecContext(ctx, r.Station); err != nil {
				return err
			}
			if err := insertSamples(ctx, ins, r.Station, r.Request.ConnectorId, r.Request.TransactionId, r.Request.MeterValue); err != nil {
				return fmt.Errorf("%s: %w", r.Station, err)
			}
		}
		return nil
	})
}

const insertSample = `
INSERT INTO samples (station, connector, transaction_id, taken, value, measurand, unit, context, phase, location, format)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// insertSamples inserts one row per sampled value with stmt, a prepared
// insertSample.
func insertSamples(ctx context.Context, stmt *sql.Stmt, station string, connector int, txID *int, values []ocpp.MeterValue) error {
	var tid sql.NullInt64
	if txID != nil {
		tid = sql.NullInt64{Int64: int64(*txID), Valid: true}
	}
	for _, mv := range values {
		taken := nanos(mv.Timestamp.Time)
		for _, v := range mv.SampledValue {
			if _, err := stmt.ExecContext(ctx, station, connector, tid, taken,
				v.Value, v.Measurand, v.Unit, v.Context, v.Phase, v.Location, v.Format); err != nil {
				return err
			}
		}
	}
	return nil
}

// Stations implements store.Store.
func (s *Store) Stations(ctx context.Context) ([]store.Station, error) {
	return s.stations(ctx, "")
}

// Station implements store.Store.
func (s *Store) Station(ctx context.Context, id string) (store.Station, error) {
	list, err := s.stations(ctx, id)
	if err != nil {
		return store.Station{}, err
	}
	if len(list) == 0 {
		return store.Station{}, fmt.Errorf("store/sqlite: station %q: %w", id, store.ErrNotFound)
	}
	return list[0], nil
}

// stations reads one station, or all if id is "", in one read transaction:
// the stations, their connectors and their open transactions are of the
// same moment.
func (s *Store) stations(ctx context.Context, id string) ([]store.Station, error) {
	var list []store.Station
	err := s.read(ctx, "stations", func(tx *sql.Tx) error {
		// ?1 = '' selects all.
		rows, err := tx.QueryContext(ctx, `
SELECT id, vendor, model, firmware, last_seen, firmware_status, firmware_status_at, diagnostics_status, diagnostics_status_at
FROM stations WHERE ?1 = '' OR id = ?1 ORDER BY id`, id)
		if err != nil {
			return err
		}
		index := map[string]int{}
		for rows.Next() {
			var st store.Station
			var seen, firmwareAt, diagnosticsAt sql.NullInt64
			if err := rows.Scan(&st.ID, &st.Vendor, &st.Model, &st.Firmware, &seen,
				&st.FirmwareStatus, &firmwareAt, &st.DiagnosticsStatus, &diagnosticsAt); err != nil {
				rows.Close()
				return err
			}
			st.LastSeen = fromNanos(seen)
			st.FirmwareStatusAt, st.DiagnosticsStatusAt = fromNanos(firmwareAt), fromNanos(diagnosticsAt)
			st.Connectors = []store.Connector{}
			st.OpenTransactions = []int{}
			index[st.ID] = len(list)
			list = append(list, st)
		}
		if err := rows.Err(); err != nil {
			return err
		}

		rows, err = tx.QueryContext(ctx, `
SELECT station, id, status, error_code, info, updated FROM connectors WHERE ?1 = '' OR station = ?1 ORDER BY station, id`, id)
		if err != nil {
			return err
		}
		for rows.Next() {
			var station string
			var c store.Connector
			var updated sql.NullInt64
			if err := rows.Scan(&station, &c.ID, &c.Status, &c.ErrorCode, &c.Info, &updated); err != nil {
				rows.Close()
				return err
			}
			c.Updated = fromNanos(updated)
			if i, ok := index[station]; ok {
				list[i].Connectors = append(list[i].Connectors, c)
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}

		rows, err = tx.QueryContext(ctx, `
SELECT station, id FROM transactions WHERE stop IS NULL AND (?1 = '' OR station = ?1) ORDER BY station, id`, id)
		if err != nil {
			return err
		}
		for rows.Next() {
			var station string
			var txID int
			if err := rows.Scan(&station, &txID); err != nil {
				rows.Close()
				return err
			}
			if i, ok := index[station]; ok {
				list[i].OpenTransactions = append(list[i].OpenTransactions, txID)
			}
		}
		return rows.Err()
	})
	return list, err
}

// read runs fn in a read-only transaction: one snapshot of the database.
func (s *Store) read(ctx context.Context, what string, fn func(tx *sql.Tx) error) error {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("store/sqlite: reading %s: %w", what, err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return err
		}
		return fmt.Errorf("store/sqlite: reading %s: %w", what, err)
	}
	return nil
}

const transactionColumns = `id, station, connector, id_tag, meter_start, start, meter_stop, stop, reason`

func scanTransaction(sc interface{ Scan(...any) error }) (store.Transaction, error) {
	var t store.Transaction
	var start, stop, meterStop sql.NullInt64
	if err := sc.Scan(&t.ID, &t.Station, &t.ConnectorID, &t.IdTag, &t.MeterStart, &start, &meterStop, &stop, &t.Reason); err != nil {
		return t, err
	}
	t.Start = fromNanos(start)
	if meterStop.Valid {
		m := int(meterStop.Int64)
		t.MeterStop = &m
	}
	if stop.Valid {
		at := fromNanos(stop)
		t.Stop = &at
	}
	return t, nil
}

// Transactions implements store.Store.
func (s *Store) Transactions(ctx context.Context, station string) ([]store.Transaction, error) {
	list := []store.Transaction{}
	err := s.read(ctx, "transactions", func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+transactionColumns+` FROM transactions WHERE ?1 = '' OR station = ?1 ORDER BY id`, station)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			t, err := scanTransaction(rows)
			if err != nil {
				return err
			}
			list = append(list, t)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return list, nil
}

// Transaction implements store.Store.
func (s *Store) Transaction(ctx context.Context, id int) (store.Transaction, error) {
	var t store.Transaction
	err := s.read(ctx, fmt.Sprintf("transaction %d", id), func(tx *sql.Tx) error {
		var err error
		t, err = scanTransaction(tx.QueryRowContext(ctx, `SELECT `+transactionColumns+` FROM transactions WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store/sqlite: transaction %d: %w", id, store.ErrNotFound)
		}
		return err
	})
	return t, err
}

// TransactionMeterValues implements store.Store: the samples by the time
// they were taken, and in the order they were stored within one time.
// Samples a station reported for another station's transaction are kept,
// but are not this transaction's.
func (s *Store) TransactionMeterValues(ctx context.Context, id int) ([]store.Sample, error) {
	list := []store.Sample{}
	err := s.read(ctx, fmt.Sprintf("meter values of transaction %d", id), func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM transactions WHERE id = ?`, id).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store/sqlite: transaction %d: %w", id, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `
SELECT s.taken, s.value, s.measurand, s.unit, s.context, s.phase, s.location, s.format
FROM samples s JOIN transactions t ON t.id = s.transaction_id AND t.station = s.station
WHERE s.transaction_id = ? ORDER BY s.taken, s.seq`, id)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var sm store.Sample
			var taken sql.NullInt64
			if err := rows.Scan(&taken, &sm.Value, &sm.Measurand, &sm.Unit, &sm.Context, &sm.Phase, &sm.Location, &sm.Format); err != nil {
				return err
			}
			sm.Timestamp = fromNanos(taken)
			list = append(list, sm)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return list, nil
}

// SendLocalList implements store.Store: the list's changes and its
// version in one transaction.
func (s *Store) SendLocalList(ctx context.Context, station string, req ocpp.SendLocalListRequest, at time.Time) error {
	return s.write(ctx, fmt.Sprintf("local list %d of %s", req.ListVersion, station), func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, upsertStation, station); err != nil {
			return err
		}
		if req.UpdateType == ocpp.UpdateFull {
			if _, err := tx.ExecContext(ctx, `DELETE FROM local_list_entries WHERE station = ?`, station); err != nil {
				return err
			}
		}
		if len(req.LocalAuthorizationList) > 0 {
			set, err := tx.PrepareContext(ctx, `
INSERT INTO local_list_entries (station, id_tag, status, expiry, parent_id_tag) VALUES (?1, ?2, ?3, ?4, ?5)
ON CONFLICT (station, id_tag) DO UPDATE SET status = ?3, expiry = ?4, parent_id_tag = ?5`)
			if err != nil {
				return err
			}
			defer set.Close()
			del, err := tx.PrepareContext(ctx, `DELETE FROM local_list_entries WHERE station = ? AND id_tag = ?`)
			if err != nil {
				return err
			}
			defer del.Close()
			for _, e := range req.LocalAuthorizationList {
				if e.IdTagInfo == nil {
					_, err = del.ExecContext(ctx, station, e.IdTag)
				} else {
					var expiry sql.NullInt64
					if e.IdTagInfo.ExpiryDate != nil {
						expiry = nanos(e.IdTagInfo.ExpiryDate.Time)
					}
					_, err = set.ExecContext(ctx, station, e.IdTag, string(e.IdTagInfo.Status), expiry, e.IdTagInfo.ParentIdTag)
				}
				if err != nil {
					return fmt.Errorf("idTag %q: %w", e.IdTag, err)
				}
			}
		}
		_, err := tx.ExecContext(ctx, `
INSERT INTO local_lists (station, version, updated) VALUES (?1, ?2, ?3)
ON CONFLICT (station) DO UPDATE SET version = ?2, updated = ?3`, station, req.ListVersion, nanos(at))
		return err
	})
}

// LocalList implements store.Store.
func (s *Store) LocalList(ctx context.Context, station string) (store.LocalList, error) {
	list := store.LocalList{Entries: []store.LocalListEntry{}}
	err := s.read(ctx, "local list of "+station, func(tx *sql.Tx) error {
		var updated sql.NullInt64
		err := tx.QueryRowContext(ctx, `SELECT version, updated FROM local_lists WHERE station = ?`, station).Scan(&list.Version, &updated)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		list.Updated = fromNanos(updated)
		rows, err := tx.QueryContext(ctx, `
SELECT id_tag, status, expiry, parent_id_tag FROM local_list_entries WHERE station = ? ORDER BY id_tag`, station)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var e store.LocalListEntry
			var expiry sql.NullInt64
			if err := rows.Scan(&e.IdTag, &e.Info.Status, &expiry, &e.Info.ParentIdTag); err != nil {
				return err
			}
			if expiry.Valid {
				e.Info.ExpiryDate = &ocpp.DateTime{Time: fromNanos(expiry)}
			}
			list.Entries = append(list.Entries, e)
		}
		return rows.Err()
	})
	if err != nil {
		return store.LocalList{}, err
	}
	return list, nil
}

// Reserve implements store.Store.
func (s *Store) Reserve(ctx context.Context, station string, req ocpp.ReserveNowRequest, at time.Time) error {
	return s.write(ctx, fmt.Sprintf("reservation %d of %s", req.ReservationId, station), func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, upsertStation, station); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `
INSERT OR REPLACE INTO reservations (station, id, connector, id_tag, parent_id_tag, expiry, made) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			station, req.ReservationId, req.ConnectorId, req.IdTag, req.ParentIdTag, nanos(req.ExpiryDate.Time), nanos(at))
		return err
	})
}

// EndReservation implements store.Store.
func (s *Store) EndReservation(ctx context.Context, station string, id int) (known bool, err error) {
	err = s.write(ctx, fmt.Sprintf("end of reservation %d of %s", id, station), func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM reservations WHERE station = ? AND id = ?`, station, id)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		known = n > 0
		return err
	})
	if err != nil {
		return false, err
	}
	return known, nil
}

// Reservations implements store.Store.
func (s *Store) Reservations(ctx context.Context, station string, at time.Time) ([]store.Reservation, error) {
	list := []store.Reservation{}
	err := s.read(ctx, "reservations of "+station, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `
SELECT id, connector, id_tag, parent_id_tag, expiry, made FROM reservations
WHERE station = ? AND expiry > ? ORDER BY id`, station, at.UnixNano())
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r store.Reservation
			var expiry, made sql.NullInt64
			if err := rows.Scan(&r.ID, &r.ConnectorID, &r.IdTag, &r.ParentIdTag, &expiry, &made); err != nil {
				return err
			}
			r.Expiry, r.Made = fromNanos(expiry), fromNanos(made)
			list = append(list, r)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return list, nil
}

// SetChargingProfile implements store.Store: the profiles it replaces go
// in the same transaction as it comes.
func (s *Store) SetChargingProfile(ctx context.Context, station string, req ocpp.SetChargingProfileRequest, at time.Time) error {
	p := req.CsChargingProfiles
	return s.write(ctx, fmt.Sprintf("charging profile %d of %s", p.ChargingProfileId, station), func(ctx context.Context, tx *sql.Tx) error {
		b, err := json.Marshal(p)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, upsertStation, station); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `
DELETE FROM charging_profiles
WHERE station = ?1 AND (id = ?2 OR (connector = ?3 AND stack_level = ?4 AND purpose = ?5))`,
			station, p.ChargingProfileId, req.ConnectorId, p.StackLevel, string(p.ChargingProfilePurpose)); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `
INSERT INTO charging_profiles (station, id, connector, stack_level, purpose, profile, set_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			station, p.ChargingProfileId, req.ConnectorId, p.StackLevel, string(p.ChargingProfilePurpose), string(b), nanos(at))
		return err
	})
}

// ClearChargingProfile implements store.Store.
func (s *Store) ClearChargingProfile(ctx context.Context, station string, req ocpp.ClearChargingProfileRequest) (removed int, err error) {
	optional := func(p *int) sql.NullInt64 {
		if p == nil {
			return sql.NullInt64{}
		}
		return sql.NullInt64{Int64: int64(*p), Valid: true}
	}
	err = s.write(ctx, "clearing charging profiles of "+station, func(ctx context.Context, tx *sql.Tx) error {
		// A filter that is NULL (or '') matches every profile.
		res, err := tx.ExecContext(ctx, `
DELETE FROM charging_profiles
WHERE station = ?1 AND (?2 IS NULL OR id = ?2) AND (?3 IS NULL OR connector = ?3)
	AND (?4 = '' OR purpose = ?4) AND (?5 IS NULL OR stack_level = ?5)`,
			station, optional(req.Id), optional(req.ConnectorId), string(req.ChargingProfilePurpose), optional(req.StackLevel))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		removed = int(n)
		return err
	})
	if err != nil {
		return 0, err
	}
	return removed, nil
}

// ChargingProfiles implements store.Store.
func (s *Store) ChargingProfiles(ctx context.Context, station string) ([]store.ChargingProfile, error) {
	list := []store.ChargingProfile{}
	err := s.read(ctx, "charging profiles of "+station, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `
SELECT id, connector, profile, set_at FROM charging_profiles WHERE station = ? ORDER BY connector, id`, station)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id int
			var cp store.ChargingProfile
			var profile string
			var set sql.NullInt64
			if err := rows.Scan(&id, &cp.ConnectorID, &profile, &set); err != nil {
				return err
			}
			if err := json.Unmarshal([]byte(profile), &cp.Profile); err != nil {
				return fmt.Errorf("charging profile %d: %w", id, err)
			}
			cp.Set = fromNanos(set)
			list = append(list, cp)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return list, nil
}
