package wsconn

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// The detached reading of a connection, for an event-driven reader (step
// 11): a poller says when the socket has bytes to read, the caller reads
// them without blocking into the station's buffer, and NextFrame takes the
// whole frames off its front. Between two frames the connection has no
// goroutine and no read buffer: only the caller's bytes of a frame not
// whole yet.

// NetConn returns the connection the Server accepted, with its wrappers
// (PassThrough ones included): the one to register with a poller. Read
// from it only after Detach.
func (c *Conn) NetConn() net.Conn { return c.nc }

// A detachedReader is what a connection keeps once Detach was called.
type detachedReader struct {
	wake func()
	// The read deadline's place in the Server's queue (see deadlines).
	due   atomic.Int64
	index int

	// NextFrame's state, touched only by the reading goroutine.
	err  error      // the first error of a read: every later read's
	frag *fragments // a message whose first fragment came, its last not yet
}

// fragments is a fragmented message, while it is read: rare enough to
// have a place of its own, which an idle connection does not keep.
type fragments struct {
	data   []byte // its payload so far
	op     byte   // its opcode (text or binary)
	length int64  // its length so far, for the read limit
}

// errDetached is what Read and ReadFrame return after Detach.
var errDetached = errors.New("wsconn: the connection's reading was detached: use NextFrame")

// errNotDetached is what NextFrame returns before Detach.
var errNotDetached = errors.New("wsconn: NextFrame before Detach: use ReadFrame")

// Detach hands the reading of c to the caller, for an event-driven reader.
// Call it from the goroutine that runs Handle, before any Read or
// ReadFrame, or after Read and ReadFrame calls that returned a message
// (each took a whole one off the connection; after an error, the
// connection is done: close it). From then on:
//
//   - Read and ReadFrame return an error: the caller reads NetConn and
//     gives NextFrame what it read.
//   - Handle may return: c stays open (the Server counts it in Conns,
//     StopReading and Close reach it) until c.Close, CloseWith or
//     CloseGoingAway, a write that fails, or the Server's Close. Whoever
//     closes it, it is forgotten by the Server and its "station
//     disconnected" logged then. A Handle that panics closes it, as ever.
//   - Writes (Send, Ping, CloseWith) are as before.
//
// It returns the bytes already read from the socket past the handshake
// (those a ReadFrame before it read ahead into the connection's read
// buffer; none if there was none: the handshake leaves nothing behind, as
// a station that sends a frame before its answer is refused). They come
// before anything read from NetConn afterwards: call NextFrame on them
// first. The read buffer itself is dropped.
//
// wake is called, on any goroutine and possibly before Detach returns,
// when the caller must call NextFrame although nothing new was read: the
// read deadline passed (see SetReadDeadline), StopReading was called, or
// the connection was closed by the server's side (by anyone: Server.Close,
// c.Close, a failed Send). wake must not block. A wake may come with
// nothing to report (a deadline moved at the moment it passed): NextFrame
// then returns no frame and no error.
//
// Detach panics if called twice or with a nil wake.
func (c *Conn) Detach(wake func()) (early []byte) {
	if wake == nil {
		panic("wsconn: Detach with a nil wake")
	}
	c.dmu.Lock()
	if c.det != nil {
		c.dmu.Unlock()
		panic("wsconn: Detach called twice")
	}
	c.det = &detachedReader{wake: wake, index: -1}
	// The caller reads the socket now, and a poller's read is refused once
	// the socket's deadline has passed: the deadline moves to a timer.
	c.nc.SetReadDeadline(time.Time{})
	if c.raw != nil {
		// Every frame is written to the socket directly from now on
		// (writeControl), and read by the caller: gorilla's connection,
		// its reader and its handlers have nothing left to do.
		c.ws = nil
	}
	stopped, closed := c.stopped.Load(), c.isClosed()
	if !stopped && !closed {
		c.armDeadline()
	}
	c.dmu.Unlock()

	if c.br != nil {
		if n := c.br.Buffered(); n > 0 {
			p, _ := c.br.Peek(n)
			early = bytes.Clone(p)
		}
		// gorilla keeps a pointer to the reader: emptied, it holds no
		// buffer and no connection. Nothing reads through it any more.
		*c.br = bufio.Reader{}
		c.br = nil
	}
	c.readable = nil

	if closed {
		// A close that came before wake was set did not forget c.
		c.srv.forget(c)
	}
	if stopped || closed {
		wake()
	}
	return early
}

