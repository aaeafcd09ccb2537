package hardening_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	hardening "github.com/ocppkata/kata/exercises/09-hardening"
	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/kit"
	"github.com/ocppkata/kata/harness/memnet"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/harness/wsconn"
	"github.com/ocppkata/kata/stations/station"
)

// Every test attacks the server's edge from a raw WebSocket client on the
// in-memory network, inside a synctest bubble: time is fake, so "the server
// said nothing for 30s" costs nothing and is exact. Each attack happens
// with a neighbour station connected before it, and ends by checking that
// the neighbour is still served and that a fresh station can connect and
// be served: one station's fault must stay its own.

// silence is how long a raw client waits for the server's next frame
// before it calls the server silent. It is below the server's ping interval
// and its call timeout, so that neither can pass for an answer.
const silence = 30 * time.Second

// edge is a server under attack, with the neighbour that must not notice.
type edge struct {
	srv       *hardening.Server
	l         *memnet.Listener
	b         *backend.Backend
	neighbour *station.Station
	next      int // the number of the next station to connect
}

// newEdge starts a server with cfg (a backend that answers at once if cfg
// has none) and boots a neighbour station, CS0001, on it. Call it inside a
// synctest bubble.
func newEdge(t *testing.T, cfg hardening.Config) *edge {
	t.Helper()
	if cfg.Backend == nil {
		cfg.Backend = backend.New(backend.Options{})
	}
	if cfg.Workers == 0 {
		cfg.Workers = 2
	}
	e := &edge{srv: hardening.New(cfg), b: cfg.Backend}
	e.l = kit.Serve(t, e.srv)
	e.neighbour = kit.Boot(t, e.l, 1)
	e.next = 2
	return e
}

// stationID returns the id of a new station, never used before in the test.
func (e *edge) stationID() string {
	id := station.StationID(e.next)
	e.next++
	return id
}

// dial opens a raw WebSocket for a new station, offering the given
// subprotocols (none if nil), as a station would. The connection is closed
// when the test ends.
func (e *edge) dial(t *testing.T, subprotocols []string) (*raw, *http.Response, error) {
	t.Helper()
	id := e.stationID()
	d := websocket.Dialer{NetDialContext: e.l.DialContext, Subprotocols: subprotocols}
	ws, resp, err := d.DialContext(t.Context(), kit.URL+"/"+id, nil)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		return nil, resp, err
	}
	t.Cleanup(func() { ws.Close() })
	return &raw{id: id, ws: ws}, resp, nil
}

// station opens a raw WebSocket that offers ocpp1.6, as a well-behaved
// station does.
func (e *edge) station(t *testing.T) *raw {
	t.Helper()
	r, _, err := e.dial(t, []string{wsconn.Subprotocol})
	if err != nil {
		t.Fatalf("a station offering %s could not connect: %v", wsconn.Subprotocol, err)
	}
	return r
}

// unharmed checks that the neighbour is still served, and that a fresh
// station can connect, boot and be served: what one station did must not
// reach the others.
func (e *edge) unharmed(t *testing.T) {
	t.Helper()
	if err := heartbeat(t, e.neighbour); err != nil {
		t.Errorf("the neighbour station %s, connected before, got no answer to a Heartbeat afterwards: %v\n"+
			"One station's bad frame must cost that station alone, never the others.", e.neighbour.ID(), err)
	}
	id := e.stationID()
	fresh, err := station.Dial(t.Context(), id, kit.Stations(e.l))
	if err != nil {
		t.Errorf("a fresh station, %s, could not connect afterwards: %v\nThe server must go on serving everyone else.", id, err)
		return
	}
	t.Cleanup(func() { fresh.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), silence)
	defer cancel()
	boot := ocpp.BootNotificationRequest{ChargePointVendor: "Kata", ChargePointModel: "Test"}
	if err := fresh.Call(ctx, ocpp.ActionBootNotification, boot, nil); err != nil {
		t.Errorf("a fresh station, %s, connected afterwards got no answer to its BootNotification: %v\n"+
			"The server must go on serving everyone else.", id, err)
		return
	}
	if err := heartbeat(t, fresh); err != nil {
		t.Errorf("a fresh station, %s, connected afterwards got no answer to a Heartbeat: %v", id, err)
	}
}

