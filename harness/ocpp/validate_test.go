package ocpp

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type validator interface{ Validate() error }

func ptr[T any](v T) *T { return &v }

func TestValidate(t *testing.T) {
	now := DateTime{time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)}
	s := strings.Repeat
	sample := []SampledValue{{Value: "1"}}
	meter := []MeterValue{{Timestamp: now, SampledValue: sample}}
	status := StatusNotificationRequest{ConnectorId: 1, ErrorCode: ChargePointNoError, Status: StatusAvailable}
	tests := []struct {
		name  string
		v     validator
		field string    // "" means valid
		code  ErrorCode // for invalid ones
	}{
		// Authorize
		{"authorize ok", AuthorizeRequest{IdTag: s("a", 20)}, "", ""},
		{"authorize missing idTag", AuthorizeRequest{}, "idTag", OccurenceConstraintViolation},
		{"authorize long idTag", AuthorizeRequest{IdTag: s("a", 21)}, "idTag", PropertyConstraintViolation},
		{"authorize counts characters", AuthorizeRequest{IdTag: s("é", 20)}, "", ""},

		// BootNotification
		{"boot ok", BootNotificationRequest{ChargePointVendor: s("v", 20), ChargePointModel: s("m", 20),
			ChargePointSerialNumber: s("s", 25), ChargeBoxSerialNumber: s("b", 25), FirmwareVersion: s("f", 50),
			Iccid: s("i", 20), Imsi: s("i", 20), MeterType: s("t", 25), MeterSerialNumber: s("n", 25)}, "", ""},
		{"boot missing vendor", BootNotificationRequest{ChargePointModel: "M"}, "chargePointVendor", OccurenceConstraintViolation},
		{"boot missing model", BootNotificationRequest{ChargePointVendor: "V"}, "chargePointModel", OccurenceConstraintViolation},
		{"boot long vendor", BootNotificationRequest{ChargePointVendor: s("v", 21), ChargePointModel: "M"}, "chargePointVendor", PropertyConstraintViolation},
		{"boot long model", BootNotificationRequest{ChargePointVendor: "V", ChargePointModel: s("m", 21)}, "chargePointModel", PropertyConstraintViolation},
		{"boot long serial", BootNotificationRequest{ChargePointVendor: "V", ChargePointModel: "M", ChargePointSerialNumber: s("s", 26)}, "chargePointSerialNumber", PropertyConstraintViolation},
		{"boot long box serial", BootNotificationRequest{ChargePointVendor: "V", ChargePointModel: "M", ChargeBoxSerialNumber: s("s", 26)}, "chargeBoxSerialNumber", PropertyConstraintViolation},
		{"boot long firmware", BootNotificationRequest{ChargePointVendor: "V", ChargePointModel: "M", FirmwareVersion: s("f", 51)}, "firmwareVersion", PropertyConstraintViolation},
		{"boot long iccid", BootNotificationRequest{ChargePointVendor: "V", ChargePointModel: "M", Iccid: s("i", 21)}, "iccid", PropertyConstraintViolation},
		{"boot long imsi", BootNotificationRequest{ChargePointVendor: "V", ChargePointModel: "M", Imsi: s("i", 21)}, "imsi", PropertyConstraintViolation},
		{"boot long meterType", BootNotificationRequest{ChargePointVendor: "V", ChargePointModel: "M", MeterType: s("t", 26)}, "meterType", PropertyConstraintViolation},
		{"boot long meterSerialNumber", BootNotificationRequest{ChargePointVendor: "V", ChargePointModel: "M", MeterSerialNumber: s("n", 26)}, "meterSerialNumber", PropertyConstraintViolation},

		// DataTransfer
		{"data transfer ok", DataTransferRequest{VendorId: s("v", 255), MessageId: s("m", 50), Data: s("d", 10000)}, "", ""},
		{"data transfer missing vendor", DataTransferRequest{}, "vendorId", OccurenceConstraintViolation},
		{"data transfer long vendor", DataTransferRequest{VendorId: s("v", 256)}, "vendorId", PropertyConstraintViolation},
		{"data transfer long messageId", DataTransferRequest{VendorId: "v", MessageId: s("m", 51)}, "messageId", PropertyConstraintViolation},

		// Heartbeat
		{"heartbeat ok", HeartbeatRequest{}, "", ""},

		// MeterValues
		{"meter values ok", MeterValuesRequest{ConnectorId: 0, MeterValue: []MeterValue{{Timestamp: now, SampledValue: []SampledValue{{
			Value: "1.5", Context: ContextSamplePeriodic, Format: FormatRaw, Measurand: MeasurandVoltage,
			Phase: PhaseL1N, Location: LocationOutlet, Unit: UnitCelsius}}}}}, "", ""},
		{"meter values Celcius", MeterValuesRequest{ConnectorId: 1, MeterValue: []MeterValue{{Timestamp: now, SampledValue: []SampledValue{{Value: "1", Unit: UnitCelcius}}}}}, "", ""},
		{"meter values negative connector", MeterValuesRequest{ConnectorId: -1, MeterValue: meter}, "connectorId", PropertyConstraintViolation},
		{"meter values missing meterValue", MeterValuesRequest{ConnectorId: 1}, "meterValue", OccurenceConstraintViolation},
		{"meter values empty meterValue", MeterValuesRequest{ConnectorId: 1, MeterValue: []MeterValue{}}, "meterValue", OccurenceConstraintViolation},
		{"meter values missing timestamp", MeterValuesRequest{ConnectorId: 1, MeterValue: []MeterValue{{SampledValue: sample}}}, "meterValue[0].timestamp", OccurenceConstraintViolation},
		{"meter values empty sampledValue", MeterValuesRequest{ConnectorId: 1, MeterValue: []MeterValue{{Timestamp: now}}}, "meterValue[0].sampledValue", OccurenceConstraintViolation},
		{"meter values missing value", MeterValuesRequest{ConnectorId: 1, MeterValue: []MeterValue{meter[0], {Timestamp: now, SampledValue: []SampledValue{{Value: "1"}, {}}}}}, "meterValue[1].sampledValue[1].value", OccurenceConstraintViolation},
		{"meter values bad context", MeterValuesRequest{ConnectorId: 1, MeterValue: []MeterValue{{Timestamp: now, SampledValue: []SampledValue{{Value: "1", Context: "Periodic"}}}}}, "meterValue[0].sampledValue[0].context", PropertyConstraintViolation},
		{"meter values bad format", MeterValuesRequest{ConnectorId: 1, MeterValue: []MeterValue{{Timestamp: now, SampledValue: []SampledValue{{Value: "1", Format: "raw"}}}}}, "meterValue[0].sampledValue[0].format", PropertyConstraintViolation},
		{"meter values bad measurand", MeterValuesRequest{ConnectorId: 1, MeterValue: []MeterValue{{Timestamp: now, SampledValue: []SampledValue{{Value: "1", Measurand: "Energy"}}}}}, "meterValue[0].sampledValue[0].measurand", PropertyConstraintViolation},
		{"meter values bad phase", MeterValuesRequest{ConnectorId: 1, MeterValue: []MeterValue{{Timestamp: now, SampledValue: []SampledValue{{Value: "1", Phase: "L4"}}}}}, "meterValue[0].sampledValue[0].phase", PropertyConstraintViolation},
		{"meter values bad location", MeterValuesRequest{ConnectorId: 1, MeterValue: []MeterValue{{Timestamp: now, SampledValue: []SampledValue{{Value: "1", Location: "Roof"}}}}}, "meterValue[0].sampledValue[0].location", PropertyConstraintViolation},
		{"meter values bad unit", MeterValuesRequest{ConnectorId: 1, MeterValue: []MeterValue{{Timestamp: now, SampledValue: []SampledValue{{Value: "1", Unit: "kwh"}}}}}, "meterValue[0].sampledValue[0].unit", PropertyConstraintViolation},

		// StartTransaction
		{"start ok", StartTransactionRequest{ConnectorId: 1, IdTag: "T", MeterStart: 0, ReservationId: ptr(0), Timestamp: now}, "", ""},
		{"start connector 0", StartTransactionRequest{IdTag: "T", Timestamp: now}, "connectorId", PropertyConstraintViolation},
		{"start missing idTag", StartTransactionRequest{ConnectorId: 1, Timestamp: now}, "idTag", OccurenceConstraintViolation},
		{"start long idTag", StartTransactionRequest{ConnectorId: 1, IdTag: s("t", 21), Timestamp: now}, "idTag", PropertyConstraintViolation},
		{"start missing timestamp", StartTransactionRequest{ConnectorId: 1, IdTag: "T"}, "timestamp", OccurenceConstraintViolation},

		// StatusNotification
		{"status ok", StatusNotificationRequest{ConnectorId: 0, ErrorCode: ChargePointWeakSignal, Info: s("i", 50), Status: StatusFaulted,
			Timestamp: &now, VendorId: s("v", 255), VendorErrorCode: s("e", 50)}, "", ""},
		{"status negative connector", StatusNotificationRequest{ConnectorId: -1, ErrorCode: ChargePointNoError, Status: StatusAvailable}, "connectorId", PropertyConstraintViolation},
		{"status missing errorCode", StatusNotificationRequest{Status: StatusAvailable}, "errorCode", OccurenceConstraintViolation},
		{"status bad errorCode", StatusNotificationRequest{ErrorCode: "Broken", Status: StatusAvailable}, "errorCode", PropertyConstraintViolation},
		{"status missing status", StatusNotificationRequest{ErrorCode: ChargePointNoError}, "status", OccurenceConstraintViolation},
		{"status bad status", StatusNotificationRequest{ErrorCode: ChargePointNoError, Status: "available"}, "status", PropertyConstraintViolation},
		{"status long info", func() StatusNotificationRequest { r := status; r.Info = s("i", 51); return r }(), "info", PropertyConstraintViolation},
		{"status long vendorId", func() StatusNotificationRequest { r := status; r.VendorId = s("v", 256); return r }(), "vendorId", PropertyConstraintViolation},
		{"status long vendorErrorCode", func() StatusNotificationRequest { r := status; r.VendorErrorCode = s("e", 51); return r }(), "vendorErrorCode", PropertyConstraintViolation},

		// StopTransaction
		{"stop ok", StopTransactionRequest{TransactionId: 1, MeterStop: 10, Timestamp: now, IdTag: "T", Reason: ReasonEVDisconnected, TransactionData: meter}, "", ""},
		{"stop minimal", StopTransactionRequest{Timestamp: now}, "", ""},
		{"stop missing timestamp", StopTransactionRequest{TransactionId: 1}, "timestamp", OccurenceConstraintViolation},
		{"stop long idTag", StopTransactionRequest{Timestamp: now, IdTag: s("t", 21)}, "idTag", PropertyConstraintViolation},
		{"stop bad reason", StopTransactionRequest{Timestamp: now, Reason: "Deauthorized"}, "reason", PropertyConstraintViolation},
		{"stop bad transactionData", StopTransactionRequest{Timestamp: now, TransactionData: []MeterValue{{Timestamp: now}}}, "transactionData[0].sampledValue", OccurenceConstraintViolation},

		// Responses.
		{"authorize response ok", AuthorizeResponse{IdTagInfo: IdTagInfo{Status: AuthorizationConcurrentTx, ExpiryDate: &now, ParentIdTag: s("p", 20)}}, "", ""},
		{"authorize response missing status", AuthorizeResponse{}, "idTagInfo.status", OccurenceConstraintViolation},
		{"authorize response bad status", AuthorizeResponse{IdTagInfo: IdTagInfo{Status: "OK"}}, "idTagInfo.status", PropertyConstraintViolation},
		{"authorize response long parent", AuthorizeResponse{IdTagInfo: IdTagInfo{Status: AuthorizationAccepted, ParentIdTag: s("p", 21)}}, "idTagInfo.parentIdTag", PropertyConstraintViolation},
		{"boot response ok", BootNotificationResponse{Status: RegistrationPending, CurrentTime: now, Interval: 0}, "", ""},
		{"boot response bad status", BootNotificationResponse{Status: "accepted", CurrentTime: now}, "status", PropertyConstraintViolation},
		{"boot response missing time", BootNotificationResponse{Status: RegistrationAccepted}, "currentTime", OccurenceConstraintViolation},
		{"data transfer response ok", DataTransferResponse{Status: DataTransferUnknownMessageId}, "", ""},
		{"data transfer response bad", DataTransferResponse{Status: "Unknown"}, "status", PropertyConstraintViolation},
		{"heartbeat response ok", HeartbeatResponse{CurrentTime: now}, "", ""},
		{"heartbeat response missing time", HeartbeatResponse{}, "currentTime", OccurenceConstraintViolation},
		{"meter values response", MeterValuesResponse{}, "", ""},
		{"start response bad status", StartTransactionResponse{TransactionId: 1}, "idTagInfo.status", OccurenceConstraintViolation},
		{"status response", StatusNotificationResponse{}, "", ""},
		{"stop response empty", StopTransactionResponse{}, "", ""},
		{"stop response bad status", StopTransactionResponse{IdTagInfo: &IdTagInfo{Status: "x"}}, "idTagInfo.status", PropertyConstraintViolation},

		// Central system → station.
		{"change availability ok", ChangeAvailabilityRequest{ConnectorId: 0, Type: AvailabilityInoperative}, "", ""},
		{"change availability bad type", ChangeAvailabilityRequest{Type: "Off"}, "type", PropertyConstraintViolation},
		{"change availability response", ChangeAvailabilityResponse{Status: AvailabilityScheduled}, "", ""},
		{"change availability response missing", ChangeAvailabilityResponse{}, "status", OccurenceConstraintViolation},
		{"change configuration ok", ChangeConfigurationRequest{Key: s("k", 50), Value: s("v", 500)}, "", ""},
		{"change configuration empty value", ChangeConfigurationRequest{Key: "k"}, "", ""},
		{"change configuration missing key", ChangeConfigurationRequest{Value: "v"}, "key", OccurenceConstraintViolation},
		{"change configuration long value", ChangeConfigurationRequest{Key: "k", Value: s("v", 501)}, "value", PropertyConstraintViolation},
		{"change configuration response", ChangeConfigurationResponse{Status: ConfigurationRebootRequired}, "", ""},
		{"change configuration response bad", ChangeConfigurationResponse{Status: "Reboot"}, "status", PropertyConstraintViolation},
		{"clear cache", ClearCacheRequest{}, "", ""},
		{"clear cache response", ClearCacheResponse{Status: ClearCacheRejected}, "", ""},
		{"clear cache response bad", ClearCacheResponse{Status: "Done"}, "status", PropertyConstraintViolation},
		{"get configuration", GetConfigurationRequest{Key: []string{s("k", 50)}}, "", ""},
		{"get configuration long key", GetConfigurationRequest{Key: []string{"a", s("k", 51)}}, "key[1]", PropertyConstraintViolation},
		{"get configuration response", GetConfigurationResponse{ConfigurationKey: []KeyValue{{Key: "k", Value: ptr(s("v", 500))}}, UnknownKey: []string{"u"}}, "", ""},
		{"get configuration response missing key", GetConfigurationResponse{ConfigurationKey: []KeyValue{{Value: ptr("v")}}}, "configurationKey[0].key", OccurenceConstraintViolation},
		{"get configuration response long value", GetConfigurationResponse{ConfigurationKey: []KeyValue{{Key: "k", Value: ptr(s("v", 501))}}}, "configurationKey[0].value", PropertyConstraintViolation},
		{"get configuration response long unknown", GetConfigurationResponse{UnknownKey: []string{s("u", 51)}}, "unknownKey[0]", PropertyConstraintViolation},
		{"remote start ok", RemoteStartTransactionRequest{IdTag: "T", ConnectorId: ptr(1)}, "", ""},
		{"remote start connector 0", RemoteStartTransactionRequest{IdTag: "T", ConnectorId: ptr(0)}, "connectorId", PropertyConstraintViolation},
		{"remote start missing idTag", RemoteStartTransactionRequest{}, "idTag", OccurenceConstraintViolation},
		{"remote start response", RemoteStartTransactionResponse{Status: RemoteStartStopAccepted}, "", ""},
		{"remote start response bad", RemoteStartTransactionResponse{Status: "Started"}, "status", PropertyConstraintViolation},
		{"remote stop", RemoteStopTransactionRequest{}, "", ""},
		{"remote stop response", RemoteStopTransactionResponse{Status: RemoteStartStopRejected}, "", ""},
		{"remote stop response missing", RemoteStopTransactionResponse{}, "status", OccurenceConstraintViolation},
		{"reset ok", ResetRequest{Type: ResetSoft}, "", ""},
		{"reset missing", ResetRequest{}, "type", OccurenceConstraintViolation},
		{"reset bad", ResetRequest{Type: "hard"}, "type", PropertyConstraintViolation},
		{"reset response", ResetResponse{Status: ResetAccepted}, "", ""},
		{"reset response bad", ResetResponse{Status: "Scheduled"}, "status", PropertyConstraintViolation},
		{"unlock ok", UnlockConnectorRequest{ConnectorId: 1}, "", ""},
		{"unlock connector 0", UnlockConnectorRequest{}, "connectorId", PropertyConstraintViolation},
		{"unlock response", UnlockConnectorResponse{Status: UnlockStatusUnlockFailed}, "", ""},
		{"unlock response bad", UnlockConnectorResponse{Status: "Failed"}, "status", PropertyConstraintViolation},
		{"trigger ok", TriggerMessageRequest{RequestedMessage: TriggerStatusNotification, ConnectorId: ptr(2)}, "", ""},
		{"trigger missing", TriggerMessageRequest{}, "requestedMessage", OccurenceConstraintViolation},
		{"trigger bad", TriggerMessageRequest{RequestedMessage: "Authorize"}, "requestedMessage", PropertyConstraintViolation},
		{"trigger connector 0", TriggerMessageRequest{RequestedMessage: TriggerHeartbeat, ConnectorId: ptr(0)}, "connectorId", PropertyConstraintViolation},
		{"trigger response", TriggerMessageResponse{Status: TriggerMessageNotImplemented}, "", ""},
		{"trigger response bad", TriggerMessageResponse{Status: "NotSupported"}, "status", PropertyConstraintViolation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.v.Validate()
			if tt.field == "" {
				require.NoError(t, err)
				return
			}
			var fieldErr *FieldError
			require.ErrorAs(t, err, &fieldErr)
			require.Equal(t, tt.field, fieldErr.Field)
			require.Equal(t, tt.code, fieldErr.Code)
			require.NotEmpty(t, fieldErr.Reason)
		})
	}
}

