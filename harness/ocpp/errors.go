package ocpp

import "fmt"

// ErrorCode is the errorCode of a CALLERROR (OCPP-J 1.6, table 7).
type ErrorCode string

// The ten error codes of OCPP-J 1.6. The wire keeps the specification's
// spelling "OccurenceConstraintViolation".
const (
	// NotImplemented: the action is unknown to the receiver.
	NotImplemented ErrorCode = "NotImplemented"
	// NotSupported: the action is known but not supported.
	NotSupported ErrorCode = "NotSupported"
	// InternalError: the receiver failed while handling a valid call.
	InternalError ErrorCode = "InternalError"
	// ProtocolError: the payload is incomplete.
	ProtocolError ErrorCode = "ProtocolError"
	// SecurityError: the call was refused for security reasons.
	SecurityError ErrorCode = "SecurityError"
	// FormationViolation: the frame or payload is syntactically wrong.
	FormationViolation ErrorCode = "FormationViolation"
	// PropertyConstraintViolation: a field holds an invalid value, such as a
	// string too long or outside its enumeration.
	PropertyConstraintViolation ErrorCode = "PropertyConstraintViolation"
	// OccurenceConstraintViolation: a field occurs too often or too rarely,
	// such as a required field that is missing.
	OccurenceConstraintViolation ErrorCode = "OccurenceConstraintViolation"
	// TypeConstraintViolation: a field has the wrong JSON type.
	TypeConstraintViolation ErrorCode = "TypeConstraintViolation"
	// GenericError: anything else.
	GenericError ErrorCode = "GenericError"
)

// ErrorCodes lists every error code, in the specification's order.
// It is read-only.
var ErrorCodes = []ErrorCode{
	NotImplemented, NotSupported, InternalError, ProtocolError, SecurityError,
	FormationViolation, PropertyConstraintViolation, OccurenceConstraintViolation,
	TypeConstraintViolation, GenericError,
}

// ParseErrorCode reads an errorCode off the wire. It accepts the alternative
// spelling "OccurrenceConstraintViolation", which one popular library sends,
// and maps anything it does not know to GenericError, as the specification's
// catch-all.
func ParseErrorCode(s string) ErrorCode {
	if s == "OccurrenceConstraintViolation" {
		return OccurenceConstraintViolation
	}
	for _, c := range ErrorCodes {
		if string(c) == s {
			return c
		}
	}
	return GenericError
}

// Valid reports whether c is one of the ten codes spelled as the wire
// spells them.
func (c ErrorCode) Valid() bool {
	for _, k := range ErrorCodes {
		if c == k {
			return true
		}
	}
	return false
}

// FieldError is a payload field that breaks the OCPP 1.6 schema: missing,
// too long, of the wrong type, or outside its enumeration.
type FieldError struct {
	// Field is the JSON path of the field, such as
	// "meterValue[0].sampledValue", or "" when the caller does not know it
	// (ParseDateTime, for one, sees only the string).
	Field string
	// Code is the CALLERROR code that fits the violation.
	Code ErrorCode
	// Reason says what is wrong with the field, for people.
	Reason string
}

// Error names the field first, since that is what the sender must fix.
func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return fmt.Sprintf("field %q: %s", e.Field, e.Reason)
}
