// Package netpoll is an event-driven reader for connections that are idle
// most of the time: the platform's poller (epoll on Linux, kqueue on macOS)
// watches every registered connection at once, and a connection is handed
// to a worker only when it has something to read. An idle connection holds
// no goroutine, only a few hundred bytes of bookkeeping.
//
// It is, done by hand and in the open, what Go's runtime does for every
// net.Conn: the runtime parks a goroutine in conn.Read and its netpoller
// wakes it; here nobody is parked, and the caller decides who reads.
//
// The contract:
//
//   - Add registers a connection that has a file descriptor (a
//     *net.TCPConn, a *net.UnixConn: a syscall.Conn; not net.Pipe, not a
//     *tls.Conn), or wraps one and lets Add through to it: a wrapper with
//     a method PassThrough() net.Conn that returns the connection beneath
//     once it holds no byte it read ahead (wsconn.PassThrough's contract).
//     Reads then go to the socket, past the wrappers; NetConn and Close
//     use the connection as given. It puts the descriptor in non-blocking mode and clears the
//     connection's read deadline: time-outs of a registered connection are
//     the caller's timers, not a read's. The descriptor must stay open while
//     it is registered: close the connection with Conn.Close, which
//     unregisters it first, never with the net.Conn's own Close.
//   - Readiness is one-shot. Wait hands a readable connection to exactly
//     one caller, which then owns it: it alone reads it, and the poller
//     reports it to nobody until the owner calls Rearm (or Close). The
//     owner re-arms once it is done with what it read; re-arming earlier
//     lets another worker read the connection while it still works on it.
//     What an owner writes before Rearm (the partial frame it keeps in the
//     connection's Value) happens before the Wait that hands the
//     connection out next: the next owner sees it without a lock.
//   - Readiness is level-triggered: whatever the owner left unread when it
//     re-arms is reported again at once. It may also be spurious (a Read
//     then returns ErrWouldBlock): an owner re-arms in both cases.
//   - Conn.Read never blocks. It returns what the socket holds now: n > 0
//     bytes, or ErrWouldBlock, or io.EOF once the peer has closed. A read
//     may return part of a message (a byte, half a frame): the caller keeps
//     what it has per connection until the rest comes.
//   - Poller.Close unregisters every connection (it does not close them),
//     makes every Wait return ErrClosed, waits for them to return, and
//     releases the poller's own descriptors. The package starts no
//     goroutine: the caller's loops around Wait are the only ones.
//
// Reading without fighting the runtime: the runtime's netpoller keeps every
// net.Conn's descriptor registered in its own epoll or kqueue set. Both
// sets watch the same socket, which the kernel allows; they do not fight
// as long as no goroutine waits in the net.Conn's Read. Conn.Read reads
// through syscall.RawConn.Read with a function that always reports done,
// even when the socket is empty, so the runtime never parks a goroutine on
// it; the runtime's readiness events for the socket find nobody waiting and
// cost it nothing but a flag. RawConn.Read also holds the descriptor's read
// lock for the length of the read(2), so a concurrent close cannot hand
// the descriptor's number to another socket mid-read. Taking the
// descriptor out instead, with File (a dup), would double the descriptors
// each connection costs and still leave the original registered.
//
// Linux and macOS only (Supported): on other platforms New returns an error
// saying so, that wraps errors.ErrUnsupported (on Windows, use WSL).
package netpoll

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ErrWouldBlock is returned by Conn.Read when the socket holds nothing to
// read now: the owner re-arms the connection and waits for the poller.
var ErrWouldBlock = errors.New("netpoll: nothing to read yet")

// ErrClosed is returned by Wait and Add once the poller is closed.
var ErrClosed = errors.New("netpoll: poller closed")

// errNotOwned is returned by Rearm when the connection is already armed:
// it was never handed out, or has been re-armed already.
var errNotOwned = errors.New("netpoll: rearm of a connection that is already armed")

// A Conn's state. Wait hands out only an armed connection, and makes it
// owned in the same step, so that a stale or duplicate readiness event
// never hands it to a second worker; Rearm makes it armed again, Close
// closed for good.
const (
	armed int32 = iota
	owned
	closed
)

