package portmux_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ocppkata/kata/harness/memnet"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/harness/portmux"
	"github.com/ocppkata/kata/harness/tlsauth"
	"github.com/ocppkata/kata/harness/wsconn"
)

// Most tests run the Mux on the in-memory network inside a synctest bubble:
// synctest.Wait is how a test knows every goroutine has done all it can, so
// what the Mux counts can be checked without waiting on a clock. One test
// runs over real TCP.

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// server is a step's server as `make serve` holds it.
type server interface {
	Serve(net.Listener) error
	Close() error
}

// setup is a Mux on l with a station server and an HTTP server behind it.
type setup struct {
	mux *portmux.Mux
	l   *memnet.Listener
}

// start serves stations and api behind a Mux on a new in-memory listener
// until the test ends; then it closes them in the order `make serve` does
// (the step's server, the API, the Mux) and checks that each Serve
// returned nil.
func start(t *testing.T, opts portmux.Options, stations server, api http.Handler) setup {
	t.Helper()
	l := memnet.Listen()
	m := portmux.New(l, opts)
	hs := &http.Server{Handler: api}
	served := make(chan error, 1)
	stationsServed := make(chan error, 1)
	apiServed := make(chan error, 1)
	go func() { served <- m.Serve() }()
	go func() { stationsServed <- stations.Serve(m.Stations()) }()
	go func() { apiServed <- hs.Serve(m.HTTP()) }()
	t.Cleanup(func() {
		assert.NoError(t, stations.Close())
		assert.NoError(t, <-stationsServed, "the station server's Serve after its Close")
		assert.NoError(t, hs.Close())
		assert.ErrorIs(t, <-apiServed, http.ErrServerClosed, "the HTTP server's Serve after its Close")
		assert.NoError(t, m.Close())
		assert.NoError(t, <-served, "the Mux's Serve after Close")
	})
	return setup{mux: m, l: l}
}

// plain is a station side that is an ordinary HTTP server, whose Serve
// returns nil after its Close as a step's does.
func plain(h http.Handler) server { return plainServer{&http.Server{Handler: h}} }

type plainServer struct{ *http.Server }

func (s plainServer) Serve(l net.Listener) error {
	if err := s.Server.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// says answers every request with its side's name and the path.
func says(side string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s", side, r.URL.Path)
	})
}

