package backend_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/harness/store"
)

// rawCall builds a call with the payload exactly as given, valid or not.
func rawCall(id, action, payload string) *ocpp.Call {
	return &ocpp.Call{ID: id, Action: action, Payload: json.RawMessage(payload)}
}

// newCall builds a valid call from a typed request.
func newCall(t *testing.T, id, action string, req any) *ocpp.Call {
	t.Helper()
	c, err := ocpp.NewCall(id, action, req)
	require.NoError(t, err)
	return c
}

// result requires m to be the CALLRESULT of the call id and decodes it into resp.
func result(t *testing.T, m ocpp.Message, id string, resp any) {
	t.Helper()
	r, ok := m.(*ocpp.CallResult)
	require.Truef(t, ok, "answer is %T %+v, want a *ocpp.CallResult", m, m)
	require.Equal(t, id, r.ID)
	require.NoError(t, r.UnmarshalPayload(resp))
}

// callError requires m to be a CALLERROR with the call id and code.
func callError(t *testing.T, m ocpp.Message, id string, code ocpp.ErrorCode) *ocpp.CallError {
	t.Helper()
	e, ok := m.(*ocpp.CallError)
	require.Truef(t, ok, "answer is %T %+v, want a *ocpp.CallError", m, m)
	require.Equal(t, id, e.ID)
	require.Equal(t, code, e.Code, "description: %s", e.Description)
	require.NotEmpty(t, e.Description)
	return e
}

var when = ocpp.DateTime{Time: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}

func startRequest(meterStart int) ocpp.StartTransactionRequest {
	return ocpp.StartTransactionRequest{ConnectorId: 1, IdTag: "TAG1", MeterStart: meterStart, Timestamp: when}
}

func TestAnswerResults(t *testing.T) {
	b := backend.New(backend.Options{})
	accepted := ocpp.IdTagInfo{Status: ocpp.AuthorizationAccepted}

	t.Run("BootNotification", func(t *testing.T) {
		var resp ocpp.BootNotificationResponse
		result(t, b.Answer("CS1", newCall(t, "b1", ocpp.ActionBootNotification,
			ocpp.BootNotificationRequest{ChargePointVendor: "Kata", ChargePointModel: "Test"})), "b1", &resp)
		require.Equal(t, ocpp.RegistrationAccepted, resp.Status)
		require.Equal(t, 300, resp.Interval)
		require.Equal(t, backend.HeartbeatInterval, resp.Interval)
		require.False(t, resp.CurrentTime.IsZero())
	})
	t.Run("Heartbeat", func(t *testing.T) {
		var resp ocpp.HeartbeatResponse
		result(t, b.Answer("CS1", rawCall("h1", ocpp.ActionHeartbeat, `{}`)), "h1", &resp)
		require.False(t, resp.CurrentTime.IsZero())
	})
	t.Run("Authorize", func(t *testing.T) {
		var resp ocpp.AuthorizeResponse
		result(t, b.Answer("CS1", newCall(t, "a1", ocpp.ActionAuthorize, ocpp.AuthorizeRequest{IdTag: "TAG1"})), "a1", &resp)
		require.Equal(t, accepted, resp.IdTagInfo)
	})
	t.Run("StopTransaction of an unknown transaction", func(t *testing.T) {
		var resp ocpp.StopTransactionResponse
		result(t, b.Answer("CS1", newCall(t, "s1", ocpp.ActionStopTransaction,
			ocpp.StopTransactionRequest{TransactionId: 987654, MeterStop: 10, Timestamp: when, IdTag: "TAG1"})), "s1", &resp)
		require.NotNil(t, resp.IdTagInfo)
		require.Equal(t, accepted, *resp.IdTagInfo)
	})
	t.Run("StatusNotification", func(t *testing.T) {
		var resp ocpp.StatusNotificationResponse
		result(t, b.Answer("CS1", newCall(t, "n1", ocpp.ActionStatusNotification, ocpp.StatusNotificationRequest{
			ConnectorId: 1, ErrorCode: ocpp.ChargePointNoError, Status: ocpp.StatusAvailable})), "n1", &resp)
	})
	t.Run("MeterValues", func(t *testing.T) {
		var resp ocpp.MeterValuesResponse
		result(t, b.Answer("CS1", newCall(t, "m1", ocpp.ActionMeterValues, ocpp.MeterValuesRequest{
			ConnectorId: 1, MeterValue: []ocpp.MeterValue{{Timestamp: when, SampledValue: []ocpp.SampledValue{{Value: "42"}}}},
		})), "m1", &resp)
	})
	t.Run("DataTransfer", func(t *testing.T) {
		var resp ocpp.DataTransferResponse
		result(t, b.Answer("CS1", newCall(t, "d1", ocpp.ActionDataTransfer, ocpp.DataTransferRequest{VendorId: "kata"})), "d1", &resp)
		require.Equal(t, ocpp.DataTransferUnknownVendorId, resp.Status)
	})
	// Chargers send these unasked, after a firmware update or a
	// diagnostics upload: a central system that answers NotImplemented
	// fails them.
	t.Run("FirmwareStatusNotification and DiagnosticsStatusNotification", func(t *testing.T) {
		m := &store.Memory{}
		b := backend.New(backend.Options{Store: m})
		var fw ocpp.FirmwareStatusNotificationResponse
		result(t, b.Answer("CS7", newCall(t, "f1", ocpp.ActionFirmwareStatusNotification,
			ocpp.FirmwareStatusNotificationRequest{Status: ocpp.FirmwareInstalling})), "f1", &fw)
		var diag ocpp.DiagnosticsStatusNotificationResponse
		result(t, b.Answer("CS7", newCall(t, "g1", ocpp.ActionDiagnosticsStatusNotification,
			ocpp.DiagnosticsStatusNotificationRequest{Status: ocpp.DiagnosticsUploaded})), "g1", &diag)
		st, err := m.Station(t.Context(), "CS7")
		require.NoError(t, err, "the notifications give the station a row")
		require.Equal(t, ocpp.FirmwareInstalling, st.FirmwareStatus)
		require.Equal(t, ocpp.DiagnosticsUploaded, st.DiagnosticsStatus)
		require.False(t, st.FirmwareStatusAt.IsZero() || st.DiagnosticsStatusAt.IsZero(), "when each was said: %+v", st)
	})
}

