// Package metrics is the Prometheus metrics of `make serve`, served at
// /metrics by Handler in the Prometheus text format through
// github.com/prometheus/client_golang.
//
// A Metrics counts what the backend reports to it (each call answered,
// each batch written, each store error) and reads the rest when it is
// scraped: the stations connected, and the gauges of the step's server
// that it has (its live processors, its queues, its pending calls). The
// series are:
//
//	ocpp_node_info{node}                     1, naming this node (Options.Node)
//	ocpp_stations_connected                  stations with a connection open (to this node)
//	ocpp_calls_total{action,result}          calls from stations answered
//	ocpp_call_duration_seconds{action}       how long a worker took to answer them (the queue's wait left out)
//	ocpp_processors                          live processors (step 04 on)
//	ocpp_queued_calls                        calls queued for the connected stations (step 05 on)
//	ocpp_pending_calls                       server calls awaiting an answer (step 07 on)
//	ocpp_server_calls_total{action,result}   the server's calls to stations (step 07 on)
//	ocpp_server_call_duration_seconds{action} how long the stations took to answer them
//	ocpp_server_call_route_seconds{route}    how long they took, as the caller saw it, local or routed (step 10 on)
//	ocpp_calls_routed_out_total{result}      calls made here to a station another node holds (step 10 on)
//	ocpp_calls_routed_in_total               calls made on another node to a station this one holds (step 10 on)
//	ocpp_batch_size                          items per batch written; its _count is the batches
//	ocpp_store_errors_total{op}              store operations that failed
//
// with the Go runtime's (go_*) and the process's (process_*) series.
//
// The backend reports to a Metrics through its Call, Batch and StoreError
// methods, and whoever makes the server's calls (the operator API) through
// ServerCall and CallRoute. It should hold it as an interface of its own with those methods
// rather than import this package, so that the steps' suites, which build
// the backend, do not build client_golang.
package metrics

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ocppkata/kata/harness/ocpp"
)

// The results of a call, for Call.
const (
	ResultOK        = "ok"        // answered with a CALLRESULT
	ResultCallError = "callerror" // answered with a CALLERROR
	ResultError     = "error"     // not answered: the answer could not be sent, or the work failed
	// ResultTimeout is a server's call that the station did not answer
	// before the call's deadline (ServerCall only).
	ResultTimeout = "timeout"
)

// The routes of a server's call, for CallRoute.
const (
	RouteLocal  = "local"  // the station is connected to this node
	RouteRouted = "routed" // through the node of the cluster that holds it
)

// OtherAction is the action label of every call whose action OCPP 1.6 Core
// does not name: a station chooses the action it sends, and each label
// value is a series Prometheus keeps.
const OtherAction = "other"

// Options configures a Metrics. Each field is optional: the series that
// need one that is nil are left out.
type Options struct {
	// Stations gives ocpp_stations_connected, and the stations whose
	// queues ocpp_queued_calls adds up. A *portmux.Mux is one.
	Stations interface{ Connected() []string }
	// Server is the step's server. Those of its methods below that it has
	// are read at each scrape:
	//
	//	Processors() int          ocpp_processors
	//	Queued(station string) int ocpp_queued_calls, with Stations
	//	PendingCalls() int        ocpp_pending_calls
	//	RoutedIn() int64          ocpp_calls_routed_in_total
	Server any
	// Node names this node of a cluster, for ocpp_node_info; "" leaves it
	// out.
	Node string
}

// Metrics is a registry of the server's metrics. Its methods are safe for
// concurrent use.
type Metrics struct {
	reg         *prometheus.Registry
	calls       *prometheus.CounterVec
	durations   *prometheus.HistogramVec
	batches     prometheus.Histogram
	storeErrors *prometheus.CounterVec
	// The server's calls are the operator's, a few a minute: they are
	// looked up by their labels each time.
	serverCalls     *prometheus.CounterVec
	serverDurations *prometheus.HistogramVec
	routeDurations  *prometheus.HistogramVec
	routedOut       *prometheus.CounterVec

	// actions holds each action's series once a call of it was answered
	// (a string → *actionSeries), the actions OCPP 1.6 names only, so that a
	// station's made-up actions do not grow it; other holds the series of
	// those. A call then costs a lookup by action and the series' own
	// atomic adds, not a hash of its labels under calls' and durations'
	// locks.
	actions sync.Map
	other   *actionSeries
}