// stationServer is a step's server stand-in: wsconn with an echo, which
// refuses a handshake without an Authorization header with 401, as step 09
// refuses a station that fails its credentials.
func stationServer() *wsconn.Server {
	return &wsconn.Server{
		Handle: echo,
		Accept: func(w http.ResponseWriter, r *http.Request) bool {
			if r.Header.Get("Authorization") == "" {
				http.Error(w, "who are you?", http.StatusUnauthorized)
				return false
			}
			return true
		},
	}
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

// dialStation opens a WebSocket to /ocpp/{escaped} the way a station does.
func dialStation(t *testing.T, dial func(context.Context, string, string) (net.Conn, error), addr, escaped string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	d := websocket.Dialer{NetDialContext: dial, Subprotocols: []string{wsconn.Subprotocol}}
	ws, resp, err := d.DialContext(t.Context(), "ws://"+addr+"/ocpp/"+escaped, http.Header{"Authorization": {"Basic eDp5"}})
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if ws != nil {
		t.Cleanup(func() { ws.Close() })
	}
	return ws, resp, err
}

// roundTrip sends a CALL and checks the echo that comes back.
func roundTrip(t *testing.T, ws *websocket.Conn, id string) {
	t.Helper()
	frame := fmt.Sprintf(`[2,%q,"Heartbeat",{}]`, id)
	require.NoError(t, ws.WriteMessage(websocket.TextMessage, []byte(frame)))
	_, data, err := ws.ReadMessage()
	require.NoError(t, err)
	require.Equal(t, fmt.Sprintf(`[3,%q,{}]`, id), string(data))
}

// request writes raw on c and reads one response.
func request(t *testing.T, c net.Conn, br *bufio.Reader, raw string) *http.Response {
	t.Helper()
	_, err := io.WriteString(c, raw)
	require.NoError(t, err)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	resp.Body = io.NopCloser(strings.NewReader(string(body)))
	return resp
}

func bodyOf(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

func dialRaw(t *testing.T, l *memnet.Listener) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := l.Dial(t.Context())
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

func handshake(path, auth string) string {
	s := "GET " + path + " HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ocpp1.6\r\n"
	if auth != "" {
		s += "Authorization: " + auth + "\r\n"
	}
	return s + "\r\n"
}

func TestRouting(t *testing.T) {
	tests := []struct {
		name, line string
		want       string // the body, or the status for a request net/http refuses
	}{
		{"a station", "GET /ocpp/CS1 HTTP/1.1", "stations /ocpp/CS1"},
		{"a station's subpath", "GET /ocpp/CS1/x HTTP/1.1", "stations /ocpp/CS1/x"},
		{"the API", "GET /api/stations HTTP/1.1", "http /api/stations"},
		{"a POST to the API", "POST /api/stations/CS1/Reset HTTP/1.1", "http /api/stations/CS1/Reset"},
		{"metrics", "GET /metrics HTTP/1.1", "http /metrics"},
		{"ocpp without a slash", "GET /ocpp HTTP/1.1", "http /ocpp"},
		{"a longer prefix", "GET /ocppx/CS1 HTTP/1.1", "http /ocppx/CS1"},
		{"an escaped slash", "GET /ocpp%2FCS1 HTTP/1.1", "http /ocpp/CS1"},
		{"absolute form", "GET http://x/ocpp/CS1 HTTP/1.1", "stations /ocpp/CS1"},
		{"the root", "GET / HTTP/1.1", "http /"},
		{"not HTTP", "HELLO", "400"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := start(t, portmux.Options{}, plain(says("stations")), says("http"))
				c, br := dialRaw(t, s.l)
				resp := request(t, c, br, tt.line+"\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
				if got := bodyOf(t, resp); resp.StatusCode == http.StatusOK {
					require.Equal(t, tt.want, got)
				} else {
					require.Equal(t, tt.want, fmt.Sprint(resp.StatusCode), "body %q", got)
				}
			})
		})
	}
}

func TestKeepAliveStaysOnItsSide(t *testing.T) {
	// Routing is per connection, by its first request.
	synctest.Test(t, func(t *testing.T) {
		s := start(t, portmux.Options{}, plain(says("stations")), says("http"))
		c, br := dialRaw(t, s.l)
		for _, path := range []string{"/api/stations", "/metrics", "/ocpp/CS1"} {
			resp := request(t, c, br, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n")
			require.Equal(t, "http "+path, bodyOf(t, resp))
		}
		c, br = dialRaw(t, s.l)
		for _, path := range []string{"/ocpp/CS1", "/api/stations"} {
			resp := request(t, c, br, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n")
			require.Equal(t, "stations "+path, bodyOf(t, resp))
		}
	})
}

func TestReplaysWhatItRead(t *testing.T) {
	// A client that sends its request a few bytes at a time, and one that
	// sends it with its body in one write: the server reads every byte.
	body := strings.Repeat("0123456789", 500)
	raw := "POST /api/echo?x=1 HTTP/1.1\r\nHost: x\r\nX-Test: yes\r\nContent-Length: " + fmt.Sprint(len(body)) + "\r\n\r\n" + body
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %s %s", r.Method, r.URL, r.Header.Get("X-Test"), b)
	})
	want := "POST /api/echo?x=1 yes " + body
	for _, chunk := range []int{1, 7, len(raw)} {
		t.Run(fmt.Sprint(chunk, " bytes a write"), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := start(t, portmux.Options{}, plain(says("stations")), api)
				c, br := dialRaw(t, s.l)
				go func() {
					for rest := raw; rest != ""; {
						n := min(chunk, len(rest))
						if _, err := io.WriteString(c, rest[:n]); err != nil {
							return
						}
						if rest = rest[n:]; rest != "" {
							time.Sleep(time.Millisecond) // a slow client, on the fake clock
						}
					}
				}()
				resp, err := http.ReadResponse(br, nil)
				require.NoError(t, err)
				require.Equal(t, want, bodyOf(t, resp))
			})
		})
	}
}

