// Package memnet is an in-memory network: a net.Listener fed by a channel
// and a dialer over net.Pipe (Listen), or over connections that buffer what
// is written as sockets do (ListenBuffered). A whole server and its
// stations can run on it inside a testing/synctest bubble, where every
// read and write waits on a channel or a sync.Cond, and so fake time moves
// only when everyone is waiting.
package memnet

import (
	"context"
	"errors"
	"net"
	"sync"
)

// ErrClosed is returned by Dial and Accept once the listener is closed.
var ErrClosed = errors.New("memnet: listener closed")

// Listener is a net.Listener whose connections come from its Dial method.
// The zero value is not usable; call Listen or ListenBuffered.
type Listener struct {
	conns     chan net.Conn
	done      chan struct{}
	closeOnce sync.Once
	size      int // each way's buffer (ListenBuffered); 0: net.Pipe
}

// Listen returns a new in-memory listener whose connections are net.Pipe's:
// synchronous, a Write waits until Reads at the other end have taken all
// of it.
func Listen() *Listener {
	return &Listener{conns: make(chan net.Conn), done: make(chan struct{})}
}

// Accept waits for the next Dial and returns the server's end of the pipe.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, ErrClosed
	}
}

// Close stops the listener. Connections already accepted stay open.
func (l *Listener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return nil
}

// Addr returns a placeholder address.
func (l *Listener) Addr() net.Addr { return addr{} }

// Dial connects to the listener and returns the client's end of the pipe.
// It waits until the server accepts, the context ends or the listener closes.
func (l *Listener) Dial(ctx context.Context) (net.Conn, error) {
	client, server := l.pair()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
	case <-ctx.Done():
		client.Close()
		server.Close()
		return nil, ctx.Err()
	}
	client.Close()
	server.Close()
	return nil, ErrClosed
}

// pair returns the two ends of a new connection.
func (l *Listener) pair() (client, server net.Conn) {
	if l.size > 0 {
		return newBuffered(l.size)
	}
	return net.Pipe()
}

// DialContext has the signature of net.Dialer.DialContext, so it can stand in
// for the real network in an http or websocket dialer. Network and address
// are ignored: every dial reaches this listener.
func (l *Listener) DialContext(ctx context.Context, _, _ string) (net.Conn, error) {
	return l.Dial(ctx)
}

type addr struct{}

func (addr) Network() string { return "memnet" }
func (addr) String() string  { return "memnet" }
