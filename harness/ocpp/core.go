package ocpp

// Actions of the Core profile. Action names are case-sensitive on the wire.
const (
	// Station → central system.
	ActionAuthorize          = "Authorize"
	ActionBootNotification   = "BootNotification"
	ActionDataTransfer       = "DataTransfer" // both directions
	ActionHeartbeat          = "Heartbeat"
	ActionMeterValues        = "MeterValues"
	ActionStartTransaction   = "StartTransaction"
	ActionStatusNotification = "StatusNotification"
	ActionStopTransaction    = "StopTransaction"

	// Central system → station.
	ActionChangeAvailability     = "ChangeAvailability"
	ActionChangeConfiguration    = "ChangeConfiguration"
	ActionClearCache             = "ClearCache"
	ActionGetConfiguration       = "GetConfiguration"
	ActionRemoteStartTransaction = "RemoteStartTransaction"
	ActionRemoteStopTransaction  = "RemoteStopTransaction"
	ActionReset                  = "Reset"
	ActionUnlockConnector        = "UnlockConnector"
)

// ActionTriggerMessage belongs to the Remote Trigger profile, not Core; it
// is here because central systems use it to ask for a status or a
// heartbeat on demand.
const ActionTriggerMessage = "TriggerMessage"

// Maximum lengths of the OCPP 1.6 string types, in characters.
const (
	MaxCiString20  = 20
	MaxCiString25  = 25
	MaxCiString50  = 50
	MaxCiString255 = 255
	MaxCiString500 = 500
)

// AuthorizationStatus is idTagInfo.status.
type AuthorizationStatus string

// The values of AuthorizationStatus.
const (
	AuthorizationAccepted     AuthorizationStatus = "Accepted"
	AuthorizationBlocked      AuthorizationStatus = "Blocked"
	AuthorizationExpired      AuthorizationStatus = "Expired"
	AuthorizationInvalid      AuthorizationStatus = "Invalid"
	AuthorizationConcurrentTx AuthorizationStatus = "ConcurrentTx"
)

// Valid reports whether s is in the enumeration.
func (s AuthorizationStatus) Valid() bool {
	switch s {
	case AuthorizationAccepted, AuthorizationBlocked, AuthorizationExpired,
		AuthorizationInvalid, AuthorizationConcurrentTx:
		return true
	}
	return false
}

// IdTagInfo is what the central system says about an idTag.
type IdTagInfo struct {
	Status      AuthorizationStatus `json:"status"`
	ExpiryDate  *DateTime           `json:"expiryDate,omitempty"`
	ParentIdTag string              `json:"parentIdTag,omitempty"`
}

// AuthorizeRequest asks whether an idTag may charge.
type AuthorizeRequest struct {
	IdTag string `json:"idTag"`
}

// AuthorizeResponse answers an AuthorizeRequest. A refused tag is a normal
// answer with a status other than Accepted, never a CALLERROR.
type AuthorizeResponse struct {
	IdTagInfo IdTagInfo `json:"idTagInfo"`
}

// RegistrationStatus answers a BootNotification.
type RegistrationStatus string

// The values of RegistrationStatus.
const (
	RegistrationAccepted RegistrationStatus = "Accepted"
	RegistrationPending  RegistrationStatus = "Pending"
	RegistrationRejected RegistrationStatus = "Rejected"
)

// Valid reports whether s is in the enumeration.
func (s RegistrationStatus) Valid() bool {
	switch s {
	case RegistrationAccepted, RegistrationPending, RegistrationRejected:
		return true
	}
	return false
}

