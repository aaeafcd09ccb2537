package ocpp

import (
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Validation follows the OCPP 1.6 JSON schemas and the specification's
// field descriptions, within what the Go types can see:
//
//   - A required string that is "" counts as missing
//     (OccurenceConstraintViolation): after decoding, "" and absent look
//     the same.
//   - A required int cannot be told from 0, so only ranges the
//     specification states are checked (connectorId ≥ 0, or > 0 where a
//     real connector is meant); a missing one reads as 0.
//   - A required dateTime that is the zero time counts as missing.
//   - Lengths are counted in characters, as JSON Schema's maxLength does;
//     CiStrings' restriction to printable ASCII is not enforced, since
//     stations in the field do not keep to it.
//   - Each Validate returns the first violation it finds, as a *FieldError
//     naming the JSON path of the field.

func missing(field string) error {
	return &FieldError{Field: field, Code: OccurenceConstraintViolation, Reason: "required field is missing"}
}

// checkString checks a string field's presence and maximum length.
func checkString(field, v string, maxLen int, required bool) error {
	if v == "" {
		if required {
			return missing(field)
		}
		return nil
	}
	if n := utf8.RuneCountInString(v); n > maxLen {
		return &FieldError{Field: field, Code: PropertyConstraintViolation,
			Reason: fmt.Sprintf("has %d characters, at most %d allowed", n, maxLen)}
	}
	return nil
}

// checkEnum checks an enumerated field's presence and membership; enum
// names the OCPP type for the message.
func checkEnum(field, v string, required, valid bool, enum string) error {
	if v == "" {
		if required {
			return missing(field)
		}
		return nil
	}
	if !valid {
		return &FieldError{Field: field, Code: PropertyConstraintViolation,
			Reason: fmt.Sprintf("%s is not a valid %s", clip(strconv.Quote(v)), enum)}
	}
	return nil
}

func checkTime(field string, t DateTime) error {
	if t.IsZero() {
		return missing(field)
	}
	return nil
}

// checkConnector checks a connectorId: least is 0 where connector 0 means
// the whole station, and 1 where a real connector is meant.
func checkConnector(field string, id, least int) error {
	if id < least {
		return &FieldError{Field: field, Code: PropertyConstraintViolation,
			Reason: fmt.Sprintf("%d is not a valid connectorId, want ≥ %d", id, least)}
	}
	return nil
}

// checkAtLeast checks an integer field against the least value the
// specification allows.
func checkAtLeast(field string, v, least int) error {
	if v < least {
		return &FieldError{Field: field, Code: PropertyConstraintViolation,
			Reason: fmt.Sprintf("%d is out of range, want ≥ %d", v, least)}
	}
	return nil
}

// negative reports a count or a number of seconds below zero.
func negative(field string, v int) error { return checkAtLeast(field, v, 0) }

// checkURI checks a required anyURI field: an absolute URI, with a
// scheme, such as ftp://host/path. A station cannot upload to or
// download from anything less.
func checkURI(field, v string) error {
	if v == "" {
		return missing(field)
	}
	u, err := url.Parse(v)
	if err != nil || u.Scheme == "" {
		return &FieldError{Field: field, Code: PropertyConstraintViolation,
			Reason: fmt.Sprintf("%s is not an absolute URI, such as ftp://host/path", clip(strconv.Quote(v)))}
	}
	return nil
}

// checkDecimal checks a decimal field of the Smart Charging profile: at
// least 0, and a multiple of 0.1 as the schema's multipleOf says (within
// what a float64 can hold).
func checkDecimal(field string, v float64) error {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0) || v < 0:
		return &FieldError{Field: field, Code: PropertyConstraintViolation,
			Reason: fmt.Sprintf("%v is out of range, want ≥ 0", v)}
	case math.Abs(v*10-math.Round(v*10)) > 1e-6:
		return &FieldError{Field: field, Code: PropertyConstraintViolation,
			Reason: fmt.Sprintf("%v is not a multiple of 0.1", v)}
	}
	return nil
}

