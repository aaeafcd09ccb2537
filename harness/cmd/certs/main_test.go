package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestStationIDs(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr string
	}{
		{"3", []string{"CS0001", "CS0002", "CS0003"}, ""},
		{"0", []string{}, ""},
		{"CS0042, site:7 ,", []string{"CS0042", "site:7"}, ""},
		{"-1", nil, "-stations -1: want 0 to"},
		{"10001", nil, "-stations 10001: want 0 to"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := stationIDs(tt.in)
			switch {
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("stationIDs(%q): %v, want an error about %q", tt.in, err, tt.wantErr)
			case tt.wantErr == "" && (err != nil || !slices.Equal(got, tt.want)):
				t.Errorf("stationIDs(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestRun(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	var stdout, stderr bytes.Buffer
	if err := run([]string{"-dir", dir, "-stations", "2"}, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	for _, want := range []string{"made a new CA; wrote 8 files", "client certificates for CS0001 to CS0002",
		"make stations URL=wss://127.0.0.1:8080/ocpp CA=" + dir + "/ca.pem CERTS=" + dir + "/stations"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("the output lacks %q:\n%s", want, stdout.String())
		}
	}
	for _, f := range []string{"ca.pem", "ca-key.pem", "server.pem", "server-key.pem", "stations/CS0002.pem", "stations/CS0002-key.pem"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	stdout.Reset()
	if err := run([]string{"-dir", dir, "-stations", "CS0042", "-hosts", "ocpp.example.com"}, &stdout, &stderr); err != nil {
		t.Fatalf("run again: %v", err)
	}
	if !strings.HasPrefix(stdout.String(), "kept the CA in "+dir+"; wrote 4 files: the server's certificate for ocpp.example.com, and CS0042's") {
		t.Errorf("run again:\n%s", stdout.String())
	}
	if err := run([]string{"-dir", dir, "-hosts", " , "}, &stdout, &stderr); err == nil || !strings.Contains(err.Error(), "-hosts: want at least one host") {
		t.Errorf("no hosts: %v", err)
	}
}
