package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/ocppkata/kata/harness/store"
	"github.com/ocppkata/kata/harness/store/storetest"
)

// openTemp opens a new database in a file of the test's own.
func openTemp(t *testing.T, opts Options) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kata.db")
	s, err := OpenOptions(path, opts)
	if err != nil {
		t.Fatalf("OpenOptions(%s): %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, _ := openTemp(t, Options{})
		return s
	})
}
