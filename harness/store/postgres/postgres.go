// Package postgres is a store.Store in a PostgreSQL database, through
// github.com/jackc/pgx/v5: the store of a central system that runs as
// several nodes, each with a Store of its own on the same database.
//
// What it guarantees, across every Store that shares the database:
//
//   - A write that returns nil is committed. Each write is one
//     transaction; a batch (Seen, Statuses, MeterValues) is all of its
//     rows or, with an error, none.
//   - Transaction ids come from one sequence: unique across nodes and
//     never given twice, not after a restart either. They are not dense: a
//     replayed start or a rolled-back one leaves a gap.
//   - A replayed StartTransaction gets the id the first one got, whichever
//     node each arrives at: the replay's key is a unique index, and the
//     start is one INSERT … ON CONFLICT DO NOTHING, then a read of the row
//     that won, never a read then a write that another node may come
//     between.
//   - A stop sent twice, to one node or to two, records its samples once.
//   - A write that PostgreSQL aborts for a deadlock or a serialization
//     failure had no effect: it is tried again, a few times, before it
//     fails.
//   - A read of several tables (Stations) sees one snapshot.
//   - Open creates the schema or migrates it in one transaction, under an
//     advisory lock: several nodes may open the database at once. It
//     refuses a schema newer than this code knows.
//
// Times are stored as UTC nanoseconds and come back in UTC, exact.
//
// The database is named by a URL, as for psql:
// postgres://user:password@host:port/database (also postgresql://); a
// search_path parameter puts the tables in a schema of their own, and the
// password may come from PGPASSWORD or ~/.pgpass instead.
package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/harness/store"
)

// Store is a store.Store in a PostgreSQL database. It is safe for
// concurrent use.
type Store struct {
	pool  *pgxpool.Pool
	where string
}

var _ store.Store = (*Store)(nil)

// connectTimeout bounds each connection's dial and handshake when the URL
// gives no connect_timeout: a server that is not there fails Open within
// it, rather than after the operating system's TCP timeout.
const connectTimeout = 10 * time.Second

// IsURL reports whether s names a PostgreSQL database (postgres:// or
// postgresql://) rather than a file.
func IsURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// Open connects to the database that url names, and creates its schema
// or brings it up to date. It refuses a URL it cannot parse, a server it
// cannot reach or log in to, and a schema newer than this code knows,
// with an error that says what to check. No error, nor Where, shows the
// password.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgconn masks the password in the URL it quotes.
		return nil, fmt.Errorf("store/postgres: %w (want postgres://user:password@host:port/database)", err)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = connectTimeout
	}
	s := &Store{where: where(cfg.ConnConfig)}
	// The pool connects when it is first used: by the migration.
	if s.pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return nil, s.openError(err)
	}
	if err := s.migrate(ctx); err != nil {
		s.pool.Close()
		return nil, err
	}
	return s, nil
}

// Where says which database the Store is in: its name, the server and
// the user, never the password.
func (s *Store) Where() string { return s.where }

func where(c *pgx.ConnConfig) string {
	w := fmt.Sprintf("database %s on %s as %s", c.Database, net.JoinHostPort(c.Host, fmt.Sprint(c.Port)), c.User)
	if sp := c.RuntimeParams["search_path"]; sp != "" {
		w += ", schema " + sp
	}
	return w
}

// openError wraps an error of Open's with what to check.
func (s *Store) openError(err error) error {
	var hint string
	var pgErr *pgconn.PgError
	var netErr net.Error
	switch {
	case errors.As(err, &pgErr) && (pgErr.Code == "28P01" || pgErr.Code == "28000"):
		hint = "check the user and the password (in the URL, PGPASSWORD or ~/.pgpass)"
	case errors.As(err, &pgErr) && pgErr.Code == "3D000":
		hint = "the database does not exist: create it (createdb), or name another"
	case errors.As(err, &pgErr) && pgErr.Code == "42501":
		hint = "the user may not create tables there: grant it CREATE, or give another database or schema"
	case errors.As(err, &pgErr):
		hint = "check the server's log"
	case errors.As(err, &netErr), errors.Is(err, context.DeadlineExceeded):
		hint = "check that the server runs, listens on that host and port, and that this machine may reach it"
	default:
		hint = "check that the server runs and the URL names it"
	}
	return fmt.Errorf("store/postgres: cannot open %s: %w (%s)", s.where, err, hint)
}