// Poller watches registered connections and hands readable ones out through
// Wait. It is safe for concurrent use; the zero value is not usable, call
// New.
type Poller struct {
	k *kpoll // the platform's poller

	mu      sync.Mutex
	conns   map[int]*Conn // by descriptor: what the kernel reports
	closed  bool
	waiters int        // Waits between their start and their return
	idle    *sync.Cond // on mu: waiters fell to 0
}

// New returns a poller over the platform's own: epoll on Linux, kqueue on
// macOS. Elsewhere it returns an error.
func New() (*Poller, error) {
	k, err := newKpoll()
	if err != nil {
		return nil, fmt.Errorf("netpoll: new poller: %w", err)
	}
	p := &Poller{k: k, conns: make(map[int]*Conn)}
	p.idle = sync.NewCond(&p.mu)
	return p, nil
}

// Conn is a registered connection. Only its owner (the caller Wait handed
// it to) calls Read and Rearm; anyone may call Close, and Value and
// NetConn at any time.
type Conn struct {
	p     *Poller
	nc    net.Conn
	raw   syscall.RawConn
	fd    int // the descriptor it was registered with
	value any

	state atomic.Int32
	mu    sync.Mutex // orders Rearm's and Close's calls to the kernel
}

// Add registers nc, armed: the next time it is readable (now, if it already
// is), a Wait hands it out. v is the caller's state for the connection
// (its partial frame, its station), returned by Value.
func (p *Poller) Add(nc net.Conn, v any) (*Conn, error) {
	raw, err := socketOf(nc)
	if err != nil {
		return nil, fmt.Errorf("netpoll: add: %w", err)
	}
	if err := nc.SetReadDeadline(time.Time{}); err != nil {
		return nil, fmt.Errorf("netpoll: add: clear the read deadline: %w", err)
	}
	c := &Conn{p: p, nc: nc, raw: raw, value: v}

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	var kerr error
	// Control holds the descriptor open while the kernel registers it.
	if err := raw.Control(func(fd uintptr) {
		c.fd = int(fd)
		kerr = p.k.add(c.fd)
	}); err != nil {
		return nil, fmt.Errorf("netpoll: add: %w", err)
	}
	if kerr != nil {
		return nil, fmt.Errorf("netpoll: add descriptor %d: %w", c.fd, kerr)
	}
	if old := p.conns[c.fd]; old != nil {
		// The old connection's descriptor was closed without Conn.Close
		// (the kernel dropped its registration then) and its number reused.
		old.state.Store(closed)
	}
	p.conns[c.fd] = c
	return c, nil
}

// socketOf returns the socket nc is, or wraps and passes through to.
func socketOf(nc net.Conn) (syscall.RawConn, error) {
	for c := nc; ; {
		if w, ok := c.(interface{ PassThrough() net.Conn }); ok {
			if c = w.PassThrough(); c == nil {
				return nil, fmt.Errorf("%T still holds bytes it read ahead", w)
			}
			continue
		}
		sc, ok := c.(syscall.Conn)
		if !ok {
			return nil, fmt.Errorf("%T has no file descriptor (it is not a syscall.Conn)", c)
		}
		return sc.SyscallConn()
	}
}

// Len returns the number of registered connections.
func (p *Poller) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// Wait blocks until at least one registered connection is readable, puts
// up to len(ready) of them in ready, and returns how many. The caller owns
// each until it calls its Rearm or Close. Wait holds an OS thread while it
// blocks, as any system call does. Several goroutines may Wait at once;
// each readable connection goes to one of them. Once the poller is closed,
// Wait returns ErrClosed.
func (p *Poller) Wait(ready []*Conn) (int, error) {
	if len(ready) == 0 {
		return 0, errors.New("netpoll: wait: no room in ready")
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return 0, ErrClosed
	}
	p.waiters++
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		if p.waiters--; p.waiters == 0 {
			p.idle.Broadcast()
		}
		p.mu.Unlock()
	}()

	fds := make([]int, len(ready))
	for {
		n, err := p.k.wait(fds)
		if err != nil {
			return 0, fmt.Errorf("netpoll: wait: %w", err)
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return 0, ErrClosed
		}
		k := 0
		for _, fd := range fds[:n] {
			// A connection not armed is dropped: an event for a descriptor
			// closed and reused since the kernel reported it, or for one its
			// owner re-armed a moment ago. Readiness is level-triggered, so
			// the owner's Rearm reports again whatever is still there.
			if c := p.conns[fd]; c != nil && c.state.CompareAndSwap(armed, owned) {
				ready[k] = c
				k++
			}
		}
		p.mu.Unlock()
		if k > 0 {
			return k, nil
		}
	}
}