// BootNotificationRequest is the first call a station makes after it
// connects, to register.
type BootNotificationRequest struct {
	ChargePointVendor       string `json:"chargePointVendor"`
	ChargePointModel        string `json:"chargePointModel"`
	ChargePointSerialNumber string `json:"chargePointSerialNumber,omitempty"`
	ChargeBoxSerialNumber   string `json:"chargeBoxSerialNumber,omitempty"`
	FirmwareVersion         string `json:"firmwareVersion,omitempty"`
	Iccid                   string `json:"iccid,omitempty"`
	Imsi                    string `json:"imsi,omitempty"`
	MeterType               string `json:"meterType,omitempty"`
	MeterSerialNumber       string `json:"meterSerialNumber,omitempty"`
}

// BootNotificationResponse answers a BootNotificationRequest.
type BootNotificationResponse struct {
	Status      RegistrationStatus `json:"status"`
	CurrentTime DateTime           `json:"currentTime"`
	// Interval is the heartbeat interval in seconds when Accepted, and the
	// delay before the next BootNotification otherwise.
	Interval int `json:"interval"`
}

// DataTransferStatus answers a DataTransfer.
type DataTransferStatus string

// The values of DataTransferStatus.
const (
	DataTransferAccepted         DataTransferStatus = "Accepted"
	DataTransferRejected         DataTransferStatus = "Rejected"
	DataTransferUnknownMessageId DataTransferStatus = "UnknownMessageId"
	DataTransferUnknownVendorId  DataTransferStatus = "UnknownVendorId"
)

// Valid reports whether s is in the enumeration.
func (s DataTransferStatus) Valid() bool {
	switch s {
	case DataTransferAccepted, DataTransferRejected,
		DataTransferUnknownMessageId, DataTransferUnknownVendorId:
		return true
	}
	return false
}

// DataTransferRequest carries vendor-specific data, in either direction.
type DataTransferRequest struct {
	VendorId  string `json:"vendorId"`
	MessageId string `json:"messageId,omitempty"`
	Data      string `json:"data,omitempty"`
}

// DataTransferResponse answers a DataTransferRequest.
type DataTransferResponse struct {
	Status DataTransferStatus `json:"status"`
	Data   string             `json:"data,omitempty"`
}

// HeartbeatRequest tells the central system the station is alive; its
// payload is empty.
type HeartbeatRequest struct{}

// HeartbeatResponse answers a HeartbeatRequest with the time, which
// stations use to set their clocks.
type HeartbeatResponse struct {
	CurrentTime DateTime `json:"currentTime"`
}

// Values of SampledValue.Context (ReadingContext). Untyped, so that they fit
// the plain string field.
const (
	ContextInterruptionBegin = "Interruption.Begin"
	ContextInterruptionEnd   = "Interruption.End"
	ContextSampleClock       = "Sample.Clock"
	ContextSamplePeriodic    = "Sample.Periodic" // the default
	ContextTransactionBegin  = "Transaction.Begin"
	ContextTransactionEnd    = "Transaction.End"
	ContextTrigger           = "Trigger"
	ContextOther             = "Other"
)

// Values of SampledValue.Format (ValueFormat).
const (
	FormatRaw        = "Raw" // the default
	FormatSignedData = "SignedData"
)

// Values of SampledValue.Measurand.
const (
	MeasurandCurrentExport                = "Current.Export"
	MeasurandCurrentImport                = "Current.Import"
	MeasurandCurrentOffered               = "Current.Offered"
	MeasurandEnergyActiveExportRegister   = "Energy.Active.Export.Register"
	MeasurandEnergyActiveImportRegister   = "Energy.Active.Import.Register" // the default
	MeasurandEnergyReactiveExportRegister = "Energy.Reactive.Export.Register"
	MeasurandEnergyReactiveImportRegister = "Energy.Reactive.Import.Register"
	MeasurandEnergyActiveExportInterval   = "Energy.Active.Export.Interval"
	MeasurandEnergyActiveImportInterval   = "Energy.Active.Import.Interval"
	MeasurandEnergyReactiveExportInterval = "Energy.Reactive.Export.Interval"
	MeasurandEnergyReactiveImportInterval = "Energy.Reactive.Import.Interval"
	MeasurandFrequency                    = "Frequency"
	MeasurandPowerActiveExport            = "Power.Active.Export"
	MeasurandPowerActiveImport            = "Power.Active.Import"
	MeasurandPowerFactor                  = "Power.Factor"
	MeasurandPowerOffered                 = "Power.Offered"
	MeasurandPowerReactiveExport          = "Power.Reactive.Export"
	MeasurandPowerReactiveImport          = "Power.Reactive.Import"
	MeasurandRPM                          = "RPM"
	MeasurandSoC                          = "SoC"
	MeasurandTemperature                  = "Temperature"
	MeasurandVoltage                      = "Voltage"
)

