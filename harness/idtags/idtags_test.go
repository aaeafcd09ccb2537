package idtags

import (
	"strings"
	"testing"
	"time"

	"github.com/ocppkata/kata/harness/ocpp"
)

func TestParseAndInfo(t *testing.T) {
	l, err := Parse(strings.NewReader("# tags\n04A1B2C3D4\nOPERATOR1 Accepted 2027-12-31T23:59:59Z\n\nLOSTCARD Blocked\nOLD Accepted 2020-01-01T00:00:00Z\n"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		tag  string
		want ocpp.AuthorizationStatus
	}{
		{"04A1B2C3D4", ocpp.AuthorizationAccepted},
		{"OPERATOR1", ocpp.AuthorizationAccepted},
		{"LOSTCARD", ocpp.AuthorizationBlocked},
		{"OLD", ocpp.AuthorizationExpired},
		{"STRANGER", ocpp.AuthorizationInvalid},
	}
	for _, tt := range tests {
		if got := l.Info(tt.tag, now).Status; got != tt.want {
			t.Errorf("%s: %s, want %s", tt.tag, got, tt.want)
		}
	}
	if got := l.Info("OPERATOR1", now).ExpiryDate; got == nil || got.Year() != 2027 {
		t.Errorf("OPERATOR1's expiry: %v", got)
	}
	if got := List(nil).Info("ANY", now).Status; got != ocpp.AuthorizationAccepted {
		t.Errorf("a nil list: %s, want Accepted", got)
	}
}

func TestParseRefuses(t *testing.T) {
	tests := []struct{ name, file, want string }{
		{"too many fields", "A\nB Accepted 2027-01-01T00:00:00Z x\n", "2: 4 fields"},
		{"too long", strings.Repeat("x", 21) + "\n", "1: idTag"},
		{"twice", "A\nA\n", "2: idTag \"A\" is listed twice"},
		{"bad status", "A Fine\n", "1: status \"Fine\""},
		{"ConcurrentTx is no list status", "A ConcurrentTx\n", "1: status"},
		{"bad expiry", "A Accepted tomorrow\n", "1: expiry"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tt.file))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
