package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ocppkata/kata/harness/authkeys"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/harness/tlsauth"
	"github.com/ocppkata/kata/stations/station"
)

func TestRun(t *testing.T) {
	defer goleak.VerifyNone(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	refused := "ws://" + ln.Addr().String() + "/ocpp"
	require.NoError(t, ln.Close())
	ln, err = net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	refused2 := "ws://" + ln.Addr().String() + "/ocpp"
	require.NoError(t, ln.Close())

	tests := []struct {
		name       string
		args       []string
		wantExit   int
		wantStderr string
	}{
		{"help", []string{"-h"}, exitOK, "usage: go run ./stations [flags]"},
		{"unknown flag", []string{"-bogus"}, exitUsage, "flag provided but not defined: -bogus"},
		{"bad mode", []string{"-mode", "fast"}, exitUsage, `stations: -mode: unknown mode "fast" (want lockstep, pipelined, flood, deaf or idle)`},
		{"no stations", []string{"-n", "0"}, exitUsage, "stations: -n 0: want at least 1 station"},
		{"bad URL", []string{"-url", "http://x"}, exitUsage, `stations: -url "http://x": want a WebSocket URL`},
		{"bad URL in a list", []string{"-url", "ws://a/ocpp,http://x"}, exitUsage, `stations: -url: "http://x": want WebSocket URLs such as ws://127.0.0.1:8080/ocpp, separated by commas`},
		{"empty URL in a list", []string{"-url", "ws://a/ocpp,"}, exitUsage, `stations: -url: "": want WebSocket URLs`},
		{"URL twice", []string{"-url", "ws://a/ocpp,ws://b/ocpp,ws://a/ocpp"}, exitUsage, "stations: -url: ws://a/ocpp is given twice"},
		{"ws and wss", []string{"-url", "ws://a/ocpp,wss://b/ocpp"}, exitUsage, "stations: -url: ws://a/ocpp and wss://b/ocpp: give all ws:// or all wss://"},
		{"contradiction", []string{"-no-answer", "-answer-delay", "1s"}, exitUsage, "-no-answer and -answer-delay contradict each other"},
		{"hold without idle", []string{"-hold", "20s"}, exitUsage, "stations: -hold 20s: only idle stations hold; add -mode idle"},
		{"reconnect without idle", []string{"-reconnect"}, exitUsage, "stations: -reconnect: only idle stations reconnect; add -mode idle"},
		{"reconnect told how to answer", []string{"-mode", "idle", "-reconnect", "-no-answer"}, exitUsage,
			"stations: -reconnect: stations that are told how to answer (-no-answer, -answer-delay) do not reconnect"},
		{"hold past timeout", []string{"-mode", "idle", "-hold", "2m", "-timeout", "1m"}, exitUsage,
			"stations: -hold 2m0s is not shorter than -timeout 1m0s: the run would end before the stations; raise -timeout"},
		{"refused", []string{"-n", "2", "-url", refused}, exitFailed,
			"stations: no station could connect to " + refused + ": connection refused, nothing is listening there\n" +
				"is the server running? try: make serve ADDR=" + strings.TrimSuffix(strings.TrimPrefix(refused, "ws://"), "/ocpp") + "\n"},
		{"refused, two endpoints", []string{"-n", "2", "-url", refused + "," + refused2}, exitFailed,
			"stations: no station could connect to " + refused + " or " + refused2 + ": connection refused, nothing is listening there\n" +
				"is the server running? try: make serve ADDR=" + strings.TrimSuffix(strings.TrimPrefix(refused, "ws://"), "/ocpp") + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			require.Equal(t, tt.wantExit, run(t.Context(), tt.args, &stdout, &stderr), "stderr:\n%s", stderr.String())
			require.Contains(t, stderr.String(), tt.wantStderr)
			require.Empty(t, stdout.String())
		})
	}
}

