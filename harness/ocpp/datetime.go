package ocpp

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"
)

// DateTime is an OCPP dateTime. It is written as RFC 3339 in UTC with
// millisecond precision, and read leniently: any ISO 8601 date-time with a
// zone offset or Z, with or without fractional seconds; without a zone it
// is taken as UTC.
type DateTime struct{ time.Time }

// NewDateTime wraps t.
func NewDateTime(t time.Time) *DateTime { return &DateTime{t} }

const wireLayout = "2006-01-02T15:04:05.000Z07:00"

// The layouts accepted on input, tried in order, after ParseDateTime has
// turned a space between date and time into T and made letters upper case.
// The .999999999 makes fractional seconds optional.
var readLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05.999999999Z07",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04",
}

// MarshalJSON writes the time as RFC 3339 UTC with milliseconds, the form
// every station parses.
func (d DateTime) MarshalJSON() ([]byte, error) {
	b, ok := d.appendJSON(nil)
	if !ok {
		return nil, fmt.Errorf("ocpp: dateTime year %d outside [0,9999]", d.UTC().Year())
	}
	return b, nil
}

// UnmarshalJSON reads an ISO 8601 date-time. null leaves d unchanged, as
// encoding/json expects, so a required dateTime sent as null reads as
// missing. A bad value is reported as a *json.UnmarshalTypeError, so that
// encoding/json adds the field's path to it.
func (d *DateTime) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return &json.UnmarshalTypeError{Value: jsonKind(b), Type: reflect.TypeFor[DateTime]()}
	}
	t, err := ParseDateTime(s)
	if err != nil {
		return &json.UnmarshalTypeError{Value: "string " + clip(fmt.Sprintf("%q", s)), Type: reflect.TypeFor[DateTime]()}
	}
	d.Time = t
	return nil
}

// ParseDateTime reads an ISO 8601 date-time leniently and returns it in
// UTC. Its error is a *FieldError without a Field: the caller knows which
// field it was.
func ParseDateTime(s string) (time.Time, error) {
	norm := strings.ToUpper(s)
	if len(norm) > 10 && norm[10] == ' ' {
		norm = norm[:10] + "T" + norm[11:]
	}
	for _, layout := range readLayouts {
		if t, err := time.Parse(layout, norm); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, &FieldError{Code: TypeConstraintViolation, Reason: fmt.Sprintf("%s is not an ISO 8601 date-time", clip(fmt.Sprintf("%q", s)))}
}

// jsonKind names a JSON value's type the way encoding/json does in its
// errors.
func jsonKind(b []byte) string {
	if len(b) == 0 {
		return "value"
	}
	switch b[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "bool"
	case '"':
		return "string"
	}
	return "number " + clip(string(b))
}
