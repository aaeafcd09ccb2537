// Package wsconn is the WebSocket plumbing that every step's server shares,
// so that a step's own code is only its lesson: the OCPP endpoint
// /ocpp/{stationId}, the handshake with the ocpp1.6 subprotocol, a
// connection that many goroutines may send on, and a Server that tracks its
// connections so that Close leaves nothing behind.
//
// A station is a goroutine and a few kilobytes while it is idle (make bench
// PHASE=idle measures the final server: 8.4 KiB of Go heap and stack per
// station, its state included, 4 of them the stack), because a Conn keeps
// nothing it does not need between frames: the handshake's goroutine
// returns and takes net/http's request and buffers with it, the read buffer
// is 320 bytes of the connection's own, the buffers a frame is encoded,
// written or read into are lent by the Server's pools for the length of
// that frame, and the goroutine waits for its socket outside the WebSocket
// reader, where its stack fits in 4 KiB (see waitReadable). Send writes a
// frame straight to the socket (see writeFrame).
//
// A Handle may also hand its connection's reading to an event-driven reader
// (step 11): Detach, then NextFrame over the bytes it reads from NetConn
// when a poller says there are some; Handle returns, and an idle station
// keeps no goroutine and no read buffer (see detach.go).
//
// By default it trusts its stations, as steps 01–08 do. The edge's policy
// (who may connect, which frames are acceptable, how long to wait for a
// station) is step 09's lesson; wsconn offers only the means: Server.Accept
// before the upgrade, and on a Conn ReadFrame, SetReadLimit,
// SetReadDeadline, OnPong, SetWriteTimeout, Ping and CloseWith.
package wsconn

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/ocppkata/kata/harness/ocpp"
)

// Subprotocol is the WebSocket subprotocol of OCPP 1.6-J.
const Subprotocol = "ocpp1.6"

// The close codes a central system sends a station (RFC 6455 §7.4.1), for
// CloseWith; gorilla/websocket's values, so that the code that closes
// needs no other import.
const (
	CloseGoingAway               = websocket.CloseGoingAway               // 1001: the server stops
	CloseProtocolError           = websocket.CloseProtocolError           // 1002: not OCPP-J
	CloseUnsupportedData         = websocket.CloseUnsupportedData         // 1003: a binary frame
	CloseInvalidFramePayloadData = websocket.CloseInvalidFramePayloadData // 1007: text that is not UTF-8
	ClosePolicyViolation         = websocket.ClosePolicyViolation         // 1008: replaced by a newer connection
	CloseMessageTooBig           = websocket.CloseMessageTooBig           // 1009: a frame over the read limit
)

// ErrReadLimit is what a read returns for a frame larger than
// SetReadLimit allows; the connection has been closed with 1009.
var ErrReadLimit = websocket.ErrReadLimit

// Conn is one station's WebSocket connection. Read must be called from one
// goroutine at a time; Send and Close are safe from any number.
type Conn struct {
	// ws is gorilla's connection, which reads until Detach and writes
	// what raw does not. Detach drops it when there is raw: from then on
	// every frame is written to the socket directly, and an idle station
	// keeps neither it nor its reader. Under dmu, or on the reading
	// goroutine, which alone changes it.
	ws  *websocket.Conn
	nc  net.Conn      // ws's: the one the Server accepted
	br  *bufio.Reader // ws reads through it; nil if the handshake kept net/http's
	raw syscall.RawConn
	// readable peeks at raw for waitReadable, and woke is its state: nil
	// if raw is.
	readable func(fd uintptr) bool
	station  string
	tap      Tap     // nil unless the net.Conn is one
	srv      *Server // that accepted it
	onPong   func()  // OnPong's

	// wlock holds the turn to write: one frame at a time, so that frames do
	// not mix. A channel, not a mutex: a goroutine waiting for it is
	// durably blocked, as testing/synctest needs to move its fake clock
	// while the write before waits for its deadline.
	wlock        chan struct{}
	writeTimeout atomic.Int64

	// dmu orders the read deadline's changes: once stopReading has set
	// stopped, no SetReadDeadline may move the deadline it set. It also
	// guards the detached reading's fields below.
	dmu sync.Mutex

	// readDeadline is the last SetReadDeadline's, for Detach to move it
	// to the Server's timer (see deadlines.at), changed under dmu; det is
	// set by Detach (see detach.go), under dmu.
	readDeadline atomic.Int64
	det          *detachedReader
	readLimit    int64 // SetReadLimit's, for NextFrame

	done chan struct{} // closed by close

	// The flags, together: a Conn is one per station.
	// closeSent is set once a close frame went out: Send then fails with
	// websocket.ErrCloseSent, as gorilla's writer does.
	closeSent atomic.Bool
	stopped   atomic.Bool // see dmu
	closed    atomic.Bool // done is closed, or about to be
	woke      bool        // see readable
	ocpp      bool        // the handshake agreed on Subprotocol
}

