package million

import (
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

// startPolling creates the poller (netpoll.New) into s.poller, and starts
// poll in s.polling. Until it does, s.poller is nil, and every station is
// read by a goroutine of its own, as in step 10.
func (s *Server) startPolling() {
	// TODO
}

// watch hands conn to the poller, and reports false if the poller cannot
// watch it (a connection with no socket of its own: one over TLS, an
// in-memory pipe). It runs in the connection's goroutine, which returns
// once watch has: from then on, the station has a goroutine only while it
// has something to say.
//
// TODO: s.poller.Add(conn.NetConn(), st) registers the connection, ours
// until we give it to the poller (Rearm). conn.Detach(pc.Wake) hands its
// reading over to us: it returns the bytes already read past the
// handshake, and calls pc.Wake when the station's reader must look though
// nothing came (the read deadline passed, the server stops reading). Then
// the station's keepAlive (after Detach: its read deadline is a timer now),
// s.begin, and a first readReady for the bytes that came with the
// handshake. Until then, every station is read as in step 10:
func (s *Server) watch(conn *wsconn.Conn) bool {
	return false
}

// poll is the producer: it waits on the poller and starts a reader for
// each station it hands out. It never reads, and never waits for anything
// but the poller: one station that is slow to handle holds its own reader,
// not the others'. It returns once the poller is closed.
func (s *Server) poll() {
	// TODO
}

// readReady is the consumer: it reads the station the poller handed out,
// and handles each whole message it finds, in order, until the socket has
// nothing more to read; then it keeps the start of a frame not all read
// yet, and gives the connection back to the poller. It never waits for the
// station: one that sent half a frame and went quiet holds no goroutine.
// It may wait for the server (a worker, the station's turn, room in a full
// queue: handleMessage); meanwhile the connection is not given back, so
// nobody else reads it, its messages stay in order, and TCP pushes back.
func (s *Server) readReady(pc *netpoll.Conn) {
	// TODO: pc.Read never waits: it returns what is there, or
	// netpoll.ErrWouldBlock. conn.NextFrame(buf) takes a whole frame off the
	// front of buf, if there is one. s.frameMessage and s.handleMessage do
	// the rest, as readMessage and read do for a station with a goroutine.
}

// stopPolling closes the poller once no station is read any more, and
// waits for the goroutines of the poller's side to end.
func (s *Server) stopPolling() {
	// TODO
}