// isDetached reports whether Detach was called.
func (c *Conn) isDetached() bool {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	return c.det != nil
}

// armDeadline makes the Server's timer wake the reader of a detached
// connection once c.readDeadline passes, or forget it if it is zero.
// c.dmu is held.
func (c *Conn) armDeadline() {
	if d := c.readDeadline.Load(); d != 0 {
		c.srv.deadlines.schedule(c, d)
	} else {
		c.stopDeadline()
	}
}

// stopDeadline makes the Server's timer forget c: nothing more to time
// out. c.dmu is held.
func (c *Conn) stopDeadline() { c.srv.deadlines.remove(c) }

// deadlinePassed runs on the Server's timer, which found c's deadline
// passed: it wakes the reader, unless the deadline moved meanwhile (then
// the timer must look at c again).
func (c *Conn) deadlinePassed() {
	c.dmu.Lock()
	wake, due := c.det.wake, c.deadlineDue()
	if !due && !c.stopped.Load() && !c.isClosed() {
		c.armDeadline()
	}
	c.dmu.Unlock()
	if due {
		wake()
	}
}

// deadlineDue reports whether the read deadline has passed.
func (c *Conn) deadlineDue() bool {
	d := c.readDeadline.Load()
	return d != 0 && c.srv.deadlines.now() >= d
}

// NextFrame returns the first data frame whole in buf (the bytes read
// from the station so far, oldest first, not yet consumed) and rest, the
// bytes after it; data is nil if no data frame is whole in buf yet: keep
// rest, read more, append, call again. It is for a connection detached
// (Detach), and like ReadFrame must be called by one goroutine at a time.
//
// It takes frames off buf as ReadFrame takes them off the socket, with the
// same effects, as soon as each is whole:
//
//   - A control frame is handled and consumed: a ping answered with a
//     pong, a pong runs OnPong's function (on this goroutine), a close is
//     answered and returned as the *websocket.CloseError ReadFrame gives.
//   - The fragments of a message are consumed as they come, and kept by
//     the Conn until the last one: then the message is returned whole. So
//     rest may be shorter than buf with data nil.
//   - The Tap's FrameRead sees each text message returned.
//
// Its errors are ReadFrame's: ErrStopped once StopReading was called
// (even with a frame in buf); then, when buf holds no whole data frame
// (when ReadFrame would wait for the socket), an error wrapping
// net.ErrClosed once the server's side closed the connection, and a
// net.Error whose Timeout is true once the read deadline (SetReadDeadline)
// has passed; ErrReadLimit for a frame over SetReadLimit, seen from its
// header (the station is sent a close with 1009); for a frame that breaks
// RFC 6455 (not masked, RSV bits, an unknown opcode, a control frame
// longer than 125 bytes or fragmented, a continuation out of place, a close
// code not allowed), an error whose text starts "websocket: ", as gorilla's,
// and the station is sent a close with 1002. After an error other than
// ErrStopped, every call returns it again, and no data may be sent (Send
// returns websocket.ErrCloseSent) if the error says "websocket: ".
//
// The data returned is a copy: it does not alias buf, which NextFrame never
// modifies. rest is a slice of buf.
func (c *Conn) NextFrame(buf []byte) (data []byte, binary bool, rest []byte, err error) {
	d := c.det // set by Detach, on this goroutine or before the reader was handed this connection
	if d == nil {
		return nil, false, buf, errNotDetached
	}
	if c.stopped.Load() {
		return nil, false, buf, ErrStopped
	}
	if d.err != nil {
		return nil, false, buf, d.err
	}
	rest = buf
	var op byte
	for data == nil {
		h, herr := c.frameHeader(rest)
		if herr != nil {
			return nil, false, rest, c.readFailed(herr)
		}
		if h.n == 0 || int64(len(rest)-h.n) < h.size {
			return nil, false, rest, c.notWhole()
		}
		payload := rest[h.n : h.n+int(h.size)]
		rest = rest[h.n+int(h.size):]
		switch h.op {
		case websocket.TextMessage, websocket.BinaryMessage:
			if h.fin {
				data, op = unmask(make([]byte, 0, len(payload)), payload, h.key), h.op
			} else {
				d.frag = &fragments{data: unmask(make([]byte, 0, len(payload)), payload, h.key), op: h.op, length: h.size}
			}
		case opContinuation:
			d.frag.length += h.size
			d.frag.data = unmask(d.frag.data, payload, h.key)
			if h.fin {
				data, op = d.frag.data, d.frag.op
				d.frag = nil
			}
		default:
			if cerr := c.controlFrame(h.op, unmask(nil, payload, h.key)); cerr != nil {
				return nil, false, rest, c.readFailed(cerr)
			}
		}
	}
	if c.stopped.Load() {
		return nil, false, rest, ErrStopped // as readFrame: the frame came after the stop
	}
	if c.tap != nil && op == websocket.TextMessage {
		c.tap.FrameRead(c.station, data)
	}
	return data, op == websocket.BinaryMessage, rest, nil
}