// The stations send the keys of -auth-keys, or the one -key; a 401 is
// explained with what to do about it.
func TestRunAuth(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir := t.TempDir()
	write := func(name, text string) string {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
		return path
	}
	all := write("all", "# the server's keys\nCS0001:0123456789abcdef\nCS0002:1123456789abcdef\nCS0003:2123456789abcdef\n")
	two := write("two", "CS0001:0123456789abcdef\nCS0002:1123456789abcdef\n")
	wrong := write("wrong", "CS0001:wrong\nCS0002:wrong\nCS0003:wrong\n")
	other := write("other", "CP-1:0123456789abcdef\n")
	bad := write("bad", "CS0001:0123456789abcdef\n\nCS0002 1123456789abcdef\n")
	keys, err := authkeys.Load(all)
	require.NoError(t, err)

	tests := []struct {
		name       string
		args       []string
		wantExit   int
		wantStdout string
		wantStderr []string
	}{
		{
			name: "every station has its key", args: []string{"-auth-keys", all}, wantExit: exitOK,
			wantStdout: "3 stations (3 connected), mode idle\n",
		},
		{
			name: "no key", args: nil, wantExit: exitFailed,
			wantStderr: []string{
				"no station could connect to ", ": the server wants a key and the stations sent none: HTTP 401 Unauthorized\n",
				"make stations AUTH_KEYS=FILE",
			},
		},
		{
			name: "wrong key", args: []string{"-key", "guess"}, wantExit: exitFailed,
			wantStderr: []string{"the server refused the key: HTTP 401 Unauthorized\n"},
		},
		{
			name: "wrong keys", args: []string{"-auth-keys", wrong}, wantExit: exitFailed,
			wantStderr: []string{"the server refused their keys: HTTP 401 Unauthorized\n", "make serve AUTH_KEYS=" + wrong},
		},
		{
			name: "a station without a key", args: []string{"-auth-keys", two}, wantExit: exitFailed,
			wantStdout: "3 stations (2 connected), mode idle\n",
			wantStderr: []string{
				"stations: 1 of 3 stations (CS0003) has no key in " + two + ": it connects without one\n",
				"stations: 1 of 3 stations could not connect (the server wants a key, and CS0003 has none in " + two + ": HTTP 401 Unauthorized); " +
					"add a line CS0003:key to the file the server was started with",
			},
		},
		{
			name: "no station has a key", args: []string{"-auth-keys", other}, wantExit: exitFailed,
			wantStderr: []string{
				"stations: none of the 3 stations (CS0001 to CS0003) has a key in " + other + ": they connect without one\n",
				"no station could connect to ", ": the server wants a key, and CS0001 has none in " + other,
			},
		},
		{
			name: "a bad keys file", args: []string{"-auth-keys", bad}, wantExit: exitUsage,
			wantStderr: []string{"stations: -auth-keys: " + bad + ":3: no ':' between identity and password"},
		},
		{
			name: "no keys file", args: []string{"-auth-keys", filepath.Join(dir, "missing")}, wantExit: exitUsage,
			wantStderr: []string{"stations: -auth-keys: read the keys: open " + filepath.Join(dir, "missing")},
		},
		{
			name: "both", args: []string{"-auth-keys", all, "-key", "k"}, wantExit: exitUsage,
			wantStderr: []string{"stations: -auth-keys and -key contradict each other: pick one"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := newCentralSystem(t, keys)
			var stdout, stderr bytes.Buffer
			args := append([]string{"-n", "3", "-url", cs.url, "-mode", "idle", "-hold", "10ms"}, tt.args...)
			require.Equal(t, tt.wantExit, run(t.Context(), args, &stdout, &stderr), "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
			require.Contains(t, stdout.String(), tt.wantStdout)
			for _, want := range tt.wantStderr {
				require.Contains(t, stderr.String(), want)
			}
		})
	}
}

// A -hold longer than the default time limit extends it, unless -timeout
// was given.
func TestTimeoutFollowsHold(t *testing.T) {
	tests := []struct {
		args []string
		want time.Duration
	}{
		{[]string{}, defaultTimeout},
		{[]string{"-mode", "idle", "-hold", "20s"}, defaultTimeout},
		{[]string{"-mode", "idle", "-hold", "10m"}, 11 * time.Minute},
		{[]string{"-mode", "idle", "-hold", "10m", "-timeout", "20m"}, 20 * time.Minute},
		{[]string{"-timeout", "30s"}, 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stderr bytes.Buffer
			cfg, err := parseFlags(tt.args, &stderr)
			require.NoError(t, err, stderr.String())
			require.Equal(t, tt.want, cfg.timeout)
		})
	}
}

