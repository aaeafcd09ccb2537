package demo

import (
	"fmt"
	"os"
)

// rssSampled reports whether readRSS is cheap enough to call at every
// sample: here it reads a file of /proc.
const rssSampled = true

// readRSS returns the resident memory of this process, from
// /proc/self/statm.
func readRSS() (uint64, error) {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, fmt.Errorf("read RSS: %w", err)
	}
	return parseStatm(string(data), os.Getpagesize())
}
