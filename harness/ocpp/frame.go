// Package ocpp encodes and decodes OCPP 1.6-J: the three frame types
// (CALL, CALLRESULT, CALLERROR), the error codes, and typed payloads for the
// Core profile in both directions.
//
// A frame that is not valid OCPP-J decodes to a *FrameError that says what is
// wrong and, when the frame carried a readable message id, which call it was,
// so the receiver can answer with a CALLERROR. Decoding never panics.
//
// Encoding is deliberately permissive: Encode writes whatever frame it is
// given, so that a test harness can send malformed frames on purpose. The
// checks live in NewCall and NewCallResult, and on the reading side.
package ocpp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"unicode/utf8"
)

// MessageType is the first element of every OCPP-J frame.
type MessageType int

// The three message types of OCPP-J (§4.1.3).
const (
	TypeCall       MessageType = 2
	TypeCallResult MessageType = 3
	TypeCallError  MessageType = 4
)

// String names the type the way the specification does, for logs.
func (t MessageType) String() string {
	switch t {
	case TypeCall:
		return "CALL"
	case TypeCallResult:
		return "CALLRESULT"
	case TypeCallError:
		return "CALLERROR"
	}
	return fmt.Sprintf("MessageType(%d)", int(t))
}

func (t MessageType) known() bool {
	return t == TypeCall || t == TypeCallResult || t == TypeCallError
}

// MaxIDLength is the longest message id OCPP-J allows, in characters.
const MaxIDLength = 36

// Message is a decoded frame: a *Call, a *CallResult or a *CallError.
type Message interface {
	// MessageID is the frame's message id: a CALL's own, or the id of the
	// CALL that a CALLRESULT or CALLERROR answers.
	MessageID() string
	// Type is the frame's message type number.
	Type() MessageType
}

// Call is a request: [2, "<id>", "<Action>", {payload}].
type Call struct {
	ID     string
	Action string
	// Payload is the JSON object; Decode leaves it compacted, and an empty
	// Payload is written as {}.
	Payload json.RawMessage
}

// CallResult is the answer to a Call: [3, "<id>", {payload}].
type CallResult struct {
	ID      string
	Payload json.RawMessage
}

// CallError reports that a Call could not be processed:
// [4, "<id>", "<errorCode>", "<errorDescription>", {errorDetails}].
type CallError struct {
	ID          string
	Code        ErrorCode
	Description string
	// Details is the errorDetails object; empty is written as {}.
	Details json.RawMessage
}

// MessageID returns the call's own id.
func (c *Call) MessageID() string { return c.ID }

// MessageID returns the id of the call this result answers.
func (r *CallResult) MessageID() string { return r.ID }

// MessageID returns the id of the call this error answers.
func (e *CallError) MessageID() string { return e.ID }

// Type returns TypeCall.
func (*Call) Type() MessageType { return TypeCall }

// Type returns TypeCallResult.
func (*CallResult) Type() MessageType { return TypeCallResult }

// Type returns TypeCallError.
func (*CallError) Type() MessageType { return TypeCallError }

// Error makes a received CallError usable as a Go error by whoever made the call.
func (e *CallError) Error() string {
	if e.Description == "" {
		return fmt.Sprintf("ocpp: %s", e.Code)
	}
	return fmt.Sprintf("ocpp: %s: %s", e.Code, e.Description)
}

// NewCall builds a Call whose payload is v encoded as JSON. It refuses ids
// and payloads that a receiver would reject.
func NewCall(id, action string, v any) (*Call, error) {
	if err := checkID(id); err != nil {
		return nil, fmt.Errorf("ocpp: new %s call: %w", action, err)
	}
	if action == "" {
		return nil, errors.New("ocpp: new call: empty action")
	}
	p, err := encodePayload(v)
	if err != nil {
		return nil, fmt.Errorf("ocpp: encode %s payload: %w", action, err)
	}
	return &Call{ID: id, Action: action, Payload: p}, nil
}

