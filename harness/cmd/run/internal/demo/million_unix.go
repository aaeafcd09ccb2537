//go:build unix

package demo

import "syscall"

// openFileLimit returns the process's limit on open files, or 0 if it
// cannot tell. Go raises the soft limit to the hard one at start.
func openFileLimit() int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur > 1<<30 {
		return 0
	}
	return int(lim.Cur)
}