// migrate brings the schema to len(migrations), in one transaction.
func (s *Store) migrate(ctx context.Context) error {
	// The first connection: whether the server is there, and lets us in.
	if err := s.pool.Ping(ctx); err != nil {
		return s.openError(err)
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Several nodes may open the database at once: the first takes
		// the lock and creates or migrates the schema, the others wait
		// and then find it done. The key is the schema's, so that the
		// schemas of one database do not wait for each other.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('ocppkata store ' || coalesce(current_schema(), ''), 0))`); err != nil {
			return s.openError(err)
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT to_regclass('kata_schema') IS NOT NULL`).Scan(&exists); err != nil {
			return s.openError(err)
		}
		version := 0
		if !exists {
			if _, err := tx.Exec(ctx, `
CREATE TABLE kata_schema (
	one     boolean PRIMARY KEY DEFAULT true CHECK (one),
	version integer NOT NULL
);
INSERT INTO kata_schema (version) VALUES (0)`); err != nil {
				return s.openError(err)
			}
		} else if err := tx.QueryRow(ctx, `SELECT version FROM kata_schema`).Scan(&version); err != nil {
			return s.openError(err)
		}
		if version > len(migrations) {
			return fmt.Errorf("store/postgres: %s has schema version %d, and this code knows versions up to %d: a newer version of the kata wrote it; run that version, or give another database", s.where, version, len(migrations))
		}
		for ; version < len(migrations); version++ {
			if _, err := tx.Exec(ctx, migrations[version]); err != nil {
				return fmt.Errorf("store/postgres: %s: migrating the schema to version %d: %w", s.where, version+1, err)
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE kata_schema SET version = $1`, version); err != nil {
			return s.openError(err)
		}
		return nil
	})
}

// Close closes the Store's connections. Nothing may be called after it.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// attempts is how many times a write is tried that PostgreSQL aborted for
// a deadlock or a serialization failure.
const attempts = 5

// write runs fn in a transaction and commits it. fn may run more than once:
// it must set its results afresh each time. The error names what was being
// written and wraps the cause.
func (s *Store) write(ctx context.Context, what string, fn func(tx pgx.Tx) error) error {
	var err error
	for range attempts {
		// Read committed, whatever the server's default: each statement
		// sees what other nodes committed before it began, which is what
		// StartTransaction's read after ON CONFLICT counts on.
		err = pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, fn)
		if !retryable(err) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("store/postgres: %s: %w", what, err)
	}
	return nil
}

// retryable reports whether err is PostgreSQL's abort of a transaction
// that may succeed if run again: a deadlock, a serialization failure.
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40P01" || pgErr.Code == "40001")
}

// read runs fn in a read-only transaction: one snapshot of the database.
func (s *Store) read(ctx context.Context, what string, fn func(tx pgx.Tx) error) error {
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, fn)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("store/postgres: reading %s: %w", what, err)
	}
	return err
}

// batch is statements sent in one round trip, each with a name for its
// error.
type batch struct {
	b     pgx.Batch
	names []string
}

func (b *batch) queue(name, sql string, args ...any) {
	b.b.Queue(sql, args...)
	b.names = append(b.names, name)
}

// send runs the batch in tx, in order; the first error names its
// statement.
func (b *batch) send(ctx context.Context, tx pgx.Tx) error {
	if b.b.Len() == 0 {
		return nil
	}
	br := tx.SendBatch(ctx, &b.b)
	for _, name := range b.names {
		if _, err := br.Exec(); err != nil {
			br.Close()
			if name != "" {
				return fmt.Errorf("%s: %w", name, err)
			}
			return err
		}
	}
	return br.Close()
}

// nanos is how a time is stored: UTC nanoseconds, NULL for the zero time.
func nanos(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	n := t.UnixNano()
	return &n
}

func fromNanos(n *int64) time.Time {
	if n == nil {
		return time.Time{}
	}
	return time.Unix(0, *n).UTC()
}

// upsertStation makes sure the station has a row: a station is seen by
// whatever it sends first, which is not always a boot (the central system
// may have restarted since).
const upsertStation = `INSERT INTO stations (id) VALUES ($1) ON CONFLICT DO NOTHING`