// NewCallResult builds the CallResult answering the call with the given id.
func NewCallResult(id string, v any) (*CallResult, error) {
	if err := checkID(id); err != nil {
		return nil, fmt.Errorf("ocpp: new result: %w", err)
	}
	p, err := encodePayload(v)
	if err != nil {
		return nil, fmt.Errorf("ocpp: encode result payload: %w", err)
	}
	return &CallResult{ID: id, Payload: p}, nil
}

// NewCallError builds the CallError answering the call with the given id.
func NewCallError(id string, code ErrorCode, description string) *CallError {
	return &CallError{ID: id, Code: code, Description: description}
}

// UnmarshalPayload decodes the call's payload into v, a pointer, and then
// runs v's Validate method if it has one. A payload that does not fit v is
// reported as a *FrameError carrying the call's id, with the error code
// OCPP prescribes for it; errors.As also finds the underlying *FieldError
// or encoding/json error. Unknown fields are ignored, as most central
// systems do, so that vendor extensions do not break a station.
func (c *Call) UnmarshalPayload(v any) error {
	return unmarshalPayload(TypeCall, c.ID, c.Payload, v)
}

// UnmarshalPayload decodes the result's payload into v, a pointer, the same
// way Call.UnmarshalPayload does, Validate included.
func (r *CallResult) UnmarshalPayload(v any) error {
	return unmarshalPayload(TypeCallResult, r.ID, r.Payload, v)
}

// MarshalJSON encodes the call as an OCPP-J array.
func (c *Call) MarshalJSON() ([]byte, error) { return c.appendJSON(nil) }

// MarshalJSON encodes the result as an OCPP-J array.
func (r *CallResult) MarshalJSON() ([]byte, error) { return r.appendJSON(nil) }

// MarshalJSON encodes the error as an OCPP-J array.
func (e *CallError) MarshalJSON() ([]byte, error) { return e.appendJSON(nil) }

