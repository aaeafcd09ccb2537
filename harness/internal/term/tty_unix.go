//go:build linux || darwin

package term

import (
	"os"
	"os/signal"
	"syscall"
	"unsafe"
)

// TakeTerminal moves kata into a process group of its own and makes it the
// terminal's foreground group, so that Ctrl-C reaches kata alone: make,
// which ran it, would otherwise take the interrupt as a failure. It returns
// the function that gives the terminal back. Without a terminal, or when
// kata is not in the foreground, it does nothing.
func TakeTerminal() (restore func()) {
	nothing := func() {}
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return nothing
	}
	var fg int32
	if ioctl(tty.Fd(), syscall.TIOCGPGRP, &fg) != nil || int(fg) != syscall.Getpgrp() {
		tty.Close()
		return nothing
	}
	// A process outside the foreground group that sets it is stopped by
	// SIGTTOU unless it ignores it.
	signal.Ignore(syscall.SIGTTOU)
	if syscall.Setpgid(0, 0) != nil {
		tty.Close()
		return nothing
	}
	me := int32(syscall.Getpgrp())
	if ioctl(tty.Fd(), syscall.TIOCSPGRP, &me) != nil {
		_ = syscall.Setpgid(0, int(fg))
		tty.Close()
		return nothing
	}
	return func() {
		_ = ioctl(tty.Fd(), syscall.TIOCSPGRP, &fg)
		tty.Close()
	}
}

// ioctl gets or sets a terminal's process group.
func ioctl(fd uintptr, req uint, pgrp *int32) error {
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, fd, uintptr(req), uintptr(unsafe.Pointer(pgrp))); errno != 0 {
		return errno
	}
	return nil
}
