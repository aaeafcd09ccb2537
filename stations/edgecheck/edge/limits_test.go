package edge

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/kit"
	"github.com/ocppkata/kata/harness/portmux"
	"github.com/ocppkata/kata/harness/wsconn"
	hardening "github.com/ocppkata/kata/solutions/09-hardening"
)

// A laxServer is a central system without the limits wsconn states: a
// net/http server with its defaults (no timeouts, 1 MiB of headers) and
// any identity, which answers every CALL with an empty CALLRESULT. The
// limit cases must find it out, each of them.
type laxServer struct {
	srv     http.Server
	mu      sync.Mutex
	conns   map[*websocket.Conn]struct{}
	handles sync.WaitGroup
}

func newLaxServer() *laxServer {
	s := &laxServer{conns: make(map[*websocket.Conn]struct{})}
	up := websocket.Upgrader{Subprotocols: []string{wsconn.Subprotocol}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ocpp/{station}", func(w http.ResponseWriter, r *http.Request) {
		s.handles.Add(1)
		defer s.handles.Done()
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[ws] = struct{}{}
		s.mu.Unlock()
		defer func() {
			s.mu.Lock()
			delete(s.conns, ws)
			s.mu.Unlock()
			ws.Close()
		}()
		for {
			_, data, err := ws.ReadMessage()
			if err != nil {
				return
			}
			var parts []json.RawMessage
			if json.Unmarshal(data, &parts) == nil && len(parts) == 4 && string(parts[0]) == "2" {
				ws.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, "[3,%s,{}]", parts[1]))
			}
		}
	})
	s.srv.Handler = mux
	return s
}

func (s *laxServer) Serve(l net.Listener) error {
	if err := s.srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func (s *laxServer) Close() error {
	err := s.srv.Close() // not the upgraded connections: net/http let them go
	s.mu.Lock()
	for ws := range s.conns {
		ws.Close()
	}
	s.mu.Unlock()
	s.handles.Wait()
	return err
}

func TestLimitCasesFindAServerWithoutLimits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		verdicts := checkServer(t, newLaxServer(), nil)
		for _, cc := range limitCases() {
			got, ran := verdicts[cc.name]
			switch {
			case !ran:
				t.Errorf("%s: did not run", cc.name)
			case got:
				t.Errorf("%s: ✓ against a server without limits", cc.name)
			}
		}
	})
}

func TestLimitCasesRunAtOnce(t *testing.T) {
	// The limit cases wait for the server's timeouts: run one after the
	// other they would add their sum to the check; at once, the longest.
	synctest.Test(t, func(t *testing.T) {
		l := kit.Serve(t, hardening.New(hardening.Config{Backend: backend.New(backend.Options{})}))
		c := &Checker{URL: kit.URL, Limits: true, Dial: l.DialContext}
		start := time.Now()
		var limitsFrom time.Duration
		results := c.Run(t.Context(), func(r Result) {
			if r.Case == limitCases()[0].name {
				limitsFrom = time.Since(start)
			}
		})
		took := time.Since(start)
		if want := len(caseNames(false)); len(results) != want {
			t.Fatalf("%d results, want %d", len(results), want)
		}
		if bound := wsconn.IdleTimeout + 2*time.Second; took-limitsFrom > bound {
			t.Errorf("the limit cases took %v, want at most %v: they run at once", took-limitsFrom, bound)
		}
	})
}

// statusCounter counts the answers that begin with a status, one per
// connection: the check sends one request on each.
type statusCounter struct {
	dial   func(ctx context.Context, network, addr string) (net.Conn, error)
	status string // such as "401"
	n      atomic.Int32
}

func (sc *statusCounter) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := sc.dial(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, sc: sc}, nil
}

type countingConn struct {
	net.Conn
	sc   *statusCounter
	mu   sync.Mutex
	head []byte
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	defer c.mu.Unlock()
	const statusLen = len("HTTP/1.1 401")
	if len(c.head) < statusLen {
		c.head = append(c.head, p[:min(n, statusLen-len(c.head))]...)
		if len(c.head) == statusLen && string(c.head[9:]) == c.sc.status {
			c.sc.n.Add(1)
		}
	}
	return n, err
}