// results are the results Call knows, in the order of
// actionSeries.calls.
var results = [...]string{ResultOK, ResultCallError, ResultError}

// actionSeries is one action's series, found by their labels once. Each
// is made when the first call counts in it: a series is there once
// something was counted in it.
type actionSeries struct {
	action   string
	duration lazy[prometheus.Observer]
	calls    [len(results)]lazy[prometheus.Counter] // one for each of results
}

// lazy is a series made the first time it is asked for.
type lazy[T any] struct{ p atomic.Pointer[T] }

// get returns the series, made with newSeries if it was not yet. Two calls
// that race here both make it: newSeries must return the same series each time,
// as a vector's WithLabelValues does.
func (l *lazy[T]) get(newSeries func() T) T {
	if p := l.p.Load(); p != nil {
		return *p
	}
	v := newSeries()
	l.p.Store(&v)
	return v
}

// seriesOf returns the series a call of action counts in.
func (m *Metrics) seriesOf(action string) *actionSeries {
	if s, ok := m.actions.Load(action); ok {
		return s.(*actionSeries)
	}
	if _, known := ocpp.ResponseFor(action); !known {
		return m.other
	}
	s, _ := m.actions.LoadOrStore(action, &actionSeries{action: action})
	return s.(*actionSeries)
}

// New returns a Metrics with the series that opts allows.
func New(opts Options) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ocpp_calls_total",
			Help: "Calls from stations answered, by action and result (ok: a CALLRESULT, callerror: a CALLERROR, error: not answered).",
		}, []string{"action", "result"}),
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ocpp_call_duration_seconds",
			Help: "How long the backend took to answer a call from a station, by action, from when a worker took it up: the wait for a worker is not in it (the live view's p50 and p99, from the frame read to the answer sent, are).",
			// From half a millisecond to about 8 s: a simulated backend's
			// latencies are milliseconds, a struggling store's seconds.
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 15),
		}, []string{"action"}),
		batches: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ocpp_batch_size",
			Help:    "Items in each batch written to the store; its _count is the batches written.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 11), // 1 to 1024
		}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ocpp_store_errors_total",
			Help: "Store operations that failed, by operation.",
		}, []string{"op"}),
		serverCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ocpp_server_calls_total",
			Help: "The server's calls to stations, by action and result (ok: a CALLRESULT, callerror: a CALLERROR, timeout: no answer in time, error: not sent, or the station went away).",
		}, []string{"action", "result"}),
		serverDurations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ocpp_server_call_duration_seconds",
			Help: "How long a station took to answer a call from the server, from the call sent to its answer read, by action.",
			// From a millisecond to about 30 s, the operator API's
			// default timeout: a charger answers over a mobile network.
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
		}, []string{"action"}),
		routeDurations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ocpp_server_call_route_seconds",
			Help: "How long the server's calls to stations took, as their caller saw it, by route (local: the station is connected to this node; routed: through the node that holds it): the cost of routing is the difference.",
			// From half a millisecond: a route adds a broker's round
			// trip, milliseconds, to the station's answer.
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 17),
		}, []string{"route"}),
		routedOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ocpp_calls_routed_out_total",
			Help: "The server's calls made on this node to a station another node of the cluster holds, by result (as ocpp_server_calls_total's).",
		}, []string{"result"}),
	}
	m.other = &actionSeries{action: OtherAction}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.calls, m.durations, m.batches, m.storeErrors, m.serverCalls, m.serverDurations, m.routeDurations, m.routedOut,
	)
	if opts.Node != "" {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ocpp_node_info", Help: "1, naming this node of the cluster in its label node.",
			ConstLabels: prometheus.Labels{"node": opts.Node},
		}, func() float64 { return 1 }))
	}

	if st := opts.Stations; st != nil {
		m.gauge("ocpp_stations_connected", "Stations with a WebSocket connection open.", func() int {
			return len(st.Connected())
		})
	}
	if s, ok := opts.Server.(interface{ Processors() int }); ok {
		m.gauge("ocpp_processors", "Station processors alive now.", s.Processors)
	}
	if s, ok := opts.Server.(interface{ Queued(string) int }); ok && opts.Stations != nil {
		st := opts.Stations
		m.gauge("ocpp_queued_calls", "Calls from the connected stations waiting in their queues.", func() int {
			n := 0
			for _, id := range st.Connected() {
				n += s.Queued(id)
			}
			return n
		})
	}
	if s, ok := opts.Server.(interface{ PendingCalls() int }); ok {
		m.gauge("ocpp_pending_calls", "Calls from the server to stations awaiting an answer.", s.PendingCalls)
	}
	if s, ok := opts.Server.(interface{ RoutedIn() int64 }); ok {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "ocpp_calls_routed_in_total",
			Help: "Calls made on another node of the cluster that this node made on a station it holds, whatever came of them.",
		}, func() float64 { return float64(s.RoutedIn()) }))
	}
	return m
}

