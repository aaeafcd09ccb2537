package ocpp

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		msg  Message
	}{
		{"call", &Call{ID: "19223201", Action: ActionHeartbeat, Payload: json.RawMessage(`{}`)}},
		{"call with payload", &Call{ID: "a", Action: ActionAuthorize, Payload: json.RawMessage(`{"idTag":"<&>"}`)}},
		{"result", &CallResult{ID: "19223201", Payload: json.RawMessage(`{"currentTime":"2026-11-22T10:00:00.000Z"}`)}},
		{"error", &CallError{ID: "x-1", Code: PropertyConstraintViolation, Description: "bad", Details: json.RawMessage(`{"field":"idTag"}`)}},
		{"error without details", &CallError{ID: strings.Repeat("i", MaxIDLength), Code: GenericError, Details: json.RawMessage(`{}`)}},
		{"unicode id", &Call{ID: strings.Repeat("é", MaxIDLength), Action: "DataTransfer", Payload: json.RawMessage(`{"vendorId":"ü"}`)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Encode(tt.msg)
			require.NoError(t, err)
			got, err := Decode(b)
			require.NoError(t, err)
			require.Equal(t, tt.msg, got)
			require.Equal(t, tt.msg.MessageID(), got.MessageID())
			require.Equal(t, tt.msg.Type(), got.Type())
		})
	}
}