// marshalFrame writes the array without HTML escaping: stations are not
// browsers, and "<" should stay "<" on the wire. The appendJSON methods
// write the same bytes by hand, and leave to it only the payloads they
// cannot check.
func marshalFrame(elems ...any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(elems); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Encode returns the wire form of m. It checks only that the result is
// JSON: ids, actions and payload shapes are written as given.
func Encode(m Message) ([]byte, error) { return AppendEncode(nil, m) }

// AppendEncode appends the wire form of m to dst and returns the extended
// slice, for a caller that reuses its buffer; otherwise it is Encode. On
// error it returns dst as it was.
func AppendEncode(dst []byte, m Message) ([]byte, error) {
	var (
		out []byte
		err error
	)
	switch m := m.(type) {
	case *Call:
		if m == nil {
			return dst, errNilMessage
		}
		out, err = m.appendJSON(dst)
	case *CallResult:
		if m == nil {
			return dst, errNilMessage
		}
		out, err = m.appendJSON(dst)
	case *CallError:
		if m == nil {
			return dst, errNilMessage
		}
		out, err = m.appendJSON(dst)
	case nil:
		return dst, errNilMessage
	default:
		var b []byte
		b, err = json.Marshal(m)
		out = append(dst, b...)
	}
	if err != nil {
		return dst, encodeError(err)
	}
	return out, nil
}

// encodeError wraps an error of AppendEncode. It is a function of its own,
// never inlined, so that the arguments of its call to fmt take no room in
// the frame of AppendEncode: Send encodes on a goroutine of step 09's that
// starts with a small stack, and the stack it needs to encode is the stack
// it might have to grow to, again and again.
//
//go:noinline
func encodeError(err error) error { return fmt.Errorf("ocpp: encode frame: %w", err) }

// errNilMessage is the error for encoding no message at all.
var errNilMessage = errors.New("ocpp: encode frame: nil message")

// FrameError is a frame or payload that is not valid OCPP-J.
type FrameError struct {
	// ID is the offending frame's message id, or "" if it had none that could
	// be read. An id that is empty, longer than MaxIDLength or not valid
	// UTF-8 is no id to answer to, so it is left out too. With an id, the
	// receiver can answer a CALL with a CALLERROR. A frame that is not
	// valid JSON still has one when it begins like a frame: `[2,"id",`.
	ID string
	// BadID is the message id as sent when it is a string but no valid id:
	// empty, or longer than MaxIDLength. A receiver that refuses the call
	// can echo it, so that the sender knows which call was refused.
	BadID string
	// Type is the frame's message type, or 0 if it could not be read.
	Type MessageType
	// Code is the CALLERROR code that fits the problem.
	Code ErrorCode
	// Reason says what is wrong, for people; it suits a CALLERROR's
	// errorDescription.
	Reason string
	// Err is the underlying cause, if any: ErrUnknownMessageType, a
	// *FieldError, or an encoding/json error.
	Err error
}

// Error includes the message id when there is one, to find the call in logs.
func (e *FrameError) Error() string {
	if e.ID == "" {
		return fmt.Sprintf("ocpp: %s: %s", e.Code, e.Reason)
	}
	return fmt.Sprintf("ocpp: message %q: %s: %s", e.ID, e.Code, e.Reason)
}

// Unwrap lets errors.Is(err, ErrUnknownMessageType) pick out frames to
// ignore, and errors.As reach the underlying cause.
func (e *FrameError) Unwrap() error {
	if e.Err != nil {
		return e.Err
	}
	if e.Type != 0 && !e.Type.known() {
		return ErrUnknownMessageType
	}
	return nil
}

// ErrUnknownMessageType is wrapped by the FrameError for a frame whose type
// is a number other than 2, 3 or 4. OCPP-J says to ignore such a frame.
var ErrUnknownMessageType = errors.New("unknown message type")

// Decode parses one OCPP-J frame. Anything that is not a valid frame is a
// *FrameError; use errors.As to read its id and code. Trailing data after
// the array, invalid UTF-8, and elements of the wrong JSON type are all
// FormationViolations. The Message keeps no reference to data.
func Decode(data []byte) (Message, error) {
	// Most frames are read in one pass by hand; decodeSlow, with
	// encoding/json, takes the rest and says what is wrong with a frame.
	if msg, ok := decodeFast(data); ok {
		return msg, nil
	}
	return decodeSlow(data)
}

// decodeSlow is Decode with encoding/json: it handles every frame, and
// words the errors.
func decodeSlow(data []byte) (Message, error) {
	var parts []json.RawMessage
	if err := json.Unmarshal(data, &parts); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return nil, &FrameError{Code: FormationViolation, Reason: "frame is a JSON " + typeErr.Value + ", not an array", Err: err}
		}
		typ, id := recoverHead(data)
		return nil, &FrameError{ID: id, Type: typ, Code: FormationViolation, Reason: "frame is not JSON: " + err.Error(), Err: err}
	}
	if parts == nil {
		return nil, &FrameError{Code: FormationViolation, Reason: "frame is null, not a JSON array"}
	}
	if len(parts) == 0 {
		return nil, &FrameError{Code: FormationViolation, Reason: "frame is an empty array"}
	}

	// Read the id before anything else can fail, so that every later error
	// can name the call it is about.
	var (
		id     string
		badID  string
		idErr  error
		badUTF = !utf8.Valid(data)
	)
	if len(parts) < 2 {
		idErr = errors.New("frame has no message id")
	} else {
		if id, idErr = readID(parts[1]); idErr != nil {
			badID = id
			id = ""
		}
	}
	fail := func(typ MessageType, code ErrorCode, err error, format string, args ...any) error {
		return &FrameError{ID: id, Type: typ, Code: code, Reason: fmt.Sprintf(format, args...), Err: err}
	}

	typ, ok := readType(parts[0])
	if !ok {
		return nil, fail(0, FormationViolation, nil, "message type %s is not an integer", clip(string(parts[0])))
	}
	if !typ.known() {
		// Ignored by the receiver, so nothing more is worth checking.
		return nil, fail(typ, FormationViolation, ErrUnknownMessageType, "%v %d", ErrUnknownMessageType, int(typ))
	}
	if idErr != nil {
		return nil, &FrameError{Type: typ, BadID: badID, Code: FormationViolation, Reason: idErr.Error()}
	}
	if badUTF {
		return nil, fail(typ, FormationViolation, nil, "frame is not valid UTF-8")
	}

	switch typ {
	case TypeCall:
		if len(parts) != 4 {
			return nil, fail(typ, FormationViolation, nil, "CALL has %d elements, want 4", len(parts))
		}
		action, ok := readString(parts[2])
		if !ok || action == "" {
			return nil, fail(typ, FormationViolation, nil, "action %s is not a non-empty string", clip(string(parts[2])))
		}
		payload, ok := readObject(parts[3])
		if !ok {
			return nil, fail(typ, FormationViolation, nil, "%s payload is not a JSON object", action)
		}
		return &Call{ID: id, Action: action, Payload: payload}, nil
	case TypeCallResult:
		if len(parts) != 3 {
			return nil, fail(typ, FormationViolation, nil, "CALLRESULT has %d elements, want 3", len(parts))
		}
		payload, ok := readObject(parts[2])
		if !ok {
			return nil, fail(typ, FormationViolation, nil, "CALLRESULT payload is not a JSON object")
		}
		return &CallResult{ID: id, Payload: payload}, nil
	default: // TypeCallError
		if len(parts) != 5 {
			return nil, fail(typ, FormationViolation, nil, "CALLERROR has %d elements, want 5", len(parts))
		}
		code, ok := readString(parts[2])
		if !ok {
			return nil, fail(typ, FormationViolation, nil, "error code is not a string")
		}
		desc, ok := readString(parts[3])
		if !ok {
			return nil, fail(typ, FormationViolation, nil, "error description is not a string")
		}
		details, ok := readObject(parts[4])
		if !ok {
			return nil, fail(typ, FormationViolation, nil, "error details are not a JSON object")
		}
		return &CallError{ID: id, Code: ParseErrorCode(code), Description: desc, Details: details}, nil
	}
}

