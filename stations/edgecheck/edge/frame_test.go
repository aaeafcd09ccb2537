package edge

import (
	"bytes"
	"io"
	"testing"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/ocppkata/kata/harness/memnet"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/harness/wsconn"
)

func TestFrameHeader(t *testing.T) {
	mask := [4]byte{1, 2, 3, 4}
	tests := []struct {
		name   string
		opcode byte
		n      int
		want   []byte
	}{
		{"empty text", opText, 0, []byte{0x81, 0x80, 1, 2, 3, 4}},
		{"short binary", opBinary, 5, []byte{0x82, 0x85, 1, 2, 3, 4}},
		{"longest 7-bit length", opText, 125, []byte{0x81, 0x80 | 125, 1, 2, 3, 4}},
		{"shortest 16-bit length", opText, 126, []byte{0x81, 0x80 | 126, 0, 126, 1, 2, 3, 4}},
		{"longest 16-bit length", opText, 0xffff, []byte{0x81, 0x80 | 126, 0xff, 0xff, 1, 2, 3, 4}},
		{"shortest 64-bit length", opText, 0x10000, []byte{0x81, 0x80 | 127, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4}},
		{"2 MiB", opText, 2 << 20, []byte{0x81, 0x80 | 127, 0, 0, 0, 0, 0, 0x20, 0, 0, 1, 2, 3, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := frameHeader(tt.opcode, tt.n, mask); !bytes.Equal(got, tt.want) {
				t.Errorf("frameHeader(%#x, %d) = % x, want % x", tt.opcode, tt.n, got, tt.want)
			}
		})
	}
}

// TestHandMadeFramesReadByGorilla writes frames made with frameHeader and
// maskBytes, some in pieces, to a real WebSocket server and checks that
// it reads what was meant: the encoding is RFC 6455's, not just
// self-consistent.
func TestHandMadeFramesReadByGorilla(t *testing.T) {
	type frame struct {
		data   []byte
		binary bool
	}
	got := make(chan frame, 1)
	srv := &wsconn.Server{Handle: func(c *wsconn.Conn) {
		for {
			data, binary, err := c.ReadFrame()
			if err != nil {
				return
			}
			got <- frame{data, binary}
		}
	}}
	l := memnet.Listen()
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	d := websocket.Dialer{NetDialContext: l.DialContext, Subprotocols: []string{wsconn.Subprotocol}}
	ws, _, err := d.DialContext(t.Context(), "ws://kata.test/ocpp/EDGE-frames", nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { ws.Close() })

	tests := []struct {
		name   string
		opcode byte
		data   []byte
		pieces int
	}{
		{"text", opText, []byte(`[2,"a","Heartbeat",{}]`), 1},
		{"binary", opBinary, []byte{0, 1, 2, 0xff}, 1},
		{"16-bit length, in pieces", opText, bigCall(300), 3},
		{"64-bit length, in pieces", opText, bigCall(70 << 10), 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mask := [4]byte{0x37, 0xfa, 0x21, 0x3d}
			payload := bytes.Clone(tt.data)
			if _, err := ws.NetConn().Write(frameHeader(tt.opcode, len(payload), mask)); err != nil {
				t.Fatalf("write header: %v", err)
			}
			size := (len(payload) + tt.pieces - 1) / tt.pieces
			for off := 0; off < len(payload); off += size {
				piece := payload[off:min(off+size, len(payload))]
				maskBytes(mask, off, piece)
				if _, err := ws.NetConn().Write(piece); err != nil {
					t.Fatalf("write piece at %d: %v", off, err)
				}
			}
			f := <-got
			if !bytes.Equal(f.data, tt.data) || f.binary != (tt.opcode == opBinary) {
				t.Errorf("the server read %d bytes (binary %v), want the %d sent (binary %v)",
					len(f.data), f.binary, len(tt.data), tt.opcode == opBinary)
			}
		})
	}
}

func TestBigCall(t *testing.T) {
	b := bigCall(bigSize)
	if len(b) != bigSize {
		t.Fatalf("bigCall(%d) has %d bytes", bigSize, len(b))
	}
	if _, err := ocpp.Decode(b); err != nil {
		t.Errorf("bigCall is not a valid CALL: %v", err)
	}
}

