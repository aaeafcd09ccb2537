package ocpp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The encoding as it was before the frames and answers were written by
// hand, kept as the reference the hand path must match byte for byte:
// encoding/json over the frame's elements, and over the payload struct.

func legacyMarshalFrame(elems ...any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(elems); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func legacyEncode(m Message) ([]byte, error) {
	var (
		b   []byte
		err error
	)
	switch m := m.(type) {
	case *Call:
		b, err = legacyMarshalFrame(TypeCall, m.ID, m.Action, payloadOrEmpty(m.Payload))
	case *CallResult:
		b, err = legacyMarshalFrame(TypeCallResult, m.ID, payloadOrEmpty(m.Payload))
	case *CallError:
		b, err = legacyMarshalFrame(TypeCallError, m.ID, m.Code, m.Description, payloadOrEmpty(m.Details))
	default:
		return nil, errors.New("legacyEncode: not a frame")
	}
	if err != nil {
		return nil, fmt.Errorf("ocpp: encode frame: %w", err)
	}
	return b, nil
}

// legacyEncodePayload is encodePayload as it was, through encoding/json.
// (DateTime.MarshalJSON, which it calls, is checked against its own old
// version in TestDateTimeMarshalSame.)
func legacyEncodePayload(v any) (json.RawMessage, error) {
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

func legacyDateTimeMarshal(d DateTime) ([]byte, error) {
	t := d.UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		return nil, fmt.Errorf("ocpp: dateTime year %d outside [0,9999]", y)
	}
	return json.Marshal(t.Format(wireLayout))
}

// awkward are strings that JSON must escape, or that encoding/json
// rewrites: quotes, backslashes, every control character, HTML's
// specials (left alone), U+2028 and U+2029, invalid UTF-8 of several
// kinds, and characters beyond ASCII.
var awkward = []string{
	``,
	`plain`,
	`"quoted"`,
	`back\slash`,
	"\x00\x01\x02\x03\x04\x05\x06\x07\b\t\n\x0b\f\r\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f",
	"\x7f del",
	`<script>&amp;</script>`,
	"line\u2028separator\u2029paragraph",
	"\xff",
	"bad \xe2\x80 end",
	"\xe2\x80",
	"surrogate \xed\xa0\x80",
	"overlong \xc0\xaf",
	"é€😀",
	`{"json":"inside"}`,
	`\u0041`,
}

// awkwardTimes have and lack sub-second parts, and come in zones other
// than UTC.
var awkwardTimes = []time.Time{
	time.Time{},
	time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC),
	time.Date(2026, 11, 22, 10, 0, 0, 123000000, time.UTC),
	time.Date(2026, 11, 22, 10, 0, 0, 123456789, time.UTC),
	time.Date(2026, 11, 22, 10, 0, 0, 999999999, time.UTC),
	time.Date(2026, 11, 22, 10, 0, 0, 1, time.UTC),
	time.Date(2026, 11, 22, 11, 30, 5, 500000000, time.FixedZone("CET", 3600)),
	time.Date(2026, 11, 21, 23, 0, 0, 0, time.FixedZone("west", -5*3600-1800)),
	time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
	time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
	time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), // refused
	time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),    // refused
	time.Unix(1, 0).In(time.Local),
}

func TestDateTimeMarshalSame(t *testing.T) {
	for _, tm := range awkwardTimes {
		t.Run(tm.String(), func(t *testing.T) {
			want, wantErr := legacyDateTimeMarshal(DateTime{tm})
			got, err := DateTime{tm}.MarshalJSON()
			requireSameResult(t, want, wantErr, got, err)
		})
	}
}

