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
//     *tls.Conn), or an in-memory one that tells when it has something to
//     read (a Readier: memnet's buffered connections), or wraps one of
//     those and lets Add through to it: a wrapper with a method
//     PassThrough() net.Conn that returns the connection beneath once it
//     holds no byte it read ahead (wsconn.PassThrough's contract). Reads
//     then go to the socket, past the wrappers; NetConn and Close use the
//     connection as given. It puts the descriptor in non-blocking mode and
//     clears the connection's read deadline: time-outs of a registered
//     connection are the caller's timers (and Wake), not a read's. A
//     socket from Listener leaves the runtime at Add (below): Add must come
//     from its only reader, with no read in flight.
//   - Add hands the connection back owned by the caller, not armed: the
//     caller first deals with what it holds already (bytes a handshake read
//     ahead), sets up its state, then calls Rearm to give the connection to
//     the poller. Without this, a Wait could hand the connection to another
//     goroutine before its state is ready.
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
//     then returns ErrWouldBlock): an owner re-arms in both cases. Wake
//     makes a connection ready with nothing to read, for the caller's
//     timers: a deadline, a shutdown.
//   - Conn.Read never blocks. It returns what the connection holds now:
//     n > 0 bytes, or ErrWouldBlock, or io.EOF once the peer has closed. A
//     read may return part of a message (a byte, half a frame): the caller
//     keeps what it has per connection until the rest comes.
//   - Poller.Close unregisters every connection (it does not close them),
//     makes every Wait return ErrClosed, waits for them to return, and
//     releases the poller's own descriptors. The package starts no
//     goroutine: the caller's loops around Wait are the only ones.
//
// In-memory connections, and tests in fake time: a Readier calls the
// poller back when bytes arrive, and the poller keeps it on a ready list
// of its own, in user space. Until the first socket is added, a poller
// opens no descriptor at all, and Wait waits on a sync.Cond: inside a
// testing/synctest bubble, a goroutine in Wait is durably blocked and fake
// time moves. From the first socket on, Wait waits in the kernel (not
// durably blocked), and the ready list wakes it through a pipe (Linux) or
// a user event (macOS).
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
// the descriptor's number to another socket mid-read.
//
// Leaving the runtime altogether: a connection accepted through Listener
// goes further. Add takes its descriptor from the runtime (a duplicate; the
// runtime's copy is closed, which takes it out of the runtime's set), and
// the runtime's record of the socket and the net.Conn's state are freed:
// 0.8 KiB less for each idle connection. Its RawConn is then the
// package's own, which calls its functions with the descriptor held open;
// a read or write that must wait (a station that does not read what it is
// sent) borrows a net.Conn from the runtime for the wait alone, so that it
// parks as any net.Conn's does, deadline and Close included.
//
// Sockets on Linux and macOS only (Supported): elsewhere, Add of a socket
// returns an error saying so, that wraps errors.ErrUnsupported (on
// Windows, use WSL). In-memory connections work everywhere.
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

// ErrWouldBlock is returned by Conn.Read when the connection holds nothing
// to read now: the owner re-arms the connection and waits for the poller.
var ErrWouldBlock = errors.New("netpoll: nothing to read yet")

// ErrClosed is returned by Wait and Add once the poller is closed.
var ErrClosed = errors.New("netpoll: poller closed")

// errNotOwned is returned by Rearm when the connection is already armed:
// it has been re-armed already, and not handed out since.
var errNotOwned = errors.New("netpoll: rearm of a connection that is already armed")

// A Readier is a connection without a descriptor that a Poller can wait on
// all the same: an in-memory one (memnet.ListenBuffered's).
type Readier interface {
	// TryRead reads what has arrived without waiting: n > 0; or 0 and
	// ErrWouldBlock; or io.EOF once the peer closed and everything is
	// read; or net.ErrClosed once closed here.
	TryRead(b []byte) (int, error)
	// OnReadable sets f, called (on the goroutine that wrote or closed,
	// with no lock held; f does not block) each time bytes or EOF arrive
	// or the connection closes, and once before OnReadable returns if
	// there is something to read already. Set once, by Poller.Add.
	OnReadable(f func())
}

// A Conn's state. Wait hands out only an armed connection, and makes it
// owned in the same step, so that a stale or duplicate readiness event
// never hands it to a second worker; Rearm makes it armed again, Close
// closed for good. Add makes it owned.
const (
	armed int32 = iota
	owned
	closed
)