// A Tap watches the OCPP traffic of one connection, for a view of the
// server from outside its code (make serve's live page). If the net.Conn
// a station's connection runs on implements Tap, FrameRead is called with
// every text frame ReadFrame returns, and MessageSent with every message
// Send wrote, on the goroutine that read or sent it. Both must return at
// once, and must not keep data.
type Tap interface {
	FrameRead(station string, data []byte)
	MessageSent(station string, m ocpp.Message)
}

// Station returns the station identity from the connection's URL.
func (c *Conn) Station() string { return c.station }

// Read returns the next well-formed frame from the station. A malformed
// CALL whose id could be read is answered here with the CALLERROR it
// deserves; other malformed frames are dropped, as OCPP-J says.
func (c *Conn) Read() (ocpp.Message, error) {
	for {
		data, _, err := c.ReadFrame()
		if err != nil {
			return nil, err
		}
		msg, err := ocpp.Decode(data)
		if err == nil {
			return msg, nil
		}
		c.srv.Logger.Warn("malformed frame", "station", c.station, "err", err)
		var fe *ocpp.FrameError
		if errors.As(err, &fe) && fe.ID != "" && fe.Type == ocpp.TypeCall {
			if err := c.Send(ocpp.NewCallError(fe.ID, fe.Code, fe.Reason)); err != nil {
				return nil, err
			}
		}
	}
}

// ReadFrame returns the next data frame from the station as it came: its
// bytes, and whether it was a binary frame rather than text. Nothing is
// checked: not the size beyond SetReadLimit's, not the UTF-8, not the
// JSON. Like Read, it must be called from one goroutine at a time, and
// returns ErrStopped once the Server's StopReading was called. Control
// frames are handled inside it: a ping is answered, a pong runs OnPong's
// function.
func (c *Conn) ReadFrame() (data []byte, binary bool, err error) {
	if c.br == nil && c.isDetached() {
		return nil, false, errDetached
	}
	c.waitReadable() // an idle station waits here, not deep in the reader
	return c.readFrame()
}

// readFrame is ReadFrame once the socket has something to read.
func (c *Conn) readFrame() (data []byte, binary bool, err error) {
	if c.stopped.Load() {
		return nil, false, ErrStopped
	}
	kind, data, err := c.readMessage()
	if c.stopped.Load() {
		return nil, false, ErrStopped // even if a frame came: it was read after the stop
	}
	if err != nil {
		if strings.HasPrefix(err.Error(), "websocket: ") {
			// A close came, or gorilla answered a frame over the read
			// limit or a protocol error with one of its own (gorilla
			// v1.5.3's errors say "websocket: …"): no data may follow.
			c.closeSent.Store(true)
		}
		return nil, false, err
	}
	if c.tap != nil && kind == websocket.TextMessage {
		c.tap.FrameRead(c.station, data)
	}
	return data, kind == websocket.BinaryMessage, nil
}

// readMessage reads the next data message, as gorilla's ReadMessage does,
// into a buffer of exactly its size. ReadMessage reads through io.ReadAll,
// whose first buffer is 512 bytes: for a Heartbeat of 30, that is most of
// what a call allocates, and what sets the pace of the garbage collector.
// The message is read into a buffer lent by the Server's pool and
// copied out: the caller keeps the copy (a decoded message may point into
// it).
func (c *Conn) readMessage() (kind int, data []byte, err error) {
	kind, r, err := c.ws.NextReader()
	if err != nil {
		return kind, nil, err
	}
	buf := c.borrow()
	b := (*buf)[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // room for more
		}
		var n int
		n, err = r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			break
		}
	}
	if err == io.EOF {
		data, err = append([]byte(nil), b...), nil
		if data == nil {
			data = []byte{}
		}
	}
	*buf = b
	c.giveBack(buf)
	return kind, data, err
}

