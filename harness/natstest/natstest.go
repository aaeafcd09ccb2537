// Package natstest runs a NATS server inside a test's own process, with no
// listener: the nodes of a cluster under test connect to it in process
// (nats.InProcessServer), over a net.Pipe. Started inside a
// testing/synctest bubble, the server's goroutines and timers are the
// bubble's: its pings and timeouts run on fake time, and a test ends only
// once the server has shut down.
package natstest

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Broker is an embedded NATS server.
type Broker struct {
	srv *server.Server
}

// Start starts a NATS server that listens on nothing and shuts it down when
// the test ends, after the connections made with Connect are closed.
func Start(t testing.TB) *Broker {
	t.Helper()
	srv, err := server.NewServer(&server.Options{
		ServerName: "kata",
		DontListen: true, // no port: connections come in process
		NoSigs:     true, // the test's signals are the test's
		NoLog:      true,
	})
	if err != nil {
		t.Fatalf("natstest: new server: %v", err)
	}
	srv.Start()
	t.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("natstest: the embedded NATS server was not ready for connections within 10s")
	}
	return &Broker{srv: srv}
}

// Connect connects to the broker in process as name (a node of the cluster
// under test) and closes the connection when the test ends. Close it
// earlier to cut the node off from the broker, as a killed process or a
// cut network would: the broker drops its subscriptions at once.
func (b *Broker) Connect(t testing.TB, name string) *nats.Conn {
	t.Helper()
	// A sync subscription's channel holds 64 messages, not nats.go's
	// 65,536 (512 KiB): a node that routes each call through an inbox of
	// its own would otherwise allocate half a megabyte a call, as make
	// serve's nodes do not.
	nc, err := nats.Connect("", nats.InProcessServer(b.srv), nats.Name(name), nats.NoReconnect(), nats.SyncQueueLen(64))
	if err != nil {
		t.Fatalf("natstest: connect %s: %v", name, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// Subscriptions returns the subject of every subscription the clients
// hold, but for the inboxes through which nats.Conn receives its requests'
// replies (one wildcard subscription per connection, made on its first
// request, kept until it closes). A per-call inbox a client forgot is
// listed. The broker's own ($SYS.…, which it adds to the clients' account
// a moment after it starts) are not.
func (b *Broker) Subscriptions(t testing.TB) []string {
	t.Helper()
	sz, err := b.srv.Subsz(&server.SubszOptions{Subscriptions: true, Limit: 1 << 20, Account: server.DEFAULT_GLOBAL_ACCOUNT})
	if err != nil {
		t.Fatalf("natstest: subscriptions: %v", err)
	}
	var subjects []string
	for _, s := range sz.Subs {
		switch {
		case strings.HasPrefix(s.Subject, nats.InboxPrefix) && strings.HasSuffix(s.Subject, ".*"):
			continue // a connection's reply mux
		case strings.HasPrefix(s.Subject, "$SYS."):
			continue // the broker's own
		}
		subjects = append(subjects, s.Subject)
	}
	return subjects
}

// Interest returns how many subscriptions a message published on subject
// would reach.
func (b *Broker) Interest(t testing.TB, subject string) int {
	t.Helper()
	sz, err := b.srv.Subsz(&server.SubszOptions{Subscriptions: true, Limit: 1 << 20, Account: server.DEFAULT_GLOBAL_ACCOUNT, Test: subject})
	if err != nil {
		t.Fatalf("natstest: interest in %s: %v", subject, err)
	}
	return len(sz.Subs)
}
