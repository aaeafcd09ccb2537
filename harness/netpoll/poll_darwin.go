package netpoll

import (
	"errors"
	"fmt"
	"syscall"
)

// Supported reports whether New works here: Linux (epoll) and macOS
// (kqueue) have a poller; elsewhere, use WSL.
const Supported = true

// wakeIdent identifies the user event that wakes the waits when the poller
// closes. User events have identifiers of their own, apart from
// descriptors.
const wakeIdent = 0

// kpoll is a kqueue, with a user event to wake the waits.
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
	// Without EV_CLEAR: once triggered, the event wakes every wait, now and
	// later.
	ev := syscall.Kevent_t{Ident: wakeIdent, Filter: syscall.EVFILT_USER, Flags: syscall.EV_ADD}
	if err := k.change(ev); err != nil {
		syscall.Close(kq)
		return nil, fmt.Errorf("kevent add the wake event: %w", err)
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

func (k *kpoll) add(fd int) error {
	if err := syscall.SetNonblock(fd, true); err != nil {
		return fmt.Errorf("set non-blocking: %w", err)
	}
	if err := k.arm(fd); err != nil {
		return fmt.Errorf("kevent add: %w", err)
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
	// ENOENT: the one-shot knote fired and is gone (the connection is
	// owned); there is nothing to delete.
	if err := k.change(ev); err != nil && !errors.Is(err, syscall.ENOENT) {
		return fmt.Errorf("kevent delete: %w", err)
	}
	return nil
}

// wait blocks until the kernel reports something, and puts the descriptors
// of the readable connections in fds. It may return 0 (only the wake event).
func (k *kpoll) wait(fds []int) (int, error) {
	evs := make([]syscall.Kevent_t, len(fds))
	for {
		n, err := syscall.Kevent(k.kq, nil, evs, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("kevent wait: %w", err)
		}
		i := 0
		for _, ev := range evs[:n] {
			if ev.Filter == syscall.EVFILT_READ {
				fds[i] = int(ev.Ident)
				i++
			}
		}
		return i, nil
	}
}

func (k *kpoll) wake() error {
	ev := syscall.Kevent_t{Ident: wakeIdent, Filter: syscall.EVFILT_USER, Fflags: syscall.NOTE_TRIGGER}
	if err := k.change(ev); err != nil {
		return fmt.Errorf("kevent trigger the wake event: %w", err)
	}
	return nil
}

func (k *kpoll) close() error { return syscall.Close(k.kq) }