// gauge registers a gauge that calls f at each scrape.
func (m *Metrics) gauge(name, help string, f func() int) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help},
		func() float64 { return float64(f()) }))
}

// Call records a call from a station that the backend answered: its
// action, its result (ResultOK, ResultCallError or ResultError) and how
// long answering it took. An action OCPP 1.6 does not name is recorded as
// OtherAction.
func (m *Metrics) Call(action, result string, took time.Duration) {
	s := m.seriesOf(action)
	if i := slices.Index(results[:], result); i >= 0 {
		s.calls[i].get(func() prometheus.Counter { return m.calls.WithLabelValues(s.action, result) }).Inc()
	} else {
		m.calls.WithLabelValues(s.action, result).Inc() // a result Call does not list
	}
	s.duration.get(func() prometheus.Observer { return m.durations.WithLabelValues(s.action) }).Observe(took.Seconds())
}

// ServerCall records a call the server made to a station: its action,
// what came of it (err, as the step's Server.Call returned it) and how
// long it took. Only an answered call, a CALLRESULT or a CALLERROR, is
// timed.
func (m *Metrics) ServerCall(action string, err error, took time.Duration) {
	if _, known := ocpp.ResponseFor(action); !known {
		action = OtherAction
	}
	result := ServerCallResult(err)
	m.serverCalls.WithLabelValues(action, result).Inc()
	if result == ResultOK || result == ResultCallError {
		m.serverDurations.WithLabelValues(action).Observe(took.Seconds())
	}
}

// CallRoute records the route of a call the server made to a station
// (RouteLocal or RouteRouted), what came of it (err, as the step's
// Server.Call returned it) and how long it took in all, as its caller saw
// it. A routed call counts in ocpp_calls_routed_out_total; an answered
// call, a CALLRESULT or a CALLERROR, is timed by its route.
func (m *Metrics) CallRoute(route string, err error, took time.Duration) {
	result := ServerCallResult(err)
	if route == RouteRouted {
		m.routedOut.WithLabelValues(result).Inc()
	}
	if result == ResultOK || result == ResultCallError {
		m.routeDurations.WithLabelValues(route).Observe(took.Seconds())
	}
}

// ServerCallResult names what came of a server's call by the error the
// step's Server.Call returned: nil, a CALLERROR (wrapped), the deadline,
// or anything else.
func ServerCallResult(err error) string {
	var callErr *ocpp.CallError
	switch {
	case err == nil:
		return ResultOK
	case errors.As(err, &callErr):
		return ResultCallError
	case errors.Is(err, context.DeadlineExceeded):
		return ResultTimeout
	}
	return ResultError
}

// Batch records a batch of size items written to the store.
func (m *Metrics) Batch(size int) { m.batches.Observe(float64(size)) }

// StoreError records a store operation that failed, named by op ("boot",
// "meter-values", …).
func (m *Metrics) StoreError(op string) { m.storeErrors.WithLabelValues(op).Inc() }

// Registry returns the registry the series are in, for a caller to add its
// own.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler returns the handler of /metrics: each GET gathers every series
// and writes them in the format the scraper asks for, the Prometheus text
// format by default.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}