func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func oneOf(s string, values ...string) bool { return slices.Contains(values, s) }

func validContext(s string) bool {
	return oneOf(s, ContextInterruptionBegin, ContextInterruptionEnd, ContextSampleClock,
		ContextSamplePeriodic, ContextTransactionBegin, ContextTransactionEnd,
		ContextTrigger, ContextOther)
}

func validFormat(s string) bool { return oneOf(s, FormatRaw, FormatSignedData) }

func validMeasurand(s string) bool {
	return oneOf(s, MeasurandCurrentExport, MeasurandCurrentImport, MeasurandCurrentOffered,
		MeasurandEnergyActiveExportRegister, MeasurandEnergyActiveImportRegister,
		MeasurandEnergyReactiveExportRegister, MeasurandEnergyReactiveImportRegister,
		MeasurandEnergyActiveExportInterval, MeasurandEnergyActiveImportInterval,
		MeasurandEnergyReactiveExportInterval, MeasurandEnergyReactiveImportInterval,
		MeasurandFrequency, MeasurandPowerActiveExport, MeasurandPowerActiveImport,
		MeasurandPowerFactor, MeasurandPowerOffered, MeasurandPowerReactiveExport,
		MeasurandPowerReactiveImport, MeasurandRPM, MeasurandSoC, MeasurandTemperature,
		MeasurandVoltage)
}

func validPhase(s string) bool {
	return oneOf(s, PhaseL1, PhaseL2, PhaseL3, PhaseN, PhaseL1N, PhaseL2N, PhaseL3N,
		PhaseL1L2, PhaseL2L3, PhaseL3L1)
}

func validLocation(s string) bool {
	return oneOf(s, LocationBody, LocationCable, LocationEV, LocationInlet, LocationOutlet)
}

func validUnit(s string) bool {
	return oneOf(s, UnitWh, UnitKWh, UnitVarh, UnitKvarh, UnitW, UnitKW, UnitVA, UnitKVA,
		UnitVar, UnitKvar, UnitA, UnitV, UnitK, UnitCelcius, UnitCelsius, UnitFahrenheit,
		UnitPercent)
}

func validReason(s string) bool {
	return oneOf(s, ReasonEmergencyStop, ReasonEVDisconnected, ReasonHardReset, ReasonLocal,
		ReasonOther, ReasonPowerLoss, ReasonReboot, ReasonRemote, ReasonSoftReset,
		ReasonUnlockCommand, ReasonDeAuthorized)
}

func validMessageTrigger(s string) bool {
	return oneOf(s, TriggerBootNotification, TriggerDiagnosticsStatusNotification,
		TriggerFirmwareStatusNotification, TriggerHeartbeat, TriggerMeterValues,
		TriggerStatusNotification)
}

// The validate methods of the types that nest report fields by their
// names inside the value; within puts the path to the value in front.
// So a valid payload is checked without building a single path.

// within prefixes the field of err, a *FieldError or nil, with the path
// to the value that reported it.
func within(path string, err error) error {
	if fe, ok := err.(*FieldError); ok {
		fe.Field = path + "." + fe.Field
	}
	return err
}

func (t IdTagInfo) validate() error {
	return firstError(
		checkEnum("status", string(t.Status), true, t.Status.Valid(), "AuthorizationStatus"),
		checkString("parentIdTag", t.ParentIdTag, MaxCiString20, false),
	)
}

func (v SampledValue) validate() error {
	return firstError(
		checkString("value", v.Value, math.MaxInt, true),
		checkEnum("context", v.Context, false, validContext(v.Context), "ReadingContext"),
		checkEnum("format", v.Format, false, validFormat(v.Format), "ValueFormat"),
		checkEnum("measurand", v.Measurand, false, validMeasurand(v.Measurand), "Measurand"),
		checkEnum("phase", v.Phase, false, validPhase(v.Phase), "Phase"),
		checkEnum("location", v.Location, false, validLocation(v.Location), "Location"),
		checkEnum("unit", v.Unit, false, validUnit(v.Unit), "UnitOfMeasure"),
	)
}