// responses returns answers of every type the hand path writes, built
// from the awkward strings and times, and some it leaves to encoding/json.
func responses() []any {
	var out []any
	for _, tm := range awkwardTimes {
		d := DateTime{tm}
		out = append(out,
			HeartbeatResponse{CurrentTime: d},
			&HeartbeatResponse{CurrentTime: d},
			BootNotificationResponse{Status: RegistrationAccepted, CurrentTime: d, Interval: 300},
			&BootNotificationResponse{Status: RegistrationPending, CurrentTime: d, Interval: -1},
			AuthorizeResponse{IdTagInfo: IdTagInfo{Status: AuthorizationAccepted, ExpiryDate: &d}},
			StartTransactionResponse{IdTagInfo: IdTagInfo{Status: AuthorizationBlocked, ExpiryDate: &d, ParentIdTag: "P"}, TransactionId: 7},
			StopTransactionResponse{IdTagInfo: &IdTagInfo{Status: AuthorizationExpired, ExpiryDate: &d}},
		)
	}
	for _, s := range awkward {
		out = append(out,
			BootNotificationResponse{Status: RegistrationStatus(s), Interval: 1 << 40},
			AuthorizeResponse{IdTagInfo: IdTagInfo{Status: AuthorizationStatus(s), ParentIdTag: s}},
			&AuthorizeResponse{IdTagInfo: IdTagInfo{Status: AuthorizationInvalid, ParentIdTag: s}},
			StartTransactionResponse{IdTagInfo: IdTagInfo{Status: AuthorizationStatus(s)}, TransactionId: -42},
			&StartTransactionResponse{TransactionId: 0},
			StopTransactionResponse{IdTagInfo: &IdTagInfo{Status: AuthorizationConcurrentTx, ParentIdTag: s}},
			DataTransferResponse{Status: DataTransferStatus(s), Data: s},
			&DataTransferResponse{Status: DataTransferAccepted, Data: s},
		)
	}
	return append(out,
		StopTransactionResponse{}, &StopTransactionResponse{},
		MeterValuesResponse{}, &MeterValuesResponse{},
		StatusNotificationResponse{}, &StatusNotificationResponse{},
		HeartbeatResponse{}, DataTransferResponse{},
		// Left to encoding/json.
		(*HeartbeatResponse)(nil), (*StopTransactionResponse)(nil), (*MeterValuesResponse)(nil),
		nil, struct{}{}, ResetResponse{Status: ResetAccepted}, json.RawMessage(` {"a": 1} `),
		map[string]string{"k": "<v>"}, []int{1}, "x",
	)
}

func TestEncodePayloadSame(t *testing.T) {
	for i, v := range responses() {
		t.Run(fmt.Sprintf("%d %T", i, v), func(t *testing.T) {
			want, wantErr := legacyEncodePayload(v)
			got, err := encodePayload(v)
			requireSameResult(t, want, wantErr, got, err)
		})
	}
}

// frames returns frames of the three types with awkward ids, actions,
// codes, descriptions and payloads, valid and not.
func frames() []Message {
	payloads := []json.RawMessage{
		nil,
		json.RawMessage(`{}`),
		json.RawMessage(` { "a" : [ 1 , 2.5e-3 , true , false , null , "s p a c e" ] , "b" : { } } `),
		json.RawMessage("{\"c\":\"<&>\u2028\",\n\t\"d\":\"\\u2028 \\\" \\\\ \\/\"}"),
		json.RawMessage("{\"bad utf-8\":\"\xff\"}"),
		json.RawMessage(`null`),
		json.RawMessage(`[1]`),
		json.RawMessage(`"s"`),
		json.RawMessage(`{"deep":` + strings.Repeat(`[`, maxFastDepth+5) + strings.Repeat(`]`, maxFastDepth+5) + `}`),
		json.RawMessage(`{`),
		json.RawMessage(`{} {}`),
		json.RawMessage(`{"a":01}`),
		json.RawMessage(`{"a":"` + "\x01" + `"}`),
		json.RawMessage(`{"a":"\x"}`),
		json.RawMessage(`{"a":tru}`),
		json.RawMessage(`{"a":1,}`),
		json.RawMessage(` `),
	}
	var out []Message
	for _, s := range awkward {
		out = append(out,
			&Call{ID: s, Action: s, Payload: json.RawMessage(`{"x":1}`)},
			&CallResult{ID: s},
			&CallError{ID: s, Code: ErrorCode(s), Description: s},
			&CallError{ID: "1", Code: FormationViolation, Description: "field " + s + " is wrong", Details: json.RawMessage(`{"field":"idTag"}`)},
		)
	}
	for _, p := range payloads {
		out = append(out,
			&Call{ID: "19223201", Action: ActionHeartbeat, Payload: p},
			&CallResult{ID: "19223201", Payload: p},
			&CallError{ID: "19223201", Code: GenericError, Details: p},
		)
	}
	return out
}

