package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/ocppkata/kata/harness/metrics"
	"github.com/ocppkata/kata/harness/ocpp"
)

// scrape GETs h as Prometheus does and parses the answer with Prometheus's
// own text parser.
func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Equal(t, expfmt.TypeTextPlain, expfmt.ResponseFormat(rec.Header()).FormatType(),
		"Content-Type %s", rec.Header().Get("Content-Type"))
	p := expfmt.NewTextParser(model.LegacyValidation)
	families, err := p.TextToMetricFamilies(rec.Body)
	require.NoError(t, err, "the text parser refused the answer")
	return families
}

// value returns the value of the series of family name with exactly the
// labels given ("k=v" pairs), failing the test if there is none.
func value(t *testing.T, families map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	f, ok := families[name]
	require.True(t, ok, "no %s among %v", name, names(families))
	for _, m := range f.GetMetric() {
		var got []string
		for _, l := range m.GetLabel() {
			got = append(got, l.GetName()+"="+l.GetValue())
		}
		sort.Strings(got)
		want := append([]string(nil), labels...)
		sort.Strings(want)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Untyped != nil:
			return m.Untyped.GetValue()
		}
		t.Fatalf("%s%v is a %s: use histogram", name, labels, f.GetType())
	}
	t.Fatalf("no %s series with labels %v", name, labels)
	return 0
}

// histogram returns the count and sum of a histogram series.
func histogram(t *testing.T, families map[string]*dto.MetricFamily, name string, labels ...string) (count uint64, sum float64) {
	t.Helper()
	f, ok := families[name]
	require.True(t, ok, "no %s among %v", name, names(families))
	require.Equal(t, dto.MetricType_HISTOGRAM, f.GetType())
	for _, m := range f.GetMetric() {
		var got []string
		for _, l := range m.GetLabel() {
			got = append(got, l.GetName()+"="+l.GetValue())
		}
		if fmt.Sprint(got) == fmt.Sprint(labels) {
			return m.Histogram.GetSampleCount(), m.Histogram.GetSampleSum()
		}
	}
	t.Fatalf("no %s series with labels %v", name, labels)
	return 0, 0
}

func names(families map[string]*dto.MetricFamily) []string {
	var ns []string
	for n := range families {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return ns
}

// stations stands in for *portmux.Mux.
type stations []string

func (s stations) Connected() []string { return s }

// The step servers' optional gauges, one type each, as the steps add them.
type (
	step01 struct{}
	step04 struct{ processors atomic.Int64 }
	step05 struct {
		step04
		queued map[string]int
	}
	step07 struct {
		step05
		pending atomic.Int64
	}
)

func (s *step04) Processors() int           { return int(s.processors.Load()) }
func (s *step05) Queued(station string) int { return s.queued[station] }
func (s *step07) PendingCalls() int         { return int(s.pending.Load()) }

func TestObservations(t *testing.T) {
	m := metrics.New(metrics.Options{})
	m.Call("Heartbeat", metrics.ResultOK, 2*time.Millisecond)
	m.Call("Heartbeat", metrics.ResultOK, 3*time.Millisecond)
	m.Call("BootNotification", metrics.ResultCallError, time.Second)
	m.Call("StartTransaction", metrics.ResultError, 0)
	m.Batch(10)
	m.Batch(3)
	m.StoreError("meter-values")
	m.StoreError("meter-values")
	m.StoreError("boot")

	f := scrape(t, m.Handler())
	require.Equal(t, 2.0, value(t, f, "ocpp_calls_total", "action=Heartbeat", "result=ok"))
	require.Equal(t, 1.0, value(t, f, "ocpp_calls_total", "action=BootNotification", "result=callerror"))
	require.Equal(t, 1.0, value(t, f, "ocpp_calls_total", "action=StartTransaction", "result=error"))
	require.Len(t, f["ocpp_calls_total"].GetMetric(), 3, "a series per action and result seen")

	count, sum := histogram(t, f, "ocpp_call_duration_seconds", "action=Heartbeat")
	require.Equal(t, uint64(2), count)
	require.InDelta(t, 0.005, sum, 1e-9)
	count, sum = histogram(t, f, "ocpp_call_duration_seconds", "action=BootNotification")
	require.Equal(t, uint64(1), count)
	require.Equal(t, 1.0, sum)

	count, sum = histogram(t, f, "ocpp_batch_size")
	require.Equal(t, uint64(2), count, "batches written")
	require.Equal(t, 13.0, sum, "items written")

	require.Equal(t, 2.0, value(t, f, "ocpp_store_errors_total", "op=meter-values"))
	require.Equal(t, 1.0, value(t, f, "ocpp_store_errors_total", "op=boot"))

	// The Go collector's and the process collector's series.
	require.Positive(t, value(t, f, "go_goroutines"))
	require.Positive(t, value(t, f, "go_threads"))
	require.Positive(t, value(t, f, "go_memstats_heap_alloc_bytes"))
	if runtime.GOOS == "linux" {
		require.Positive(t, value(t, f, "process_resident_memory_bytes"))
	}
}

func TestUnknownActionsShareOneSeries(t *testing.T) {
	// A station chooses its actions: a thousand made-up ones must not make
	// a thousand series.
	m := metrics.New(metrics.Options{})
	for i := range 1000 {
		m.Call(fmt.Sprint("Made", i), metrics.ResultCallError, time.Millisecond)
	}
	m.Call("TriggerMessage", metrics.ResultOK, time.Millisecond) // a Core action, the server's way
	f := scrape(t, m.Handler())
	require.Equal(t, 1000.0, value(t, f, "ocpp_calls_total", "action="+metrics.OtherAction, "result=callerror"))
	require.Equal(t, 1.0, value(t, f, "ocpp_calls_total", "action=TriggerMessage", "result=ok"))
	require.Len(t, f["ocpp_calls_total"].GetMetric(), 2)
	require.Len(t, f["ocpp_call_duration_seconds"].GetMetric(), 2)
}

func TestSeriesOnlyOnceCounted(t *testing.T) {
	// Call finds each series once and keeps it: that must not make a
	// series before a call counts in it, nor lose a count to a race.
	m := metrics.New(metrics.Options{})
	f := scrape(t, m.Handler())
	require.Empty(t, f["ocpp_calls_total"].GetMetric(), "calls counted before any call")
	require.Empty(t, f["ocpp_call_duration_seconds"].GetMetric(), "durations before any call")

	const goroutines, each = 8, 500
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range each {
				m.Call("Heartbeat", metrics.ResultOK, time.Millisecond)
				m.Call("Made up", metrics.ResultCallError, time.Millisecond)
			}
		})
	}
	wg.Wait()
	f = scrape(t, m.Handler())
	require.Equal(t, float64(goroutines*each), value(t, f, "ocpp_calls_total", "action=Heartbeat", "result=ok"))
	require.Equal(t, float64(goroutines*each), value(t, f, "ocpp_calls_total", "action="+metrics.OtherAction, "result=callerror"))
	count, _ := histogram(t, f, "ocpp_call_duration_seconds", "action=Heartbeat")
	require.Equal(t, uint64(goroutines*each), count)
	require.Len(t, f["ocpp_calls_total"].GetMetric(), 2)
	require.Len(t, f["ocpp_call_duration_seconds"].GetMetric(), 2)
}