// Ctrl-C, or a time limit, ends a run that is under way: the stations close,
// the summary tells what was cut short, and only the time limit of a run
// that should have finished is a failure.
func TestRunCutShort(t *testing.T) {
	defer goleak.VerifyNone(t)
	const n = 3
	tests := []struct {
		name string
		args []string
		// interrupt cancels the run's context once every station has
		// answered a call from the server, and, in lock-step, waits for
		// the answer to its second call; otherwise -timeout ends the run.
		interrupt  bool
		wantExit   int
		wantStdout []string
		wantStderr string
	}{
		{
			name: "idle interrupted", args: []string{"-mode", "idle"}, interrupt: true, wantExit: exitOK,
			wantStdout: []string{"3 stations (3 connected), mode idle\n3 calls: 3 answered, 0 failed\n"},
			wantStderr: "stations: interrupted (Ctrl-C): closing the stations (Ctrl-C again quits at once)\n",
		},
		{
			name: "idle held", args: []string{"-mode", "idle", "-hold", "10ms"}, wantExit: exitOK,
			wantStdout: []string{"3 stations (3 connected), mode idle\n3 calls: 3 answered, 0 failed\n"},
		},
		{
			name: "lockstep interrupted", args: []string{}, interrupt: true, wantExit: exitOK,
			wantStdout: []string{
				"3 stations (3 connected), mode lockstep\n6 calls: 3 answered, 0 failed, 3 cut off waiting when the run ended\n",
				"3 stations not done when the run ended\n",
			},
			wantStderr: "stations: interrupted (Ctrl-C): closing the stations",
		},
		{
			name: "lockstep timed out", args: []string{"-timeout", "2s"}, wantExit: exitFailed,
			wantStdout: []string{"6 calls: 3 answered, 0 failed, 3 cut off waiting when the run ended\n"},
			wantStderr: "stations: the run reached its time limit of 2s (-timeout, TIMEOUT= in make) before the stations were done\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The server answers each station's BootNotification and
			// holds its next call: in lock-step, every station waits.
			cs := newCentralSystem(t, nil)
			ctx, cancel := context.WithCancelCause(t.Context())
			defer cancel(nil)
			if tt.interrupt {
				lockstep := !slices.Contains(tt.args, "idle")
				go func() {
					if cs.await(ctx, func(held, answers int) bool { return answers >= n && (held >= n || !lockstep) }) {
						cancel(signalled{os.Interrupt})
					}
				}()
			}
			var stdout, stderr bytes.Buffer
			args := append([]string{"-n", "3", "-url", cs.url}, tt.args...)
			require.Equal(t, tt.wantExit, run(ctx, args, &stdout, &stderr), "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
			for _, want := range tt.wantStdout {
				require.Contains(t, stdout.String(), want)
			}
			require.Contains(t, stderr.String(), tt.wantStderr)
			require.NotContains(t, stdout.String(), "failed:", "nothing failed")
		})
	}
}