// Values of SampledValue.Phase.
const (
	PhaseL1   = "L1"
	PhaseL2   = "L2"
	PhaseL3   = "L3"
	PhaseN    = "N"
	PhaseL1N  = "L1-N"
	PhaseL2N  = "L2-N"
	PhaseL3N  = "L3-N"
	PhaseL1L2 = "L1-L2"
	PhaseL2L3 = "L2-L3"
	PhaseL3L1 = "L3-L1"
)

// Values of SampledValue.Location.
const (
	LocationBody   = "Body"
	LocationCable  = "Cable"
	LocationEV     = "EV"
	LocationInlet  = "Inlet"
	LocationOutlet = "Outlet" // the default
)

// Values of SampledValue.Unit (UnitOfMeasure). OCPP 1.6 spells it Celcius;
// the errata add Celsius, and both occur in the field.
const (
	UnitWh         = "Wh" // the default
	UnitKWh        = "kWh"
	UnitVarh       = "varh"
	UnitKvarh      = "kvarh"
	UnitW          = "W"
	UnitKW         = "kW"
	UnitVA         = "VA"
	UnitKVA        = "kVA"
	UnitVar        = "var"
	UnitKvar       = "kvar"
	UnitA          = "A"
	UnitV          = "V"
	UnitK          = "K"
	UnitCelcius    = "Celcius"
	UnitCelsius    = "Celsius"
	UnitFahrenheit = "Fahrenheit"
	UnitPercent    = "Percent"
)

// SampledValue is one measured value. Value is a string on the wire; the
// optional fields are strings holding the Context, Format, Measurand,
// Phase, Location and Unit constants.
type SampledValue struct {
	Value     string `json:"value"`
	Context   string `json:"context,omitempty"`
	Format    string `json:"format,omitempty"`
	Measurand string `json:"measurand,omitempty"`
	Phase     string `json:"phase,omitempty"`
	Location  string `json:"location,omitempty"`
	Unit      string `json:"unit,omitempty"`
}

// MeterValue is a set of samples taken at one moment.
type MeterValue struct {
	Timestamp    DateTime       `json:"timestamp"`
	SampledValue []SampledValue `json:"sampledValue"`
}

// MeterValuesRequest reports meter readings, during a transaction or not.
type MeterValuesRequest struct {
	ConnectorId   int          `json:"connectorId"`
	TransactionId *int         `json:"transactionId,omitempty"`
	MeterValue    []MeterValue `json:"meterValue"`
}

// MeterValuesResponse answers a MeterValuesRequest; it is empty.
type MeterValuesResponse struct{}

// StartTransactionRequest reports that charging started.
type StartTransactionRequest struct {
	ConnectorId   int      `json:"connectorId"`
	IdTag         string   `json:"idTag"`
	MeterStart    int      `json:"meterStart"`
	ReservationId *int     `json:"reservationId,omitempty"`
	Timestamp     DateTime `json:"timestamp"`
}

// StartTransactionResponse answers a StartTransactionRequest with the id
// the station uses for the transaction from then on.
type StartTransactionResponse struct {
	IdTagInfo     IdTagInfo `json:"idTagInfo"`
	TransactionId int       `json:"transactionId"`
}