// Poller watches registered connections and hands readable ones out through
// Wait. It is safe for concurrent use; the zero value is not usable, call
// New.
type Poller struct {
	mu      sync.Mutex
	k       *kpoll             // the platform's poller: nil until the first socket
	conns   fdTable            // sockets, by descriptor: what the kernel reports
	mem     map[*Conn]struct{} // Readiers
	ready   []*Conn            // the ready list: Readiers with something to read, woken Conns
	woken   bool               // k was woken for the ready list, and no Wait has drained it since
	closed  bool
	waiters int        // Waits between their start and their return
	changed *sync.Cond // on mu: the ready list grew, the first socket came, or Close
	idle    *sync.Cond // on mu: waiters fell to 0
	// bufs lends each Wait in the kernel its buffers (*waitBuf): a loop
	// around Wait, one readable station at a time, allocates nothing.
	bufs sync.Pool
}

// New returns a poller. It opens nothing: the platform's poller (epoll on
// Linux, kqueue on macOS) is made when the first socket is added, and a
// poller of in-memory connections never needs one. A platform without a
// poller refuses sockets at Add.
func New() *Poller {
	p := &Poller{mem: make(map[*Conn]struct{})}
	p.changed = sync.NewCond(&p.mu)
	p.idle = sync.NewCond(&p.mu)
	return p
}

// Conn is a registered connection. Only its owner (the caller Add or Wait
// handed it to) calls Read and Rearm; anyone may call Wake and Close, and
// Value and NetConn at any time.
//
// An idle connection keeps its Conn and its place in the Poller's table:
// Conn's fields are few and small for that (96 bytes).
type Conn struct {
	p  *Poller
	nc net.Conn
	// src is what Read reads: a socket's syscall.RawConn (its poller is
	// p.k, set before the first socket was added), or a Readier if mem.
	src   any
	value any
	mu    sync.Mutex // orders Rearm's and Close's calls to the kernel

	state atomic.Int32
	fd    int32 // a socket's descriptor it was registered with

	// wakes counts the calls of Wake; seen is what it was when the
	// connection was last handed out. Rearm makes it ready again if they
	// differ: a Wake while the owner works is not lost. (Only their
	// difference matters: they may wrap around.)
	wakes, seen atomic.Uint32
	// maybe reports that a Readier may have something to read: its
	// OnReadable set it, a Read that found something left it set. Only a
	// Read that finds nothing clears it.
	maybe atomic.Bool
	// For a socket registered edge-triggered (kernelRearm false), what
	// the kernel reports only once: again, that it reported the
	// connection while it was owned (Wait sets it, Rearm takes it);
	// drained, that the owner's last Read took all there was (a short
	// read, or nothing). Rearm hands the connection out again at once if
	// either says something may be left: the level-triggered contract.
	again   atomic.Bool
	drained atomic.Bool
	mem     bool // src is a Readier
	queued  bool // on the ready list (under p.mu)
}

// raw returns a socket's RawConn; nil for a Readier.
func (c *Conn) raw() syscall.RawConn {
	if c.mem {
		return nil
	}
	return c.src.(syscall.RawConn)
}

// readier returns an in-memory connection's Readier; nil for a socket.
func (c *Conn) readier() Readier {
	if !c.mem {
		return nil
	}
	return c.src.(Readier)
}

