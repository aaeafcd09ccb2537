package million

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/harness/wsconn"
)

// The cluster: several nodes share one NATS, and a station's connection
// lives on one of them. The node that holds a station subscribes to the
// station's subject; a call to the station made on any other node is a
// request on that subject, and its answer the reply. The subscription
// belongs to the connection, as step 09's link does: a newer connection of
// the station, on any node, takes the station over only once the older
// one's node has closed it and let its subscription go, so that no call is
// ever delivered to two connections.

// subjectOf returns the subject on which the node that holds station's
// connection listens. A station id may hold characters that a NATS subject
// may not ('.', '*', '>', spaces, …): each byte but letters, digits, '-'
// and '_' is written as ~XX, its value in hex.
func subjectOf(station string) string {
	var b strings.Builder
	b.WriteString("kata.station.")
	for i := range len(station) {
		c := station[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "~%02X", c)
	}
	return b.String()
}

// The headers of the messages between nodes.
const (
	opHeader      = "Kata-Op"      // what a message is: one of the ops below
	actionHeader  = "Kata-Action"  // a call's OCPP action
	timeoutHeader = "Kata-Timeout" // what is left of the caller's deadline, as a Go duration
	nodeHeader    = "Kata-Node"    // the node that sent it
)

// The ops: a request on a station's subject is a call or a takeover; a
// reply to a call is alive (the holding node still works on it) until one
// is the answer.
const (
	opCall     = "call"
	opTakeover = "takeover"
	opAlive    = "alive"
	opAnswer   = "answer"
)

// outcome is what the node holding a station replies to a call routed to
// it: the station's CALLRESULT payload, its CALLERROR, or why the call
// failed there.
type outcome struct {
	Result    json.RawMessage `json:"result,omitempty"`
	CallError *callError      `json:"callError,omitempty"`
	Err       string          `json:"err,omitempty"` // the name of one of the kinds, or "other"
	Why       string          `json:"why,omitempty"` // the holding node's error, in words
}

type callError struct {
	Code        ocpp.ErrorCode  `json:"code"`
	Description string          `json:"description"`
	Details     json.RawMessage `json:"details,omitempty"`
}

// kinds are the failures of a call that cross from node to node: the
// error callOn returned on the node that made the call, and the one Call
// returns on the node that asked for it. Any other failure crosses as
// "other", in words only.
var kinds = []struct {
	name        string
	there, here error
}{
	{"not connected", ErrNotConnected, ErrNotConnected},
	{"disconnected", ErrDisconnected, ErrDisconnected},
	{"shutting down", ErrShuttingDown, ErrDisconnected}, // the holding node stops: to the caller, the station is gone
	{"deadline", context.DeadlineExceeded, context.DeadlineExceeded},
	{"canceled", context.Canceled, context.Canceled},
}

// outcomeOf is the reply to a routed call that callOn answered with result
// and err.
func outcomeOf(result json.RawMessage, err error) outcome {
	if err == nil {
		return outcome{Result: result}
	}
	var ce *ocpp.CallError
	if errors.As(err, &ce) {
		return outcome{CallError: &callError{Code: ce.Code, Description: ce.Description, Details: ce.Details}}
	}
	o := outcome{Err: "other", Why: err.Error()}
	for _, k := range kinds {
		if errors.Is(err, k.there) {
			o.Err = k.name
			break
		}
	}
	return o
}

// routedError is a failure of a routed call, in the words of the node that
// held the station, which errors.Is finds as the same kind as there.
type routedError struct {
	why  string
	kind error
}

func (e *routedError) Error() string { return e.why }
func (e *routedError) Unwrap() error { return e.kind }

// result turns a routed call's outcome into Call's result, as if the call
// had been made here: the payload decoded into resp and checked against the
// schema, the CALLERROR as a *ocpp.CallError, a failure as its kind.
func (o outcome) result(station, action, node string, resp any) error {
	switch {
	case o.CallError != nil:
		return decode(station, action, &ocpp.CallError{Code: o.CallError.Code, Description: o.CallError.Description, Details: o.CallError.Details}, resp)
	case o.Err != "":
		var kind error
		for _, k := range kinds {
			if k.name == o.Err {
				kind = k.here
			}
		}
		return &routedError{why: fmt.Sprintf("%s (on node %s)", o.Why, node), kind: kind}
	}
	return decode(station, action, &ocpp.CallResult{Payload: o.Result}, resp)
}

// routedBuffer is how many routed messages wait for the node's dispatcher
// before NATS drops the next (a slow consumer): the dispatcher never waits,
// so they wait only while it takes the node's lock.
const routedBuffer = 4096

