package memnet

import (
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/ocppkata/kata/harness/netpoll"
)

// ListenBuffered returns an in-memory listener whose connections buffer
// what is written, as a socket does, instead of handing it over in a
// rendezvous as net.Pipe does: each way holds up to size bytes nobody has
// read yet. A Write returns once all its bytes are in the buffer, and waits
// while it is full: a writer the reader does not keep up with is held, as
// on a socket. Bytes that arrived wait for a read, so there is something
// "there to read" that a poller can report: its connections are *Conn,
// which netpoll's Poller can wait on (netpoll.Readier).
//
// It panics if size is not positive.
func ListenBuffered(size int) *Listener {
	if size <= 0 {
		panic("memnet: ListenBuffered: the buffer size must be positive")
	}
	l := Listen()
	l.size = size
	return l
}

// Conn is one end of a buffered in-memory connection (ListenBuffered). It
// is a net.Conn that behaves as net.Pipe's do (the same errors: io.EOF
// once the peer closed and everything is read, io.ErrClosedPipe after a
// Close, a net.Error whose Timeout is true, wrapping
// os.ErrDeadlineExceeded, once a deadline passed), except that writes are
// buffered. A goroutine waiting in Read or Write waits on a sync.Cond, and
// deadlines are timers: inside a testing/synctest bubble a waiting end is
// durably blocked, and fake time moves.
//
// It also is a netpoll.Readier: TryRead reads without waiting, and
// OnReadable tells a poller when there is something to read.
type Conn struct {
	mu *sync.Mutex // the connection's: both ends and both ways

	in  *stream // what this end reads
	out *stream // what this end writes

	closed  bool     // Close was called on this end
	writing bool     // a Write is under way: writes do not interleave
	rd, wd  deadline // in's readers wait on rd, out's writers on wd
}

var _ netpoll.Readier = (*Conn)(nil)

// stream is one way of a connection: what one end writes and the other
// reads.
type stream struct {
	data []byte // written, not read yet; nil when empty
	size int    // the most data holds

	eof  bool // the writing end closed: its reader reads what is left, then io.EOF
	gone bool // the reading end closed: writes fail

	readable sync.Cond // data, eof or the reader's close; the read deadline
	writable sync.Cond // room, gone, the writer's close, a Write's end; the write deadline

	notify func() // the reading end's OnReadable
}

// newBuffered returns the two ends of a connection buffering size bytes
// each way.
func newBuffered(size int) (client, server *Conn) {
	mu := new(sync.Mutex)
	up, down := newStream(mu, size), newStream(mu, size)
	client = &Conn{mu: mu, in: down, out: up}
	server = &Conn{mu: mu, in: up, out: down}
	client.rd.cond, client.wd.cond = &down.readable, &up.writable
	server.rd.cond, server.wd.cond = &up.readable, &down.writable
	return client, server
}

func newStream(mu *sync.Mutex, size int) *stream {
	s := &stream{size: size}
	s.readable.L, s.writable.L = mu, mu
	return s
}

// take moves what fits of s's data into b. Called with the lock held.
func (s *stream) take(b []byte) int {
	n := copy(b, s.data)
	if s.data = s.data[n:]; len(s.data) == 0 {
		s.data = nil // an idle connection keeps no buffer
	}
	if n > 0 {
		s.writable.Broadcast()
	}
	return n
}

// Read reads what has arrived, waiting until something has, the peer
// closed (io.EOF), this end closed (io.ErrClosedPipe) or the read
// deadline passed.
func (c *Conn) Read(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		switch {
		case c.closed:
			return 0, io.ErrClosedPipe
		case c.rd.expired:
			return 0, opError("read", os.ErrDeadlineExceeded)
		case len(b) == 0:
			return 0, nil
		case len(c.in.data) > 0:
			return c.in.take(b), nil
		case c.in.eof:
			return 0, io.EOF
		}
		c.in.readable.Wait()
	}
}

// Write writes b into the peer's buffer, waiting for room while it is
// full. It returns once all of b is in, or with how much is and the reason:
// io.ErrClosedPipe if either end closed, a timeout if the write deadline
// passed. Concurrent Writes do not interleave.
func (c *Conn) Write(b []byte) (int, error) {
	c.mu.Lock()
	s := c.out
	var (
		n      int
		err    error
		mine   bool // this Write holds c.writing
		unsaid bool // bytes were added that the reader's poller was not told of
	)
	for {
		switch {
		case c.closed, s.gone:
			err = io.ErrClosedPipe
		case c.wd.expired:
			err = opError("write", os.ErrDeadlineExceeded)
		}
		if err != nil || n == len(b) && mine || len(b) == 0 {
			break
		}
		if !mine {
			if c.writing {
				s.writable.Wait()
				continue
			}
			c.writing, mine = true, true
		}
		if room := s.size - len(s.data); room > 0 {
			k := min(room, len(b)-n)
			s.data = append(s.data, b[n:n+k]...)
			n += k
			s.readable.Broadcast()
			unsaid = true
			continue
		}
		if unsaid && s.notify != nil {
			// The buffer is full: the reader must hear of it before this
			// write waits for room, or it may wait for word that never
			// comes. c.writing keeps other writes out meanwhile.
			f := s.notify
			c.mu.Unlock()
			f()
			c.mu.Lock()
			unsaid = false
			continue
		}
		s.writable.Wait()
	}
	if mine {
		c.writing = false
		s.writable.Broadcast() // to writes waiting their turn
	}
	f := s.notify
	c.mu.Unlock()
	if unsaid && f != nil {
		f()
	}
	return n, err
}

