package ocpp

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The hand-written fast paths must agree with encoding/json's way wherever
// they answer at all; where they are unsure they leave the frame to it.
// These tests hold them to both: the same answer, and an answer for the
// frames stations send every second.

// stationFrames are frames as stations send them, and as they answer:
// each must take the fast path.
var stationFrames = []string{
	string(heartbeatFrame),
	string(meterValuesFrame),
	string(statusFrame),
	`[2,"1","BootNotification",{"chargePointVendor":"VendorX","chargePointModel":"SingleSocketCharger","chargePointSerialNumber":"s","chargeBoxSerialNumber":"b","firmwareVersion":"1.0","iccid":"i","imsi":"m","meterType":"t","meterSerialNumber":"n"}]`,
	`[2,"2","Authorize",{"idTag":"TAG-1"}]`,
	`[2,"3","StartTransaction",{"connectorId":1,"idTag":"TAG-1","meterStart":0,"reservationId":4,"timestamp":"2026-11-22T10:00:00Z"}]`,
	`[2,"4","StopTransaction",{"transactionId":1,"meterStop":1200,"timestamp":"2026-11-22T11:00:00.5+01:00","idTag":"TAG-1","reason":"Local","transactionData":[{"timestamp":"2026-11-22T10:30:00Z","sampledValue":[{"value":"600","context":"Sample.Periodic","format":"Raw","measurand":"Energy.Active.Import.Register","phase":"L1","location":"Outlet","unit":"Wh"}]}]}]`,
	`[2,"5","DataTransfer",{"vendorId":"V","messageId":"M","data":"<x>"}]`,
	`[2,"6","StatusNotification",{"connectorId":0,"errorCode":"NoError","info":"i","status":"Available","vendorId":"v","vendorErrorCode":"e"}]`,
	`[2,"7","MeterValues",{"connectorId":1,"meterValue":[{"timestamp":"2026-11-22T10:00:00Z","sampledValue":[{"value":"1"},{"value":"2","unit":"kWh"}]},{"timestamp":"2026-11-22T10:01:00Z","sampledValue":[{"value":"3"}]}]}]`,
	`[2,"8","Heartbeat",{"vendorExtension":{"a":[1,2,{"b":null}]}}]`,
	` [ 2 , "9" , "Heartbeat" , { "x" : [ 1 , "a b" ] } ] ` + "\n",
	`[3,"10",{"status":"Accepted","currentTime":"2026-11-22T10:00:00.000Z","interval":300}]`,
	`[3,"11",{}]`,
	`[4,"12","NotImplemented","",{}]`,
	`[4,"13","OccurrenceConstraintViolation","field \"idTag\": missing",{"a":1}]`,
	`[2,"` + strings.Repeat("é", MaxIDLength) + `","Heartbeat",{}]`,
}

func TestDecodeFastTaken(t *testing.T) {
	for _, frame := range stationFrames {
		t.Run(frame, func(t *testing.T) {
			fast, ok := decodeFast([]byte(frame))
			require.True(t, ok, "decodeFast left a station's frame to decodeSlow")
			slow, err := decodeSlow([]byte(frame))
			require.NoError(t, err)
			require.Equal(t, slow, fast)
			call, ok := fast.(*Call)
			if !ok {
				return
			}
			req, _ := RequestFor(call.Action)
			require.True(t, unmarshalFast(call.Payload, req), "unmarshalFast left a station's payload to encoding/json")
			want, _ := RequestFor(call.Action)
			require.NoError(t, json.Unmarshal(call.Payload, want))
			require.Equal(t, want, req)
		})
	}
}

