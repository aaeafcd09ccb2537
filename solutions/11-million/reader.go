package million

import (
	"bytes"
	"errors"
	"slices"

	"github.com/ocppkata/kata/harness/netpoll"
	"github.com/ocppkata/kata/harness/wsconn"
)

// The reader, event-driven. Up to step 10 every station had a goroutine
// parked in conn.Read, waiting for its next frame: a stack, a read buffer
// and the goroutine's state, for each of ten thousand stations that say
// something once a minute. Here a station's connection, once its handshake
// is done, is handed to a poller (harness/netpoll: epoll, kqueue), which
// watches every socket at once from one goroutine (poll, the producer).
// When a socket has something to read, the poller hands it out, and a
// goroutine reads what is there without waiting for more (readReady, the
// consumer), handles every whole frame in order, keeps the start of a frame
// that has not all arrived, and gives the connection back to the poller.
// An idle station costs its socket and its state: no goroutine, no buffer.

// readSize is how many bytes a reader reads at a time: a buffer lent for
// the length of one readable event.
const readSize = 4 << 10

// A station is a connection the poller watches, and what its reader keeps
// from one readable event to the next.
type station struct {
	l    *link
	pc   *netpoll.Conn
	k    *keepAlive
	turn chan struct{} // a token while one of its calls is with the workers
	// partial is the start of a frame that has not all arrived: the bytes
	// read and not yet handled. nil when there are none, so that an idle
	// station keeps no buffer.
	partial []byte
}

// startPolling creates the poller and starts the goroutine that waits on
// it.
func (s *Server) startPolling() {
	s.poller = netpoll.New()
	s.polling.Go(s.poll)
}

// watch hands conn to the poller, and reports false if the poller cannot
// watch it (a connection with no socket of its own: one over TLS, an
// in-memory pipe). It runs in the connection's goroutine, which returns
// once watch has: from then on, the station has a goroutine only while it
// has something to say.
func (s *Server) watch(conn *wsconn.Conn) bool {
	if s.poller == nil {
		return false
	}
	st := &station{turn: make(chan struct{}, 1)}
	// Added, the connection is ours until we give it to the poller
	// (Rearm): nobody else reads it meanwhile.
	pc, err := s.poller.Add(conn.NetConn(), st)
	if err != nil {
		return false
	}
	st.pc = pc
	// The bytes that came right after the handshake are the first to
	// handle. The poller wakes the station's reader when it must look
	// although nothing came: the read deadline passed (a dead peer), or
	// the server stops reading.
	st.partial = conn.Detach(pc.Wake)
	st.k = s.keepAlive(conn)
	l, ok := s.begin(conn)
	if !ok {
		st.k.stop()
		pc.Close()
		conn.Close()
		return true
	}
	st.l = l
	s.readReady(pc)
	return true
}

// poll is the producer: it waits on the poller and starts a reader for
// each station it hands out. It never reads, and never waits for anything
// but the poller: one station that is slow to handle holds its own reader,
// not the others'. It returns once the poller is closed.
func (s *Server) poll() {
	ready := make([]*netpoll.Conn, 128)
	for {
		n, err := s.poller.Wait(ready)
		if err != nil {
			return // closed by stopPolling
		}
		for _, pc := range ready[:n] {
			s.polling.Go(func() { s.readReady(pc) })
		}
	}
}

// readReady is the consumer: it reads the station the poller handed out,
// and handles each whole message it finds, in order, until the socket has
// nothing more to read; then it gives the connection back to the poller.
// It never waits for the station: one that sent half a frame and went
// quiet holds no goroutine. It may wait for the server (a worker, the
// station's turn, room in a full queue: handleMessage); meanwhile the
// connection is not given back, so nobody else reads it, its messages stay
// in order, and TCP pushes back.
func (s *Server) readReady(pc *netpoll.Conn) {
	st := pc.Value().(*station)
	for {
		frames, drained, err := s.readSome(st)
		for _, f := range frames {
			msg, ferr := s.frameMessage(st.l, f.data, f.binary)
			if ferr == nil && msg != nil && !s.handleMessage(st.l, st.turn, msg) {
				ferr = errGone
			}
			if ferr != nil {
				err = ferr
				break
			}
		}
		if err != nil {
			s.stopWatching(st, err)
			return
		}
		if drained {
			break
		}
	}
	// Only now: given back sooner, the connection could be handed to a
	// second reader while this one still handles its frames.
	if err := pc.Rearm(); err != nil {
		s.stopWatching(st, err)
	}
}

// A frame is a data frame read whole from a station.
type frame struct {
	data   []byte
	binary bool
}

// readSome reads what the station's socket holds, a buffer's worth at
// most, after the start of a frame kept from the last read (st.partial),
// and returns the frames now whole, in order; it keeps what follows them in
// st.partial. drained reports that the socket had nothing more. An error
// ends the station, once the frames before it are handled. Called when
// nothing came (a wake), it still asks NextFrame, which reports the read
// deadline that passed or the server's stop.
//
// The buffer is lent for the read alone, and back before any frame is
// handled: a reader that waits for the server holds its frames, not a
// buffer (ten thousand stations that boot at once wait for a few workers).
func (s *Server) readSome(st *station) (frames []frame, drained bool, err error) {
	buf := s.readBuffers.Get().(*[]byte)
	defer s.readBuffers.Put(buf)
	in := append((*buf)[:0], st.partial...)
	if len(in) == cap(in) {
		in = slices.Grow(in, readSize) // a frame longer than the buffer
	}
	room := cap(in) - len(in)
	n, err := st.pc.Read(in[len(in):cap(in)])
	in = in[:len(in)+n]
	if drained = errors.Is(err, netpoll.ErrWouldBlock); drained {
		err = nil
	}
	// A read that left room took all there was, most likely: taking it for
	// drained spares a read that would say so. If more came meanwhile, the
	// poller, level-triggered, hands the connection out again at once.
	drained = drained || err == nil && n < room
	for err == nil {
		var f frame
		var rest []byte
		f.data, f.binary, rest, err = st.l.conn.NextFrame(in)
		if err != nil {
			s.ended(st.l.conn, err)
			break
		}
		in = rest
		if f.data == nil {
			break
		}
		frames = append(frames, f)
	}
	st.partial = nil
	if len(in) > 0 {
		st.partial = bytes.Clone(in)
	}
	return frames, drained, err
}

// errGone ends the reading of a station whose message could not be handed
// on: its connection closed, or the server's context ended.
var errGone = errors.New("the station's connection or the server ended")

// stopWatching ends a station's reading: it went away, or the server
// stopped reading (err is wsconn.ErrStopped). Its connection stays with
// the poller until it is closed, and is never given back: nothing more is
// read from it.
func (s *Server) stopWatching(st *station, err error) {
	stopped := errors.Is(err, wsconn.ErrStopped)
	s.end(st.l, stopped)
	st.k.stop()
	st.pc.Close()
	st.l.conn.Close()
}

// stopPolling closes the poller once no station is read any more, and
// waits for the goroutines of the poller's side to end.
func (s *Server) stopPolling() {
	if s.poller == nil {
		return
	}
	s.poller.Close()
	s.polling.Wait()
}
