package station

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/gorilla/websocket"
)

// handshakeTimeout is how long a station waits for the WebSocket handshake.
const handshakeTimeout = 15 * time.Second

// ErrNoSubprotocol is why Dial fails when the server completes the handshake
// without selecting ocpp1.6, which is how a central system says it does not
// speak the station's protocol.
var ErrNoSubprotocol = errors.New("server did not select subprotocol " + Subprotocol)

// HandshakeError is a WebSocket handshake that the server answered with an
// HTTP status instead of switching protocols: 404 for an unknown station,
// 401 for wrong credentials. It wraps websocket.ErrBadHandshake.
type HandshakeError struct {
	StatusCode int    // such as 404
	Status     string // such as "404 Not Found"
	// Reason is the start of the answer's body, its first line: why, when
	// the server says (a 403 of profile 3 does).
	Reason string
}

func (e *HandshakeError) Error() string {
	if e.Reason != "" {
		return "the server refused the WebSocket handshake: HTTP " + e.Status + ": " + e.Reason
	}
	return "the server refused the WebSocket handshake: HTTP " + e.Status
}

// maxReason is how much of a refusal's body HandshakeError keeps.
const maxReason = 300

func (e *HandshakeError) Unwrap() error { return websocket.ErrBadHandshake }

// Dial connects the station id to the central system at opts.URL: a
// WebSocket handshake to URL+"/"+id offering the ocpp1.6 subprotocol. It
// fails with ErrNoSubprotocol if the server does not select it.
//
// Like net.Dialer.DialContext, ctx bounds the connecting only: once
// connected, the station stays connected until Close is called or the
// server ends the connection. Close it when done.
func Dial(ctx context.Context, id string, opts Options) (*Station, error) {
	return dial(ctx, id, opts, nil)
}

func dial(ctx context.Context, id string, opts Options, t *tally) (*Station, error) {
	ws, err := connect(ctx, id, opts)
	if err != nil {
		return nil, err
	}
	s := &Station{
		id:       id,
		ws:       ws,
		answer:   opts.Answer,
		tally:    t,
		writer:   make(chan struct{}, 1),
		pending:  make(map[string]*pending),
		closing:  make(chan struct{}),
		done:     make(chan struct{}),
		finished: make(chan struct{}),
	}
	if s.answer == nil {
		s.answer = DefaultAnswer
	}
	go s.readLoop()
	return s, nil
}

// connect opens station id's WebSocket, as Dial does, without starting
// anything that reads it.
func connect(ctx context.Context, id string, opts Options) (*websocket.Conn, error) {
	if id == "" {
		return nil, errors.New("station: empty station id")
	}
	target, err := endpoint(opts.URL, id)
	if err != nil {
		return nil, fmt.Errorf("station %s: %w", id, err)
	}
	var header http.Header
	if opts.Password != "" {
		header = http.Header{}
		header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(id+":"+opts.Password)))
	}
	var tlsConf *tls.Config
	if opts.TLS != nil && strings.HasPrefix(target, "wss:") {
		if tlsConf, err = opts.TLS(id); err != nil {
			return nil, fmt.Errorf("station %s: %w", id, err)
		}
	}
	ws, err := handshake(ctx, target, opts.Dial, header, tlsConf)
	if err != nil {
		return nil, fmt.Errorf("station %s: connect %s: %w", id, target, err)
	}
	return ws, nil
}

// endpoint is the station's URL: the central system's endpoint, a slash, and
// the percent-encoded identity (OCPP-J §3.1.1).
func endpoint(base, id string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("bad URL %q: %w", base, err)
	}
	if u.Scheme != "ws" && u.Scheme != "wss" {
		return "", fmt.Errorf("bad URL %q: scheme must be ws or wss", base)
	}
	if u.Host == "" {
		return "", fmt.Errorf("bad URL %q: no host", base)
	}
	return strings.TrimRight(base, "/") + "/" + url.PathEscape(id), nil
}

// handshake opens the WebSocket. gorilla honours only the deadline of ctx
// during the handshake, so a cancellation is turned into an immediate
// deadline on the socket: a fleet whose context ends stops connecting at once.
func handshake(ctx context.Context, target string, dial Dialer, header http.Header, tlsConf *tls.Config) (*websocket.Conn, error) {
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	stop := func() bool { return true }
	d := websocket.Dialer{
		Subprotocols:     []string{Subprotocol},
		HandshakeTimeout: handshakeTimeout,
		TLSClientConfig:  tlsConf,
		NetDialContext: func(dctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dial(dctx, network, addr)
			if err == nil {
				stop = context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
			}
			return c, err
		},
	}
	ws, resp, err := d.DialContext(ctx, target, header)
	var reason string
	if resp != nil && resp.Body != nil {
		if errors.Is(err, websocket.ErrBadHandshake) { // gorilla has read the body into memory
			b, _ := io.ReadAll(io.LimitReader(resp.Body, maxReason))
			reason, _, _ = strings.Cut(strings.TrimSpace(string(b)), "\n")
			reason = strings.TrimPrefix(strings.TrimPrefix(reason, resp.Status), ": ") // "403 Forbidden: why"
			// The server's words, printed on a terminal: nothing but
			// printable characters.
			reason = strings.Map(func(r rune) rune {
				if unicode.IsPrint(r) {
					return r
				}
				return -1
			}, reason)
		}
		resp.Body.Close()
	}
	if !stop() {
		if ws != nil {
			ws.Close()
		}
		return nil, ctx.Err()
	}
	if err != nil && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err != nil {
		if errors.Is(err, websocket.ErrBadHandshake) && resp != nil {
			return nil, &HandshakeError{StatusCode: resp.StatusCode, Status: resp.Status, Reason: reason}
		}
		return nil, err
	}
	if got := ws.Subprotocol(); got != Subprotocol {
		ws.Close()
		if got == "" {
			return nil, fmt.Errorf("%w (it selected none)", ErrNoSubprotocol)
		}
		return nil, fmt.Errorf("%w (it selected %q)", ErrNoSubprotocol, got)
	}
	return ws, nil
}