func TestEnumsValid(t *testing.T) {
	for _, c := range []ChargePointErrorCode{
		ChargePointConnectorLockFailure, ChargePointEVCommunicationError, ChargePointGroundFailure,
		ChargePointHighTemperature, ChargePointInternalError, ChargePointLocalListConflict,
		ChargePointNoError, ChargePointOtherError, ChargePointOverCurrentFailure, ChargePointOverVoltage,
		ChargePointPowerMeterFailure, ChargePointPowerSwitchFailure, ChargePointReaderFailure,
		ChargePointResetFailure, ChargePointUnderVoltage, ChargePointWeakSignal,
	} {
		require.True(t, c.Valid(), c)
	}
	require.False(t, ChargePointErrorCode("Mode3Error").Valid())
	for _, s := range []ChargePointStatus{StatusAvailable, StatusPreparing, StatusCharging, StatusSuspendedEVSE,
		StatusSuspendedEV, StatusFinishing, StatusReserved, StatusUnavailable, StatusFaulted} {
		require.True(t, s.Valid(), s)
	}
	require.False(t, ChargePointStatus("Occupied").Valid())
	for _, r := range []string{ReasonEmergencyStop, ReasonEVDisconnected, ReasonHardReset, ReasonLocal, ReasonOther,
		ReasonPowerLoss, ReasonReboot, ReasonRemote, ReasonSoftReset, ReasonUnlockCommand, ReasonDeAuthorized} {
		require.True(t, validReason(r), r)
	}
	require.True(t, AuthorizationExpired.Valid())
	require.False(t, AuthorizationStatus("").Valid())
	require.True(t, RegistrationRejected.Valid())
	require.True(t, DataTransferRejected.Valid())
}