func TestGauges(t *testing.T) {
	s04 := &step04{}
	s04.processors.Store(3)
	s05 := &step05{queued: map[string]int{"CS1": 4, "CS2": 1, "gone": 100}}
	s05.processors.Store(2)
	s07 := &step07{step05: step05{queued: map[string]int{"CS1": 1}}}
	s07.pending.Store(5)

	tests := []struct {
		name     string
		opts     metrics.Options
		want     map[string]float64 // the gauges there, and their values
		notThere []string
	}{
		{
			name:     "nothing",
			opts:     metrics.Options{},
			notThere: []string{"ocpp_stations_connected", "ocpp_processors", "ocpp_queued_calls", "ocpp_pending_calls"},
		},
		{
			name:     "step 01",
			opts:     metrics.Options{Stations: stations{"CS1", "CS2"}, Server: step01{}},
			want:     map[string]float64{"ocpp_stations_connected": 2},
			notThere: []string{"ocpp_processors", "ocpp_queued_calls", "ocpp_pending_calls"},
		},
		{
			name:     "step 04",
			opts:     metrics.Options{Stations: stations{"CS1"}, Server: s04},
			want:     map[string]float64{"ocpp_stations_connected": 1, "ocpp_processors": 3},
			notThere: []string{"ocpp_queued_calls", "ocpp_pending_calls"},
		},
		{
			name:     "step 05: the connected stations' queues",
			opts:     metrics.Options{Stations: stations{"CS1", "CS2"}, Server: s05},
			want:     map[string]float64{"ocpp_stations_connected": 2, "ocpp_processors": 2, "ocpp_queued_calls": 5},
			notThere: []string{"ocpp_pending_calls"},
		},
		{
			name:     "step 05 without stations",
			opts:     metrics.Options{Server: s05},
			want:     map[string]float64{"ocpp_processors": 2},
			notThere: []string{"ocpp_stations_connected", "ocpp_queued_calls"},
		},
		{
			name: "step 07",
			opts: metrics.Options{Stations: stations{"CS1"}, Server: s07},
			want: map[string]float64{"ocpp_stations_connected": 1, "ocpp_processors": 0, "ocpp_queued_calls": 1, "ocpp_pending_calls": 5},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := scrape(t, metrics.New(tt.opts).Handler())
			for name, want := range tt.want {
				require.Equal(t, dto.MetricType_GAUGE, f[name].GetType(), name)
				require.Equal(t, want, value(t, f, name), name)
			}
			for _, name := range tt.notThere {
				require.NotContains(t, f, name)
			}
		})
	}
}

