package station

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ocppkata/kata/harness/ocpp"
)

// The configuration keys a Charger acts on (OCPP 1.6 §9.1); the others of
// its table are kept and reported, and change nothing.
const (
	// KeyAuthorizeRemoteTxRequests says whether a remote start is
	// authorized (Authorize) before StartTransaction. A Charger's default
	// is true, so that an idTag the server does not accept ends the start
	// before a transaction is opened.
	KeyAuthorizeRemoteTxRequests = "AuthorizeRemoteTxRequests"
	// KeyHeartbeatInterval is the seconds between Heartbeats; the
	// BootNotification's answer sets it.
	KeyHeartbeatInterval = "HeartbeatInterval"
	// KeyMeterValueSampleInterval is the seconds between MeterValues while
	// charging; 0 sends none.
	KeyMeterValueSampleInterval = "MeterValueSampleInterval"
	// KeyMeterValuesSampledData lists the measurands each MeterValues
	// carries.
	KeyMeterValuesSampledData = "MeterValuesSampledData"
	// KeyNumberOfConnectors is read-only.
	KeyNumberOfConnectors = "NumberOfConnectors"
	// KeyStopTransactionOnInvalidId says whether a transaction whose
	// StartTransaction answer refuses the idTag is stopped at once, with
	// reason DeAuthorized.
	KeyStopTransactionOnInvalidId = "StopTransactionOnInvalidId"

	// KeyLocalAuthListEnabled says whether the local list (SendLocalList)
	// is used to authorize; it is kept either way.
	KeyLocalAuthListEnabled = "LocalAuthListEnabled"
	// KeyLocalPreAuthorize says whether an idTag the local list accepts
	// starts a transaction without an Authorize.
	KeyLocalPreAuthorize = "LocalPreAuthorize"
	// KeyLocalAuthorizeOffline says whether an idTag the local list
	// accepts starts a transaction when its Authorize gets no answer.
	KeyLocalAuthorizeOffline = "LocalAuthorizeOffline"
	// KeyLocalAuthListMaxLength is how many idTags the local list holds
	// at most; read-only.
	KeyLocalAuthListMaxLength = "LocalAuthListMaxLength"
	// KeySendLocalListMaxLength is how many idTags one SendLocalList
	// sends at most; read-only.
	KeySendLocalListMaxLength = "SendLocalListMaxLength"

	// KeyChargeProfileMaxStackLevel is the highest stackLevel a charging
	// profile may have; read-only.
	KeyChargeProfileMaxStackLevel = "ChargeProfileMaxStackLevel"
	// KeyChargingScheduleMaxPeriods is how many periods a schedule may
	// have; read-only.
	KeyChargingScheduleMaxPeriods = "ChargingScheduleMaxPeriods"
	// KeyMaxChargingProfilesInstalled is how many charging profiles the
	// charger holds at most; read-only.
	KeyMaxChargingProfilesInstalled = "MaxChargingProfilesInstalled"
)

// DefaultMeterValueSampleInterval is a Charger's MeterValueSampleInterval
// until the server changes it: short, so that a workshop sees the meter
// move.
const DefaultMeterValueSampleInterval = 10 * time.Second

// sampledMeasurands are the measurands a Charger can sample, the first two
// by default.
var sampledMeasurands = []string{
	ocpp.MeasurandEnergyActiveImportRegister, ocpp.MeasurandPowerActiveImport,
	ocpp.MeasurandCurrentImport, ocpp.MeasurandVoltage,
}

// configKey is one key of a charger's configuration, as GetConfiguration
// lists it and ChangeConfiguration sets it.
type configKey struct {
	name     string
	value    string
	readonly bool
	// check returns the value ChangeConfiguration stores, in its canonical
	// form, or false if the value is not one the key takes.
	check func(string) (string, bool)
}

