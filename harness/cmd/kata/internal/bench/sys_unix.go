//go:build linux || darwin

package bench

import (
	"fmt"
	"syscall"
)

// darwinOpenMax is the most open files macOS lets a process ask for when
// its hard limit says "unlimited".
const darwinOpenMax = 10240

// raiseFileLimit raises the open-files limit to the hard limit and returns
// it: 10,000 stations need 10,000 sockets on each side. It sets the limit
// even when the soft limit already is the hard one, because the Go runtime
// raises it for its own process only and hands the original to the
// processes it starts, unless the program sets it itself: so the server
// the bench starts gets the raised limit too.
func raiseFileLimit() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("read the open-files limit: %w", err)
	}
	want := lim
	want.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
		// macOS refuses an "unlimited" soft limit: ask for what it allows.
		want.Cur = min(lim.Max, darwinOpenMax)
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
			return lim.Cur, fmt.Errorf("raise the open-files limit from %d to %d: %w", lim.Cur, want.Cur, err)
		}
	}
	return want.Cur, nil
}
