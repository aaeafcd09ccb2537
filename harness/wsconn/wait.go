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
// for a frame without going through the reading path (see waitReadable).
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
func (c *Conn) waitReadable() {
	if c.raw == nil || c.br.Buffered() > 0 {
		return
	}
	c.woke = false
	c.raw.Read(c.readable) // an error is the next read's to report
}

// A rawWriter writes a frame to the socket beneath a Conn (see
// writeFrame).
type rawWriter struct {
	p        []byte // to write
	n        int    // written
	err      error
	deadline func() time.Time // the Conn's, for a write that has to wait
	nc       net.Conn         // to set the deadline on
	armed    bool             // a deadline was set for this write
	f        func(fd uintptr) bool
}

// writeRaw writes frame to the socket in one RawConn.Write: what the
// socket takes at once, and if that is not all, the rest as the station
// reads, within the write timeout. It leaves no deadline behind.
func (c *Conn) writeRaw(frame []byte) error {
	w := c.rawWriter
	w.p, w.n, w.err, w.armed = frame, 0, nil, false
	err := c.raw.Write(w.f)
	if err == nil {
		err = w.err
	}
	if w.armed && err == nil {
		w.nc.SetWriteDeadline(time.Time{})
	}
	w.p, w.err = nil, nil
	return err
}
