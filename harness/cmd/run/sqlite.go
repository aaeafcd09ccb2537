//go:build !kata_cross

package main

import (
	"github.com/ocppkata/kata/harness/store"
	"github.com/ocppkata/kata/harness/store/sqlite"
)

// openSQLite opens the SQLite store. It lives in a file of its own so that
// make test's type-check for the other platforms (tag kata_cross) can leave
// the driver out: its generated 4.6 MB package takes most of a minute to
// compile per platform, and holds no platform-specific code of ours.
func openSQLite(path string) (store.Store, error) { return sqlite.Open(path) }
