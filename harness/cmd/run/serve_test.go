package main

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
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

// Behind the Mux, net/http does not see a connection's TLS: withTLS sets
// it on each request from the connection's context, for the guard's
// Secure cookie.
func TestWithTLS(t *testing.T) {
	var got *tls.ConnectionState
	h := withTLS(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.TLS }))
	st := &tls.ConnectionState{Version: tls.VersionTLS13}

	r := httptest.NewRequest("GET", "/", nil)
	h.ServeHTTP(httptest.NewRecorder(), r.WithContext(context.WithValue(r.Context(), tlsKey{}, st)))
	if got != st {
		t.Errorf("r.TLS = %v, want the connection's state", got)
	}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if got != nil {
		t.Errorf("r.TLS = %v without TLS, want nil", got)
	}
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	if ctx := tlsContext(t.Context(), c1); ctx.Value(tlsKey{}) != nil {
		t.Error("a connection that is not the Mux's TLS has a TLS state")
	}
}
