package main

import (
	"context"
	"fmt"
	"time"

	"github.com/ocppkata/kata/harness/store"
	"github.com/ocppkata/kata/harness/store/postgres"
)

// postgresOpenTimeout bounds make serve's start on a PostgreSQL store: the
// connection, and the schema's migration, which may wait for another
// node's.
const postgresOpenTimeout = 30 * time.Second

// isPostgresURL reports whether DB names a PostgreSQL database rather than
// an SQLite file.
func isPostgresURL(db string) bool { return postgres.IsURL(db) }

// openPostgres opens the PostgreSQL store that url names (DB=postgres://…),
// the store that the nodes of a cluster share. Neither its error nor the
// store's description shows the URL's password: they name the database,
// the server and the user.
func openPostgres(url string) (store.Store, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), postgresOpenTimeout)
	defer cancel()
	st, err := postgres.Open(ctx, url)
	if err != nil {
		return nil, "", fmt.Errorf("DB=postgres://…: %w", err)
	}
	return st, "PostgreSQL " + st.Where(), nil
}
