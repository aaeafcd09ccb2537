//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package backend

import (
	"context"
	"errors"
	"syscall"
	"time"
)

// BlockingSupported reports whether Options.Blocking is available here: it
// needs a Unix system call that blocks its thread (select(2), read(2) on a
// pipe), as on Linux and macOS.
const BlockingSupported = true

// maxSelect bounds one select(2): macOS refuses a timeout above 10⁸ seconds.
const maxSelect = time.Hour

// sleepInSyscall waits in select(2) with no descriptors and a timeout. Unlike
// time.Sleep, which parks the goroutine on the runtime's timers, a blocking
// system call keeps its OS thread for the whole wait, and the runtime starts
// another thread to run the other goroutines. select(2) is the sleep that
// Linux and macOS share (macOS has no nanosleep system call); a signal may
// end it early, and only Linux reports the time left, so the loop measures
// what is left itself. The wait is on real time: a synctest bubble cannot
// make a system call return sooner.
func sleepInSyscall(ctx context.Context, d time.Duration) error {
	deadline := time.Now().Add(d)
	for left := d; left > 0; left = time.Until(deadline) {
		tv := syscall.NsecToTimeval(int64(min(left, maxSelect)))
		if err := selectTimeout(&tv); err != nil && !errors.Is(err, syscall.EINTR) {
			// Only a bad argument fails select(2), and d is never one:
			// this would be a bug of this package, so say so loudly.
			panic("backend: select: " + err.Error())
		}
	}
	return ctx.Err()
}

// blocker makes goroutines wait in a blocking read(2) on a pipe until it is
// released, each holding an OS thread, the way calls into a C library do.
type blocker struct{ r, w int }

func newBlocker() *blocker {
	var p [2]int
	// Hold ForkLock so that no process started meanwhile inherits the pipe
	// before it is marked close-on-exec (macOS has no pipe2(2)).
	syscall.ForkLock.RLock()
	err := syscall.Pipe(p[:])
	if err == nil {
		syscall.CloseOnExec(p[0])
		syscall.CloseOnExec(p[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		panic("backend: pipe: " + err.Error())
	}
	return &blocker{r: p[0], w: p[1]}
}

func (b *blocker) wait() {
	var buf [1]byte
	for {
		// The read end is never closed: a gate lives as long as its backend,
		// and a closed, reused descriptor would be worse than one kept open.
		n, err := syscall.Read(b.r, buf[:])
		if n == 0 && err == nil || err != nil && !errors.Is(err, syscall.EINTR) {
			return
		}
	}
}

// release closes the write end: every read, now and later, returns at once.
func (b *blocker) release() { syscall.Close(b.w) }
