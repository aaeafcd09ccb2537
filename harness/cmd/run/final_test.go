package main

import (
	"os/exec"
	"strings"
	"testing"
)

func TestServeFlagsFallBackOnTheEnvironment(t *testing.T) {
	env := map[string]string{"OCPP_ADDR": "0.0.0.0:9000", "OCPP_DB": "/var/lib/ocpp.db", "OCPP_HEARTBEAT": "60",
		"OCPP_API_TOKEN": "secret", "LOG": "json", "OCPP_MAX_FRAME": "1024"}
	f, err := parseServeFlags(nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if f.addr != "0.0.0.0:9000" || f.db != "/var/lib/ocpp.db" || f.heartbeat != 60 || f.apiToken != "secret" || f.log != "json" || f.maxFrame != 1024 {
		t.Errorf("from the environment: %+v", f)
	}
	f, err = parseServeFlags([]string{"-db", "memory", "-heartbeat", "30"}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if f.db != "memory" || f.heartbeat != 30 {
		t.Errorf("a flag wins over the environment: %+v", f)
	}
	f, err = parseServeFlags(nil, func(string) string { return "" })
	if err != nil || f.db != ".kata/serve.db" || f.addr != "127.0.0.1:8080" {
		t.Errorf("defaults: %+v, %v", f, err)
	}
}

func TestServeFlagsRefused(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-heartbeat", "-5"}, "-heartbeat -5"},
		{[]string{"-max-frame", "-1"}, "-max-frame -1"},
		{[]string{"-log", "yaml"}, `-log "yaml"`},
		{[]string{"-workers", "-2"}, "-workers -2"},
		{[]string{"-registration", "maybe"}, `-registration "maybe"`},
		{[]string{"-log-level", "loud"}, `-log-level "loud"`},
		{[]string{"-heartbeat", "soon"}, `-heartbeat "soon"`},
		{[]string{"-tls-cert", "server.pem"}, "TLS needs both TLS_CERT (the certificate) and TLS_KEY"},
		{[]string{"-tls-key", "server-key.pem"}, "TLS needs both TLS_CERT (the certificate) and TLS_KEY"},
		{[]string{"-tls-client-ca", "ca.pem"}, "TLS_CLIENT_CA (security profile 3) needs TLS"},
		{[]string{"-nats-url", "127.0.0.1:4222"}, `-nats-url "127.0.0.1:4222": want nats://HOST:PORT`},
		{[]string{"-nats-url", "nats://a:4222,http://b:4222"}, "want nats://HOST:PORT"},
		{[]string{"-nats-url", "nats://kata:s3cret@a:4222,b"}, `"nats://kata:xxxxx@a:4222,b"`},
		{[]string{"-node", "n1\nn2"}, "want a name without control characters"},
		{[]string{"-node", strings.Repeat("n", 65)}, "at most 64 bytes"},
	}
	for _, tt := range tests {
		_, err := parseServeFlags(tt.args, func(string) string { return "" })
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: %v, want an error about %s", tt.args, err, tt.want)
		}
	}
}

func TestRegistrationInAnyCase(t *testing.T) {
	f, err := parseServeFlags([]string{"-registration", "pending"}, func(string) string { return "" })
	if err != nil || f.registration != "Pending" {
		t.Errorf("-registration pending: %q, %v; want Pending", f.registration, err)
	}
}

func TestMaxConns(t *testing.T) {
	for _, tt := range []struct{ limit, want int }{
		{20000, 20000 - fileReserve}, // this machine's
		{1024, 1024 - fileReserve},   // a common default
		{256, 0},                     // too few to spare any
		{0, 0},                       // unknown
	} {
		if got := maxConns(tt.limit); got != tt.want {
			t.Errorf("maxConns(%d) = %d, want %d", tt.limit, got, tt.want)
		}
	}
}

// TestLinksNoTestKit keeps the test kit, and with it testing and goleak,
// out of the binary make serve runs.
func TestLinksNoTestKit(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		switch {
		case pkg == "testing", strings.HasPrefix(pkg, "testing/"), strings.HasPrefix(pkg, "go.uber.org/goleak"),
			strings.HasSuffix(pkg, "/harness/kit"), strings.HasPrefix(pkg, "github.com/stretchr/testify"):
			t.Errorf("make serve's binary links %s: what it needs of a test helper belongs in a package of its own", pkg)
		}
	}
}
