package backend_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/kit"
)

// The blocking flavour waits in real system calls, which neither a synctest
// bubble nor a context can interrupt: these tests run on real time and
// assert counts, never durations.

func threads(t *testing.T) int {
	t.Helper()
	n, err := kit.Threads()
	require.NoError(t, err)
	return n
}

// isolated is kit.Isolated without the race detector's one-second sleep at
// the exit of the child process.
func isolated(t *testing.T, body func(t *testing.T)) {
	t.Helper()
	t.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	kit.Isolated(t, body)
}

func TestBlockingSupported(t *testing.T) {
	switch runtime.GOOS {
	case "linux", "darwin":
		require.True(t, backend.BlockingSupported, "the blocking flavour must work on Linux and macOS")
	}
	if backend.BlockingSupported {
		return
	}
	require.PanicsWithError(t, backend.ErrBlockingUnsupported.Error(), func() {
		backend.New(backend.Options{Blocking: true})
	}, "New must say that the blocking flavour is missing here, not fail later")
	backend.New(backend.Options{}) // the other flavour works everywhere
}

// awaitThreads polls the thread count until it has grown by want over
// before, or the work has left b, or ctx ended, and returns it. A call counts as in the backend just
// before it enters its system call, and the runtime starts a thread for the
// others once it is in. The polling only decides when to look; the count is
// what the caller checks.
func awaitThreads(ctx context.Context, t *testing.T, b *backend.Backend, before, want int) int {
	t.Helper()
	during := threads(t)
	for during-before < want && b.Stats().InFlight > 0 && ctx.Err() == nil {
		time.Sleep(time.Millisecond)
		during = threads(t)
	}
	return during
}

func TestBlockingGateHoldsAThreadPerCall(t *testing.T) {
	kit.NeedBlocking(t)
	// Go never gives a thread back: count in a fresh process.
	isolated(t, func(t *testing.T) {
		const n = 50
		b := backend.New(backend.Options{Blocking: true})
		g := b.Hold(nil)
		t.Cleanup(g.Open) // a blocked read(2) cannot be cancelled: never leave one behind
		before := threads(t)

		var r replies
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				assert.NoError(t, b.Handle(context.Background(), fmt.Sprintf("CS%d", i), heartbeat("h"), r.send))
			})
		}
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		require.NoError(t, b.Await(ctx, func(s backend.Stats) bool { return s.Held == n }))
		require.Equal(t, n, g.Waiting())

		during := awaitThreads(ctx, t, b, before, n-5)
		if during-before < n-5 {
			t.Fatalf("OS threads: %d before, %d with %d calls held at a blocking gate (%+d), want %+d at least: "+
				"each call held at a blocking gate holds an OS thread of its own", before, during, n, during-before, n-5)
		}
		t.Logf("OS threads: %d before, %d with %d calls held at a blocking gate (%+d)", before, during, n, during-before)
		require.Zero(t, r.count())

		g.Open()
		wg.Wait()
		require.Equal(t, n, r.count())
		require.Equal(t, backend.Stats{Peak: n, Done: n}, b.Stats())
	})
}

func TestBlockingLatencyHoldsAThreadPerCall(t *testing.T) {
	kit.NeedBlocking(t)
	isolated(t, func(t *testing.T) {
		// Every call sleeps its latency in select(2), long enough for the
		// test to count the threads they hold: the count is what is
		// checked, and the latency only keeps the calls in for a while.
		const n = 20
		b := backend.New(backend.Options{Blocking: true, Latencies: backend.Latencies{Other: 2 * time.Second}})
		before := threads(t)
		var r replies
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				assert.NoError(t, b.Handle(context.Background(), fmt.Sprintf("CS%d", i), heartbeat("h"), r.send))
			})
		}
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		require.NoError(t, b.Await(ctx, func(s backend.Stats) bool { return s.InFlight == n }))
		during := awaitThreads(ctx, t, b, before, n-5)
		wg.Wait()
		if during-before < n-5 {
			t.Fatalf("OS threads: %d before, %d with %d calls sleeping their latency (%+d), want %+d at least: "+
				"each call sleeping its latency in the blocking flavour holds an OS thread of its own", before, during, n, during-before, n-5)
		}
		t.Logf("OS threads: %d before, %d with %d calls sleeping their latency (%+d)", before, during, n, during-before)
		require.Equal(t, n, r.count())
	})
}

func TestBlockingGateIgnoresContext(t *testing.T) {
	kit.NeedBlocking(t)
	b := backend.New(backend.Options{Blocking: true})
	g := b.Hold(nil)
	t.Cleanup(g.Open)
	ctx, cancel := context.WithCancel(t.Context())
	var r replies
	handled := make(chan error, 1)
	go func() { handled <- b.Handle(ctx, "CS1", heartbeat("1"), r.send) }()
	require.NoError(t, b.Await(t.Context(), func(s backend.Stats) bool { return s.Held == 1 }))

	cancel()
	// Like a call into a C driver, the wait cannot be interrupted: it cannot
	// have returned, however long we look.
	for range 100 {
		runtime.Gosched()
	}
	require.False(t, done(handled), "a blocking gate returned before it was opened")
	require.Equal(t, 1, g.Waiting())

	g.Open()
	require.ErrorIs(t, <-handled, context.Canceled, "the context's error is reported once the wait ends")
	require.Zero(t, r.count(), "a call whose context ended must not be answered")
	require.Equal(t, backend.Stats{Peak: 1, Done: 1}, b.Stats())
}

func TestBlockingLatencies(t *testing.T) {
	kit.NeedBlocking(t)
	// Short real latencies, to go through nanosleep(2); only the outcome is checked.
	lat := backend.Latencies{Before: time.Millisecond, Other: time.Millisecond, After: time.Millisecond}
	b := backend.New(backend.Options{Blocking: true, Latencies: lat})
	var r replies
	require.NoError(t, b.Handle(t.Context(), "CS1", heartbeat("1"), r.send))
	require.NoError(t, b.Process(t.Context(), "CS1", heartbeat("2")))
	require.Equal(t, 1, r.count())
	rec := b.Records()
	require.Len(t, rec, 2)
	// A lower bound on real time cannot be flaky: the sleep in select(2)
	// must not end early, signals or not.
	require.GreaterOrEqual(t, rec[0].Replied.Sub(rec[0].Start), lat.Before+lat.Other)
	require.GreaterOrEqual(t, rec[0].End.Sub(rec[0].Replied), lat.After)
	require.GreaterOrEqual(t, rec[1].End.Sub(rec[1].Start), lat.Other)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	require.ErrorIs(t, b.Handle(ctx, "CS1", heartbeat("3"), r.send), context.Canceled)
	require.Equal(t, 1, r.count(), "a call whose context had ended must not be answered")
}

func TestBlockingGateOpenedBeforeWork(t *testing.T) {
	kit.NeedBlocking(t)
	b := backend.New(backend.Options{Blocking: true})
	g := b.Hold(nil)
	g.Open()
	g.Open()
	var r replies
	require.NoError(t, b.Handle(t.Context(), "CS1", heartbeat("1"), r.send))
	require.Equal(t, 1, r.count())
}
