package million_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	million "github.com/ocppkata/kata/exercises/11-million"
	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/kit"
	"github.com/ocppkata/kata/harness/memnet"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/harness/wsconn"
	"github.com/ocppkata/kata/stations/station"
)

// Most cases run on the in-memory network and inside a synctest bubble, as
// every step's do: time is fake, so "dead after 30s" costs nothing and is
// exact. The network here buffers what is written, as a socket does
// (memnet.ListenBuffered): a station's bytes wait on its connection until
// the server reads them, and the server's poller sees them there. The cases
// about memory run on loopback TCP, where the poller is the system's.

// buffered is how many bytes each in-memory connection holds, each way:
// a socket's buffer, small.
const buffered = 16 << 10

// silence is how long a client waits for the server (its answer, a close,
// or to take what the client writes) before it calls the server silent.
// It is below the server's default ping interval (1m) and DeadAfter
// (10m): with those, nothing the server does by itself while a client
// waits can pass for an answer.
const silence = 30 * time.Second

// The edge's timing in the tests of connections (see timed): the server
// pings every 10s, takes a station that has sent nothing (no frame, no
// pong) for 30s for dead, and gives each frame it sends 5s to be taken.
const (
	pingInterval = 10 * time.Second
	deadAfter    = 30 * time.Second
	writeTimeout = 5 * time.Second
)

// timed returns cfg with the timing above where cfg sets none. The tests
// of frames keep the server's defaults: their raw clients drop pings and
// wait up to silence for an answer, and with DeadAfter equal to silence, a
// server that says nothing would close the connection as dead at the very
// moment the client gives up, and could pass for one that answered.
func timed(cfg million.Config) million.Config {
	if cfg.PingInterval == 0 {
		cfg.PingInterval = pingInterval
	}
	if cfg.DeadAfter == 0 {
		cfg.DeadAfter = deadAfter
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = writeTimeout
	}
	return cfg
}

// edge is a server under test, where its stations dial, their keys if it
// has any, and the neighbour that must not notice.
type edge struct {
	srv       *million.Server
	b         *backend.Backend
	l         *memnet.Listener
	keys      map[string]string
	neighbour *station.Station
	// lost, if set, says why the neighbour may have been lost, in the
	// terms of the case's lesson; by default, unharmed speaks of isolation.
	lost string
	// over is set by a case that shuts the server down or closes its
	// stations itself: nobody is left to check on.
	over bool
}

// runEdge runs body in a synctest bubble of its own, against a new server
// configured by cfg, with a backend that answers at once. A neighbour
// station, NEIGHBOUR, is booted before body runs; afterwards it must still
// be connected and served, and a station connecting afresh must be served.
func runEdge(t *testing.T, cfg million.Config, body func(t *testing.T, e *edge)) {
	t.Helper()
	runEdgeWith(t, backend.Options{}, cfg, body)
}

// runEdgeWith is runEdge with a backend made of opts, in the bubble: its
// timers and gates must be the bubble's. e.b is that backend.
func runEdgeWith(t *testing.T, opts backend.Options, cfg million.Config, body func(t *testing.T, e *edge)) {
	t.Helper()
	synctest.Test(t, func(t *testing.T) {
		cfg.Backend = backend.New(opts)
		if cfg.Workers == 0 {
			cfg.Workers = 2
		}
		srv := million.New(cfg)
		e := &edge{srv: srv, b: cfg.Backend, l: kit.ServeOn(t, srv, memnet.ListenBuffered(buffered)), keys: cfg.AuthKeys}
		e.neighbour = e.boot(t, "NEIGHBOUR")
		body(t, e)
		if !e.over {
			e.unharmed(t)
		}
	})
}