func TestGoldenWire(t *testing.T) {
	boot, err := NewCall("19223201", ActionBootNotification, BootNotificationRequest{
		ChargePointVendor: "VendorX", ChargePointModel: "SingleSocketCharger",
	})
	require.NoError(t, err)
	result, err := NewCallResult("19223201", BootNotificationResponse{
		Status:      RegistrationAccepted,
		CurrentTime: DateTime{time.Date(2026, 11, 22, 11, 0, 0, 0, time.FixedZone("CET", 3600))},
		Interval:    300,
	})
	require.NoError(t, err)
	empty, err := NewCallResult("2", nil)
	require.NoError(t, err)
	tests := []struct {
		name string
		msg  Message
		wire string
	}{
		{"boot notification", boot,
			`[2,"19223201","BootNotification",{"chargePointVendor":"VendorX","chargePointModel":"SingleSocketCharger"}]`},
		{"boot result", result,
			`[3,"19223201",{"status":"Accepted","currentTime":"2026-11-22T10:00:00.000Z","interval":300}]`},
		{"empty result", empty, `[3,"2",{}]`},
		{"call error", NewCallError("7", NotImplemented, ""), `[4,"7","NotImplemented","",{}]`},
		{"no html escaping", &Call{ID: "1", Action: "DataTransfer", Payload: json.RawMessage(`{"data": "<a>&</a>"}`)},
			`[2,"1","DataTransfer",{"data":"<a>&</a>"}]`},
		{"empty payload", &Call{ID: "1", Action: ActionHeartbeat}, `[2,"1","Heartbeat",{}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Encode(tt.msg)
			require.NoError(t, err)
			require.Equal(t, tt.wire, string(b))
		})
	}
}

func TestEncodeErrors(t *testing.T) {
	tests := []struct {
		name string
		msg  Message
	}{
		{"nil", nil},
		{"nil call", (*Call)(nil)},
		{"nil result", (*CallResult)(nil)},
		{"nil error", (*CallError)(nil)},
		{"invalid payload", &Call{ID: "1", Action: "A", Payload: json.RawMessage(`{`)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Encode(tt.msg)
			require.Error(t, err)
		})
	}
}

// Encode writes what it is given, so a harness can send broken frames.
func TestEncodePermissive(t *testing.T) {
	b, err := Encode(&Call{ID: strings.Repeat("x", 40), Action: "", Payload: json.RawMessage(`[1]`)})
	require.NoError(t, err)
	require.Equal(t, `[2,"`+strings.Repeat("x", 40)+`","",[1]]`, string(b))
}

func TestNewCallErrors(t *testing.T) {
	tests := []struct {
		name   string
		id     string
		action string
		v      any
	}{
		{"empty id", "", "Heartbeat", nil},
		{"long id", strings.Repeat("1", MaxIDLength+1), "Heartbeat", nil},
		{"empty action", "1", "", nil},
		{"array payload", "1", "Heartbeat", []int{1}},
		{"string payload", "1", "Heartbeat", "x"},
		{"raw non-object", "1", "Heartbeat", json.RawMessage(`[]`)},
		{"raw invalid", "1", "Heartbeat", json.RawMessage(`{`)},
		{"unencodable", "1", "Heartbeat", map[string]any{"f": func() {}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewCall(tt.id, tt.action, tt.v)
			require.Error(t, err)
		})
	}
	t.Run("result with empty id", func(t *testing.T) {
		_, err := NewCallResult("", nil)
		require.Error(t, err)
	})
	t.Run("nil pointer payload is empty", func(t *testing.T) {
		c, err := NewCall("1", ActionHeartbeat, (*HeartbeatRequest)(nil))
		require.NoError(t, err)
		require.JSONEq(t, `{}`, string(c.Payload))
	})
}

func TestDecodeMalformed(t *testing.T) {
	long := strings.Repeat("x", MaxIDLength+1)
	tests := []struct {
		name    string
		wire    string
		id      string
		typ     MessageType
		code    ErrorCode
		unknown bool
	}{
		{"empty input", ``, "", 0, FormationViolation, false},
		{"not json", `hello`, "", 0, FormationViolation, false},
		{"object", `{"a":1}`, "", 0, FormationViolation, false},
		{"string", `"x"`, "", 0, FormationViolation, false},
		{"null", `null`, "", 0, FormationViolation, false},
		{"empty array", `[]`, "", 0, FormationViolation, false},
		{"only type", `[2]`, "", TypeCall, FormationViolation, false},
		{"truncated", `[2,"1","Heartbeat",{}`, "1", TypeCall, FormationViolation, false},
		{"truncated after the id", `[2,"1",`, "1", TypeCall, FormationViolation, false},
		{"truncated in the id", `[2,"1`, "", TypeCall, FormationViolation, false},
		{"broken payload", `[2,"1","Heartbeat",{"a":}]`, "1", TypeCall, FormationViolation, false},
		{"broken, id too long", `[2,"` + long + `","Heartbeat",{]`, "", TypeCall, FormationViolation, false},
		{"broken, unknown type", `[5,"1",{]`, "", 5, FormationViolation, false},
		{"broken, invalid utf-8 in id", "[2,\"\xff\",{]", "", TypeCall, FormationViolation, false},
		{"trailing garbage", `[2,"1","Heartbeat",{}]x`, "1", TypeCall, FormationViolation, false},
		{"two frames", `[2,"1","Heartbeat",{}][2,"2","Heartbeat",{}]`, "1", TypeCall, FormationViolation, false},
		{"type as string", `[ "2","1","Heartbeat",{}]`, "1", 0, FormationViolation, false},
		{"type null", `[null,"1","Heartbeat",{}]`, "1", 0, FormationViolation, false},
		{"type fraction", `[2.5,"1","Heartbeat",{}]`, "1", 0, FormationViolation, false},
		{"type huge", `[99999999999999999999999,"1","Heartbeat",{}]`, "1", 0, FormationViolation, false},
		{"unknown type", `[5,"1","Heartbeat",{}]`, "1", 5, FormationViolation, true},
		{"unknown type zero", `[0,"1"]`, "1", 0, FormationViolation, true},
		{"unknown type negative", `[-2,"1",{}]`, "1", -2, FormationViolation, true},
		{"unknown type without id", `[7]`, "", 7, FormationViolation, true},
		{"id number", `[2,1,"Heartbeat",{}]`, "", TypeCall, FormationViolation, false},
		{"id null", `[2,null,"Heartbeat",{}]`, "", TypeCall, FormationViolation, false},
		{"id empty", `[2,"","Heartbeat",{}]`, "", TypeCall, FormationViolation, false},
		{"id too long", `[2,"` + long + `","Heartbeat",{}]`, "", TypeCall, FormationViolation, false},
		{"call 3 elements", `[2,"1","Heartbeat"]`, "1", TypeCall, FormationViolation, false},
		{"call 5 elements", `[2,"1","Heartbeat",{},{}]`, "1", TypeCall, FormationViolation, false},
		{"action number", `[2,"1",3,{}]`, "1", TypeCall, FormationViolation, false},
		{"action null", `[2,"1",null,{}]`, "1", TypeCall, FormationViolation, false},
		{"action empty", `[2,"1","",{}]`, "1", TypeCall, FormationViolation, false},
		{"call payload array", `[2,"1","Heartbeat",[]]`, "1", TypeCall, FormationViolation, false},
		{"call payload null", `[2,"1","Heartbeat",null]`, "1", TypeCall, FormationViolation, false},
		{"call payload string", `[2,"1","Heartbeat","{}"]`, "1", TypeCall, FormationViolation, false},
		{"result 2 elements", `[3,"1"]`, "1", TypeCallResult, FormationViolation, false},
		{"result 4 elements", `[3,"1",{},{}]`, "1", TypeCallResult, FormationViolation, false},
		{"result payload number", `[3,"1",1]`, "1", TypeCallResult, FormationViolation, false},
		{"error 4 elements", `[4,"1","GenericError",""]`, "1", TypeCallError, FormationViolation, false},
		{"error 6 elements", `[4,"1","GenericError","",{},{}]`, "1", TypeCallError, FormationViolation, false},
		{"error code number", `[4,"1",1,"",{}]`, "1", TypeCallError, FormationViolation, false},
		{"error code null", `[4,"1",null,"",{}]`, "1", TypeCallError, FormationViolation, false},
		{"error description null", `[4,"1","GenericError",null,{}]`, "1", TypeCallError, FormationViolation, false},
		{"error details array", `[4,"1","GenericError","",[]]`, "1", TypeCallError, FormationViolation, false},
		{"invalid utf-8 in payload", "[2,\"1\",\"DataTransfer\",{\"vendorId\":\"\xff\"}]", "1", TypeCall, FormationViolation, false},
		{"invalid utf-8 in id", "[2,\"\xff\",\"Heartbeat\",{}]", "", TypeCall, FormationViolation, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, err := Decode([]byte(tt.wire))
			require.Nil(t, msg)
			var fe *FrameError
			require.ErrorAs(t, err, &fe)
			require.Equal(t, tt.id, fe.ID, "id")
			require.Equal(t, tt.typ, fe.Type, "type")
			require.Equal(t, tt.code, fe.Code, "code")
			require.Equal(t, tt.unknown, errors.Is(err, ErrUnknownMessageType), "errors.Is(err, ErrUnknownMessageType)")
			require.NotEmpty(t, fe.Reason)
			require.Contains(t, err.Error(), fe.Reason)
		})
	}
}

func TestDecodeBadID(t *testing.T) {
	long := strings.Repeat("x", MaxIDLength+1)
	tests := []struct{ name, wire, badID string }{
		{"too long", `[2,"` + long + `","Heartbeat",{}]`, long},
		{"empty", `[2,"","Heartbeat",{}]`, ""},
		{"longest allowed is an id", `[2,"` + long[1:] + `","Heartbeat",[]]`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode([]byte(tt.wire))
			var fe *FrameError
			require.ErrorAs(t, err, &fe)
			require.Equal(t, tt.badID, fe.BadID)
		})
	}
}

func TestDecodeLenient(t *testing.T) {
	tests := []struct {
		name string
		wire string
		want Message
	}{
		{"whitespace", " [ 2 , \"1\" , \"Heartbeat\" , { } ] \n", &Call{ID: "1", Action: "Heartbeat", Payload: json.RawMessage(`{}`)}},
		{"payload compacted", `[3,"1",{ "a" : [ 1, 2 ] }]`, &CallResult{ID: "1", Payload: json.RawMessage(`{"a":[1,2]}`)}},
		{"unknown error code", `[4,"1","NoSuchCode","d",{}]`, &CallError{ID: "1", Code: GenericError, Description: "d", Details: json.RawMessage(`{}`)}},
		{"alternative spelling", `[4,"1","OccurrenceConstraintViolation","",{}]`, &CallError{ID: "1", Code: OccurenceConstraintViolation, Details: json.RawMessage(`{}`)}},
		{"escaped id", `[2,"\u0041","A",{}]`, &Call{ID: "A", Action: "A", Payload: json.RawMessage(`{}`)}},
		{"id of 36 characters", `[3,"` + strings.Repeat("€", 36) + `",{}]`, &CallResult{ID: strings.Repeat("€", 36), Payload: json.RawMessage(`{}`)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode([]byte(tt.wire))
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestUnmarshalPayload(t *testing.T) {
	tests := []struct {
		name    string
		action  string
		payload string
		code    ErrorCode
		field   string // expected in the reason
	}{
		{"valid boot", ActionBootNotification, `{"chargePointVendor":"V","chargePointModel":"M"}`, "", ""},
		{"unknown fields ignored", ActionHeartbeat, `{"vendorExtension":1}`, "", ""},
		{"wrong type", ActionStartTransaction, `{"connectorId":"1","idTag":"T","meterStart":0,"timestamp":"2026-11-22T10:00:00Z"}`, TypeConstraintViolation, `"connectorId"`},
		{"fraction for integer", ActionStartTransaction, `{"connectorId":1.5,"idTag":"T","meterStart":0,"timestamp":"2026-11-22T10:00:00Z"}`, TypeConstraintViolation, `"connectorId"`},
		{"bad timestamp", ActionStartTransaction, `{"connectorId":1,"idTag":"T","meterStart":0,"timestamp":"yesterday"}`, TypeConstraintViolation, `"timestamp"`},
		{"timestamp number", ActionStartTransaction, `{"connectorId":1,"idTag":"T","meterStart":0,"timestamp":5}`, TypeConstraintViolation, `"timestamp"`},
		{"nested bad timestamp", ActionMeterValues, `{"connectorId":1,"meterValue":[{"timestamp":"x","sampledValue":[{"value":"1"}]}]}`, TypeConstraintViolation, `"meterValue.timestamp"`},
		{"null timestamp is missing", ActionStartTransaction, `{"connectorId":1,"idTag":"T","meterStart":0,"timestamp":null}`, OccurenceConstraintViolation, `"timestamp"`},
		{"missing idTag", ActionAuthorize, `{}`, OccurenceConstraintViolation, `"idTag"`},
		{"empty sampledValue", ActionMeterValues, `{"connectorId":1,"meterValue":[{"timestamp":"2026-11-22T10:00:00Z","sampledValue":[]}]}`, OccurenceConstraintViolation, `"meterValue[0].sampledValue"`},
		{"bad enum", ActionStatusNotification, `{"connectorId":1,"errorCode":"NoError","status":"Broken"}`, PropertyConstraintViolation, `"status"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, err := Decode([]byte(`[2,"42","` + tt.action + `",` + tt.payload + `]`))
			require.NoError(t, err)
			req, ok := RequestFor(tt.action)
			require.True(t, ok)
			err = msg.(*Call).UnmarshalPayload(req)
			if tt.code == "" {
				require.NoError(t, err)
				return
			}
			var fe *FrameError
			require.ErrorAs(t, err, &fe)
			require.Equal(t, "42", fe.ID)
			require.Equal(t, TypeCall, fe.Type)
			require.Equal(t, tt.code, fe.Code)
			require.Contains(t, fe.Reason, tt.field)
		})
	}
}

func TestUnmarshalPayloadCauses(t *testing.T) {
	t.Run("field error reachable", func(t *testing.T) {
		c := &Call{ID: "1", Action: ActionAuthorize, Payload: json.RawMessage(`{"idTag":"123456789012345678901"}`)}
		err := c.UnmarshalPayload(&AuthorizeRequest{})
		var fieldErr *FieldError
		require.ErrorAs(t, err, &fieldErr)
		require.Equal(t, "idTag", fieldErr.Field)
		require.Equal(t, PropertyConstraintViolation, fieldErr.Code)
	})
	t.Run("json type error reachable", func(t *testing.T) {
		c := &Call{ID: "1", Action: ActionAuthorize, Payload: json.RawMessage(`{"idTag":1}`)}
		var typeErr *json.UnmarshalTypeError
		require.ErrorAs(t, c.UnmarshalPayload(&AuthorizeRequest{}), &typeErr)
		require.Equal(t, "idTag", typeErr.Field)
	})
	t.Run("not a pointer is the receiver's bug", func(t *testing.T) {
		c := &Call{ID: "1", Action: ActionHeartbeat, Payload: json.RawMessage(`{}`)}
		var fe *FrameError
		require.ErrorAs(t, c.UnmarshalPayload(HeartbeatRequest{}), &fe)
		require.Equal(t, InternalError, fe.Code)
	})
	t.Run("hand-built non-object payload", func(t *testing.T) {
		c := &Call{ID: "1", Action: ActionHeartbeat, Payload: json.RawMessage(`[]`)}
		var fe *FrameError
		require.ErrorAs(t, c.UnmarshalPayload(&HeartbeatRequest{}), &fe)
		require.Equal(t, FormationViolation, fe.Code)
	})
	t.Run("result validated", func(t *testing.T) {
		r := &CallResult{ID: "9", Payload: json.RawMessage(`{"status":"accepted","currentTime":"2026-11-22T10:00:00Z","interval":300}`)}
		var fe *FrameError
		require.ErrorAs(t, r.UnmarshalPayload(&BootNotificationResponse{}), &fe)
		require.Equal(t, "9", fe.ID)
		require.Equal(t, TypeCallResult, fe.Type)
		require.Equal(t, PropertyConstraintViolation, fe.Code)
	})
	t.Run("empty payload reads as {}", func(t *testing.T) {
		r := &CallResult{ID: "9"}
		require.NoError(t, r.UnmarshalPayload(&MeterValuesResponse{}))
	})
}

func TestMessageTypeString(t *testing.T) {
	require.Equal(t, "CALL", TypeCall.String())
	require.Equal(t, "CALLRESULT", TypeCallResult.String())
	require.Equal(t, "CALLERROR", TypeCallError.String())
	require.Equal(t, "MessageType(9)", MessageType(9).String())
}

func TestCallErrorError(t *testing.T) {
	require.Equal(t, "ocpp: NotImplemented", NewCallError("1", NotImplemented, "").Error())
	require.Equal(t, "ocpp: NotImplemented: no", NewCallError("1", NotImplemented, "no").Error())
}

func TestFrameErrorUnwrap(t *testing.T) {
	// A FrameError built by hand still reports an unknown type.
	require.ErrorIs(t, &FrameError{Type: 9}, ErrUnknownMessageType)
	require.NotErrorIs(t, &FrameError{Type: TypeCall}, ErrUnknownMessageType)
	require.NotErrorIs(t, &FrameError{}, ErrUnknownMessageType)
}
