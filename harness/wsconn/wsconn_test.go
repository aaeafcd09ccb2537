package wsconn_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ocppkata/kata/harness/memnet"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/harness/wsconn"
)

// Every test runs the server on the in-memory network inside a synctest
// bubble: synctest.Wait is how a test knows the server has done all it can,
// and a goroutine left behind fails the bubble.

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// serve runs s on a new in-memory listener until the test ends, then
// closes it and checks that Serve returned nil.
func serve(t *testing.T, s *wsconn.Server) *memnet.Listener {
	t.Helper()
	l := memnet.Listen()
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	t.Cleanup(func() {
		assert.NoError(t, s.Close())
		assert.NoError(t, <-served, "Serve after Close")
	})
	return l
}

// echo answers every CALL with a CALLRESULT carrying the call's payload,
// until the connection ends.
func echo(c *wsconn.Conn) {
	for {
		m, err := c.Read()
		if err != nil {
			return
		}
		if call, ok := m.(*ocpp.Call); ok {
			if err := c.Send(&ocpp.CallResult{ID: call.ID, Payload: call.Payload}); err != nil {
				return
			}
		}
	}
}

// dial opens a WebSocket to path on l the way a station does.
func dial(t *testing.T, l *memnet.Listener, path string, subprotocols ...string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	if subprotocols == nil {
		subprotocols = []string{wsconn.Subprotocol}
	}
	d := websocket.Dialer{NetDialContext: l.DialContext, Subprotocols: subprotocols}
	ws, resp, err := d.DialContext(t.Context(), "ws://x"+path, nil)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if ws != nil {
		t.Cleanup(func() { ws.Close() })
	}
	return ws, resp, err
}

func mustDial(t *testing.T, l *memnet.Listener, path string) *websocket.Conn {
	t.Helper()
	ws, resp, err := dial(t, l, path)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	return ws
}

// roundTrip sends frame and returns the next frame the server sends.
func roundTrip(t *testing.T, ws *websocket.Conn, frame string) ocpp.Message {
	t.Helper()
	require.NoError(t, ws.WriteMessage(websocket.TextMessage, []byte(frame)))
	return next(t, ws)
}

func next(t *testing.T, ws *websocket.Conn) ocpp.Message {
	t.Helper()
	_, data, err := ws.ReadMessage()
	require.NoError(t, err)
	m, err := ocpp.Decode(data)
	require.NoError(t, err, "the server sent %s", data)
	return m
}

func TestHandshakeAndEcho(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		stations := make(chan string, 1)
		l := serve(t, &wsconn.Server{Handle: func(c *wsconn.Conn) {
			stations <- c.Station()
			echo(c)
		}})
		ws := mustDial(t, l, "/ocpp/CS1")
		require.Equal(t, "ocpp1.6", ws.Subprotocol())
		require.Equal(t, "CS1", <-stations)

		m := roundTrip(t, ws, `[2,"m-1","Heartbeat",{"x":1}]`)
		require.Equal(t, &ocpp.CallResult{ID: "m-1", Payload: json.RawMessage(`{"x":1}`)}, m)
		m = roundTrip(t, ws, `[2,"m-2","Heartbeat",{}]`)
		require.Equal(t, "m-2", m.MessageID())
	})
}

func TestStationID(t *testing.T) {
	tests := []struct{ path, want string }{
		{"/ocpp/CS1", "CS1"},
		{"/ocpp/CS0001", "CS0001"},
		// The identity is percent-encoded in the URL (OCPP-J §3.1.1); the
		// server sees it decoded.
		{"/ocpp/CS%201", "CS 1"},
		{"/ocpp/%C3%A9t%C3%A9", "été"},
		{"/ocpp/a%3Fb", "a?b"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				stations := make(chan string, 1)
				l := serve(t, &wsconn.Server{Handle: func(c *wsconn.Conn) { stations <- c.Station(); echo(c) }})
				mustDial(t, l, tt.path)
				require.Equal(t, tt.want, <-stations)
			})
		})
	}
}