func TestRequestFor(t *testing.T) {
	for _, action := range []string{
		ActionAuthorize, ActionBootNotification, ActionDataTransfer, ActionHeartbeat,
		ActionMeterValues, ActionStartTransaction, ActionStatusNotification, ActionStopTransaction,
	} {
		t.Run(action, func(t *testing.T) {
			a, ok := RequestFor(action)
			require.True(t, ok)
			b, _ := RequestFor(action)
			require.NotSame(t, a, b, "each call returns a new value")
			require.Implements(t, (*validator)(nil), a)
			_, ok = ResponseFor(action)
			require.True(t, ok)
		})
	}
	for _, action := range []string{ActionReset, ActionRemoteStartTransaction, "authorize", "", "Foo"} {
		t.Run("not "+action, func(t *testing.T) {
			v, ok := RequestFor(action)
			require.False(t, ok)
			require.Nil(t, v)
		})
	}
}

func TestRequestToStationFor(t *testing.T) {
	for _, action := range []string{
		ActionChangeAvailability, ActionChangeConfiguration, ActionClearCache, ActionDataTransfer,
		ActionGetConfiguration, ActionRemoteStartTransaction, ActionRemoteStopTransaction,
		ActionReset, ActionUnlockConnector, ActionTriggerMessage,
		ActionGetDiagnostics, ActionUpdateFirmware, ActionGetLocalListVersion, ActionSendLocalList,
		ActionReserveNow, ActionCancelReservation, ActionSetChargingProfile, ActionClearChargingProfile,
		ActionGetCompositeSchedule,
	} {
		t.Run(action, func(t *testing.T) {
			v, ok := RequestToStationFor(action)
			require.True(t, ok)
			require.Implements(t, (*validator)(nil), v)
			resp, ok := ResponseFor(action)
			require.True(t, ok)
			require.Implements(t, (*validator)(nil), resp)
		})
	}
	_, ok := RequestToStationFor(ActionBootNotification)
	require.False(t, ok)
	_, ok = ResponseFor("Foo")
	require.False(t, ok)
}

