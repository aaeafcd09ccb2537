package kit

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/ocppkata/kata/stations/station"
)

// Traffic counts the bytes that crossed a loopback listener, so a test can
// tell when the server has read everything the stations wrote.
type Traffic struct {
	written atomic.Int64 // by the stations
	read    atomic.Int64 // by the server
}

// Drained reports whether the server has read every byte the stations wrote.
func (t *Traffic) Drained() bool { return t.read.Load() == t.written.Load() }

// ServeLoopback runs srv on a real TCP listener on 127.0.0.1 until the test
// ends, and returns station options that dial it and count the bytes sent.
// Real sockets are what the netpoller and OS-thread lessons are about; they
// do not work inside a synctest bubble.
func ServeLoopback(t testing.TB, srv Server) (station.Options, *Traffic) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen on loopback: %v", err)
	}
	traffic := &Traffic{}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(countingListener{l, &traffic.read}) }()
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := <-served; err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve returned %v after Close, want nil", err)
		}
	})
	var d net.Dialer
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countingConn{Conn: c, n: &traffic.written, write: true}, nil
	}
	return station.Options{URL: "ws://" + l.Addr().String() + "/ocpp", Dial: dial}, traffic
}

type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{Conn: c, n: l.n}, nil
}

// countingConn adds the bytes it reads (or, with write set, writes) to n.
type countingConn struct {
	net.Conn
	n     *atomic.Int64
	write bool
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if !c.write {
		c.n.Add(int64(n))
	}
	return n, err
}

func (c countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if c.write {
		c.n.Add(int64(n))
	}
	return n, err
}
