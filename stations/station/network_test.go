package station_test

import (
	"context"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ocppkata/kata/harness/memnet"
)

// network is an in-memory network of central systems, each on a host of
// its own: a dial reaches the listener of the host and port it names, and
// is refused, as over TCP, where nobody listens. It records every dial.
type network struct {
	mu        sync.Mutex
	listeners map[string]*memnet.Listener // by address, such as "a.test:80"
	dials     []dial
}

// dial is one attempt to connect: where to, and when.
type dial struct {
	addr string
	at   time.Time
}

func newNetwork() *network {
	return &network{listeners: make(map[string]*memnet.Listener)}
}

// listen starts listening on addr.
func (n *network) listen(addr string) *memnet.Listener {
	l := memnet.Listen()
	n.mu.Lock()
	n.listeners[addr] = l
	n.mu.Unlock()
	return l
}

// down stops listening on addr: dials to it are refused from now on.
func (n *network) down(addr string) {
	n.mu.Lock()
	l := n.listeners[addr]
	delete(n.listeners, addr)
	n.mu.Unlock()
	if l != nil {
		l.Close()
	}
}

// DialContext has the signature of station.Dialer.
func (n *network) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	n.mu.Lock()
	n.dials = append(n.dials, dial{addr, time.Now()})
	l := n.listeners[addr]
	n.mu.Unlock()
	if l == nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ECONNREFUSED}
	}
	return l.DialContext(ctx, network, addr)
}

// dialed returns the dials so far.
func (n *network) dialed() []dial {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]dial(nil), n.dials...)
}

// server starts a fake central system on addr, and stops it, if the test
// has not killed it, when the test ends.
func (n *network) server(t *testing.T, addr string, cfg fakeConfig) *fakeCS {
	fc := newFakeCS(t, n.listen(addr), cfg)
	t.Cleanup(func() { n.kill(addr, fc) })
	return fc
}

// kill stops the central system on addr as kill -9 does: nobody listens
// there any more, and its connections end without a close frame.
func (n *network) kill(addr string, fc *fakeCS) {
	n.down(addr)
	fc.closeOnce.Do(fc.Close)
}
