package ocpp

import (
	"encoding/json"
	"slices"
	"strconv"
)

// The frames and the answers a central system gives are written by hand,
// byte for byte as encoding/json wrote them before (encode_test.go keeps
// the old way and compares). encoding/json still writes whatever the hand
// path does not cover, and words every error.

// frameOverhead is room for a frame's brackets, type, commas and quotes.
const frameOverhead = 16

func (c *Call) appendJSON(dst []byte) ([]byte, error) {
	n := len(dst)
	dst = slices.Grow(dst, frameOverhead+len(c.ID)+len(c.Action)+len(c.Payload))
	dst = append(dst, "[2,"...)
	dst = appendString(dst, c.ID)
	dst = append(dst, ',')
	dst = appendString(dst, c.Action)
	dst = append(dst, ',')
	if out, ok := appendPayload(dst, c.Payload); ok {
		return append(out, ']'), nil
	}
	return appendSlow(dst[:n], TypeCall, c.ID, c.Action, payloadOrEmpty(c.Payload))
}

func (r *CallResult) appendJSON(dst []byte) ([]byte, error) {
	n := len(dst)
	dst = slices.Grow(dst, frameOverhead+len(r.ID)+len(r.Payload))
	dst = append(dst, "[3,"...)
	dst = appendString(dst, r.ID)
	dst = append(dst, ',')
	if out, ok := appendPayload(dst, r.Payload); ok {
		return append(out, ']'), nil
	}
	return r.appendSlow(dst[:n])
}

// appendSlow is what appendJSON leaves to encoding/json, in a frame of its
// own (see encodeError).
//
//go:noinline
func (r *CallResult) appendSlow(dst []byte) ([]byte, error) {
	return appendSlow(dst, TypeCallResult, r.ID, payloadOrEmpty(r.Payload))
}

func (e *CallError) appendJSON(dst []byte) ([]byte, error) {
	n := len(dst)
	dst = slices.Grow(dst, frameOverhead+len(e.ID)+len(e.Code)+len(e.Description)+len(e.Details))
	dst = append(dst, "[4,"...)
	dst = appendString(dst, e.ID)
	dst = append(dst, ',')
	dst = appendString(dst, string(e.Code))
	dst = append(dst, ',')
	dst = appendString(dst, e.Description)
	dst = append(dst, ',')
	if out, ok := appendPayload(dst, e.Details); ok {
		return append(out, ']'), nil
	}
	return appendSlow(dst[:n], TypeCallError, e.ID, e.Code, e.Description, payloadOrEmpty(e.Details))
}

// appendPayload appends a payload or errorDetails object, {} when empty,
// compacted as encoding/json compacts a json.RawMessage. It reports false
// when the payload is not valid JSON, or is nested too deep to check by
// hand.
func appendPayload(dst []byte, p json.RawMessage) ([]byte, bool) {
	if len(p) == 0 {
		return append(dst, "{}"...), true
	}
	return appendCompactValue(dst, p)
}

// appendSlow appends the frame as marshalFrame writes it, for what the
// hand path leaves to encoding/json.
func appendSlow(dst []byte, elems ...any) ([]byte, error) {
	b, err := marshalFrame(elems...)
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}

// dateTimeLen is the length of a dateTime as DateTime writes it, quotes
// included.
const dateTimeLen = len(`"2006-01-02T15:04:05.000Z"`)

// appendJSON appends the dateTime as MarshalJSON writes it, or reports
// false if its year has not four digits.
func (d DateTime) appendJSON(dst []byte) ([]byte, bool) {
	t := d.UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		return dst, false
	}
	// AppendFormat writes nine digits of fraction before it cuts them to
	// three: with less room than that it would allocate.
	dst = slices.Grow(dst, dateTimeLen+6)
	dst = append(dst, '"')
	dst = t.AppendFormat(dst, wireLayout)
	return append(dst, '"'), true
}