// A deaf run: the deaf station writes its calls beside the others' sessions
// and the summary tells them apart. Ended by Ctrl-C it is a normal end; by
// the time limit, with the others not done, a failure; alone, it ends once
// its calls are written.
func TestRunDeaf(t *testing.T) {
	defer goleak.VerifyNone(t)
	tests := []struct {
		name string
		args []string
		// until, if set, is when the run is interrupted, by what the
		// server holds (the others' second calls and the deaf station's
		// frames) and the answers it got (the others', to its own call).
		until      func(held, answers int) bool
		wantExit   int
		wantStdout []string
		wantStderr string
	}{
		{
			name: "interrupted", args: []string{"-n", "3", "-messages", "40"},
			until:    func(held, answers int) bool { return held >= 2+40 && answers >= 2 },
			wantExit: exitOK,
			wantStdout: []string{
				"3 stations (3 connected), mode deaf\n4 calls: 2 answered, 0 failed, 2 cut off waiting when the run ended\n",
				"deaf station CS0001: 40 frames sent (unknown actions of 16000 characters, nothing read) over 1 connection, 0 closed by the server\n" +
					"the other 2 stations: 0 of 2 sessions done, 4 calls: 2 answered, 0 failed, 2 cut off, latency p50 ",
				"3 stations not done when the run ended\n",
			},
			wantStderr: "stations: interrupted (Ctrl-C): closing the stations",
		},
		{
			name: "timed out", args: []string{"-n", "3", "-messages", "40", "-timeout", "2s"}, wantExit: exitFailed,
			wantStdout: []string{"4 calls: 2 answered, 0 failed, 2 cut off waiting when the run ended\n", "deaf station CS0001: "},
			wantStderr: "stations: the run reached its time limit of 2s (-timeout, TIMEOUT= in make) before the stations were done\n",
		},
		{
			name: "alone", args: []string{"-n", "1", "-messages", "30"}, wantExit: exitOK,
			wantStdout: []string{"1 stations (1 connected), mode deaf\n0 calls: 0 answered, 0 failed\n",
				"deaf station CS0001: 30 frames sent (unknown actions of 16000 characters, nothing read) over 1 connection, 0 closed by the server\n"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := newCentralSystem(t, nil)
			ctx, cancel := context.WithCancelCause(t.Context())
			defer cancel(nil)
			if tt.until != nil {
				go func() {
					if cs.await(ctx, tt.until) {
						cancel(signalled{os.Interrupt})
					}
				}()
			}
			var stdout, stderr bytes.Buffer
			args := append([]string{"-url", cs.url, "-mode", "deaf"}, tt.args...)
			require.Equal(t, tt.wantExit, run(ctx, args, &stdout, &stderr), "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
			for _, want := range tt.wantStdout {
				require.Contains(t, stdout.String(), want)
			}
			require.Contains(t, stderr.String(), tt.wantStderr)
			require.NotContains(t, stdout.String(), "failed:", "nothing failed")
		})
	}
}

// The progress lines say what changed, not what stayed the same, and no
// more often than every few seconds; idle stations say once that they wait.
func TestProgressPrinter(t *testing.T) {
	at := func(p station.Progress, s float64) station.Progress {
		p.Elapsed = time.Duration(s * float64(time.Second))
		return p
	}
	lockstep := station.Progress{Stations: 2, Planned: 28}
	conn := lockstep
	conn.Connected, conn.Calls = 2, 2
	some := conn
	some.Answered, some.Calls = 10, 12
	more := some
	more.Answered = 12
	idle := station.Progress{Stations: 2, Planned: 2, Connected: 2, Calls: 2}
	booted := idle
	booted.Answered = 2
	charging := booted
	charging.Calls, charging.Answered = 9, 9
	spread := booted
	spread.OnEndpoint = []int{1, 1}
	dropped := spread
	dropped.Reconnecting, dropped.OnEndpoint = 1, []int{1, 0}
	moved := dropped
	moved.Calls, moved.Answered, moved.Reconnecting, moved.Reconnects, moved.Moved, moved.OnEndpoint = 4, 4, 0, 1, 1, []int{2, 0}

	tests := []struct {
		name    string
		cfg     config
		reports []station.Progress
		want    string
	}{
		{
			name:    "nothing yet",
			cfg:     config{mode: station.LockStep},
			reports: []station.Progress{at(lockstep, 0.5), at(lockstep, 1)},
			want:    "",
		},
		{
			name:    "changes, throttled",
			cfg:     config{mode: station.LockStep},
			reports: []station.Progress{at(conn, 0.5), at(some, 1), at(some, 3), at(some, 3.5), at(more, 4), at(more, 6.5), at(more, 12)},
			want: "stations 2/2 connected, 0/28 calls answered, 0 failed, 0.5s\n" +
				"stations 2/2 connected, 10/28 calls answered, 0 failed, 3.5s\n" +
				"stations 2/2 connected, 12/28 calls answered, 0 failed, 6.5s\n",
		},
		{
			name:    "idle with hold",
			cfg:     config{mode: station.Idle, hold: 20 * time.Second, timeout: defaultTimeout},
			reports: []station.Progress{at(idle, 0.5), at(booted, 1.5), at(booted, 2), at(booted, 19)},
			want: "stations 2/2 connected, 0/2 calls answered, 0 failed, 0.5s\n" +
				"stations 2/2 connected and booted, 1.5s: idle now, they stay connected for 20s, or until Ctrl-C\n",
		},
		{
			name:    "idle until stopped",
			cfg:     config{mode: station.Idle, timeout: defaultTimeout},
			reports: []station.Progress{at(booted, 1)},
			want:    "stations 2/2 connected and booted, 1.0s: idle now, they stay connected until Ctrl-C, or the time limit of 5m0s\n",
		},
		{
			name:    "idle chargers at work",
			cfg:     config{mode: station.Idle, timeout: defaultTimeout},
			reports: []station.Progress{at(booted, 1), at(charging, 2), at(charging, 5)},
			want: "stations 2/2 connected and booted, 1.0s: idle now, they stay connected until Ctrl-C, or the time limit of 5m0s\n" +
				"stations 2/2 connected, 9 calls answered, 0 failed, 5.0s\n",
		},
		{
			name: "reconnecting over two endpoints",
			cfg: config{mode: station.Idle, reconnect: true, timeout: defaultTimeout,
				urls: []string{"ws://127.0.0.1:8091/ocpp", "ws://127.0.0.1:8092/ocpp"}},
			reports: []station.Progress{at(spread, 1), at(dropped, 5), at(dropped, 6), at(moved, 9), at(moved, 20)},
			want: "stations 2/2 connected and booted, 1.0s: idle now, they stay connected until Ctrl-C, or the time limit of 5m0s\n" +
				"stations 2/2 connected, 2 calls answered, 0 failed; 0 reconnects, 0 moved, 1 reconnecting; now 1 on 127.0.0.1:8091, 0 on 127.0.0.1:8092, 5.0s\n" +
				"stations 2/2 connected, 4 calls answered, 0 failed; 1 reconnect, 1 moved, 0 reconnecting; now 2 on 127.0.0.1:8091, 0 on 127.0.0.1:8092, 9.0s\n",
		},
		{
			name:    "the same host twice",
			cfg:     config{mode: station.Idle, urls: []string{"ws://127.0.0.1:8091/a", "ws://127.0.0.1:8091/b"}},
			reports: []station.Progress{at(spread, 1), at(moved, 5)},
			want: "stations 2/2 connected and booted, 1.0s: idle now, they stay connected until Ctrl-C, or the time limit of 0s\n" +
				"stations 2/2 connected, 4 calls answered, 0 failed; now 2 on ws://127.0.0.1:8091/a, 0 on ws://127.0.0.1:8091/b, 5.0s\n",
		},
		{
			name: "deaf",
			cfg:  config{mode: station.Deaf},
			reports: []station.Progress{
				at(station.Progress{Stations: 3, Planned: 28, Connected: 3, Calls: 2, DeafFrames: 250}, 0.5),
				at(station.Progress{Stations: 3, Planned: 28, Connected: 3, Calls: 14, Answered: 12, DeafFrames: 262, DeafClosed: 1}, 3.5),
			},
			want: "stations 3/3 connected, 0/28 calls answered, 0 failed; deaf station: 250 frames sent, 0 connections closed by the server, 0.5s\n" +
				"stations 3/3 connected, 12/28 calls answered, 0 failed; deaf station: 262 frames sent, 1 connection closed by the server, 3.5s\n",
		},
		{
			name:    "nobody connects",
			cfg:     config{mode: station.LockStep},
			reports: []station.Progress{at(station.Progress{Stations: 2, Done: 2, Planned: 28}, 1)},
			want:    "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			p := &progressPrinter{w: &b, cfg: tt.cfg, every: 3 * time.Second}
			for _, r := range tt.reports {
				p.print(r)
			}
			require.Equal(t, tt.want, b.String())
		})
	}
}

