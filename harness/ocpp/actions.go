package ocpp

// RequestFor returns a pointer to a new zero request for an action that a
// station sends to the central system (Core's, and the Firmware Management
// profile's notifications), ready for Call.UnmarshalPayload. It
// reports false for any other action, which a central system answers with
// NotImplemented.
func RequestFor(action string) (any, bool) {
	switch action {
	case ActionAuthorize:
		return &AuthorizeRequest{}, true
	case ActionBootNotification:
		return &BootNotificationRequest{}, true
	case ActionDataTransfer:
		return &DataTransferRequest{}, true
	case ActionHeartbeat:
		return &HeartbeatRequest{}, true
	case ActionMeterValues:
		return &MeterValuesRequest{}, true
	case ActionStartTransaction:
		return &StartTransactionRequest{}, true
	case ActionStatusNotification:
		return &StatusNotificationRequest{}, true
	case ActionStopTransaction:
		return &StopTransactionRequest{}, true
	case ActionDiagnosticsStatusNotification:
		return &DiagnosticsStatusNotificationRequest{}, true
	case ActionFirmwareStatusNotification:
		return &FirmwareStatusNotificationRequest{}, true
	}
	return nil, false
}

// RequestToStationFor is RequestFor for the other direction: it returns a
// pointer to a new zero request for an action that the central system sends
// to a station (Core's, TriggerMessage, and those of the Firmware
// Management, Local Auth List Management, Reservation and Smart Charging
// profiles), for a station simulator to decode its calls.
func RequestToStationFor(action string) (any, bool) {
	switch action {
	case ActionChangeAvailability:
		return &ChangeAvailabilityRequest{}, true
	case ActionChangeConfiguration:
		return &ChangeConfigurationRequest{}, true
	case ActionClearCache:
		return &ClearCacheRequest{}, true
	case ActionDataTransfer:
		return &DataTransferRequest{}, true
	case ActionGetConfiguration:
		return &GetConfigurationRequest{}, true
	case ActionRemoteStartTransaction:
		return &RemoteStartTransactionRequest{}, true
	case ActionRemoteStopTransaction:
		return &RemoteStopTransactionRequest{}, true
	case ActionReset:
		return &ResetRequest{}, true
	case ActionUnlockConnector:
		return &UnlockConnectorRequest{}, true
	case ActionTriggerMessage:
		return &TriggerMessageRequest{}, true
	case ActionGetDiagnostics:
		return &GetDiagnosticsRequest{}, true
	case ActionUpdateFirmware:
		return &UpdateFirmwareRequest{}, true
	case ActionGetLocalListVersion:
		return &GetLocalListVersionRequest{}, true
	case ActionSendLocalList:
		return &SendLocalListRequest{}, true
	case ActionReserveNow:
		return &ReserveNowRequest{}, true
	case ActionCancelReservation:
		return &CancelReservationRequest{}, true
	case ActionSetChargingProfile:
		return &SetChargingProfileRequest{}, true
	case ActionClearChargingProfile:
		return &ClearChargingProfileRequest{}, true
	case ActionGetCompositeSchedule:
		return &GetCompositeScheduleRequest{}, true
	}
	return nil, false
}

// ResponseFor returns a pointer to a new zero response for the answer to
// an action in either direction (every action of RequestFor and
// RequestToStationFor),
// ready for CallResult.UnmarshalPayload. The caller must remember which
// action it called: a CALLRESULT does not name it.
func ResponseFor(action string) (any, bool) {
	switch action {
	case ActionAuthorize:
		return &AuthorizeResponse{}, true
	case ActionBootNotification:
		return &BootNotificationResponse{}, true
	case ActionDataTransfer:
		return &DataTransferResponse{}, true
	case ActionHeartbeat:
		return &HeartbeatResponse{}, true
	case ActionMeterValues:
		return &MeterValuesResponse{}, true
	case ActionStartTransaction:
		return &StartTransactionResponse{}, true
	case ActionStatusNotification:
		return &StatusNotificationResponse{}, true
	case ActionStopTransaction:
		return &StopTransactionResponse{}, true
	case ActionDiagnosticsStatusNotification:
		return &DiagnosticsStatusNotificationResponse{}, true
	case ActionFirmwareStatusNotification:
		return &FirmwareStatusNotificationResponse{}, true
	case ActionChangeAvailability:
		return &ChangeAvailabilityResponse{}, true
	case ActionChangeConfiguration:
		return &ChangeConfigurationResponse{}, true
	case ActionClearCache:
		return &ClearCacheResponse{}, true
	case ActionGetConfiguration:
		return &GetConfigurationResponse{}, true
	case ActionRemoteStartTransaction:
		return &RemoteStartTransactionResponse{}, true
	case ActionRemoteStopTransaction:
		return &RemoteStopTransactionResponse{}, true
	case ActionReset:
		return &ResetResponse{}, true
	case ActionUnlockConnector:
		return &UnlockConnectorResponse{}, true
	case ActionTriggerMessage:
		return &TriggerMessageResponse{}, true
	case ActionGetDiagnostics:
		return &GetDiagnosticsResponse{}, true
	case ActionUpdateFirmware:
		return &UpdateFirmwareResponse{}, true
	case ActionGetLocalListVersion:
		return &GetLocalListVersionResponse{}, true
	case ActionSendLocalList:
		return &SendLocalListResponse{}, true
	case ActionReserveNow:
		return &ReserveNowResponse{}, true
	case ActionCancelReservation:
		return &CancelReservationResponse{}, true
	case ActionSetChargingProfile:
		return &SetChargingProfileResponse{}, true
	case ActionClearChargingProfile:
		return &ClearChargingProfileResponse{}, true
	case ActionGetCompositeSchedule:
		return &GetCompositeScheduleResponse{}, true
	}
	return nil, false
}