func (m MeterValue) validate() error {
	if err := checkTime("timestamp", m.Timestamp); err != nil {
		return err
	}
	if len(m.SampledValue) == 0 {
		return missing("sampledValue")
	}
	for i, v := range m.SampledValue {
		if err := v.validate(); err != nil {
			return within(fmt.Sprintf("sampledValue[%d]", i), err)
		}
	}
	return nil
}

func validateMeterValues(field string, mvs []MeterValue, required bool) error {
	if len(mvs) == 0 && required {
		return missing(field)
	}
	for i, mv := range mvs {
		if err := mv.validate(); err != nil {
			return within(fmt.Sprintf("%s[%d]", field, i), err)
		}
	}
	return nil
}

// Station → central system.

// Validate checks r against the OCPP 1.6 schema.
func (r AuthorizeRequest) Validate() error {
	return checkString("idTag", r.IdTag, MaxCiString20, true)
}

// Validate checks r against the OCPP 1.6 schema.
func (r AuthorizeResponse) Validate() error {
	return within("idTagInfo", r.IdTagInfo.validate())
}

// Validate checks r against the OCPP 1.6 schema.
func (r BootNotificationRequest) Validate() error {
	return firstError(
		checkString("chargePointVendor", r.ChargePointVendor, MaxCiString20, true),
		checkString("chargePointModel", r.ChargePointModel, MaxCiString20, true),
		checkString("chargePointSerialNumber", r.ChargePointSerialNumber, MaxCiString25, false),
		checkString("chargeBoxSerialNumber", r.ChargeBoxSerialNumber, MaxCiString25, false),
		checkString("firmwareVersion", r.FirmwareVersion, MaxCiString50, false),
		checkString("iccid", r.Iccid, MaxCiString20, false),
		checkString("imsi", r.Imsi, MaxCiString20, false),
		checkString("meterType", r.MeterType, MaxCiString25, false),
		checkString("meterSerialNumber", r.MeterSerialNumber, MaxCiString25, false),
	)
}

// Validate checks r against the OCPP 1.6 schema. Interval is not checked:
// 0 is valid and cannot be told from missing.
func (r BootNotificationResponse) Validate() error {
	return firstError(
		checkEnum("status", string(r.Status), true, r.Status.Valid(), "RegistrationStatus"),
		checkTime("currentTime", r.CurrentTime),
	)
}

// Validate checks r against the OCPP 1.6 schema.
func (r DataTransferRequest) Validate() error {
	return firstError(
		checkString("vendorId", r.VendorId, MaxCiString255, true),
		checkString("messageId", r.MessageId, MaxCiString50, false),
	)
}

// Validate checks r against the OCPP 1.6 schema.
func (r DataTransferResponse) Validate() error {
	return checkEnum("status", string(r.Status), true, r.Status.Valid(), "DataTransferStatus")
}

// Validate accepts every HeartbeatRequest: its payload is empty.
func (HeartbeatRequest) Validate() error { return nil }

// Validate checks r against the OCPP 1.6 schema.
func (r HeartbeatResponse) Validate() error { return checkTime("currentTime", r.CurrentTime) }

// Validate checks r against the OCPP 1.6 schema: at least one meterValue,
// each with a timestamp and at least one sampledValue.
func (r MeterValuesRequest) Validate() error {
	return firstError(
		checkConnector("connectorId", r.ConnectorId, 0),
		validateMeterValues("meterValue", r.MeterValue, true),
	)
}

// Validate accepts every MeterValuesResponse: its payload is empty.
func (MeterValuesResponse) Validate() error { return nil }

// Validate checks r against the OCPP 1.6 schema. connectorId must be > 0,
// so a missing one is reported as invalid rather than missing; meterStart
// is not checked.
func (r StartTransactionRequest) Validate() error {
	return firstError(
		checkConnector("connectorId", r.ConnectorId, 1),
		checkString("idTag", r.IdTag, MaxCiString20, true),
		checkTime("timestamp", r.Timestamp),
	)
}

