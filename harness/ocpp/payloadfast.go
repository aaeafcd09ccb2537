package ocpp

import "strings"

// unmarshalFast decodes the payload of the calls a station sends into v
// in one pass, without reflection. It handles the requests of RequestFor
// when v points to a zero value, and reports false for anything else, and
// for any payload it is not sure encoding/json would read the same way:
// invalid JSON, null, invalid UTF-8, an escaped key, a key that differs
// from a field's name only in case, a key given twice, a value of the
// wrong type, a dateTime ParseDateTime refuses. The caller then hands the
// payload to encoding/json, which decides, and words the error, as it
// always did.
// When unmarshalFast reports true, json.Unmarshal would have stored the
// same value in v without an error; it stores nothing otherwise.
func unmarshalFast(raw []byte, v any) bool {
	// Each case reads into a new value and stores it only once all of the
	// payload was read, so that a payload left to encoding/json finds v
	// as it was.
	s := scanner{data: raw}
	switch r := v.(type) {
	case *HeartbeatRequest:
		return r != nil && s.emptyStruct() && s.atEnd()
	case *MeterValuesResponse:
		return r != nil && s.emptyStruct() && s.atEnd()
	case *StatusNotificationResponse:
		return r != nil && s.emptyStruct() && s.atEnd()
	case *MeterValuesRequest:
		var out MeterValuesRequest
		if r == nil || r.ConnectorId != 0 || r.TransactionId != nil || r.MeterValue != nil ||
			!s.meterValuesRequest(&out) || !s.atEnd() {
			return false
		}
		*r = out
	case *StatusNotificationRequest:
		var out StatusNotificationRequest
		if r == nil || *r != out || !s.statusNotificationRequest(&out) || !s.atEnd() {
			return false
		}
		*r = out
	case *StartTransactionRequest:
		var out StartTransactionRequest
		if r == nil || *r != out || !s.startTransactionRequest(&out) || !s.atEnd() {
			return false
		}
		*r = out
	case *StopTransactionRequest:
		var out StopTransactionRequest
		if r == nil || r.TransactionId != 0 || r.MeterStop != 0 || r.Timestamp != (DateTime{}) ||
			r.IdTag != "" || r.Reason != "" || r.TransactionData != nil ||
			!s.stopTransactionRequest(&out) || !s.atEnd() {
			return false
		}
		*r = out
	case *BootNotificationRequest:
		var out BootNotificationRequest
		if r == nil || *r != out || !s.bootNotificationRequest(&out) || !s.atEnd() {
			return false
		}
		*r = out
	case *AuthorizeRequest:
		var out AuthorizeRequest
		if r == nil || *r != out || !s.authorizeRequest(&out) || !s.atEnd() {
			return false
		}
		*r = out
	case *DataTransferRequest:
		var out DataTransferRequest
		if r == nil || *r != out || !s.dataTransferRequest(&out) || !s.atEnd() {
			return false
		}
		*r = out
	default:
		return false
	}
	return true
}

// nextKey reads the next member's key of an object whose '{' has been
// read, and the ':' after it; first says whether it is the first member.
// It reports done when it read the object's '}' instead. A key must be
// plain ASCII: encoding/json matches other keys to fields by Unicode case
// folding, which is left to it.
func (s *scanner) nextKey(first bool) (key []byte, done, ok bool) {
	s.skipSpace()
	switch {
	case first && s.peek() == '}':
		s.i++
		return nil, true, true
	case first:
	case s.peek() == ',':
		s.i++
	case s.peek() == '}':
		s.i++
		return nil, true, true
	default:
		return nil, false, false
	}
	s.skipSpace()
	key, escaped, ok := s.stringContent()
	if !ok || escaped || !s.consume(':') {
		return nil, false, false
	}
	for _, c := range key {
		if c >= 0x80 {
			return nil, false, false
		}
	}
	return key, false, true
}

// once records in seen that the field with the given bit was read, and
// reports false if it had been: encoding/json keeps the last of two
// values, which is left to it.
func once(seen *uint16, bit uint16) bool {
	if *seen&bit != 0 {
		return false
	}
	*seen |= bit
	return true
}

// unknown skips the value of a key that is none of the struct's fields,
// as encoding/json ignores it, unless the key matches one of them but for
// case, which encoding/json would take for that field.
func (s *scanner) unknown(key []byte, depth int, fields ...string) bool {
	for _, f := range fields {
		if strings.EqualFold(string(key), f) {
			return false
		}
	}
	return s.value(depth + 1)
}