func TestWebSocketThroughTheMux(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := start(t, portmux.Options{}, stationServer(), says("http"))
		require.Empty(t, s.mux.Connected())

		ws, resp, err := dialStation(t, s.l.DialContext, "x", "CS%201")
		require.NoError(t, err)
		require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
		require.Equal(t, wsconn.Subprotocol, ws.Subprotocol())
		for i := range 3 {
			roundTrip(t, ws, fmt.Sprint("m-", i))
		}
		// The 101 was written before the first echo: it has been counted.
		require.Equal(t, []string{"CS 1"}, s.mux.Connected(), "the id as PathValue gives it")
		require.True(t, s.mux.IsConnected("CS 1"))
		require.False(t, s.mux.IsConnected("CS%201"))
		require.Equal(t, 1, s.mux.NumConnected())

		// The API answers beside it, on the same listener.
		c, br := dialRaw(t, s.l)
		require.Equal(t, "http /api/stations", bodyOf(t, request(t, c, br, "GET /api/stations HTTP/1.1\r\nHost: x\r\n\r\n")))

		ws.Close()
		synctest.Wait()
		require.Empty(t, s.mux.Connected(), "after the station closed its connection")
		require.Zero(t, s.mux.NumConnected())
	})
}

func TestDroppedConnection(t *testing.T) {
	// A station that vanishes without a close frame stops counting once the
	// step's server notices and closes its connection.
	synctest.Test(t, func(t *testing.T) {
		s := start(t, portmux.Options{}, stationServer(), says("http"))
		ws, _, err := dialStation(t, s.l.DialContext, "x", "CS1")
		require.NoError(t, err)
		roundTrip(t, ws, "m-1")
		require.True(t, s.mux.IsConnected("CS1"))
		ws.NetConn().Close()
		synctest.Wait()
		require.False(t, s.mux.IsConnected("CS1"))
	})
}

func TestTwoConnectionsOfOneStation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := start(t, portmux.Options{}, stationServer(), says("http"))
		older, _, err := dialStation(t, s.l.DialContext, "x", "CS1")
		require.NoError(t, err)
		newer, _, err := dialStation(t, s.l.DialContext, "x", "CS1")
		require.NoError(t, err)
		other, _, err := dialStation(t, s.l.DialContext, "x", "CS2")
		require.NoError(t, err)
		for _, ws := range []*websocket.Conn{older, newer, other} {
			roundTrip(t, ws, "m-1")
		}
		require.Equal(t, []string{"CS1", "CS2"}, s.mux.Connected())
		require.Equal(t, 2, s.mux.NumConnected(), "a station with two connections counts once")

		older.Close()
		synctest.Wait()
		require.True(t, s.mux.IsConnected("CS1"), "its newer connection is still open")
		newer.Close()
		synctest.Wait()
		require.False(t, s.mux.IsConnected("CS1"), "both its connections are closed")
		require.Equal(t, []string{"CS2"}, s.mux.Connected())
	})
}