// connect connects a simulated station with its key, if the server has
// keys, and registers it with a BootNotification. Like any gorilla client,
// it answers the server's pings while it reads. It is closed when the test
// ends.
func (e *edge) connect(t *testing.T, id string) (*station.Station, error) {
	t.Helper()
	opts := kit.Stations(e.l)
	opts.Password = e.keys[id]
	// A bound on fake time: a server that never answers fails the test
	// instead of leaving the bubble with nothing to wait for.
	ctx, cancel := context.WithTimeout(t.Context(), silence)
	defer cancel()
	st, err := station.Dial(ctx, id, opts)
	if err != nil {
		return nil, fmt.Errorf("connecting: %w", err)
	}
	t.Cleanup(func() { st.Close() })
	req := ocpp.BootNotificationRequest{ChargePointVendor: "Kata", ChargePointModel: "Test"}
	if err := st.Call(ctx, ocpp.ActionBootNotification, req, nil); err != nil {
		return nil, fmt.Errorf("BootNotification: %w", err)
	}
	return st, nil
}

// boot is connect for a station the case needs: it fails the test if the
// station cannot connect and boot.
func (e *edge) boot(t *testing.T, id string) *station.Station {
	t.Helper()
	st, err := e.connect(t, id)
	if err != nil {
		t.Fatalf("%s, a station that does nothing wrong, could not connect and boot: %v", id, err)
	}
	return st
}

// unharmed checks that the neighbour is still connected and served, and
// that a fresh station can connect, boot and be served: what one station
// did must not reach the others.
func (e *edge) unharmed(t *testing.T) {
	t.Helper()
	why := e.lost
	if why == "" {
		why = "What one station does must cost that station alone, never the others."
	}
	select {
	case <-e.neighbour.Done():
		t.Errorf("the neighbour station %s, connected before, answering every ping and doing nothing wrong, "+
			"was disconnected (%v).\n%s", e.neighbour.ID(), e.neighbour.Err(), why)
	default:
		if err := heartbeat(t, e.neighbour); err != nil {
			t.Errorf("the neighbour station %s, connected before, got no answer to a Heartbeat afterwards: %v\n%s",
				e.neighbour.ID(), err, why)
		}
	}
	const id = "FRESH"
	fresh, err := e.connect(t, id)
	if err != nil {
		t.Errorf("a fresh station, %s, connecting afterwards failed: %v\nThe server must go on serving everyone else.", id, err)
		return
	}
	if err := heartbeat(t, fresh); err != nil {
		t.Errorf("a fresh station, %s, connected afterwards got no answer to a Heartbeat: %v\n"+
			"The server must go on serving everyone else.", id, err)
	}
}

// heartbeat sends a Heartbeat from st and waits up to silence (on fake
// time) for its answer.
func heartbeat(t *testing.T, st *station.Station) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), silence)
	defer cancel()
	return st.Call(ctx, ocpp.ActionHeartbeat, ocpp.HeartbeatRequest{}, nil)
}

// raw is a station driven by hand: a bare WebSocket client that sends what
// no station should, and reads and writes only when the test says so. It
// never answers a ping: gorilla answers pings only while it reads, and
// this one drops them unanswered even then, as some chargers do.
type raw struct {
	id    string
	ws    *websocket.Conn
	pings atomic.Int32 // pings read (and dropped)
	// done is set once a read failed (a close, a cut, silence): gorilla's
	// connection reads nothing more after that.
	done bool
}

// dial opens a raw WebSocket to the server as station id, with header
// (nil for none), offering the given subprotocols (none if there are
// none). A connection it opens is closed when the test ends, before the
// server is: a station that stops reading does not hold the server's
// Close.
func (e *edge) dial(t *testing.T, id string, header http.Header, subprotocols ...string) (*raw, *http.Response, error) {
	t.Helper()
	d := websocket.Dialer{NetDialContext: e.l.DialContext, Subprotocols: subprotocols}
	ctx, cancel := context.WithTimeout(t.Context(), silence)
	defer cancel()
	ws, resp, err := d.DialContext(ctx, kit.URL+"/"+url.PathEscape(id), header)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		return nil, resp, err
	}
	t.Cleanup(func() { ws.Close() })
	r := &raw{id: id, ws: ws}
	ws.SetPingHandler(func(string) error { r.pings.Add(1); return nil })
	return r, resp, nil
}

