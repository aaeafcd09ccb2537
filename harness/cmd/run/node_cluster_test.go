package main

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nats-io/nats.go"

	cluster "github.com/ocppkata/kata/solutions/10-cluster"

	"github.com/ocppkata/kata/harness/api"
	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/kit"
	"github.com/ocppkata/kata/harness/memnet"
	"github.com/ocppkata/kata/harness/natstest"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/harness/portmux"
	"github.com/ocppkata/kata/harness/roster"
	"github.com/ocppkata/kata/harness/store"
	"github.com/ocppkata/kata/stations/station"
)

// testNode is one node of make serve, as serve wires it, on the in-memory
// network: step 10's solution behind a portmux, its roster, its API and
// its metrics.
type testNode struct {
	nats    *nats.Conn
	l       *memnet.Listener
	api     http.Handler
	metrics http.Handler
}

// startNode starts node name of the cluster on broker, sharing st, and
// stops it when the test ends. Call it in a synctest bubble.
func startNode(t *testing.T, broker *natstest.Broker, name string, st store.Store) *testNode {
	t.Helper()
	logger := slog.New(slog.DiscardHandler)
	nc := broker.Connect(t, name)
	b := backend.New(backend.Options{Store: st})
	srv := cluster.New(cluster.Config{Backend: b, Workers: 2, Node: name, NATS: nc})
	l := memnet.Listen()
	mux := portmux.New(l, portmux.Options{Logger: logger})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(mux.Stations()) }()
	go mux.Serve()
	r, err := roster.New(roster.Options{Node: name, Stations: mux, NATS: nc, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	n := &node{name: name, srv: srv, backend: b, store: st, stations: mux, roster: r,
		notConnected: func(err error) bool { return errors.Is(err, cluster.ErrNotConnected) }}
	m := n.newMetrics()
	opts := n.apiOptions(m)
	opts.Logger = logger
	t.Cleanup(func() {
		kit.CheckClose(t, srv.Close())
		<-served
		r.Close()
		mux.Close()
	})
	return &testNode{nats: nc, l: l, api: api.New(opts), metrics: m.Handler()}
}

// get sends a request to h and returns the answer's status and body.
func get(t *testing.T, h http.Handler, method, target, body string) (int, string) {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequestWithContext(t.Context(), method, target, strings.NewReader(body)))
	return w.Code, w.Body.String()
}

// Two nodes of make serve on one NATS, sharing one store: a station
// connected to node B is listed by node A's API as connected to B, a call
// to it made on A is answered, and the metrics count it routed out on A
// and routed in on B. Once B is cut off from the broker (its process
// killed), A's listing waits for it no longer than the roster's bound.
func TestTwoNodes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		broker := natstest.Start(t)
		st := &store.Memory{}
		a := startNode(t, broker, "node-a", st)
		b := startNode(t, broker, "node-b", st)

		s, err := station.Dial(t.Context(), "CS0001", kit.Stations(b.l))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		boot := ocpp.BootNotificationRequest{ChargePointVendor: "Kata", ChargePointModel: "Test"}
		if err := s.Call(t.Context(), ocpp.ActionBootNotification, boot, nil); err != nil {
			t.Fatalf("BootNotification: %v", err)
		}
		synctest.Wait()

		for _, target := range []string{"/api/stations", "/api/stations/CS0001"} {
			code, body := get(t, a.api, http.MethodGet, target, "")
			if code != 200 || !strings.Contains(body, `"connected": true`) || !strings.Contains(body, `"node": "node-b"`) {
				t.Errorf("GET %s on node A: %d\n%s\nwant CS0001 connected to node-b", target, code, body)
			}
		}
		code, body := get(t, a.api, http.MethodPost, "/api/stations/CS0001/ClearCache", "{}")
		if code != 200 || !strings.Contains(body, `"status": "Accepted"`) {
			t.Errorf("POST ClearCache on node A to B's station: %d\n%s\nwant 200, Accepted", code, body)
		}
		for _, tt := range []struct {
			node, series string
			h            http.Handler
		}{
			{"A", `ocpp_calls_routed_out_total{result="ok"} 1`, a.metrics},
			{"A", `ocpp_server_call_route_seconds_count{route="routed"} 1`, a.metrics},
			{"A", `ocpp_node_info{node="node-a"} 1`, a.metrics},
			{"B", `ocpp_calls_routed_in_total 1`, b.metrics},
		} {
			if _, body := get(t, tt.h, http.MethodGet, "/metrics", ""); !strings.Contains(body, tt.series+"\n") {
				t.Errorf("node %s's metrics lack %s", tt.node, tt.series)
			}
		}
		if _, body := get(t, b.metrics, http.MethodGet, "/metrics", ""); strings.Contains(body, "ocpp_calls_routed_out_total{") {
			t.Errorf("node B counts calls routed out; it made none")
		}

		b.nats.Close() // B's process killed: its broker connection cut
		begin := time.Now()
		code, body = get(t, a.api, http.MethodGet, "/api/stations", "")
		if took := time.Since(begin); code != 200 || took > roster.DefaultWait || strings.Contains(body, `"connected": true`) {
			t.Errorf("with B dead, A's listing took %v: %d\n%s\nwant CS0001 not connected, within the roster's bound, %v", took, code, body, roster.DefaultWait)
		}
	})
}
