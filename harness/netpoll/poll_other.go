//go:build !linux && !darwin

package netpoll

import (
	"errors"
	"fmt"
)

// Supported reports whether a Poller takes sockets here: Linux (epoll) and
// macOS (kqueue) have a poller; elsewhere, use WSL. In-memory connections
// (a Readier) work everywhere.
const Supported = false

// kernelRearm: no kernel poller here.
const kernelRearm = true

// errUnsupported is what Add of a socket returns here.
var errUnsupported = fmt.Errorf("the event-driven reader of sockets needs Linux or macOS (epoll, kqueue); on Windows, use WSL: %w", errors.ErrUnsupported)

// kpoll is never made here: newKpoll fails.
type kpoll struct{}

func newKpoll() (*kpoll, error)                      { return nil, errUnsupported }
func (*kpoll) add(int) error                         { return errUnsupported }
func (*kpoll) rearm(int) error                       { return errUnsupported }
func (*kpoll) del(int) error                         { return errUnsupported }
func (*kpoll) wait(*waitBuf, int) (int, bool, error) { return 0, false, errUnsupported }

// A waitBuf is what a wait needs; here, nothing.
type waitBuf struct{ fds []int }

func (*kpoll) wake() error                      { return errUnsupported }
func (*kpoll) wakeAll() error                   { return errUnsupported }
func (*kpoll) drain()                           {}
func (*kpoll) close() error                     { return errUnsupported }
func readFD(uintptr, []byte) (int, bool, error) { return 0, false, errUnsupported }
