package ocpp

import (
	"encoding/json"
	"unicode/utf8"
)

// decodeFast is Decode for the frames stations send every second: it
// reads the frame in one pass, checking its JSON and compacting its
// payload on the way. It reports false for any frame that is not valid
// OCPP-J and for the rare valid ones it leaves to decodeSlow (a message
// type written as 2.0e0, say, or nesting deeper than maxFastDepth).
// When it reports true, decodeSlow would have returned an equal Message.
func decodeFast(data []byte) (Message, bool) {
	if !utf8.Valid(data) {
		return nil, false
	}
	s := scanner{data: data}
	if !s.consume('[') {
		return nil, false
	}
	s.skipSpace()
	if s.i >= len(data) {
		return nil, false
	}
	typ := MessageType(data[s.i] - '0')
	s.i++
	if !typ.known() || !s.consume(',') {
		return nil, false
	}
	rawID, ok := s.stringValue()
	if !ok || !s.consume(',') {
		return nil, false
	}
	if n := utf8.RuneCount(rawID); n == 0 || n > MaxIDLength {
		return nil, false
	}
	id := string(rawID)

	var msg Message
	switch typ {
	case TypeCall:
		action, ok := s.stringValue()
		if !ok || len(action) == 0 || !s.consume(',') {
			return nil, false
		}
		payload, ok := s.object()
		if !ok {
			return nil, false
		}
		msg = &Call{ID: id, Action: internAction(action), Payload: payload}
	case TypeCallResult:
		payload, ok := s.object()
		if !ok {
			return nil, false
		}
		msg = &CallResult{ID: id, Payload: payload}
	default: // TypeCallError
		code, ok := s.stringValue()
		if !ok || !s.consume(',') {
			return nil, false
		}
		desc, ok := s.stringValue()
		if !ok || !s.consume(',') {
			return nil, false
		}
		details, ok := s.object()
		if !ok {
			return nil, false
		}
		msg = &CallError{ID: id, Code: parseErrorCode(code), Description: string(desc), Details: details}
	}
	if !s.consume(']') || !s.atEnd() {
		return nil, false
	}
	return msg, true
}

// object reads a JSON object and returns a compacted copy of it: the frame
// the caller decodes may be reused once Decode returns.
func (s *scanner) object() (json.RawMessage, bool) {
	s.skipSpace()
	if s.peek() != '{' {
		return nil, false
	}
	start := s.i
	s.spaced = false
	if !s.value(0) {
		return nil, false
	}
	v := s.data[start:s.i]
	if !s.spaced {
		return append(make(json.RawMessage, 0, len(v)), v...), true
	}
	return appendStripped(make(json.RawMessage, 0, len(v)), v), true
}

// internAction returns the action's constant when it is one, so that a
// call's Action costs no allocation.
func internAction(b []byte) string {
	switch string(b) {
	case ActionAuthorize:
		return ActionAuthorize
	case ActionBootNotification:
		return ActionBootNotification
	case ActionDataTransfer:
		return ActionDataTransfer
	case ActionHeartbeat:
		return ActionHeartbeat
	case ActionMeterValues:
		return ActionMeterValues
	case ActionStartTransaction:
		return ActionStartTransaction
	case ActionStatusNotification:
		return ActionStatusNotification
	case ActionStopTransaction:
		return ActionStopTransaction
	}
	return string(b)
}

// parseErrorCode is ParseErrorCode without turning b into a string.
func parseErrorCode(b []byte) ErrorCode {
	if string(b) == "OccurrenceConstraintViolation" {
		return OccurenceConstraintViolation
	}
	for _, c := range ErrorCodes {
		if string(c) == string(b) {
			return c
		}
	}
	return GenericError
}