// Over two endpoints, the stations are shared out one by one; with
// -reconnect, those of a server that dies without a word (kill -9) move to
// the other, and the summary says how many moved, how long it took, and
// where the stations were at the end.
func TestRunEndpoints(t *testing.T) {
	defer goleak.VerifyNone(t)
	a, b := newCentralSystem(t, nil), newCentralSystem(t, nil)
	defer a.kill() // before goleak looks
	defer b.kill()
	ctx, cancel := context.WithCancelCause(t.Context())
	defer cancel(nil)
	go func() {
		// Each station answers the server's call once booted: b dies once
		// its two have, and the run ends once they have booted on a.
		booted := func(n int) func(held, answers int) bool {
			return func(_, answers int) bool { return answers >= n }
		}
		if !a.await(ctx, booted(2)) || !b.await(ctx, booted(2)) {
			return
		}
		b.kill()
		if a.await(ctx, booted(4)) {
			cancel(signalled{os.Interrupt})
		}
	}()
	var stdout, stderr bytes.Buffer
	// The time limit only bounds a run that goes wrong.
	args := []string{"-n", "4", "-url", a.url + "," + b.url, "-mode", "idle", "-reconnect", "-timeout", "30s"}
	require.Equal(t, exitOK, run(ctx, args, &stdout, &stderr), "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	require.Contains(t, stderr.String(), "stations: 4 stations over 2 endpoints, station i on endpoint i mod 2: 2 on "+a.url+", 2 on "+b.url+"\n")
	for _, want := range []string{
		"4 stations (4 connected), mode idle\n",
		// The server holds the status each charger sends after its boot:
		// b's two were lost with it, a's cut off by the end of the run.
		", 2 unanswered when their connection dropped (the stations reconnected)\n",
		"stations on each endpoint, at the start → at the end: " + a.url + " 2 → 4, " + b.url + " 2 → 0\n",
		"reconnects: 2, 2 stations moved to another endpoint; from the drop to booted again: p50 ",
	} {
		require.Contains(t, stdout.String(), want)
	}
	require.NotContains(t, stdout.String(), "failed:", "nothing failed")
}

// centralSystem is a small OCPP server on loopback TCP for the command's
// tests: it answers the BootNotification of each station at once, then
// sends the station a call of its own, and holds the station's later calls
// until the station goes.
type centralSystem struct {
	url string
	// kill stops the server as kill -9 does: nobody listens any more, and
	// its connections end without a close frame. The test's end calls it.
	kill func()

	mu      sync.Mutex
	held    int           // the stations' calls held unanswered
	answers int           // the stations' answers to the server's call
	changed chan struct{} // closed and replaced when a count changes
}

// With keys not nil, it checks HTTP Basic auth as step 09 does: a station
// whose id and key are not in keys gets 401.
func newCentralSystem(t *testing.T, keys map[string]string) *centralSystem {
	return startCentralSystem(t, keys, nil)
}

// startCentralSystem is newCentralSystem, over TLS with tlsConf if it is
// not nil; and if tlsConf has client CAs, a station must present a
// certificate whose CN is its id (profile 3), or it gets 403.
func startCentralSystem(t *testing.T, keys map[string]string, tlsConf *tls.Config) *centralSystem {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	cs := &centralSystem{url: "ws://" + ln.Addr().String() + "/ocpp", changed: make(chan struct{})}
	if tlsConf != nil {
		ln = tls.NewListener(ln, tlsConf)
		cs.url = "wss" + strings.TrimPrefix(cs.url, "ws")
	}
	var (
		handlers sync.WaitGroup
		mu       sync.Mutex
		conns    []*websocket.Conn
	)
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handlers.Add(1)
		defer handlers.Done()
		if tlsConf != nil && tlsConf.ClientCAs != nil {
			if err := tlsauth.CheckStation(strings.TrimPrefix(r.URL.Path, "/ocpp/"), r.TLS); err != nil {
				http.Error(w, err.Error(), http.StatusForbidden)
				return
			}
		}
		if keys != nil {
			id := strings.TrimPrefix(r.URL.Path, "/ocpp/")
			user, pass, ok := r.BasicAuth()
			if key, known := keys[id]; !ok || !known || user != id || pass != key {
				w.Header().Set("WWW-Authenticate", `Basic realm="OCPP"`)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
		}
		up := websocket.Upgrader{Subprotocols: []string{station.Subprotocol}}
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		mu.Lock()
		conns = append(conns, ws)
		mu.Unlock()
		defer ws.Close()
		cs.serve(ws)
	})}
	served := make(chan struct{})
	go func() {
		defer close(served)
		srv.Serve(ln)
	}()
	cs.kill = sync.OnceFunc(func() {
		srv.Close()
		<-served
		mu.Lock()
		for _, ws := range conns {
			ws.Close()
		}
		mu.Unlock()
		handlers.Wait()
	})
	t.Cleanup(cs.kill)
	return cs
}