func TestOverLongValues(t *testing.T) {
	if n := utf8.RuneCountInString(longID); n != ocpp.MaxIDLength+1 {
		t.Errorf("longID has %d characters, want %d", n, ocpp.MaxIDLength+1)
	}
	if n := utf8.RuneCountInString(longVendor); n != 21 {
		t.Errorf("longVendor has %d characters, want 21 (chargePointVendor allows 20)", n)
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		kind int
		data string
		err  error
		want Reply
	}{
		{"close frame", 0, "", &websocket.CloseError{Code: 1002, Text: "no"}, Reply{Kind: Closed, Code: 1002, Reason: "no"}},
		{"close without status", 0, "", &websocket.CloseError{Code: websocket.CloseNoStatusReceived}, Reply{Kind: Closed, Code: 1005}},
		{"end without close frame", 0, "", &websocket.CloseError{Code: websocket.CloseAbnormalClosure, Text: "unexpected EOF"},
			Reply{Kind: Dropped, Reason: "websocket: close 1006 (abnormal closure): unexpected EOF"}},
		{"read error", 0, "", io.EOF, Reply{Kind: Dropped, Reason: "EOF"}},
		{"CALLRESULT", websocket.TextMessage, `[3,"hb-1",{"currentTime":"2026-01-01T00:00:00Z"}]`, nil, Reply{Kind: CallResult, ID: "hb-1"}},
		{"CALLERROR", websocket.TextMessage, `[4,"id1","FormationViolation","short",{}]`, nil,
			Reply{Kind: CallError, ID: "id1", ErrorCode: ocpp.FormationViolation, Reason: "short"}},
		{"CALLERROR echoing a long id", websocket.TextMessage, `[4,"` + longID + `","FormationViolation","too long",{}]`, nil,
			Reply{Kind: CallError, ID: longID, ErrorCode: ocpp.FormationViolation, Reason: "too long"}},
		{"CALL from the server", websocket.TextMessage, `[2,"s1","Reset",{"type":"Soft"}]`, nil, Reply{Kind: ServerCall, ID: "s1"}},
		{"not OCPP-J", websocket.TextMessage, `hello`, nil, Reply{Kind: Unreadable, Frame: "hello"}},
		{"binary", websocket.BinaryMessage, `[3,"a",{}]`, nil, Reply{Kind: Unreadable, Frame: `binary: [3,"a",{}]`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := classify(tt.kind, []byte(tt.data), tt.err); got != tt.want {
				t.Errorf("classify(%q, %v) = %+v, want %+v", tt.data, tt.err, got, tt.want)
			}
		})
	}
}

func TestReplyString(t *testing.T) {
	tests := []struct {
		r    Reply
		want string
	}{
		{Reply{Kind: Silence}, "silence"},
		{Reply{Kind: Closed, Code: 1009}, "close 1009"},
		{Reply{Kind: Closed, Code: 1002, Reason: "bad"}, `close 1002 "bad"`},
		{Reply{Kind: Dropped, Reason: "EOF"}, "dropped without a close frame"},
		{Reply{Kind: CallResult, ID: "a"}, "CALLRESULT a"},
		{Reply{Kind: CallError, ID: "a", ErrorCode: ocpp.NotImplemented}, "CALLERROR NotImplemented a"},
	}
	for _, tt := range tests {
		if got := tt.r.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.r, got, tt.want)
		}
	}
}

func TestExpectation(t *testing.T) {
	closed := func(code int) Reply { return Reply{Kind: Closed, Code: code} }
	callErr := func(id string, code ocpp.ErrorCode) Reply { return Reply{Kind: CallError, ID: id, ErrorCode: code} }
	notJSON := expectation{close: 1002, callError: true}
	tests := []struct {
		name string
		e    expectation
		r    Reply
		want bool
	}{
		{"the close wanted", wantClose(1009), closed(1009), true},
		{"another close", wantClose(1009), closed(1002), false},
		{"silence is never right", wantClose(1009), Reply{Kind: Silence}, false},
		{"dropped is no close frame", wantClose(1009), Reply{Kind: Dropped}, false},
		{"an answer instead of a close", wantClose(1003), Reply{Kind: CallResult, ID: "bin1"}, false},
		{"the CALLERROR wanted", wantCallError("id1", ocpp.FormationViolation), callErr("id1", ocpp.FormationViolation), true},
		{"another id", wantCallError("id1", ocpp.FormationViolation), callErr("id9", ocpp.FormationViolation), false},
		{"another code", wantCallError("id1", ocpp.FormationViolation), callErr("id1", ocpp.GenericError), false},
		{"any code", wantCallError("id2", ""), callErr("id2", ocpp.ProtocolError), true},
		{"a close where a CALLERROR is wanted", wantCallError("id2", ""), closed(1002), false},
		{"close or CALLERROR: close", notJSON, closed(1002), true},
		{"close or CALLERROR: CALLERROR", notJSON, callErr("", ocpp.FormationViolation), true},
		{"close or CALLERROR: silence", notJSON, Reply{Kind: Silence}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.e.met(tt.r); got != tt.want {
				t.Errorf("expectation %q met by %v: %v, want %v", tt.e, tt.r, got, tt.want)
			}
		})
	}
	for e, want := range map[expectation]string{
		wantClose(1003): "close 1003",
		wantCallError("id1", ocpp.FormationViolation): "CALLERROR FormationViolation id1",
		wantCallError("id2", ""):                      "CALLERROR id2",
		notJSON:                                       "close 1002 or a CALLERROR",
	} {
		if got := e.String(); got != want {
			t.Errorf("expectation %+v says %q, want %q", e, got, want)
		}
	}
}

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		`[2,"a"]`:       `[2,"a"]`,
		"note:\xff\xfe": `note:\xff\xfe`,
		"tab\there":     `tab\x09here`,
		"…✓":            "…✓",
	} {
		if got := Printable(in); got != want {
			t.Errorf("Printable(%q) = %q, want %q", in, got, want)
		}
	}
}
