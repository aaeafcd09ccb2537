package netpoll

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// Supported reports whether a Poller takes sockets here: Linux (epoll) and
// macOS (kqueue) have a poller; elsewhere, use WSL. In-memory connections
// (a Readier) work everywhere.
const Supported = true

// armEvents is what a connection is registered with, once: readable or
// hung up, edge-triggered (a report each time something arrives). One
// owner at a time is the Conn's state machine's to keep, and what arrives
// while a connection is owned its own to remember (Conn.again): re-arming
// then costs no system call, where a one-shot registration costs one
// epoll_ctl per readable event.
const armEvents uint32 = syscall.EPOLLIN | syscall.EPOLLRDHUP | 1<<31 // EPOLLET, negative in syscall

// kernelRearm reports whether Rearm must ask the kernel to report a
// connection again: not with an edge-triggered registration.
const kernelRearm = false

// kpoll is an epoll set, with a pipe whose read end is in the set to wake
// the waits: for the ready list (a Wait drains it), or for good when the
// poller closes (nobody drains it then).
//
// A wait parks its goroutine in the runtime's own netpoller, on the epoll
// set's descriptor (readable while the set has something to report), and
// then takes the events without blocking: no OS thread is held in
// epoll_wait, and the scheduler, which polls the network anyway, wakes the
// waiter as it would a goroutine in a socket read.
type kpoll struct {
	epfd         int
	ep           *os.File        // epfd, for the runtime's netpoller
	raw          syscall.RawConn // ep's
	wakeR, wakeW int
}

func newKpoll() (*kpoll, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_NONBLOCK|syscall.O_CLOEXEC); err != nil {
		syscall.Close(epfd)
		return nil, fmt.Errorf("pipe2: %w", err)
	}
	k := &kpoll{epfd: epfd, wakeR: p[0], wakeW: p[1]}
	// Non-blocking, so that os.NewFile hands it to the runtime's poller.
	if err := syscall.SetNonblock(epfd, true); err != nil {
		syscall.Close(epfd)
		syscall.Close(p[0])
		syscall.Close(p[1])
		return nil, fmt.Errorf("epoll set non-blocking: %w", err)
	}
	k.ep = os.NewFile(uintptr(epfd), "epoll")
	raw, err := k.ep.SyscallConn()
	if err != nil {
		k.close()
		return nil, fmt.Errorf("epoll in the runtime's poller: %w", err)
	}
	k.raw = raw
	// Level-triggered and never re-armed: until drained, the pipe wakes
	// every wait, now and later.
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(k.wakeR)}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, k.wakeR, &ev); err != nil {
		k.close()
		return nil, fmt.Errorf("epoll_ctl add the wake pipe: %w", err)
	}
	return k, nil
}

// add registers fd for good. Its Conn is owned by the caller of Add: what
// the kernel reports meanwhile (bytes already there, included) is
// remembered for its Rearm.
func (k *kpoll) add(fd int) error {
	if err := syscall.SetNonblock(fd, true); err != nil {
		return fmt.Errorf("set non-blocking: %w", err)
	}
	ev := syscall.EpollEvent{Events: armEvents, Fd: int32(fd)}
	if err := syscall.EpollCtl(k.epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return fmt.Errorf("epoll_ctl add: %w", err)
	}
	return nil
}

// rearm is never called: see kernelRearm.
func (k *kpoll) rearm(int) error { return nil }

func (k *kpoll) del(fd int) error {
	// A non-nil event for kernels before 2.6.9.
	var ev syscall.EpollEvent
	if err := syscall.EpollCtl(k.epfd, syscall.EPOLL_CTL_DEL, fd, &ev); err != nil {
		return fmt.Errorf("epoll_ctl del: %w", err)
	}
	return nil
}

// A waitBuf is what a wait needs: room for the kernel's events, and for
// the descriptors they name.
type waitBuf struct {
	evs []syscall.EpollEvent
	fds []int
}

func (b *waitBuf) grow(n int) {
	if len(b.evs) < n {
		b.evs, b.fds = make([]syscall.EpollEvent, n), make([]int, n)
	}
}

// wait parks until the kernel has something to report, at most max
// events, and puts the descriptors of the readable connections in buf.fds.
// woke reports the wake pipe. It may return 0 (only the wake pipe). The
// goroutine parks in the runtime's netpoller (see kpoll): epoll_wait is
// only ever asked without a timeout of its own.
func (k *kpoll) wait(buf *waitBuf, max int) (n int, woke bool, err error) {
	buf.grow(max)
	evs, fds := buf.evs[:max], buf.fds
	var werr error
	rerr := k.raw.Read(func(uintptr) bool {
		m, err := syscall.EpollWait(k.epfd, evs, 0)
		switch {
		case errors.Is(err, syscall.EINTR):
			return false
		case err != nil:
			werr = fmt.Errorf("epoll_wait: %w", err)
			return true
		case m == 0:
			return false // nothing yet: park until the set is readable
		}
		for _, ev := range evs[:m] {
			if int(ev.Fd) == k.wakeR {
				woke = true
				continue
			}
			fds[n] = int(ev.Fd)
			n++
		}
		return true
	})
	if rerr != nil {
		return 0, false, fmt.Errorf("epoll wait: %w", rerr)
	}
	return n, woke, werr
}

// wake wakes the waits for the ready list, until one drains the pipe.
func (k *kpoll) wake() error {
	_, err := syscall.Write(k.wakeW, []byte{1})
	if err != nil && !errors.Is(err, syscall.EAGAIN) {
		return fmt.Errorf("write the wake pipe: %w", err)
	}
	return nil
}

// wakeAll wakes every wait, now and later: nobody drains the pipe once
// the poller is closed.
func (k *kpoll) wakeAll() error { return k.wake() }

// drain empties the wake pipe.
func (k *kpoll) drain() {
	var b [64]byte
	for {
		n, err := syscall.Read(k.wakeR, b[:])
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if n <= 0 || err != nil {
			return // EAGAIN: empty
		}
	}
}

func (k *kpoll) close() error {
	var err error
	if k.ep != nil {
		err = k.ep.Close()
	} else {
		err = syscall.Close(k.epfd)
	}
	return errors.Join(err, syscall.Close(k.wakeR), syscall.Close(k.wakeW))
}