// cluster is the node's side of the cluster.
type cluster struct {
	nc         *nats.Conn
	msgs       chan *nats.Msg // what every station's subscription receives
	done       chan struct{}  // closed by stopCluster
	dispatcher sync.WaitGroup
	routed     sync.WaitGroup // the calls routed here, being made; added to by the dispatcher only

	mu   sync.Mutex
	held map[*nats.Subscription]*link // the connection each subscription speaks for
	subs map[*link]*nats.Subscription

	routedIn atomic.Int64 // the calls routed here that were made: for RoutedIn
}

// RoutedIn returns how many calls made on other nodes this node has made
// on its stations' connections, whatever came of them. It is not the
// lesson's: make serve counts them in its metrics.
func (s *Server) RoutedIn() int64 { return s.cluster.routedIn.Load() }

// startCluster starts the node's dispatcher, if it has a NATS connection.
func (s *Server) startCluster() {
	if s.cfg.NATS == nil {
		return
	}
	c := &s.cluster
	c.nc = s.cfg.NATS
	c.msgs = make(chan *nats.Msg, routedBuffer)
	c.done = make(chan struct{})
	c.held = make(map[*nats.Subscription]*link)
	c.subs = make(map[*link]*nats.Subscription)
	c.dispatcher.Go(s.dispatch)
}

// stopCluster runs once every station has left: it stops the dispatcher
// and waits for the routed calls it started.
func (s *Server) stopCluster() {
	c := &s.cluster
	if c.nc == nil {
		return
	}
	close(c.done)
	c.dispatcher.Wait()
	c.routed.Wait()
}

// claim makes l its station's connection in the whole cluster. Whichever
// node held the station closes its connection and lets its subscription go
// first, and says so (the fence): only then does this node subscribe, so
// that no call is delivered to two connections. It returns once the broker
// has the subscription.
func (s *Server) claim(l *link) {
	c := &s.cluster
	if c.nc == nil {
		return
	}
	station := l.conn.Station()
	subject := subjectOf(station)
	m := nats.NewMsg(subject)
	m.Header.Set(opHeader, opTakeover)
	m.Header.Set(nodeHeader, s.cfg.Node)
	ctx, cancel := context.WithTimeout(s.ctx, 2*s.cfg.KeepAlive)
	_, err := c.nc.RequestMsgWithContext(ctx, m)
	cancel()
	switch {
	case err == nil: // the node that held it let it go
	case errors.Is(err, nats.ErrNoResponders): // no node held it
	default:
		s.cfg.Logger.Warn("takeover not confirmed: a node that held the station may still answer for it", "station", station, "err", err)
	}
	c.mu.Lock()
	sub, err := c.nc.ChanSubscribe(subject, c.msgs)
	if err == nil {
		c.held[sub] = l
		c.subs[l] = sub
	}
	c.mu.Unlock()
	if err == nil {
		ctx, cancel := context.WithTimeout(s.ctx, 2*s.cfg.KeepAlive)
		err = c.nc.FlushWithContext(ctx)
		cancel()
	}
	if err != nil {
		s.cfg.Logger.Warn("station not reachable from the other nodes", "station", station, "err", err)
	}
}

// leave lets l's subscription go, and no other: a newer connection of the
// same station, on this node or another, keeps its own.
func (s *Server) leave(l *link) {
	c := &s.cluster
	if c.nc == nil {
		return
	}
	c.mu.Lock()
	sub := c.subs[l]
	delete(c.subs, l)
	delete(c.held, sub)
	c.mu.Unlock()
	if sub != nil {
		sub.Unsubscribe()
	}
}

// dispatch takes the messages of every station's subscription, until
// stopCluster. It never waits: a call goes to a goroutine of its own.
func (s *Server) dispatch() {
	c := &s.cluster
	for {
		select {
		case m := <-c.msgs:
			s.routedMessage(m)
		case <-c.done:
			return
		}
	}
}

