//go:build linux || darwin

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

// Listener returns l, with each TCP connection it accepts ready to leave
// the runtime when a Poller takes it: Add then takes the socket's
// descriptor out of the runtime's netpoller and frees what the runtime
// keeps for it (a poll descriptor of some 500 bytes, the net.Conn's own
// state and addresses: 0.8 KiB in all), which an idle connection in a
// Poller never uses. Until Add, a connection behaves as the *net.TCPConn
// it wraps; after, as a net.Conn still, on its own descriptor. The Poller
// reads it (Conn.Read); its owner writes and closes it, through its
// RawConn too. Other connections pass as l returns them.
func Listener(l net.Listener) net.Listener { return &listener{l} }

type listener struct{ net.Listener }

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		s := &socket{fd: -1}
		s.tc.Store(tc)
		return s, nil
	}
	return c, err
}

// A socket is a TCP connection that Add can take from the runtime
// (handOver): until then it is its *net.TCPConn; from then on, a
// descriptor of its own, a duplicate of the runtime's, which the runtime
// no longer knows.
//
// A call that waits (a write to a full socket, a read with nothing to
// read) borrows a *net.TCPConn from the runtime for the wait alone, on
// another duplicate of the descriptor: parked in the runtime's netpoller,
// as any net.Conn's, it holds no OS thread, and its deadline and Close
// work as they do for a net.Conn. It costs two descriptors more for the
// length of the wait.
//
// Unlike a net.Conn, a socket handed over has no finalizer: one dropped
// without Close keeps its descriptor. Every owner here closes its
// connections (wsconn, and Conn.Close).
type socket struct {
	// mu is held shared by every call that uses the descriptor, and
	// exclusively to hand it over and to close it: a call never meets a
	// descriptor closed, or its number given to another socket, under it.
	mu      sync.RWMutex
	tc      atomic.Pointer[net.TCPConn] // until handed over; nil after
	fd      int32                       // after: ours; -1 before, and once closed
	closing atomic.Bool
	// rlock and wlock hold the turn to read and to write, as a net.Conn's
	// RawConn.Read and Write hold its descriptor's locks until their
	// function reports done.
	rlock, wlock sync.Mutex
	// dmu orders the deadlines' changes with the connections borrowed for
	// a wait, so that a new deadline, or Close, reaches a wait that began
	// before. A call that does not wait only loads its deadline. Deadlines
	// are kept from the start, so that the hand-over keeps them: in Unix
	// nanoseconds, 0 for none.
	dmu                 sync.Mutex
	readDL, writeDL     atomic.Int64
	readWait, writeWait *net.TCPConn
}

// handOver takes the socket from the runtime: it duplicates the
// descriptor and closes the *net.TCPConn, whose descriptor goes out of the
// runtime's netpoller (the duplicate keeps the socket open, and its
// non-blocking mode, which the two share). It waits for calls in progress,
// and must not be called while one waits for the peer with no deadline:
// Add is called by the connection's only reader, with no read in flight.
// Once handed over, it does nothing.
func (s *socket) handOver() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	tc := s.tc.Load()
	if tc == nil {
		return nil
	}
	if s.closing.Load() {
		return net.ErrClosed
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return err
	}
	fd, derr := -1, error(nil)
	if err := raw.Control(func(rfd uintptr) { fd, derr = dup(int(rfd)) }); err != nil {
		return err
	}
	if derr != nil {
		return fmt.Errorf("take the descriptor from the runtime: %w", derr)
	}
	s.fd = int32(fd)
	s.tc.Store(nil)
	// A Close since the check above closed tc, and waits for mu to close
	// fd: closing tc again only reports that.
	tc.Close()
	return nil
}

// dup returns a duplicate of fd, closed on exec as the runtime's are.
func dup(fd int) (int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	nfd, err := syscall.Dup(fd)
	if err != nil {
		return -1, os.NewSyscallError("dup", err)
	}
	syscall.CloseOnExec(nfd)
	return nfd, nil
}

// use runs f with the descriptor, held open meanwhile; or, before the
// hand-over, inTC with the *net.TCPConn.
func (s *socket) use(inTC func(tc *net.TCPConn) error, f func(fd int) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if tc := s.tc.Load(); tc != nil {
		return inTC(tc)
	}
	if s.closing.Load() || s.fd < 0 {
		return net.ErrClosed
	}
	return f(int(s.fd))
}

func (s *socket) opError(op string, err error) error {
	if err == nil {
		return nil
	}
	return &net.OpError{Op: op, Net: "tcp", Source: s.LocalAddr(), Addr: s.RemoteAddr(), Err: err}
}

// Read reads as a net.Conn does, waiting for something to read within the
// read deadline. Once a Poller has the socket, only the Poller's Conn.Read
// reads it; this Read is for a connection that Add handed over and then
// failed to register.
func (s *socket) Read(b []byte) (int, error) {
	if tc := s.rlockTC(); tc != nil {
		defer s.mu.RUnlock()
		return tc.Read(b)
	}
	var (
		n    int
		rerr error
	)
	err := (*rawSocket)(s).Read(func(fd uintptr) bool {
		var again bool
		n, again, rerr = readFD(fd, b)
		if rerr != nil {
			rerr = os.NewSyscallError("read", rerr)
		} else if n == 0 && !again && len(b) > 0 {
			rerr = io.EOF
		}
		return !again
	})
	if err == nil {
		err = rerr
	}
	if err == nil || err == io.EOF {
		return n, err
	}
	return n, s.opError("read", err)
}

