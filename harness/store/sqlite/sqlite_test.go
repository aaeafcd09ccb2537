package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/driver"
	"go.uber.org/goleak"

	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/harness/store"
	"github.com/ocppkata/kata/harness/store/storetest"
)

// TestMain checks that a closed Store leaves no goroutine behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// openTemp opens a new database in a file of the test's own.
func openTemp(t *testing.T, opts Options) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kata.db")
	s, err := OpenOptions(path, opts)
	if err != nil {
		t.Fatalf("OpenOptions(%s): %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

// rawDB opens the file the way another program would: a plain
// connection, outside the Store.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := driver.Open(dsn(path, "deferred"))
	if err != nil {
		t.Fatalf("opening %s on the side: %v", path, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, _ := openTemp(t, Options{})
		return s
	})
}

// TestNodes: two Stores on one file, as two processes on one machine
// would have.
func TestNodes(t *testing.T) {
	storetest.RunShared(t, func(t *testing.T) (store.Store, store.Store) {
		a, path := openTemp(t, Options{})
		b, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return a, b
	})
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 987654321, time.UTC)

func dt(seconds int) ocpp.DateTime {
	return ocpp.DateTime{Time: t0.Add(time.Duration(seconds) * time.Second)}
}

func energy(seconds int, wh string) ocpp.MeterValue {
	return ocpp.MeterValue{Timestamp: dt(seconds), SampledValue: []ocpp.SampledValue{{Value: wh, Measurand: "Energy.Active.Import.Register", Unit: "Wh"}}}
}

// fill writes a little of everything, and returns the ids of the
// transactions it started.
func fill(t *testing.T, s store.Store) []int {
	t.Helper()
	ctx := t.Context()
	var ids []int
	for i := range 3 {
		id := fmt.Sprintf("CS%d", i)
		if err := s.Boot(ctx, id, ocpp.BootNotificationRequest{ChargePointVendor: "Acme", ChargePointModel: "M", FirmwareVersion: "1.0"}, t0); err != nil {
			t.Fatal(err)
		}
		if err := s.Statuses(ctx, []store.StatusUpdate{{Station: id, Request: ocpp.StatusNotificationRequest{
			ConnectorId: 1, Status: ocpp.StatusCharging, ErrorCode: ocpp.ChargePointNoError}, At: t0.Add(time.Second)}}); err != nil {
			t.Fatal(err)
		}
		for c := 1; c <= 2; c++ {
			tx, err := s.StartTransaction(ctx, id, ocpp.StartTransactionRequest{ConnectorId: c, IdTag: "TAG", MeterStart: 10, Timestamp: dt(2)})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, tx)
			if err := s.MeterValues(ctx, []store.Reading{{Station: id, Request: ocpp.MeterValuesRequest{ConnectorId: c, TransactionId: &tx, MeterValue: []ocpp.MeterValue{energy(3, "20"), energy(4, "30")}}}}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.StopTransaction(ctx, id, ocpp.StopTransactionRequest{TransactionId: ids[len(ids)-1], MeterStop: 40, Timestamp: dt(5), Reason: ocpp.ReasonRemote, TransactionData: []ocpp.MeterValue{energy(5, "40")}}); err != nil {
			t.Fatal(err)
		}
		if err := s.Seen(ctx, map[string]time.Time{id: t0.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		expiry := dt(3600)
		if err := s.SendLocalList(ctx, id, ocpp.SendLocalListRequest{ListVersion: i + 1, UpdateType: ocpp.UpdateFull,
			LocalAuthorizationList: []ocpp.AuthorizationData{{IdTag: "TAG", IdTagInfo: &ocpp.IdTagInfo{Status: ocpp.AuthorizationAccepted, ExpiryDate: &expiry}}}},
			t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := s.Reserve(ctx, id, ocpp.ReserveNowRequest{ConnectorId: 1, ExpiryDate: dt(3600), IdTag: "TAG", ReservationId: i}, t0); err != nil {
			t.Fatal(err)
		}
		limit := 16.5
		if err := s.SetChargingProfile(ctx, id, ocpp.SetChargingProfileRequest{ConnectorId: 1, CsChargingProfiles: ocpp.ChargingProfile{
			ChargingProfileId: i, StackLevel: 1, ChargingProfilePurpose: ocpp.PurposeTxDefault, ChargingProfileKind: ocpp.KindRelative,
			ChargingSchedule: ocpp.ChargingSchedule{ChargingRateUnit: ocpp.ChargingRateA, MinChargingRate: &limit,
				ChargingSchedulePeriod: []ocpp.ChargingSchedulePeriod{{Limit: limit}}}}}, t0); err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

// snapshot is everything a Store returns.
type snapshot struct {
	Stations     []store.Station
	Transactions []store.Transaction
	Samples      map[int][]store.Sample
	LocalLists   map[string]store.LocalList
	Reservations map[string][]store.Reservation
	Profiles     map[string][]store.ChargingProfile
}

func snap(t *testing.T, s store.Store) snapshot {
	t.Helper()
	ctx := t.Context()
	var sn snapshot
	var err error
	if sn.Stations, err = s.Stations(ctx); err != nil {
		t.Fatal(err)
	}
	if sn.Transactions, err = s.Transactions(ctx, ""); err != nil {
		t.Fatal(err)
	}
	sn.Samples = map[int][]store.Sample{}
	for _, tx := range sn.Transactions {
		if sn.Samples[tx.ID], err = s.TransactionMeterValues(ctx, tx.ID); err != nil {
			t.Fatal(err)
		}
	}
	sn.LocalLists = map[string]store.LocalList{}
	sn.Reservations = map[string][]store.Reservation{}
	sn.Profiles = map[string][]store.ChargingProfile{}
	for _, st := range sn.Stations {
		if sn.LocalLists[st.ID], err = s.LocalList(ctx, st.ID); err != nil {
			t.Fatal(err)
		}
		if sn.Reservations[st.ID], err = s.Reservations(ctx, st.ID, t0); err != nil {
			t.Fatal(err)
		}
		if sn.Profiles[st.ID], err = s.ChargingProfiles(ctx, st.ID); err != nil {
			t.Fatal(err)
		}
	}
	return sn
}

func TestRestartKeepsEverything(t *testing.T) {
	s, path := openTemp(t, Options{})
	ids := fill(t, s)
	before := snap(t, s)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s2, err := Open(path)
	if err != nil {
		t.Fatalf("reopening %s: %v", path, err)
	}
	t.Cleanup(func() { s2.Close() })
	after := snap(t, s2)
	if !reflect.DeepEqual(before, after) {
		t.Errorf("after a restart on the same file the store holds\n%+v\nwant what it held before\n%+v", after, before)
	}
	// Ids go on from where they were: a station still holds the old ones.
	id, err := s2.StartTransaction(t.Context(), "CS0", ocpp.StartTransactionRequest{ConnectorId: 1, IdTag: "NEW", Timestamp: dt(9)})
	if err != nil {
		t.Fatal(err)
	}
	for _, old := range ids {
		if id <= old {
			t.Errorf("after a restart a new transaction got id %d, not past the old id %d", id, old)
		}
	}
	// And a replay of a start from before the restart gets its old id.
	replay, err := s2.StartTransaction(t.Context(), "CS0", ocpp.StartTransactionRequest{ConnectorId: 1, IdTag: "TAG", MeterStart: 10, Timestamp: dt(2)})
	if err != nil {
		t.Fatal(err)
	}
	if replay != ids[0] {
		t.Errorf("a start replayed after a restart got id %d, want %d, the id it got before", replay, ids[0])
	}
}

// TestFileNameAsGiven: a name with characters that mean something in a
// URI is the file's name all the same.
func TestFileNameAsGiven(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a?b#c%20d.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	fill(t, s)
	s.Close()
	if _, err := os.Stat(path); err != nil {
		t.Errorf("Open(%q) did not write that file: %v", path, err)
	}
}

func TestOpenRefuses(t *testing.T) {
	newer := func(t *testing.T) string {
		s, path := openTemp(t, Options{})
		s.Close()
		if _, err := rawDB(t, path).Exec(`PRAGMA user_version = 99`); err != nil {
			t.Fatal(err)
		}
		return path
	}
	notADB := func(t *testing.T) string {
		path := filepath.Join(t.TempDir(), "notes.db")
		text := bytes.Repeat([]byte("these are my notes, not a database\n"), 100)
		if err := os.WriteFile(path, text, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	tests := []struct {
		name  string
		file  func(t *testing.T) string
		cause error    // errors.Is the error, if not nil
		says  []string // in the message, besides the file's name
	}{
		{"newer schema", newer, nil, []string{"schema version 99", fmt.Sprintf("knows versions up to %d", len(migrations)), "newer"}},
		{"not a database", notADB, sqlite3.NOTADB, []string{"not an SQLite database"}},
		{"no such folder", func(t *testing.T) string { return filepath.Join(t.TempDir(), "missing", "kata.db") }, sqlite3.CANTOPEN, []string{"folder exists"}},
		{"no path", func(t *testing.T) string { return "" }, nil, []string{"no file"}},
		{"in memory", func(t *testing.T) string { return ":memory:" }, nil, []string{"no file", "store.Memory"}},
		{"a folder", func(t *testing.T) string { return t.TempDir() }, sqlite3.CANTOPEN, []string{"is a folder"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.file(t)
			before, _ := os.ReadFile(path)
			s, err := Open(path)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%s) succeeded; want it refused", path)
			}
			t.Log(err)
			if tt.cause != nil && !errors.Is(err, tt.cause) {
				t.Errorf("Open(%s): %v; want an error wrapping %v", path, err, tt.cause)
			}
			for _, want := range append([]string{path}, tt.says...) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Open(%s): %q does not say %q", path, err, want)
				}
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
				t.Errorf("Open(%s) changed the file it refused", path)
			}
		})
	}
}

// TestReadOnlyFileRefused: a file that may not be written is refused by
// Open, rather than every write failing later. Root may write any file, so
// the test needs another user.
func TestReadOnlyFileRefused(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root may write a read-only file; run as another user to test this")
	}
	s, path := openTemp(t, Options{})
	fill(t, s)
	s.Close()
	if err := os.Chmod(path, 0o444); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(path)
	if err == nil {
		s2.Close()
		t.Fatalf("Open(%s) of a read-only file succeeded; want it refused", path)
	}
	t.Log(err)
	// The driver's VFS refuses to open it (CANTOPEN, permission denied);
	// SQLite's own falls back to read-only, which Open refuses (READONLY).
	if !errors.Is(err, sqlite3.CANTOPEN) && !errors.Is(err, sqlite3.READONLY) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "may be written") {
		t.Errorf("Open(%s): %v; want an error naming the file, wrapping SQLITE_CANTOPEN or SQLITE_READONLY, saying it must be writable", path, err)
	}
}

// writes are the Store's writes, each with a way to see whether it left
// anything behind.
var writes = []struct {
	name   string
	write  func(ctx context.Context, s store.Store) error
	stored func(t *testing.T, s store.Store) bool
}{
	{"Boot", func(ctx context.Context, s store.Store) error {
		return s.Boot(ctx, "NEW", ocpp.BootNotificationRequest{ChargePointVendor: "V", ChargePointModel: "M"}, t0)
	}, func(t *testing.T, s store.Store) bool {
		_, err := s.Station(t.Context(), "NEW")
		return err == nil
	}},
	{"Seen", func(ctx context.Context, s store.Store) error {
		return s.Seen(ctx, map[string]time.Time{"CS0": t0.Add(time.Hour)})
	}, func(t *testing.T, s store.Store) bool {
		st, err := s.Station(t.Context(), "CS0")
		return err == nil && st.LastSeen.Equal(t0.Add(time.Hour))
	}},
	{"StartTransaction", func(ctx context.Context, s store.Store) error {
		id, err := s.StartTransaction(ctx, "CS0", ocpp.StartTransactionRequest{ConnectorId: 3, IdTag: "X", Timestamp: dt(100)})
		if err == nil || id != 0 {
			return fmt.Errorf("got id %d, err %v; want id 0 and an error", id, err)
		}
		return err
	}, func(t *testing.T, s store.Store) bool {
		txs, err := s.Transactions(t.Context(), "CS0")
		return err == nil && len(txs) != 2
	}},
	{"StopTransaction", func(ctx context.Context, s store.Store) error {
		txs, _ := s.Transactions(ctx, "CS0")
		known, err := s.StopTransaction(ctx, "CS0", ocpp.StopTransactionRequest{TransactionId: txs[0].ID, MeterStop: 99, Timestamp: dt(100)})
		if known {
			return fmt.Errorf("known = true with err %v", err)
		}
		return err
	}, func(t *testing.T, s store.Store) bool {
		txs, err := s.Transactions(t.Context(), "CS0")
		return err == nil && txs[0].Stop != nil
	}},
	{"Statuses", func(ctx context.Context, s store.Store) error {
		return s.Statuses(ctx, []store.StatusUpdate{{Station: "CS0", Request: ocpp.StatusNotificationRequest{
			ConnectorId: 1, Status: ocpp.StatusFaulted, ErrorCode: ocpp.ChargePointGroundFailure}, At: t0.Add(time.Hour)}})
	}, func(t *testing.T, s store.Store) bool {
		st, err := s.Station(t.Context(), "CS0")
		return err == nil && st.Connectors[0].Status == string(ocpp.StatusFaulted)
	}},
	{"MeterValues", func(ctx context.Context, s store.Store) error {
		var rs []store.Reading
		for i := range 200 {
			rs = append(rs, store.Reading{Station: fmt.Sprintf("CS%d", i%3), Request: ocpp.MeterValuesRequest{ConnectorId: 1, MeterValue: []ocpp.MeterValue{energy(i, strings.Repeat("9", 200))}}})
		}
		return s.MeterValues(ctx, rs)
	}, func(t *testing.T, s store.Store) bool {
		var n int
		err := s.(*Store).r.QueryRowContext(t.Context(), `SELECT count(*) FROM samples WHERE transaction_id IS NULL`).Scan(&n)
		return err != nil || n != 0
	}},
}

// TestLockedFileFailsWrites: another program holds the write lock longer
// than the busy timeout. Every write returns an error wrapping SQLITE_BUSY
// and leaves nothing behind; reads go on (WAL); once the lock is gone,
// writes work again.
func TestLockedFileFailsWrites(t *testing.T) {
	s, path := openTemp(t, Options{BusyTimeout: 20 * time.Millisecond})
	fill(t, s)
	release := lockOnTheSide(t, path)
	for _, w := range writes {
		t.Run(w.name, func(t *testing.T) {
			err := w.write(t.Context(), s)
			if !errors.Is(err, sqlite3.BUSY) {
				t.Fatalf("%s while another program holds the lock: %v; want an error wrapping SQLITE_BUSY", w.name, err)
			}
			t.Log(err)
			if w.stored(t, s) {
				t.Errorf("%s failed, yet what it wrote is there", w.name)
			}
		})
	}
	release()
	if err := s.Boot(t.Context(), "AFTER", ocpp.BootNotificationRequest{ChargePointVendor: "V", ChargePointModel: "M"}, t0); err != nil {
		t.Errorf("Boot once the lock is released: %v", err)
	}
}

// lockOnTheSide takes the file's write lock from a connection of its own,
// as another program would; release lets it go.
func lockOnTheSide(t *testing.T, path string) (release func()) {
	t.Helper()
	other, err := rawDB(t, path).Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	if _, err := other.ExecContext(t.Context(), `BEGIN EXCLUSIVE`); err != nil {
		t.Fatalf("taking the lock on the side: %v", err)
	}
	return func() {
		if _, err := other.ExecContext(t.Context(), `ROLLBACK`); err != nil {
			t.Fatal(err)
		}
	}
}

// TestFullDiskFailsWrites: the database may grow no more (max_page_count
// stands in for a full disk: SQLite reports the same SQLITE_FULL). A write
// that needs room fails with an error wrapping it and stores nothing.
func TestFullDiskFailsWrites(t *testing.T) {
	s, _ := openTemp(t, Options{})
	fill(t, s)
	ctx := t.Context()
	// The writer has one connection, kept open: the pragma stays on it.
	if _, err := s.w.ExecContext(ctx, `PRAGMA max_page_count = 1`); err != nil {
		t.Fatal(err)
	}
	var w = writes[len(writes)-1] // MeterValues: the write that grows the file
	err := w.write(ctx, s)
	if !errors.Is(err, sqlite3.FULL) {
		t.Fatalf("MeterValues on a full disk: %v; want an error wrapping SQLITE_FULL", err)
	}
	t.Log(err)
	if w.stored(t, s) {
		t.Errorf("MeterValues failed, yet some of its samples are there: it must store all or none")
	}
}

// TestTwoStoresOneFile: two processes on one file (a restart that
// overlaps the old one's shutdown) wait for each other's lock instead of
// failing.
func TestTwoStoresOneFile(t *testing.T) {
	a, path := openTemp(t, Options{})
	b, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	done := make(chan error, 2)
	for _, s := range []*Store{a, b} {
		go func() {
			var err error
			for i := range 50 {
				_, err = s.StartTransaction(t.Context(), "CS1", ocpp.StartTransactionRequest{ConnectorId: 1, IdTag: "T", MeterStart: i, Timestamp: dt(i)})
				if err != nil {
					break
				}
			}
			done <- err
		}()
	}
	for range 2 {
		if err := <-done; err != nil {
			t.Errorf("StartTransaction with another store writing the same file: %v", err)
		}
	}
	txs, err := a.Transactions(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	// Both sent the same 50 starts: the second of each pair is a replay.
	if len(txs) != 50 {
		t.Errorf("%d transactions, want 50", len(txs))
	}
}

// BenchmarkMeterValues writes batches of 100 MeterValues requests, each
// with one meter value of the given number of samples, as step 06's
// batcher hands them over.
func BenchmarkMeterValues(b *testing.B) {
	for _, samples := range []int{1, 4} {
		b.Run(fmt.Sprintf("batch=100/samples=%d", samples), func(b *testing.B) {
			s, err := Open(filepath.Join(b.TempDir(), "bench.db"))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			sv := make([]ocpp.SampledValue, samples)
			for i := range sv {
				sv[i] = ocpp.SampledValue{Value: "1234.5", Measurand: "Energy.Active.Import.Register", Unit: "Wh", Context: "Sample.Periodic"}
			}
			tx := 1
			batch := make([]store.Reading, 100)
			for i := range batch {
				batch[i] = store.Reading{Station: fmt.Sprintf("CS%04d", i), Request: ocpp.MeterValuesRequest{
					ConnectorId: 1, TransactionId: &tx, MeterValue: []ocpp.MeterValue{{Timestamp: dt(i), SampledValue: sv}},
				}}
			}
			for b.Loop() {
				if err := s.MeterValues(b.Context(), batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "readings/s")
		})
	}
}

// A database of the first schema, with what a station said, opens: the
// migrations after it apply, and nothing it held is lost.
func TestOpenMigratesAnOlderSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kata.db")
	db := rawDB(t, path)
	if _, err := db.Exec(migrations[0]); err != nil {
		t.Fatalf("schema 1: %v", err)
	}
	if _, err := db.Exec(`INSERT INTO stations (id, vendor, model, firmware) VALUES ('CS1', 'Acme', 'Fast', '1.0'); PRAGMA user_version = 1`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s, err := Open(path)
	if err != nil {
		t.Fatalf("Open(%s) of a schema 1 database: %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	if err := s.FirmwareReport(t.Context(), "CS1", store.FirmwareReport{Firmware: ocpp.FirmwareInstalled, At: at}); err != nil {
		t.Fatalf("FirmwareReport after the migration: %v", err)
	}
	st, err := s.Station(t.Context(), "CS1")
	if err != nil {
		t.Fatal(err)
	}
	if st.Vendor != "Acme" || st.Firmware != "1.0" || st.FirmwareStatus != ocpp.FirmwareInstalled || !st.FirmwareStatusAt.Equal(at) {
		t.Errorf("after the migration: %+v; want Acme's firmware 1.0, kept, and Installed at %v", st, at)
	}
}

// A database of schema 2, with a station's firmware report, opens: schema
// 3 adds the tables of what stations accepted, and nothing of 2 is lost.
func TestOpenMigratesSchema2(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kata.db")
	db := rawDB(t, path)
	for _, m := range migrations[:2] {
		if _, err := db.Exec(m); err != nil {
			t.Fatalf("schemas 1 and 2: %v", err)
		}
	}
	if _, err := db.Exec(`INSERT INTO stations (id, vendor, model, firmware, firmware_status) VALUES ('CS1', 'Acme', 'Fast', '1.0', 'Installed');
PRAGMA user_version = 2`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s, err := Open(path)
	if err != nil {
		t.Fatalf("Open(%s) of a schema 2 database: %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	if err := s.SendLocalList(ctx, "CS1", ocpp.SendLocalListRequest{ListVersion: 1, UpdateType: ocpp.UpdateFull,
		LocalAuthorizationList: []ocpp.AuthorizationData{{IdTag: "A", IdTagInfo: &ocpp.IdTagInfo{Status: ocpp.AuthorizationAccepted}}}}, t0); err != nil {
		t.Fatalf("SendLocalList after the migration: %v", err)
	}
	if err := s.Reserve(ctx, "CS1", ocpp.ReserveNowRequest{ConnectorId: 1, ExpiryDate: dt(60), IdTag: "A", ReservationId: 1}, t0); err != nil {
		t.Fatalf("Reserve after the migration: %v", err)
	}
	if err := s.SetChargingProfile(ctx, "CS1", ocpp.SetChargingProfileRequest{ConnectorId: 0, CsChargingProfiles: ocpp.ChargingProfile{
		ChargingProfileId: 1, ChargingProfilePurpose: ocpp.PurposeChargePointMax, ChargingProfileKind: ocpp.KindRelative,
		ChargingSchedule: ocpp.ChargingSchedule{ChargingRateUnit: ocpp.ChargingRateW, ChargingSchedulePeriod: []ocpp.ChargingSchedulePeriod{{Limit: 11000}}}}}, t0); err != nil {
		t.Fatalf("SetChargingProfile after the migration: %v", err)
	}
	st, err := s.Station(ctx, "CS1")
	if err != nil {
		t.Fatal(err)
	}
	if st.Vendor != "Acme" || st.Firmware != "1.0" || st.FirmwareStatus != ocpp.FirmwareInstalled {
		t.Errorf("after the migration: %+v; want Acme's firmware 1.0 and its status Installed, kept", st)
	}
	list, err := s.LocalList(ctx, "CS1")
	if err != nil || list.Version != 1 || len(list.Entries) != 1 {
		t.Errorf("LocalList after the migration: %+v, %v; want version 1 with A", list, err)
	}
	rs, err := s.Reservations(ctx, "CS1", t0)
	if err != nil || len(rs) != 1 {
		t.Errorf("Reservations after the migration: %+v, %v; want reservation 1", rs, err)
	}
	ps, err := s.ChargingProfiles(ctx, "CS1")
	if err != nil || len(ps) != 1 || ps[0].Profile.ChargingSchedule.ChargingSchedulePeriod[0].Limit != 11000 {
		t.Errorf("ChargingProfiles after the migration: %+v, %v; want profile 1, limit 11000 W", ps, err)
	}
}