// routedMessage handles a request on the subject of a station this node
// holds, or held when the request was sent.
func (s *Server) routedMessage(m *nats.Msg) {
	c := &s.cluster
	c.mu.Lock()
	l := c.held[m.Sub]
	c.mu.Unlock()
	switch m.Header.Get(opHeader) {
	case opTakeover:
		if l == nil {
			m.Respond(nil) // let go already
			return
		}
		// Unsubscribed before the reply is sent: the broker reads this
		// node's messages in order, so the newer node's subscription
		// comes after this one is gone.
		s.leave(l)
		m.Respond(nil)
		// The close waits up to a second for a station that does not
		// read: not here, where every station's calls come through.
		by := m.Header.Get(nodeHeader)
		c.routed.Go(func() {
			l.conn.CloseWith(wsconn.ClosePolicyViolation, "replaced by a newer connection of the same station, on node "+by)
		})
	case opCall:
		if l == nil {
			// The subscription it came by was let go meanwhile: the
			// connection it was for is closed.
			s.reply(m, opAnswer, outcome{Err: "disconnected", Why: "the station's connection on this node was replaced or closed"})
			return
		}
		c.routed.Go(func() { s.answerRouted(l, m) })
	}
}

// answerRouted makes a call routed to this node on l, telling the caller's
// node every KeepAlive that this node is still at it, and replies its
// outcome.
func (s *Server) answerRouted(l *link, m *nats.Msg) {
	ctx := s.ctx
	if d, err := time.ParseDuration(m.Header.Get(timeoutHeader)); err == nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	stop := make(chan struct{})
	var alive sync.WaitGroup
	alive.Go(func() {
		t := time.NewTicker(s.cfg.KeepAlive)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				s.reply(m, opAlive, outcome{})
			case <-stop:
				return
			}
		}
	})
	var result json.RawMessage
	err := s.callOn(ctx, l, m.Header.Get(actionHeader), json.RawMessage(m.Data), &result)
	s.cluster.routedIn.Add(1)
	close(stop)
	alive.Wait()
	s.reply(m, opAnswer, outcomeOf(result, err))
}

// reply sends a routed call's caller an alive or its answer.
func (s *Server) reply(m *nats.Msg, op string, o outcome) {
	r := nats.NewMsg(m.Reply)
	r.Header.Set(opHeader, op)
	r.Header.Set(nodeHeader, s.cfg.Node)
	if op == opAnswer {
		r.Data, _ = json.Marshal(o) // of strings and raw JSON: it cannot fail
	}
	if err := s.cluster.nc.PublishMsg(r); err != nil {
		s.cfg.Logger.Warn("routed call: reply not sent", "op", op, "err", err)
	}
}

// route makes a call to a station that is not connected to this node,
// through the node that holds it. No node: ErrNotConnected, at once. A
// node that holds it and then falls silent for two KeepAlives (killed, or
// cut off from the broker): ErrDisconnected.
func (s *Server) route(ctx context.Context, station, action string, req, resp any) error {
	c := &s.cluster
	if c.nc == nil {
		return fmt.Errorf("%s to %s: not connected here: %w", action, station, ErrNotConnected)
	}
	fail := func(why string, err error) error {
		return fmt.Errorf("%s to %s: %s: %w", action, station, why, err)
	}
	payload, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("%s to %s: %w", action, station, err)
	}
	cutOff := func(err error) error {
		return fail(fmt.Sprintf("cut off from the other nodes (%v)", err), ErrNotConnected)
	}
	inbox := c.nc.NewInbox()
	sub, err := c.nc.SubscribeSync(inbox)
	if err != nil {
		return cutOff(err)
	}
	defer sub.Unsubscribe()
	m := nats.NewMsg(subjectOf(station))
	m.Reply = inbox
	m.Data = payload
	m.Header.Set(opHeader, opCall)
	m.Header.Set(actionHeader, action)
	m.Header.Set(nodeHeader, s.cfg.Node)
	if deadline, ok := ctx.Deadline(); ok {
		m.Header.Set(timeoutHeader, time.Until(deadline).String())
	}
	if err := c.nc.PublishMsg(m); err != nil {
		return cutOff(err)
	}
	silence := 2 * s.cfg.KeepAlive
	for {
		wait, cancel := context.WithTimeout(ctx, silence)
		r, err := sub.NextMsgWithContext(wait)
		cancel()
		switch {
		case errors.Is(err, nats.ErrNoResponders):
			return fail("no node holds it", ErrNotConnected)
		case ctx.Err() != nil:
			return fail("no answer", ctx.Err())
		case err != nil:
			return fail(fmt.Sprintf("the node that holds it said nothing for %v", silence), ErrDisconnected)
		}
		switch r.Header.Get(opHeader) {
		case opAlive:
			continue
		case opAnswer:
			var o outcome
			if err := json.Unmarshal(r.Data, &o); err != nil {
				return fail("the answer of node "+r.Header.Get(nodeHeader), err)
			}
			return o.result(station, action, r.Header.Get(nodeHeader), resp)
		}
	}
}