func TestGaugesAreReadAtEachScrape(t *testing.T) {
	s := &step07{step05: step05{queued: map[string]int{}}}
	h := metrics.New(metrics.Options{Stations: stations{}, Server: s}).Handler()
	require.Zero(t, value(t, scrape(t, h), "ocpp_pending_calls"))
	s.pending.Store(7)
	s.processors.Store(9)
	f := scrape(t, h)
	require.Equal(t, 7.0, value(t, f, "ocpp_pending_calls"))
	require.Equal(t, 9.0, value(t, f, "ocpp_processors"))
}

func TestHandlerTwice(t *testing.T) {
	// Each Handler serves the same registry.
	m := metrics.New(metrics.Options{})
	m.Batch(4)
	for range 2 {
		count, _ := histogram(t, scrape(t, m.Handler()), "ocpp_batch_size")
		require.Equal(t, uint64(1), count)
	}
}

// The server's calls count by what came of them, and only an answered one
// is timed: a timeout's duration is the deadline's, not the station's.
func TestServerCalls(t *testing.T) {
	m := metrics.New(metrics.Options{})
	callErr := fmt.Errorf("call Reset: %w", &ocpp.CallError{ID: "1", Code: ocpp.NotImplemented})
	m.ServerCall(ocpp.ActionRemoteStartTransaction, nil, 20*time.Millisecond)
	m.ServerCall(ocpp.ActionRemoteStartTransaction, nil, 30*time.Millisecond)
	m.ServerCall(ocpp.ActionReset, callErr, time.Second)
	m.ServerCall(ocpp.ActionReset, fmt.Errorf("call Reset: %w", context.DeadlineExceeded), 30*time.Second)
	m.ServerCall(ocpp.ActionReset, errors.New("station CS1 is not connected"), 0)
	m.ServerCall("MadeUp", nil, time.Millisecond)

	f := scrape(t, m.Handler())
	require.Equal(t, 2.0, value(t, f, "ocpp_server_calls_total", "action=RemoteStartTransaction", "result=ok"))
	require.Equal(t, 1.0, value(t, f, "ocpp_server_calls_total", "action=Reset", "result=callerror"))
	require.Equal(t, 1.0, value(t, f, "ocpp_server_calls_total", "action=Reset", "result=timeout"))
	require.Equal(t, 1.0, value(t, f, "ocpp_server_calls_total", "action=Reset", "result=error"))
	require.Equal(t, 1.0, value(t, f, "ocpp_server_calls_total", "action=other", "result=ok"))

	count, sum := histogram(t, f, "ocpp_server_call_duration_seconds", "action=RemoteStartTransaction")
	require.Equal(t, uint64(2), count)
	require.InDelta(t, 0.05, sum, 1e-9)
	count, sum = histogram(t, f, "ocpp_server_call_duration_seconds", "action=Reset")
	require.Equal(t, uint64(1), count, "the CALLERROR only: a timeout or a call not sent is not the station's time")
	require.Equal(t, 1.0, sum)
}

// step10 is a node that makes calls for the other nodes.
type step10 struct{ routedIn atomic.Int64 }

func (s *step10) RoutedIn() int64 { return s.routedIn.Load() }

// A node of a cluster: its name, the calls it routed out by what came of
// them, those routed in (read from the server at each scrape), and how
// long the answered ones took by route.
func TestCluster(t *testing.T) {
	s := &step10{}
	m := metrics.New(metrics.Options{Node: "node-a", Server: s})
	m.CallRoute(metrics.RouteLocal, nil, 10*time.Millisecond)
	m.CallRoute(metrics.RouteRouted, nil, 12*time.Millisecond)
	m.CallRoute(metrics.RouteRouted, fmt.Errorf("call Reset: %w", &ocpp.CallError{ID: "1", Code: ocpp.NotImplemented}), 14*time.Millisecond)
	m.CallRoute(metrics.RouteRouted, errors.New("the node that holds it said nothing"), 5*time.Second)
	s.routedIn.Store(3)

	f := scrape(t, m.Handler())
	require.Equal(t, 1.0, value(t, f, "ocpp_node_info", "node=node-a"))
	require.Equal(t, 1.0, value(t, f, "ocpp_calls_routed_out_total", "result=ok"))
	require.Equal(t, 1.0, value(t, f, "ocpp_calls_routed_out_total", "result=callerror"))
	require.Equal(t, 1.0, value(t, f, "ocpp_calls_routed_out_total", "result=error"))
	require.Equal(t, dto.MetricType_COUNTER, f["ocpp_calls_routed_in_total"].GetType())
	require.Equal(t, 3.0, value(t, f, "ocpp_calls_routed_in_total"))
	count, sum := histogram(t, f, "ocpp_server_call_route_seconds", "route=local")
	require.Equal(t, uint64(1), count)
	require.InDelta(t, 0.010, sum, 1e-9)
	count, sum = histogram(t, f, "ocpp_server_call_route_seconds", "route=routed")
	require.Equal(t, uint64(2), count, "the answered ones: a call the other node never answered is not its time")
	require.InDelta(t, 0.026, sum, 1e-9)

	f = scrape(t, metrics.New(metrics.Options{Server: step01{}}).Handler())
	require.NotContains(t, f, "ocpp_node_info")
	require.NotContains(t, f, "ocpp_calls_routed_in_total")
}