// raw connects station id by hand, offering ocpp1.6 as a station does, and
// with its key if the server has keys.
func (e *edge) raw(t *testing.T, id string) *raw {
	t.Helper()
	var header http.Header
	if key, ok := e.keys[id]; ok {
		header = http.Header{"Authorization": {basicAuth(id, key)}}
	}
	r, _, err := e.dial(t, id, header, wsconn.Subprotocol)
	if err != nil {
		t.Fatalf("%s, offering %s, could not connect: %v", id, wsconn.Subprotocol, err)
	}
	return r
}

// send writes one text frame; the write waits until the server reads it.
func (r *raw) send(t *testing.T, frame string) {
	t.Helper()
	if err := r.write(websocket.TextMessage, frame); err != nil {
		t.Fatalf("%s could not send %s: %v", r.id, clip(frame), err)
	}
}

func (r *raw) write(kind int, frame string) error {
	r.ws.SetWriteDeadline(time.Now().Add(silence))
	return r.ws.WriteMessage(kind, []byte(frame))
}

// put writes bytes on the bare connection, as they are: a piece of a
// frame, a frame, or several.
func (r *raw) put(t *testing.T, b []byte) {
	t.Helper()
	if err := r.putErr(b); err != nil {
		t.Fatalf("%s could not write %d bytes: %v", r.id, len(b), err)
	}
}

// putErr is put for a case that expects the write to fail.
func (r *raw) putErr(b []byte) error {
	conn := r.ws.NetConn()
	conn.SetWriteDeadline(time.Now().Add(silence))
	_, err := conn.Write(b)
	return err
}

// boot registers r with a BootNotification and reads the answer: the
// server's calls to it may go from now on.
func (r *raw) boot(t *testing.T) {
	t.Helper()
	r.send(t, `[2,"boot","BootNotification",{"chargePointVendor":"Kata","chargePointModel":"Raw"}]`)
	got := r.await()
	if res, ok := got.message().(*ocpp.CallResult); !ok || res.ID != "boot" {
		t.Fatalf("%s sent its BootNotification, and the server sent %s; want its CALLRESULT", r.id, got)
	}
}

// reply is what the server did after a frame: sent a frame, closed the
// connection (with a close frame or without), or nothing for silence.
type reply struct {
	data   []byte
	binary bool
	closed *websocket.CloseError // a close frame
	silent bool                  // nothing came for silence
	err    error                 // the connection ended without a close frame
}

// await returns the server's next move: a frame, a close, or silence.
func (r *raw) await() reply {
	r.ws.SetReadDeadline(time.Now().Add(silence))
	kind, data, err := r.ws.ReadMessage()
	r.done = err != nil
	var ce *websocket.CloseError
	var ne net.Error
	switch {
	case err == nil:
		return reply{data: data, binary: kind == websocket.BinaryMessage}
	case errors.As(err, &ce):
		return reply{closed: ce}
	case errors.As(err, &ne) && ne.Timeout():
		return reply{silent: true}
	}
	return reply{err: err}
}

// readLoop reads a raw connection in a goroutine of its own, as a
// station's read loop does, until the connection fails.
type readLoop struct {
	id     string
	frames chan []byte
	done   chan struct{} // closed when the connection has failed
	at     time.Time     // when; set before done is closed
	err    error         // why
}

// listen starts reading r, with no deadline. Pings are read and dropped:
// never answered.
func (r *raw) listen(t *testing.T) *readLoop {
	loop := &readLoop{id: r.id, frames: make(chan []byte, 16), done: make(chan struct{})}
	r.ws.SetReadDeadline(time.Time{})
	go func() {
		defer close(loop.done)
		for {
			_, data, err := r.ws.ReadMessage()
			if err != nil {
				loop.at, loop.err = time.Now(), err
				return
			}
			loop.frames <- data
		}
	}()
	t.Cleanup(func() {
		r.ws.Close()
		<-loop.done
	})
	return loop
}

