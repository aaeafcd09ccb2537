package station_test

import (
	"context"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/stations/station"
)

// The simulator speaks to a real server over loopback TCP, outside any bubble.
func TestRealTCP(t *testing.T) {
	defer goleak.VerifyNone(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	fc := newFakeCS(t, ln, fakeConfig{})
	defer fc.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	url := "ws://" + ln.Addr().String() + "/ocpp"

	for _, mode := range []station.Mode{station.LockStep, station.Pipelined} {
		t.Run(string(mode), func(t *testing.T) {
			r, err := station.RunFleet(ctx, station.FleetOptions{
				Options:  station.Options{URL: url},
				Stations: 5,
				Mode:     mode,
				Messages: 20,
				FirstID:  map[station.Mode]int{station.LockStep: 1, station.Pipelined: 101}[mode],
			})
			require.NoError(t, err)
			require.Empty(t, r.Failures(), r.Summary())
			require.Equal(t, 5, r.Connected)
			require.Equal(t, r.Calls, r.Answered)
		})
	}

	t.Run("server call", func(t *testing.T) {
		s, err := station.Dial(ctx, "CS0999", station.Options{URL: url})
		require.NoError(t, err)
		defer s.Close()
		require.NoError(t, s.Call(ctx, ocpp.ActionHeartbeat, nil, nil))
		c := fc.conn("CS0999")
		c.call(t, "srv1", ocpp.ActionGetConfiguration, ocpp.GetConfigurationRequest{Key: []string{"HeartbeatInterval", "Colour"}})
		got := <-c.answers
		require.Equal(t, &ocpp.CallResult{ID: "srv1",
			Payload: []byte(`{"configurationKey":[{"key":"HeartbeatInterval","readonly":false,"value":"300"}],"unknownKey":["Colour"]}`)}, got)
	})
}

// Nobody listening: every station says so, in words, with the cause
// available to errors.Is.
func TestRealTCPRefused(t *testing.T) {
	defer goleak.VerifyNone(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	r, err := station.RunFleet(t.Context(), station.FleetOptions{Options: station.Options{URL: "ws://" + addr + "/ocpp"}, Stations: 2})
	require.NoError(t, err)
	require.Zero(t, r.Connected)
	for _, st := range r.Stations {
		require.ErrorIs(t, st.Err, syscall.ECONNREFUSED)
		require.ErrorContains(t, st.Err, "station "+st.ID+": connect ws://"+addr+"/ocpp/"+st.ID+": ")
	}
}

// Over real TCP a deaf station writes its calls, never reads the answers
// that pile up for it, and closes when the others are done.
func TestRealTCPDeaf(t *testing.T) {
	defer goleak.VerifyNone(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	// The latency keeps the others' sessions (0.7 s) long enough for the
	// deaf station to write all its calls.
	fc := newFakeCS(t, ln, fakeConfig{latency: 50 * time.Millisecond})
	defer fc.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	r, err := station.RunFleet(ctx, station.FleetOptions{
		Options:  station.Options{URL: "ws://" + ln.Addr().String() + "/ocpp"},
		Stations: 4,
		Mode:     station.Deaf,
		Messages: 20,
	})
	require.NoError(t, err)
	require.Empty(t, r.Failures(), r.Summary())
	require.Equal(t, 4, r.Connected)
	require.Equal(t, 3*station.SessionCalls, r.Calls)
	require.Equal(t, r.Calls, r.Answered)
	require.Equal(t, &station.DeafReport{Frames: 20, Connections: 1}, r.Stations[0].Deaf)
	require.Contains(t, r.Summary(), "deaf station CS0001: 20 frames sent")
}