// Subprotocol returns the subprotocol the handshake agreed on: "ocpp1.6",
// or "" if the station did not offer it (the handshake completes anyway:
// what to do then is the server's policy).
func (c *Conn) Subprotocol() string {
	if c.ocpp {
		return Subprotocol
	}
	return ""
}

// SetReadLimit sets the largest frame the station may send, in bytes. A
// larger one is refused as soon as its header announces it, before its
// payload is read: the station gets a close frame with status 1009
// (message too big) and the next read fails. It applies to the frames read
// after it, so call it before the first read, from the reading goroutine.
func (c *Conn) SetReadLimit(limit int64) {
	c.readLimit = limit
	if c.ws != nil {
		c.ws.SetReadLimit(limit)
	}
}

// SetReadDeadline makes a read that has not returned a frame by t fail
// with a timeout, after which the connection can only be closed. Zero
// means no deadline. Call it from the reading goroutine (OnPong's function
// runs there). Once the Server's StopReading was called it has no effect
// and returns ErrStopped.
//
// After Detach, the deadline is a timer's, not the socket's (the caller
// reads the socket): when it passes, Detach's wake is called, and
// NextFrame reports the timeout. The Server has one timer for all its
// detached connections: moving a deadline later, as each frame or pong
// does, only stores it (see deadlines).
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	if c.stopped.Load() {
		return ErrStopped
	}
	c.readDeadline.Store(c.srv.deadlines.at(t))
	if c.det == nil {
		return c.ws.SetReadDeadline(t)
	}
	if c.isClosed() {
		return fmt.Errorf("wsconn: set read deadline: %w", net.ErrClosed)
	}
	c.armDeadline()
	return nil
}

// OnPong sets the function that runs, on the reading goroutine during a
// read, each time the station answers a ping. Call it before the first
// read.
func (c *Conn) OnPong(f func()) {
	c.onPong = f
	if c.ws != nil {
		c.ws.SetPongHandler(c.ponged)
	}
}

// ponged runs OnPong's function for a station's pong.
func (c *Conn) ponged(string) error {
	if c.onPong != nil {
		c.onPong()
	}
	return nil
}

// SetWriteTimeout bounds how long each later Send, Ping and CloseWith waits
// for the station to take its frame; zero, the default, waits as long as
// it takes. A write that times out fails, and so does every write after
// it: the connection is closed.
func (c *Conn) SetWriteTimeout(d time.Duration) { c.writeTimeout.Store(int64(d)) }

// deadline returns the deadline of a write that starts now, or zero.
func (c *Conn) deadline() time.Time {
	d := time.Duration(c.writeTimeout.Load())
	if d <= 0 {
		return time.Time{}
	}
	return time.Now().Add(d)
}

// Send writes one frame to the station. If the write fails, the connection
// can carry nothing more, and is closed: a goroutine blocked in Read
// returns an error.
func (c *Conn) Send(m ocpp.Message) error {
	buf := c.borrow()
	data, err := ocpp.AppendEncode(append((*buf)[:0], frameHeaderRoom[:]...), m)
	if err != nil {
		c.giveBack(buf)
		return err
	}
	frame := textFrame(data)
	c.wlock <- struct{}{} // our turn to write
	err = c.writeFrame(frame, data[len(frameHeaderRoom):])
	<-c.wlock
	*buf = data
	c.giveBack(buf)
	if err != nil {
		return c.sendError(err)
	}
	if c.tap != nil {
		c.tap.MessageSent(c.station, m)
	}
	return nil
}

// sendError wraps an error of Send, in a frame of its own, never inlined,
// so that Send's frame stays small (see writeFrame).
//
//go:noinline
func (c *Conn) sendError(err error) error { return fmt.Errorf("send to %s: %w", c.station, err) }

// writeFrame writes a whole text frame to the connection, and closes the
// connection if the write fails. It holds the turn to write (c.wlock).
//
// Over a socket, Send writes its frames itself rather than through
// gorilla's writer: a message is encoded, framed and written from one
// buffer, in one RawConn.Write that holds the socket's write lock until
// the whole frame is out, so that no other write can come between its
// bytes. It writes what the socket takes at once, which is all of it
// unless the station does not read: only then does it set a write deadline
// and wait. No deadline to move (a runtime timer, under a lock) for a
// write that cannot wait, and a call path shallow enough for step 09's
// answer goroutines, which start with a small stack, not to grow it.
// Elsewhere (the in-memory network) gorilla writes the payload.
func (c *Conn) writeFrame(frame, payload []byte) error {
	if c.closeSent.Load() {
		return websocket.ErrCloseSent // RFC 6455 §5.5.1: no data after a close
	}
	var err error
	if c.raw != nil {
		err = c.writeRaw(frame, time.Time{}, false)
	} else {
		c.ws.SetWriteDeadline(c.deadline())
		err = c.ws.WriteMessage(websocket.TextMessage, payload)
	}
	if err != nil {
		c.close()
	}
	return err
}

