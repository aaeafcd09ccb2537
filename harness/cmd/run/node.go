package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/nats-io/nats.go"

	"github.com/ocppkata/kata/harness/api"
	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/cmd/run/internal/steplink"
	"github.com/ocppkata/kata/harness/metrics"
	"github.com/ocppkata/kata/harness/portmux"
	"github.com/ocppkata/kata/harness/roster"
	"github.com/ocppkata/kata/harness/store"
)

// maxNodeName bounds NODE: it travels in every routed call's headers and
// labels a metric.
const maxNodeName = 64

// checkNATSURL says what is wrong with NATS_URL, if anything: a list of
// servers, comma-separated, each nats://, tls://, ws:// or wss:// with a
// host, as nats.Connect takes them.
func checkNATSURL(list string) error {
	for s := range strings.SplitSeq(list, ",") {
		u, err := url.Parse(strings.TrimSpace(s))
		if err != nil || u.Host == "" || !slices.Contains([]string{"nats", "tls", "ws", "wss"}, u.Scheme) {
			return fmt.Errorf("-nats-url %q: want nats://HOST:PORT, such as nats://127.0.0.1:4222 (several: comma-separated)", redactURLs(list))
		}
	}
	return nil
}

// checkNodeName says what is wrong with NODE, if anything.
func checkNodeName(name string) error {
	switch {
	case len(name) > maxNodeName:
		return fmt.Errorf("-node %q: want a name of at most %d bytes", name, maxNodeName)
	case strings.ContainsFunc(name, func(r rune) bool { return unicode.IsControl(r) || r == unicode.ReplacementChar }):
		return fmt.Errorf("-node %q: want a name without control characters", name)
	}
	return nil
}

// nodeName returns NODE, or the default for a server listening on addr:
// this machine's short hostname and the port, which tells apart the nodes
// of one machine (make cluster) as well as those of several.
func nodeName(name string, addr net.Addr) string {
	if name != "" {
		return name
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "node"
	}
	host, _, _ = strings.Cut(host, ".")
	port := addr.String()
	if tcp, ok := addr.(*net.TCPAddr); ok {
		port = fmt.Sprint(tcp.Port)
	}
	return host + ":" + port
}

// redactURLs returns a NATS_URL fit to print: a password in it is
// replaced with xxxxx.
func redactURLs(list string) string {
	parts := strings.Split(list, ",")
	for i, s := range parts {
		if u, err := url.Parse(strings.TrimSpace(s)); err == nil {
			parts[i] = u.Redacted()
		}
	}
	return strings.Join(parts, ",")
}

// The NATS connection's timing. A node reconnects forever, once a second:
// a broker that restarts must not end it, and a node that waits longer
// between tries would leave its stations unreachable from the others for
// longer once the broker is back. Pings find a broker that vanished
// without closing the connection (a cable cut) within about 30 s; one that
// restarts closes it, and the node notices at once.
const (
	natsReconnectWait = time.Second
	natsPingInterval  = 10 * time.Second
	natsMaxPingsOut   = 2
	natsDrainTimeout  = 5 * time.Second
)

// checkCluster refuses NATS_URL for a step whose server is no node of a
// cluster (its Config has no NATS, among the optional fields given): it
// would serve its own stations only, and say nothing.
func checkCluster(natsURL string, step int, fields []string) error {
	if natsURL == "" || slices.Contains(fields, "NATS") {
		return nil
	}
	return fmt.Errorf("step %02d has no cluster (its Config has no NATS): NATS_URL needs step 10 or later (or leave NATS_URL out to serve as one server)", step)
}

// clusterBanner says which node the server is and which NATS it joined,
// for a step whose server can be a node of a cluster (its Config has
// NATS, among fields); "" for the others.
func clusterBanner(natsURL, node string, fields []string) string {
	switch {
	case natsURL != "":
		return fmt.Sprintf("node %s of a cluster · NATS %s · the API lists and calls the stations of every node", node, redactURLs(natsURL))
	case slices.Contains(fields, "NATS"):
		return fmt.Sprintf("node %s, a cluster of one · NATS_URL=nats://HOST:4222 joins the nodes that share it (and the store)", node)
	}
	return ""
}

// natsLink is the node's connection to the cluster's broker.
type natsLink struct {
	conn    *nats.Conn
	closed  chan struct{} // closed when conn is
	leaving atomic.Bool   // set by leave: a disconnection then is no news
}