// serve answers a station's BootNotification and reads its other calls
// without answering, until the connection ends. A station answers the
// server's call after it has read the answers sent before it, so once it
// has, its BootNotification was answered.
func (cs *centralSystem) serve(ws *websocket.Conn) {
	count := func(n *int) {
		cs.mu.Lock()
		defer cs.mu.Unlock()
		*n++
		close(cs.changed)
		cs.changed = make(chan struct{})
	}
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			return
		}
		msg, err := ocpp.Decode(data)
		if err != nil {
			continue
		}
		call, ok := msg.(*ocpp.Call)
		if !ok {
			count(&cs.answers)
			continue
		}
		if call.Action != ocpp.ActionBootNotification {
			count(&cs.held)
			continue
		}
		boot, err := ocpp.NewCallResult(call.ID, ocpp.BootNotificationResponse{
			Status: ocpp.RegistrationAccepted, CurrentTime: ocpp.DateTime{Time: time.Now()}, Interval: 300})
		if err != nil {
			panic(err)
		}
		serverCall := &ocpp.Call{ID: "srv1", Action: ocpp.ActionGetConfiguration, Payload: []byte("{}")}
		for _, m := range []ocpp.Message{boot, serverCall} {
			frame, err := ocpp.Encode(m)
			if err != nil || ws.WriteMessage(websocket.TextMessage, frame) != nil {
				return
			}
		}
	}
}

