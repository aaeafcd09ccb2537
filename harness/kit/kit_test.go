package kit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ocppkata/kata/harness/memnet"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/harness/wsconn"
	"github.com/ocppkata/kata/stations/station"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// isolated is Isolated without the race detector's one-second sleep at the
// exit of the child process.
func isolated(t *testing.T, body func(t *testing.T)) {
	t.Helper()
	quickExit(t)
	Isolated(t, body)
}

// quickExit makes child processes started from now on skip the race
// detector's one-second sleep when they exit.
func quickExit(t *testing.T) {
	t.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
}

// recorder is a testing.TB that keeps the errors reported to it, so a test
// can check what a helper of the kit reports without failing itself.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recorder) errors() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.errs...)
}

func TestThreads(t *testing.T) {
	n, err := Threads()
	require.NoError(t, err)
	require.Positive(t, n)
	// The runtime has at least the thread running this test and sysmon.
	require.GreaterOrEqual(t, n, 2)
}

func TestThreadsCountLockedGoroutines(t *testing.T) {
	// Go never gives an idle thread back: count in a fresh process.
	isolated(t, func(t *testing.T) {
		const n = 20
		before, err := Threads()
		require.NoError(t, err)

		release := make(chan struct{})
		locked := make(chan struct{})
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				// Exiting while locked ends the thread too.
				runtime.LockOSThread()
				locked <- struct{}{}
				<-release
			})
		}
		for range n {
			<-locked
		}
		// Each of the n goroutines now owns a thread that no other
		// goroutine may use, so the count cannot be lower than n + 1.
		during, err := Threads()
		require.NoError(t, err)
		close(release)
		wg.Wait()
		if during <= n || during-before < n-5 {
			t.Fatalf("OS threads: %d before, %d with %d goroutines locked to theirs (%+d), want more than %d and %+d at least: "+
				"each locked goroutine has a thread of its own", before, during, n, during-before, n, n-5)
		}
		t.Logf("OS threads: %d before, %d with %d goroutines locked to theirs (%+d)", before, during, n, during-before)
	})
}

// The helper tests below run only when TestIsolated starts them in a
// process of their own, to see what Isolated makes of their verdict.
const helperEnv = "KIT_TEST_ISOLATED_HELPER"

func TestIsolatedHelperPasses(t *testing.T) {
	if os.Getenv(helperEnv) == "" {
		t.Skip("run by TestIsolated")
	}
	Isolated(t, func(t *testing.T) {
		t.Logf("hello from the child, %s=%s", isolatedEnv, os.Getenv(isolatedEnv))
	})
}

func TestIsolatedHelperFails(t *testing.T) {
	if os.Getenv(helperEnv) == "" {
		t.Skip("run by TestIsolated")
	}
	Isolated(t, func(t *testing.T) {
		t.Log("a line before the failure")
		t.Error("the child failed")
	})
}

func TestIsolatedHelperPanics(t *testing.T) {
	if os.Getenv(helperEnv) == "" {
		t.Skip("run by TestIsolated")
	}
	Isolated(t, func(t *testing.T) {
		panic("the child panicked")
	})
}

func TestIsolatedHelperSkips(t *testing.T) {
	if os.Getenv(helperEnv) == "" {
		t.Skip("run by TestIsolated")
	}
	Isolated(t, func(t *testing.T) {
		t.Skip("the child has nothing to do here")
	})
}

func TestIsolated(t *testing.T) {
	tests := []struct {
		helper  string
		verdict string // the parent's
		want    []string
	}{
		{"TestIsolatedHelperPasses", "PASS", []string{"hello from the child, " + isolatedEnv + "=TestIsolatedHelperPasses"}},
		{"TestIsolatedHelperSkips", "SKIP", []string{"the child has nothing to do here"}},
		{"TestIsolatedHelperFails", "FAIL", []string{"a line before the failure", "the child failed"}},
		{"TestIsolatedHelperPanics", "FAIL", []string{"panic: the child panicked"}},
	}
	quickExit(t)
	t.Setenv(helperEnv, "1")
	for _, tt := range tests {
		t.Run(tt.helper, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^"+tt.helper+"$", "-test.v", "-test.count=1")
			out, err := cmd.CombinedOutput()
			text := string(out)
			if tt.verdict == "FAIL" {
				require.Error(t, err, "Isolated did not report the child's failure:\n%s", text)
			} else {
				require.NoError(t, err, text)
			}
			require.Contains(t, text, "--- "+tt.verdict+": "+tt.helper)
			for _, want := range tt.want {
				require.Contains(t, text, want, "the child's log did not reach the parent")
			}
		})
	}
}

