package backend_test

import (
	"cmp"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/stations/station"
)

// session is how long Handle keeps a caller busy with one station's
// lock-step charging session.
func session(l backend.Latencies) time.Duration {
	var d time.Duration
	for _, action := range station.SessionActions {
		d += l.Total(action)
	}
	return d
}

func TestWorkshopSessionTakes18_8s(t *testing.T) {
	l := backend.WorkshopLatencies()
	require.Len(t, station.SessionActions, 14)
	require.Equal(t, 18800*time.Millisecond, session(l),
		"a 14-call session on the workshop's latencies keeps the backend busy for 18.8 s")
}

func TestLatenciesFor(t *testing.T) {
	l := backend.WorkshopLatencies()
	tests := []struct {
		action      string
		work, total time.Duration
	}{
		{ocpp.ActionBootNotification, 1000 * time.Millisecond, 1700 * time.Millisecond},
		{ocpp.ActionAuthorize, 800 * time.Millisecond, 1500 * time.Millisecond},
		{ocpp.ActionStartTransaction, 1200 * time.Millisecond, 1900 * time.Millisecond},
		{ocpp.ActionStopTransaction, 1000 * time.Millisecond, 1700 * time.Millisecond},
		{ocpp.ActionMeterValues, 600 * time.Millisecond, 1300 * time.Millisecond},
		{ocpp.ActionStatusNotification, 400 * time.Millisecond, 1100 * time.Millisecond},
		{ocpp.ActionHeartbeat, 300 * time.Millisecond, 1000 * time.Millisecond},
		// Not in the table: Other.
		{ocpp.ActionDataTransfer, 500 * time.Millisecond, 1200 * time.Millisecond},
		{"NoSuchAction", 500 * time.Millisecond, 1200 * time.Millisecond},
		{"", 500 * time.Millisecond, 1200 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(cmp.Or(tt.action, "empty"), func(t *testing.T) {
			require.Equal(t, tt.work, l.For(tt.action))
			require.Equal(t, tt.total, l.Total(tt.action))
		})
	}
}

func TestZeroLatenciesAreInstant(t *testing.T) {
	var l backend.Latencies
	for _, action := range []string{ocpp.ActionBootNotification, "NoSuchAction"} {
		require.Zero(t, l.For(action))
		require.Zero(t, l.Total(action))
	}
	require.Zero(t, session(l))
}

func TestLatenciesScaled(t *testing.T) {
	l := backend.WorkshopLatencies()
	tests := []struct {
		factor float64
		want   time.Duration
	}{
		{1, 18800 * time.Millisecond},
		{0.5, 9400 * time.Millisecond},
		{2, 37600 * time.Millisecond},
		{0, 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("factor %g", tt.factor), func(t *testing.T) {
			s := l.Scaled(tt.factor)
			require.Equal(t, tt.want, session(s))
			require.Equal(t, time.Duration(float64(l.Before)*tt.factor), s.Before)
			require.Equal(t, time.Duration(float64(l.After)*tt.factor), s.After)
			require.Equal(t, time.Duration(float64(l.Other)*tt.factor), s.Other)
			require.Equal(t, time.Duration(float64(l.For("NoSuchAction"))*tt.factor), s.For("NoSuchAction"))
			require.Len(t, s.Action, len(l.Action))
		})
	}

	t.Run("copies the action table", func(t *testing.T) {
		orig := backend.WorkshopLatencies()
		s := orig.Scaled(0.5)
		s.Action[ocpp.ActionHeartbeat] = time.Hour
		require.Equal(t, 300*time.Millisecond, orig.For(ocpp.ActionHeartbeat),
			"changing the scaled table changed the original")
	})

	t.Run("nil action table stays nil", func(t *testing.T) {
		s := backend.Latencies{Before: time.Second, Other: 2 * time.Second}.Scaled(0.5)
		require.Nil(t, s.Action)
		require.Equal(t, 500*time.Millisecond, s.Before)
		require.Equal(t, time.Second, s.For(ocpp.ActionHeartbeat))
	})
}
