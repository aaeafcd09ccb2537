package ocpp

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseErrorCode(t *testing.T) {
	tests := []struct {
		in   string
		want ErrorCode
	}{
		{"NotImplemented", NotImplemented},
		{"NotSupported", NotSupported},
		{"InternalError", InternalError},
		{"ProtocolError", ProtocolError},
		{"SecurityError", SecurityError},
		{"FormationViolation", FormationViolation},
		{"PropertyConstraintViolation", PropertyConstraintViolation},
		{"OccurenceConstraintViolation", OccurenceConstraintViolation},
		{"OccurrenceConstraintViolation", OccurenceConstraintViolation},
		{"TypeConstraintViolation", TypeConstraintViolation},
		{"GenericError", GenericError},
		{"notimplemented", GenericError},
		{"", GenericError},
		{"Whatever", GenericError},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got := ParseErrorCode(tt.in)
			require.Equal(t, tt.want, got)
			require.True(t, got.Valid())
		})
	}
}

func TestErrorCodes(t *testing.T) {
	require.Len(t, ErrorCodes, 10)
	for _, c := range ErrorCodes {
		require.Equal(t, c, ParseErrorCode(string(c)))
	}
	require.False(t, ErrorCode("OccurrenceConstraintViolation").Valid(), "the wire spelling is the specification's")
}

func TestFieldErrorError(t *testing.T) {
	require.Equal(t, `field "idTag": required field is missing`,
		(&FieldError{Field: "idTag", Code: OccurenceConstraintViolation, Reason: "required field is missing"}).Error())
	require.Equal(t, "bad", (&FieldError{Code: GenericError, Reason: "bad"}).Error())
}