func TestRefusedHandshakeIsNotCounted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := start(t, portmux.Options{}, stationServer(), says("http"))

		// A station client that gives up after the 401.
		d := websocket.Dialer{NetDialContext: s.l.DialContext, Subprotocols: []string{wsconn.Subprotocol}}
		_, resp, err := d.DialContext(t.Context(), "ws://x/ocpp/CS1", nil)
		require.ErrorIs(t, err, websocket.ErrBadHandshake)
		resp.Body.Close()
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		synctest.Wait()
		require.False(t, s.mux.IsConnected("CS1"))

		// One that retries on its keep-alive connection, with credentials:
		// the second request is the one that counts.
		c, br := dialRaw(t, s.l)
		resp = request(t, c, br, handshake("/ocpp/CS2", ""))
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		synctest.Wait()
		require.False(t, s.mux.IsConnected("CS2"), "after the 401")
		resp = request(t, c, br, handshake("/ocpp/CS3", "Basic eDp5"))
		require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
		synctest.Wait()
		require.Equal(t, []string{"CS3"}, s.mux.Connected())

		// One that goes away before the answer.
		c, _ = dialRaw(t, s.l)
		_, err = io.WriteString(c, handshake("/ocpp/CS4", "Basic eDp5"))
		require.NoError(t, err)
		c.Close()
		synctest.Wait()
		require.Equal(t, []string{"CS3"}, s.mux.Connected())
	})
}

func TestSilentClientIsClosed(t *testing.T) {
	const timeout = 5 * time.Second
	synctest.Test(t, func(t *testing.T) {
		s := start(t, portmux.Options{RequestTimeout: timeout}, stationServer(), says("http"))
		c, _ := dialRaw(t, s.l)
		began := time.Now()
		time.Sleep(timeout - time.Millisecond)
		synctest.Wait()
		c.SetReadDeadline(time.Now())
		_, err := c.Read(make([]byte, 1))
		require.ErrorIs(t, err, os.ErrDeadlineExceeded, "the connection was closed before the timeout")
		c.SetReadDeadline(time.Time{})
		_, err = c.Read(make([]byte, 1))
		require.ErrorIs(t, err, io.EOF)
		require.Equal(t, timeout, time.Since(began), "closed at the timeout, on the fake clock")
	})
}

func TestClientTooSlowToSendItsLine(t *testing.T) {
	// The timeout bounds the whole request line, not each read of it.
	const timeout = 5 * time.Second
	synctest.Test(t, func(t *testing.T) {
		s := start(t, portmux.Options{RequestTimeout: timeout}, stationServer(), says("http"))
		c, _ := dialRaw(t, s.l)
		began := time.Now()
		// A byte a second, half a second off the timeout's beat.
		time.Sleep(time.Second / 2)
		var err error
		for {
			if _, err = io.WriteString(c, "G"); err != nil {
				break
			}
			time.Sleep(time.Second)
		}
		require.ErrorIs(t, err, io.ErrClosedPipe)
		require.Equal(t, timeout+time.Second/2, time.Since(began),
			"the first write after the timeout failed, on the fake clock")
	})
}

func TestRequestLineTooLong(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := start(t, portmux.Options{MaxRequestLine: 100}, stationServer(), says("http"))
		c, br := dialRaw(t, s.l)
		go io.WriteString(c, "GET /api/"+strings.Repeat("a", 200)+" HTTP/1.1\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusRequestURITooLong, resp.StatusCode)
		bodyOf(t, resp)
		_, err = br.ReadByte()
		require.ErrorIs(t, err, io.EOF, "the connection is closed after the answer")

		// A line just under the limit is served.
		c, br = dialRaw(t, s.l)
		line := "GET /api/" + strings.Repeat("a", 100-len("GET /api/ HTTP/1.1\r\n")) + " HTTP/1.1\r\n"
		require.Len(t, line, 100)
		resp = request(t, c, br, line+"Host: x\r\n\r\n")
		require.Equal(t, http.StatusOK, resp.StatusCode)
	})
}