// queueStations queues upsertStation for each station once, by id: two
// nodes inserting the same new stations take their locks in the same
// order, and never wait for each other in a circle.
func queueStations(b *batch, stations []string) {
	slices.Sort(stations)
	for _, id := range slices.Compact(stations) {
		b.queue(id, upsertStation, id)
	}
}

// Boot implements store.Store.
func (s *Store) Boot(ctx context.Context, station string, req ocpp.BootNotificationRequest, at time.Time) error {
	return s.write(ctx, "boot of "+station, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `
INSERT INTO stations (id, vendor, model, firmware, last_seen) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (id) DO UPDATE SET vendor = EXCLUDED.vendor, model = EXCLUDED.model, firmware = EXCLUDED.firmware,
	last_seen = greatest(stations.last_seen, EXCLUDED.last_seen)`,
			station, req.ChargePointVendor, req.ChargePointModel, req.FirmwareVersion, nanos(at))
		return err
	})
}

// FirmwareReport implements store.Store.
func (s *Store) FirmwareReport(ctx context.Context, station string, r store.FirmwareReport) error {
	return s.write(ctx, "firmware report of "+station, func(tx pgx.Tx) error {
		var b batch
		if r.Firmware != "" {
			b.queue("firmware status", `
INSERT INTO stations (id, firmware_status, firmware_status_at) VALUES ($1, $2, $3)
ON CONFLICT (id) DO UPDATE SET firmware_status = EXCLUDED.firmware_status, firmware_status_at = EXCLUDED.firmware_status_at`,
				station, string(r.Firmware), nanos(r.At))
		}
		if r.Diagnostics != "" {
			b.queue("diagnostics status", `
INSERT INTO stations (id, diagnostics_status, diagnostics_status_at) VALUES ($1, $2, $3)
ON CONFLICT (id) DO UPDATE SET diagnostics_status = EXCLUDED.diagnostics_status, diagnostics_status_at = EXCLUDED.diagnostics_status_at`,
				station, string(r.Diagnostics), nanos(r.At))
		}
		return b.send(ctx, tx)
	})
}

// Seen implements store.Store. A time older than the one stored does not
// move it back. The stations are written by id: two nodes' flushes lock
// their rows in the same order.
func (s *Store) Seen(ctx context.Context, seen map[string]time.Time) error {
	if len(seen) == 0 {
		return nil
	}
	ids := slices.Sorted(maps.Keys(seen))
	return s.write(ctx, fmt.Sprintf("signs of life of %d stations", len(seen)), func(tx pgx.Tx) error {
		var b batch
		for _, id := range ids {
			b.queue(id, `
INSERT INTO stations (id, last_seen) VALUES ($1, $2)
ON CONFLICT (id) DO UPDATE SET last_seen = greatest(stations.last_seen, EXCLUDED.last_seen)`, id, nanos(seen[id]))
		}
		return b.send(ctx, tx)
	})
}

// StartTransaction implements store.Store. The insert is the replay
// check: of two identical starts, on one node or two, one inserts and the
// other's ON CONFLICT waits for it to commit, inserts nothing, and reads
// the id it got.
func (s *Store) StartTransaction(ctx context.Context, station string, req ocpp.StartTransactionRequest) (int, error) {
	var id int
	key := []any{station, req.ConnectorId, req.IdTag, req.MeterStart, nanos(req.Timestamp.Time)}
	err := s.write(ctx, "start of a transaction on "+station, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, upsertStation, station); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `
INSERT INTO transactions (station, connector, id_tag, meter_start, start) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (station, connector, id_tag, meter_start, (coalesce(start, -9223372036854775808))) DO NOTHING
RETURNING id`, key...).Scan(&id)
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		// A replay: the first start is committed (ON CONFLICT saw it),
		// and this statement's snapshot, taken after, sees it.
		return tx.QueryRow(ctx, `
SELECT id FROM transactions
WHERE station = $1 AND connector = $2 AND id_tag = $3 AND meter_start = $4 AND start IS NOT DISTINCT FROM $5`, key...).Scan(&id)
	})
	if err != nil {
		return 0, err
	}
	return id, nil
}

