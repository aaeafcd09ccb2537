//go:build !linux && !darwin

package netpoll

import (
	"errors"
	"fmt"
)

// Supported reports whether New works here: Linux (epoll) and macOS
// (kqueue) have a poller; elsewhere, use WSL.
const Supported = false

// errUnsupported is what New returns here.
var errUnsupported = fmt.Errorf("the event-driven reader needs Linux or macOS (epoll, kqueue); on Windows, use WSL: %w", errors.ErrUnsupported)

// kpoll is never made here: newKpoll fails.
type kpoll struct{}

func newKpoll() (*kpoll, error)                 { return nil, errUnsupported }
func (*kpoll) add(int) error                    { return errUnsupported }
func (*kpoll) rearm(int) error                  { return errUnsupported }
func (*kpoll) del(int) error                    { return errUnsupported }
func (*kpoll) wait([]int) (int, error)          { return 0, errUnsupported }
func (*kpoll) wake() error                      { return errUnsupported }
func (*kpoll) close() error                     { return errUnsupported }
func readFD(uintptr, []byte) (int, bool, error) { return 0, false, errUnsupported }