func TestIsolatedRunsTheBodyInAChild(t *testing.T) {
	quickExit(t)
	parent := os.Getpid()
	ran := false
	Isolated(t, func(t *testing.T) {
		ran = true
		require.Equal(t, t.Name(), os.Getenv(isolatedEnv))
		t.Logf("the body runs in process %d", os.Getpid())
	})
	if os.Getenv(isolatedEnv) == "" {
		require.False(t, ran, "the body ran in the parent process (%d)", parent)
	} else {
		require.True(t, ran, "the child did not run the body")
	}
}

func TestChildLog(t *testing.T) {
	tests := []struct {
		name string
		out  string
		want string
	}{
		{"empty", "", ""},
		{
			"passing child",
			"=== RUN   TestX\n" +
				"    x_test.go:10: hello\n" +
				"--- PASS: TestX (0.01s)\n" +
				"PASS\n",
			"x_test.go:10: hello",
		},
		{
			"failing child",
			"=== RUN   TestX\n" +
				"    x_test.go:10: before\n" +
				"    x_test.go:11: it broke:\n" +
				"        want 1, got 2\n" +
				"--- FAIL: TestX (0.01s)\n" +
				"FAIL\n" +
				"exit status 1\n",
			"x_test.go:10: before\nx_test.go:11: it broke:\n    want 1, got 2",
		},
		{
			"subtests and parallel tests",
			"=== RUN   TestX\n" +
				"=== RUN   TestX/a\n" +
				"=== PAUSE TestX/a\n" +
				"=== CONT  TestX/a\n" +
				"=== NAME  TestX/a\n" +
				"        x_test.go:20: in a\n" +
				"    --- PASS: TestX/a (0.00s)\n" +
				"--- PASS: TestX (0.00s)\n" +
				"PASS\n" +
				"ok  \tpkg\t0.1s\n",
			"    x_test.go:20: in a",
		},
		{
			"output that is not a test log is kept as it is",
			"panic: boom\n\ngoroutine 1 [running]:\nmain.main()\n",
			"panic: boom\n\ngoroutine 1 [running]:\nmain.main()",
		},
		{"only framing", "=== RUN   TestX\n--- PASS: TestX (0.00s)\nPASS\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, childLog([]byte(tt.out)))
		})
	}
}

func TestChildLogKeepsTheBodyOfMessages(t *testing.T) {
	out := "=== RUN   TestX\n" +
		"    x_test.go:11: diff:\n" +
		"        --- want\n" +
		"        +++ got\n" +
		"        \n" +
		"        === section\n" +
		"--- FAIL: TestX (0.01s)\n"
	require.Equal(t, "x_test.go:11: diff:\n    --- want\n    +++ got\n    \n    === section", childLog([]byte(out)))
}

// tinyServer is the least a kit.Server can be: it accepts connections and,
// when told to, reads what each one sends.
type tinyServer struct {
	read    chan []byte   // what was read, one value per connection
	proceed chan struct{} // a value lets one connection read
	n       int           // bytes each connection reads

	mu    sync.Mutex
	l     net.Listener
	conns []net.Conn
	wg    sync.WaitGroup
}

func (s *tinyServer) Serve(l net.Listener) error {
	s.mu.Lock()
	s.l = l
	s.mu.Unlock()
	for {
		c, err := l.Accept()
		if err != nil {
			return nil
		}
		s.mu.Lock()
		s.conns = append(s.conns, c)
		s.mu.Unlock()
		s.wg.Go(func() {
			<-s.proceed
			buf := make([]byte, s.n)
			if _, err := io.ReadFull(c, buf); err == nil {
				s.read <- buf
			}
		})
	}
}

func (s *tinyServer) Close() error {
	s.mu.Lock()
	if s.l != nil {
		s.l.Close()
	}
	for _, c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	close(s.proceed)
	s.wg.Wait()
	return nil
}