// StopTransaction implements store.Store. A transaction is known if it was
// started by the same station. The stop is one UPDATE of a transaction not
// yet stopped: of two stops of one transaction, on one node or two, the
// second waits for the first, then updates nothing, and stores no samples.
func (s *Store) StopTransaction(ctx context.Context, station string, req ocpp.StopTransactionRequest) (known bool, err error) {
	err = s.write(ctx, fmt.Sprintf("stop of transaction %d on %s", req.TransactionId, station), func(tx pgx.Tx) error {
		known = false
		var connector int
		err := tx.QueryRow(ctx, `
UPDATE transactions SET meter_stop = $3, stop = $4, reason = $5
WHERE id = $1 AND station = $2 AND stop IS NULL
RETURNING connector`, req.TransactionId, station, req.MeterStop, nanos(req.Timestamp.Time), req.Reason).Scan(&connector)
		if errors.Is(err, pgx.ErrNoRows) {
			// Stopped already, or not this station's, or never started.
			return tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM transactions WHERE id = $1 AND station = $2)`,
				req.TransactionId, station).Scan(&known)
		}
		if err != nil {
			return err
		}
		known = true
		return copySamples(ctx, tx, sampleRows(nil, station, connector, &req.TransactionId, req.TransactionData))
	})
	if err != nil {
		return false, err
	}
	return known, nil
}

// Statuses implements store.Store: all updates in one transaction and one
// round trip. Of one connector's updates only the last is written, and
// they are written by station and connector, so that two nodes' writes
// lock rows in the same order.
func (s *Store) Statuses(ctx context.Context, updates []store.StatusUpdate) error {
	if len(updates) == 0 {
		return nil
	}
	type key struct {
		station   string
		connector int
	}
	last := map[key]store.StatusUpdate{}
	var stations []string
	for _, u := range updates {
		last[key{u.Station, u.Request.ConnectorId}] = u
		stations = append(stations, u.Station)
	}
	keys := slices.SortedFunc(maps.Keys(last), func(a, b key) int {
		return cmp.Or(strings.Compare(a.station, b.station), cmp.Compare(a.connector, b.connector))
	})
	what := fmt.Sprintf("%d statuses", len(updates))
	if len(updates) == 1 {
		what = fmt.Sprintf("status of %s connector %d", updates[0].Station, updates[0].Request.ConnectorId)
	}
	return s.write(ctx, what, func(tx pgx.Tx) error {
		var b batch
		queueStations(&b, stations)
		for _, k := range keys {
			u := last[k]
			// The status is of the time the station gives, if it gives one.
			req, updated := u.Request, u.At
			if req.Timestamp != nil {
				updated = req.Timestamp.Time
			}
			b.queue(fmt.Sprintf("%s connector %d", k.station, k.connector), `
INSERT INTO connectors (station, id, status, error_code, info, updated) VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (station, id) DO UPDATE SET status = EXCLUDED.status, error_code = EXCLUDED.error_code,
	info = EXCLUDED.info, updated = EXCLUDED.updated`,
				k.station, k.connector, string(req.Status), string(req.ErrorCode), req.Info, nanos(updated))
		}
		return b.send(ctx, tx)
	})
}

// MeterValues implements store.Store: all readings in one transaction, the
// stations in one round trip, the samples in one COPY.
func (s *Store) MeterValues(ctx context.Context, readings []store.Reading) error {
	if len(readings) == 0 {
		return nil
	}
	return s.write(ctx, fmt.Sprintf("%d meter readings", len(readings)), func(tx pgx.Tx) error {
		var b batch
		stations := make([]string, len(readings))
		for i, r := range readings {
			stations[i] = r.Station
		}
		queueStations(&b, stations)
		if err := b.send(ctx, tx); err != nil {
			return err
		}
		var rows [][]any
		for _, r := range readings {
			rows = sampleRows(rows, r.Station, r.Request.ConnectorId, r.Request.TransactionId, r.Request.MeterValue)
		}
		return copySamples(ctx, tx, rows)
	})
}

// sampleColumns are the columns of samples that copySamples fills.
var sampleColumns = []string{"station", "connector", "transaction_id", "taken", "value", "measurand", "unit", "context", "phase", "location", "format"}

// sampleRows appends one row of sampleColumns per sampled value, in order:
// within one time, samples are listed in the order they were stored.
func sampleRows(rows [][]any, station string, connector int, txID *int, values []ocpp.MeterValue) [][]any {
	for _, mv := range values {
		taken := nanos(mv.Timestamp.Time)
		for _, v := range mv.SampledValue {
			rows = append(rows, []any{station, connector, txID, taken, v.Value, v.Measurand, v.Unit, v.Context, v.Phase, v.Location, v.Format})
		}
	}
	return rows
}

// copySamples stores rows of sampleColumns with COPY: a batch of meter
// values is one statement, not one per sample.
func copySamples(ctx context.Context, tx pgx.Tx, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"samples"}, sampleColumns, pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("%d samples: %w", len(rows), err)
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
		return store.Station{}, fmt.Errorf("store/postgres: station %q: %w", id, store.ErrNotFound)
	}
	return list[0], nil
}

// stations reads one station, or all if id is "", in one snapshot: the
// stations, their connectors and their open transactions are of the same
// moment.
func (s *Store) stations(ctx context.Context, id string) ([]store.Station, error) {
	var list []store.Station
	err := s.read(ctx, "stations", func(tx pgx.Tx) error {
		list = nil
		rows, err := tx.Query(ctx, `
SELECT id, vendor, model, firmware, last_seen, firmware_status, firmware_status_at, diagnostics_status, diagnostics_status_at
FROM stations WHERE $1 = '' OR id = $1 ORDER BY id`, id)
		if err != nil {
			return err
		}
		index := map[string]int{}
		for rows.Next() {
			var st store.Station
			var seen, firmwareAt, diagnosticsAt *int64
			var firmware, diagnostics string
			if err := rows.Scan(&st.ID, &st.Vendor, &st.Model, &st.Firmware, &seen,
				&firmware, &firmwareAt, &diagnostics, &diagnosticsAt); err != nil {
				rows.Close()
				return err
			}
			st.LastSeen = fromNanos(seen)
			st.FirmwareStatus, st.FirmwareStatusAt = ocpp.FirmwareStatus(firmware), fromNanos(firmwareAt)
			st.DiagnosticsStatus, st.DiagnosticsStatusAt = ocpp.DiagnosticsStatus(diagnostics), fromNanos(diagnosticsAt)
			st.Connectors = []store.Connector{}
			st.OpenTransactions = []int{}
			index[st.ID] = len(list)
			list = append(list, st)
		}
		if err := rows.Err(); err != nil {
			return err
		}

		rows, err = tx.Query(ctx, `
SELECT station, id, status, error_code, info, updated FROM connectors WHERE $1 = '' OR station = $1 ORDER BY station, id`, id)
		if err != nil {
			return err
		}
		for rows.Next() {
			var station string
			var c store.Connector
			var updated *int64
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

		rows, err = tx.Query(ctx, `
SELECT station, id FROM transactions WHERE stop IS NULL AND ($1 = '' OR station = $1) ORDER BY station, id`, id)
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

const transactionColumns = `id, station, connector, id_tag, meter_start, start, meter_stop, stop, reason`

func scanTransaction(row pgx.Row) (store.Transaction, error) {
	var t store.Transaction
	var start, stop *int64
	if err := row.Scan(&t.ID, &t.Station, &t.ConnectorID, &t.IdTag, &t.MeterStart, &start, &t.MeterStop, &stop, &t.Reason); err != nil {
		return t, err
	}
	t.Start = fromNanos(start)
	if stop != nil {
		at := fromNanos(stop)
		t.Stop = &at
	}
	return t, nil
}

// Transactions implements store.Store.
func (s *Store) Transactions(ctx context.Context, station string) ([]store.Transaction, error) {
	var list []store.Transaction
	err := s.read(ctx, "transactions", func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+transactionColumns+` FROM transactions WHERE $1 = '' OR station = $1 ORDER BY id`, station)
		if err != nil {
			return err
		}
		list, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Transaction, error) { return scanTransaction(row) })
		return err
	})
	if err != nil {
		return nil, err
	}
	if list == nil {
		list = []store.Transaction{}
	}
	return list, nil
}

// Transaction implements store.Store.
func (s *Store) Transaction(ctx context.Context, id int) (store.Transaction, error) {
	var t store.Transaction
	err := s.read(ctx, fmt.Sprintf("transaction %d", id), func(tx pgx.Tx) error {
		var err error
		t, err = scanTransaction(tx.QueryRow(ctx, `SELECT `+transactionColumns+` FROM transactions WHERE id = $1`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("store/postgres: transaction %d: %w", id, store.ErrNotFound)
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
	err := s.read(ctx, fmt.Sprintf("meter values of transaction %d", id), func(tx pgx.Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM transactions WHERE id = $1)`, id).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return fmt.Errorf("store/postgres: transaction %d: %w", id, store.ErrNotFound)
		}
		rows, err := tx.Query(ctx, `
SELECT s.taken, s.value, s.measurand, s.unit, s.context, s.phase, s.location, s.format
FROM samples s JOIN transactions t ON t.id = s.transaction_id AND t.station = s.station
WHERE s.transaction_id = $1 ORDER BY s.taken, s.seq`, id)
		if err != nil {
			return err
		}
		list, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Sample, error) {
			var sm store.Sample
			var taken *int64
			err := row.Scan(&taken, &sm.Value, &sm.Measurand, &sm.Unit, &sm.Context, &sm.Phase, &sm.Location, &sm.Format)
			sm.Timestamp = fromNanos(taken)
			return sm, err
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	if list == nil {
		list = []store.Sample{}
	}
	return list, nil
}

