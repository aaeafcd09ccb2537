package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadAuthKeys(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := write("good", "CS0001:k1\nCS0002:k2\n")
	bad := write("bad", "CS0001:k1\nCS0002\n")
	empty := write("empty", "# nobody yet\n")
	withAuth := []string{"QueueLimit", "AuthKeys"}

	tests := []struct {
		name     string
		file     string
		fields   []string
		wantKeys int
		wantErr  string
	}{
		{"no file: auth off", "", withAuth, 0, ""},
		{"no file, no auth", "", nil, 0, ""},
		{"keys", good, withAuth, 2, ""},
		{"a step without auth", good, []string{"IdleTimeout"}, 0, "step 04 has no authentication"},
		{"a bad line", bad, withAuth, 0, bad + ":2: no ':'"},
		{"no keys", empty, withAuth, 0, "holds no keys, so every station would be refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := loadAuthKeys(tt.file, 4, tt.fields)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("loadAuthKeys(%q): %v; want an error with %q", tt.file, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("loadAuthKeys(%q): %v", tt.file, err)
			}
			if len(a.keys) != tt.wantKeys || (tt.file == "") != (a.keys == nil) {
				t.Errorf("loadAuthKeys(%q) = %d keys (nil: %v); want %d, and nil only without a file: nil turns authentication off",
					tt.file, len(a.keys), a.keys == nil, tt.wantKeys)
			}
		})
	}
}
