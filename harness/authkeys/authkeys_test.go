package authkeys_test

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/ocppkata/kata/harness/authkeys"
)

func TestParse(t *testing.T) {
	long := strings.Repeat("x", authkeys.MaxIdentity)
	tests := []struct {
		name string
		file string
		want map[string]string
	}{
		{"empty", "", map[string]string{}},
		{"comments and blank lines", "# keys\n\n   \n  # indented comment\n", map[string]string{}},
		{"one", "CS0001:0123abcd\n", map[string]string{"CS0001": "0123abcd"}},
		{"no final newline", "CS0001:k1\nCS0002:k2", map[string]string{"CS0001": "k1", "CS0002": "k2"}},
		{"whitespace around the line", "  CS0001:k1\t\r\n\tCS0002:k2  \n", map[string]string{"CS0001": "k1", "CS0002": "k2"}},
		{"CRLF", "CS0001:k1\r\nCS0002:k2\r\n", map[string]string{"CS0001": "k1", "CS0002": "k2"}},
		{"byte-order mark", "\uFEFFCS0001:k1\n", map[string]string{"CS0001": "k1"}},
		{"colons in the identity", "site:7:charger:fedcba\n", map[string]string{"site:7:charger": "fedcba"}},
		{"identity at the limit", long + ":k\n", map[string]string{long: "k"}},
		{"non-ASCII identity", "Ladesäule-1:k\n", map[string]string{"Ladesäule-1": "k"}},
		{"punctuation in the password", "CS1:a!b#c~\n", map[string]string{"CS1": "a!b#c~"}},
		{"# inside a line", "CS#1:k#2\n", map[string]string{"CS#1": "k#2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := authkeys.Parse(strings.NewReader(tt.file))
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.file, err)
			}
			if got == nil || len(got) != len(tt.want) {
				t.Fatalf("Parse(%q) = %q, want %q", tt.file, got, tt.want)
			}
			for id, key := range tt.want {
				if got[id] != key {
					t.Errorf("Parse(%q)[%q] = %q, want %q", tt.file, id, got[id], key)
				}
			}
		})
	}
}

func TestParseRefuses(t *testing.T) {
	tests := []struct {
		name   string
		file   string
		line   int
		reason string // a part of the reason
	}{
		{"no colon", "CS0001:k\nCS0002 k\n", 2, "no ':'"},
		{"no identity", "# keys\n:k\n", 2, "no identity"},
		{"no password", "CS0001:\n", 1, `no password after identity "CS0001"`},
		{"only a colon", "\n\n:\n", 3, "no identity"},
		{"duplicate", "CS0001:a\nCS0002:b\n\nCS0001:c\n", 4, `identity "CS0001" again: it has a key on line 1 already`},
		{"identity too long", strings.Repeat("x", authkeys.MaxIdentity+1) + ":k\n", 1, "49 characters long: OCPP allows 48 at most"},
		{"space before the colon", "CS0001 :k\n", 1, "space before the ':'"},
		{"space after the colon", "CS0001: k\n", 1, "space after the ':'"},
		{"space in the password", "CS0001:a b\n", 1, "holds a space"},
		{"non-ASCII password", "CS0001:schlüssel\n", 1, "not printable ASCII"},
		{"control character in the password", "CS0001:a\x01b\n", 1, "not printable ASCII"},
		{"control character in the identity", "CS\x010001:k\n", 1, "control character"},
		{"invalid UTF-8 identity", "CS\xff:k\n", 1, "not valid UTF-8"},
		{"line too long", "CS0001:k\n" + strings.Repeat("k", 70_000) + "\n", 2, "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := authkeys.Parse(strings.NewReader(tt.file))
			var le *authkeys.LineError
			if !errors.As(err, &le) {
				t.Fatalf("Parse = %q, %v; want a *LineError for line %d", got, err, tt.line)
			}
			if got != nil {
				t.Errorf("Parse returned keys %q with its error: a refused file must load no key at all", got)
			}
			if le.Line != tt.line || !strings.Contains(le.Reason, tt.reason) {
				t.Errorf("Parse: %v; want line %d: …%s…", err, tt.line, tt.reason)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := write("good", "CS0001:k1\n")
	bad := write("bad", "CS0001:k1\n# fine\nCS0002\n")

	tests := []struct {
		name    string
		path    string
		want    map[string]string
		wantErr string
	}{
		{"good", good, map[string]string{"CS0001": "k1"}, ""},
		{"bad line", bad, nil, bad + ":3: no ':' between identity and password"},
		{"missing", filepath.Join(dir, "missing"), nil, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := authkeys.Load(tt.path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || got != nil {
					t.Fatalf("Load(%s) = %q, %v; want no keys and an error with %q", tt.path, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || len(got) != len(tt.want) || got["CS0001"] != tt.want["CS0001"] {
				t.Fatalf("Load(%s) = %q, %v; want %q", tt.path, got, err, tt.want)
			}
		})
	}
}

func TestWarning(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("no Unix permission bits")
	}
	path := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(path, []byte("CS0001:k\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		mode os.FileMode
		warn bool
	}{
		{0o600, false},
		{0o400, false},
		{0o640, true},
		{0o604, true},
		{0o644, true},
	}
	for _, tt := range tests {
		t.Run(tt.mode.String(), func(t *testing.T) {
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			got := authkeys.Warning(path)
			if (got != "") != tt.warn {
				t.Errorf("Warning for mode %04o = %q; want a warning: %v", tt.mode, got, tt.warn)
			}
			if tt.warn && !strings.Contains(got, "chmod 600 "+path) {
				t.Errorf("Warning = %q; want it to say how to fix it: chmod 600 %s", got, path)
			}
		})
	}
}