// SendLocalList implements store.Store: the list's changes and its
// version in one transaction.
func (s *Store) SendLocalList(ctx context.Context, station string, req ocpp.SendLocalListRequest, at time.Time) error {
	return s.write(ctx, fmt.Sprintf("local list %d of %s", req.ListVersion, station), func(tx pgx.Tx) error {
		var b batch
		b.queue("", upsertStation, station)
		if req.UpdateType == ocpp.UpdateFull {
			b.queue("", `DELETE FROM local_list_entries WHERE station = $1`, station)
		}
		for _, e := range req.LocalAuthorizationList {
			name := fmt.Sprintf("idTag %q", e.IdTag)
			if e.IdTagInfo == nil {
				b.queue(name, `DELETE FROM local_list_entries WHERE station = $1 AND id_tag = $2`, station, e.IdTag)
				continue
			}
			var expiry *int64
			if e.IdTagInfo.ExpiryDate != nil {
				expiry = nanos(e.IdTagInfo.ExpiryDate.Time)
			}
			b.queue(name, `
INSERT INTO local_list_entries (station, id_tag, status, expiry, parent_id_tag) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (station, id_tag) DO UPDATE SET status = EXCLUDED.status, expiry = EXCLUDED.expiry, parent_id_tag = EXCLUDED.parent_id_tag`,
				station, e.IdTag, string(e.IdTagInfo.Status), expiry, e.IdTagInfo.ParentIdTag)
		}
		b.queue("", `
INSERT INTO local_lists (station, version, updated) VALUES ($1, $2, $3)
ON CONFLICT (station) DO UPDATE SET version = EXCLUDED.version, updated = EXCLUDED.updated`, station, req.ListVersion, nanos(at))
		return b.send(ctx, tx)
	})
}

