package backend

import (
	"context"
	"errors"
	"syscall"
	"time"
)

// sleepInSyscall waits in nanosleep(2). Unlike time.Sleep, which parks the
// goroutine on the runtime's timers, a blocking system call keeps its OS
// thread for the whole wait, and the runtime starts another thread to run
// the other goroutines.
func sleepInSyscall(ctx context.Context, d time.Duration) error {
	if d > 0 {
		ts := syscall.NsecToTimespec(int64(d))
		for {
			err := syscall.Nanosleep(&ts, &ts)
			if !errors.Is(err, syscall.EINTR) {
				break
			}
		}
	}
	return ctx.Err()
}

// blocker makes goroutines wait in a blocking read(2) on a pipe until it is
// released, each holding an OS thread, the way calls into a C library do.
type blocker struct{ r, w int }

func newBlocker() *blocker {
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		panic("backend: pipe2: " + err.Error())
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
