//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package backend

import "syscall"

// selectTimeout blocks in select(2) on no descriptors until tv has passed.
func selectTimeout(tv *syscall.Timeval) error {
	return syscall.Select(0, nil, nil, nil, tv)
}
