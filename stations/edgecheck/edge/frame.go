package edge

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/ocppkata/kata/harness/ocpp"
)

// WebSocket opcodes (RFC 6455 §5.2) of the data frames the check writes by
// hand.
const (
	opText   byte = 0x1
	opBinary byte = 0x2
)

// frameHeader returns the header of a final client frame (RFC 6455 §5.2)
// with the given opcode that announces a payload of n bytes, masked with
// mask: FIN and opcode, the length in the shortest of its three forms, and
// the masking key. The payload that follows must be masked with maskBytes.
func frameHeader(opcode byte, n int, mask [4]byte) []byte {
	h := make([]byte, 0, 14)
	h = append(h, 0x80|opcode)
	switch {
	case n < 126:
		h = append(h, 0x80|byte(n))
	case n <= 0xffff:
		h = append(h, 0x80|126)
		h = binary.BigEndian.AppendUint16(h, uint16(n))
	default:
		h = append(h, 0x80|127)
		h = binary.BigEndian.AppendUint64(h, uint64(n))
	}
	return append(h, mask[:]...)
}

// maskBytes masks p in place as the bytes of a payload that start at
// offset off: a client masks every byte it sends (RFC 6455 §5.3), and a
// payload written in pieces must keep counting from where the last piece
// ended. Masking twice unmasks.
func maskBytes(mask [4]byte, off int, p []byte) {
	for i := range p {
		p[i] ^= mask[(off+i)%4]
	}
}

// A ReplyKind says what the server did after the check sent something.
type ReplyKind int

// The kinds of reply.
const (
	// Silence: nothing within the case's timeout.
	Silence ReplyKind = iota
	// Closed: a close frame, with a status code and a reason.
	Closed
	// Dropped: the connection ended without a close frame.
	Dropped
	// CallResult: a CALLRESULT.
	CallResult
	// CallError: a CALLERROR.
	CallError
	// ServerCall: a CALL of the server's own.
	ServerCall
	// Unreadable: a frame that is not OCPP-J, or a binary one.
	Unreadable
)

// A Reply is one thing that came back from the server.
type Reply struct {
	Kind ReplyKind
	// Code is a close frame's status code.
	Code int
	// Reason is a close frame's reason, or a CALLERROR's description, or
	// why the connection was dropped.
	Reason string
	// ID is a CALLRESULT's, CALLERROR's or CALL's message id.
	ID string
	// ErrorCode is a CALLERROR's error code.
	ErrorCode ocpp.ErrorCode
	// Frame is an unreadable frame, clipped.
	Frame string
}

// classify turns what websocket.Conn.ReadMessage returned into a Reply. A
// close frame is Closed; gorilla's code 1006, which it makes up when the
// connection ends without one, is Dropped, as is any other read error.
func classify(kind int, data []byte, err error) Reply {
	if err != nil {
		var ce *websocket.CloseError
		if errors.As(err, &ce) && ce.Code != websocket.CloseAbnormalClosure {
			return Reply{Kind: Closed, Code: ce.Code, Reason: ce.Text}
		}
		return Reply{Kind: Dropped, Reason: err.Error()}
	}
	if kind == websocket.BinaryMessage {
		return Reply{Kind: Unreadable, Frame: "binary: " + Clip(string(data), 40)}
	}
	msg, err := ocpp.Decode(data)
	if err != nil {
		if r, ok := longIDError(data, err); ok {
			return r
		}
		return Reply{Kind: Unreadable, Frame: Clip(string(data), 40)}
	}
	switch m := msg.(type) {
	case *ocpp.CallResult:
		return Reply{Kind: CallResult, ID: m.ID}
	case *ocpp.CallError:
		return Reply{Kind: CallError, ID: m.ID, ErrorCode: m.Code, Reason: m.Description}
	default:
		return Reply{Kind: ServerCall, ID: msg.MessageID()}
	}
}

// longIDError reads a CALLERROR whose message id is too long for
// ocpp.Decode: the answer a server owes a CALL whose id is too long is a
// CALLERROR that echoes that id, so that the sender knows which call failed.
func longIDError(data []byte, err error) (Reply, bool) {
	var fe *ocpp.FrameError
	if !errors.As(err, &fe) || fe.Type != ocpp.TypeCallError || fe.BadID == "" {
		return Reply{}, false
	}
	var parts []json.RawMessage
	var code, desc string
	if json.Unmarshal(data, &parts) != nil || len(parts) != 5 ||
		json.Unmarshal(parts[2], &code) != nil || json.Unmarshal(parts[3], &desc) != nil {
		return Reply{}, false
	}
	return Reply{Kind: CallError, ID: fe.BadID, ErrorCode: ocpp.ParseErrorCode(code), Reason: desc}, true
}

// final reports whether nothing can come after r: the connection is over.
func (r Reply) final() bool { return r.Kind == Closed || r.Kind == Dropped }

// String says what came back, in a few words.
func (r Reply) String() string {
	switch r.Kind {
	case Silence:
		return "silence"
	case Closed:
		s := fmt.Sprintf("close %d", r.Code)
		if r.Reason != "" {
			s += fmt.Sprintf(" %q", Clip(r.Reason, 40))
		}
		return s
	case Dropped:
		return "dropped without a close frame"
	case CallResult:
		return "CALLRESULT " + Clip(r.ID, 40)
	case CallError:
		return fmt.Sprintf("CALLERROR %s %s", r.ErrorCode, Clip(r.ID, 40))
	case ServerCall:
		return "a CALL of the server's own " + Clip(r.ID, 40)
	default:
		return fmt.Sprintf("unreadable frame %q", r.Frame)
	}
}

// An expectation is what OCPP-J 1.6 and RFC 6455 call for in answer to a
// frame: a close frame with a given status, a CALLERROR, or either.
type expectation struct {
	// close is the status code of a close frame that meets it; 0: none does.
	close int
	// callError is whether a CALLERROR meets it: one with message id id
	// and error code code, each "" for any.
	callError bool
	id        string
	code      ocpp.ErrorCode
}

// wantClose expects a close frame with the given status code.
func wantClose(code int) expectation { return expectation{close: code} }

// wantCallError expects a CALLERROR with the given id and, unless "", code.
func wantCallError(id string, code ocpp.ErrorCode) expectation {
	return expectation{callError: true, id: id, code: code}
}

// met reports whether r is what e expects.
func (e expectation) met(r Reply) bool {
	switch r.Kind {
	case Closed:
		return e.close != 0 && r.Code == e.close
	case CallError:
		return e.callError && (e.id == "" || r.ID == e.id) && (e.code == "" || r.ErrorCode == e.code)
	}
	return false
}

// String says what e expects, in the words of the output's "want" column.
func (e expectation) String() string {
	var parts []string
	if e.close != 0 {
		parts = append(parts, fmt.Sprintf("close %d", e.close))
	}
	if e.callError {
		s := "CALLERROR"
		if e.code != "" {
			s += " " + string(e.code)
		}
		if e.id != "" {
			s += " " + Clip(e.id, 40)
		} else if len(parts) > 0 {
			s = "a " + s
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " or ")
}

// Clip shortens s to at most n runes, marking the cut with "…", so that a
// long id or reason does not break a printer's columns.
func Clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// Printable makes s fit for a terminal: invalid UTF-8 and control
// characters are written as Go escapes, so that a frame sent on purpose
// with bad bytes shows what it held. Result's Sent and Got are raw; a
// printer passes them through Printable.
func Printable(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