// ChargePointStatus is a connector's status in a StatusNotification.
type ChargePointStatus string

// The values of ChargePointStatus.
const (
	StatusAvailable     ChargePointStatus = "Available"
	StatusPreparing     ChargePointStatus = "Preparing"
	StatusCharging      ChargePointStatus = "Charging"
	StatusSuspendedEVSE ChargePointStatus = "SuspendedEVSE"
	StatusSuspendedEV   ChargePointStatus = "SuspendedEV"
	StatusFinishing     ChargePointStatus = "Finishing"
	StatusReserved      ChargePointStatus = "Reserved"
	StatusUnavailable   ChargePointStatus = "Unavailable"
	StatusFaulted       ChargePointStatus = "Faulted"
)

// Valid reports whether s is in the enumeration.
func (s ChargePointStatus) Valid() bool {
	switch s {
	case StatusAvailable, StatusPreparing, StatusCharging, StatusSuspendedEVSE,
		StatusSuspendedEV, StatusFinishing, StatusReserved, StatusUnavailable,
		StatusFaulted:
		return true
	}
	return false
}

// ChargePointErrorCode is StatusNotification.errorCode. It is prefixed
// ChargePoint to keep it apart from the CALLERROR ErrorCode.
type ChargePointErrorCode string

// The values of ChargePointErrorCode.
const (
	ChargePointConnectorLockFailure ChargePointErrorCode = "ConnectorLockFailure"
	ChargePointEVCommunicationError ChargePointErrorCode = "EVCommunicationError"
	ChargePointGroundFailure        ChargePointErrorCode = "GroundFailure"
	ChargePointHighTemperature      ChargePointErrorCode = "HighTemperature"
	ChargePointInternalError        ChargePointErrorCode = "InternalError"
	ChargePointLocalListConflict    ChargePointErrorCode = "LocalListConflict"
	ChargePointNoError              ChargePointErrorCode = "NoError"
	ChargePointOtherError           ChargePointErrorCode = "OtherError"
	ChargePointOverCurrentFailure   ChargePointErrorCode = "OverCurrentFailure"
	ChargePointOverVoltage          ChargePointErrorCode = "OverVoltage"
	ChargePointPowerMeterFailure    ChargePointErrorCode = "PowerMeterFailure"
	ChargePointPowerSwitchFailure   ChargePointErrorCode = "PowerSwitchFailure"
	ChargePointReaderFailure        ChargePointErrorCode = "ReaderFailure"
	ChargePointResetFailure         ChargePointErrorCode = "ResetFailure"
	ChargePointUnderVoltage         ChargePointErrorCode = "UnderVoltage"
	ChargePointWeakSignal           ChargePointErrorCode = "WeakSignal"
)

// Valid reports whether c is in the enumeration.
func (c ChargePointErrorCode) Valid() bool {
	switch c {
	case ChargePointConnectorLockFailure, ChargePointEVCommunicationError,
		ChargePointGroundFailure, ChargePointHighTemperature,
		ChargePointInternalError, ChargePointLocalListConflict,
		ChargePointNoError, ChargePointOtherError,
		ChargePointOverCurrentFailure, ChargePointOverVoltage,
		ChargePointPowerMeterFailure, ChargePointPowerSwitchFailure,
		ChargePointReaderFailure, ChargePointResetFailure,
		ChargePointUnderVoltage, ChargePointWeakSignal:
		return true
	}
	return false
}

// StatusNotificationRequest reports a connector's status, or the whole
// station's for connector 0.
type StatusNotificationRequest struct {
	ConnectorId     int                  `json:"connectorId"`
	ErrorCode       ChargePointErrorCode `json:"errorCode"`
	Info            string               `json:"info,omitempty"`
	Status          ChargePointStatus    `json:"status"`
	Timestamp       *DateTime            `json:"timestamp,omitempty"`
	VendorId        string               `json:"vendorId,omitempty"`
	VendorErrorCode string               `json:"vendorErrorCode,omitempty"`
}

