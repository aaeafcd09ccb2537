package netpoll

import (
	"errors"
	"fmt"
	"syscall"
)

// Supported reports whether a Poller takes sockets here: Linux (epoll) and
// macOS (kqueue) have a poller; elsewhere, use WSL. In-memory connections
// (a Readier) work everywhere.
const Supported = true

// kernelRearm reports whether Rearm must ask the kernel to report a
// connection again: kqueue's registrations are one-shot.
const kernelRearm = true

// User events have identifiers of their own, apart from descriptors.
const (
	// closeIdent identifies the user event that wakes every wait when the
	// poller closes: without EV_CLEAR, it stays triggered.
	closeIdent = 0
	// readyIdent identifies the user event that wakes a wait for the
	// ready list: with EV_CLEAR, the wait that receives it resets it.
	readyIdent = 1
)

// kpoll is a kqueue, with user events to wake the waits.
type kpoll struct{ kq int }

func newKpoll() (*kpoll, error) {
	// Hold ForkLock so that no process started meanwhile inherits the
	// kqueue before it is marked close-on-exec.
	syscall.ForkLock.RLock()
	kq, err := syscall.Kqueue()
	if err == nil {
		syscall.CloseOnExec(kq)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, fmt.Errorf("kqueue: %w", err)
	}
	k := &kpoll{kq: kq}
	for _, ev := range []syscall.Kevent_t{
		{Ident: closeIdent, Filter: syscall.EVFILT_USER, Flags: syscall.EV_ADD},
		{Ident: readyIdent, Filter: syscall.EVFILT_USER, Flags: syscall.EV_ADD | syscall.EV_CLEAR},
	} {
		if err := k.change(ev); err != nil {
			syscall.Close(kq)
			return nil, fmt.Errorf("kevent add a wake event: %w", err)
		}
	}
	return k, nil
}

func (k *kpoll) change(ev syscall.Kevent_t) error {
	for {
		_, err := syscall.Kevent(k.kq, []syscall.Kevent_t{ev}, nil, nil)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// arm registers fd for one report of readability (or hang-up). A knote
// with EV_ONESHOT is deleted when it fires, so arming again is adding
// again.
func (k *kpoll) arm(fd int) error {
	var ev syscall.Kevent_t
	syscall.SetKevent(&ev, fd, syscall.EVFILT_READ, syscall.EV_ADD|syscall.EV_ONESHOT)
	return k.change(ev)
}

// add prepares fd, disarmed: its owner arms it with rearm. (kqueue has
// nothing to register until then.)
func (k *kpoll) add(fd int) error {
	if err := syscall.SetNonblock(fd, true); err != nil {
		return fmt.Errorf("set non-blocking: %w", err)
	}
	return nil
}

func (k *kpoll) rearm(fd int) error {
	if err := k.arm(fd); err != nil {
		return fmt.Errorf("kevent add: %w", err)
	}
	return nil
}

func (k *kpoll) del(fd int) error {
	var ev syscall.Kevent_t
	syscall.SetKevent(&ev, fd, syscall.EVFILT_READ, syscall.EV_DELETE)
	// ENOENT: the one-shot knote fired and is gone, or was never added
	// (the connection is owned); there is nothing to delete.
	if err := k.change(ev); err != nil && !errors.Is(err, syscall.ENOENT) {
		return fmt.Errorf("kevent delete: %w", err)
	}
	return nil
}

// A waitBuf is what a wait needs: room for the kernel's events, and for
// the descriptors they name.
type waitBuf struct {
	evs []syscall.Kevent_t
	fds []int
}

func (b *waitBuf) grow(n int) {
	if len(b.evs) < n {
		b.evs, b.fds = make([]syscall.Kevent_t, n), make([]int, n)
	}
}

// wait blocks until the kernel reports something, at most max events, and
// puts the descriptors of the readable connections in buf.fds. woke reports the ready list's wake
// event. It may return 0 (only a wake event).
func (k *kpoll) wait(buf *waitBuf, max int) (n int, woke bool, err error) {
	buf.grow(max)
	evs, fds := buf.evs[:max], buf.fds
	for {
		m, err := syscall.Kevent(k.kq, nil, evs, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return 0, false, fmt.Errorf("kevent wait: %w", err)
		}
		for _, ev := range evs[:m] {
			switch {
			case ev.Filter == syscall.EVFILT_READ:
				fds[n] = int(ev.Ident)
				n++
			case ev.Filter == syscall.EVFILT_USER && ev.Ident == readyIdent:
				woke = true
			}
		}
		return n, woke, nil
	}
}

// wake wakes a wait for the ready list.
func (k *kpoll) wake() error { return k.trigger(readyIdent) }

// wakeAll wakes every wait, now and later.
func (k *kpoll) wakeAll() error { return k.trigger(closeIdent) }

func (k *kpoll) trigger(ident uint64) error {
	ev := syscall.Kevent_t{Ident: ident, Filter: syscall.EVFILT_USER, Fflags: syscall.NOTE_TRIGGER}
	if err := k.change(ev); err != nil {
		return fmt.Errorf("kevent trigger a wake event: %w", err)
	}
	return nil
}

// drain has nothing to do: the ready list's event resets when received.
func (k *kpoll) drain() {}

func (k *kpoll) close() error { return syscall.Close(k.kq) }
