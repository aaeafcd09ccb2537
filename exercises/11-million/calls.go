package million

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"

	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/harness/wsconn"
)

// calls is the server's side of the calls it makes to stations: the
// connection of each station, and on each connection the calls waiting for
// their answers.
type calls struct {
	log *slog.Logger

	mu    sync.Mutex
	links map[string]*link // each station's newest connection
}

// link is one connection of a station, as the server's calls see it.
// Everything a call waits on belongs to the connection, not to the
// station's id: when the station reconnects, the new connection starts
// clean, and what is left of the old one cannot reach it.
type link struct {
	conn *wsconn.Conn
	// turn holds a token while one of the server's calls is in flight on
	// this connection: OCPP allows one at a time. The others wait to put
	// theirs, in the order they came.
	turn     chan struct{}
	booted   chan struct{} // closed once the station's BootNotification was accepted
	bootOnce sync.Once
	gone     chan struct{} // closed when the connection's reader has ended
	why      error         // why the calls on it fail: set before gone is closed

	mu      sync.Mutex
	nextID  int
	pending map[string]chan ocpp.Message // by message id; buffered 1
}

func (c *calls) init(log *slog.Logger) {
	c.log = log
	c.links = make(map[string]*link)
}

// connect registers a new connection as its station's: the server's calls
// go to the newest connection of a station. It returns the station's
// connection before it, if it had one.
func (c *calls) connect(conn *wsconn.Conn) (l, older *link) {
	l = &link{
		conn:    conn,
		turn:    make(chan struct{}, 1),
		booted:  make(chan struct{}),
		gone:    make(chan struct{}),
		pending: make(map[string]chan ocpp.Message),
	}
	c.mu.Lock()
	older = c.links[conn.Station()]
	c.links[conn.Station()] = l
	c.mu.Unlock()
	return l, older
}

// disconnect runs when l's reader has ended: every call waiting on l, for
// its turn or for its answer, fails at once. l leaves the map only if it is
// still its station's connection: a newer one is not touched.
func (c *calls) disconnect(l *link, why error) {
	l.why = why
	close(l.gone)
	c.mu.Lock()
	if c.links[l.conn.Station()] == l {
		delete(c.links, l.conn.Station())
	}
	c.mu.Unlock()
}

// booted lets the calls to l's station go.
func (c *calls) booted(l *link) {
	l.bootOnce.Do(func() { close(l.booted) })
}

// answer hands an answer that came on l to the call waiting for it. The
// waiter's channel has room for it and gets only this one, so the reader
// never waits for a caller. An answer that nobody waits for (late, after
// its call gave up, or with an id the server never sent) is dropped.
func (c *calls) answer(l *link, m ocpp.Message) {
	id := m.MessageID()
	l.mu.Lock()
	ch, ok := l.pending[id]
	delete(l.pending, id)
	l.mu.Unlock()
	if !ok {
		c.log.Warn("answer dropped: no call waits for it (late, or never sent)", "station", l.conn.Station(), "id", id)
		return
	}
	ch <- m
}

// pending returns how many calls wait for an answer on every connection.
func (c *calls) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, l := range c.links {
		l.mu.Lock()
		n += len(l.pending)
		l.mu.Unlock()
	}
	return n
}

// Call sends a request to a station and waits for its answer, whose
// payload it decodes into resp (a pointer to the action's response type,
// or nil). The station may be connected to this node or to another node of
// the cluster: Call reaches it where it is. It waits, in this order, until
// the station's BootNotification was accepted (stations ignore calls before
// that), until the station's earlier calls are answered (OCPP allows one in
// flight, whichever node they came from), and for the answer. A CALLERROR
// comes back as a *ocpp.CallError; a station no node holds as
// ErrNotConnected; a disconnect, or the death of the node that holds the
// station, as ErrDisconnected; the end of ctx or of Config.CallTimeout as
// the context's error. When Call returns, nothing of it is left in the
// server.
func (s *Server) Call(ctx context.Context, station, action string, req, resp any) error {
	s.mu.Lock()
	stopping := s.stopping
	s.mu.Unlock()
	if stopping {
		return fmt.Errorf("%s to %s: %w", action, station, ErrShuttingDown)
	}
	s.calls.mu.Lock()
	l := s.calls.links[station]
	s.calls.mu.Unlock()
	if l == nil {
		return s.route(ctx, station, action, req, resp)
	}
	return s.callOn(ctx, l, action, req, resp)
}

// callOn makes a call on l, a connection of this node: Call for a station
// connected here, whoever asked for it.
func (s *Server) callOn(ctx context.Context, l *link, action string, req, resp any) error {
	station := l.conn.Station()
	fail := func(why string, err error) error {
		return fmt.Errorf("%s to %s: %s: %w", action, station, why, err)
	}

	select {
	case <-l.booted:
	case <-l.gone:
		return fail("waiting for its BootNotification", l.why)
	case <-ctx.Done():
		return fail("waiting for its BootNotification", ctx.Err())
	}
	select {
	case l.turn <- struct{}{}:
	case <-l.gone:
		return fail("waiting for its turn", l.why)
	case <-ctx.Done():
		return fail("waiting for its turn", ctx.Err())
	}
	defer func() { <-l.turn }()

	ch := make(chan ocpp.Message, 1)
	l.mu.Lock()
	l.nextID++
	id := strconv.Itoa(l.nextID)
	l.pending[id] = ch
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		delete(l.pending, id)
		l.mu.Unlock()
	}()

	call, err := ocpp.NewCall(id, action, req)
	if err != nil {
		return fmt.Errorf("%s to %s: %w", action, station, err)
	}
	if err := l.conn.Send(call); err != nil {
		return fmt.Errorf("%s to %s: %w", action, station, err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
	defer cancel()
	select {
	case answer := <-ch:
		return decode(station, action, answer, resp)
	case <-l.gone:
		// A station may answer and close at once, as one that accepts a
		// Reset does: its reader hands the answer over before it ends, so
		// an answer waiting here came first, whichever case select chose.
		select {
		case answer := <-ch:
			return decode(station, action, answer, resp)
		default:
		}
		return fail("id "+id, l.why)
	case <-ctx.Done():
		return fail("id "+id+": no answer", ctx.Err())
	}
}

// PendingCalls returns how many of the server's calls wait for an answer
// now, on every connection.
func (s *Server) PendingCalls() int { return s.calls.pending() }