func TestClose(t *testing.T) {
	t.Run("the Mux closes its listeners", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			l := memnet.Listen()
			m := portmux.New(l, portmux.Options{})
			served := make(chan error, 1)
			go func() { served <- m.Serve() }()
			silent, err := l.Dial(t.Context()) // waiting for its request line
			require.NoError(t, err)
			defer silent.Close()
			synctest.Wait()

			began := time.Now()
			require.NoError(t, m.Close())
			require.Zero(t, time.Since(began), "Close waited for the silent client's timeout")
			require.NoError(t, <-served)
			_, err = silent.Read(make([]byte, 1))
			require.ErrorIs(t, err, io.EOF, "the silent client's connection")
			_, err = l.Dial(t.Context())
			require.ErrorIs(t, err, memnet.ErrClosed, "the real listener")
			for name, side := range map[string]net.Listener{"Stations": m.Stations(), "HTTP": m.HTTP()} {
				_, err := side.Accept()
				require.ErrorIs(t, err, net.ErrClosed, name)
			}
			require.NoError(t, m.Close(), "a second Close")
		})
	})
	t.Run("a step's Serve returns nil after its Close", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			s := start(t, portmux.Options{}, stationServer(), says("http"))
			ws, _, err := dialStation(t, s.l.DialContext, "x", "CS1")
			require.NoError(t, err)
			roundTrip(t, ws, "m-1")
			// start's cleanup closes the step's server, whose Serve must
			// return nil, then the Mux.
		})
	})
	t.Run("closing the Mux first ends a step's Serve with net.ErrClosed", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			l := memnet.Listen()
			m := portmux.New(l, portmux.Options{})
			go m.Serve()
			srv := stationServer()
			served := make(chan error, 1)
			go func() { served <- srv.Serve(m.Stations()) }()
			synctest.Wait()
			require.NoError(t, m.Close())
			require.ErrorIs(t, <-served, net.ErrClosed)
			require.NoError(t, srv.Close())
		})
	})
	t.Run("a closed station side leaves the HTTP side serving", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			srv := stationServer()
			s := start(t, portmux.Options{}, srv, says("http"))
			require.NoError(t, srv.Close())
			_, _, err := dialStation(t, s.l.DialContext, "x", "CS1")
			require.Error(t, err, "a station after the step's server closed")
			c, br := dialRaw(t, s.l)
			require.Equal(t, "http /metrics", bodyOf(t, request(t, c, br, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")))
		})
	})
}

func TestOverTCP(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	m := portmux.New(l, portmux.Options{})
	gone := make(chan string, 1)
	srv := stationServer()
	srv.Logger = slogTo(func(msg, station string) {
		if msg == "station disconnected" {
			gone <- station
		}
	})
	hs := &http.Server{Handler: says("http")}
	served := make(chan error, 3)
	go func() { served <- m.Serve() }()
	go func() { served <- srv.Serve(m.Stations()) }()
	go func() {
		if err := hs.Serve(m.HTTP()); !errors.Is(err, http.ErrServerClosed) {
			served <- err
			return
		}
		served <- nil
	}()
	t.Cleanup(func() {
		assert.NoError(t, srv.Close())
		assert.NoError(t, hs.Close())
		assert.NoError(t, m.Close())
		for range 3 {
			assert.NoError(t, <-served)
		}
	})

	var d net.Dialer
	ws, _, err := dialStation(t, d.DialContext, l.Addr().String(), "CS%201")
	require.NoError(t, err)
	roundTrip(t, ws, "m-1")
	require.Equal(t, []string{"CS 1"}, m.Connected())

	resp, err := http.Get("http://" + l.Addr().String() + "/metrics")
	require.NoError(t, err)
	require.Equal(t, "http /metrics", bodyOf(t, resp))
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()

	ws.NetConn().Close()
	require.Equal(t, "CS 1", <-gone)
	require.Empty(t, m.Connected())
}

// slogTo returns a logger that passes each record's message and station
// attribute to f.
func slogTo(f func(msg, station string)) *slog.Logger { return slog.New(funcHandler(f)) }

type funcHandler func(msg, station string)

func (funcHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h funcHandler) Handle(_ context.Context, r slog.Record) error {
	var station string
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "station" {
			station = a.Value.String()
		}
		return true
	})
	h(r.Message, station)
	return nil
}
func (h funcHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h funcHandler) WithGroup(string) slog.Handler      { return h }