// opContinuation is the opcode of a message's fragments after its first
// (RFC 6455 §5.2; gorilla does not export it).
const opContinuation = 0

// maxControlPayload is the longest a control frame's payload may be (RFC
// 6455 §5.5).
const maxControlPayload = 125

// A frameHeader is a frame's header, whole.
type frameHeader struct {
	op   byte
	fin  bool
	size int64   // of the payload
	key  [4]byte // its mask
	n    int     // the header's length; 0 if it is not whole yet
}

// A protocolError is a frame that breaks RFC 6455: what gorilla says of it
// after "websocket: ".
type protocolError string

func (e protocolError) Error() string { return "websocket: " + string(e) }

// errTooBig is a data frame that takes its message over the read limit.
var errTooBig = errors.New("over the read limit")

// frameHeader returns the header at the front of b, checked as gorilla's
// advanceFrame checks it and in the same order: the problems of its first
// two bytes as soon as they are there, the read limit once the whole
// header is. It changes nothing: the frame is taken only once it is whole.
func (c *Conn) frameHeader(b []byte) (frameHeader, error) {
	const (
		finBit, rsv1, rsv2, rsv3 = 0x80, 0x40, 0x20, 0x10
		maskBit                  = 0x80
	)
	var h frameHeader
	if len(b) < 2 {
		return h, nil
	}
	h.op, h.fin = b[0]&0x0f, b[0]&finBit != 0
	size := int64(b[1] & 0x7f)
	var problems []string
	for _, r := range []struct {
		bit  byte
		name string
	}{{rsv1, "RSV1"}, {rsv2, "RSV2"}, {rsv3, "RSV3"}} {
		if b[0]&r.bit != 0 {
			problems = append(problems, r.name+" set")
		}
	}
	switch h.op {
	case websocket.CloseMessage, websocket.PingMessage, websocket.PongMessage:
		if size > maxControlPayload {
			problems = append(problems, "len > 125 for control")
		}
		if !h.fin {
			problems = append(problems, "FIN not set on control")
		}
	case websocket.TextMessage, websocket.BinaryMessage:
		if c.det.frag != nil {
			problems = append(problems, "data before FIN")
		}
	case opContinuation:
		if c.det.frag == nil {
			problems = append(problems, "continuation after FIN")
		}
	default:
		problems = append(problems, "bad opcode "+strconv.Itoa(int(h.op)))
	}
	if b[1]&maskBit == 0 { // a client masks every frame (RFC 6455 §5.3)
		problems = append(problems, "bad MASK")
	}
	if problems != nil {
		return h, protocolError(strings.Join(problems, ", "))
	}

	n := 2
	switch size {
	case 126:
		if len(b) < n+2 {
			return h, nil
		}
		size = int64(binary.BigEndian.Uint16(b[n:]))
		n += 2
	case 127:
		if len(b) < n+8 {
			return h, nil
		}
		size = int64(binary.BigEndian.Uint64(b[n:]))
		if size < 0 {
			return h, ErrReadLimit // as gorilla: no close frame
		}
		n += 8
	}
	if len(b) < n+4 {
		return h, nil
	}
	copy(h.key[:], b[n:])
	n += 4

	if h.op == websocket.TextMessage || h.op == websocket.BinaryMessage || h.op == opContinuation {
		length := size
		if h.op == opContinuation {
			length += c.det.frag.length
		}
		if length < 0 {
			return h, ErrReadLimit
		}
		if c.readLimit > 0 && length > c.readLimit {
			return h, errTooBig
		}
	}
	h.size, h.n = size, n
	return h, nil
}

