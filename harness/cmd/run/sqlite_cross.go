//go:build kata_cross

package main

import (
	"errors"

	"github.com/ocppkata/kata/harness/store"
)

// openSQLite stands in for sqlite.go in make test's type-check for other
// platforms, which leaves the SQLite driver out (see sqlite.go).
func openSQLite(string) (store.Store, error) {
	return nil, errors.New("built with kata_cross: no SQLite")
}