// writeControl writes a control frame with gorilla's writer, or once
// Detach dropped it, straight to the socket (writeControlRaw), in turn with
// Send's frames, waiting for its turn until deadline at most. It leaves no
// write deadline behind on the socket: writeRaw counts on finding none.
func (c *Conn) writeControl(kind int, data []byte, deadline time.Time) error {
	if !c.turnBy(deadline) {
		return fmt.Errorf("%w: another write held the connection", os.ErrDeadlineExceeded)
	}
	defer func() { <-c.wlock }()
	c.dmu.Lock()
	ws := c.ws
	c.dmu.Unlock()
	if ws == nil {
		return c.writeControlRaw(kind, data, deadline)
	}
	if kind == websocket.CloseMessage {
		c.closeSent.Store(true)
	}
	err := ws.WriteControl(kind, data, deadline)
	if err == nil && c.raw != nil && !deadline.IsZero() {
		c.nc.SetWriteDeadline(time.Time{})
	}
	return err
}

// writeControlRaw writes a control frame to the socket as gorilla's
// WriteControl would have: nothing after a close frame, nothing once the
// deadline has passed, and within it (zero: no deadline) otherwise.
func (c *Conn) writeControlRaw(kind int, data []byte, deadline time.Time) error {
	if len(data) > maxControlPayload {
		return errors.New("websocket: invalid control frame") // gorilla's
	}
	if c.closeSent.Load() {
		return websocket.ErrCloseSent
	}
	if !deadline.IsZero() && time.Until(deadline) < 0 {
		return fmt.Errorf("%w: writing a control frame", os.ErrDeadlineExceeded)
	}
	if kind == websocket.CloseMessage {
		c.closeSent.Store(true)
	}
	frame := append([]byte{byte(kind) | 0x80, byte(len(data))}, data...) // final, not masked
	return c.writeRaw(frame, deadline, true)
}

// turnBy takes the turn to write, waiting until deadline at most (zero:
// for as long as it takes), and reports whether it did.
func (c *Conn) turnBy(deadline time.Time) bool {
	select {
	case c.wlock <- struct{}{}:
		return true
	default:
	}
	if deadline.IsZero() {
		c.wlock <- struct{}{}
		return true
	}
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case c.wlock <- struct{}{}:
		return true
	case <-t.C:
		return false
	}
}

// pong answers a station's ping, as gorilla's own handler would, but in
// turn with Send's messages: within the write timeout, or a second if there
// is none (gorilla's own bound). A pong that cannot go out in time is
// dropped, as gorilla drops it: the station pings again.
func (c *Conn) pong(data string) error {
	deadline := c.deadline()
	if deadline.IsZero() {
		deadline = time.Now().Add(closeFrameTimeout)
	}
	err := c.writeControl(websocket.PongMessage, []byte(data), deadline)
	var ne net.Error
	if err == nil || errors.Is(err, websocket.ErrCloseSent) || errors.As(err, &ne) && ne.Timeout() {
		return nil
	}
	return err
}

// closeReply answers a station's close frame, as gorilla's own handler
// would, but in turn with Send's messages.
func (c *Conn) closeReply(code int, text string) error {
	msg := websocket.FormatCloseMessage(code, "")
	c.writeControl(websocket.CloseMessage, msg, time.Now().Add(closeFrameTimeout))
	return nil
}

// frameHeaderRoom is the room Send leaves before a message for its frame
// header: the longest a server's frame has (RFC 6455 §5.2: two bytes, and
// eight of length; a server does not mask).
var frameHeaderRoom [10]byte

// textFrame writes the header of a final text frame before the payload in
// data[len(frameHeaderRoom):] and returns the frame.
func textFrame(data []byte) []byte {
	const finText = 0x81
	n := len(data) - len(frameHeaderRoom)
	switch {
	case n < 126:
		data[8], data[9] = finText, byte(n)
		return data[8:]
	case n < 1<<16:
		data[6], data[7] = finText, 126
		binary.BigEndian.PutUint16(data[8:], uint16(n))
		return data[6:]
	default:
		data[0], data[1] = finText, 127
		binary.BigEndian.PutUint64(data[2:], uint64(n))
		return data
	}
}