// LocalList implements store.Store.
func (s *Store) LocalList(ctx context.Context, station string) (store.LocalList, error) {
	list := store.LocalList{Entries: []store.LocalListEntry{}}
	err := s.read(ctx, "local list of "+station, func(tx pgx.Tx) error {
		var updated *int64
		err := tx.QueryRow(ctx, `SELECT version, updated FROM local_lists WHERE station = $1`, station).Scan(&list.Version, &updated)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		list.Updated = fromNanos(updated)
		rows, err := tx.Query(ctx, `
SELECT id_tag, status, expiry, parent_id_tag FROM local_list_entries WHERE station = $1 ORDER BY id_tag`, station)
		if err != nil {
			return err
		}
		entries, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.LocalListEntry, error) {
			var e store.LocalListEntry
			var status string
			var expiry *int64
			if err := row.Scan(&e.IdTag, &status, &expiry, &e.Info.ParentIdTag); err != nil {
				return e, err
			}
			e.Info.Status = ocpp.AuthorizationStatus(status)
			if expiry != nil {
				e.Info.ExpiryDate = &ocpp.DateTime{Time: fromNanos(expiry)}
			}
			return e, nil
		})
		list.Entries = append(list.Entries, entries...)
		return err
	})
	if err != nil {
		return store.LocalList{}, err
	}
	return list, nil
}