func TestStationIDRefused(t *testing.T) {
	// An identity names the station in the store, the logs and the API's
	// URLs: one that cannot be read back the same is refused at the
	// handshake, before the step's code sees it.
	tests := []struct{ name, escaped, says string }{
		{"NUL", "CS%00X", "U+0000"},
		{"right-to-left override", "CS%E2%80%AEX", "U+202E"},
		{"encoded slash", "..%2F..%2Fetc%2Fpasswd", "U+002F"},
		{"backslash", "CS%5C1", "U+005C"},
		{"newline", "CS%0A1", "U+000A"},
		{"too long", strings.Repeat("A", wsconn.MaxStationID+1), "49 characters"},
		{"not UTF-8", "CS%FF", "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var handled atomic.Int32
				s := &wsconn.Server{Handle: func(c *wsconn.Conn) { handled.Add(1) }}
				l := serve(t, s)
				ws, resp, err := dial(t, l, "/ocpp/"+tt.escaped)
				require.ErrorIs(t, err, websocket.ErrBadHandshake)
				require.Nil(t, ws)
				require.Equal(t, http.StatusBadRequest, resp.StatusCode)
				body, _ := io.ReadAll(resp.Body)
				require.Contains(t, string(body), tt.says)
				synctest.Wait()
				require.Zero(t, handled.Load(), "Handle ran for a refused identity")
			})
		})
	}
	require.NoError(t, wsconn.CheckStationID(strings.Repeat("é", wsconn.MaxStationID)), "48 characters (96 bytes)")
}

func TestHandshakeLimits(t *testing.T) {
	// A handshake that never ends, or never stops growing, and a
	// connection left idle after a refusal, do not hold the server.
	t.Run("headers sent slowly", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			l := serve(t, &wsconn.Server{Handle: echo})
			c, err := l.Dial(t.Context())
			require.NoError(t, err)
			defer c.Close()
			start := time.Now()
			_, err = io.WriteString(c, "GET /ocpp/CS1 HTTP/1.1\r\nHost: x\r\n")
			require.NoError(t, err)
			_, err = io.Copy(io.Discard, c) // until the server closes it
			require.NoError(t, err)
			require.Equal(t, wsconn.HeaderTimeout, time.Since(start), "how long the server waited for the rest of the headers")
		})
	})
	t.Run("headers too large", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			l := serve(t, &wsconn.Server{Handle: echo})
			c, err := l.Dial(t.Context())
			require.NoError(t, err)
			defer c.Close()
			// The in-memory network has no buffer: write while the answer
			// is read, as the kernel's buffers let a real client do.
			go io.WriteString(c, "GET /ocpp/CS1 HTTP/1.1\r\nHost: x\r\nX-Pad: "+strings.Repeat("x", 1<<20)+"\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			require.NoError(t, err)
			require.Equal(t, http.StatusRequestHeaderFieldsTooLarge, resp.StatusCode, "the answer to 1 MiB of headers")
			c.Close()               // the writer returns
			time.Sleep(time.Second) // net/http lingers half a second before it closes a connection it refused
		})
	})
	t.Run("idle after a refusal", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			l := serve(t, &wsconn.Server{Handle: echo, Accept: func(w http.ResponseWriter, r *http.Request) bool {
				http.Error(w, "who are you?", http.StatusUnauthorized)
				return false
			}})
			c, err := l.Dial(t.Context())
			require.NoError(t, err)
			defer c.Close()
			br := bufio.NewReader(c)
			_, err = io.WriteString(c, "GET /ocpp/CS1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
				"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
			require.NoError(t, err)
			resp, err := http.ReadResponse(br, nil)
			require.NoError(t, err)
			io.Copy(io.Discard, resp.Body)
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			answered := time.Now()
			_, err = io.Copy(io.Discard, br) // until the server closes it
			require.NoError(t, err)
			require.Equal(t, wsconn.IdleTimeout, time.Since(answered), "how long the server kept the idle connection after its 401")
		})
	})
}

func TestBadRequests(t *testing.T) {
	tests := []struct {
		name   string
		method string
		path   string
		plain  bool // a plain HTTP request rather than a WebSocket handshake
		want   int
	}{
		{name: "no station", path: "/ocpp/", want: http.StatusNotFound},
		{name: "no slash", path: "/ocpp", want: http.StatusNotFound},
		{name: "extra segment", path: "/ocpp/CS1/extra", want: http.StatusNotFound},
		{name: "trailing slash", path: "/ocpp/CS1/", want: http.StatusNotFound},
		{name: "other prefix", path: "/other/CS1", want: http.StatusNotFound},
		{name: "case matters", path: "/OCPP/CS1", want: http.StatusNotFound},
		{name: "root", path: "/", want: http.StatusNotFound},
		{name: "not a handshake", path: "/ocpp/CS1", plain: true, method: http.MethodGet, want: http.StatusBadRequest},
		{name: "POST", path: "/ocpp/CS1", plain: true, method: http.MethodPost, want: http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var handled atomic.Int32
				s := &wsconn.Server{Handle: func(c *wsconn.Conn) { handled.Add(1) }}
				l := serve(t, s)
				if tt.plain {
					tr := &http.Transport{DialContext: l.DialContext, DisableKeepAlives: true}
					defer tr.CloseIdleConnections()
					req, err := http.NewRequestWithContext(t.Context(), tt.method, "http://x"+tt.path, nil)
					require.NoError(t, err)
					resp, err := (&http.Client{Transport: tr}).Do(req)
					require.NoError(t, err)
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					require.Equal(t, tt.want, resp.StatusCode)
				} else {
					ws, resp, err := dial(t, l, tt.path)
					require.ErrorIs(t, err, websocket.ErrBadHandshake)
					require.Nil(t, ws)
					require.Equal(t, tt.want, resp.StatusCode)
				}
				synctest.Wait()
				require.Zero(t, handled.Load(), "Handle ran for a bad request")
				require.Zero(t, s.Conns())
			})
		})
	}
}

