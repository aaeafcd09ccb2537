package main

import (
	"bytes"
	"net"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestRun(t *testing.T) {
	defer goleak.VerifyNone(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	refused := "ws://" + ln.Addr().String() + "/ocpp"
	require.NoError(t, ln.Close())

	tests := []struct {
		name       string
		args       []string
		wantExit   int
		wantStderr string
	}{
		{"help", []string{"-h"}, exitOK, "usage: go run ./stations [flags]"},
		{"unknown flag", []string{"-bogus"}, exitUsage, "flag provided but not defined: -bogus"},
		{"bad mode", []string{"-mode", "fast"}, exitUsage, `stations: -mode: unknown mode "fast" (want lockstep, pipelined, flood or idle)`},
		{"no stations", []string{"-n", "0"}, exitUsage, "stations: -n 0: want at least 1 station"},
		{"bad URL", []string{"-url", "http://x"}, exitUsage, `stations: -url "http://x": want a WebSocket URL`},
		{"contradiction", []string{"-no-answer", "-answer-delay", "1s"}, exitUsage, "-no-answer and -answer-delay contradict each other"},
		{"refused", []string{"-n", "2", "-url", refused}, exitFailed,
			"stations: no station could connect to " + refused + ": connection refused, nothing is listening there\n" +
				"is the server running? try: make serve\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			require.Equal(t, tt.wantExit, run(tt.args, &stdout, &stderr), "stderr:\n%s", stderr.String())
			require.Contains(t, stderr.String(), tt.wantStderr)
			require.Empty(t, stdout.String())
		})
	}
}
