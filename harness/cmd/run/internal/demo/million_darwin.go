package demo

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// rssSampled reports whether readRSS is cheap enough to call at every
// sample: here it runs ps, so it is read only at the figures' moments.
const rssSampled = false

// readRSS returns the resident memory of this process, as ps says: macOS
// has no /proc.
func readRSS() (uint64, error) {
	pid := strconv.Itoa(os.Getpid())
	out, err := exec.Command("ps", "-o", "rss=", "-p", pid).Output()
	if err != nil {
		return 0, fmt.Errorf("ps -o rss= -p %s: %w", pid, err)
	}
	kib, err := strconv.ParseUint(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("ps -o rss= -p %s: %q: %w", pid, out, err)
	}
	return kib << 10, nil
}