// message decodes the frame the server sent, or returns nil if it sent
// none or a frame that is not OCPP-J.
func (rp reply) message() ocpp.Message {
	if rp.data == nil {
		return nil
	}
	m, err := ocpp.Decode(rp.data)
	if err != nil {
		return nil
	}
	return m
}

// callError reads the frame as a CALLERROR and returns its id and code. It
// reads it by hand, not with ocpp.Decode, which refuses an id too long
// even when the server echoes one on purpose.
func (rp reply) callError() (id string, code ocpp.ErrorCode, ok bool) {
	var frame []any
	if rp.data == nil || json.Unmarshal(rp.data, &frame) != nil || len(frame) != 5 {
		return "", "", false
	}
	typ, _ := frame[0].(float64)
	id, _ = frame[1].(string)
	c, _ := frame[2].(string)
	return id, ocpp.ErrorCode(c), typ == float64(ocpp.TypeCallError)
}

func (rp reply) String() string {
	switch {
	case rp.closed != nil:
		s := fmt.Sprintf("a close frame with status %d (%s)", rp.closed.Code, closeName(rp.closed.Code))
		if rp.closed.Text != "" {
			s += fmt.Sprintf(", reason %q", rp.closed.Text)
		}
		return s
	case rp.silent:
		return fmt.Sprintf("nothing at all for %v", silence)
	case rp.err != nil:
		return fmt.Sprintf("a connection cut without a close frame (%v)", rp.err)
	}
	kind := "text"
	if rp.binary {
		kind = "binary"
	}
	if m := rp.message(); m != nil {
		return fmt.Sprintf("a %v (%s frame) %s", m.Type(), kind, clip(string(rp.data)))
	}
	if _, _, ok := rp.callError(); ok {
		return fmt.Sprintf("a CALLERROR (%s frame) %s", kind, clip(string(rp.data)))
	}
	return fmt.Sprintf("a %s frame %s", kind, clip(string(rp.data)))
}

// wantClose fails the test unless the server closed the connection with
// code. what names what was sent, why says why that code.
//
// A close the server sends itself must say why in its reason; 1009 is
// sent by gorilla, with none.
func wantClose(t *testing.T, got reply, code int, what, why string) {
	t.Helper()
	switch {
	case got.closed == nil || got.closed.Code != code:
		t.Errorf("after %s, the server sent %s; want a close frame with status %d (%s).\n%s",
			what, got, code, closeName(code), why)
	case code != websocket.CloseMessageTooBig:
		wantReason(t, got.closed, what)
	}
}

// wantReason fails the test if the close frame ce, sent after what, gives
// no reason.
func wantReason(t *testing.T, ce *websocket.CloseError, what string) {
	t.Helper()
	if ce.Text == "" {
		t.Errorf("after %s, the server closed with status %d (%s) and an empty reason; want the reason said: "+
			"the status names the kind of fault, the reason tells the station's maintainer which one it was, "+
			"and it is all the station will ever hear of it", what, ce.Code, closeName(ce.Code))
	}
}

// closeName names the WebSocket close codes the edge uses (RFC 6455 §7.4).
func closeName(code int) string {
	switch code {
	case websocket.CloseNormalClosure:
		return "normal closure"
	case websocket.CloseGoingAway:
		return "going away"
	case websocket.CloseProtocolError:
		return "protocol error"
	case websocket.CloseUnsupportedData:
		return "unsupported data"
	case websocket.CloseInvalidFramePayloadData:
		return "invalid frame payload data"
	case websocket.ClosePolicyViolation:
		return "policy violation"
	case websocket.CloseMessageTooBig:
		return "message too big"
	case websocket.CloseAbnormalClosure:
		return "closed without a close frame"
	}
	return "?"
}

// basicAuth is the Authorization header of HTTP Basic authentication.
func basicAuth(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

// clip shortens a frame for a message, and quotes one that is not UTF-8.
func clip(s string) string {
	if len(s) > 80 {
		s = s[:77] + "…"
	}
	if !utf8.ValidString(s) {
		return strconv.Quote(s)
	}
	return s
}