// Write writes b whole, waiting for room within the write deadline.
func (s *socket) Write(b []byte) (int, error) {
	if tc := s.rlockTC(); tc != nil {
		defer s.mu.RUnlock()
		return tc.Write(b)
	}
	var (
		n    int
		werr error
	)
	err := (*rawSocket)(s).Write(func(fd uintptr) bool {
		for n < len(b) {
			m, err := syscall.Write(int(fd), b[n:])
			switch {
			case err == syscall.EINTR:
				continue
			case err == syscall.EAGAIN:
				return false
			case err != nil:
				werr = os.NewSyscallError("write", err)
				return true
			}
			n += m
		}
		return true
	})
	if err == nil {
		err = werr
	}
	return n, s.opError("write", err)
}

// rlockTC returns the *net.TCPConn with s.mu held shared, for the caller
// to release; or, once the socket is handed over, nil, with s.mu not held.
func (s *socket) rlockTC() *net.TCPConn {
	s.mu.RLock()
	tc := s.tc.Load()
	if tc == nil {
		s.mu.RUnlock() // handed over, for good
	}
	return tc
}

// Close closes the connection, and ends any wait of its calls. The socket
// closes once no call uses its descriptor.
func (s *socket) Close() error {
	if s.closing.Swap(true) {
		// No addresses: a Close from a RawConn's function, under s.mu,
		// would wait for them behind the first Close.
		return &net.OpError{Op: "close", Net: "tcp", Err: net.ErrClosed}
	}
	var err error
	if tc := s.tc.Load(); tc != nil {
		err = tc.Close() // a hand-over under way finds closing set, or closes fd below
	}
	s.dmu.Lock()
	for _, c := range []*net.TCPConn{s.readWait, s.writeWait} {
		if c != nil {
			c.Close()
		}
	}
	s.dmu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fd >= 0 {
		err = os.NewSyscallError("close", syscall.Close(int(s.fd)))
		s.fd = -1
	}
	return err
}

// CloseWrite shuts down the writing side, as net/http does before it
// closes a connection.
func (s *socket) CloseWrite() error {
	handed := false
	err := s.use((*net.TCPConn).CloseWrite, func(fd int) error {
		handed = true
		return os.NewSyscallError("shutdown", syscall.Shutdown(fd, syscall.SHUT_WR))
	})
	if !handed {
		return err
	}
	return s.opError("close", err) // outside s.mu: opError takes it
}

// LocalAddr and RemoteAddr ask the kernel once the socket is handed over:
// an idle connection keeps no addresses.
func (s *socket) LocalAddr() net.Addr  { return s.addr((*net.TCPConn).LocalAddr, syscall.Getsockname) }
func (s *socket) RemoteAddr() net.Addr { return s.addr((*net.TCPConn).RemoteAddr, syscall.Getpeername) }

func (s *socket) addr(inTC func(*net.TCPConn) net.Addr, name func(int) (syscall.Sockaddr, error)) net.Addr {
	var a net.Addr = &net.TCPAddr{}
	s.use(func(tc *net.TCPConn) error {
		a = inTC(tc)
		return nil
	}, func(fd int) error {
		sa, err := name(fd)
		switch sa := sa.(type) {
		case *syscall.SockaddrInet4:
			a = &net.TCPAddr{IP: sa.Addr[:], Port: sa.Port}
		case *syscall.SockaddrInet6:
			a = &net.TCPAddr{IP: sa.Addr[:], Port: sa.Port}
		}
		return err
	})
	return a
}

func (s *socket) SetDeadline(t time.Time) error {
	return errors.Join(s.SetReadDeadline(t), s.SetWriteDeadline(t))
}

func (s *socket) SetReadDeadline(t time.Time) error {
	return s.setDeadline(t, &s.readDL, &s.readWait, (*net.TCPConn).SetReadDeadline)
}

func (s *socket) SetWriteDeadline(t time.Time) error {
	return s.setDeadline(t, &s.writeDL, &s.writeWait, (*net.TCPConn).SetWriteDeadline)
}

// setDeadline keeps t in *dl and gives it to the *net.TCPConn, or to a
// wait under way. It takes no part of s.mu: a RawConn's function may set a
// deadline (wsconn's writes do, when the socket is full), and it runs with
// s.mu held.
func (s *socket) setDeadline(t time.Time, dl *atomic.Int64, wait **net.TCPConn, set func(*net.TCPConn, time.Time) error) error {
	s.dmu.Lock()
	defer s.dmu.Unlock()
	var ns int64
	if !t.IsZero() {
		ns = t.UnixNano()
	}
	dl.Store(ns)
	if *wait != nil {
		set(*wait, t)
	}
	if tc := s.tc.Load(); tc != nil {
		// Closed by a hand-over meanwhile: dl is what counts now.
		if err := set(tc, t); err != nil && s.tc.Load() != nil {
			return err
		}
		return nil
	}
	if s.closing.Load() {
		// No addresses: s.mu may be held here (a RawConn's function), and
		// LocalAddr would take it again behind a Close waiting for it.
		return &net.OpError{Op: "set", Net: "tcp", Err: net.ErrClosed}
	}
	return nil
}