// Close closes this end: its Reads and Writes, waiting or to come, fail
// with io.ErrClosedPipe, as do the peer's Writes; the peer reads what this
// end wrote, then io.EOF. Unread bytes that came to this end are dropped.
// Closing again does nothing and returns nil, as net.Pipe's does.
func (c *Conn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.rd.stop()
	c.wd.stop()
	c.in.gone, c.in.data = true, nil
	c.out.eof = true
	for _, s := range []*stream{c.in, c.out} {
		s.readable.Broadcast()
		s.writable.Broadcast()
	}
	here, peer := c.in.notify, c.out.notify
	c.mu.Unlock()
	if here != nil {
		here() // TryRead says closed
	}
	if peer != nil {
		peer() // the peer reads the rest, then io.EOF
	}
	return nil
}

// TryRead reads what has arrived without waiting: n > 0 bytes; or 0 and
// netpoll.ErrWouldBlock if nothing has; or io.EOF once the peer closed and
// everything is read; or net.ErrClosed once this end is closed. Deadlines
// do not apply to it. With an empty b it returns 0 and nil, unless closed.
func (c *Conn) TryRead(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closed:
		return 0, net.ErrClosed
	case len(b) == 0:
		return 0, nil
	case len(c.in.data) > 0:
		return c.in.take(b), nil
	case c.in.eof:
		return 0, io.EOF
	}
	return 0, netpoll.ErrWouldBlock
}

// OnReadable sets f, which is called each time bytes or io.EOF arrive at
// this end, or it closes; at once, too, before OnReadable returns, if
// there is something to read (or io.EOF) already. f is called on the
// goroutine that wrote or closed, with no lock held: it must not block.
// A poller sets it, once (netpoll.Poller.Add).
func (c *Conn) OnReadable(f func()) {
	c.mu.Lock()
	c.in.notify = f
	now := len(c.in.data) > 0 || c.in.eof || c.closed
	c.mu.Unlock()
	if now && f != nil {
		f()
	}
}

// LocalAddr returns a placeholder address.
func (c *Conn) LocalAddr() net.Addr { return addr{} }

// RemoteAddr returns a placeholder address.
func (c *Conn) RemoteAddr() net.Addr { return addr{} }

// SetDeadline sets both the read and the write deadline.
func (c *Conn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return io.ErrClosedPipe
	}
	c.rd.set(c.mu, t)
	c.wd.set(c.mu, t)
	return nil
}

// SetReadDeadline sets the time after which Read fails with a timeout (a
// zero t: never). A Read waiting then returns at once.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return io.ErrClosedPipe
	}
	c.rd.set(c.mu, t)
	return nil
}

// SetWriteDeadline sets the time after which Write fails with a timeout
// (a zero t: never). A Write waiting for room then returns at once, with
// what it wrote.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return io.ErrClosedPipe
	}
	c.wd.set(c.mu, t)
	return nil
}

// deadline is a read or write deadline: a timer that, when it fires, marks
// it expired and wakes those who wait on cond. No goroutine waits for it.
type deadline struct {
	cond    *sync.Cond
	timer   *time.Timer
	expired bool
}

// set moves the deadline to t. Called with mu, cond's lock, held.
func (d *deadline) set(mu *sync.Mutex, t time.Time) {
	d.stop()
	d.expired = false
	if t.IsZero() {
		return
	}
	wait := time.Until(t)
	if wait <= 0 {
		d.expired = true
		d.cond.Broadcast()
		return
	}
	var timer *time.Timer
	timer = time.AfterFunc(wait, func() {
		mu.Lock()
		defer mu.Unlock()
		if d.timer == timer { // not moved or stopped meanwhile
			d.timer, d.expired = nil, true
			d.cond.Broadcast()
		}
	})
	d.timer = timer
}

// stop cancels the timer, if any.
func (d *deadline) stop() {
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
}

// opError is a Read's or Write's error, as net.Pipe's.
func opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "memnet", Addr: addr{}, Source: addr{}, Err: err}
}