func TestHandedOverWithoutADeadline(t *testing.T) {
	// The request timeout bounds the request line only: the server that
	// takes the connection sets its own deadlines, or none.
	synctest.Test(t, func(t *testing.T) {
		l := memnet.Listen()
		m := portmux.New(l, portmux.Options{RequestTimeout: time.Second})
		go m.Serve()
		defer m.Close()
		c, _ := dialRaw(t, l)
		const line = "GET /ocpp/CS1 HTTP/1.1\r\n"
		go io.WriteString(c, line)
		sc, err := m.Stations().Accept()
		require.NoError(t, err)
		defer sc.Close()
		time.Sleep(2 * time.Second)
		go io.WriteString(c, "later")
		got, err := io.ReadAll(io.LimitReader(sc, int64(len(line+"later"))))
		require.NoError(t, err)
		require.Equal(t, line+"later", string(got))
	})
}

// holdOpen dials and sends the start of a request that never ends, as a
// client that holds the port (slowloris) does.
func holdOpen(t *testing.T, l *memnet.Listener) net.Conn {
	t.Helper()
	c, _ := dialRaw(t, l)
	_, err := io.WriteString(c, "GET /ocpp/CS")
	require.NoError(t, err)
	return c
}

// closedByServer reports whether the server closed c: a read returns at
// once with an error rather than waiting.
func closedByServer(c net.Conn) bool {
	done := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 1))
		done <- err
	}()
	synctest.Wait()
	select {
	case err := <-done:
		return err != nil
	default:
		c.Close() // ends the read
		<-done
		return false
	}
}

func TestHeldConnectionsMakeRoom(t *testing.T) {
	// Four clients hold every handshake place with requests that never
	// end. A station that comes waits at most the grace for the oldest to
	// be closed, then connects; the holders lose their places one by one.
	synctest.Test(t, func(t *testing.T) {
		var logs strings.Builder
		s := start(t, portmux.Options{MaxHandshakes: 4, HandshakeGrace: time.Second, RequestTimeout: time.Hour,
			Logger: slog.New(slog.NewTextHandler(&logs, nil))}, stationServer(), says("http"))
		var held []net.Conn
		for range 4 {
			held = append(held, holdOpen(t, s.l))
		}
		synctest.Wait()
		open, waiting := s.mux.Open()
		require.Equal(t, [2]int{4, 4}, [2]int{open, waiting}, "open and waiting connections, with four held")

		start := time.Now()
		ws, _, err := dialStation(t, s.l.DialContext, "x", "CS1")
		require.NoError(t, err, "a station while four connections hold every handshake place")
		require.Equal(t, time.Second, time.Since(start), "how long the station waited: the grace, for the oldest held connection to be closed")
		roundTrip(t, ws, "m-1")
		synctest.Wait() // the closed one's goroutine counts it out
		open, waiting = s.mux.Open()
		require.Equal(t, [2]int{4, 3}, [2]int{open, waiting}, "open and waiting connections, with three held and the station in")
		require.True(t, closedByServer(held[0]), "the oldest held connection is closed to make room")
		for i, c := range held[1:] {
			require.False(t, closedByServer(c), "held connection %d of 4 is closed, when only the oldest had to be", i+2)
		}
		require.Contains(t, logs.String(), "closed=1", "the log says a connection was closed to make room")
	})
}

func TestBurstOfStationsWaitsAndGetsIn(t *testing.T) {
	// More stations than handshake places connect at once, to a server
	// that takes three times the grace to answer each: they have sent
	// their requests, so each waits its turn and none is closed.
	synctest.Test(t, func(t *testing.T) {
		var logs strings.Builder
		slow := stationServer()
		accept := slow.Accept
		slow.Accept = func(w http.ResponseWriter, r *http.Request) bool {
			time.Sleep(3 * time.Second)
			return accept(w, r)
		}
		s := start(t, portmux.Options{MaxHandshakes: 2, HandshakeGrace: time.Second, Logger: slog.New(slog.NewTextHandler(&logs, nil))}, slow, says("http"))
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				ws, _, err := dialStation(t, s.l.DialContext, "x", fmt.Sprintf("CS%d", i))
				if assert.NoError(t, err) {
					roundTrip(t, ws, "m-1")
				}
			})
		}
		wg.Wait()
		require.Equal(t, 20, s.mux.NumConnected())
		require.Empty(t, logs.String(), "nothing refused")
	})
}