func TestServeLoopbackTraffic(t *testing.T) {
	srv := &tinyServer{read: make(chan []byte, 1), proceed: make(chan struct{}), n: 5}
	opts, traffic := ServeLoopback(t, srv)
	require.True(t, strings.HasPrefix(opts.URL, "ws://127.0.0.1:"), opts.URL)
	require.True(t, strings.HasSuffix(opts.URL, "/ocpp"), opts.URL)
	require.True(t, traffic.Drained(), "nothing was written yet")

	addr := strings.TrimSuffix(strings.TrimPrefix(opts.URL, "ws://"), "/ocpp")
	c, err := opts.Dial(t.Context(), "tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write([]byte("hello"))
	require.NoError(t, err)
	require.False(t, traffic.Drained(), "the server has not read the 5 bytes the station wrote")

	srv.proceed <- struct{}{}
	require.Equal(t, "hello", string(<-srv.read))
	require.True(t, traffic.Drained(), "the server read every byte the station wrote")
}

func TestServeLoopbackWithStations(t *testing.T) {
	srv := &wsconn.Server{Handle: func(c *wsconn.Conn) {
		for {
			m, err := c.Read()
			if err != nil {
				return
			}
			if err := c.Send(&ocpp.CallResult{ID: m.MessageID(), Payload: []byte(`{"currentTime":"2025-01-01T00:00:00Z"}`)}); err != nil {
				return
			}
		}
	}}
	opts, traffic := ServeLoopback(t, srv)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	st, err := station.Dial(ctx, "CS1", opts)
	require.NoError(t, err)
	defer st.Close()
	require.True(t, traffic.Drained(), "the server answered the handshake without reading all of it")
	var resp ocpp.HeartbeatResponse
	require.NoError(t, st.Call(ctx, ocpp.ActionHeartbeat, ocpp.HeartbeatRequest{}, &resp))
	require.Equal(t, 2025, resp.CurrentTime.Year())
	require.True(t, traffic.Drained(), "the server answered a call without reading all of it")
}

// fakeServer serves by waiting for Close, and returns what it is told to.
type fakeServer struct {
	serveErr, closeErr error
	closed             chan struct{}
	once               sync.Once
}

func (s *fakeServer) Serve(l net.Listener) error {
	defer l.Close()
	<-s.closed
	return s.serveErr
}

func (s *fakeServer) Close() error {
	s.once.Do(func() { close(s.closed) })
	return s.closeErr
}

func TestServeReports(t *testing.T) {
	tests := []struct {
		name               string
		serveErr, closeErr error
		want               []string
	}{
		{name: "clean"},
		{name: "listener closed", serveErr: memnet.ErrClosed},
		{name: "Serve fails", serveErr: errors.New("serve broke"), want: []string{"Serve returned serve broke after Close, want nil"}},
		{name: "Close fails", closeErr: errors.New("close broke"), want: []string{"Close: close broke"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rec *recorder
			synctest.Test(t, func(t *testing.T) {
				rec = &recorder{TB: t}
				Serve(rec, &fakeServer{serveErr: tt.serveErr, closeErr: tt.closeErr, closed: make(chan struct{})})
			})
			require.Equal(t, tt.want, rec.errors())
		})
	}
}

func TestServeLoopbackReports(t *testing.T) {
	tests := []struct {
		name               string
		serveErr, closeErr error
		want               []string
	}{
		{name: "clean"},
		{name: "listener closed", serveErr: net.ErrClosed},
		{name: "Serve fails", serveErr: errors.New("serve broke"), want: []string{"Serve returned serve broke after Close, want nil"}},
		{name: "Close fails", closeErr: errors.New("close broke"), want: []string{"Close: close broke"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rec *recorder
			t.Run("serve", func(t *testing.T) {
				rec = &recorder{TB: t}
				ServeLoopback(rec, &fakeServer{serveErr: tt.serveErr, closeErr: tt.closeErr, closed: make(chan struct{})})
			})
			require.Equal(t, tt.want, rec.errors())
		})
	}
}

func TestServeWithStations(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &wsconn.Server{Handle: func(c *wsconn.Conn) {
			for {
				m, err := c.Read()
				if err != nil {
					return
				}
				if err := c.Send(&ocpp.CallResult{ID: m.MessageID(), Payload: []byte(`{"currentTime":"2025-01-01T00:00:00Z"}`)}); err != nil {
					return
				}
			}
		}}
		l := Serve(t, srv)
		opts := Stations(l)
		require.Equal(t, URL, opts.URL)
		st, err := station.Dial(t.Context(), "CS1", opts)
		require.NoError(t, err)
		defer st.Close()
		var resp ocpp.HeartbeatResponse
		require.NoError(t, st.Call(t.Context(), ocpp.ActionHeartbeat, ocpp.HeartbeatRequest{}, &resp))
		require.Equal(t, 2025, resp.CurrentTime.Year())
	})
}

func TestNoLeaks(t *testing.T) {
	t.Run("nothing running", func(t *testing.T) {
		rec := &recorder{TB: t}
		NoLeaks(rec)
		require.Empty(t, rec.errors())
	})
	t.Run("a goroutine left behind", func(t *testing.T) {
		stop := make(chan struct{})
		stopped := make(chan struct{})
		go func() {
			defer close(stopped)
			<-stop
		}()
		rec := &recorder{TB: t}
		NoLeaks(rec)
		close(stop)
		<-stopped
		errs := rec.errors()
		require.Len(t, errs, 1)
		assert.Contains(t, errs[0], "goroutines were still running after the server was closed")
		assert.Contains(t, errs[0], "TestNoLeaks", "the message shows where the goroutine was started")
	})
}
