package kit

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ocppkata/kata/harness/backend"
)

func TestNeedBlocking(t *testing.T) {
	var skipped bool
	t.Run("a test that needs the blocking backend", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }() // t.Skip ends the function
		NeedBlocking(t)
	})
	switch runtime.GOOS {
	case "linux", "darwin":
		require.False(t, skipped, "the blocking backend works on %s: nothing to skip", runtime.GOOS)
	}
	require.Equal(t, !backend.BlockingSupported, skipped,
		"a test that needs the blocking backend runs exactly where it is supported")
}