// emptyStruct reads an object into a struct without fields: every member
// is skipped.
func (s *scanner) emptyStruct() bool {
	if !s.consume('{') {
		return false
	}
	for first := true; ; first = false {
		_, done, ok := s.nextKey(first)
		if !ok {
			return false
		}
		if done {
			return true
		}
		if !s.value(1) {
			return false
		}
	}
}

// str reads a string field, interning the enumeration values stations
// send most.
func (s *scanner) str() (string, bool) {
	raw, ok := s.stringValue()
	if !ok {
		return "", false
	}
	return internValue(raw), true
}

// intPtr reads an optional integer field.
func (s *scanner) intPtr() (*int, bool) {
	n, ok := s.int()
	if !ok {
		return nil, false
	}
	return &n, true
}

// dateTime reads a dateTime field the way DateTime.UnmarshalJSON does.
func (s *scanner) dateTime() (DateTime, bool) {
	raw, ok := s.stringValue()
	if !ok {
		return DateTime{}, false
	}
	t, err := ParseDateTime(string(raw))
	if err != nil {
		return DateTime{}, false
	}
	return DateTime{t}, true
}

func (s *scanner) meterValuesRequest(out *MeterValuesRequest) bool {
	var seen uint16
	if !s.consume('{') {
		return false
	}
	for first := true; ; first = false {
		key, done, ok := s.nextKey(first)
		switch {
		case !ok:
			return false
		case done:
			return true
		}
		switch string(key) {
		case "connectorId":
			ok = once(&seen, 1<<0)
			if ok {
				out.ConnectorId, ok = s.int()
			}
		case "transactionId":
			ok = once(&seen, 1<<1)
			if ok {
				out.TransactionId, ok = s.intPtr()
			}
		case "meterValue":
			ok = once(&seen, 1<<2)
			if ok {
				out.MeterValue, ok = s.meterValues(1)
			}
		default:
			ok = s.unknown(key, 0, "connectorId", "transactionId", "meterValue")
		}
		if !ok {
			return false
		}
	}
}

// meterValues reads an array of MeterValue at the given depth.
func (s *scanner) meterValues(depth int) ([]MeterValue, bool) {
	if !s.consume('[') {
		return nil, false
	}
	out := []MeterValue{}
	if s.consume(']') {
		return out, true
	}
	for {
		mv, ok := s.meterValue(depth + 1)
		if !ok {
			return nil, false
		}
		out = append(out, mv)
		s.skipSpace()
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return out, true
		default:
			return nil, false
		}
	}
}

func (s *scanner) meterValue(depth int) (MeterValue, bool) {
	var out MeterValue
	var seen uint16
	if !s.consume('{') {
		return out, false
	}
	for first := true; ; first = false {
		key, done, ok := s.nextKey(first)
		switch {
		case !ok:
			return out, false
		case done:
			return out, true
		}
		switch string(key) {
		case "timestamp":
			ok = once(&seen, 1<<0)
			if ok {
				out.Timestamp, ok = s.dateTime()
			}
		case "sampledValue":
			ok = once(&seen, 1<<1)
			if ok {
				out.SampledValue, ok = s.sampledValues(depth + 1)
			}
		default:
			ok = s.unknown(key, depth, "timestamp", "sampledValue")
		}
		if !ok {
			return out, false
		}
	}
}

func (s *scanner) sampledValues(depth int) ([]SampledValue, bool) {
	if !s.consume('[') {
		return nil, false
	}
	out := []SampledValue{}
	if s.consume(']') {
		return out, true
	}
	for {
		v, ok := s.sampledValue(depth + 1)
		if !ok {
			return nil, false
		}
		out = append(out, v)
		s.skipSpace()
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return out, true
		default:
			return nil, false
		}
	}
}

func (s *scanner) sampledValue(depth int) (SampledValue, bool) {
	var out SampledValue
	var seen uint16
	if !s.consume('{') {
		return out, false
	}
	for first := true; ; first = false {
		key, done, ok := s.nextKey(first)
		switch {
		case !ok:
			return out, false
		case done:
			return out, true
		}
		var field *string
		switch string(key) {
		case "value":
			field, ok = &out.Value, once(&seen, 1<<0)
		case "context":
			field, ok = &out.Context, once(&seen, 1<<1)
		case "format":
			field, ok = &out.Format, once(&seen, 1<<2)
		case "measurand":
			field, ok = &out.Measurand, once(&seen, 1<<3)
		case "phase":
			field, ok = &out.Phase, once(&seen, 1<<4)
		case "location":
			field, ok = &out.Location, once(&seen, 1<<5)
		case "unit":
			field, ok = &out.Unit, once(&seen, 1<<6)
		default:
			ok = s.unknown(key, depth, "value", "context", "format", "measurand", "phase", "location", "unit")
		}
		if ok && field != nil {
			*field, ok = s.str()
		}
		if !ok {
			return out, false
		}
	}
}

