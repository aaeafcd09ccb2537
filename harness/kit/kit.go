// Package kit is the test kit of the kata: it starts a step's server on the
// in-memory network, points simulated stations at it, and checks what the
// lessons are about — leaks, OS threads, concurrency and order — with
// failure messages that say what was measured, what was expected and why it
// matters.
package kit

import (
	"errors"
	"net"
	"testing"

	"go.uber.org/goleak"

	"github.com/ocppkata/kata/harness/memnet"
	"github.com/ocppkata/kata/stations/station"
)

// Server is what every step's server offers.
type Server interface {
	// Serve accepts stations on l until Close.
	Serve(l net.Listener) error
	// Close stops the server and waits for every goroutine it started.
	Close() error
}

// URL is the endpoint stations dial on the in-memory network. The host is
// never resolved: every dial reaches the test's listener.
const URL = "ws://kata.test/ocpp"

// Serve runs srv on a new in-memory listener until the test ends, then
// closes it and checks that Serve returned without error. Call it inside the
// synctest bubble the test runs in.
func Serve(t testing.TB, srv Server) *memnet.Listener {
	t.Helper()
	l := memnet.Listen()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := <-served; err != nil && !errors.Is(err, memnet.ErrClosed) {
			t.Errorf("Serve returned %v after Close, want nil", err)
		}
	})
	return l
}

// Stations returns station options that dial l.
func Stations(l *memnet.Listener) station.Options {
	return station.Options{URL: URL, Dial: l.DialContext}
}

// NoLeaks fails the test if a goroutine other than the test's own is still
// running when it is called. goleak retries for a moment, so goroutines that
// are on their way out are not counted.
func NoLeaks(t testing.TB) {
	t.Helper()
	if err := goleak.Find(); err != nil {
		t.Errorf("goroutines were still running after the server was closed:\n%v\n\n"+
			"A server must stop every goroutine it started before Close returns: "+
			"a goroutine left behind holds memory, and often a connection, forever.", err)
	}
}