// encodeResponse writes the answers a central system gives to the calls
// of a station, as encodePayload's encoding/json would. It reports false
// for any other v, a nil pointer among them, and for a dateTime that
// MarshalJSON refuses.
func encodeResponse(v any) (json.RawMessage, bool) {
	switch r := v.(type) {
	case HeartbeatResponse:
		return r.appendJSON(make([]byte, 0, 16+dateTimeLen+6))
	case *HeartbeatResponse:
		if r != nil {
			return r.appendJSON(make([]byte, 0, 16+dateTimeLen+6))
		}
	case BootNotificationResponse:
		return r.appendJSON(make([]byte, 0, 64+dateTimeLen+6))
	case *BootNotificationResponse:
		if r != nil {
			return r.appendJSON(make([]byte, 0, 64+dateTimeLen+6))
		}
	case AuthorizeResponse:
		return appendIdTagInfoAnswer(make([]byte, 0, 64), &r.IdTagInfo)
	case *AuthorizeResponse:
		if r != nil {
			return appendIdTagInfoAnswer(make([]byte, 0, 64), &r.IdTagInfo)
		}
	case StartTransactionResponse:
		return r.appendJSON(make([]byte, 0, 96))
	case *StartTransactionResponse:
		if r != nil {
			return r.appendJSON(make([]byte, 0, 96))
		}
	case StopTransactionResponse:
		return r.appendJSON(make([]byte, 0, 64))
	case *StopTransactionResponse:
		if r != nil {
			return r.appendJSON(make([]byte, 0, 64))
		}
	case DataTransferResponse:
		return r.appendJSON(make([]byte, 0, 32+len(r.Data)))
	case *DataTransferResponse:
		if r != nil {
			return r.appendJSON(make([]byte, 0, 32+len(r.Data)))
		}
	case MeterValuesResponse, StatusNotificationResponse:
		return emptyObject(), true
	case *MeterValuesResponse:
		if r != nil {
			return emptyObject(), true
		}
	case *StatusNotificationResponse:
		if r != nil {
			return emptyObject(), true
		}
	}
	return nil, false
}

func (r *HeartbeatResponse) appendJSON(dst []byte) ([]byte, bool) {
	dst = append(dst, `{"currentTime":`...)
	dst, ok := r.CurrentTime.appendJSON(dst)
	return append(dst, '}'), ok
}

func (r *BootNotificationResponse) appendJSON(dst []byte) ([]byte, bool) {
	dst = append(dst, `{"status":`...)
	dst = appendString(dst, string(r.Status))
	dst = append(dst, `,"currentTime":`...)
	dst, ok := r.CurrentTime.appendJSON(dst)
	dst = append(dst, `,"interval":`...)
	dst = strconv.AppendInt(dst, int64(r.Interval), 10)
	return append(dst, '}'), ok
}

// appendIdTagInfoAnswer writes an AuthorizeResponse.
func appendIdTagInfoAnswer(dst []byte, t *IdTagInfo) ([]byte, bool) {
	dst = append(dst, `{"idTagInfo":`...)
	dst, ok := t.appendJSON(dst)
	return append(dst, '}'), ok
}

func (r *StartTransactionResponse) appendJSON(dst []byte) ([]byte, bool) {
	dst = append(dst, `{"idTagInfo":`...)
	dst, ok := r.IdTagInfo.appendJSON(dst)
	dst = append(dst, `,"transactionId":`...)
	dst = strconv.AppendInt(dst, int64(r.TransactionId), 10)
	return append(dst, '}'), ok
}

func (r *StopTransactionResponse) appendJSON(dst []byte) ([]byte, bool) {
	if r.IdTagInfo == nil {
		return append(dst, "{}"...), true
	}
	return appendIdTagInfoAnswer(dst, r.IdTagInfo)
}

func (r *DataTransferResponse) appendJSON(dst []byte) ([]byte, bool) {
	dst = append(dst, `{"status":`...)
	dst = appendString(dst, string(r.Status))
	if r.Data != "" {
		dst = append(dst, `,"data":`...)
		dst = appendString(dst, r.Data)
	}
	return append(dst, '}'), true
}

func (t *IdTagInfo) appendJSON(dst []byte) ([]byte, bool) {
	ok := true
	dst = append(dst, `{"status":`...)
	dst = appendString(dst, string(t.Status))
	if t.ExpiryDate != nil {
		dst = append(dst, `,"expiryDate":`...)
		dst, ok = t.ExpiryDate.appendJSON(dst)
	}
	if t.ParentIdTag != "" {
		dst = append(dst, `,"parentIdTag":`...)
		dst = appendString(dst, t.ParentIdTag)
	}
	return append(dst, '}'), ok
}
