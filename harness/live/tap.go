package live

import (
	"net"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/ocppkata/kata/harness/ocpp"
)

// maxPendingPerConn bounds the calls a connection's tap remembers awaiting
// their answer: a station that floods calls the server never answers must
// not grow the view without end. Calls beyond it still count as waiting;
// only their latency goes unmeasured.
const maxPendingPerConn = 4096

// Listener returns l with every connection it accepts watched by the hub:
// pass it to the step's Serve. Each connection implements wsconn.Tap, so
// that the step's own wsconn code reports to the hub every call the
// station sends and every answer the server gives, whatever the step.
func (h *Hub) Listener(l net.Listener) net.Listener { return &listener{Listener: l, h: h} }

type listener struct {
	net.Listener
	h *Hub
}

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &tapConn{Conn: c, h: l.h, calls: make(map[string]time.Time)}, nil
}

// tapConn is one station connection as the hub watches it: the calls its
// station sent that have not been answered yet, by message id.
type tapConn struct {
	net.Conn
	h *Hub

	mu      sync.Mutex
	station string
	calls   map[string]time.Time // call id → when it was read
	unknown int                  // calls waiting beyond maxPendingPerConn
	closed  bool
}

// FrameRead implements wsconn.Tap.
func (c *tapConn) FrameRead(station string, data []byte) {
	typ, id, action, ok := peek(data)
	if !ok || typ != ocpp.TypeCall || !validID(id) || !utf8.Valid(data) {
		return // a frame the server cannot answer as a call: it waits for nothing
	}
	now := time.Now()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.station = station
	if _, dup := c.calls[id]; !dup && len(c.calls) < maxPendingPerConn {
		c.calls[id] = now
	} else {
		c.unknown++
	}
	c.mu.Unlock()
	status, connector := "", 0
	if string(action) == ocpp.ActionStatusNotification {
		status, connector = statusOf(data)
	}
	c.h.callRead(station, status, connector)
}

// MessageSent implements wsconn.Tap.
func (c *tapConn) MessageSent(station string, m ocpp.Message) {
	var id string
	switch m := m.(type) {
	case *ocpp.CallResult:
		id = m.ID
	case *ocpp.CallError:
		id = m.ID
	default:
		return // the server's own call
	}
	now := time.Now()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	read, ok := c.calls[id]
	switch {
	case ok:
		delete(c.calls, id)
	case c.unknown > 0:
		c.unknown--
	default:
		c.mu.Unlock()
		return // an answer to a frame the tap did not count (a malformed call)
	}
	c.mu.Unlock()
	latency := time.Duration(-1)
	if ok {
		latency = now.Sub(read)
	}
	c.h.answered(station, latency, now)
}

// Close closes the connection: its unanswered calls stop waiting.
func (c *tapConn) Close() error {
	c.mu.Lock()
	gone := 0
	if !c.closed {
		c.closed = true
		gone = len(c.calls) + c.unknown
		c.calls, c.unknown = nil, 0
	}
	station := c.station
	c.mu.Unlock()
	if gone > 0 {
		c.h.abandoned(station, gone)
	}
	return c.Conn.Close()
}

// validID reports whether a call's id is one the server can answer to:
// one that ocpp.Decode refuses gets no answer, so it must not count as
// waiting for one.
func validID(id string) bool {
	return id != "" && utf8.ValidString(id) && utf8.RuneCountInString(id) <= ocpp.MaxIDLength
}

// statusOf returns what a StatusNotification reports, or "" if its
// payload is not one.
func statusOf(data []byte) (string, int) {
	msg, err := ocpp.Decode(data)
	if err != nil {
		return "", 0
	}
	call, ok := msg.(*ocpp.Call)
	if !ok {
		return "", 0
	}
	var req ocpp.StatusNotificationRequest
	if err := call.UnmarshalPayload(&req); err != nil {
		return "", 0
	}
	return string(req.Status), req.ConnectorId
}

// peek reads the start of an OCPP-J frame, [type, "id", "action", …],
// without decoding the rest: the tap sees every frame, and decoding each
// whole a second time would cost the server more than the view is worth.
// It reports false for what it cannot read this way, an escaped string
// among them; such a frame goes uncounted.
func peek(data []byte) (typ ocpp.MessageType, id string, action []byte, ok bool) {
	i := 0
	skip := func() {
		for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
			i++
		}
	}
	expect := func(b byte) bool {
		skip()
		if i < len(data) && data[i] == b {
			i++
			return true
		}
		return false
	}
	str := func() ([]byte, bool) {
		if !expect('"') {
			return nil, false
		}
		start := i
		for i < len(data) && data[i] != '"' {
			if data[i] == '\\' {
				return nil, false
			}
			i++
		}
		if i == len(data) {
			return nil, false
		}
		i++
		return data[start : i-1], true
	}
	if !expect('[') {
		return 0, "", nil, false
	}
	skip()
	if i >= len(data) || data[i] < '0' || data[i] > '9' {
		return 0, "", nil, false
	}
	typ = ocpp.MessageType(data[i] - '0')
	i++
	if !expect(',') {
		return 0, "", nil, false
	}
	rawID, ok := str()
	if !ok {
		return 0, "", nil, false
	}
	id = string(rawID)
	if typ != ocpp.TypeCall {
		return typ, id, nil, true
	}
	if !expect(',') {
		return 0, "", nil, false
	}
	if action, ok = str(); !ok {
		return 0, "", nil, false
	}
	return typ, id, action, true
}