// StatusNotificationResponse answers a StatusNotificationRequest; it is
// empty.
type StatusNotificationResponse struct{}

// Values of StopTransactionRequest.Reason. Untyped, so that they fit the
// plain string field. Without a reason, Local is meant.
const (
	ReasonEmergencyStop  = "EmergencyStop"
	ReasonEVDisconnected = "EVDisconnected"
	ReasonHardReset      = "HardReset"
	ReasonLocal          = "Local"
	ReasonOther          = "Other"
	ReasonPowerLoss      = "PowerLoss"
	ReasonReboot         = "Reboot"
	ReasonRemote         = "Remote"
	ReasonSoftReset      = "SoftReset"
	ReasonUnlockCommand  = "UnlockCommand"
	ReasonDeAuthorized   = "DeAuthorized"
)

// StopTransactionRequest reports that charging ended.
type StopTransactionRequest struct {
	TransactionId   int          `json:"transactionId"`
	MeterStop       int          `json:"meterStop"`
	Timestamp       DateTime     `json:"timestamp"`
	IdTag           string       `json:"idTag,omitempty"`
	Reason          string       `json:"reason,omitempty"`
	TransactionData []MeterValue `json:"transactionData,omitempty"`
}

// StopTransactionResponse answers a StopTransactionRequest. IdTagInfo is
// optional: it is only present when the request carried an idTag.
type StopTransactionResponse struct {
	IdTagInfo *IdTagInfo `json:"idTagInfo,omitempty"`
}

// Central system → station.

// Values of ChangeAvailabilityRequest.Type (AvailabilityType).
const (
	AvailabilityInoperative = "Inoperative"
	AvailabilityOperative   = "Operative"
)

// ChangeAvailabilityRequest takes a connector, or the whole station for
// connector 0, in or out of service.
type ChangeAvailabilityRequest struct {
	ConnectorId int    `json:"connectorId"`
	Type        string `json:"type"` // AvailabilityInoperative or AvailabilityOperative
}

// Values of ChangeAvailabilityResponse.Status (AvailabilityStatus).
const (
	AvailabilityAccepted  = "Accepted"
	AvailabilityRejected  = "Rejected"
	AvailabilityScheduled = "Scheduled"
)

// ChangeAvailabilityResponse answers a ChangeAvailabilityRequest.
type ChangeAvailabilityResponse struct {
	Status string `json:"status"` // Accepted, Rejected or Scheduled
}

// ChangeConfigurationRequest sets one configuration key.
type ChangeConfigurationRequest struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Values of ChangeConfigurationResponse.Status (ConfigurationStatus).
const (
	ConfigurationAccepted       = "Accepted"
	ConfigurationRejected       = "Rejected"
	ConfigurationRebootRequired = "RebootRequired"
	ConfigurationNotSupported   = "NotSupported"
)

// ChangeConfigurationResponse answers a ChangeConfigurationRequest.
type ChangeConfigurationResponse struct {
	Status string `json:"status"` // Accepted, Rejected, RebootRequired or NotSupported
}

// ClearCacheRequest empties the station's authorization cache; its payload
// is empty.
type ClearCacheRequest struct{}

// Values of ClearCacheResponse.Status (ClearCacheStatus).
const (
	ClearCacheAccepted = "Accepted"
	ClearCacheRejected = "Rejected"
)

// ClearCacheResponse answers a ClearCacheRequest.
type ClearCacheResponse struct {
	Status string `json:"status"` // Accepted or Rejected
}

// GetConfigurationRequest asks for the given keys, or all of them when Key
// is empty.
type GetConfigurationRequest struct {
	Key []string `json:"key,omitempty"`
}

// KeyValue is one configuration key in a GetConfiguration answer.
type KeyValue struct {
	Key      string  `json:"key"`
	Readonly bool    `json:"readonly"`
	Value    *string `json:"value,omitempty"`
}