// borrow returns a buffer lent by the Server's pool, to encode a message
// into or read one into: a frame is encoded or read, and the buffer goes
// back, so that a connection between frames holds none.
func (c *Conn) borrow() *[]byte {
	if b, ok := c.srv.buffers.Get().(*[]byte); ok {
		return b
	}
	return new([]byte)
}

// giveBack returns buf to the pool, unless a large message made it too
// large to keep.
func (c *Conn) giveBack(buf *[]byte) {
	if cap(*buf) <= maxPooledBuffer {
		c.srv.buffers.Put(buf)
	}
}

// maxPooledBuffer is the largest buffer the pool keeps.
const maxPooledBuffer = 16 << 10

// Ping sends a ping frame; the station's pong runs OnPong's function. Like
// Send it waits at most the write timeout, and a failed ping closes the
// connection. It may be called from any goroutine.
func (c *Conn) Ping() error {
	if err := c.writeControl(websocket.PingMessage, nil, c.deadline()); err != nil {
		c.close()
		return fmt.Errorf("ping %s: %w", c.station, err)
	}
	return nil
}

// CloseWith sends the station a close frame with a status code (the
// Close* constants of this package, RFC 6455 §7.4) and a reason, then closes the
// connection. It waits at most the write timeout, and never more than a
// second, for the station to take the close frame.
func (c *Conn) CloseWith(code int, reason string) error {
	deadline := time.Now().Add(closeFrameTimeout)
	if d := c.deadline(); !d.IsZero() && d.Before(deadline) {
		deadline = d
	}
	c.closing() // the connection carries nothing more: say so before the wait
	msg := websocket.FormatCloseMessage(code, reason)
	err := c.writeControl(websocket.CloseMessage, msg, deadline)
	return errors.Join(err, c.close())
}

// Close closes the connection. A goroutine blocked in Read returns an
// error; after Detach, wake is called.
func (c *Conn) Close() error { return c.close() }

// Done returns a channel that is closed once the server closes the
// connection (Close, CloseWith from its start, a Send or Ping that failed,
// the end of Handle). A station that hangs up is seen only by a Read: until
// then its connection looks open.
func (c *Conn) Done() <-chan struct{} { return c.done }

func (c *Conn) closing() {
	if c.closed.CompareAndSwap(false, true) {
		close(c.done)
	}
}

func (c *Conn) close() error {
	c.closing()
	err := c.nc.Close() // as gorilla's Close
	var wake func()
	c.dmu.Lock()
	if c.det != nil {
		wake = c.det.wake
		c.stopDeadline()
	}
	c.dmu.Unlock()
	if wake != nil {
		// Detached: no Handle is left to end the connection's life in the
		// Server (see Server.finish), so its close does.
		c.srv.forget(c)
		wake()
	}
	return err
}

// isClosed reports whether the server has closed the connection (or
// started to: see CloseWith).
func (c *Conn) isClosed() bool { return c.closed.Load() }

// CloseGoingAway tells the station that the server is going away (a close
// frame with status 1001, as a server that shuts down sends) and closes
// the connection.
func (c *Conn) CloseGoingAway() error {
	return c.CloseWith(websocket.CloseGoingAway, "server shutting down")
}

// closeFrameTimeout bounds the wait to send a close frame to a station that
// does not read.
const closeFrameTimeout = time.Second

// stopReading makes Read return ErrStopped from now on, at once if it is
// waiting; the connection stays open for Send. After Detach, NextFrame
// returns ErrStopped, and wake is called.
func (c *Conn) stopReading() {
	c.dmu.Lock()
	c.stopped.Store(true)
	var wake func()
	if c.det == nil {
		c.ws.SetReadDeadline(time.Now()) // a Read waiting for a frame returns
	} else {
		wake = c.det.wake
		c.stopDeadline() // nothing more to time out
	}
	c.dmu.Unlock()
	if wake != nil {
		wake()
	}
}

// ErrStopped is what Read returns once the Server's StopReading was called.
var ErrStopped = errors.New("wsconn: the server stopped reading")