// SyscallConn returns the socket's RawConn: the *net.TCPConn's until the
// hand-over, the socket's own after (rawSocket).
func (s *socket) SyscallConn() (syscall.RawConn, error) { return (*rawSocket)(s), nil }

// rawSocket is a socket's syscall.RawConn. Its Read and Write call f until
// it reports done, as a net.Conn's do: when it reports false, they wait
// for the socket to be ready, within the deadline, on a borrowed
// connection (see socket).
type rawSocket socket

func (r *rawSocket) Control(f func(fd uintptr)) error {
	s := (*socket)(r)
	return s.use(func(tc *net.TCPConn) error {
		raw, err := tc.SyscallConn()
		if err != nil {
			return err
		}
		return raw.Control(f)
	}, func(fd int) error {
		f(uintptr(fd))
		return nil
	})
}

func (r *rawSocket) Read(f func(fd uintptr) (done bool)) error {
	s := (*socket)(r)
	return s.call(f, &s.rlock, &s.readDL, &s.readWait, syscall.RawConn.Read)
}

func (r *rawSocket) Write(f func(fd uintptr) (done bool)) error {
	s := (*socket)(r)
	return s.call(f, &s.wlock, &s.writeDL, &s.writeWait, syscall.RawConn.Write)
}

// A rawCall is a RawConn's Read or Write.
type rawCall = func(syscall.RawConn, func(fd uintptr) bool) error

// call is RawConn.Read or Write (on), with the turn to read or write, the
// deadline dl and the borrowed connection of a wait, waitOn. It keeps the
// path of a call that does not wait short and its frame small: a server's
// answers run on goroutines that start with a small stack, and a deeper
// path would make each grow it (copying it, a tenth of a call's CPU, with
// this package's first version). What a wait needs is in await.
func (s *socket) call(f func(fd uintptr) bool, turn *sync.Mutex, dl *atomic.Int64, waitOn **net.TCPConn, on rawCall) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if tc := s.tc.Load(); tc != nil {
		raw, err := tc.SyscallConn()
		if err != nil {
			return err
		}
		return on(raw, f)
	}
	turn.Lock()
	defer turn.Unlock()
	// Checked once the turn is ours: a call queued behind a wait that
	// Close ended fails, as a net.Conn's does, without calling f.
	if s.closing.Load() || s.fd < 0 {
		return net.ErrClosed
	}
	if d := dl.Load(); d != 0 && time.Now().UnixNano() >= d {
		return os.ErrDeadlineExceeded // as a net.Conn's RawConn: f is not called
	}
	if f(uintptr(s.fd)) {
		return nil
	}
	return s.await(f, dl, waitOn, on)
}

// await calls f again, until it reports done, through a connection
// borrowed from the runtime, with the deadline dl: by on, the borrowed
// connection's RawConn.Read or Write. *waitOn is the borrowed connection
// meanwhile, for a deadline set or a Close during the wait. It is called
// once f has reported that it must wait, with s.mu held shared and the
// turn (rlock or wlock) taken.
func (s *socket) await(f func(fd uintptr) bool, dl *atomic.Int64, waitOn **net.TCPConn, on rawCall) error {
	c, err := s.borrow(int(s.fd))
	if err != nil {
		return err
	}
	defer c.Close()
	s.dmu.Lock()
	if s.closing.Load() {
		s.dmu.Unlock()
		return net.ErrClosed
	}
	*waitOn = c
	if d := dl.Load(); d != 0 {
		c.SetDeadline(time.Unix(0, d))
	}
	s.dmu.Unlock()
	defer func() {
		s.dmu.Lock()
		*waitOn = nil
		s.dmu.Unlock()
	}()
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	// The runtime calls f once before it parks: that call would come
	// with no wake in between (wsconn's readableFunc then reports ready).
	// The borrowed connection's registration reports what is ready already.
	first := true
	return on(raw, func(fd uintptr) bool {
		if first {
			first = false
			return false
		}
		return f(fd)
	})
}

// borrow returns a *net.TCPConn on a duplicate of fd, in the runtime's
// netpoller: for a wait, closed after it.
func (s *socket) borrow(fd int) (*net.TCPConn, error) {
	nfd, err := dup(fd)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(nfd), "")
	c, err := net.FileConn(f) // duplicates it again
	f.Close()
	if err != nil {
		return nil, err
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("netpoll: a %T where a TCP connection was", c)
	}
	return tc, nil
}

// handOver takes c from the runtime if it is a Listener's connection.
func handOver(c net.Conn) error {
	if s, ok := c.(*socket); ok {
		return s.handOver()
	}
	return nil
}