// Validate checks r against the OCPP 1.6 schema.
func (r StartTransactionResponse) Validate() error {
	return within("idTagInfo", r.IdTagInfo.validate())
}

// Validate checks r against the OCPP 1.6 schema.
func (r StatusNotificationRequest) Validate() error {
	return firstError(
		checkConnector("connectorId", r.ConnectorId, 0),
		checkEnum("errorCode", string(r.ErrorCode), true, r.ErrorCode.Valid(), "ChargePointErrorCode"),
		checkString("info", r.Info, MaxCiString50, false),
		checkEnum("status", string(r.Status), true, r.Status.Valid(), "ChargePointStatus"),
		checkString("vendorId", r.VendorId, MaxCiString255, false),
		checkString("vendorErrorCode", r.VendorErrorCode, MaxCiString50, false),
	)
}

// Validate accepts every StatusNotificationResponse: its payload is empty.
func (StatusNotificationResponse) Validate() error { return nil }

// Validate checks r against the OCPP 1.6 schema. transactionId and
// meterStop are not checked: 0 is valid for both.
func (r StopTransactionRequest) Validate() error {
	return firstError(
		checkTime("timestamp", r.Timestamp),
		checkString("idTag", r.IdTag, MaxCiString20, false),
		checkEnum("reason", r.Reason, false, validReason(r.Reason), "Reason"),
		validateMeterValues("transactionData", r.TransactionData, false),
	)
}

// Validate checks r against the OCPP 1.6 schema.
func (r StopTransactionResponse) Validate() error {
	if r.IdTagInfo == nil {
		return nil
	}
	return within("idTagInfo", r.IdTagInfo.validate())
}

// Central system → station.

// Validate checks r against the OCPP 1.6 schema.
func (r ChangeAvailabilityRequest) Validate() error {
	return firstError(
		checkConnector("connectorId", r.ConnectorId, 0),
		checkEnum("type", r.Type, true, oneOf(r.Type, AvailabilityInoperative, AvailabilityOperative), "AvailabilityType"),
	)
}

// Validate checks r against the OCPP 1.6 schema.
func (r ChangeAvailabilityResponse) Validate() error {
	return checkEnum("status", r.Status, true,
		oneOf(r.Status, AvailabilityAccepted, AvailabilityRejected, AvailabilityScheduled), "AvailabilityStatus")
}

// Validate checks r against the OCPP 1.6 schema. An empty value is
// accepted: it may be meant.
func (r ChangeConfigurationRequest) Validate() error {
	return firstError(
		checkString("key", r.Key, MaxCiString50, true),
		checkString("value", r.Value, MaxCiString500, false),
	)
}

// Validate checks r against the OCPP 1.6 schema.
func (r ChangeConfigurationResponse) Validate() error {
	return checkEnum("status", r.Status, true,
		oneOf(r.Status, ConfigurationAccepted, ConfigurationRejected, ConfigurationRebootRequired, ConfigurationNotSupported),
		"ConfigurationStatus")
}

// Validate accepts every ClearCacheRequest: its payload is empty.
func (ClearCacheRequest) Validate() error { return nil }

// Validate checks r against the OCPP 1.6 schema.
func (r ClearCacheResponse) Validate() error {
	return checkEnum("status", r.Status, true, oneOf(r.Status, ClearCacheAccepted, ClearCacheRejected), "ClearCacheStatus")
}

// Validate checks r against the OCPP 1.6 schema.
func (r GetConfigurationRequest) Validate() error {
	for i, k := range r.Key {
		if err := checkString(fmt.Sprintf("key[%d]", i), k, MaxCiString50, true); err != nil {
			return err
		}
	}
	return nil
}