func TestWithoutSubprotocol(t *testing.T) {
	// gorilla completes a handshake that offers no subprotocol it knows,
	// without one: wsconn lets such a station in, and the client sees that
	// no subprotocol was agreed.
	for _, offered := range [][]string{{}, {"ocpp2.0.1"}} {
		t.Run(fmt.Sprint(offered), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				stations := make(chan string, 1)
				l := serve(t, &wsconn.Server{Handle: func(c *wsconn.Conn) { stations <- c.Station(); echo(c) }})
				ws, _, err := dial(t, l, "/ocpp/CS1", offered...)
				require.NoError(t, err)
				require.Empty(t, ws.Subprotocol())
				require.Equal(t, "CS1", <-stations)
			})
		})
	}
}

func TestMalformedFrames(t *testing.T) {
	tests := []struct {
		name  string
		frame string
		// the CALLERROR it is answered with, or "" if it is dropped
		code ocpp.ErrorCode
		id   string
	}{
		{name: "CALL without payload", frame: `[2,"bad-1","Heartbeat"]`, code: ocpp.FormationViolation, id: "bad-1"},
		{name: "CALL with an array payload", frame: `[2,"bad-2","Heartbeat",[]]`, code: ocpp.FormationViolation, id: "bad-2"},
		{name: "CALL with an empty action", frame: `[2,"bad-3","",{}]`, code: ocpp.FormationViolation, id: "bad-3"},
		{name: "CALL with trailing data", frame: `[2,"bad-4","Heartbeat",{},1]`, code: ocpp.FormationViolation, id: "bad-4"},
		{name: "not JSON", frame: `hello`},
		{name: "not an array", frame: `{"id":"x"}`},
		{name: "CALL without a readable id", frame: `[2,7,"Heartbeat",{}]`},
		{name: "unknown message type", frame: `[5,"bad-5",{}]`},
		{name: "malformed CALLRESULT", frame: `[3,"bad-6"]`},
		{name: "malformed CALLERROR", frame: `[4,"bad-7","GenericError"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := serve(t, &wsconn.Server{Handle: echo})
				ws := mustDial(t, l, "/ocpp/CS1")
				require.Equal(t, "before", roundTrip(t, ws, `[2,"before","Heartbeat",{}]`).MessageID())
				require.NoError(t, ws.WriteMessage(websocket.TextMessage, []byte(tt.frame)))
				if tt.code != "" {
					m := next(t, ws)
					e, ok := m.(*ocpp.CallError)
					require.Truef(t, ok, "answer is %T, want a CALLERROR", m)
					require.Equal(t, tt.id, e.ID)
					require.Equal(t, tt.code, e.Code)
					require.NotEmpty(t, e.Description)
				}
				// The connection is still usable, and nothing else was sent
				// before the answer to the next call.
				require.Equal(t, "after", roundTrip(t, ws, `[2,"after","Heartbeat",{}]`).MessageID())
			})
		})
	}
}

func TestSendFromManyGoroutines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const senders, each = 20, 10
		l := serve(t, &wsconn.Server{Handle: func(c *wsconn.Conn) {
			var wg sync.WaitGroup
			for g := range senders {
				wg.Go(func() {
					for i := range each {
						call := &ocpp.Call{ID: fmt.Sprintf("%d-%d", g, i), Action: ocpp.ActionReset, Payload: json.RawMessage(`{"type":"Soft"}`)}
						assert.NoError(t, c.Send(call))
					}
				})
			}
			wg.Wait()
			echo(c)
		}})
		ws := mustDial(t, l, "/ocpp/CS1")
		seen := make(map[string]bool)
		for range senders * each {
			m := next(t, ws)
			call, ok := m.(*ocpp.Call)
			require.True(t, ok)
			require.Equal(t, ocpp.ActionReset, call.Action)
			require.False(t, seen[call.ID], "%s received twice", call.ID)
			seen[call.ID] = true
		}
		require.Len(t, seen, senders*each)
	})
}

func TestSendAfterClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sent := make(chan error, 1)
		l := serve(t, &wsconn.Server{Handle: func(c *wsconn.Conn) {
			require.NoError(t, c.Close())
			sent <- c.Send(&ocpp.Call{ID: "1", Action: ocpp.ActionReset})
		}})
		mustDial(t, l, "/ocpp/CS7")
		err := <-sent
		require.Error(t, err)
		require.Contains(t, err.Error(), "CS7", "a send error names the station")
	})
}

func TestConns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &wsconn.Server{Handle: echo}
		l := serve(t, s)
		// Not s.Conns() yet: see TestConnsBeforeServe.
		a := mustDial(t, l, "/ocpp/A")
		b := mustDial(t, l, "/ocpp/B")
		synctest.Wait()
		require.Equal(t, 2, s.Conns())

		require.NoError(t, a.Close())
		synctest.Wait()
		require.Equal(t, 1, s.Conns(), "a station that hangs up is no longer counted")

		// Two connections with the same identity are two connections.
		mustDial(t, l, "/ocpp/B")
		synctest.Wait()
		require.Equal(t, 2, s.Conns())
		require.Equal(t, "x", roundTrip(t, b, `[2,"x","Heartbeat",{}]`).MessageID())
	})
}

func TestConnsBeforeServe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &wsconn.Server{Handle: echo}
		l := serve(t, s)
		require.Zero(t, s.Conns())
		mustDial(t, l, "/ocpp/A")
		synctest.Wait()
		require.Equal(t, 1, s.Conns())
	})
}

func TestHandleReturningClosesTheConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &wsconn.Server{Handle: func(c *wsconn.Conn) {
			m, err := c.Read()
			if assert.NoError(t, err) {
				assert.NoError(t, c.Send(&ocpp.CallResult{ID: m.MessageID()}))
			}
		}}
		l := serve(t, s)
		ws := mustDial(t, l, "/ocpp/CS1")
		require.Equal(t, "once", roundTrip(t, ws, `[2,"once","Heartbeat",{}]`).MessageID())
		_, _, err := ws.ReadMessage()
		require.Error(t, err, "the connection stays open after Handle returned")
		synctest.Wait()
		require.Zero(t, s.Conns())
	})
}

func TestClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		var returned atomic.Int32
		s := &wsconn.Server{Handle: func(c *wsconn.Conn) {
			echo(c) // returns when the connection is closed
			<-release
			returned.Add(1)
		}}
		l := memnet.Listen()
		served := make(chan error, 1)
		go func() { served <- s.Serve(l) }()

		const n = 3
		clients := make([]*websocket.Conn, n)
		for i := range n {
			clients[i] = mustDial(t, l, fmt.Sprintf("/ocpp/CS%d", i))
		}
		synctest.Wait()
		require.Equal(t, n, s.Conns())

		closed := make(chan error, 1)
		go func() { closed <- s.Close() }()
		synctest.Wait()
		select {
		case err := <-closed:
			t.Fatalf("Close returned (%v) while every Handle was still running", err)
		default:
		}
		for i, ws := range clients {
			_, _, err := ws.ReadMessage()
			require.Error(t, err, "station %d's connection is still open after Close", i)
		}

		close(release)
		require.NoError(t, <-closed)
		require.Equal(t, int32(n), returned.Load(), "Close returned before every Handle had")
		require.Zero(t, s.Conns())
		require.NoError(t, <-served, "Serve after Close")

		require.NoError(t, s.Close(), "Close is idempotent")
		_, _, err := dial(t, l, "/ocpp/late")
		require.Error(t, err, "the listener still accepts after Close")
		require.ErrorIs(t, err, memnet.ErrClosed)
	})
}

func TestCloseBeforeServe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &wsconn.Server{Handle: echo}
		require.NoError(t, s.Close())
		require.NoError(t, s.Serve(memnet.Listen()), "Serve after Close returns nil at once")
		require.NoError(t, s.Close())
	})
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestLogger(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs syncBuffer
		s := &wsconn.Server{Handle: echo, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
		l := serve(t, s)
		ws := mustDial(t, l, "/ocpp/CS42")
		require.NoError(t, ws.WriteMessage(websocket.TextMessage, []byte(`nonsense`)))
		require.Equal(t, "after", roundTrip(t, ws, `[2,"after","Heartbeat",{}]`).MessageID())
		require.NoError(t, ws.Close())
		synctest.Wait()

		out := logs.String()
		for _, want := range []string{`msg="station connected" station=CS42`, `msg="malformed frame" station=CS42`, `msg="station disconnected" station=CS42`} {
			require.True(t, strings.Contains(out, want), "the log does not say %s:\n%s", want, out)
		}
	})
}

func TestConnCloseEndsRead(t *testing.T) {
	// Conn.Close from another goroutine ends a Read in progress.
	synctest.Test(t, func(t *testing.T) {
		readErr := make(chan error, 1)
		conns := make(chan *wsconn.Conn, 1)
		l := serve(t, &wsconn.Server{Handle: func(c *wsconn.Conn) {
			conns <- c
			_, err := c.Read()
			readErr <- err
		}})
		mustDial(t, l, "/ocpp/CS1")
		c := <-conns
		synctest.Wait()
		require.NoError(t, c.Close())
		require.Error(t, <-readErr)
	})
}

func TestHandlePanicReportedByClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &wsconn.Server{Handle: func(c *wsconn.Conn) {
			if c.Station() == "CS2" {
				var queue chan int
				close(queue) // a panic, as a learner's closed queue gives
			}
			echo(c)
		}}
		l := memnet.Listen()
		served := make(chan error, 1)
		go func() { served <- s.Serve(l) }()
		ws := mustDial(t, l, "/ocpp/CS1")
		bad := mustDial(t, l, "/ocpp/CS2")
		_, _, err := bad.ReadMessage()
		require.Error(t, err, "the panicking station's connection stays open")
		require.Equal(t, "still", roundTrip(t, ws, `[2,"still","Heartbeat",{}]`).MessageID(),
			"a neighbour's panic ended another station's connection")
		err = s.Close()
		require.Error(t, err, "Close hid the handler's panic")
		assert.Contains(t, err.Error(), "station CS2 panicked: close of nil channel, in wsconn_test.TestHandlePanicReportedByClose.func1.1 (wsconn_test.go:")
		assert.NoError(t, <-served)
	})
}

func TestDone(t *testing.T) {
	// Done is closed however the server closes the connection, and only
	// then.
	for _, tc := range []struct {
		name  string
		close func(c *wsconn.Conn)
	}{
		{"Close", func(c *wsconn.Conn) { c.Close() }},
		{"CloseWith", func(c *wsconn.Conn) { c.CloseWith(websocket.ClosePolicyViolation, "replaced") }},
		{"a Send that failed", func(c *wsconn.Conn) {
			c.SetWriteTimeout(time.Second) // the client below never reads
			for c.Send(&ocpp.Call{ID: "1", Action: ocpp.ActionReset, Payload: []byte(`{"type":"Soft"}`)}) == nil {
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				conns := make(chan *wsconn.Conn, 1)
				release := make(chan struct{})
				l := serve(t, &wsconn.Server{Handle: func(c *wsconn.Conn) {
					conns <- c
					<-release
				}})
				mustDial(t, l, "/ocpp/CS1")
				c := <-conns
				synctest.Wait()
				select {
				case <-c.Done():
					t.Fatal("Done was closed before the connection was")
				default:
				}
				tc.close(c)
				select {
				case <-c.Done():
				default:
					t.Errorf("Done was still open after %s", tc.name)
				}
				close(release)
			})
		})
	}
}

// TestSendFrameLengths sends answers of every length around the frame
// header's boundaries (RFC 6455 §5.2: 125, 126 and 65,535 bytes), and reads
// them back as gorilla's client does.
func TestSendFrameLengths(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pads := make(chan int)
		l := serve(t, &wsconn.Server{Handle: func(c *wsconn.Conn) {
			for pad := range pads {
				payload := json.RawMessage(`"` + strings.Repeat("x", pad) + `"`)
				if err := c.Send(&ocpp.CallResult{ID: "m", Payload: payload}); err != nil {
					return
				}
			}
		}})
		ws := mustDial(t, l, "/ocpp/CS1")
		const envelope = len(`[3,"m",""]`)
		for _, n := range []int{0, 1, 124, 125, 126, 127, 65534, 65535, 65536, 65537, 200_000} {
			pad := max(n-envelope, 0)
			pads <- pad
			_, data, err := ws.ReadMessage()
			require.NoError(t, err, "a frame of %d bytes", n)
			want := `[3,"m","` + strings.Repeat("x", pad) + `"]`
			require.Equal(t, len(want), len(data), "a frame of %d bytes", n)
			require.Equal(t, want, string(data))
		}
		close(pads)
	})
}
