package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"

	cluster "github.com/ocppkata/kata/exercises/10-cluster"
	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/kit"
	"github.com/ocppkata/kata/harness/memnet"
	"github.com/ocppkata/kata/harness/natstest"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/stations/station"
)

// Every case runs two or three nodes in one test process, each a Server on
// its own in-memory listener, all connected to one NATS server embedded in
// the test (harness/natstest), inside a synctest bubble: the nodes, the
// broker and the stations share one fake clock, so "at once" and "within
// two KeepAlives" are exact, and a goroutine left behind by any of them
// fails the test.

// The cluster's timing in these cases: a node at work on a routed call says
// so every keepAlive, and the server's calls wait callTimeout for an answer.
const (
	keepAlive   = time.Second
	callTimeout = time.Minute
)

// node is one node of the cluster under test.
type node struct {
	name string
	srv  *cluster.Server
	l    *memnet.Listener
	nc   *nats.Conn
}

// world is a cluster under test: the broker, its nodes, and the backend
// they share.
type world struct {
	broker  *natstest.Broker
	nodes   []*node
	backend *backend.Backend
}

// runCluster runs body in a synctest bubble of its own, against n nodes
// named node-a, node-b, … sharing one broker. When the test ends, every
// node is closed (before its broker connection and the broker), and
// together they must leave no goroutine behind.
func runCluster(t *testing.T, n int, body func(t *testing.T, w *world)) {
	t.Helper()
	runClusterWith(t, n, cluster.Config{}, body)
}

// runClusterWith is runCluster with the nodes' Config taken from cfg where
// it sets a field that runCluster does not.
func runClusterWith(t *testing.T, n int, cfg cluster.Config, body func(t *testing.T, w *world)) {
	t.Helper()
	synctest.Test(t, func(t *testing.T) {
		w := &world{broker: natstest.Start(t), backend: backend.New(backend.Options{})} // it answers at once
		served := make([]chan error, n)
		for i := range n {
			name := fmt.Sprintf("node-%c", 'a'+i)
			nc := w.broker.Connect(t, name)
			cfg := cfg
			cfg.Backend, cfg.Workers, cfg.Node, cfg.NATS = w.backend, 2, name, nc
			cfg.KeepAlive, cfg.CallTimeout = keepAlive, callTimeout
			srv := cluster.New(cfg)
			l := memnet.Listen()
			served[i] = make(chan error, 1)
			go func() { served[i] <- srv.Serve(l) }()
			w.nodes = append(w.nodes, &node{name: name, srv: srv, l: l, nc: nc})
		}
		t.Cleanup(func() {
			for i, n := range w.nodes {
				kit.CheckClose(t, n.srv.Close())
				if err := <-served[i]; err != nil && !errors.Is(err, memnet.ErrClosed) {
					t.Errorf("Serve on %s returned %v after Close, want nil", n.name, err)
				}
			}
			kit.NoneLeftBehind(t, w.nodes[0].srv)
		})
		body(t, w)
	})
}

// connect connects station id to n and registers it with a
// BootNotification. answer decides how it answers the server's calls (nil:
// at once, as station.DefaultAnswer does). The station is closed when the
// test ends.
func (n *node) connect(t *testing.T, id string, answer func(*ocpp.Call) station.Reply) (*station.Station, error) {
	t.Helper()
	opts := kit.Stations(n.l)
	opts.Answer = answer
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	st, err := station.Dial(ctx, id, opts)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", n.name, err)
	}
	t.Cleanup(func() { st.Close() })
	req := ocpp.BootNotificationRequest{ChargePointVendor: "Kata", ChargePointModel: "Cluster"}
	if err := st.Call(ctx, ocpp.ActionBootNotification, req, nil); err != nil {
		return nil, fmt.Errorf("BootNotification on %s: %w", n.name, err)
	}
	return st, nil
}

// boot is connect for a station the case needs: it fails the test if the
// station cannot connect and boot.
func (n *node) boot(t *testing.T, id string, answer func(*ocpp.Call) station.Reply) *station.Station {
	t.Helper()
	st, err := n.connect(t, id, answer)
	if err != nil {
		t.Fatalf("%s could not connect and boot: %v", id, err)
	}
	kit.Settle(t)
	return st
}