func TestMaxConns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs strings.Builder
		s := start(t, portmux.Options{MaxConns: 2, Logger: slog.New(slog.NewTextHandler(&logs, nil))}, stationServer(), says("http"))
		for _, id := range []string{"CS1", "CS2"} {
			ws, _, err := dialStation(t, s.l.DialContext, "x", id)
			require.NoError(t, err)
			roundTrip(t, ws, "m-1")
		}
		c, _ := dialRaw(t, s.l)
		require.True(t, closedByServer(c), "a third connection, past MaxConns 2, is closed at once")
		require.Contains(t, logs.String(), "too many open")
		require.Contains(t, logs.String(), "refused=1")
		open, _ := s.mux.Open()
		require.Equal(t, 2, open)
	})
}

func TestGuessingAddressIsRefused(t *testing.T) {
	// Over TCP, where connections have a source address: after AuthFailures
	// handshakes refused with 401, the address's next connection is
	// answered 429, even one with the right credentials.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var logs syncBuffer
	m := portmux.New(l, portmux.Options{AuthFailures: 3, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	srv := stationServer()
	served := make(chan error, 2)
	go func() { served <- m.Serve() }()
	go func() { served <- srv.Serve(m.Stations()) }()
	t.Cleanup(func() {
		assert.NoError(t, srv.Close())
		assert.NoError(t, m.Close())
		for range 2 {
			assert.NoError(t, <-served)
		}
	})
	var d net.Dialer
	for i := range 3 {
		c, err := d.DialContext(t.Context(), "tcp", l.Addr().String())
		require.NoError(t, err)
		resp := request(t, c, bufio.NewReader(c), handshake("/ocpp/CS1", ""))
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "handshake %d without credentials", i+1)
		c.Close()
	}
	c, err := d.DialContext(t.Context(), "tcp", l.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	resp := request(t, c, bufio.NewReader(c), handshake("/ocpp/CS1", "Basic eDp5"))
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode, "a fourth handshake from the address, with credentials, after three refused")
	require.Equal(t, "10", resp.Header.Get("Retry-After"))
	require.Contains(t, bodyOf(t, resp), "try again in 10 s")
	require.Contains(t, logs.String(), "failed to authenticate too often")
}

// syncBuffer is a strings.Builder safe for the Mux's goroutines to log to.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// passThroughProbe stands in for the stations' server: it takes one
// connection and says whether it passes through (wsconn.PassThrough)
// before anything is read from it, and once its request has been read.
type passThroughProbe struct {
	got  chan [2]bool
	done chan struct{}
}

func (p *passThroughProbe) Serve(l net.Listener) error {
	c, err := l.Accept()
	if err != nil {
		return nil
	}
	defer c.Close()
	pt, ok := c.(wsconn.PassThrough)
	if !ok {
		p.got <- [2]bool{}
		return nil
	}
	before := pt.PassThrough() != nil
	br := bufio.NewReaderSize(c, 16) // reads no further than the request
	for {
		line, err := br.ReadString('\n')
		if err != nil || line == "\r\n" {
			break
		}
	}
	p.got <- [2]bool{before, pt.PassThrough() != nil}
	<-p.done
	return nil
}

func (p *passThroughProbe) Close() error {
	close(p.done)
	return nil
}

func TestPassThroughOnceReplayed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &passThroughProbe{got: make(chan [2]bool, 1), done: make(chan struct{})}
		s := start(t, portmux.Options{}, p, says("http"))
		c, _ := dialRaw(t, s.l)
		_, err := io.WriteString(c, handshake("/ocpp/CS1", "")+"\r\n")
		require.NoError(t, err)
		got := <-p.got
		assert.False(t, got[0], "a connection passes through while the Mux holds bytes it read to route it")
		assert.True(t, got[1], "a connection does not pass through once what the Mux read has been read")
	})
}