// newConfig is a charger's configuration when it is made: the keys of the
// profiles it supports that make sense for a simulator, in alphabetical
// order.
func newConfig(connectors int) []configKey {
	rw := func(name, value string, check func(string) (string, bool)) configKey {
		return configKey{name: name, value: value, check: check}
	}
	ro := func(name, value string) configKey { return configKey{name: name, value: value, readonly: true} }
	return []configKey{
		rw("AllowOfflineTxForUnknownId", "false", isBool),
		rw("AuthorizationCacheEnabled", "false", isBool),
		rw(KeyAuthorizeRemoteTxRequests, "true", isBool),
		ro(KeyChargeProfileMaxStackLevel, "10"),
		ro("ChargingScheduleAllowedChargingRateUnit", "Current,Power"),
		ro(KeyChargingScheduleMaxPeriods, "24"),
		rw("ClockAlignedDataInterval", "0", isSeconds),
		rw("ConnectionTimeOut", "60", isSeconds),
		ro("ConnectorSwitch3to1PhaseSupported", "false"),
		ro("GetConfigurationMaxKeys", "50"),
		rw(KeyHeartbeatInterval, "300", isSeconds),
		rw(KeyLocalAuthListEnabled, "true", isBool),
		ro(KeyLocalAuthListMaxLength, "1000"),
		rw(KeyLocalAuthorizeOffline, "true", isBool),
		rw(KeyLocalPreAuthorize, "false", isBool),
		ro(KeyMaxChargingProfilesInstalled, "20"),
		rw("MeterValuesAlignedData", ocpp.MeasurandEnergyActiveImportRegister, isMeasurands),
		rw(KeyMeterValuesSampledData, strings.Join(sampledMeasurands[:2], ","), isMeasurands),
		rw(KeyMeterValueSampleInterval, strconv.Itoa(int(DefaultMeterValueSampleInterval/time.Second)), isSeconds),
		ro(KeyNumberOfConnectors, strconv.Itoa(connectors)),
		ro("ReserveConnectorZeroSupported", "false"),
		rw("ResetRetries", "3", isSeconds),
		ro(KeySendLocalListMaxLength, "100"),
		rw("StopTransactionOnEVSideDisconnect", "true", isBool),
		rw(KeyStopTransactionOnInvalidId, "true", isBool),
		rw("StopTxnAlignedData", "", isMeasurands),
		rw("StopTxnSampledData", "", isMeasurands),
		ro("SupportedFeatureProfiles", "Core,FirmwareManagement,LocalAuthListManagement,Reservation,SmartCharging,RemoteTrigger"),
		rw("TransactionMessageAttempts", "3", isSeconds),
		rw("TransactionMessageRetryInterval", "60", isSeconds),
		rw("UnlockConnectorOnEVSideDisconnect", "true", isBool),
	}
}

// isBool takes true and false, in any case.
func isBool(v string) (string, bool) {
	switch strings.ToLower(v) {
	case "true":
		return "true", true
	case "false":
		return "false", true
	}
	return "", false
}

// isSeconds takes a whole number from 0 to a day, a bound any interval or
// count of the table's can live with.
func isSeconds(v string) (string, bool) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 86400 {
		return "", false
	}
	return strconv.Itoa(n), true
}

// isMeasurands takes a comma-separated list of the measurands the charger
// can sample, or nothing.
func isMeasurands(v string) (string, bool) {
	if v == "" {
		return "", true
	}
	items := strings.Split(v, ",")
	for i, m := range items {
		items[i] = strings.TrimSpace(m)
		if !slices.Contains(sampledMeasurands, items[i]) {
			return "", false
		}
	}
	return strings.Join(items, ","), true
}

// findKey returns the key called name, or nil.
func findKey(config []configKey, name string) *configKey {
	if i := slices.IndexFunc(config, func(k configKey) bool { return k.name == name }); i >= 0 {
		return &config[i]
	}
	return nil
}

// getConfiguration answers GetConfiguration from config: the keys asked
// for, or all of them, and the names it does not know.
func getConfiguration(config []configKey, names []string) ocpp.GetConfigurationResponse {
	var resp ocpp.GetConfigurationResponse
	add := func(k configKey) {
		resp.ConfigurationKey = append(resp.ConfigurationKey, ocpp.KeyValue{Key: k.name, Readonly: k.readonly, Value: &k.value})
	}
	if len(names) == 0 {
		for _, k := range config {
			add(k)
		}
		return resp
	}
	for _, name := range names {
		if k := findKey(config, name); k != nil {
			add(*k)
		} else {
			resp.UnknownKey = append(resp.UnknownKey, name)
		}
	}
	return resp
}

// changeConfiguration sets a key of config as ChangeConfiguration asks:
// NotSupported for a key it does not know, Rejected for a read-only key or
// a value the key does not take.
func changeConfiguration(config []configKey, name, value string) string {
	k := findKey(config, name)
	switch {
	case k == nil:
		return ocpp.ConfigurationNotSupported
	case k.readonly:
		return ocpp.ConfigurationRejected
	}
	v, ok := k.check(value)
	if !ok {
		return ocpp.ConfigurationRejected
	}
	k.value = v
	return ocpp.ConfigurationAccepted
}