// await waits until cond holds for the calls the server holds and the
// answers it got, and reports whether it did before ctx ended.
func (cs *centralSystem) await(ctx context.Context, cond func(held, answers int) bool) bool {
	for {
		cs.mu.Lock()
		held, answers, changed := cs.held, cs.answers, cs.changed
		cs.mu.Unlock()
		if cond(held, answers) {
			return true
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return false
		}
	}
}

func TestServeCommand(t *testing.T) {
	for url, want := range map[string]string{
		"ws://127.0.0.1:8080/ocpp": "make serve",
		"ws://127.0.0.1:9000/ocpp": "make serve ADDR=127.0.0.1:9000",
		"ws://localhost/ocpp":      "make serve ADDR=localhost:80",
		"ws://[::1]:8081/ocpp":     "make serve ADDR=[::1]:8081",
		"wss://example.com/ocpp":   "make serve ADDR=example.com:443",
	} {
		if got := serveCommand(url); got != want {
			t.Errorf("serveCommand(%q) = %q, want %q", url, got, want)
		}
	}
}

// Before the run, the command says which stations have no key in the file.
func TestKeyless(t *testing.T) {
	keys := map[string]string{"CS0001": "k", "CS0002": "k"}
	tests := []struct {
		name string
		cfg  config
		want string
	}{
		{"no file", config{n: 5, first: 1}, ""},
		{"every station has a key", config{n: 2, first: 1, keysFile: "f", keys: keys}, ""},
		{"one without", config{n: 3, first: 1, keysFile: "f", keys: keys}, "1 of 3 stations (CS0003) has no key in f: it connects without one"},
		{"three without", config{n: 5, first: 1, keysFile: "f", keys: keys},
			"3 of 5 stations (CS0003, CS0004, CS0005) have no key in f: they connect without one"},
		{"many without", config{n: 100, first: 1, keysFile: "f", keys: keys},
			"98 of 100 stations (CS0003, CS0004, … CS0100) have no key in f: they connect without one"},
		{"none has one", config{n: 2, first: 3, keysFile: "f", keys: keys},
			"none of the 2 stations (CS0003 to CS0004) has a key in f: they connect without one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, tt.cfg.keyless())
		})
	}
}