func (s *scanner) statusNotificationRequest(out *StatusNotificationRequest) bool {
	var seen uint16
	if !s.consume('{') {
		return false
	}
	for first := true; ; first = false {
		key, done, ok := s.nextKey(first)
		switch {
		case !ok:
			return false
		case done:
			return true
		}
		var field *string
		switch string(key) {
		case "connectorId":
			ok = once(&seen, 1<<0)
			if ok {
				out.ConnectorId, ok = s.int()
			}
		case "errorCode":
			ok = once(&seen, 1<<1)
			if ok {
				var v string
				v, ok = s.str()
				out.ErrorCode = ChargePointErrorCode(v)
			}
		case "info":
			field, ok = &out.Info, once(&seen, 1<<2)
		case "status":
			ok = once(&seen, 1<<3)
			if ok {
				var v string
				v, ok = s.str()
				out.Status = ChargePointStatus(v)
			}
		case "timestamp":
			ok = once(&seen, 1<<4)
			if ok {
				var t DateTime
				t, ok = s.dateTime()
				out.Timestamp = &t
			}
		case "vendorId":
			field, ok = &out.VendorId, once(&seen, 1<<5)
		case "vendorErrorCode":
			field, ok = &out.VendorErrorCode, once(&seen, 1<<6)
		default:
			ok = s.unknown(key, 0, "connectorId", "errorCode", "info", "status", "timestamp", "vendorId", "vendorErrorCode")
		}
		if ok && field != nil {
			*field, ok = s.str()
		}
		if !ok {
			return false
		}
	}
}

func (s *scanner) startTransactionRequest(out *StartTransactionRequest) bool {
	var seen uint16
	if !s.consume('{') {
		return false
	}
	for first := true; ; first = false {
		key, done, ok := s.nextKey(first)
		switch {
		case !ok:
			return false
		case done:
			return true
		}
		switch string(key) {
		case "connectorId":
			ok = once(&seen, 1<<0)
			if ok {
				out.ConnectorId, ok = s.int()
			}
		case "idTag":
			ok = once(&seen, 1<<1)
			if ok {
				out.IdTag, ok = s.str()
			}
		case "meterStart":
			ok = once(&seen, 1<<2)
			if ok {
				out.MeterStart, ok = s.int()
			}
		case "reservationId":
			ok = once(&seen, 1<<3)
			if ok {
				out.ReservationId, ok = s.intPtr()
			}
		case "timestamp":
			ok = once(&seen, 1<<4)
			if ok {
				out.Timestamp, ok = s.dateTime()
			}
		default:
			ok = s.unknown(key, 0, "connectorId", "idTag", "meterStart", "reservationId", "timestamp")
		}
		if !ok {
			return false
		}
	}
}

func (s *scanner) stopTransactionRequest(out *StopTransactionRequest) bool {
	var seen uint16
	if !s.consume('{') {
		return false
	}
	for first := true; ; first = false {
		key, done, ok := s.nextKey(first)
		switch {
		case !ok:
			return false
		case done:
			return true
		}
		switch string(key) {
		case "transactionId":
			ok = once(&seen, 1<<0)
			if ok {
				out.TransactionId, ok = s.int()
			}
		case "meterStop":
			ok = once(&seen, 1<<1)
			if ok {
				out.MeterStop, ok = s.int()
			}
		case "timestamp":
			ok = once(&seen, 1<<2)
			if ok {
				out.Timestamp, ok = s.dateTime()
			}
		case "idTag":
			ok = once(&seen, 1<<3)
			if ok {
				out.IdTag, ok = s.str()
			}
		case "reason":
			ok = once(&seen, 1<<4)
			if ok {
				out.Reason, ok = s.str()
			}
		case "transactionData":
			ok = once(&seen, 1<<5)
			if ok {
				out.TransactionData, ok = s.meterValues(1)
			}
		default:
			ok = s.unknown(key, 0, "transactionId", "meterStop", "timestamp", "idTag", "reason", "transactionData")
		}
		if !ok {
			return false
		}
	}
}