func TestAnswerTransactionIDs(t *testing.T) {
	b := backend.New(backend.Options{})
	start := func(station, id string, meterStart int) int {
		t.Helper()
		var resp ocpp.StartTransactionResponse
		result(t, b.Answer(station, newCall(t, id, ocpp.ActionStartTransaction, startRequest(meterStart))), id, &resp)
		require.Equal(t, ocpp.AuthorizationAccepted, resp.IdTagInfo.Status)
		return resp.TransactionId
	}

	first := start("CS1", "1", 100)
	second := start("CS1", "2", 200)
	require.NotEqual(t, first, second, "two different transactions of one station got the same id")

	// A station that did not get the answer sends the same start again, with
	// a new message id: it must get the id it was given the first time.
	require.Equal(t, first, start("CS1", "3", 100), "a replayed StartTransaction got a new transaction id")
	require.Equal(t, second, start("CS1", "4", 200), "a replayed StartTransaction got a new transaction id")

	// Ids are unique per station; another station's are its own.
	other := start("CS2", "1", 100)
	require.Equal(t, other, start("CS2", "2", 100))
	third := start("CS1", "5", 300)
	require.NotContains(t, []int{first, second}, third)

	// The same start at another moment is another transaction.
	var resp ocpp.StartTransactionResponse
	later := startRequest(100)
	later.Timestamp = ocpp.DateTime{Time: when.Add(time.Minute)}
	result(t, b.Answer("CS1", newCall(t, "6", ocpp.ActionStartTransaction, later)), "6", &resp)
	require.NotContains(t, []int{first, second, third}, resp.TransactionId)
}

func TestAnswerErrors(t *testing.T) {
	tests := []struct {
		name    string
		action  string
		payload string
		code    ocpp.ErrorCode
	}{
		{"unknown action", "FlyToTheMoon", `{}`, ocpp.NotImplemented},
		{"action of the other direction", ocpp.ActionReset, `{"type":"Hard"}`, ocpp.NotImplemented},
		{"MeterValues without meterValue", ocpp.ActionMeterValues, `{"connectorId":1}`, ocpp.OccurenceConstraintViolation},
		{"BootNotification without vendor", ocpp.ActionBootNotification, `{"chargePointModel":"M"}`, ocpp.OccurenceConstraintViolation},
		{"vendor of the wrong type", ocpp.ActionBootNotification, `{"chargePointVendor":7,"chargePointModel":"M"}`, ocpp.TypeConstraintViolation},
		{"idTag too long", ocpp.ActionAuthorize, `{"idTag":"123456789012345678901"}`, ocpp.PropertyConstraintViolation},
		{"status outside its enumeration", ocpp.ActionStatusNotification, `{"connectorId":1,"errorCode":"NoError","status":"Asleep"}`, ocpp.PropertyConstraintViolation},
		{"firmware status outside its enumeration", ocpp.ActionFirmwareStatusNotification, `{"status":"Flashing"}`, ocpp.PropertyConstraintViolation},
		{"firmware status missing", ocpp.ActionFirmwareStatusNotification, `{}`, ocpp.OccurenceConstraintViolation},
		{"diagnostics status outside its enumeration", ocpp.ActionDiagnosticsStatusNotification, `{"status":"Sent"}`, ocpp.PropertyConstraintViolation},
		{"diagnostics status of the wrong type", ocpp.ActionDiagnosticsStatusNotification, `{"status":1}`, ocpp.TypeConstraintViolation},
		{"payload is not an object", ocpp.ActionHeartbeat, `[]`, ocpp.FormationViolation},
		{"payload is not JSON", ocpp.ActionHeartbeat, `{`, ocpp.FormationViolation},
	}
	b := backend.New(backend.Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			callError(t, b.Answer("CS1", rawCall("err-1", tt.action, tt.payload)), "err-1", tt.code)
		})
	}
	require.Empty(t, b.Records(), "Answer is business logic only: it records nothing")
}
