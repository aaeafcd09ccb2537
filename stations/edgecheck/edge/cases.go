package edge

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gorilla/websocket"

	"github.com/ocppkata/kata/harness/ocpp"
)

// longID is a message id one character over OCPP-J's 36, and longVendor a
// chargePointVendor one over its 20.
const (
	longID     = "id-37-chars-0123456789-0123456789-abc"
	longVendor = "EdgeCheckVendor-21chr"
)

// cases returns the attacks, in the order they run: the handshake, then
// frames the edge must refuse, frames it must answer, a station that
// connects twice, and HTTP Basic auth.
func cases() []checkCase {
	notJSON := expectation{close: websocket.CloseProtocolError, callError: true}
	return []checkCase{
		subprotocolCase("no subprotocol", "noproto", nil),
		subprotocolCase("only ocpp2.0.1", "proto201", []string{"ocpp2.0.1"}),
		{
			name: "ocpp2.0.1, ocpp1.6", slug: "protoboth",
			sent: "Sec-WebSocket-Protocol: ocpp2.0.1, ocpp1.6",
			want: "101 with ocpp1.6 · Heartbeat answered",
			run:  agreed,
		},
		{
			name: "2 MiB text frame", slug: "big",
			sent: fmt.Sprintf("frame header for 2 MiB + %d KiB of it", bigSent>>10),
			want: "close 1009 without waiting for the rest",
			run:  bigFrame,
		},
		{
			name: "binary frame", slug: "binary",
			sent: `binary [2,"bin1","Heartbeat",{}]`,
			want: wantClose(websocket.CloseUnsupportedData).String(),
			run: func(ctx context.Context, s *session) (string, bool) {
				return sendAndJudge(ctx, s, websocket.BinaryMessage, `[2,"bin1","Heartbeat",{}]`, wantClose(websocket.CloseUnsupportedData))
			},
		},
		{
			name: "invalid UTF-8", slug: "utf8",
			sent: `[2,"utf1","Heartbeat",{"note":"\xff"}]`,
			want: wantClose(websocket.CloseInvalidFramePayloadData).String(),
			run: func(ctx context.Context, s *session) (string, bool) {
				return sendAndJudge(ctx, s, websocket.TextMessage, "[2,\"utf1\",\"Heartbeat\",{\"note\":\"\xff\"}]", wantClose(websocket.CloseInvalidFramePayloadData))
			},
		},
		frameCase("not JSON", "hello", `hello`, notJSON),
		frameCase("JSON object", "object", `{"a":1}`, notJSON),
		frameCase("empty array", "empty", `[]`, notJSON),
		frameCase("CALL of 3 elements", "short", `[2,"id1","Heartbeat"]`, wantCallError("id1", ocpp.FormationViolation)),
		frameCase("message type 5", "type5", `[5,"id2",{}]`, wantCallError("id2", "")),
		frameCase("JSON cut short", "cut", `[2,"id3","Heartbeat",{]`, wantCallError("id3", "")),
		frameCase("37-character id", "longid", `[2,"`+longID+`","Heartbeat",{}]`, wantCallError(longID, "")),
		frameCase("unknown action", "action", `[2,"act1","FlyToTheMoon",{}]`, wantCallError("act1", ocpp.NotImplemented)),
		frameCase("required field missing", "missing",
			`[2,"boot1","BootNotification",{"chargePointVendor":"EdgeCheck"}]`,
			wantCallError("boot1", ocpp.OccurenceConstraintViolation)),
		frameCase("number for a string", "type",
			`[2,"boot2","BootNotification",{"chargePointVendor":42,"chargePointModel":"EC-1"}]`,
			wantCallError("boot2", ocpp.TypeConstraintViolation)),
		frameCase("21-character vendor", "length",
			`[2,"boot3","BootNotification",{"chargePointVendor":"`+longVendor+`","chargePointModel":"EC-1"}]`,
			wantCallError("boot3", ocpp.PropertyConstraintViolation)),
		frameCase(`status "Flying"`, "enum",
			`[2,"stat1","StatusNotification",{"connectorId":1,"errorCode":"NoError","status":"Flying"}]`,
			wantCallError("stat1", ocpp.PropertyConstraintViolation)),
		{
			name: "same station id twice", slug: "twice",
			sent: "a second connection as a connected station",
			want: "one kept, the other closed or refused",
			run:  twice,
		},
		{
			name: "auth: right key", slug: "authright", auth: true,
			sent: "Basic {station}:{its key}",
			want: "101",
			run: func(ctx context.Context, s *session) (string, bool) {
				return authCase(ctx, s, s.key, http.StatusSwitchingProtocols)
			},
		},
		{
			name: "auth: wrong key", slug: "authwrong", auth: true,
			sent: "Basic {station}:{another key}",
			want: "401",
			run: func(ctx context.Context, s *session) (string, bool) {
				wrong := "wrong-" + *s.key
				return authCase(ctx, s, &wrong, http.StatusUnauthorized)
			},
		},
		{
			name: "auth: no credentials", slug: "authnone", auth: true,
			sent: "no Authorization header",
			want: "401",
			run: func(ctx context.Context, s *session) (string, bool) {
				return authCase(ctx, s, nil, http.StatusUnauthorized)
			},
		},
	}
}