func (s *scanner) bootNotificationRequest(out *BootNotificationRequest) bool {
	var seen uint16
	if !s.consume('{') {
		return false
	}
	for first := true; ; first = false {
		key, done, ok := s.nextKey(first)
		switch {
		case !ok:
			return false
		case done:
			return true
		}
		var field *string
		switch string(key) {
		case "chargePointVendor":
			field, ok = &out.ChargePointVendor, once(&seen, 1<<0)
		case "chargePointModel":
			field, ok = &out.ChargePointModel, once(&seen, 1<<1)
		case "chargePointSerialNumber":
			field, ok = &out.ChargePointSerialNumber, once(&seen, 1<<2)
		case "chargeBoxSerialNumber":
			field, ok = &out.ChargeBoxSerialNumber, once(&seen, 1<<3)
		case "firmwareVersion":
			field, ok = &out.FirmwareVersion, once(&seen, 1<<4)
		case "iccid":
			field, ok = &out.Iccid, once(&seen, 1<<5)
		case "imsi":
			field, ok = &out.Imsi, once(&seen, 1<<6)
		case "meterType":
			field, ok = &out.MeterType, once(&seen, 1<<7)
		case "meterSerialNumber":
			field, ok = &out.MeterSerialNumber, once(&seen, 1<<8)
		default:
			ok = s.unknown(key, 0, "chargePointVendor", "chargePointModel", "chargePointSerialNumber",
				"chargeBoxSerialNumber", "firmwareVersion", "iccid", "imsi", "meterType", "meterSerialNumber")
		}
		if ok && field != nil {
			*field, ok = s.str()
		}
		if !ok {
			return false
		}
	}
}

func (s *scanner) authorizeRequest(out *AuthorizeRequest) bool {
	var seen uint16
	if !s.consume('{') {
		return false
	}
	for first := true; ; first = false {
		key, done, ok := s.nextKey(first)
		switch {
		case !ok:
			return false
		case done:
			return true
		}
		switch string(key) {
		case "idTag":
			ok = once(&seen, 1<<0)
			if ok {
				out.IdTag, ok = s.str()
			}
		default:
			ok = s.unknown(key, 0, "idTag")
		}
		if !ok {
			return false
		}
	}
}

func (s *scanner) dataTransferRequest(out *DataTransferRequest) bool {
	var seen uint16
	if !s.consume('{') {
		return false
	}
	for first := true; ; first = false {
		key, done, ok := s.nextKey(first)
		switch {
		case !ok:
			return false
		case done:
			return true
		}
		var field *string
		switch string(key) {
		case "vendorId":
			field, ok = &out.VendorId, once(&seen, 1<<0)
		case "messageId":
			field, ok = &out.MessageId, once(&seen, 1<<1)
		case "data":
			field, ok = &out.Data, once(&seen, 1<<2)
		default:
			ok = s.unknown(key, 0, "vendorId", "messageId", "data")
		}
		if ok && field != nil {
			*field, ok = s.str()
		}
		if !ok {
			return false
		}
	}
}

// internValue returns the constant for the enumeration values that
// stations send in most calls, so that reading them costs no allocation,
// and a new string for anything else.
func internValue(b []byte) string {
	switch string(b) {
	case MeasurandEnergyActiveImportRegister:
		return MeasurandEnergyActiveImportRegister
	case MeasurandPowerActiveImport:
		return MeasurandPowerActiveImport
	case MeasurandCurrentImport:
		return MeasurandCurrentImport
	case MeasurandVoltage:
		return MeasurandVoltage
	case MeasurandSoC:
		return MeasurandSoC
	case UnitWh:
		return UnitWh
	case UnitKWh:
		return UnitKWh
	case UnitW:
		return UnitW
	case UnitKW:
		return UnitKW
	case UnitA:
		return UnitA
	case UnitV:
		return UnitV
	case UnitPercent:
		return UnitPercent
	case ContextSamplePeriodic:
		return ContextSamplePeriodic
	case ContextSampleClock:
		return ContextSampleClock
	case ContextTransactionBegin:
		return ContextTransactionBegin
	case ContextTransactionEnd:
		return ContextTransactionEnd
	case FormatRaw:
		return FormatRaw
	case LocationOutlet:
		return LocationOutlet
	case PhaseL1:
		return PhaseL1
	case PhaseL2:
		return PhaseL2
	case PhaseL3:
		return PhaseL3
	case string(ChargePointNoError):
		return string(ChargePointNoError)
	case string(StatusAvailable):
		return string(StatusAvailable)
	case string(StatusPreparing):
		return string(StatusPreparing)
	case string(StatusCharging):
		return string(StatusCharging)
	case string(StatusSuspendedEV):
		return string(StatusSuspendedEV)
	case string(StatusSuspendedEVSE):
		return string(StatusSuspendedEVSE)
	case string(StatusFinishing):
		return string(StatusFinishing)
	case string(StatusUnavailable):
		return string(StatusUnavailable)
	case string(StatusFaulted):
		return string(StatusFaulted)
	case ReasonLocal:
		return ReasonLocal
	case ReasonRemote:
		return ReasonRemote
	case ReasonEVDisconnected:
		return ReasonEVDisconnected
	}
	return string(b)
}