// The official schemas forbid additional properties: a response carries
// exactly its fields, and optional ones only when set.
func TestResponseJSON(t *testing.T) {
	now := DateTime{time.Date(2026, 11, 22, 11, 0, 0, 0, time.FixedZone("CET", 3600))}
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"authorize", AuthorizeResponse{IdTagInfo: IdTagInfo{Status: AuthorizationInvalid}}, `{"idTagInfo":{"status":"Invalid"}}`},
		{"authorize full", AuthorizeResponse{IdTagInfo: IdTagInfo{Status: AuthorizationAccepted, ExpiryDate: &now, ParentIdTag: "P"}},
			`{"idTagInfo":{"status":"Accepted","expiryDate":"2026-11-22T10:00:00.000Z","parentIdTag":"P"}}`},
		{"boot", BootNotificationResponse{Status: RegistrationAccepted, CurrentTime: now, Interval: 300},
			`{"status":"Accepted","currentTime":"2026-11-22T10:00:00.000Z","interval":300}`},
		{"boot interval zero", BootNotificationResponse{Status: RegistrationPending, CurrentTime: now},
			`{"status":"Pending","currentTime":"2026-11-22T10:00:00.000Z","interval":0}`},
		{"data transfer", DataTransferResponse{Status: DataTransferUnknownVendorId}, `{"status":"UnknownVendorId"}`},
		{"data transfer with data", DataTransferResponse{Status: DataTransferAccepted, Data: "x"}, `{"status":"Accepted","data":"x"}`},
		{"heartbeat", HeartbeatResponse{CurrentTime: now}, `{"currentTime":"2026-11-22T10:00:00.000Z"}`},
		{"meter values", MeterValuesResponse{}, `{}`},
		{"start", StartTransactionResponse{IdTagInfo: IdTagInfo{Status: AuthorizationAccepted}, TransactionId: 7},
			`{"idTagInfo":{"status":"Accepted"},"transactionId":7}`},
		{"status", StatusNotificationResponse{}, `{}`},
		{"stop", StopTransactionResponse{}, `{}`},
		{"stop with idTagInfo", StopTransactionResponse{IdTagInfo: &IdTagInfo{Status: AuthorizationAccepted}}, `{"idTagInfo":{"status":"Accepted"}}`},
		{"change availability", ChangeAvailabilityResponse{Status: AvailabilityAccepted}, `{"status":"Accepted"}`},
		{"get configuration empty", GetConfigurationResponse{}, `{}`},
		{"get configuration", GetConfigurationResponse{ConfigurationKey: []KeyValue{{Key: "K", Readonly: false}}},
			`{"configurationKey":[{"key":"K","readonly":false}]}`},
		{"trigger", TriggerMessageResponse{Status: TriggerMessageAccepted}, `{"status":"Accepted"}`},
		{"get diagnostics nothing", GetDiagnosticsResponse{}, `{}`},
		{"update firmware", UpdateFirmwareResponse{}, `{}`},
		{"local list version", GetLocalListVersionResponse{}, `{"listVersion":0}`},
		{"send local list", SendLocalListResponse{Status: UpdateFailed}, `{"status":"Failed"}`},
		{"reserve", ReserveNowResponse{Status: ReservationUnavailable}, `{"status":"Unavailable"}`},
		{"composite rejected", GetCompositeScheduleResponse{Status: CompositeScheduleRejected}, `{"status":"Rejected"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewCallResult("1", tt.v)
			require.NoError(t, err)
			require.Equal(t, tt.want, string(r.Payload))
		})
	}
}

// A request built with the typed values survives the wire.
func TestRequestRoundTrip(t *testing.T) {
	now := DateTime{time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)}
	tx := 5
	reqs := []struct {
		action string
		v      any
	}{
		{ActionMeterValues, &MeterValuesRequest{ConnectorId: 1, TransactionId: &tx, MeterValue: []MeterValue{{Timestamp: now,
			SampledValue: []SampledValue{{Value: "12.5", Measurand: MeasurandEnergyActiveImportRegister, Unit: UnitKWh, Context: ContextTransactionEnd}}}}}},
		{ActionStopTransaction, &StopTransactionRequest{TransactionId: tx, MeterStop: 100, Timestamp: now, Reason: ReasonRemote}},
		{ActionStatusNotification, &StatusNotificationRequest{ConnectorId: 2, ErrorCode: ChargePointGroundFailure, Status: StatusFaulted, Timestamp: &now}},
	}
	for _, tt := range reqs {
		t.Run(tt.action, func(t *testing.T) {
			call, err := NewCall("1", tt.action, tt.v)
			require.NoError(t, err)
			b, err := Encode(call)
			require.NoError(t, err)
			msg, err := Decode(b)
			require.NoError(t, err)
			got, ok := RequestFor(tt.action)
			require.True(t, ok)
			require.NoError(t, msg.(*Call).UnmarshalPayload(got))
			require.Equal(t, tt.v, got)
		})
	}
}