// handshakeGot says how a handshake failed.
func handshakeGot(err error) string {
	var he *handshakeError
	if errors.As(err, &he) {
		return he.Error()
	}
	return err.Error()
}

// judge waits for the server's answer to what was just sent on c: it
// must be what want expects, and if it did not end the connection, a
// Heartbeat sent after it must still be answered.
func judge(c *conn, want expectation) (string, bool) {
	r := c.next()
	got, ok := r.String(), want.met(r)
	if !r.final() {
		served, hb := c.served()
		got += " · " + hb
		ok = ok && served
	}
	return got, ok
}

// sendAndJudge sends one frame of the given type on a fresh connection
// and judges the answer.
func sendAndJudge(ctx context.Context, s *session, kind int, frame string, want expectation) (string, bool) {
	c, err := s.connect(ctx)
	if err != nil {
		return handshakeGot(err), false
	}
	defer c.close()
	if err := c.send(kind, []byte(frame)); err != nil {
		return err.Error(), false
	}
	return judge(c, want)
}

// frameCase sends one text frame and expects want.
func frameCase(name, slug, frame string, want expectation) checkCase {
	return checkCase{
		name: name, slug: slug, sent: frame, want: want.String(),
		run: func(ctx context.Context, s *session) (string, bool) {
			return sendAndJudge(ctx, s, websocket.TextMessage, frame, want)
		},
	}
}

// subprotocolCase offers protocols that do not include ocpp1.6 (none if
// nil): OCPP-J 1.6 §3 asks the server to complete the handshake without
// the Sec-WebSocket-Protocol header and then close at once, before
// anything is sent.
func subprotocolCase(name, slug string, protocols []string) checkCase {
	sent := "no Sec-WebSocket-Protocol"
	if protocols != nil {
		sent = "Sec-WebSocket-Protocol: " + strings.Join(protocols, ", ")
	}
	return checkCase{
		name: name, slug: slug, sent: sent,
		want: "101 without the header · close 1002",
		run: func(ctx context.Context, s *session) (string, bool) {
			c, err := s.open(ctx, s.station, protocols, s.key)
			if err != nil {
				return handshakeGot(err), false
			}
			defer c.close()
			head := "101 without the header"
			if p := c.Protocol(); p != "" {
				head = "101 with " + p
			}
			r := c.next()
			got := head + " · " + r.String()
			ok := c.Protocol() == "" && r.Kind == Closed && r.Code == websocket.CloseProtocolError
			if !r.final() {
				// Say whether the station is served anyway.
				_, hb := c.served()
				got += " · " + hb
			}
			return got, ok
		},
	}
}

// agreed offers ocpp1.6 among others: the server must pick it and serve
// the station.
func agreed(ctx context.Context, s *session) (string, bool) {
	c, err := s.open(ctx, s.station, []string{"ocpp2.0.1", "ocpp1.6"}, s.key)
	if err != nil {
		return handshakeGot(err), false
	}
	defer c.close()
	got := "101 with " + c.Protocol()
	if c.Protocol() == "" {
		got = "101 without the header"
	}
	served, hb := c.served()
	return got + " · " + hb, served && c.Protocol() == "ocpp1.6"
}

