package wsconn

import (
	"net"
	"syscall"
	"time"
)

// A PassThrough net.Conn wraps another and reads nothing ahead of its
// caller. PassThrough returns the connection beneath, or nil while the
// wrapper still holds bytes read from it that its own Read has not yet
// returned. Through such wrappers a Conn reaches the socket, to wait on it
// for a frame without going through the reading path (see waitReadable),
// and to write its messages to it (see writeFrame): a wrapper must have
// nothing left to do with either once it passes through.
type PassThrough interface {
	PassThrough() net.Conn
}

// rawConnOf returns the socket beneath c and its wrappers, or nil if some
// wrapper may read ahead, or the connection has no socket (an in-memory
// network's).
func rawConnOf(c net.Conn) syscall.RawConn {
	for {
		if p, ok := c.(PassThrough); ok {
			if c = p.PassThrough(); c == nil {
				return nil
			}
			continue
		}
		sc, ok := c.(syscall.Conn)
		if !ok {
			return nil
		}
		raw, err := sc.SyscallConn()
		if err != nil {
			return nil
		}
		return raw
	}
}

// waitReadable returns once the station's socket has something to read,
// or its read deadline passed, or it was closed: then the read that
// follows says so. It waits only if the read buffer is empty and the
// socket can be waited on.
//
// Why not simply read: a goroutine keeps the stack it parks with, and
// parked deep inside the WebSocket reader (gorilla, bufio, the wrappers of
// net.Conn, the poller: some 2.2 KiB of frames under the step's own) it
// keeps 8 KiB, as the runtime halves a stack only while less than a
// quarter of it is in use. Parked here, 4 KiB do: for 10,000 idle
// stations, 40 MiB less.
//
// A ping or a pong that comes between two messages is handled here too,
// when the buffer holds all of it: inside gorilla's reader, a goroutine
// that has read one waits for the next message there, deep again.
func (c *Conn) waitReadable() {
	for c.raw != nil {
		if c.br.Buffered() == 0 {
			c.woke = false
			if c.raw.Read(c.readable) != nil {
				return // an error is the next read's to report
			}
			// Read what came (the read gorilla would make): a ping is
			// handled here only once it is in the buffer.
			if _, err := c.br.Peek(1); err != nil {
				return
			}
		}
		if !c.control() {
			return
		}
	}
}

// control handles the ping or pong at the head of the read buffer, as
// gorilla would (its ping and pong handlers, which are Conn.pong and
// OnPong's), and reports whether there was one, whole, to handle. Anything
// else (a message, a close, a frame not all read yet, a frame that breaks
// the rules) is left to gorilla.
func (c *Conn) control() bool {
	const (
		fin, rsv     = 0x80, 0x70
		opPing       = 0x9
		opPong       = 0xA
		masked       = 0x80
		maxPayload   = 125 // RFC 6455 §5.5
		headerAndKey = 2 + 4
	)
	n := c.br.Buffered()
	if n < headerAndKey {
		return false
	}
	h, _ := c.br.Peek(2)
	op, size := h[0]&0x0f, int(h[1]&0x7f)
	if h[0]&fin == 0 || h[0]&rsv != 0 || op != opPing && op != opPong || h[1]&masked == 0 || size > maxPayload || n < headerAndKey+size {
		return false
	}
	frame, _ := c.br.Peek(headerAndKey + size)
	key, payload := frame[2:6], make([]byte, size)
	for i := range payload {
		payload[i] = frame[headerAndKey+i] ^ key[i%4]
	}
	c.br.Discard(headerAndKey + size)
	handle := c.ws.PongHandler()
	if op == opPing {
		handle = c.ws.PingHandler()
	}
	handle(string(payload)) // an error of its write is the next read's or write's to meet
	return true
}

// A rawWriter writes a frame to the socket beneath a Conn (see
// writeFrame). The Server's pool lends one for the length of a write, as it
// lends the buffers: a connection between two writes holds none.
type rawWriter struct {
	c     *Conn  // whose frame it writes
	p     []byte // to write
	n     int    // written
	err   error
	armed bool // a deadline was set for this write
	// The write's deadline: until if fixed, else the write timeout's.
	until time.Time
	fixed bool
	f     func(fd uintptr) bool
}

// deadline returns the deadline of the write, when it has to wait.
func (w *rawWriter) deadline() time.Time {
	if w.fixed {
		return w.until
	}
	return w.c.deadline()
}

// writeRaw writes frame to the socket in one RawConn.Write: what the
// socket takes at once, and if that is not all, the rest as the station
// reads, within the write timeout (or until, if fixed; zero: no deadline).
// It leaves no deadline behind.
func (c *Conn) writeRaw(frame []byte, until time.Time, fixed bool) error {
	w := c.srv.rawWriter()
	w.c, w.p, w.n, w.err, w.armed, w.until, w.fixed = c, frame, 0, nil, false, until, fixed
	err := c.raw.Write(w.f)
	if err == nil {
		err = w.err
	}
	if w.armed && err == nil {
		c.nc.SetWriteDeadline(time.Time{})
	}
	w.c, w.p, w.err = nil, nil, nil
	c.srv.rawWriters.Put(w)
	return err
}

// rawWriter returns a rawWriter lent by the pool, or a new one.
func (s *Server) rawWriter() *rawWriter {
	if w, ok := s.rawWriters.Get().(*rawWriter); ok {
		return w
	}
	return newRawWriter()
}