// result is how a srv.Call ended, and when (on the fake clock).
type result struct {
	err error
	at  time.Time
}

// call makes srv.Call (a soft Reset) on n to station id in a goroutine of
// its own, and returns where its result will come. The call has no
// deadline of its own: whatever ends it is the cluster's doing.
func (n *node) call(id string) <-chan result {
	done := make(chan result, 1)
	go func() {
		var resp ocpp.ResetResponse
		err := n.srv.Call(context.Background(), id, ocpp.ActionReset, ocpp.ResetRequest{Type: ocpp.ResetSoft}, &resp)
		if err == nil && resp.Status != ocpp.ResetAccepted {
			err = fmt.Errorf("answered %+v, want the station's answer, Accepted", resp)
		}
		done <- result{err: err, at: time.Now()}
	}()
	return done
}

// routing is why a call must reach a station on another node: what
// mustReach says when it fails with ErrNotConnected.
const routing = "a call made on any node must reach the node that holds the station's connection " +
	"(a request on a subject of the station's, which that node subscribes to) and bring the answer back"

// mustReach calls id from n and fails the test unless st, and only st,
// answered: one more call in st's record, and the call's result nil.
func (n *node) mustReach(t *testing.T, id string, st *station.Station, who string) {
	t.Helper()
	n.mustReachOr(t, id, st, who, routing)
}

// mustReachOr is mustReach, with why saying what a call that fails with
// ErrNotConnected means.
func (n *node) mustReachOr(t *testing.T, id string, st *station.Station, who, why string) {
	t.Helper()
	before := len(st.ServerCalls())
	r, ok := kit.Await(t, n.call(id))
	switch {
	case !ok:
		t.Fatalf("srv.Call(%s, Reset) on %s had not returned a minute later, want %s to answer it at once", id, n.name, who)
	case errors.Is(r.err, cluster.ErrNotConnected):
		t.Fatalf("srv.Call(%s, Reset) on %s: %v, want it to reach %s: %s", id, n.name, r.err, who, why)
	case r.err != nil:
		t.Fatalf("srv.Call(%s, Reset) on %s: %v, want %s to answer it", id, n.name, r.err, who)
	case len(st.ServerCalls()) != before+1:
		t.Fatalf("srv.Call(%s, Reset) on %s was answered, but %s got %d calls, want 1 more than the %d it had: "+
			"the call reached another connection of the station", id, n.name, who, len(st.ServerCalls())-before, before)
	}
}

// drop is a station's answer that never comes, as from a station with a
// bug or a full queue: its calls wait on their node.
func drop(*ocpp.Call) station.Reply { return station.Reply{Drop: true} }

// slowly answers every call after d.
func slowly(d time.Duration) func(*ocpp.Call) station.Reply {
	return func(c *ocpp.Call) station.Reply {
		r := station.DefaultAnswer(c)
		r.Delay = d
		return r
	}
}

// closedWith reports whether st's connection was closed by the server with
// code, and with a reason.
func closedWith(st *station.Station, code int) (ok bool, why string) {
	var ce *websocket.CloseError
	switch {
	case !errors.As(st.Err(), &ce):
		return false, fmt.Sprintf("it ended with %v, without a close frame", st.Err())
	case ce.Code != code:
		return false, fmt.Sprintf("it was closed with %d (%q)", ce.Code, ce.Text)
	case ce.Text == "":
		return false, fmt.Sprintf("it was closed with %d and no reason; want the reason said", ce.Code)
	}
	return true, ""
}

// stationSubscriptions returns the subscriptions the broker holds but for
// those it held before (baseline): what the nodes subscribed to since.
func (w *world) stationSubscriptions(t *testing.T, baseline []string) []string {
	t.Helper()
	var left []string
	baseline = slices.Clone(baseline)
	for _, s := range w.broker.Subscriptions(t) {
		if i := slices.Index(baseline, s); i >= 0 {
			baseline = slices.Delete(baseline, i, i+1)
			continue
		}
		left = append(left, s)
	}
	slices.Sort(left)
	return left
}

// list writes subjects for a message.
func list(subjects []string) string {
	if len(subjects) == 0 {
		return "none"
	}
	return strings.Join(subjects, ", ")
}
