package kit

import (
	"testing"

	"github.com/ocppkata/kata/harness/backend"
)

// NeedBlocking skips the test where the backend's blocking flavour
// (backend.Options.Blocking) is not available, saying why in one line. Call
// it first in a test that needs that flavour, before kit.Isolated.
func NeedBlocking(t testing.TB) {
	t.Helper()
	if !backend.BlockingSupported {
		t.Skip("this test needs Linux or macOS: the blocking backend waits in a Unix system call; use WSL")
	}
}