// The stations trust the CA of -ca and present their certificates from
// -certs; what goes wrong is explained with what to do about it.
func TestRunTLS(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir := t.TempDir()
	_, err := tlsauth.WriteWorkshop(tlsauth.Workshop{Dir: dir, Hosts: []string{"127.0.0.1"}, Stations: []string{"CS0001", "CS0002"}, Now: time.Now()})
	require.NoError(t, err)
	ca, certs := filepath.Join(dir, tlsauth.CAFile), filepath.Join(dir, tlsauth.StationsDir)
	profile2, err := tlsauth.ServerConfig("127.0.0.1:0", filepath.Join(dir, tlsauth.ServerFile), filepath.Join(dir, tlsauth.ServerKeyFile), "", time.Now())
	require.NoError(t, err)
	profile3, err := tlsauth.ServerConfig("127.0.0.1:0", filepath.Join(dir, tlsauth.ServerFile), filepath.Join(dir, tlsauth.ServerKeyFile), ca, time.Now())
	require.NoError(t, err)

	tests := []struct {
		name       string
		server     *tls.Config
		n          string
		url        string // "ws" for ws:// whatever the server
		args       []string
		wantExit   int
		wantStdout string
		wantStderr []string
	}{
		{name: "profile 2", server: profile2, n: "3", args: []string{"-ca", ca}, wantExit: exitOK, wantStdout: "3 stations (3 connected), mode idle\n"},
		{name: "profile 3", server: profile3, n: "2", args: []string{"-ca", ca, "-certs", certs}, wantExit: exitOK, wantStdout: "2 stations (2 connected), mode idle\n"},
		{
			name: "untrusted server", server: profile2, n: "1", wantExit: exitFailed,
			wantStderr: []string{"the stations do not trust the server's certificate (signed by an unknown authority)", "make stations CA=certs/ca.pem"},
		},
		{
			name: "a station without a certificate", server: profile3, n: "3", args: []string{"-ca", ca, "-certs", certs}, wantExit: exitFailed,
			wantStdout: "3 stations (2 connected), mode idle\n",
			wantStderr: []string{
				"stations: 1 of 3 stations (CS0003) has no certificate in " + certs + ": it connects without one\n",
				`the server refused the station: HTTP 403 Forbidden (no client certificate: security profile 3 wants one whose CN is "CS0003")`,
			},
		},
		{
			name: "no certificates", server: profile3, n: "1", args: []string{"-ca", ca}, wantExit: exitFailed,
			wantStderr: []string{"HTTP 403 Forbidden", "make stations CERTS=certs/stations"},
		},
		{
			name: "plain WebSocket to a TLS server", server: profile2, n: "1", url: "ws", wantExit: exitFailed,
			wantStderr: []string{"the server speaks TLS and the stations did not", "use a wss:// URL"},
		},
		{
			name: "CA without TLS", n: "1", args: []string{"-ca", ca}, wantExit: exitUsage,
			wantStderr: []string{"stations: -ca and -certs are for TLS: want a wss:// URL"},
		},
		{
			name: "no such CA", server: profile2, n: "1", args: []string{"-ca", filepath.Join(dir, "nope.pem")}, wantExit: exitUsage,
			wantStderr: []string{"stations: -ca: CA " + filepath.Join(dir, "nope.pem") + ": no such file"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := startCentralSystem(t, nil, tt.server)
			if tt.url == "ws" {
				cs.url = "ws" + strings.TrimPrefix(cs.url, "wss")
			}
			var stdout, stderr bytes.Buffer
			args := append([]string{"-n", tt.n, "-url", cs.url, "-mode", "idle", "-hold", "10ms"}, tt.args...)
			require.Equal(t, tt.wantExit, run(t.Context(), args, &stdout, &stderr), "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
			require.Contains(t, stdout.String(), tt.wantStdout)
			for _, want := range tt.wantStderr {
				require.Contains(t, stderr.String(), want)
			}
		})
	}
}