// unmask appends payload unmasked with key to dst.
func unmask(dst, payload []byte, key [4]byte) []byte {
	n := len(dst)
	dst = append(dst, payload...)
	for i := range payload {
		dst[n+i] ^= key[i&3]
	}
	return dst
}

// controlFrame handles a control frame's payload as gorilla does, with
// the handlers the Server gave it: Conn.pong, OnPong's, Conn.closeReply.
func (c *Conn) controlFrame(op byte, payload []byte) error {
	switch op {
	case websocket.PingMessage:
		return c.pong(string(payload))
	case websocket.PongMessage:
		return c.ponged(string(payload))
	}
	code, text := websocket.CloseNoStatusReceived, ""
	if len(payload) >= 2 {
		code = int(binary.BigEndian.Uint16(payload))
		if !validReceivedCloseCode(code) {
			return protocolError("bad close code " + strconv.Itoa(code))
		}
		text = string(payload[2:])
		if !utf8.ValidString(text) {
			return protocolError("invalid utf8 payload in close frame")
		}
	}
	if err := c.closeReply(code, text); err != nil {
		return err
	}
	return &websocket.CloseError{Code: code, Text: text}
}

// validReceivedCloseCode reports whether a station may close with code
// (gorilla's isValidReceivedCloseCode: RFC 6455 §7.4 and IANA's registry).
func validReceivedCloseCode(code int) bool {
	switch code {
	case websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseProtocolError,
		websocket.CloseUnsupportedData, websocket.CloseInvalidFramePayloadData,
		websocket.ClosePolicyViolation, websocket.CloseMessageTooBig, websocket.CloseMandatoryExtension,
		websocket.CloseInternalServerErr, websocket.CloseServiceRestart, websocket.CloseTryAgainLater:
		return true
	}
	return code >= 3000 && code <= 4999
}

// readFailed does what gorilla does for a read's error (a close frame to
// the station for a protocol error or a frame over the read limit) and
// what readFrame does after it, keeps the error for every later read, and
// returns it.
func (c *Conn) readFailed(err error) error {
	var pe protocolError
	switch {
	case errors.As(err, &pe):
		msg := websocket.FormatCloseMessage(websocket.CloseProtocolError, string(pe))
		if len(msg) > maxControlPayload {
			msg = msg[:maxControlPayload]
		}
		c.writeControl(websocket.CloseMessage, msg, time.Now().Add(closeFrameTimeout))
		err = errors.New(pe.Error()) // gorilla's is an errors.New too
	case err == errTooBig:
		c.writeControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseMessageTooBig, ""), time.Now().Add(closeFrameTimeout))
		err = ErrReadLimit
	}
	if strings.HasPrefix(err.Error(), "websocket: ") {
		c.closeSent.Store(true) // as readFrame: no data may follow
	}
	c.det.err = err
	return err
}

// notWhole returns the error of a read that finds no whole frame in the
// bytes read so far, where ReadFrame would wait for the socket: the
// connection is closed, or its read deadline has passed. Or nil: wait.
func (c *Conn) notWhole() error {
	if !c.isClosed() && !c.deadlineDue() {
		return nil // the common case, in a small frame: see readEnded
	}
	return c.readEnded()
}

// readEnded is notWhole's error, and the read's from then on. Apart from
// notWhole, whose frame is on the path of every read a poller's reader
// makes: a reader's goroutine starts with a small stack, and a frame that
// builds an error on that path would make each grow it.
//
//go:noinline
func (c *Conn) readEnded() error {
	err := os.ErrDeadlineExceeded
	if c.isClosed() {
		err = net.ErrClosed
	}
	local := c.nc.LocalAddr()
	err = &net.OpError{Op: "read", Net: local.Network(), Source: local, Addr: c.nc.RemoteAddr(), Err: err}
	c.det.err = err
	return err
}