// Add registers nc, owned by the caller: nothing is handed out until the
// caller calls Rearm. v is the caller's state for the connection (its
// partial frame, its station), returned by Value. The first socket added
// makes the platform's poller; where there is none, Add of a socket
// returns an error that wraps errors.ErrUnsupported.
func (p *Poller) Add(nc net.Conn, v any) (*Conn, error) {
	raw, r, err := target(nc)
	if err != nil {
		return nil, fmt.Errorf("netpoll: add: %w", err)
	}
	if err := nc.SetReadDeadline(time.Time{}); err != nil {
		return nil, fmt.Errorf("netpoll: add: clear the read deadline: %w", err)
	}
	c := &Conn{p: p, nc: nc, src: raw, value: v}
	if r != nil {
		c.src, c.mem = r, true
	}
	c.state.Store(owned)
	// Nothing to read that the kernel will not report: what is there
	// already, EPOLL_CTL_ADD reports (to Wait, or as again if it comes
	// before Rearm).
	c.drained.Store(true)
	if r != nil {
		return p.addReadier(c, r)
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	if p.k == nil {
		k, err := newKpoll()
		if err != nil {
			return nil, fmt.Errorf("netpoll: add: new poller: %w", err)
		}
		p.k = k
		p.changed.Broadcast() // the Waits move to the kernel
	}
	var kerr error
	// Control holds the descriptor open while the kernel registers it.
	if err := raw.Control(func(fd uintptr) {
		c.fd = int32(fd)
		kerr = p.k.add(int(fd))
	}); err != nil {
		return nil, fmt.Errorf("netpoll: add: %w", err)
	}
	if kerr != nil {
		return nil, fmt.Errorf("netpoll: add descriptor %d: %w", c.fd, kerr)
	}
	if old := p.conns.get(int(c.fd)); old != nil {
		// The old connection's descriptor was closed without Conn.Close
		// (the kernel dropped its registration then) and its number reused.
		old.state.Store(closed)
	}
	p.conns.set(int(c.fd), c)
	return c, nil
}

// addReadier registers an in-memory connection.
func (p *Poller) addReadier(c *Conn, r Readier) (*Conn, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	p.mem[c] = struct{}{}
	p.mu.Unlock()
	// Outside the lock: it calls readable at once if bytes are there.
	r.OnReadable(c.readable)
	return c, nil
}

// target returns the socket nc is, or the Readier, or what its wrappers
// pass through to.
func target(nc net.Conn) (syscall.RawConn, Readier, error) {
	for c := nc; ; {
		if w, ok := c.(interface{ PassThrough() net.Conn }); ok {
			if c = w.PassThrough(); c == nil {
				return nil, nil, fmt.Errorf("%T still holds bytes it read ahead", w)
			}
			continue
		}
		if sc, ok := c.(syscall.Conn); ok {
			if err := handOver(c); err != nil {
				return nil, nil, err
			}
			raw, err := sc.SyscallConn()
			return raw, nil, err
		}
		if r, ok := c.(Readier); ok {
			return nil, r, nil
		}
		return nil, nil, fmt.Errorf("%T has no file descriptor (it is not a syscall.Conn) and is not a Readier", c)
	}
}

// Len returns the number of registered connections.
func (p *Poller) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.conns.n + len(p.mem)
}

// Wait blocks until at least one registered connection is readable (or
// woken), puts up to len(ready) of them in ready, and returns how many.
// The caller owns each until it calls its Rearm or Close. Once a socket is
// registered, Wait parks in the runtime's netpoller on Linux, as a socket's
// reader does, and holds an OS thread in kevent on macOS; before, it waits
// on a sync.Cond. Several goroutines may Wait at
// once; each readable connection goes to one of them. Once the poller is
// closed, Wait returns ErrClosed.
func (p *Poller) Wait(ready []*Conn) (int, error) {
	if len(ready) == 0 {
		return 0, errors.New("netpoll: wait: no room in ready")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0, ErrClosed
	}
	p.waiters++
	defer func() {
		if p.waiters--; p.waiters == 0 {
			p.idle.Broadcast()
		}
	}()

	var buf *waitBuf
	for {
		if p.closed {
			return 0, ErrClosed
		}
		if n := p.takeReady(ready); n > 0 {
			return n, nil
		}
		if p.k == nil {
			p.changed.Wait()
			continue
		}
		if buf == nil {
			buf, _ = p.bufs.Get().(*waitBuf)
			if buf == nil {
				buf = new(waitBuf)
			}
			defer p.bufs.Put(buf)
		}
		k := p.k
		p.mu.Unlock()
		n, woke, err := k.wait(buf, len(ready))
		p.mu.Lock()
		if err != nil {
			return 0, fmt.Errorf("netpoll: wait: %w", err)
		}
		if p.closed {
			return 0, ErrClosed
		}
		if woke {
			// Drained under the lock, and the ready list taken in the
			// same hold: no wake-up for the list is lost in between.
			k.drain()
			p.woken = false
		}
		i := 0
		for _, fd := range buf.fds[:n] {
			// A connection not armed is dropped: an event for a descriptor
			// closed and reused since the kernel reported it, for one
			// handed out from the ready list meanwhile, or for one its
			// owner re-armed a moment ago. Readiness is level-triggered,
			// so the owner's Rearm reports again whatever is still there.
			c := p.conns.get(fd)
			switch {
			case c == nil:
			case c.handOut(true):
				ready[i] = c
				i++
			case !kernelRearm:
				// Owned: an edge-triggered report comes once, and its
				// owner may have read before it came. Its Rearm looks.
				c.again.Store(true)
			}
		}
		if i += p.takeReady(ready[i:]); i > 0 {
			return i, nil
		}
	}
}

