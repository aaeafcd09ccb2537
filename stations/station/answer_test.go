package station_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/stations/station"
)

func TestDefaultAnswer(t *testing.T) {
	tests := []struct {
		action  string
		payload string
		want    any // a JSON payload as a string, or a *ocpp.CallError
	}{
		{ocpp.ActionReset, `{"type":"Soft"}`, `{"status":"Accepted"}`},
		{ocpp.ActionRemoteStartTransaction, `{"idTag":"ABC","connectorId":1}`, `{"status":"Accepted"}`},
		{ocpp.ActionRemoteStopTransaction, `{"transactionId":7}`, `{"status":"Accepted"}`},
		{ocpp.ActionChangeConfiguration, `{"key":"HeartbeatInterval","value":"60"}`, `{"status":"Accepted"}`},
		{ocpp.ActionChangeAvailability, `{"connectorId":0,"type":"Inoperative"}`, `{"status":"Accepted"}`},
		{ocpp.ActionClearCache, `{}`, `{"status":"Accepted"}`},
		{ocpp.ActionUnlockConnector, `{"connectorId":1}`, `{"status":"Unlocked"}`},
		{ocpp.ActionDataTransfer, `{"vendorId":"kata"}`, `{"status":"Accepted"}`},
		{ocpp.ActionTriggerMessage, `{"requestedMessage":"Heartbeat"}`, `{"status":"Accepted"}`},
		{ocpp.ActionGetConfiguration, `{}`, `{"configurationKey":[` +
			`{"key":"HeartbeatInterval","readonly":false,"value":"300"},` +
			`{"key":"MeterValueSampleInterval","readonly":false,"value":"60"},` +
			`{"key":"NumberOfConnectors","readonly":true,"value":"1"}]}`},
		{ocpp.ActionGetConfiguration, `{"key":["NumberOfConnectors","Colour"]}`,
			`{"configurationKey":[{"key":"NumberOfConnectors","readonly":true,"value":"1"}],"unknownKey":["Colour"]}`},
		{ocpp.ActionReset, `{}`, ocpp.OccurenceConstraintViolation},
		{ocpp.ActionReset, `{"type":"Gentle"}`, ocpp.PropertyConstraintViolation},
		{ocpp.ActionUnlockConnector, `{"connectorId":"one"}`, ocpp.TypeConstraintViolation},
		{"SelfDestruct", `{}`, ocpp.NotImplemented},
	}
	for _, tt := range tests {
		t.Run(tt.action+" "+tt.payload, func(t *testing.T) {
			call := &ocpp.Call{ID: "42", Action: tt.action, Payload: json.RawMessage(tt.payload)}
			reply := station.DefaultAnswer(call)
			require.Zero(t, reply.Delay)
			require.False(t, reply.Drop)
			require.False(t, reply.Disconnect)
			switch want := tt.want.(type) {
			case string:
				got, err := json.Marshal(reply.Payload)
				require.NoError(t, err)
				require.JSONEq(t, want, string(got))
			case ocpp.ErrorCode:
				ce, ok := reply.Payload.(*ocpp.CallError)
				require.True(t, ok, "want a CALLERROR, got %#v", reply.Payload)
				require.Equal(t, want, ce.Code)
				require.Equal(t, "42", ce.ID)
			}
		})
	}
}
