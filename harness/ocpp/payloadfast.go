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

// members reads an object into a struct whose JSON fields are fields, in
// one pass: read is called with each member's field, as fields names it,
// the scanner at its value, and reads the value. A member that is none of
// the fields is skipped, as encoding/json skips it. A key that matches a
// field but for case (encoding/json would take it for that field), a field
// given twice (encoding/json keeps the last), read's false and anything
// that is not JSON make members report false: encoding/json then decides.
// depth is the object's nesting, for the limit on what is skipped.
func (s *scanner) members(depth int, fields []string, read func(field string) bool) bool {
	if !s.consume('{') {
		return false
	}
	var seen uint32 // a bit for each field read
	for first := true; ; first = false {
		key, done, ok := s.nextKey(first)
		switch {
		case !ok:
			return false
		case done:
			return true
		}
		i := 0
		for i < len(fields) && fields[i] != string(key) {
			i++
		}
		if i == len(fields) {
			for _, f := range fields {
				if strings.EqualFold(string(key), f) {
					return false
				}
			}
			if !s.value(depth + 1) {
				return false
			}
			continue
		}
		if seen&(1<<i) != 0 || !read(fields[i]) {
			return false
		}
		seen |= 1 << i
	}
}

// array reads a JSON array at the given depth, each element with read.
func array[T any](s *scanner, depth int, read func(depth int) (T, bool)) ([]T, bool) {
	if !s.consume('[') {
		return nil, false
	}
	out := []T{}
	if s.consume(']') {
		return out, true
	}
	for {
		v, ok := read(depth + 1)
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

// emptyStruct reads an object into a struct without fields: every member
// is skipped.
func (s *scanner) emptyStruct() bool { return s.members(0, nil, nil) }

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
	return s.members(0, []string{"connectorId", "transactionId", "meterValue"}, func(field string) (ok bool) {
		switch field {
		case "connectorId":
			out.ConnectorId, ok = s.int()
		case "transactionId":
			out.TransactionId, ok = s.intPtr()
		case "meterValue":
			out.MeterValue, ok = array(s, 1, s.meterValue)
		}
		return ok
	})
}

func (s *scanner) meterValue(depth int) (out MeterValue, ok bool) {
	ok = s.members(depth, []string{"timestamp", "sampledValue"}, func(field string) (ok bool) {
		switch field {
		case "timestamp":
			out.Timestamp, ok = s.dateTime()
		case "sampledValue":
			out.SampledValue, ok = array(s, depth+1, s.sampledValue)
		}
		return ok
	})
	return out, ok
}

func (s *scanner) sampledValue(depth int) (out SampledValue, ok bool) {
	fields := []string{"value", "context", "format", "measurand", "phase", "location", "unit"}
	ok = s.members(depth, fields, func(field string) (ok bool) {
		var p *string
		switch field {
		case "value":
			p = &out.Value
		case "context":
			p = &out.Context
		case "format":
			p = &out.Format
		case "measurand":
			p = &out.Measurand
		case "phase":
			p = &out.Phase
		case "location":
			p = &out.Location
		case "unit":
			p = &out.Unit
		}
		*p, ok = s.str()
		return ok
	})
	return out, ok
}

func (s *scanner) statusNotificationRequest(out *StatusNotificationRequest) bool {
	fields := []string{"connectorId", "errorCode", "info", "status", "timestamp", "vendorId", "vendorErrorCode"}
	return s.members(0, fields, func(field string) (ok bool) {
		var v string
		switch field {
		case "connectorId":
			out.ConnectorId, ok = s.int()
		case "errorCode":
			v, ok = s.str()
			out.ErrorCode = ChargePointErrorCode(v)
		case "info":
			out.Info, ok = s.str()
		case "status":
			v, ok = s.str()
			out.Status = ChargePointStatus(v)
		case "timestamp":
			var t DateTime
			t, ok = s.dateTime()
			out.Timestamp = &t
		case "vendorId":
			out.VendorId, ok = s.str()
		case "vendorErrorCode":
			out.VendorErrorCode, ok = s.str()
		}
		return ok
	})
}

func (s *scanner) startTransactionRequest(out *StartTransactionRequest) bool {
	fields := []string{"connectorId", "idTag", "meterStart", "reservationId", "timestamp"}
	return s.members(0, fields, func(field string) (ok bool) {
		switch field {
		case "connectorId":
			out.ConnectorId, ok = s.int()
		case "idTag":
			out.IdTag, ok = s.str()
		case "meterStart":
			out.MeterStart, ok = s.int()
		case "reservationId":
			out.ReservationId, ok = s.intPtr()
		case "timestamp":
			out.Timestamp, ok = s.dateTime()
		}
		return ok
	})
}

func (s *scanner) stopTransactionRequest(out *StopTransactionRequest) bool {
	fields := []string{"transactionId", "meterStop", "timestamp", "idTag", "reason", "transactionData"}
	return s.members(0, fields, func(field string) (ok bool) {
		switch field {
		case "transactionId":
			out.TransactionId, ok = s.int()
		case "meterStop":
			out.MeterStop, ok = s.int()
		case "timestamp":
			out.Timestamp, ok = s.dateTime()
		case "idTag":
			out.IdTag, ok = s.str()
		case "reason":
			out.Reason, ok = s.str()
		case "transactionData":
			out.TransactionData, ok = array(s, 1, s.meterValue)
		}
		return ok
	})
}

func (s *scanner) bootNotificationRequest(out *BootNotificationRequest) bool {
	fields := []string{"chargePointVendor", "chargePointModel", "chargePointSerialNumber",
		"chargeBoxSerialNumber", "firmwareVersion", "iccid", "imsi", "meterType", "meterSerialNumber"}
	return s.members(0, fields, func(field string) (ok bool) {
		var p *string
		switch field {
		case "chargePointVendor":
			p = &out.ChargePointVendor
		case "chargePointModel":
			p = &out.ChargePointModel
		case "chargePointSerialNumber":
			p = &out.ChargePointSerialNumber
		case "chargeBoxSerialNumber":
			p = &out.ChargeBoxSerialNumber
		case "firmwareVersion":
			p = &out.FirmwareVersion
		case "iccid":
			p = &out.Iccid
		case "imsi":
			p = &out.Imsi
		case "meterType":
			p = &out.MeterType
		case "meterSerialNumber":
			p = &out.MeterSerialNumber
		}
		*p, ok = s.str()
		return ok
	})
}

func (s *scanner) authorizeRequest(out *AuthorizeRequest) bool {
	return s.members(0, []string{"idTag"}, func(string) (ok bool) {
		out.IdTag, ok = s.str()
		return ok
	})
}

func (s *scanner) dataTransferRequest(out *DataTransferRequest) bool {
	return s.members(0, []string{"vendorId", "messageId", "data"}, func(field string) (ok bool) {
		var p *string
		switch field {
		case "vendorId":
			p = &out.VendorId
		case "messageId":
			p = &out.MessageId
		case "data":
			p = &out.Data
		}
		*p, ok = s.str()
		return ok
	})
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
