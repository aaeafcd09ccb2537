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
// to a station (the Core actions and TriggerMessage), for a station
// simulator to decode its calls.
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
	}
	return nil, false
}

// ResponseFor returns a pointer to a new zero response for the answer to
// an action in either direction (the Core actions and TriggerMessage),
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
	}
	return nil, false
}