// The limits of a station's handshake. A station sends its whole request at
// once, a few hundred bytes; a client that sends it slowly, or without end,
// or that keeps an idle connection after a refusal, holds a descriptor and
// memory that stations need.
const (
	// HeaderTimeout bounds how long a station may take to send its
	// handshake request, from its first byte to the end of its headers.
	HeaderTimeout = 5 * time.Second
	// MaxHeaderBytes bounds the size of a handshake's headers (net/http
	// allows 4 KiB more before it answers 431).
	MaxHeaderBytes = 16 << 10
	// IdleTimeout bounds how long a connection may sit between two
	// requests, after a handshake that was refused (a 401, say).
	IdleTimeout = 10 * time.Second
)

// readBufferSize is the size of each connection's read buffer: it holds
// for the life of the connection, idle or not. A station's frames are a
// few dozen to a few hundred bytes, and a frame's header at most 14: a
// larger frame is read through it in pieces, or past it, straight into the
// message. (gorilla takes a buffer it is given only if it is larger than
// 256 bytes.)
const readBufferSize = 320

// Server accepts station connections at /ocpp/{stationId} and runs Handle
// for each in its own goroutine.
type Server struct {
	// Handle serves one station. The connection is closed when it
	// returns, unless Handle detached it (Conn.Detach): then it stays
	// open until it is closed.
	Handle func(*Conn)
	// Accept, if set, runs for each station's handshake before the
	// upgrade, with the station's id in r.PathValue("station"). It returns
	// false once it has written its own HTTP answer (401, say): then
	// nothing is upgraded and Handle does not run.
	Accept func(w http.ResponseWriter, r *http.Request) bool
	// Logger receives connects and disconnects; nil discards them.
	Logger *slog.Logger

	initOnce  sync.Once
	deadlines deadlines // of the detached connections
	http      *http.Server
	upgrader  websocket.Upgrader
	// writeBuffers lends the connections their write buffers, one frame
	// at a time, and buffers those a message is encoded or read into;
	// rawWriters, what writes a frame to a socket (see writeRaw).
	writeBuffers, buffers, rawWriters sync.Pool

	mu      sync.Mutex
	closed  bool // no new station is accepted
	conns   map[*Conn]struct{}
	panics  []handlerPanic // from Handle, reported by Close
	handles sync.WaitGroup
}

func (s *Server) init() {
	s.initOnce.Do(func() {
		if s.Logger == nil {
			s.Logger = slog.New(slog.DiscardHandler)
		}
		s.conns = make(map[*Conn]struct{})
		s.deadlines.epoch = time.Now()
		s.upgrader = websocket.Upgrader{
			Subprotocols: []string{Subprotocol},
			// Writes borrow a buffer from the pool for the length of one
			// frame, so that an idle station holds none.
			// (The read buffer is the one hijack gives it: see ownReader.)
			WriteBufferPool: &s.writeBuffers,
			// Stations are not browsers: there is no origin to check.
			CheckOrigin: func(*http.Request) bool { return true },
		}
		mux := http.NewServeMux()
		mux.HandleFunc("GET /ocpp/{station}", s.serveStation)
		s.http = &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: HeaderTimeout,
			MaxHeaderBytes:    MaxHeaderBytes,
			IdleTimeout:       IdleTimeout,
			ErrorLog:          slog.NewLogLogger(s.Logger.Handler(), slog.LevelDebug),
		}
	})
}

