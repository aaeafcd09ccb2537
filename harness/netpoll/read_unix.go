//go:build linux || darwin

package netpoll

import (
	"errors"
	"syscall"
)

// readFD reads what fd holds now. again reports an empty socket (EAGAIN).
func readFD(fd uintptr, b []byte) (n int, again bool, err error) {
	for {
		n, err = syscall.Read(int(fd), b)
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EAGAIN):
			return 0, true, nil
		case err != nil:
			return 0, false, err
		}
		return n, false, nil
	}
}