func TestEncodeFastTaken(t *testing.T) {
	now := DateTime{benchTime}
	info := IdTagInfo{Status: AuthorizationAccepted, ExpiryDate: &now, ParentIdTag: "P"}
	for _, v := range []any{
		HeartbeatResponse{CurrentTime: now},
		BootNotificationResponse{Status: RegistrationAccepted, CurrentTime: now, Interval: 300},
		AuthorizeResponse{IdTagInfo: info},
		StartTransactionResponse{IdTagInfo: info, TransactionId: 1},
		StopTransactionResponse{IdTagInfo: &info},
		StopTransactionResponse{},
		DataTransferResponse{Status: DataTransferUnknownVendorId},
		MeterValuesResponse{},
		StatusNotificationResponse{},
		&HeartbeatResponse{CurrentTime: now},
	} {
		_, ok := encodeResponse(v)
		require.True(t, ok, "encodeResponse left %T to encoding/json", v)
	}
	for _, frame := range stationFrames {
		msg, err := Decode([]byte(frame))
		require.NoError(t, err)
		var payload json.RawMessage
		switch m := msg.(type) {
		case *Call:
			payload = m.Payload
		case *CallResult:
			payload = m.Payload
		case *CallError:
			payload = m.Details
		}
		_, ok := appendPayload(nil, payload)
		require.True(t, ok, "appendPayload left %s to encoding/json", payload)
	}
}

// Decode keeps no reference to the frame it read: a reader may reuse it.
func TestDecodeCopies(t *testing.T) {
	frame := []byte(`[2,"1","DataTransfer",{"vendorId":"V"}]`)
	msg, err := Decode(frame)
	require.NoError(t, err)
	for i := range frame {
		frame[i] = 'x'
	}
	require.Equal(t, &Call{ID: "1", Action: ActionDataTransfer, Payload: json.RawMessage(`{"vendorId":"V"}`)}, msg)
}

// payloadSeeds are payloads of every request type, with the things the
// fast path must leave to encoding/json: keys in other cases, keys twice,
// nulls, escapes, numbers that are no ints, values of the wrong type.
var payloadSeeds = []string{
	`{}`, ` { } `, `{"a":1}`, `[]`, `null`, `{`, `{"a":1}x`, `{"a":01}`, `{"a":-}`, `{"a":1.}`, `{"a":.5}`,
	`{"idTag":"T"}`, `{"IDTAG":"T"}`, `{"idtag":"T","idTag":"U"}`, `{"idTag":"T","idTag":"U"}`, `{"idTag":null}`,
	`{"idTag":"\u0054"}`, `{"idTag":"\ud800"}`, `{"idTag":1}`, `{"idTag":"` + "\xff" + `"}`, `{"id\u0054ag":"T"}`,
	`{"ıdTag":"T"}`, `{"connectorId":"1"}`, `{"connectorId":1e0}`, `{"connectorId":-0}`,
	`{"connectorId":99999999999999999999}`, `{"connectorId":999999999999999999}`, `{"connectorId":-999999999999999999}`,
	`{"connectorId":1,"transactionId":5,"meterValue":[{"timestamp":"2026-11-22T10:00:00Z","sampledValue":[{"value":"1","unit":"Wh","measurand":"Energy.Active.Import.Register"}]}]}`,
	`{"connectorId":1,"meterValue":[]}`, `{"connectorId":1,"meterValue":null}`, `{"meterValue":[{}]}`, `{"meterValue":[null]}`,
	`{"meterValue":[{"timestamp":"yesterday","sampledValue":[]}]}`, `{"meterValue":[{"timestamp":"2026-11-22 10:00:00z","sampledValue":[{}]}]}`,
	`{"meterValue":[{"sampledValue":[{"value":"1","Unit":"Wh"}]}]}`, `{"meterValue":[{"sampledValue":[{"value":"1","unit":"Wh","unit":"W"}]}]}`,
	`{"connectorId":1,"errorCode":"NoError","status":"Charging","timestamp":"2026-11-22T10:00:00.123Z","info":"<&>"}`,
	`{"connectorId":1,"errorCode":"NoError","status":"Charging","timestamp":null}`, `{"timestamp":"2026-11-22T10:00:00.123+14:00"}`,
	`{"connectorId":1,"idTag":"T","meterStart":0,"reservationId":4,"timestamp":"2026-11-22T10:00:00Z"}`,
	`{"transactionId":1,"meterStop":5,"timestamp":"2026-11-22T10:00:00Z","reason":"Local","transactionData":[]}`,
	`{"chargePointVendor":"V","chargePointModel":"M","extra":{"a":[true,false,null,"x",-1.5e+3]}}`,
	`{"vendorId":"V","data":"{\"json\":1}"}`, `{"vendorId":"V","data":{"json":1}}`,
}

