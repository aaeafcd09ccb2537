package ocpp

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDateTimeMarshal(t *testing.T) {
	cet := time.FixedZone("CET", 3600)
	tests := []struct {
		name string
		in   time.Time
		want string
	}{
		{"other zone to UTC", time.Date(2026, 11, 22, 11, 0, 0, 0, cet), `"2026-11-22T10:00:00.000Z"`},
		{"millis kept", time.Date(2026, 11, 22, 10, 0, 0, 123456789, time.UTC), `"2026-11-22T10:00:00.123Z"`},
		{"zero time", time.Time{}, `"0001-01-01T00:00:00.000Z"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(DateTime{tt.in})
			require.NoError(t, err)
			require.Equal(t, tt.want, string(b))
			b, err = json.Marshal(NewDateTime(tt.in))
			require.NoError(t, err)
			require.Equal(t, tt.want, string(b))
		})
	}
	t.Run("year out of range", func(t *testing.T) {
		_, err := json.Marshal(DateTime{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)})
		require.Error(t, err)
	})
}

func TestDateTimeUnmarshal(t *testing.T) {
	ten := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
	}{
		{`"2026-11-22T10:00:00Z"`, ten},
		{`"2026-11-22T10:00:00.000Z"`, ten},
		{`"2026-11-22T11:00:00+01:00"`, ten},
		{`"2026-11-22T05:30:00-04:30"`, ten},
		{`"2026-11-22T11:00:00+0100"`, ten},
		{`"2026-11-22T11:00:00+01"`, ten},
		{`"2026-11-22T10:00:00.123456Z"`, ten.Add(123456 * time.Microsecond)},
		{`"2026-11-22T10:00:00.5+00:00"`, ten.Add(500 * time.Millisecond)},
		{`"2026-11-22T10:00:00"`, ten},
		{`"2026-11-22T10:00:00.250"`, ten.Add(250 * time.Millisecond)},
		{`"2026-11-22T10:00Z"`, ten},
		{`"2026-11-22T10:00"`, ten},
		{`"2026-11-22 10:00:00Z"`, ten},
		{`"2026-11-22t10:00:00z"`, ten},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var d DateTime
			require.NoError(t, json.Unmarshal([]byte(tt.in), &d))
			require.True(t, tt.want.Equal(d.Time), "got %v, want %v", d.Time, tt.want)
			require.Equal(t, time.UTC, d.Location())
		})
	}
}

func TestDateTimeUnmarshalRejects(t *testing.T) {
	for _, in := range []string{
		`"garbage"`, `""`, `"2026-11-22"`, `"2026-13-22T10:00:00Z"`, `"2026-11-22T25:00:00Z"`,
		`"22/11/2026 10:00"`, `"2026-11-22T10:00:00ZZ"`, `1700000000`, `true`, `{}`, `[]`,
	} {
		t.Run(in, func(t *testing.T) {
			var d DateTime
			err := json.Unmarshal([]byte(in), &d)
			var typeErr *json.UnmarshalTypeError
			require.ErrorAs(t, err, &typeErr)
		})
	}
	t.Run("null leaves the value alone", func(t *testing.T) {
		d := DateTime{time.Unix(1, 0)}
		require.NoError(t, json.Unmarshal([]byte(`null`), &d))
		require.Equal(t, int64(1), d.Unix())
	})
}

func TestParseDateTime(t *testing.T) {
	got, err := ParseDateTime("2026-11-22T11:00:00+01:00")
	require.NoError(t, err)
	require.Equal(t, time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC), got)

	_, err = ParseDateTime("not a time")
	var fieldErr *FieldError
	require.ErrorAs(t, err, &fieldErr)
	require.Equal(t, TypeConstraintViolation, fieldErr.Code)
	require.Equal(t, `"not a time" is not an ISO 8601 date-time`, err.Error())
}