func TestCheckCausesFewUnauthorized(t *testing.T) {
	// make serve answers an address 429 for 10 s once it has refused 10
	// of its handshakes with 401 within 10 s: the check must stay below,
	// or its own later cases would meet the 429.
	synctest.Test(t, func(t *testing.T) {
		cfg := hardening.Config{Backend: backend.New(backend.Options{}), AuthKeys: map[string]string{testKeys[0].Station: testKeys[0].Password}}
		l := kit.Serve(t, hardening.New(cfg))
		counter := &statusCounter{dial: l.DialContext, status: "401"}
		c := &Checker{URL: kit.URL, Keys: testKeys, Limits: true, Dial: counter.DialContext}
		if err := c.Reach(t.Context()); err != nil {
			t.Fatal(err)
		}
		results := c.Run(t.Context(), nil)
		if Passed(results) != len(results) {
			t.Errorf("%d of %d cases as OCPP-J expects, want all", Passed(results), len(results))
		}
		if n := int(counter.n.Load()); n != 2 || n >= portmux.DefaultAuthFailures {
			t.Errorf("the check caused %d answers 401, want the auth cases' 2, fewer than portmux's %d", n, portmux.DefaultAuthFailures)
		}
	})
}

func TestBigHeadersOf(t *testing.T) {
	head := "GET /ocpp/CS0001 HTTP/1.1\r\nHost: kata.test\r\n" + upgradeHeaders
	req := bigHeadersOf(head)
	if len(req) > bigHeaders || len(req) < bigHeaders-64 {
		t.Errorf("%d bytes, want 1 MiB or a few less", len(req))
	}
	if !bytes.HasPrefix(req, []byte(head)) || !bytes.HasSuffix(req, []byte("\r\n\r\n")) {
		t.Errorf("the request does not start with its head or end its headers: %q…%q", req[:64], req[len(req)-64:])
	}
	if bytes.Contains(req[:len(req)-4], []byte("\r\n\r\n")) {
		t.Error("the headers end before the last line")
	}
	r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(req)))
	if err != nil {
		t.Fatalf("not a request: %v", err)
	}
	if r.URL.Path != "/ocpp/CS0001" || r.Header.Get("Sec-WebSocket-Protocol") != "ocpp1.6" || len(r.Header) < 1000 {
		t.Errorf("read as %s with %d headers", r.URL, len(r.Header))
	}
	if bigHeadersSent <= wsconn.MaxHeaderBytes+4<<10 {
		t.Errorf("the check waits for the answer after %d bytes, before net/http's limit of %d has passed", bigHeadersSent, wsconn.MaxHeaderBytes+4<<10)
	}
}

func TestRequestHead(t *testing.T) {
	d := &dialer{url: "ws://127.0.0.1:8080/ocpp/"}
	key := "secret"
	got := d.requestHead("CS 1\x00", &key)
	want := "GET /ocpp/CS%201%00 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nAuthorization: " + basicAuth("CS 1\x00", key) + "\r\n"
	if got != want {
		t.Errorf("requestHead = %q, want %q", got, want)
	}
	if got := d.requestHead("CS0001", nil); strings.Contains(got, "Authorization") {
		t.Errorf("requestHead without a key = %q, with credentials", got)
	}
}

func TestEnded(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{nil, "closed"},
		{io.EOF, "closed"},
		{fmt.Errorf("read: %w", io.ErrUnexpectedEOF), "closed"},
		{&net.OpError{Op: "read", Err: syscall.ECONNRESET}, "closed (reset)"},
		{&net.OpError{Op: "read", Err: timeoutError{}}, "silence"},
		{errors.New("odd"), "closed: odd"},
	}
	for _, tt := range tests {
		if got := ended(tt.err); got != tt.want {
			t.Errorf("ended(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
	if got := (httpAnswer{status: 431}).String(); got != "HTTP 431 Request Header Fields Too Large" {
		t.Errorf("httpAnswer 431 = %q", got)
	}
}

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func TestSeconds(t *testing.T) {
	for d, want := range map[time.Duration]string{8 * time.Second: "8 s", 1500 * time.Millisecond: "1.5 s"} {
		if got := seconds(d); got != want {
			t.Errorf("seconds(%v) = %q, want %q", d, got, want)
		}
	}
}