// Reserve implements store.Store.
func (s *Store) Reserve(ctx context.Context, station string, req ocpp.ReserveNowRequest, at time.Time) error {
	return s.write(ctx, fmt.Sprintf("reservation %d of %s", req.ReservationId, station), func(tx pgx.Tx) error {
		var b batch
		b.queue("", upsertStation, station)
		b.queue("", `
INSERT INTO reservations (station, id, connector, id_tag, parent_id_tag, expiry, made) VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (station, id) DO UPDATE SET connector = EXCLUDED.connector, id_tag = EXCLUDED.id_tag,
	parent_id_tag = EXCLUDED.parent_id_tag, expiry = EXCLUDED.expiry, made = EXCLUDED.made`,
			station, req.ReservationId, req.ConnectorId, req.IdTag, req.ParentIdTag, nanos(req.ExpiryDate.Time), nanos(at))
		return b.send(ctx, tx)
	})
}

// EndReservation implements store.Store.
func (s *Store) EndReservation(ctx context.Context, station string, id int) (known bool, err error) {
	err = s.write(ctx, fmt.Sprintf("end of reservation %d of %s", id, station), func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM reservations WHERE station = $1 AND id = $2`, station, id)
		known = err == nil && tag.RowsAffected() > 0
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
	err := s.read(ctx, "reservations of "+station, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
SELECT id, connector, id_tag, parent_id_tag, expiry, made FROM reservations
WHERE station = $1 AND expiry > $2 ORDER BY id`, station, at.UnixNano())
		if err != nil {
			return err
		}
		rs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Reservation, error) {
			var r store.Reservation
			var expiry, made *int64
			err := row.Scan(&r.ID, &r.ConnectorID, &r.IdTag, &r.ParentIdTag, &expiry, &made)
			r.Expiry, r.Made = fromNanos(expiry), fromNanos(made)
			return r, err
		})
		list = append(list, rs...)
		return err
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
	profile, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("store/postgres: charging profile %d of %s: %w", p.ChargingProfileId, station, err)
	}
	return s.write(ctx, fmt.Sprintf("charging profile %d of %s", p.ChargingProfileId, station), func(tx pgx.Tx) error {
		var b batch
		b.queue("", upsertStation, station)
		b.queue("", `
DELETE FROM charging_profiles
WHERE station = $1 AND (id = $2 OR (connector = $3 AND stack_level = $4 AND purpose = $5))`,
			station, p.ChargingProfileId, req.ConnectorId, p.StackLevel, string(p.ChargingProfilePurpose))
		b.queue("", `
INSERT INTO charging_profiles (station, id, connector, stack_level, purpose, profile, set_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			station, p.ChargingProfileId, req.ConnectorId, p.StackLevel, string(p.ChargingProfilePurpose), string(profile), nanos(at))
		return b.send(ctx, tx)
	})
}

// ClearChargingProfile implements store.Store.
func (s *Store) ClearChargingProfile(ctx context.Context, station string, req ocpp.ClearChargingProfileRequest) (removed int, err error) {
	err = s.write(ctx, "clearing charging profiles of "+station, func(tx pgx.Tx) error {
		// A filter that is NULL (or '') matches every profile.
		tag, err := tx.Exec(ctx, `
DELETE FROM charging_profiles
WHERE station = $1 AND ($2::integer IS NULL OR id = $2) AND ($3::integer IS NULL OR connector = $3)
	AND ($4 = '' OR purpose = $4) AND ($5::integer IS NULL OR stack_level = $5)`,
			station, req.Id, req.ConnectorId, string(req.ChargingProfilePurpose), req.StackLevel)
		removed = int(tag.RowsAffected())
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
	err := s.read(ctx, "charging profiles of "+station, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
SELECT id, connector, profile, set_at FROM charging_profiles WHERE station = $1 ORDER BY connector, id`, station)
		if err != nil {
			return err
		}
		ps, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.ChargingProfile, error) {
			var id int
			var cp store.ChargingProfile
			var profile string
			var set *int64
			if err := row.Scan(&id, &cp.ConnectorID, &profile, &set); err != nil {
				return cp, err
			}
			if err := json.Unmarshal([]byte(profile), &cp.Profile); err != nil {
				return cp, fmt.Errorf("charging profile %d: %w", id, err)
			}
			cp.Set = fromNanos(set)
			return cp, nil
		})
		list = append(list, ps...)
		return err
	})
	if err != nil {
		return nil, err
	}
	return list, nil
}