// The big frame: its size, and how much of it the check sends before it
// waits for the server's close.
const (
	bigSize = 2 << 20
	bigSent = 1 << 10
)

// bigCall returns a CALL of exactly n bytes, a DataTransfer padded out.
func bigCall(n int) []byte {
	head, tail := `[2,"big1","DataTransfer",{"vendorId":"EdgeCheck","data":"`, `"}]`
	pad := n - len(head) - len(tail)
	return []byte(head + strings.Repeat("x", max(pad, 0)) + tail)
}

// bigFrame announces a 2 MiB text frame and sends only its first KiB: a
// server with a frame limit refuses it from its header, with close 1009
// (RFC 6455 §7.4.1), and never reads the rest into memory. A server that
// says nothing is waiting for the rest: the check then sends it, to see
// what it does with it.
func bigFrame(ctx context.Context, s *session) (string, bool) {
	c, err := s.connect(ctx)
	if err != nil {
		return handshakeGot(err), false
	}
	defer c.close()
	var mask [4]byte
	rand.Read(mask[:])
	payload := bigCall(bigSize)
	maskBytes(mask, 0, payload)
	// A server may refuse the frame before it has read all of this first
	// KiB, and close: over a connection without a buffer (an in-memory
	// pipe) the write then fails, and the close frame says why.
	err = c.writeRaw(append(frameHeader(opText, len(payload), mask), payload[:bigSent]...))
	r := c.next()
	if err != nil && !r.final() {
		return err.Error(), false
	}
	switch {
	case r.Kind == Closed && r.Code == websocket.CloseMessageTooBig:
		return fmt.Sprintf("%v after %d KiB: did not wait for the rest", r, bigSent>>10), true
	case r.final():
		return fmt.Sprintf("%v after %d KiB", r, bigSent>>10), false
	}
	got := fmt.Sprintf("%v after %d KiB: waited for the rest", r, bigSent>>10)
	if err := c.writeRaw(payload[bigSent:]); err != nil {
		return got + " · sending it: " + err.Error(), false
	}
	return got + " · after it: " + c.next().String(), false
}

// twice connects as a station that is already connected. OCPP-J 1.6 lets
// the server choose which connection to keep, but it must keep one: both
// would leave two sockets answering for one station.
func twice(ctx context.Context, s *session) (string, bool) {
	older, err := s.connect(ctx)
	if err != nil {
		return handshakeGot(err), false
	}
	defer older.close()
	if ok, hb := older.served(); !ok {
		return "the first connection was not served: " + hb, false
	}
	var newerKept bool
	newer := ""
	if c, err := s.connect(ctx); err != nil {
		newer = "refused, " + handshakeGot(err)
	} else {
		defer c.close()
		newerKept, newer = kept(c)
	}
	olderKept, older2 := kept(older)
	policy := "neither kept"
	switch {
	case olderKept && newerKept:
		policy = "both kept"
	case olderKept:
		policy = "older kept"
	case newerKept:
		policy = "newer kept"
	}
	return fmt.Sprintf("%s (older: %s; newer: %s)", policy, older2, newer), olderKept != newerKept
}

// kept reports whether c still serves its station, and says what
// happened to it.
func kept(c *conn) (bool, string) {
	r, id := c.heartbeat()
	if r.Kind == CallResult && r.ID == id {
		return true, "served"
	}
	return false, r.String()
}

// authCase connects with the given password (none if nil) and expects
// the handshake to end in status want.
func authCase(ctx context.Context, s *session, password *string, want int) (string, bool) {
	c, err := s.open(ctx, s.station, []string{"ocpp1.6"}, password)
	if err == nil {
		c.close()
		return "101", want == http.StatusSwitchingProtocols
	}
	var he *handshakeError
	if !errors.As(err, &he) || he.status == 0 {
		return handshakeGot(err), false
	}
	got := he.Error()
	if he.status == http.StatusUnauthorized && he.auth == "" {
		got += " without WWW-Authenticate"
	}
	return got, he.status == want
}