// FuzzUnmarshalFast holds unmarshalFast to json.Unmarshal for every
// request type a station sends.
func FuzzUnmarshalFast(f *testing.F) {
	for _, p := range payloadSeeds {
		f.Add([]byte(p))
	}
	actions := []string{ActionAuthorize, ActionBootNotification, ActionDataTransfer, ActionHeartbeat,
		ActionMeterValues, ActionStartTransaction, ActionStatusNotification, ActionStopTransaction}
	f.Fuzz(func(t *testing.T, payload []byte) {
		for _, action := range actions {
			fast, _ := RequestFor(action)
			if !unmarshalFast(payload, fast) {
				zero, _ := RequestFor(action)
				require.Equal(t, zero, fast, "%s: unmarshalFast gave up after storing", action)
				continue
			}
			slow, _ := RequestFor(action)
			require.NoError(t, json.Unmarshal(payload, slow), "%s: unmarshalFast accepted %q", action, payload)
			require.Equal(t, slow, fast, action)
		}
	})
}

func TestUnmarshalFastSame(t *testing.T) {
	for _, p := range payloadSeeds {
		t.Run(p, func(t *testing.T) {
			for _, action := range []string{ActionAuthorize, ActionMeterValues, ActionStatusNotification, ActionStartTransaction, ActionStopTransaction, ActionBootNotification, ActionDataTransfer, ActionHeartbeat} {
				fast, _ := RequestFor(action)
				if !unmarshalFast([]byte(p), fast) {
					continue
				}
				slow, _ := RequestFor(action)
				require.NoError(t, json.Unmarshal([]byte(p), slow), action)
				require.Equal(t, slow, fast, action)
			}
		})
	}
	t.Run("not a zero value", func(t *testing.T) {
		req := &AuthorizeRequest{IdTag: "old"}
		require.False(t, unmarshalFast([]byte(`{}`), req))
		require.False(t, unmarshalFast([]byte(`{}`), (*HeartbeatRequest)(nil)))
	})
}

// FuzzDecodeFast holds decodeFast to decodeSlow, the encoding/json way.
func FuzzDecodeFast(f *testing.F) {
	for _, frame := range stationFrames {
		f.Add([]byte(frame))
	}
	for _, p := range payloadSeeds {
		f.Add([]byte(`[2,"1","MeterValues",` + p + `]`))
	}
	for _, frame := range []string{
		`[2.0,"1","Heartbeat",{}]`, `[22,"1","Heartbeat",{}]`, `[2,"1","Heartbeat",{}]]`, `[2,"1","Heartbeat",{},]`,
		`[2,"\u0031","Heartbeat",{}]`, `[2,"1","Heart\u0062eat",{}]`, `[2,"","Heartbeat",{}]`, `[5,"1",{}]`,
		`[3,"1",{}`, `[4,"1","GenericError",null,{}]`, `[2,"1","Heartbeat",{"a":"` + "\x1f" + `"}]`,
		"[2,\"1\",\"Heartbeat\",{\"a\":\"\xff\"}]", `[2,"1","",{}]`, `[2,"1","A",{"a":1 2}]`,
	} {
		f.Add([]byte(frame))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fast, ok := decodeFast(data)
		slow, err := decodeSlow(data)
		if !ok {
			require.Nil(t, fast)
			return
		}
		require.NoError(t, err, "decodeFast accepted %q", data)
		require.Equal(t, slow, fast)
	})
}