// GetConfigurationResponse answers a GetConfigurationRequest.
type GetConfigurationResponse struct {
	ConfigurationKey []KeyValue `json:"configurationKey,omitempty"`
	UnknownKey       []string   `json:"unknownKey,omitempty"`
}

// RemoteStartTransactionRequest asks the station to start charging for an
// idTag, with a TxProfile of the Smart Charging profile for the
// transaction if ChargingProfile is set.
type RemoteStartTransactionRequest struct {
	ConnectorId     *int             `json:"connectorId,omitempty"`
	IdTag           string           `json:"idTag"`
	ChargingProfile *ChargingProfile `json:"chargingProfile,omitempty"`
}

// Values of RemoteStartTransactionResponse.Status and
// RemoteStopTransactionResponse.Status (RemoteStartStopStatus).
const (
	RemoteStartStopAccepted = "Accepted"
	RemoteStartStopRejected = "Rejected"
)

// RemoteStartTransactionResponse answers a RemoteStartTransactionRequest.
type RemoteStartTransactionResponse struct {
	Status string `json:"status"` // Accepted or Rejected
}

// RemoteStopTransactionRequest asks the station to stop a transaction.
type RemoteStopTransactionRequest struct {
	TransactionId int `json:"transactionId"`
}

// RemoteStopTransactionResponse answers a RemoteStopTransactionRequest.
type RemoteStopTransactionResponse struct {
	Status string `json:"status"` // Accepted or Rejected
}

// Values of ResetRequest.Type (ResetType).
const (
	ResetHard = "Hard"
	ResetSoft = "Soft"
)

// ResetRequest asks the station to reboot.
type ResetRequest struct {
	Type string `json:"type"` // ResetHard or ResetSoft
}

// Values of ResetResponse.Status (ResetStatus).
const (
	ResetAccepted = "Accepted"
	ResetRejected = "Rejected"
)

// ResetResponse answers a ResetRequest.
type ResetResponse struct {
	Status string `json:"status"` // Accepted or Rejected
}

// UnlockConnectorRequest asks the station to release a cable.
type UnlockConnectorRequest struct {
	ConnectorId int `json:"connectorId"`
}

// Values of UnlockConnectorResponse.Status (UnlockStatus).
const (
	UnlockStatusUnlocked     = "Unlocked"
	UnlockStatusUnlockFailed = "UnlockFailed"
	UnlockStatusNotSupported = "NotSupported"
)

// UnlockConnectorResponse answers an UnlockConnectorRequest.
type UnlockConnectorResponse struct {
	Status string `json:"status"` // Unlocked, UnlockFailed or NotSupported
}

// Values of TriggerMessageRequest.RequestedMessage (MessageTrigger).
const (
	TriggerBootNotification              = "BootNotification"
	TriggerDiagnosticsStatusNotification = "DiagnosticsStatusNotification"
	TriggerFirmwareStatusNotification    = "FirmwareStatusNotification"
	TriggerHeartbeat                     = "Heartbeat"
	TriggerMeterValues                   = "MeterValues"
	TriggerStatusNotification            = "StatusNotification"
)

// TriggerMessageRequest asks the station to send one of its messages now.
type TriggerMessageRequest struct {
	RequestedMessage string `json:"requestedMessage"`
	ConnectorId      *int   `json:"connectorId,omitempty"`
}

// Values of TriggerMessageResponse.Status (TriggerMessageStatus).
const (
	TriggerMessageAccepted       = "Accepted"
	TriggerMessageRejected       = "Rejected"
	TriggerMessageNotImplemented = "NotImplemented"
)

// TriggerMessageResponse answers a TriggerMessageRequest.
type TriggerMessageResponse struct {
	Status string `json:"status"` // Accepted, Rejected or NotImplemented
}
