// Package kit is the test kit of the kata: it starts a step's server on the
// in-memory network, points simulated stations at it, and checks what the
// lessons are about — leaks, OS threads, concurrency and order — with
// failure messages that say what was measured, what was expected and why it
// matters.
package kit

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"testing/synctest"

	"go.uber.org/goleak"

	"github.com/ocppkata/kata/harness/backend"
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
// closes it, checks that Serve returned without error, and that no goroutine
// of srv's package was left behind (see NoneLeftBehind). Call it inside the
// synctest bubble the test runs in.
func Serve(t testing.TB, srv Server) *memnet.Listener {
	t.Helper()
	return ServeOn(t, srv, memnet.Listen())
}

// ServeOn is Serve on a listener of the caller's: one whose connections
// buffer what is written (memnet.ListenBuffered), for a server that reads
// what has arrived without waiting for more.
func ServeOn(t testing.TB, srv Server, l *memnet.Listener) *memnet.Listener {
	t.Helper()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	t.Cleanup(func() {
		CheckClose(t, srv.Close())
		if err := <-served; err != nil && !errors.Is(err, memnet.ErrClosed) {
			t.Errorf("Serve returned %v after Close, want nil", err)
		}
		if _, in := bubbled(); in && packageOf(srv) != "" {
			NoneLeftBehind(t, srv)
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
//
// It sees the goroutines outside synctest bubbles: those of servers on real
// sockets (ServeLoopback). A goroutine left behind in a bubble makes
// synctest.Test panic ("deadlock: main bubble goroutine has exited but
// blocked goroutines remain") before a NoLeaks after it can run: inside a
// bubble, NoneLeftBehind is the check (Serve makes it after Close).
func NoLeaks(t testing.TB) {
	t.Helper()
	// The lifeline watcher of an isolated test's process is the kit's, and
	// stops after the test.
	if err := goleak.Find(goleak.IgnoreAnyFunction(watcherFunc)); err != nil {
		t.Errorf("leak: goroutines were still running after the server was closed:\n%v\n\n"+
			"A server must stop every goroutine it started before Close returns: "+
			"a goroutine left behind holds memory, and often a connection, forever.", err)
	}
}

// CloseWaits closes srv while the work that gate holds is still in the
// backend, and fails the test if Close returns before that work has left it.
// The gate must come from Backend.HoldFirm, so the held work cannot end
// early when the server cancels it: a Close that returns while it is held
// has left the goroutine doing it running. Call it inside the synctest
// bubble, once the work is held (after synctest.Wait).
func CloseWaits(t testing.TB, srv Server, b *backend.Backend, gate *backend.Gate) {
	t.Helper()
	held := gate.Waiting()
	if held == 0 {
		t.Fatal("no work was held in the backend; the test cannot check that Close waits for it")
	}
	closed := make(chan error, 1)
	go func() { closed <- srv.Close() }()
	synctest.Wait() // Close has returned, or it waits for something that only the gate can end
	select {
	case err := <-closed:
		still := ""
		if left := leftBehind(packageOf(srv)); len(left) > 0 {
			still = fmt.Sprintf("\n\nThe goroutines of the server still running when Close returned:\n%s", listLeft(left, packageOf(srv)))
		}
		if err != nil && strings.Contains(err.Error(), "send on closed channel") {
			still += "\n\nA send on a closed channel panics: close the queue only once nothing can send on it any more, " +
				"that is after every connection's reader has returned."
		}
		t.Errorf("Close returned (err %v) while %d calls it had started were still held in the backend, "+
			"want it to wait for them: Close must return only once every goroutine the server started has ended, "+
			"or the caller frees what those goroutines still use (a listener, a database) under their feet.%s", err, held, still)
		gate.Open()
		return
	default:
	}
	gate.Open()
	CheckClose(t, <-closed)
}

// sendOnClosed explains the panic of a Close that closes its queue while
// connections may still send on it.
const sendOnClosed = "A send on a closed channel panics: close the queue only once nothing can send on it any more, " +
	"that is after every connection's reader has returned."

// CheckClose fails the test if Close returned an error, and says what a
// panic it reports usually means.
func CheckClose(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		return
	}
	why := ""
	if strings.Contains(err.Error(), "send on closed channel") {
		why = "\n" + sendOnClosed
	}
	t.Errorf("Close: %v%s", err, why)
}
