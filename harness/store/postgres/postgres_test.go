package postgres

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"go.uber.org/goleak"

	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/harness/store"
	"github.com/ocppkata/kata/harness/store/postgres/pgtest"
	"github.com/ocppkata/kata/harness/store/storetest"
)

// TestMain checks that a closed Store leaves no goroutine behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// open opens a Store on url, closed when the test ends.
func open(t *testing.T, url string) *Store {
	t.Helper()
	s, err := Open(t.Context(), url)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, pgtest.URL(t)) })
}

// TestNodes: two Stores on one database are two nodes of a cluster.
func TestNodes(t *testing.T) {
	storetest.RunShared(t, func(t *testing.T) (store.Store, store.Store) {
		url := pgtest.URL(t)
		return open(t, url), open(t, url)
	})
}

// TestOpenAtOnce: nodes that start together open a new database at the
// same time; one creates the schema, the others find it.
func TestOpenAtOnce(t *testing.T) {
	url := pgtest.URL(t)
	const nodes = 4
	var wg sync.WaitGroup
	stores := make([]*Store, nodes)
	for i := range nodes {
		wg.Go(func() {
			s, err := Open(t.Context(), url)
			if err != nil {
				t.Errorf("node %d: Open: %v", i, err)
				return
			}
			stores[i] = s
		})
	}
	wg.Wait()
	for _, s := range stores {
		if s != nil {
			t.Cleanup(func() { s.Close() })
		}
	}
	if t.Failed() {
		return
	}
	if _, err := stores[0].StartTransaction(t.Context(), "CS1", ocpp.StartTransactionRequest{ConnectorId: 1, IdTag: "T"}); err != nil {
		t.Errorf("StartTransaction after opening at once: %v", err)
	}
}

// TestBatchAllOrNothing: one bad row (a NUL, which PostgreSQL's text
// refuses) fails the whole batch, and nothing of it is stored.
func TestBatchAllOrNothing(t *testing.T) {
	s := open(t, pgtest.URL(t))
	ctx := t.Context()
	if err := s.Boot(ctx, "CS1", ocpp.BootNotificationRequest{ChargePointVendor: "V", ChargePointModel: "M"}, time.Unix(1, 0)); err != nil {
		t.Fatal(err)
	}
	tx, err := s.StartTransaction(ctx, "CS1", ocpp.StartTransactionRequest{ConnectorId: 1, IdTag: "T"})
	if err != nil {
		t.Fatal(err)
	}
	var readings []store.Reading
	for i := range 50 {
		v := "1000"
		if i == 49 {
			v = "10\x0000"
		}
		readings = append(readings, store.Reading{Station: fmt.Sprintf("CS%d", 1+i%3), Request: ocpp.MeterValuesRequest{ConnectorId: 1, TransactionId: &tx,
			MeterValue: []ocpp.MeterValue{{Timestamp: ocpp.DateTime{Time: time.Unix(int64(i), 0)}, SampledValue: []ocpp.SampledValue{{Value: v}}}}}})
	}
	if err := s.MeterValues(ctx, readings); err == nil {
		t.Fatal("MeterValues with a NUL in a value: no error")
	} else {
		t.Log(err)
	}
	if samples, err := s.TransactionMeterValues(ctx, tx); err != nil || len(samples) != 0 {
		t.Errorf("after a failed MeterValues: %d samples, err %v; want none stored", len(samples), err)
	}
	if _, err := s.Station(ctx, "CS2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Station(CS2), only named in the failed batch: %v; want ErrNotFound", err)
	}

	updates := []store.StatusUpdate{
		{Station: "CS1", Request: ocpp.StatusNotificationRequest{ConnectorId: 1, Status: ocpp.StatusCharging, ErrorCode: ocpp.ChargePointNoError}},
		{Station: "CS1", Request: ocpp.StatusNotificationRequest{ConnectorId: 2, Status: ocpp.StatusFaulted, ErrorCode: ocpp.ChargePointOtherError, Info: "\x00"}},
	}
	if err := s.Statuses(ctx, updates); err == nil || !strings.Contains(err.Error(), "CS1 connector 2") {
		t.Errorf("Statuses with a NUL in an info: %v; want an error naming CS1 connector 2", err)
	}
	if st, err := s.Station(ctx, "CS1"); err != nil || len(st.Connectors) != 0 {
		t.Errorf("after a failed Statuses: connectors %+v, err %v; want none stored", st.Connectors, err)
	}
}

// TestOpenRefuses: what is wrong is said, with what to check; the password
// never.
func TestOpenRefuses(t *testing.T) {
	const password = "s3cret-pw"
	tests := []struct {
		name   string
		url    func(t *testing.T) string
		says   []string
		server bool // the test needs a server
	}{
		{"not a URL", func(*testing.T) string { return "postgres://kata:" + password + "@host:notaport/db" }, []string{"postgres://user:password@host:port/database"}, false},
		{"no server", func(*testing.T) string { return "postgres://kata:" + password + "@127.0.0.1:1/kata?connect_timeout=5" }, []string{"database kata on 127.0.0.1:1 as kata", "check that the server runs"}, false},
		{"no such database", func(t *testing.T) string {
			return strings.Replace(pgtest.URL(t), "?", "_no_such_database?", 1)
		}, []string{"_no_such_database", "does not exist"}, true},
		{"newer schema", func(t *testing.T) string {
			url := pgtest.URL(t)
			s := open(t, url)
			if _, err := s.pool.Exec(t.Context(), `UPDATE kata_schema SET version = 99`); err != nil {
				t.Fatal(err)
			}
			return url
		}, []string{"schema version 99", fmt.Sprintf("knows versions up to %d", len(migrations)), "newer"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := tt.url(t)
			s, err := Open(t.Context(), url)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%s) succeeded; want it refused", url)
			}
			t.Log(err)
			for _, want := range tt.says {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Open: %q does not say %q", err, want)
				}
			}
			if strings.Contains(err.Error(), password) {
				t.Errorf("Open: %q shows the password", err)
			}
		})
	}
}

// TestRetried: a deadlock is tried again; any other error is not.
func TestRetried(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{&pgconn.PgError{Code: "40P01"}, true},
		{fmt.Errorf("wrapped: %w", &pgconn.PgError{Code: "40001"}), true},
		{&pgconn.PgError{Code: "23505"}, false},
		{errors.New("connection reset"), false},
		{nil, false},
	} {
		if got := retryable(tt.err); got != tt.want {
			t.Errorf("retryable(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

// BenchmarkMeterValues writes batches of 100 MeterValues requests, each
// with one meter value of the given number of samples, as step 06's
// batcher hands them over: the SQLite store's benchmark, on PostgreSQL.
func BenchmarkMeterValues(b *testing.B) {
	for _, samples := range []int{1, 4} {
		b.Run(fmt.Sprintf("batch=100/samples=%d", samples), func(b *testing.B) {
			s, err := Open(b.Context(), pgtest.URL(b))
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
					ConnectorId: 1, TransactionId: &tx, MeterValue: []ocpp.MeterValue{{Timestamp: ocpp.DateTime{Time: time.Unix(int64(i), 0)}, SampledValue: sv}},
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
