//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package backend

import (
	"context"
	"time"
)

// BlockingSupported reports whether Options.Blocking is available here: it
// needs a Unix system call that blocks its thread (select(2), read(2) on a
// pipe), as on Linux and macOS. On Windows, use WSL.
const BlockingSupported = false

func sleepInSyscall(context.Context, time.Duration) error { panic(ErrBlockingUnsupported) }

type blocker struct{}

func newBlocker() *blocker { panic(ErrBlockingUnsupported) }
func (*blocker) wait()     { panic(ErrBlockingUnsupported) }
func (*blocker) release()  { panic(ErrBlockingUnsupported) }
