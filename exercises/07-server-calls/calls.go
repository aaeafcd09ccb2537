package servercalls

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/harness/wsconn"
)

// calls is the server's side of the calls it makes to stations: the
// connection of each station, and the calls waiting for their answers.
type calls struct {
	log *slog.Logger

	mu      sync.Mutex
	links   map[string]*link             // each station's newest connection
	nextID  int                          // message ids, unique across the server
	waiting map[string]chan ocpp.Message // calls waiting for their answer, by message id
}

// link is one connection of a station, as the server's calls see it.
type link struct {
	conn *wsconn.Conn
}

func (c *calls) init(log *slog.Logger) {
	c.log = log
	c.links = make(map[string]*link)
	c.waiting = make(map[string]chan ocpp.Message)
}

// connect registers a new connection as its station's.
func (c *calls) connect(conn *wsconn.Conn) *link {
	l := &link{conn: conn}
	c.mu.Lock()
	c.links[conn.Station()] = l
	c.mu.Unlock()
	return l
}

// disconnect runs when l's reader has ended.
func (c *calls) disconnect(l *link) {
	c.mu.Lock()
	if c.links[l.conn.Station()] == l {
		delete(c.links, l.conn.Station())
	}
	c.mu.Unlock()
}

// booted runs once l's station's BootNotification was accepted.
func (c *calls) booted(*link) {}

// answer hands an answer that came on l to the call waiting for it.
func (c *calls) answer(l *link, m ocpp.Message) {
	id := m.MessageID()
	c.mu.Lock()
	ch, ok := c.waiting[id]
	c.mu.Unlock()
	if !ok {
		c.log.Warn("answer dropped: no call waits for it", "station", l.conn.Station(), "id", id)
		return
	}
	ch <- m
}

// pending returns how many calls wait for an answer.
func (c *calls) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiting)
}

// Call sends a request to a station and waits for its answer, whose
// payload it decodes into resp (a pointer to the action's response type,
// or nil). A CALLERROR comes back as a *ocpp.CallError; the end of ctx or
// of Config.CallTimeout as the context's error.
//
// This first version sends at once and waits for the answer, and that is
// all: step 07 is to make it keep the contract in the README.
func (s *Server) Call(ctx context.Context, station, action string, req, resp any) error {
	c := &s.calls
	c.mu.Lock()
	l := c.links[station]
	c.nextID++
	id := strconv.Itoa(c.nextID)
	ch := make(chan ocpp.Message)
	if l != nil {
		c.waiting[id] = ch
	}
	c.mu.Unlock()
	if l == nil {
		return fmt.Errorf("%s to %s: %w", action, station, ErrNotConnected)
	}

	call, err := ocpp.NewCall(id, action, req)
	if err != nil {
		return fmt.Errorf("%s to %s: %w", action, station, err)
	}
	if err := l.conn.Send(call); err != nil {
		return fmt.Errorf("%s to %s: %w", action, station, err)
	}
	select {
	case answer := <-ch:
		c.mu.Lock()
		delete(c.waiting, id)
		c.mu.Unlock()
		return decode(station, action, answer, resp)
	case <-time.After(s.cfg.CallTimeout):
		return fmt.Errorf("%s to %s: id %s: no answer: %w", action, station, id, context.DeadlineExceeded)
	case <-ctx.Done():
		return fmt.Errorf("%s to %s: id %s: no answer: %w", action, station, id, ctx.Err())
	}
}

// PendingCalls returns how many of the server's calls wait for an answer
// now, on every connection.
func (s *Server) PendingCalls() int { return s.calls.pending() }
