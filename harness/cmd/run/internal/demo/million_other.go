//go:build !linux && !darwin

package demo

import (
	"errors"
	"fmt"
	"runtime"
)

// rssSampled reports whether readRSS is cheap enough to call at every
// sample: here there is nothing to read.
const rssSampled = false

// readRSS says that this system's resident memory is not read here.
func readRSS() (uint64, error) {
	return 0, fmt.Errorf("read RSS on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}