// recoverHead reads what it can of the start of a frame that is not valid
// JSON as a whole: its message type, and its message id if the frame
// begins `[2,"id",` (a CALL cut short, say). Either is zero if not there.
func recoverHead(data []byte) (MessageType, string) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return 0, ""
	}
	tok, err := dec.Token()
	n, ok := tok.(json.Number)
	if err != nil || !ok {
		return 0, ""
	}
	typ, ok := readType(json.RawMessage(n))
	if !ok {
		return 0, ""
	}
	tok, err = dec.Token()
	if err != nil {
		return typ, ""
	}
	id, ok := tok.(string)
	if !ok || checkID(id) != nil || !utf8.ValidString(id) || !typ.known() {
		return typ, ""
	}
	// The id's raw bytes must be valid UTF-8 too, or the echo would not
	// match: the decoder replaced invalid bytes.
	if !utf8.Valid(data[:dec.InputOffset()]) {
		return typ, ""
	}
	return typ, id
}

// readType reads a message type: a JSON integer, not null and not 2.0.
func readType(raw json.RawMessage) (MessageType, bool) {
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
		return 0, false
	}
	var n int
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, false
	}
	return MessageType(n), true
}

// readString reads a JSON string; encoding/json would read null as "".
func readString(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// readID reads a message id that can be echoed back: a string that is not
// empty, not too long, and whose bytes were valid UTF-8 (encoding/json would
// silently replace the invalid ones, and the answer would not match).
func readID(raw json.RawMessage) (string, error) {
	id, ok := readString(raw)
	if !ok {
		return "", fmt.Errorf("message id %s is not a string", clip(string(raw)))
	}
	if !utf8.Valid(raw) {
		return "", errors.New("message id is not valid UTF-8")
	}
	return id, checkID(id) // the caller keeps id as BadID if it is not valid
}

// readObject returns the compacted object, so that equal payloads are equal
// bytes whatever whitespace the sender used.
func readObject(raw json.RawMessage) (json.RawMessage, bool) {
	if !isObject(raw) {
		return nil, false
	}
	var buf bytes.Buffer
	buf.Grow(len(raw))
	if err := json.Compact(&buf, raw); err != nil {
		return nil, false
	}
	return buf.Bytes(), true
}

func checkID(id string) error {
	switch n := utf8.RuneCountInString(id); {
	case n == 0:
		return errors.New("message id is empty")
	case n > MaxIDLength:
		return fmt.Errorf("message id has %d characters, at most %d allowed", n, MaxIDLength)
	}
	return nil
}

// emptyObject is a new {} each time: a shared one would be mutable
// package state behind every Payload that holds it.
func emptyObject() json.RawMessage { return json.RawMessage(`{}`) }

func payloadOrEmpty(p json.RawMessage) json.RawMessage {
	if len(p) == 0 {
		return emptyObject()
	}
	return p
}

// encodePayload turns v into a payload object. nil, and nil pointers, mean
// an empty payload.
func encodePayload(v any) (json.RawMessage, error) {
	if raw, ok := encodeResponse(v); ok {
		return raw, nil
	}
	var raw []byte
	switch v := v.(type) {
	case nil:
		return emptyObject(), nil
	case json.RawMessage:
		raw = v
	default:
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return nil, err
		}
		raw = bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return emptyObject(), nil
	}
	if !json.Valid(raw) {
		return nil, errors.New("payload is not valid JSON")
	}
	if !isObject(raw) {
		return nil, fmt.Errorf("payload %s is not a JSON object", clip(string(raw)))
	}
	return raw, nil
}