// Validate checks r against the OCPP 1.6 schema.
func (r GetConfigurationResponse) Validate() error {
	for i, kv := range r.ConfigurationKey {
		path := fmt.Sprintf("configurationKey[%d]", i)
		if err := checkString(path+".key", kv.Key, MaxCiString50, true); err != nil {
			return err
		}
		if kv.Value != nil {
			if err := checkString(path+".value", *kv.Value, MaxCiString500, false); err != nil {
				return err
			}
		}
	}
	for i, k := range r.UnknownKey {
		if err := checkString(fmt.Sprintf("unknownKey[%d]", i), k, MaxCiString50, true); err != nil {
			return err
		}
	}
	return nil
}

// Validate checks r against the OCPP 1.6 schema; a chargingProfile is a
// TxProfile (§5.11).
func (r RemoteStartTransactionRequest) Validate() error {
	if r.ConnectorId != nil {
		if err := checkConnector("connectorId", *r.ConnectorId, 1); err != nil {
			return err
		}
	}
	if err := checkString("idTag", r.IdTag, MaxCiString20, true); err != nil {
		return err
	}
	if p := r.ChargingProfile; p != nil {
		if err := within("chargingProfile", p.validate()); err != nil {
			return err
		}
		if p.ChargingProfilePurpose != PurposeTx {
			return &FieldError{Field: "chargingProfile.chargingProfilePurpose", Code: PropertyConstraintViolation,
				Reason: fmt.Sprintf("a RemoteStartTransaction carries a TxProfile, not a %s", p.ChargingProfilePurpose)}
		}
	}
	return nil
}

// Validate checks r against the OCPP 1.6 schema.
func (r RemoteStartTransactionResponse) Validate() error {
	return checkEnum("status", r.Status, true, oneOf(r.Status, RemoteStartStopAccepted, RemoteStartStopRejected), "RemoteStartStopStatus")
}

// Validate accepts every RemoteStopTransactionRequest: transactionId is an
// integer, and 0 is valid.
func (RemoteStopTransactionRequest) Validate() error { return nil }

// Validate checks r against the OCPP 1.6 schema.
func (r RemoteStopTransactionResponse) Validate() error {
	return checkEnum("status", r.Status, true, oneOf(r.Status, RemoteStartStopAccepted, RemoteStartStopRejected), "RemoteStartStopStatus")
}

// Validate checks r against the OCPP 1.6 schema.
func (r ResetRequest) Validate() error {
	return checkEnum("type", r.Type, true, oneOf(r.Type, ResetHard, ResetSoft), "ResetType")
}

// Validate checks r against the OCPP 1.6 schema.
func (r ResetResponse) Validate() error {
	return checkEnum("status", r.Status, true, oneOf(r.Status, ResetAccepted, ResetRejected), "ResetStatus")
}

// Validate checks r against the OCPP 1.6 schema: connectorId must be > 0.
func (r UnlockConnectorRequest) Validate() error {
	return checkConnector("connectorId", r.ConnectorId, 1)
}

// Validate checks r against the OCPP 1.6 schema.
func (r UnlockConnectorResponse) Validate() error {
	return checkEnum("status", r.Status, true,
		oneOf(r.Status, UnlockStatusUnlocked, UnlockStatusUnlockFailed, UnlockStatusNotSupported), "UnlockStatus")
}

// Validate checks r against the OCPP 1.6 schema.
func (r TriggerMessageRequest) Validate() error {
	if r.ConnectorId != nil {
		if err := checkConnector("connectorId", *r.ConnectorId, 1); err != nil {
			return err
		}
	}
	return checkEnum("requestedMessage", r.RequestedMessage, true, validMessageTrigger(r.RequestedMessage), "MessageTrigger")
}

// Validate checks r against the OCPP 1.6 schema.
func (r TriggerMessageResponse) Validate() error {
	return checkEnum("status", r.Status, true,
		oneOf(r.Status, TriggerMessageAccepted, TriggerMessageRejected, TriggerMessageNotImplemented), "TriggerMessageStatus")
}