// heartbeat sends a Heartbeat from st and waits (on fake time) for its answer.
func heartbeat(t *testing.T, st *station.Station) error {
	ctx, cancel := context.WithTimeout(t.Context(), silence)
	defer cancel()
	return st.Call(ctx, ocpp.ActionHeartbeat, ocpp.HeartbeatRequest{}, nil)
}

// raw is a station's WebSocket driven by hand, to send what no station
// should.
type raw struct {
	id string
	ws *websocket.Conn
	// done is set once a read failed (a close, a cut, silence): gorilla's
	// connection reads nothing more after that.
	done bool
}

// send writes one text frame.
func (r *raw) send(t *testing.T, frame string) {
	t.Helper()
	if err := r.ws.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
		t.Fatalf("%s could not send %s: %v", r.id, clip(frame), err)
	}
}

// sendBinary writes one binary frame.
func (r *raw) sendBinary(t *testing.T, frame string) {
	t.Helper()
	if err := r.ws.WriteMessage(websocket.BinaryMessage, []byte(frame)); err != nil {
		t.Fatalf("%s could not send a binary frame: %v", r.id, err)
	}
}

// sendHeader writes, on the bare connection, the header of a text frame of
// size bytes and the first few bytes of its payload, and nothing more: a
// server that reads the frame whole waits for the rest for ever.
func (r *raw) sendHeader(t *testing.T, size uint64) {
	t.Helper()
	head := []byte{0x81} // FIN, text
	switch {             // masked, and the length in as few bytes as it fits (RFC 6455 §5.2)
	case size < 126:
		head = append(head, 0x80|byte(size))
	case size <= 0xffff:
		head = binary.BigEndian.AppendUint16(append(head, 0x80|126), uint16(size))
	default:
		head = binary.BigEndian.AppendUint64(append(head, 0x80|127), size)
	}
	mask := []byte{1, 2, 3, 4}
	head = append(head, mask...)
	for i, c := range []byte(`[2,"big","`) {
		head = append(head, c^mask[i%4])
	}
	if _, err := r.ws.NetConn().Write(head); err != nil {
		t.Fatalf("%s could not write the header of a %d-byte frame: %v", r.id, size, err)
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
func wantClose(t *testing.T, got reply, code int, what, why string) {
	t.Helper()
	if got.closed != nil && got.closed.Code == code {
		return
	}
	t.Errorf("after %s, the server sent %s; want a close frame with status %d (%s).\n%s",
		what, got, code, closeName(code), why)
}

// wantCallError fails the test unless the server answered with a CALLERROR
// for id with code.
func wantCallError(t *testing.T, got reply, id string, code ocpp.ErrorCode, what, why string) {
	t.Helper()
	if gotID, gotCode, ok := got.callError(); ok && gotID == id && gotCode == code {
		return
	}
	t.Errorf("after %s, the server sent %s; want a CALLERROR with id %q and code %s.\n%s",
		what, got, id, code, why)
}

// wantServed sends a Heartbeat on r and fails the test unless it is answered.
// If r can read no more, the failure that ended it was reported already.
func (r *raw) wantServed(t *testing.T, after string) {
	t.Helper()
	if r.done {
		return
	}
	r.send(t, `[2,"hb","Heartbeat",{}]`)
	got := r.await()
	if res, ok := got.message().(*ocpp.CallResult); !ok || res.ID != "hb" {
		t.Errorf("after %s, %s sent a Heartbeat and the server sent %s; want its CALLRESULT: "+
			"the station is still connected, and still to be served", after, r.id, got)
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

// padded returns a Heartbeat CALL of exactly size bytes: JSON allows the
// spaces before its closing bracket.
func padded(id string, size int) string {
	head := `[2,"` + id + `","Heartbeat",{}`
	return head + strings.Repeat(" ", size-len(head)-1) + "]"
}
