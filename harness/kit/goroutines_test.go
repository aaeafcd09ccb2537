package kit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/internal/stackdump"
	"github.com/ocppkata/kata/harness/ocpp"
)

func TestLeftBehind(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, w := io.Pipe()
		go io.ReadAll(r) // blocked in package io until w closes
		synctest.Wait()
		left := LeftBehind("io")
		require.Len(t, left, 1, "the goroutine reading the pipe")
		assert.Contains(t, left[0], "io.ReadAll(")
		assert.Contains(t, left[0], "synctest bubble", "a goroutine of this bubble")
		assert.Empty(t, LeftBehind("net/http"), "no goroutine runs code of net/http")
		assert.Empty(t, LeftBehind("i"), "a package path is matched whole")

		w.Close()
		synctest.Wait()
		assert.Empty(t, LeftBehind("io"), "the reader has ended")
	})
}

func TestLeftBehindCountsWhatAPackageStarted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newLeakyServer(false, false)
		srv.start(func() { <-srv.stop }) // a closure of this package, started by it
		synctest.Wait()
		require.Len(t, LeftBehind("github.com/ocppkata/kata/harness/kit"), 1)
		srv.release()
	})
}

// leakyServer starts a goroutine per Serve; its Close stops them, or not.
type leakyServer struct {
	stop  chan struct{} // ends the goroutines
	leak  bool          // Close leaves the goroutines blocked
	early bool          // Close does not wait for them to end

	closeOnce, stopOnce sync.Once
	closed              chan struct{} // ends Serve
	wg                  sync.WaitGroup
}

func newLeakyServer(leak, early bool) *leakyServer {
	return &leakyServer{stop: make(chan struct{}), closed: make(chan struct{}), leak: leak, early: early}
}

func (s *leakyServer) start(f func()) { s.wg.Go(f) }

func (s *leakyServer) Serve(l net.Listener) error {
	defer l.Close()
	s.start(s.loop)
	<-s.closed
	return nil
}

// loop is the goroutine that a leaking Close leaves behind.
func (s *leakyServer) loop() { <-s.stop }

func (s *leakyServer) Close() error {
	s.closeOnce.Do(func() { close(s.closed) })
	if s.leak {
		return nil
	}
	s.stopOnce.Do(func() { close(s.stop) })
	if !s.early {
		s.wg.Wait()
	}
	return nil
}

// release ends what a leaking Close left blocked, so the bubble can end.
func (s *leakyServer) release() { s.stopOnce.Do(func() { close(s.stop) }) }

func TestNoneLeftBehind(t *testing.T) {
	tests := []struct {
		name        string
		leak, early bool
		want        bool // a leak is reported
	}{
		{name: "Close waits"},
		{name: "Close returns while goroutines are on their way out", early: true},
		{name: "Close leaves a goroutine blocked", leak: true, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := newLeakyServer(tt.leak, tt.early)
				go srv.Serve(nopListener{})
				synctest.Wait()
				require.NoError(t, srv.Close())
				rec := &recorder{TB: t}
				NoneLeftBehind(rec, srv)
				errs := rec.errors()
				srv.release()
				if !tt.want {
					require.Empty(t, errs)
					return
				}
				require.Len(t, errs, 1)
				assert.True(t, strings.HasPrefix(errs[0], "leak: a goroutine of github.com/ocppkata/kata/harness/kit is still blocked after Close returned"), errs[0])
				assert.Contains(t, errs[0], "kit.(*leakyServer).loop at harness/kit/goroutines_test.go:", "where it waits is shown")
			})
		})
	}
}

// nopListener is a listener that Serve closes and never accepts from.
type nopListener struct{ net.Listener }

func (nopListener) Close() error { return nil }

