package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

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
		name string
		args []string
		err  string // "" if the flags are fine
		keys []edge.Key
	}{
		{"defaults", nil, "", nil},
		{"key", []string{"-key", "abcd"}, "", []edge.Key{{Station: "CS0001", Password: "abcd"}}},
		{"key of a station", []string{"-key", "abcd", "-station", "CS0042"}, "", []edge.Key{{Station: "CS0042", Password: "abcd"}}},
		{"not a WebSocket URL", []string{"-url", "http://127.0.0.1:8080/ocpp"}, "-url", nil},
		{"no timeout", []string{"-timeout", "0s"}, "-timeout", nil},
		{"both kinds of key", []string{"-key", "a", "-auth-keys", "keys.txt"}, "give one", nil},
		{"missing keys file", []string{"-auth-keys", "testdata/none.txt"}, "none.txt", nil},
		{"argument", []string{"extra"}, "unexpected argument", nil},
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
