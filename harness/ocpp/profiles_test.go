package ocpp

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The actions of the Firmware Management, Local Auth List Management,
// Reservation and Smart Charging profiles that the central system sends:
// for each, a good request and answer, then each violation.
func TestValidateProfiles(t *testing.T) {
	now := DateTime{time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)}
	s := strings.Repeat
	accepted := &IdTagInfo{Status: AuthorizationAccepted}
	schedule := func(periods ...ChargingSchedulePeriod) ChargingSchedule {
		return ChargingSchedule{ChargingRateUnit: ChargingRateA, ChargingSchedulePeriod: periods}
	}
	period := ChargingSchedulePeriod{StartPeriod: 0, Limit: 16}
	profile := func(change func(*ChargingProfile)) ChargingProfile {
		p := ChargingProfile{ChargingProfileId: 1, StackLevel: 0, ChargingProfilePurpose: PurposeTxDefault,
			ChargingProfileKind: KindRelative, ChargingSchedule: schedule(period)}
		if change != nil {
			change(&p)
		}
		return p
	}
	set := func(connector int, change func(*ChargingProfile)) SetChargingProfileRequest {
		return SetChargingProfileRequest{ConnectorId: connector, CsChargingProfiles: profile(change)}
	}
	tests := []struct {
		name  string
		v     validator
		field string    // "" means valid
		code  ErrorCode // for invalid ones
	}{
		// GetDiagnostics
		{"get diagnostics ok", GetDiagnosticsRequest{Location: "ftp://user:pass@example.com/diag/", Retries: ptr(0),
			RetryInterval: ptr(30), StartTime: &now, StopTime: &now}, "", ""},
		{"get diagnostics missing location", GetDiagnosticsRequest{}, "location", OccurenceConstraintViolation},
		{"get diagnostics relative location", GetDiagnosticsRequest{Location: "diag/upload"}, "location", PropertyConstraintViolation},
		{"get diagnostics bad location", GetDiagnosticsRequest{Location: "ftp://[::1"}, "location", PropertyConstraintViolation},
		{"get diagnostics negative retries", GetDiagnosticsRequest{Location: "ftp://h/", Retries: ptr(-1)}, "retries", PropertyConstraintViolation},
		{"get diagnostics negative interval", GetDiagnosticsRequest{Location: "ftp://h/", RetryInterval: ptr(-5)}, "retryInterval", PropertyConstraintViolation},
		{"get diagnostics response", GetDiagnosticsResponse{FileName: s("f", 255)}, "", ""},
		{"get diagnostics response no file", GetDiagnosticsResponse{}, "", ""},
		{"get diagnostics response long name", GetDiagnosticsResponse{FileName: s("f", 256)}, "fileName", PropertyConstraintViolation},

		// UpdateFirmware
		{"update firmware ok", UpdateFirmwareRequest{Location: "https://example.com/fw.bin", RetrieveDate: now, Retries: ptr(3), RetryInterval: ptr(60)}, "", ""},
		{"update firmware missing location", UpdateFirmwareRequest{RetrieveDate: now}, "location", OccurenceConstraintViolation},
		{"update firmware relative location", UpdateFirmwareRequest{Location: "fw.bin", RetrieveDate: now}, "location", PropertyConstraintViolation},
		{"update firmware missing retrieveDate", UpdateFirmwareRequest{Location: "https://h/fw"}, "retrieveDate", OccurenceConstraintViolation},
		{"update firmware negative retries", UpdateFirmwareRequest{Location: "https://h/fw", RetrieveDate: now, Retries: ptr(-1)}, "retries", PropertyConstraintViolation},
		{"update firmware negative interval", UpdateFirmwareRequest{Location: "https://h/fw", RetrieveDate: now, RetryInterval: ptr(-1)}, "retryInterval", PropertyConstraintViolation},
		{"update firmware response", UpdateFirmwareResponse{}, "", ""},

		// GetLocalListVersion
		{"get local list version", GetLocalListVersionRequest{}, "", ""},
		{"local list version response", GetLocalListVersionResponse{ListVersion: 7}, "", ""},
		{"local list version response not supported", GetLocalListVersionResponse{ListVersion: -1}, "", ""},
		{"local list version response below -1", GetLocalListVersionResponse{ListVersion: -2}, "listVersion", PropertyConstraintViolation},

		// SendLocalList
		{"send local list full", SendLocalListRequest{ListVersion: 2, UpdateType: UpdateFull, LocalAuthorizationList: []AuthorizationData{
			{IdTag: s("t", 20), IdTagInfo: &IdTagInfo{Status: AuthorizationBlocked, ExpiryDate: &now, ParentIdTag: s("p", 20)}}}}, "", ""},
		{"send local list full empty", SendLocalListRequest{ListVersion: 0, UpdateType: UpdateFull}, "", ""},
		{"send local list differential removes", SendLocalListRequest{ListVersion: 3, UpdateType: UpdateDifferential, LocalAuthorizationList: []AuthorizationData{
			{IdTag: "A", IdTagInfo: accepted}, {IdTag: "B"}}}, "", ""},
		{"send local list negative version", SendLocalListRequest{ListVersion: -1, UpdateType: UpdateFull}, "listVersion", PropertyConstraintViolation},
		{"send local list missing updateType", SendLocalListRequest{ListVersion: 1}, "updateType", OccurenceConstraintViolation},
		{"send local list bad updateType", SendLocalListRequest{ListVersion: 1, UpdateType: "Partial"}, "updateType", PropertyConstraintViolation},
		{"send local list missing idTag", SendLocalListRequest{ListVersion: 1, UpdateType: UpdateDifferential, LocalAuthorizationList: []AuthorizationData{
			{IdTag: "A"}, {IdTagInfo: accepted}}}, "localAuthorizationList[1].idTag", OccurenceConstraintViolation},
		{"send local list long idTag", SendLocalListRequest{ListVersion: 1, UpdateType: UpdateFull, LocalAuthorizationList: []AuthorizationData{
			{IdTag: s("t", 21), IdTagInfo: accepted}}}, "localAuthorizationList[0].idTag", PropertyConstraintViolation},
		{"send local list idTag twice", SendLocalListRequest{ListVersion: 1, UpdateType: UpdateFull, LocalAuthorizationList: []AuthorizationData{
			{IdTag: "A", IdTagInfo: accepted}, {IdTag: "A", IdTagInfo: accepted}}}, "localAuthorizationList[1].idTag", PropertyConstraintViolation},
		{"send local list full without idTagInfo", SendLocalListRequest{ListVersion: 1, UpdateType: UpdateFull, LocalAuthorizationList: []AuthorizationData{
			{IdTag: "A", IdTagInfo: accepted}, {IdTag: "B"}}}, "localAuthorizationList[1].idTagInfo", OccurenceConstraintViolation},
		{"send local list bad status", SendLocalListRequest{ListVersion: 1, UpdateType: UpdateDifferential, LocalAuthorizationList: []AuthorizationData{
			{IdTag: "A", IdTagInfo: &IdTagInfo{Status: "Allowed"}}}}, "localAuthorizationList[0].idTagInfo.status", PropertyConstraintViolation},
		{"send local list long parent", SendLocalListRequest{ListVersion: 1, UpdateType: UpdateDifferential, LocalAuthorizationList: []AuthorizationData{
			{IdTag: "A", IdTagInfo: &IdTagInfo{Status: AuthorizationAccepted, ParentIdTag: s("p", 21)}}}}, "localAuthorizationList[0].idTagInfo.parentIdTag", PropertyConstraintViolation},
		{"send local list response", SendLocalListResponse{Status: UpdateVersionMismatch}, "", ""},
		{"send local list response missing", SendLocalListResponse{}, "status", OccurenceConstraintViolation},
		{"send local list response bad", SendLocalListResponse{Status: "Mismatch"}, "status", PropertyConstraintViolation},

		// ReserveNow
		{"reserve ok", ReserveNowRequest{ConnectorId: 0, ExpiryDate: now, IdTag: s("t", 20), ParentIdTag: s("p", 20), ReservationId: 0}, "", ""},
		{"reserve negative connector", ReserveNowRequest{ConnectorId: -1, ExpiryDate: now, IdTag: "T", ReservationId: 1}, "connectorId", PropertyConstraintViolation},
		{"reserve missing expiry", ReserveNowRequest{ConnectorId: 1, IdTag: "T", ReservationId: 1}, "expiryDate", OccurenceConstraintViolation},
		{"reserve missing idTag", ReserveNowRequest{ConnectorId: 1, ExpiryDate: now, ReservationId: 1}, "idTag", OccurenceConstraintViolation},
		{"reserve long idTag", ReserveNowRequest{ConnectorId: 1, ExpiryDate: now, IdTag: s("t", 21)}, "idTag", PropertyConstraintViolation},
		{"reserve long parent", ReserveNowRequest{ConnectorId: 1, ExpiryDate: now, IdTag: "T", ParentIdTag: s("p", 21)}, "parentIdTag", PropertyConstraintViolation},
		{"reserve response", ReserveNowResponse{Status: ReservationOccupied}, "", ""},
		{"reserve response missing", ReserveNowResponse{}, "status", OccurenceConstraintViolation},
		{"reserve response bad", ReserveNowResponse{Status: "Reserved"}, "status", PropertyConstraintViolation},

		// CancelReservation
		{"cancel reservation", CancelReservationRequest{ReservationId: 0}, "", ""},
		{"cancel reservation response", CancelReservationResponse{Status: CancelReservationRejected}, "", ""},
		{"cancel reservation response missing", CancelReservationResponse{}, "status", OccurenceConstraintViolation},
		{"cancel reservation response bad", CancelReservationResponse{Status: "Unknown"}, "status", PropertyConstraintViolation},

		// SetChargingProfile
		{"set profile ok", SetChargingProfileRequest{ConnectorId: 1, CsChargingProfiles: ChargingProfile{
			ChargingProfileId: 7, TransactionId: ptr(3), StackLevel: 2, ChargingProfilePurpose: PurposeTx,
			ChargingProfileKind: KindRecurring, RecurrencyKind: RecurrencyWeekly, ValidFrom: &now, ValidTo: &now,
			ChargingSchedule: ChargingSchedule{Duration: ptr(3600), StartSchedule: &now, ChargingRateUnit: ChargingRateW,
				MinChargingRate: ptr(1000.5), ChargingSchedulePeriod: []ChargingSchedulePeriod{
					{StartPeriod: 0, Limit: 11000, NumberPhases: ptr(3)}, {StartPeriod: 600, Limit: 7400.1, NumberPhases: ptr(1)}, {StartPeriod: 1200, Limit: 0}}}}}, "", ""},
		{"set profile max on 0", set(0, func(p *ChargingProfile) { p.ChargingProfilePurpose = PurposeChargePointMax }), "", ""},
		{"set profile default on 0", set(0, nil), "", ""},
		{"set profile negative connector", set(-1, nil), "connectorId", PropertyConstraintViolation},
		{"set profile max on a connector", set(1, func(p *ChargingProfile) { p.ChargingProfilePurpose = PurposeChargePointMax }), "connectorId", PropertyConstraintViolation},
		{"set profile tx on 0", set(0, func(p *ChargingProfile) { p.ChargingProfilePurpose = PurposeTx }), "connectorId", PropertyConstraintViolation},
		{"set profile negative stackLevel", set(1, func(p *ChargingProfile) { p.StackLevel = -1 }), "csChargingProfiles.stackLevel", PropertyConstraintViolation},
		{"set profile missing purpose", set(1, func(p *ChargingProfile) { p.ChargingProfilePurpose = "" }), "csChargingProfiles.chargingProfilePurpose", OccurenceConstraintViolation},
		{"set profile bad purpose", set(1, func(p *ChargingProfile) { p.ChargingProfilePurpose = "TxMaxProfile" }), "csChargingProfiles.chargingProfilePurpose", PropertyConstraintViolation},
		{"set profile missing kind", set(1, func(p *ChargingProfile) { p.ChargingProfileKind = "" }), "csChargingProfiles.chargingProfileKind", OccurenceConstraintViolation},
		{"set profile bad kind", set(1, func(p *ChargingProfile) { p.ChargingProfileKind = "Once" }), "csChargingProfiles.chargingProfileKind", PropertyConstraintViolation},
		{"set profile bad recurrency", set(1, func(p *ChargingProfile) { p.RecurrencyKind = "Monthly" }), "csChargingProfiles.recurrencyKind", PropertyConstraintViolation},
		{"set profile transaction on a default", set(1, func(p *ChargingProfile) { p.TransactionId = ptr(1) }), "csChargingProfiles.transactionId", PropertyConstraintViolation},
		{"set profile negative duration", set(1, func(p *ChargingProfile) { p.ChargingSchedule.Duration = ptr(-1) }), "csChargingProfiles.chargingSchedule.duration", PropertyConstraintViolation},
		{"set profile missing unit", set(1, func(p *ChargingProfile) { p.ChargingSchedule.ChargingRateUnit = "" }), "csChargingProfiles.chargingSchedule.chargingRateUnit", OccurenceConstraintViolation},
		{"set profile bad unit", set(1, func(p *ChargingProfile) { p.ChargingSchedule.ChargingRateUnit = "kW" }), "csChargingProfiles.chargingSchedule.chargingRateUnit", PropertyConstraintViolation},
		{"set profile no periods", set(1, func(p *ChargingProfile) { p.ChargingSchedule.ChargingSchedulePeriod = nil }), "csChargingProfiles.chargingSchedule.chargingSchedulePeriod", OccurenceConstraintViolation},
		{"set profile negative startPeriod", set(1, func(p *ChargingProfile) { p.ChargingSchedule.ChargingSchedulePeriod[0].StartPeriod = -1 }), "csChargingProfiles.chargingSchedule.chargingSchedulePeriod[0].startPeriod", PropertyConstraintViolation},
		{"set profile periods out of order", set(1, func(p *ChargingProfile) {
			p.ChargingSchedule.ChargingSchedulePeriod = []ChargingSchedulePeriod{{StartPeriod: 0, Limit: 6}, {StartPeriod: 60, Limit: 8}, {StartPeriod: 60, Limit: 10}}
		}), "csChargingProfiles.chargingSchedule.chargingSchedulePeriod[2].startPeriod", PropertyConstraintViolation},
		{"set profile negative limit", set(1, func(p *ChargingProfile) { p.ChargingSchedule.ChargingSchedulePeriod[0].Limit = -6 }), "csChargingProfiles.chargingSchedule.chargingSchedulePeriod[0].limit", PropertyConstraintViolation},
		{"set profile limit not a multiple of 0.1", set(1, func(p *ChargingProfile) { p.ChargingSchedule.ChargingSchedulePeriod[0].Limit = 6.25 }), "csChargingProfiles.chargingSchedule.chargingSchedulePeriod[0].limit", PropertyConstraintViolation},
		{"set profile no phases", set(1, func(p *ChargingProfile) { p.ChargingSchedule.ChargingSchedulePeriod[0].NumberPhases = ptr(0) }), "csChargingProfiles.chargingSchedule.chargingSchedulePeriod[0].numberPhases", PropertyConstraintViolation},
		{"set profile four phases", set(1, func(p *ChargingProfile) { p.ChargingSchedule.ChargingSchedulePeriod[0].NumberPhases = ptr(4) }), "csChargingProfiles.chargingSchedule.chargingSchedulePeriod[0].numberPhases", PropertyConstraintViolation},
		{"set profile bad minChargingRate", set(1, func(p *ChargingProfile) { p.ChargingSchedule.MinChargingRate = ptr(0.05) }), "csChargingProfiles.chargingSchedule.minChargingRate", PropertyConstraintViolation},
		{"set profile response", SetChargingProfileResponse{Status: ChargingProfileNotSupported}, "", ""},
		{"set profile response missing", SetChargingProfileResponse{}, "status", OccurenceConstraintViolation},
		{"set profile response bad", SetChargingProfileResponse{Status: "Unknown"}, "status", PropertyConstraintViolation},

		// RemoteStartTransaction with a profile
		{"remote start with a TxProfile", RemoteStartTransactionRequest{IdTag: "T", ChargingProfile: ptr(profile(func(p *ChargingProfile) { p.ChargingProfilePurpose = PurposeTx }))}, "", ""},
		{"remote start with a default profile", RemoteStartTransactionRequest{IdTag: "T", ChargingProfile: ptr(profile(nil))}, "chargingProfile.chargingProfilePurpose", PropertyConstraintViolation},
		{"remote start with a bad profile", RemoteStartTransactionRequest{IdTag: "T", ChargingProfile: ptr(profile(func(p *ChargingProfile) {
			p.ChargingProfilePurpose = PurposeTx
			p.StackLevel = -1
		}))}, "chargingProfile.stackLevel", PropertyConstraintViolation},

		// ClearChargingProfile
		{"clear profiles all", ClearChargingProfileRequest{}, "", ""},
		{"clear profiles filtered", ClearChargingProfileRequest{Id: ptr(1), ConnectorId: ptr(0), ChargingProfilePurpose: PurposeTxDefault, StackLevel: ptr(0)}, "", ""},
		{"clear profiles negative connector", ClearChargingProfileRequest{ConnectorId: ptr(-1)}, "connectorId", PropertyConstraintViolation},
		{"clear profiles negative stackLevel", ClearChargingProfileRequest{StackLevel: ptr(-1)}, "stackLevel", PropertyConstraintViolation},
		{"clear profiles bad purpose", ClearChargingProfileRequest{ChargingProfilePurpose: "Tx"}, "chargingProfilePurpose", PropertyConstraintViolation},
		{"clear profiles response", ClearChargingProfileResponse{Status: ClearChargingProfileUnknown}, "", ""},
		{"clear profiles response missing", ClearChargingProfileResponse{}, "status", OccurenceConstraintViolation},
		{"clear profiles response bad", ClearChargingProfileResponse{Status: "Rejected"}, "status", PropertyConstraintViolation},

		// GetCompositeSchedule
		{"composite ok", GetCompositeScheduleRequest{ConnectorId: 0, Duration: 3600, ChargingRateUnit: ChargingRateW}, "", ""},
		{"composite negative connector", GetCompositeScheduleRequest{ConnectorId: -1, Duration: 60}, "connectorId", PropertyConstraintViolation},
		{"composite negative duration", GetCompositeScheduleRequest{ConnectorId: 1, Duration: -60}, "duration", PropertyConstraintViolation},
		{"composite bad unit", GetCompositeScheduleRequest{ConnectorId: 1, Duration: 60, ChargingRateUnit: "kW"}, "chargingRateUnit", PropertyConstraintViolation},
		{"composite response", GetCompositeScheduleResponse{Status: CompositeScheduleAccepted, ConnectorId: ptr(1), ScheduleStart: &now,
			ChargingSchedule: &ChargingSchedule{Duration: ptr(3600), ChargingRateUnit: ChargingRateA, ChargingSchedulePeriod: []ChargingSchedulePeriod{period}}}, "", ""},
		{"composite response rejected", GetCompositeScheduleResponse{Status: CompositeScheduleRejected}, "", ""},
		{"composite response missing status", GetCompositeScheduleResponse{}, "status", OccurenceConstraintViolation},
		{"composite response bad status", GetCompositeScheduleResponse{Status: "Unknown"}, "status", PropertyConstraintViolation},
		{"composite response negative connector", GetCompositeScheduleResponse{Status: CompositeScheduleAccepted, ConnectorId: ptr(-1)}, "connectorId", PropertyConstraintViolation},
		{"composite response bad schedule", GetCompositeScheduleResponse{Status: CompositeScheduleAccepted,
			ChargingSchedule: &ChargingSchedule{ChargingRateUnit: ChargingRateA}}, "chargingSchedule.chargingSchedulePeriod", OccurenceConstraintViolation},
		{"composite response bad period", GetCompositeScheduleResponse{Status: CompositeScheduleAccepted,
			ChargingSchedule: &ChargingSchedule{ChargingRateUnit: ChargingRateA, ChargingSchedulePeriod: []ChargingSchedulePeriod{{Limit: 6, NumberPhases: ptr(5)}}}},
			"chargingSchedule.chargingSchedulePeriod[0].numberPhases", PropertyConstraintViolation},
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

// A station's answer that breaks the schema is refused when it is decoded,
// as a FrameError naming the field: what the steps' Call returns.
func TestProfileAnswersDecoded(t *testing.T) {
	tests := []struct {
		action, payload string
		field           string
		code            ErrorCode
	}{
		{ActionSendLocalList, `{"status":"Done"}`, "status", PropertyConstraintViolation},
		{ActionGetLocalListVersion, `{"listVersion":"3"}`, "listVersion", TypeConstraintViolation},
		{ActionReserveNow, `{}`, "status", OccurenceConstraintViolation},
		{ActionCancelReservation, `{"status":"accepted"}`, "status", PropertyConstraintViolation},
		{ActionSetChargingProfile, `{"status":"Unknown"}`, "status", PropertyConstraintViolation},
		{ActionClearChargingProfile, `{"status":"Rejected"}`, "status", PropertyConstraintViolation},
		{ActionGetCompositeSchedule, `{"status":"Accepted","chargingSchedule":{"chargingRateUnit":"A","chargingSchedulePeriod":[{"startPeriod":0,"limit":6.05}]}}`,
			"chargingSchedule.chargingSchedulePeriod[0].limit", PropertyConstraintViolation},
		{ActionGetDiagnostics, `{"fileName":"` + strings.Repeat("f", 256) + `"}`, "fileName", PropertyConstraintViolation},
		{ActionUpdateFirmware, `[]`, "", FormationViolation},
	}
	for _, tt := range tests {
		t.Run(tt.action, func(t *testing.T) {
			resp, ok := ResponseFor(tt.action)
			require.True(t, ok)
			r := &CallResult{ID: "1", Payload: []byte(tt.payload)}
			err := r.UnmarshalPayload(resp)
			var fe *FrameError
			require.ErrorAs(t, err, &fe)
			require.Equal(t, tt.code, fe.Code)
			require.Contains(t, fe.Reason, tt.field)
		})
	}
}

// A profile survives the wire: optional fields stay absent, the limit a
// decimal.
func TestChargingProfileRoundTrip(t *testing.T) {
	start := DateTime{time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)}
	req := &SetChargingProfileRequest{ConnectorId: 1, CsChargingProfiles: ChargingProfile{
		ChargingProfileId: 9, StackLevel: 1, ChargingProfilePurpose: PurposeTxDefault, ChargingProfileKind: KindAbsolute,
		ChargingSchedule: ChargingSchedule{StartSchedule: &start, ChargingRateUnit: ChargingRateA,
			ChargingSchedulePeriod: []ChargingSchedulePeriod{{StartPeriod: 0, Limit: 6.5}, {StartPeriod: 900, Limit: 16, NumberPhases: ptr(1)}}},
	}}
	call, err := NewCall("1", ActionSetChargingProfile, req)
	require.NoError(t, err)
	require.JSONEq(t, `{"connectorId":1,"csChargingProfiles":{"chargingProfileId":9,"stackLevel":1,
		"chargingProfilePurpose":"TxDefaultProfile","chargingProfileKind":"Absolute",
		"chargingSchedule":{"startSchedule":"2026-11-22T10:00:00.000Z","chargingRateUnit":"A",
		"chargingSchedulePeriod":[{"startPeriod":0,"limit":6.5},{"startPeriod":900,"limit":16,"numberPhases":1}]}}}`, string(call.Payload))
	got, ok := RequestToStationFor(ActionSetChargingProfile)
	require.True(t, ok)
	require.NoError(t, call.UnmarshalPayload(got))
	require.Equal(t, req, got)
}