func TestEncodeSame(t *testing.T) {
	for i, m := range frames() {
		t.Run(fmt.Sprintf("%d %T", i, m), func(t *testing.T) {
			want, wantErr := legacyEncode(m)
			got, err := Encode(m)
			requireSameResult(t, want, wantErr, got, err)
		})
	}
}

// TestEncodeResultSame follows the server's way out: NewCallResult, then
// Encode.
func TestEncodeResultSame(t *testing.T) {
	for i, v := range responses() {
		for _, id := range []string{"19223201", `id "with" quotes`, "é\u2028"} {
			t.Run(fmt.Sprintf("%d %T", i, v), func(t *testing.T) {
				payload, wantErr := legacyEncodePayload(v)
				var want []byte
				if wantErr == nil {
					want, wantErr = legacyEncode(&CallResult{ID: id, Payload: payload})
				}
				var got []byte
				res, err := NewCallResult(id, v)
				if err == nil {
					got, err = Encode(res)
				}
				require.Equal(t, wantErr != nil, err != nil, "errors: legacy %v, now %v", wantErr, err)
				require.Equal(t, string(want), string(got))
			})
		}
	}
}

func TestAppendEncode(t *testing.T) {
	buf := []byte("prefix")
	out, err := AppendEncode(buf, NewCallError("1", NotImplemented, ""))
	require.NoError(t, err)
	require.Equal(t, `prefix[4,"1","NotImplemented","",{}]`, string(out))

	out, err = AppendEncode(buf, &Call{ID: "1", Action: "A", Payload: json.RawMessage(`{`)})
	require.Error(t, err)
	require.Equal(t, "prefix", string(out), "a failed append leaves dst as it was")

	_, err = AppendEncode(buf, (*CallResult)(nil))
	require.Error(t, err)
}

func requireSameResult(t *testing.T, want []byte, wantErr error, got []byte, err error) {
	t.Helper()
	if wantErr != nil {
		require.EqualError(t, err, wantErr.Error())
		require.Empty(t, got)
		return
	}
	require.NoError(t, err)
	require.Equal(t, string(want), string(got))
	require.True(t, json.Valid(got) || !json.Valid(want), "%q is not JSON", got)
}

func FuzzEncodeSame(f *testing.F) {
	for _, s := range awkward {
		f.Add(s, s, []byte(`{"a":"`+s+`"}`), int64(1795428000), int64(123456789))
	}
	for _, m := range frames() {
		if c, ok := m.(*Call); ok {
			f.Add(c.ID, c.Action, []byte(c.Payload), int64(0), int64(0))
		}
	}
	f.Fuzz(func(t *testing.T, id, text string, payload []byte, sec, nsec int64) {
		for _, m := range []Message{
			&Call{ID: id, Action: text, Payload: payload},
			&CallResult{ID: id, Payload: payload},
			&CallError{ID: id, Code: ErrorCode(text), Description: text, Details: payload},
		} {
			want, wantErr := legacyEncode(m)
			got, err := Encode(m)
			requireSameResult(t, want, wantErr, got, err)
		}
		d := DateTime{time.Unix(sec, nsec)}
		for _, v := range []any{
			HeartbeatResponse{CurrentTime: d},
			BootNotificationResponse{Status: RegistrationStatus(text), CurrentTime: d, Interval: int(sec)},
			StartTransactionResponse{IdTagInfo: IdTagInfo{Status: AuthorizationStatus(id), ExpiryDate: &d, ParentIdTag: text}, TransactionId: int(nsec)},
			DataTransferResponse{Status: DataTransferStatus(id), Data: text},
		} {
			want, wantErr := legacyEncodePayload(v)
			got, err := encodePayload(v)
			requireSameResult(t, want, wantErr, got, err)
		}
	})
}
