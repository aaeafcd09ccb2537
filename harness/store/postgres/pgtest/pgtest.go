// Package pgtest gives tests a PostgreSQL database of their own: a fresh
// schema on the server that KATA_POSTGRES names, dropped when the test
// ends.
//
// Without KATA_POSTGRES the tests that need a server skip, saying in one
// line how to run them, so that a learner's make test needs none. CI
// starts a server, sets KATA_POSTGRES, and sets KATA_POSTGRES_REQUIRED=1,
// which turns a missing server into a failure: there they always run.
package pgtest

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Env is the variable that names the test server, as a URL:
// postgres://user:password@host:port/database.
const Env = "KATA_POSTGRES"

// URL returns the URL of a new, empty schema on the server Env names,
// which the test may fill as it likes; the schema and all in it are
// dropped when the test ends. Without Env it skips the test, or fails it
// if KATA_POSTGRES_REQUIRED is set.
func URL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(Env)
	if base == "" {
		const missing = "no PostgreSQL server: these tests need one. Install one (Debian: apt-get install postgresql), start it, and set " +
			Env + "=postgres://user:password@127.0.0.1:5432/postgres"
		if os.Getenv("KATA_POSTGRES_REQUIRED") != "" {
			t.Fatal(missing + "; KATA_POSTGRES_REQUIRED (CI) wants them run")
		}
		t.Skip(missing)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("%s: %v", Env, err)
	}
	defer conn.Close(ctx)
	// A random name: tests run in parallel packages, and a run that
	// crashed may have left its schemas behind.
	schema := "kata_test_" + strings.ToLower(rand.Text()[:12])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("%s: creating a schema for the test: %v", Env, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("%s: dropping the test's schema %s: %v", Env, schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("%s: dropping the test's schema %s: %v", Env, schema, err)
		}
	})
	return withSchema(t, base, schema)
}

// withSchema returns the connection string base with its search_path set
// to schema: a URL gets a query parameter, a keyword/value string a
// keyword.
func withSchema(t testing.TB, base, schema string) string {
	t.Helper()
	if !strings.HasPrefix(base, "postgres://") && !strings.HasPrefix(base, "postgresql://") {
		return fmt.Sprintf("%s search_path=%s", base, schema)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: %v", Env, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
