package main

import (
	"strings"
	"testing"

	"github.com/ocppkata/kata/harness/store/postgres/pgtest"
)

// TestOpenPostgres: DB=postgres://… opens the PostgreSQL store, and says
// which database on which server, never the password; a URL that cannot
// be parsed or a server that is not there fails at once, saying what to
// check.
func TestOpenPostgres(t *testing.T) {
	const password = "s3cret-pw"
	refused := []struct {
		name, url string
		says      []string
	}{
		{"bad port", "postgres://kata:" + password + "@localhost:port/kata", []string{"DB=postgres://…", "cannot parse", "postgres://user:password@host:port/database"}},
		{"no server", "postgresql://kata:" + password + "@127.0.0.1:1/kata?connect_timeout=5", []string{"DB=postgres://…", "database kata on 127.0.0.1:1 as kata", "check that the server runs"}},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			st, _, err := openStore(tt.url)
			if err == nil {
				st.Close()
				t.Fatalf("openStore(%s) succeeded; want it refused", tt.url)
			}
			t.Log(err)
			for _, want := range tt.says {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("openStore: %q does not say %q", err, want)
				}
			}
			if strings.Contains(err.Error(), password) {
				t.Errorf("openStore: %q shows the password", err)
			}
		})
	}

	t.Run("opens", func(t *testing.T) {
		url := pgtest.URL(t)
		st, where, err := openStore(url)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		t.Log(where)
		if !strings.HasPrefix(where, "PostgreSQL database ") || !strings.Contains(where, " on ") {
			t.Errorf("the banner's store: %q; want PostgreSQL, the database and the server", where)
		}
		if _, err := st.Stations(t.Context()); err != nil {
			t.Errorf("Stations: %v", err)
		}
	})
}