// Admit vets a station's connection before the station side sees it: a
// refusal is answered 403 with its reason, and logged.
func TestAdmitRefuses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logged syncBuffer
		opts := portmux.Options{
			Logger: slog.New(slog.NewTextHandler(&logged, nil)),
			Admit: func(id string, cs *tls.ConnectionState) error {
				if cs != nil {
					return errors.New("a TLS state without TLS")
				}
				if id != "CS0001" {
					return fmt.Errorf("%s may not connect here", id)
				}
				return nil
			},
		}
		s := start(t, opts, stationServer(), says("http"))
		c, br := dialRaw(t, s.l)
		resp := request(t, c, br, handshake("/ocpp/CS0002", "Basic eDp5"))
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
		require.Equal(t, "403 Forbidden: CS0002 may not connect here\n", bodyOf(t, resp))
		require.Contains(t, logged.String(), `last_reason="CS0002 may not connect here"`)

		c, br = dialRaw(t, s.l)
		resp = request(t, c, br, handshake("/ocpp/CS0001", "Basic eDp5"))
		require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
		synctest.Wait()
		require.Equal(t, []string{"CS0001"}, s.mux.Connected())
		c.Close()

		// The operator's side is not vetted.
		c, br = dialRaw(t, s.l)
		resp = request(t, c, br, "GET /api/stations HTTP/1.1\r\nHost: x\r\n\r\n")
		require.Equal(t, "http /api/stations", bodyOf(t, resp))
	})
}

// tlsFor returns a server configuration with a certificate for host, and a
// client's that trusts it, valid around now (the bubble's clock, in a
// synctest test).
func tlsFor(t *testing.T, host string) (server, client *tls.Config) {
	t.Helper()
	now := time.Now()
	ca, err := tlsauth.NewCA("test CA", now.Add(-time.Hour), now.Add(time.Hour))
	require.NoError(t, err)
	certPEM, keyPEM, err := ca.Issue(tlsauth.Server, []string{host}, now.Add(-time.Hour), now.Add(time.Hour))
	require.NoError(t, err)
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	return &tls.Config{Certificates: []tls.Certificate{cert}}, &tls.Config{RootCAs: pool}
}

func TestHeldTLSHandshakesMakeRoom(t *testing.T) {
	// As TestHeldConnectionsMakeRoom, over TLS: four clients connect and
	// never send their ClientHello. A station that comes waits the grace,
	// then gets in, over TLS.
	synctest.Test(t, func(t *testing.T) {
		serverTLS, clientTLS := tlsFor(t, "x")
		s := start(t, portmux.Options{TLS: serverTLS, MaxHandshakes: 4, HandshakeGrace: time.Second, RequestTimeout: time.Hour},
			stationServer(), says("http"))
		var held []net.Conn
		for range 4 {
			c, _ := dialRaw(t, s.l)
			held = append(held, c)
		}
		synctest.Wait()
		open, waiting := s.mux.Open()
		require.Equal(t, [2]int{4, 4}, [2]int{open, waiting}, "open and waiting connections, with four held")

		start := time.Now()
		d := websocket.Dialer{NetDialContext: s.l.DialContext, Subprotocols: []string{wsconn.Subprotocol}, TLSClientConfig: clientTLS}
		ws, resp, err := d.DialContext(t.Context(), "wss://x/ocpp/CS1", http.Header{"Authorization": {"Basic eDp5"}})
		require.NoError(t, err, "a station over TLS while four connections hold every handshake place")
		resp.Body.Close()
		defer ws.Close()
		require.Equal(t, time.Second, time.Since(start), "how long the station waited: the grace, for the oldest held connection to be closed")
		roundTrip(t, ws, "m-1")
		require.True(t, closedByServer(held[0]), "the oldest held connection is closed to make room")
		require.False(t, closedByServer(held[1]), "the second held connection is closed, when only the oldest had to be")
	})
}