func TestServeReportsALeak(t *testing.T) {
	var rec *recorder
	synctest.Test(t, func(t *testing.T) {
		rec = &recorder{TB: t}
		srv := newLeakyServer(true, false)
		t.Cleanup(srv.release) // runs after Serve's cleanup has looked
		Serve(rec, srv)
		synctest.Wait()
	})
	errs := rec.errors()
	require.Len(t, errs, 1)
	assert.Contains(t, errs[0], "leak: a goroutine of github.com/ocppkata/kata/harness/kit is still blocked after Close returned")
	assert.Contains(t, errs[0], "kit.(*leakyServer).loop at harness/kit/goroutines_test.go:")
}

// heldServer starts one background call in the backend; its Close cancels
// it, and waits for it or not.
type heldServer struct {
	b      *backend.Backend
	wait   bool
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func (s *heldServer) Serve(net.Listener) error { return nil }

func (s *heldServer) start() {
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.wg.Go(func() { s.b.Process(ctx, "CS1", &ocpp.Call{ID: "1", Action: ocpp.ActionHeartbeat}) })
}

func (s *heldServer) Close() error {
	s.cancel()
	if s.wait {
		s.wg.Wait()
	}
	return nil
}

func TestCloseWaits(t *testing.T) {
	tests := []struct {
		name string
		wait bool
		want []string
	}{
		{name: "Close waits", wait: true},
		{name: "Close returns at once", want: []string{
			"Close returned (err <nil>) while 1 calls it had started were still held in the backend",
			"The goroutines of the server still running when Close returned",
			"kit.(*heldServer).start.func1 at harness/kit/goroutines_test.go:",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := backend.New(backend.Options{})
				gate := b.HoldFirm(nil)
				srv := &heldServer{b: b, wait: tt.wait}
				srv.start()
				synctest.Wait()
				rec := &recorder{TB: t}
				CloseWaits(rec, srv, b, gate)
				srv.wg.Wait()
				errs := rec.errors()
				if len(tt.want) == 0 {
					require.Empty(t, errs)
					return
				}
				require.Len(t, errs, 1)
				for _, want := range tt.want {
					assert.Contains(t, errs[0], want)
				}
			})
		})
	}
}

func TestListLeft(t *testing.T) {
	worker := func(id, arg int) string {
		return fmt.Sprintf("goroutine %d [chan receive (durable), synctest bubble 1]:\n"+
			"example.com/step.(*Server).work(0x%x, {0x5311b48a360, 0x8})\n"+
			"\t/src/step/server.go:93 +0x%x\n"+
			"created by example.com/step.(*Server).start in goroutine %d\n"+
			"\t/src/step/server.go:41 +0x73", id, arg, arg, id+100)
	}
	reader := "goroutine 30 [select (durable), synctest bubble 1]:\n" +
		"example.com/step.(*conn).read.func1()\n" +
		"\t/src/step/server.go:60 +0x1a\n" +
		"created by sync.(*WaitGroup).Go in goroutine 12\n" +
		"\t/usr/local/go/src/sync/waitgroup.go:238 +0x73"
	dump := strings.Join([]string{worker(11, 1), reader, worker(12, 2), worker(13, 3)}, "\n\n")
	got := listLeft(stackdump.Parse(dump), "example.com/step")
	want := "  3 goroutines waiting (chan receive) in step.(*Server).work at /src/step/server.go:93, started by step.(*Server).start at /src/step/server.go:41\n" +
		"  1 goroutine waiting (select) in step.(*conn).read.func1 at /src/step/server.go:60, started by sync.(*WaitGroup).Go"
	require.Equal(t, want, got)
}

func TestCloseErrorExplainsSendOnClosed(t *testing.T) {
	rec := &recorder{TB: t}
	CheckClose(rec, nil)
	require.Empty(t, rec.errors())
	CheckClose(rec, errors.New("a connection's reader panicked: send on closed channel"))
	errs := rec.errors()
	require.Len(t, errs, 1)
	assert.Contains(t, errs[0], "Close: a connection's reader panicked: send on closed channel")
	assert.Contains(t, errs[0], "close the queue only once nothing can send on it any more")
}
