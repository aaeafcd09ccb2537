package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"
	"unicode/utf8"

	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/kit"
	shutdown "github.com/ocppkata/kata/solutions/08-shutdown"
	hardening "github.com/ocppkata/kata/solutions/09-hardening"
	"github.com/ocppkata/kata/stations/edgecheck/edge"
)

func TestReadKeys(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, file string
		want       []edge.Key
		err        string
	}{
		{"lines, comments, blanks", "# stations\nCS0002:ffff\n\n  CS0001:0123abcd  \n",
			[]edge.Key{{Station: "CS0001", Password: "0123abcd"}, {Station: "CS0002", Password: "ffff"}}, ""},
		{"identity with colons", "site:3:bay:7:beef\n", []edge.Key{{Station: "site:3:bay:7", Password: "beef"}}, ""},
		{"no colon", "CS0001:a\nCS0002\n", nil, ":2:"},
		{"nothing", "# none\n", nil, "no identity:password"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := filepath.Join(dir, fmt.Sprint(i))
			if err := os.WriteFile(name, []byte(tt.file), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := readKeys(name)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("readKeys: error %v, want one that says %q", err, tt.err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("readKeys = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		err    string // "" if the flags are fine
		keys   []edge.Key
		limits bool
	}{
		{"defaults", nil, "", nil, true},
		{"key", []string{"-key", "abcd"}, "", []edge.Key{{Station: "CS0001", Password: "abcd"}}, true},
		{"key of a station", []string{"-key", "abcd", "-station", "CS0042"}, "", []edge.Key{{Station: "CS0042", Password: "abcd"}}, true},
		{"without the limit cases", []string{"-limits=false"}, "", nil, false},
		{"not a WebSocket URL", []string{"-url", "http://127.0.0.1:8080/ocpp"}, "-url", nil, true},
		{"no timeout", []string{"-timeout", "0s"}, "-timeout", nil, true},
		{"both kinds of key", []string{"-key", "a", "-auth-keys", "keys.txt"}, "give one", nil, true},
		{"missing keys file", []string{"-auth-keys", "testdata/none.txt"}, "none.txt", nil, true},
		{"argument", []string{"extra"}, "unexpected argument", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr strings.Builder
			c, err := parseFlags(tt.args, &stderr)
			if tt.err != "" {
				if err == nil || !strings.Contains(stderr.String(), tt.err) {
					t.Fatalf("parseFlags(%q): error %v, stderr %q; want it to say %q", tt.args, err, stderr.String(), tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseFlags(%q): %v", tt.args, err)
			}
			if !slices.Equal(c.Keys, tt.keys) {
				t.Errorf("keys %v, want %v", c.Keys, tt.keys)
			}
			if c.Limits != tt.limits {
				t.Errorf("Limits %v, want %v", c.Limits, tt.limits)
			}
		})
	}
}

func TestPrinter(t *testing.T) {
	results := []edge.Result{
		{Case: "binary frame", Sent: "binary [2]", Got: "close 1003", Want: "close 1003", OK: true},
		{Case: "not JSON", Sent: "hello", Got: "silence · Heartbeat answered", Want: "close 1002 or a CALLERROR", OK: false},
	}
	render := func(color bool) string {
		var out strings.Builder
		p := newPrinter(&out, color)
		c := &edge.Checker{URL: "ws://127.0.0.1:8080/ocpp", Timeout: time.Second}
		p.header(c)
		for _, r := range results {
			p.result(r)
		}
		p.footer(c, results)
		return out.String()
	}
	plain := render(false)
	for _, want := range []string{"✓ binary frame", "✗ not JSON", "want: close 1002 or a CALLERROR", "1 of 2 edge checks as OCPP-J expects"} {
		if !strings.Contains(plain, want) {
			t.Errorf("output lacks %q:\n%s", want, plain)
		}
	}
	if strings.Contains(plain, "\x1b[") {
		t.Errorf("plain output has escape sequences:\n%q", plain)
	}
	if strings.Contains(plain, "want: close 1003") {
		t.Errorf("a case that passed shows what it wanted:\n%s", plain)
	}
	// The answers start in the same column on every line.
	var cols []int
	for line := range strings.Lines(plain) {
		if i := strings.Index(line, "  close 1003"); i > 0 {
			cols = append(cols, len([]rune(line[:i])))
		}
		if i := strings.Index(line, "  silence"); i > 0 {
			cols = append(cols, len([]rune(line[:i])))
		}
	}
	if len(cols) != 2 || cols[0] != cols[1] {
		t.Errorf("answers start in columns %v, want one column:\n%s", cols, plain)
	}
	if colored := render(true); !strings.Contains(colored, "\x1b[31m✗\x1b[0m") {
		t.Errorf("coloured output does not paint ✗ red:\n%q", colored)
	}
}

// runAgainst runs the command line args against srv on the in-memory
// network, and returns its exit status and what it wrote.
func runAgainst(t *testing.T, srv kit.Server, args ...string) (int, string) {
	t.Helper()
	l := kit.Serve(t, srv)
	var stdout, stderr strings.Builder
	code := run(t.Context(), append([]string{"-url", kit.URL}, args...), &stdout, &stderr, false, l.DialContext)
	if stderr.Len() > 0 {
		t.Logf("stderr: %s", stderr.String())
	}
	return code, stdout.String()
}

// caseLines returns the output's lines of cases, by case name, and the
// names in the order they came.
func caseLines(out string) (map[string]string, []string) {
	lines := make(map[string]string)
	var order []string
	for line := range strings.Lines(out) {
		for _, c := range append(edge.Cases(), edge.LimitCases()...) {
			if strings.HasPrefix(line, "✓ "+c.Name+" ") || strings.HasPrefix(line, "✗ "+c.Name+" ") {
				lines[c.Name] = strings.TrimSuffix(line, "\n")
				order = append(order, c.Name)
			}
		}
	}
	return lines, order
}

func TestRunAgainstStep09(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "keys.txt")
	if err := os.WriteFile(keyFile, []byte("CS0001:0123456789abcdef0123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, keys := range []bool{false, true} {
		t.Run(fmt.Sprintf("keys=%v", keys), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := hardening.Config{Backend: backend.New(backend.Options{})}
				var args []string
				if keys {
					cfg.AuthKeys = map[string]string{"CS0001": "0123456789abcdef0123"}
					args = []string{"-auth-keys", keyFile}
				}
				code, out := runAgainst(t, hardening.New(cfg), args...)
				if code != exitOK {
					t.Errorf("exit status %d, want %d:\n%s", code, exitOK, out)
				}
				lines, order := caseLines(out)
				var want []string
				for _, c := range append(edge.Cases(), edge.LimitCases()...) {
					if !c.Auth || keys {
						want = append(want, c.Name)
					}
				}
				if !slices.Equal(order, want) {
					t.Fatalf("cases in the output: %q, want %q:\n%s", order, want, out)
				}
				for _, name := range want {
					if !strings.HasPrefix(lines[name], "✓") {
						t.Errorf("%s: %q, want ✓", name, lines[name])
					}
				}
				summary := fmt.Sprintf("%d of %d edge checks as OCPP-J expects", len(want), len(want))
				if !strings.Contains(out, summary) {
					t.Errorf("output lacks %q:\n%s", summary, out)
				}
				if noAuth := strings.Contains(out, "HTTP Basic auth not checked"); noAuth == keys {
					t.Errorf("says HTTP Basic auth not checked: %v, with keys: %v:\n%s", noAuth, keys, out)
				}
				// A limit case's answer starts in the column of the others'.
				col := func(name, got string) int {
					i := strings.Index(lines[name], "  "+got)
					if i < 0 {
						t.Fatalf("%s: %q lacks %q", name, lines[name], got)
					}
					return utf8.RuneCountInString(lines[name][:i])
				}
				if a, b := col("binary frame", "close 1003"), col("NUL in the identity", "HTTP 400"); a != b {
					t.Errorf("answers start in columns %d and %d:\n%s", a, b, out)
				}
				for name, got := range map[string]string{
					"headers never finished": "20 closed after 5.0 s · a station meanwhile: 101",
					"1 MiB of headers":       "HTTP 431 Request Header Fields Too Large after 64 KiB",
					"idle after a refusal":   "HTTP 400 Bad Request · closed after 10.0 s",
					"49-character identity":  "HTTP 400 Bad Request",
				} {
					if !strings.Contains(lines[name], got) {
						t.Errorf("%s: %q, want it to say %q", name, lines[name], got)
					}
				}
			})
		})
	}
}

func TestRunWithoutLimits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		code, out := runAgainst(t, hardening.New(hardening.Config{Backend: backend.New(backend.Options{})}), "-limits=false")
		if code != exitOK {
			t.Errorf("exit status %d, want %d:\n%s", code, exitOK, out)
		}
		_, order := caseLines(out)
		for _, c := range edge.LimitCases() {
			if slices.Contains(order, c.Name) {
				t.Errorf("-limits=false, and %s ran:\n%s", c.Name, out)
			}
		}
		if took := time.Since(start); took >= time.Second {
			t.Errorf("the check took %v without the limit cases, want no timeout's wait", took)
		}
	})
}

func TestRunAgainstStep08(t *testing.T) {
	// Step 08's edge is not what OCPP-J expects (the edge package's tests
	// say case by case), but its handshakes have wsconn's limits.
	synctest.Test(t, func(t *testing.T) {
		code, out := runAgainst(t, shutdown.New(shutdown.Config{Backend: backend.New(backend.Options{})}))
		if code != exitFailed {
			t.Errorf("exit status %d, want %d:\n%s", code, exitFailed, out)
		}
		lines, _ := caseLines(out)
		if !strings.HasPrefix(lines["binary frame"], "✗") || !strings.Contains(lines["binary frame"], "want: close 1003") {
			t.Errorf("binary frame: %q, want ✗ and what was wanted", lines["binary frame"])
		}
		for _, c := range edge.LimitCases() {
			if !strings.HasPrefix(lines[c.Name], "✓") {
				t.Errorf("%s: %q, want ✓", c.Name, lines[c.Name])
			}
		}
	})
}