// joinCluster connects to the NATS servers of list as node. A broker that
// is not there at the start is an error: the node would otherwise serve as
// a cluster of one without a word. Once connected, it reconnects forever.
func joinCluster(list, node string, logger *slog.Logger) (*natsLink, error) {
	n := &natsLink{closed: make(chan struct{})}
	nc, err := nats.Connect(list,
		nats.Name(node),
		nats.SyncQueueLen(steplink.RoutedInboxLen),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(natsReconnectWait),
		nats.PingInterval(natsPingInterval),
		nats.MaxPingsOutstanding(natsMaxPingsOut),
		nats.DrainTimeout(natsDrainTimeout),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if n.leaving.Load() {
				return
			}
			logger.Warn("NATS: disconnected from the broker; reconnecting every second (meanwhile calls to the other nodes' stations fail, and theirs to this node's)", "err", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			logger.Info("NATS: reconnected", "server", nc.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			logger.Warn("NATS: asynchronous error", "subject", subject, "err", err)
		}),
		nats.ClosedHandler(func(*nats.Conn) { close(n.closed) }),
	)
	if err != nil {
		return nil, fmt.Errorf("NATS_URL=%s: cannot join the cluster: %w; is a NATS server running there? (nats-server -p 4222 starts one; make cluster starts one with its nodes)", redactURLs(list), err)
	}
	n.conn = nc
	return n, nil
}

// Conn returns the connection, or nil for a cluster of one (n nil).
func (n *natsLink) Conn() *nats.Conn {
	if n == nil {
		return nil
	}
	return n.conn
}

// leave drains the connection, once the step's server has closed: what it
// published is flushed and its subscriptions let go before the connection
// closes, within natsDrainTimeout.
func (n *natsLink) leave() error {
	if n == nil {
		return nil
	}
	n.leaving.Store(true)
	if err := n.conn.Drain(); err != nil {
		n.conn.Close()
		if errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, nats.ErrConnectionReconnecting) {
			return nil // closed already, or now: nothing left to flush
		}
		return fmt.Errorf("NATS: drain: %w", err)
	}
	<-n.closed // Drain closes the connection at the latest at its timeout
	return nil
}

// A node is the step's server and what make serve puts beside it on the
// port, that needs to know the cluster: the operator API and the metrics.
type node struct {
	name     string
	srv      steplink.Server
	backend  *backend.Backend
	store    store.Store
	stations *portmux.Mux
	// roster, in a cluster, tells which node holds each station; nil for
	// a cluster of one, where the API and the metrics stay as they were
	// before step 10.
	roster *roster.Roster
	// notConnected recognizes the step's ErrNotConnected.
	notConnected func(error) bool
}

// newMetrics returns the node's metrics: in a cluster, with its name.
func (n *node) newMetrics() *metrics.Metrics {
	opts := metrics.Options{Stations: n.stations, Server: n.srv}
	if n.roster != nil {
		opts.Node = n.name
	}
	return metrics.New(opts)
}

// apiOptions returns the operator API's options, but its token and
// logger. In a cluster, the station listings ask the roster, and each call
// a station answers counts by its route: local if the station is
// connected here, routed if another node holds it.
func (n *node) apiOptions(m *metrics.Metrics) api.Options {
	opts := api.Options{
		Store: n.store, Connected: n.stations.IsConnected,
		Registration: func(station string) string {
			if n.roster != nil && !n.stations.IsConnected(station) {
				// Another node's station, or nobody's: what this
				// node's backend remembers of it may be stale. The
				// node that holds it answers for it.
				return ""
			}
			return string(n.backend.Registration(station))
		},
	}
	if n.roster != nil {
		opts.Cluster = n.roster
	}
	c, ok := n.srv.(stationCaller)
	if !ok {
		return opts
	}
	opts.NotConnected = n.notConnected
	opts.Call = func(ctx context.Context, station, action string, req, resp any) error {
		local := n.stations.IsConnected(station)
		start := time.Now()
		err := c.Call(ctx, station, action, req, resp)
		took := time.Since(start)
		m.ServerCall(action, err, took)
		switch {
		case n.roster == nil:
		case local:
			m.CallRoute(metrics.RouteLocal, err, took)
		case !n.notConnected(err): // no node holds it: no route
			m.CallRoute(metrics.RouteRouted, err, took)
		}
		return err
	}
	return opts
}
