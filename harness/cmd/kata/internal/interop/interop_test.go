package interop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ocppkata/kata/harness/cmd/kata/internal/link"
	"github.com/ocppkata/kata/harness/cmd/kata/internal/step"
	"github.com/ocppkata/kata/harness/tlsauth"
)

// TestInterop runs interop/check.mjs against the final server: as it
// starts by default, and over TLS with Basic auth (security profile 2) and
// an operator token. Every check must pass,
// and the server, stopped with Ctrl-C, must end cleanly (under -race: with
// no race found).
func TestInterop(t *testing.T) {
	node, repo := requireNode(t)
	steps, err := step.Load(repo)
	if err != nil {
		t.Fatal(err)
	}
	final := steps[len(steps)-1]
	bin, err := link.BuildLinked(final, false, true, t.TempDir(), "interop-server", "interop", raceFlags...)
	if err != nil {
		t.Fatalf("build the final server: %v", err)
	}

	cases := []struct {
		name       string
		key, token string
		tls        bool
	}{
		{name: "plain"},
		{name: "TLS, basic auth and an API token", key: "interop-secret", token: "interop-token", tls: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var certs string
			if tc.tls {
				certs = t.TempDir()
				if _, err := tlsauth.WriteWorkshop(tlsauth.Workshop{Dir: certs, Hosts: []string{"127.0.0.1"}, Now: time.Now()}); err != nil {
					t.Fatal(err)
				}
			}
			addr := startServer(t, bin, tc.key, tc.token, certs)
			scheme := "ws://"
			if tc.tls {
				scheme = "wss://"
			}
			args := []string{filepath.Join(repo.Root, "interop", "check.mjs"), "--url", scheme + addr + "/ocpp", "--stations", strconv.Itoa(atOnce)}
			if tc.key != "" {
				args = append(args, "--key", tc.key)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, node, args...)
			// The token in the environment, as make interop hands it over.
			cmd.Env = append(os.Environ(), "API_TOKEN="+tc.token)
			if tc.tls {
				cmd.Env = append(cmd.Env, "NODE_EXTRA_CA_CERTS="+filepath.Join(certs, tlsauth.CAFile))
			}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("the interoperability check failed (%v): a third-party charge point, strict about the OCPP 1.6 schemas, disagrees with the server:\n%s", err, out)
			}
			t.Logf("%s", out)
		})
	}
}

// requireNode finds Node.js and the check's modules, or skips the test
// saying how to get them; KATA_INTEROP=required makes that a failure.
func requireNode(t *testing.T) (string, step.Repo) {
	t.Helper()
	repo, err := step.FindRepo()
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS == "windows" {
		t.Skip("the interoperability check stops its server with Ctrl-C, which Windows cannot send: run it in WSL")
	}
	missing := ""
	node, err := exec.LookPath("node")
	switch {
	case err != nil:
		missing = "no node (Node.js 18 or later) on the PATH"
	default:
		if _, err := os.Stat(filepath.Join(repo.Root, "interop", "node_modules", "ocpp-rpc")); err != nil {
			missing = "the check's modules are not installed (npm ci --prefix interop)"
		}
	}
	if missing != "" {
		why := "the interoperability check needs Node.js and ocpp-rpc: " + missing
		if os.Getenv("KATA_INTEROP") == "required" {
			t.Fatal(why + "; KATA_INTEROP=required (CI) wants it run")
		}
		t.Skip(why)
	}
	return node, repo
}

// startServer starts bin as make serve would, with an in-memory store on a
// free port, over TLS with the workshop certificates in certs if it is
// not "", and stops it with Ctrl-C when the test ends, which must end it
// cleanly.
func startServer(t *testing.T, bin, key, token, certs string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	args := []string{"serve", "-variant", "solution", "-addr", addr, "-db", "memory", "-workers", "16", "-scale", "0.01", "-log", "json"}
	if key != "" {
		keys := filepath.Join(t.TempDir(), "auth-keys")
		var lines strings.Builder
		for _, id := range stationIDs() {
			fmt.Fprintf(&lines, "%s:%s\n", id, key)
		}
		if err := os.WriteFile(keys, []byte(lines.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "-auth-keys", keys)
	}
	probe, scheme := http.DefaultClient, "http://"
	if certs != "" {
		args = append(args, "-tls-cert", filepath.Join(certs, tlsauth.ServerFile), "-tls-key", filepath.Join(certs, tlsauth.ServerKeyFile))
		cfg, err := tlsauth.ClientConfig(filepath.Join(certs, tlsauth.CAFile))
		if err != nil {
			t.Fatal(err)
		}
		probe, scheme = &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}, "https://"
		t.Cleanup(probe.CloseIdleConnections)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "OCPP_API_TOKEN="+token)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the final server: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("the server did not end cleanly on Ctrl-C (%v); its log:\n%s", err, log.String())
			}
		case <-time.After(time.Minute):
			cmd.Process.Kill()
			<-exited
			t.Errorf("the server had not ended a minute after Ctrl-C; its log:\n%s", log.String())
		}
	})

	// Ready once it answers /metrics.
	req, _ := http.NewRequest(http.MethodGet, scheme+addr+"/metrics", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for deadline := time.Now().Add(time.Minute); ; {
		res, err := probe.Do(req)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return addr
			}
			err = errors.New(res.Status)
		}
		select {
		case err := <-exited:
			t.Fatalf("the final server ended before it served (%v); its log:\n%s", err, log.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the final server did not answer /metrics within a minute (%v); its log:\n%s", err, log.String())
		}
	}
}

// atOnce is how many charge points check.mjs's last check connects at once.
const atOnce = 50

// stationIDs are the identities check.mjs connects as with its default
// prefix: the charge point its checks use, and the atOnce of its last.
func stationIDs() []string {
	ids := []string{"INTEROP-CP"}
	for i := 1; i <= atOnce; i++ {
		ids = append(ids, fmt.Sprintf("INTEROP-%03d", i))
	}
	return ids
}