// Close unregisters every connection without closing it, makes every Wait
// return ErrClosed and waits until they have, then releases the poller's
// descriptors. A connection's owner can still Close it afterwards; its
// Read and Rearm report that it is closed.
func (p *Poller) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	var errs []error
	for _, c := range p.conns {
		errs = append(errs, c.unregister())
	}
	clear(p.conns)
	errs = append(errs, p.k.wake())
	for p.waiters > 0 {
		p.idle.Wait()
	}
	p.mu.Unlock()
	// No Wait is in the kernel and no Rearm or unregister can start one:
	// the descriptors can go without another one taking their numbers.
	errs = append(errs, p.k.close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("netpoll: close: %w", err)
	}
	return nil
}

// Value returns the value given to Add.
func (c *Conn) Value() any { return c.value }

// NetConn returns the connection given to Add, for writing. Reading it, or
// closing it, breaks the contract: use Read and Close.
func (c *Conn) NetConn() net.Conn { return c.nc }

// Read reads what the socket holds now into b, without waiting: n > 0
// bytes, or ErrWouldBlock if there is nothing, or io.EOF if the peer has
// closed. Only the owner reads.
func (c *Conn) Read(b []byte) (int, error) {
	if c.state.Load() == closed {
		return 0, fmt.Errorf("netpoll: read: %w", net.ErrClosed)
	}
	var (
		n     int
		again bool
		rerr  error
	)
	// The function reports done even when nothing was read: the runtime
	// must never park this read in its own netpoller.
	if err := c.raw.Read(func(fd uintptr) bool {
		n, again, rerr = readFD(fd, b)
		return true
	}); err != nil {
		return 0, fmt.Errorf("netpoll: read: %w", err)
	}
	switch {
	case again:
		return 0, ErrWouldBlock
	case rerr != nil:
		return 0, fmt.Errorf("netpoll: %w", os.NewSyscallError("read", rerr))
	case n == 0 && len(b) > 0:
		return 0, io.EOF
	}
	return n, nil
}

// Rearm gives the connection back to the poller: the next time it is
// readable (now, if the owner left something unread), a Wait hands it out
// again. The owner calls it once it is done with what it read, and does not
// touch the connection's reading side after. If Rearm fails, the owner
// still owns the connection and should Close it.
func (c *Conn) Rearm() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch c.state.Load() {
	case closed:
		return fmt.Errorf("netpoll: rearm: %w", net.ErrClosed)
	case armed:
		return errNotOwned
	}
	// Armed before the kernel re-arms: a readiness event the kernel reports
	// in between must find the connection armed, or it would be dropped
	// with nobody left to re-arm it.
	c.state.Store(armed)
	var kerr error
	if err := c.raw.Control(func(fd uintptr) { kerr = c.p.k.rearm(int(fd)) }); err != nil {
		c.state.CompareAndSwap(armed, owned)
		return fmt.Errorf("netpoll: rearm: %w", err)
	}
	if kerr != nil {
		c.state.CompareAndSwap(armed, owned)
		return fmt.Errorf("netpoll: rearm descriptor %d: %w", c.fd, kerr)
	}
	return nil
}

// Close unregisters the connection and closes it. Anyone may call it, owner
// or not; a worker that owns it then finds Read and Rearm reporting it
// closed.
func (c *Conn) Close() error {
	err := c.unregister()
	c.p.mu.Lock()
	if c.p.conns[c.fd] == c {
		delete(c.p.conns, c.fd)
	}
	c.p.mu.Unlock()
	if cerr := c.nc.Close(); cerr != nil {
		err = errors.Join(err, cerr)
	}
	return err
}

// unregister marks the connection closed and takes it out of the kernel's
// set, once.
func (c *Conn) unregister() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state.Swap(closed) == closed {
		return nil
	}
	var kerr error
	if err := c.raw.Control(func(fd uintptr) { kerr = c.p.k.del(int(fd)) }); err != nil {
		// The descriptor is closed already, and the kernel dropped its
		// registration when it was.
		return nil
	}
	if kerr != nil {
		return fmt.Errorf("netpoll: unregister descriptor %d: %w", c.fd, kerr)
	}
	return nil
}