// Serve accepts connections on l until Close is called, and then returns nil.
func (s *Server) Serve(l net.Listener) error {
	s.init()
	if err := s.http.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Close stops accepting, closes every station's connection and waits until
// every Handle has returned. Close is idempotent. A detached connection is
// closed and its wake called; its Handle has returned, or Close waits for
// it as for any other.
//
// A Handle that panics ends its station's connection, not the server, as
// net/http does; Close reports each such panic once in its error, with where it
// happened, so that a test which closes its server sees it.
func (s *Server) Close() error {
	s.init()
	s.mu.Lock()
	s.closed = true
	// No station is added from now on: these are all there are. They are
	// closed outside the lock, which closing a detached one takes
	// (forget).
	conns := slices.Collect(maps.Keys(s.conns))
	s.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	// http.Server.Close does not touch hijacked connections: closing them
	// above is what ends their handlers.
	err := s.http.Close()
	s.handles.Wait()
	s.mu.Lock()
	panics := s.panics
	s.panics = nil // each is reported once
	s.mu.Unlock()
	return errors.Join(err, summarizePanics(panics))
}

// StopAccepting stops accepting stations: Serve returns, and a station
// whose handshake is under way is refused. The connections already open
// stay open. It is what a graceful shutdown does first.
func (s *Server) StopAccepting() {
	s.init()
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	// Closes the listeners, not the stations' connections: net/http has
	// handed those over (hijacked) and no longer tracks them.
	s.http.Close()
}

// StopReading makes every connection's Read return ErrStopped, at once for
// a Read that is waiting for a frame: nothing more is read from any
// station. The connections stay open, so answers can still be sent. It also
// stops accepting.
func (s *Server) StopReading() {
	s.StopAccepting()
	s.mu.Lock()
	// A station accepted from now on is refused: these are all there are.
	// They are stopped outside the lock: a detached one's wake runs.
	conns := slices.Collect(maps.Keys(s.conns))
	s.mu.Unlock()
	for _, c := range conns {
		c.stopReading()
	}
}

// A handlerPanic is a panic that ended one station's Handle.
type handlerPanic struct {
	station string
	value   string // what was panicked with
	site    string // where: "pkg.(*T).f (file.go:12)"
}

// summarizePanics returns an error that lists each distinct panic once,
// with the stations it ended, or nil if there were none.
func summarizePanics(panics []handlerPanic) error {
	var errs []error
	seen := make(map[[2]string]int) // value and site → index in errs
	stations := make(map[int][]string)
	for _, p := range panics {
		key := [2]string{p.value, p.site}
		i, ok := seen[key]
		if !ok {
			i = len(errs)
			seen[key] = i
			errs = append(errs, nil)
		}
		stations[i] = append(stations[i], p.station)
	}
	for key, i := range seen {
		ids := stations[i]
		slices.Sort(ids)
		who := "the goroutine serving station " + ids[0]
		if len(ids) > 1 {
			shown := ids[:min(len(ids), 5)]
			who = fmt.Sprintf("%d goroutines serving stations (%s", len(ids), strings.Join(shown, ", "))
			if len(ids) > len(shown) {
				who += ", …"
			}
			who += ")"
		}
		errs[i] = fmt.Errorf("%s panicked: %s, in %s", who, key[0], key[1])
	}
	return errors.Join(errs...)
}

// panicSite returns the frame that panicked in a stack from debug.Stack
// taken in the deferred recover: the first frame after runtime's panic.
func panicSite(stack []byte) string {
	lines := strings.Split(string(stack), "\n")
	for i, line := range lines {
		if !strings.HasPrefix(line, "panic(") {
			continue
		}
		// Skip the runtime's own frames (a nil map write, a closed channel).
		for j := i + 2; j+1 < len(lines); j += 2 {
			fn := lines[j]
			if strings.HasPrefix(fn, "runtime.") {
				continue
			}
			if k := strings.LastIndexByte(fn, '('); k > 0 {
				fn = fn[:k]
			}
			fn = fn[strings.LastIndexByte(fn, '/')+1:]
			file := strings.TrimSpace(lines[j+1])
			if k := strings.LastIndexByte(file, ' '); k > 0 {
				file = file[:k]
			}
			file = file[strings.LastIndexByte(file, '/')+1:]
			return fn + " (" + file + ")"
		}
	}
	return "an unknown place"
}

// Conns returns how many stations are connected now.
func (s *Server) Conns() int {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// MaxStationID is the longest station identity, in characters, as OCPP 1.6's
// security profiles (and OCPP 2.0.1) allow.
const MaxStationID = 48

// CheckStationID returns why id cannot be a station's identity, or nil. An
// identity is 1 to MaxStationID characters of valid UTF-8, each printable
// (no control or formatting character, such as NUL or a right-to-left
// override), without a slash or a backslash: it names the station in the
// store, the logs and the operator API's URLs, and must read the same there.
func CheckStationID(id string) error {
	switch n := utf8.RuneCountInString(id); {
	case n == 0:
		return errors.New("the station identity is empty")
	case n > MaxStationID:
		return fmt.Errorf("the station identity has %d characters, at most %d are allowed", n, MaxStationID)
	case !utf8.ValidString(id):
		return errors.New("the station identity is not valid UTF-8")
	}
	for _, r := range id {
		if !unicode.IsPrint(r) && r != ' ' || r == '/' || r == '\\' {
			return fmt.Errorf("the station identity has the character %U, which is not allowed (printable characters only, no slash or backslash)", r)
		}
	}
	return nil
}

func (s *Server) serveStation(w http.ResponseWriter, r *http.Request) {
	// The mux matches only a non-empty segment. Cloned: the path is a
	// piece of the request's line, which the connection would keep whole
	// for as long as it lives.
	station := strings.Clone(r.PathValue("station"))
	if err := CheckStationID(station); err != nil {
		s.Logger.Warn("station refused: bad identity", "station", strconv.QuoteToASCII(truncate(station, 2*MaxStationID)), "err", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		http.Error(w, "server is shutting down", http.StatusServiceUnavailable)
		return
	}
	s.handles.Add(1)
	s.mu.Unlock()

	if s.Accept != nil && !s.Accept(w, r) {
		s.Logger.Warn("station refused before the upgrade", "station", station)
		s.handles.Done()
		return
	}
	own := &ownReader{ResponseWriter: w}
	ws, err := s.upgrader.Upgrade(own, r, nil)
	if err != nil {
		s.Logger.Warn("handshake failed", "station", station, "err", err)
		s.handles.Done()
		return
	}
	c := &Conn{ws: ws, nc: ws.NetConn(), br: own.br, ocpp: ws.Subprotocol() == Subprotocol, station: station,
		srv: s, done: make(chan struct{}), wlock: make(chan struct{}, 1)}
	c.tap, _ = c.nc.(Tap)
	ws.SetPingHandler(c.pong)
	ws.SetCloseHandler(c.closeReply)
	if f := readableFunc(&c.woke); f != nil && c.br != nil {
		if c.raw = rawConnOf(c.nc); c.raw != nil {
			c.readable = f
		}
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		c.Close()
		s.handles.Done()
		return
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	// The station gets a goroutine of its own and this handler returns, so
	// that net/http's request, its buffers and this goroutine's deep stack
	// are freed: an idle station then costs its connection, a small read
	// buffer and a goroutine parked in a shallow read.
	s.Logger.Info("station connected", "station", station)
	go s.run(c)
}

// run serves one station's connection until Handle returns.
//
// Its frame is under every station's parked read: it is kept small (one
// deferred call, no closure) so that an idle station's stack fits in 4 KiB
// (see waitReadable).
func (s *Server) run(c *Conn) {
	defer s.finish(c)
	s.Handle(c)
}

// finish ends a station's connection once Handle has returned, or
// panicked: it records the panic for Close, forgets the connection and
// closes it. A connection Handle detached stays open, unless Handle
// panicked: its close will forget it.
func (s *Server) finish(c *Conn) {
	defer s.handles.Done()
	v := recover()
	if v != nil {
		p := handlerPanic{station: c.station, value: fmt.Sprint(v), site: panicSite(debug.Stack())}
		s.Logger.Error("handler panicked", "station", c.station, "panic", p.value, "at", p.site)
		s.mu.Lock()
		s.panics = append(s.panics, p)
		s.mu.Unlock()
	}
	if v == nil && c.isDetached() {
		return
	}
	s.mu.Lock()
	_, ok := s.conns[c]
	delete(s.conns, c)
	s.mu.Unlock()
	c.Close()
	if ok {
		s.Logger.Info("station disconnected", "station", c.station)
	}
}

// forget removes a detached connection, once it is closed, and logs so
// once.
func (s *Server) forget(c *Conn) {
	s.mu.Lock()
	_, ok := s.conns[c]
	delete(s.conns, c)
	s.mu.Unlock()
	if ok {
		s.Logger.Info("station disconnected", "station", c.station)
	}
}

// ownReader gives the WebSocket connection a read buffer of its own,
// readBufferSize long, in place of net/http's 4 KiB one, which gorilla
// would otherwise keep for the life of the connection. The Conn keeps it
// too, to see whether it holds a frame (waitReadable).
type ownReader struct {
	http.ResponseWriter
	br *bufio.Reader
}

func (o *ownReader) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(o.ResponseWriter).Hijack()
	if err != nil || brw.Reader.Buffered() > 0 {
		// The station sent data before its handshake's answer: gorilla
		// refuses it, seeing the bytes that net/http's reader holds.
		return conn, brw, err
	}
	o.br = bufio.NewReaderSize(conn, readBufferSize)
	return conn, bufio.NewReadWriter(o.br, brw.Writer), nil
}

// truncate cuts s to at most n bytes, for a log line.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