// takeReady moves up to len(ready) connections from the ready list into
// ready, and returns how many. If some are left, it wakes another Wait.
// Called with p.mu held.
func (p *Poller) takeReady(ready []*Conn) int {
	n, i := 0, 0
	for ; i < len(p.ready) && n < len(ready); i++ {
		c := p.ready[i]
		p.ready[i] = nil
		c.queued = false
		// Closed, or handed out by the kernel since it was queued: dropped.
		if c.handOut(false) {
			ready[n] = c
			n++
		}
	}
	if p.ready = p.ready[i:]; len(p.ready) == 0 {
		p.ready = nil
	} else {
		p.wakeOne()
	}
	return n
}

// handOut makes an armed connection owned, and reports whether it was
// armed. Called with p.mu held.
func (c *Conn) handOut(fromKernel bool) bool {
	seen := c.wakes.Load() // before: a Wake after this is the next owner's
	if !c.state.CompareAndSwap(armed, owned) {
		return false
	}
	c.seen.Store(seen)
	// What the kernel reported, or reports from now on, is the new owner's
	// to read. One handed out from the ready list (a Wake) keeps what the
	// last owner left: drained, unless bytes came since, which the kernel
	// reports (again).
	c.again.Store(false)
	if fromKernel {
		c.drained.Store(false)
	}
	return true
}

// push puts c on the ready list, unless it is there already.
func (p *Poller) push(c *Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || c.queued || c.state.Load() != armed {
		return
	}
	c.queued = true
	p.ready = append(p.ready, c)
	p.wakeOne()
}

