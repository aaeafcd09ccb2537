package kit

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Threads returns how many OS threads the process has now, from
// /proc/self/status. Go never gives threads back, so a count taken after a
// load is the most the load ever needed on top of what was there before.
func Threads() (int, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("count threads: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Threads:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return 0, fmt.Errorf("count threads: %q: %w", sc.Text(), err)
			}
			return n, nil
		}
	}
	return 0, fmt.Errorf("count threads: no Threads line in /proc/self/status")
}