func isObject(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{'
}

func unmarshalPayload(typ MessageType, id string, raw json.RawMessage, v any) error {
	fail := func(code ErrorCode, err error, reason string) error {
		return &FrameError{ID: id, Type: typ, Code: code, Reason: reason, Err: err}
	}
	raw = payloadOrEmpty(raw)
	if !isObject(raw) {
		return fail(FormationViolation, nil, "payload is not a JSON object")
	}
	// Most payloads are read in one pass by hand; encoding/json takes the
	// rest, and says what is wrong with a payload.
	if !unmarshalFast(raw, v) {
		if err := json.Unmarshal(raw, v); err != nil {
			var (
				invalid  *json.InvalidUnmarshalError
				typeErr  *json.UnmarshalTypeError
				fieldErr *FieldError
			)
			switch {
			case errors.As(err, &invalid):
				// The receiver's bug, not the sender's.
				return fail(InternalError, err, err.Error())
			case errors.As(err, &typeErr):
				return fail(TypeConstraintViolation, err, typeReason(typeErr))
			case errors.As(err, &fieldErr):
				return fail(fieldErr.Code, err, fieldErr.Error())
			default:
				return fail(FormationViolation, err, err.Error())
			}
		}
	}
	if val, ok := v.(interface{ Validate() error }); ok {
		if err := val.Validate(); err != nil {
			var fieldErr *FieldError
			if errors.As(err, &fieldErr) {
				return fail(fieldErr.Code, err, fieldErr.Error())
			}
			return fail(PropertyConstraintViolation, err, err.Error())
		}
	}
	return nil
}

// typeReason describes a type mismatch in OCPP's words rather than Go's.
func typeReason(e *json.UnmarshalTypeError) string {
	want := "a valid " + e.Type.String()
	switch e.Type {
	case reflect.TypeFor[DateTime]():
		want = "an ISO 8601 dateTime"
	default:
		switch e.Type.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			want = "an integer"
		case reflect.Float32, reflect.Float64:
			want = "a number"
		case reflect.String:
			want = "a string"
		case reflect.Bool:
			want = "a boolean"
		case reflect.Slice, reflect.Array:
			want = "an array"
		case reflect.Struct, reflect.Map:
			want = "an object"
		}
	}
	if e.Field == "" {
		return fmt.Sprintf("payload: %s is not %s", e.Value, want)
	}
	return fmt.Sprintf("field %q: %s is not %s", e.Field, e.Value, want)
}

// clip shortens s for an error message: errors go back on the wire as
// errorDescription, and a sender's garbage need not be echoed in full.
func clip(s string) string {
	const limit = 40
	if len(s) <= limit {
		return s
	}
	// Cut on a rune boundary so the message stays valid UTF-8.
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