// wakeOne wakes a Wait to take the ready list: one on the sync.Cond, or,
// once there is a kernel poller, the ones in the kernel. Called with p.mu
// held.
func (p *Poller) wakeOne() {
	p.changed.Signal()
	if p.k != nil && !p.woken {
		// It fails only with the poller closed (not here: p.closed is
		// checked under the same lock) or a full pipe, which is as
		// readable as it gets.
		p.k.wake()
		p.woken = true
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
	for _, c := range p.conns.byFD {
		if c != nil {
			errs = append(errs, c.unregister())
		}
	}
	for c := range p.mem {
		c.unregister()
	}
	p.conns = fdTable{}
	clear(p.mem)
	clear(p.ready)
	p.ready = nil
	p.changed.Broadcast()
	if p.k != nil {
		errs = append(errs, p.k.wakeAll())
	}
	for p.waiters > 0 {
		p.idle.Wait()
	}
	p.mu.Unlock()
	// No Wait is in the kernel and no Rearm or unregister can start one:
	// the descriptors can go without another one taking their numbers.
	if p.k != nil {
		errs = append(errs, p.k.close())
	}
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

// Read reads what the connection holds now into b, without waiting: n > 0
// bytes, or ErrWouldBlock if there is nothing, or io.EOF if the peer has
// closed. Only the owner reads.
func (c *Conn) Read(b []byte) (int, error) {
	if c.state.Load() == closed {
		return 0, fmt.Errorf("netpoll: read: %w", net.ErrClosed)
	}
	if c.mem {
		return c.readReadier(b)
	}
	var (
		n     int
		again bool
		rerr  error
	)
	// The function reports done even when nothing was read: the runtime
	// must never park this read in its own netpoller.
	if err := c.raw().Read(func(fd uintptr) bool {
		n, again, rerr = readFD(fd, b)
		return true
	}); err != nil {
		return 0, fmt.Errorf("netpoll: read: %w", err)
	}
	// A read that leaves room in b takes all the socket had (TCP gives
	// what it has, up to len(b)).
	c.drained.Store(again || n < len(b))
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

// readReadier is Read for an in-memory connection. It keeps c.maybe: only
// a read that finds nothing clears it, and anything that arrives after
// sets it again, so Rearm knows whether to hand the connection out again.
func (c *Conn) readReadier(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	c.maybe.Store(false)
	n, err := c.readier().TryRead(b)
	switch {
	case errors.Is(err, ErrWouldBlock):
		return 0, ErrWouldBlock
	case err == nil && n == 0:
		return 0, ErrWouldBlock
	}
	c.maybe.Store(true) // more bytes, or the end, are still to read
	switch {
	case err == nil, errors.Is(err, io.EOF):
		return n, err
	}
	return n, fmt.Errorf("netpoll: read: %w", err)
}

// readable is a Readier's OnReadable: it makes the connection ready if it
// is armed; if it is owned, its Rearm will.
func (c *Conn) readable() {
	c.maybe.Store(true)
	if c.state.Load() == armed {
		c.p.push(c)
	}
}

// Rearm gives the connection back to the poller: the next time it is
// readable (now, if the owner left something unread, or it was woken
// meanwhile), a Wait hands it out again. The owner calls it once it is
// done with what it read, and does not touch the connection's reading side
// after. If Rearm fails, the owner still owns the connection and should
// Close it.
func (c *Conn) Rearm() error {
	more, err := c.rearm()
	if err != nil {
		return err
	}
	// Pushed after the state is armed: a Wake or a Readier's readable that
	// comes in between pushes it itself, or leaves its mark for this.
	if more || c.wakes.Load() != c.seen.Load() || c.mem && c.maybe.Load() {
		c.p.push(c)
	}
	return nil
}

// rearm is Rearm's state change, and the kernel's. It reports whether the
// connection may have something to read already (an edge-triggered
// socket: see again).
func (c *Conn) rearm() (more bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch c.state.Load() {
	case closed:
		return false, fmt.Errorf("netpoll: rearm: %w", net.ErrClosed)
	case armed:
		return false, errNotOwned
	}
	// Armed before the kernel re-arms: a readiness event the kernel reports
	// in between must find the connection armed, or it would be dropped
	// with nobody left to re-arm it.
	c.state.Store(armed)
	if c.mem {
		return false, nil
	}
	if !kernelRearm {
		// Registered edge-triggered for good: nothing to ask the kernel.
		// A report that comes from now on finds the connection armed; one
		// that came while it was owned, or bytes left unread, say so here.
		return c.again.Swap(false) || !c.drained.Load(), nil
	}
	var kerr error
	if err := c.raw().Control(func(fd uintptr) { kerr = c.p.k.rearm(int(fd)) }); err != nil {
		c.state.CompareAndSwap(armed, owned)
		return false, fmt.Errorf("netpoll: rearm: %w", err)
	}
	if kerr != nil {
		c.state.CompareAndSwap(armed, owned)
		return false, fmt.Errorf("netpoll: rearm descriptor %d: %w", c.fd, kerr)
	}
	return false, nil
}

// Wake makes the next Wait hand c out, even with nothing to read: at once
// if c is armed; if it is owned, once its owner re-arms it (the wake is not
// lost while the owner works). It does nothing once c is closed. Anyone
// may call it, from any goroutine: a timer for a deadline, a shutdown.
func (c *Conn) Wake() {
	c.wakes.Add(1)
	if c.state.Load() == armed {
		c.p.push(c)
	}
}

// Close unregisters the connection and closes it. Anyone may call it, owner
// or not; a worker that owns it then finds Read and Rearm reporting it
// closed. If the net.Conn was closed already, elsewhere, Close forgets the
// connection and returns nil.
func (c *Conn) Close() error {
	err := c.unregister()
	c.p.mu.Lock()
	if c.mem {
		delete(c.p.mem, c)
	} else if c.p.conns.get(int(c.fd)) == c {
		c.p.conns.set(int(c.fd), nil)
	}
	c.p.mu.Unlock()
	if cerr := c.nc.Close(); cerr != nil && !errors.Is(cerr, net.ErrClosed) {
		err = errors.Join(err, cerr)
	}
	return err
}

// unregister marks the connection closed and takes a socket out of the
// kernel's set, once.
func (c *Conn) unregister() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state.Swap(closed) == closed || c.mem {
		return nil
	}
	var kerr error
	if err := c.raw().Control(func(fd uintptr) { kerr = c.p.k.del(int(fd)) }); err != nil {
		// The descriptor is closed already, and the kernel dropped its
		// registration when it was.
		return nil
	}
	if kerr != nil {
		return fmt.Errorf("netpoll: unregister descriptor %d: %w", c.fd, kerr)
	}
	return nil
}

// fdTable is the sockets registered, by descriptor. A process's
// descriptors are small numbers, allotted lowest first, and those of a
// server's connections are nearly all of them: a slice indexed by the
// descriptor costs a pointer per connection, half of a map's entry.
type fdTable struct {
	byFD []*Conn
	n    int // of byFD not nil
}

func (t *fdTable) get(fd int) *Conn {
	if fd < 0 || fd >= len(t.byFD) {
		return nil
	}
	return t.byFD[fd]
}

// set puts c (or nil: none) at fd.
func (t *fdTable) set(fd int, c *Conn) {
	if fd >= len(t.byFD) {
		if c == nil {
			return
		}
		t.byFD = append(t.byFD, make([]*Conn, fd+1-len(t.byFD))...)
	}
	switch old := t.byFD[fd]; {
	case old == nil && c != nil:
		t.n++
	case old != nil && c == nil:
		t.n--
	}
	t.byFD[fd] = c
}
