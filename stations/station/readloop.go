package station

import (
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ocppkata/kata/harness/ocpp"
)

// readLoop is the only goroutine that reads the connection. It hands answers
// to the calls waiting for them and the server's calls to goroutines of their
// own, so that nothing it does can wait on the network's other direction.
func (s *Station) readLoop() {
	for {
		_, data, err := s.ws.ReadMessage()
		if err != nil {
			s.end(err)
			return
		}
		s.dispatch(data)
	}
}

func (s *Station) dispatch(data []byte) {
	msg, err := ocpp.Decode(data)
	if err != nil {
		s.mu.Lock()
		s.stats.Malformed++
		s.mu.Unlock()
		// A CALL whose id can be read deserves a CALLERROR; anything else
		// malformed is ignored, as OCPP-J says.
		var fe *ocpp.FrameError
		if errors.As(err, &fe) && fe.ID != "" && fe.Type == ocpp.TypeCall {
			s.respond(-1, fe.ID, "", Reply{Payload: ocpp.NewCallError(fe.ID, fe.Code, fe.Reason)})
		}
		return
	}
	switch m := msg.(type) {
	case *ocpp.CallResult:
		s.settle(m.ID, Answer{Result: m})
	case *ocpp.CallError:
		s.settle(m.ID, Answer{Err: m})
	case *ocpp.Call:
		s.serve(m)
	}
}

// settle gives an answer from the server to the call waiting for it. An
// answer that matches no call in flight (late after a timeout, or never
// asked for) is counted and dropped.
func (s *Station) settle(id string, a Answer) {
	s.mu.Lock()
	p, ok := s.pending[id]
	switch {
	case !ok:
		s.stats.Unmatched++
	case a.Err != nil:
		s.stats.CallErrors++
	default:
		s.stats.Answered++
	}
	delete(s.pending, id)
	s.mu.Unlock()
	if !ok {
		return
	}
	a.ID, a.Sent, a.Received = id, p.sent, time.Now()
	s.finish(p, a)
}

// finish delivers a call's one and only answer.
func (s *Station) finish(p *pending, a Answer) {
	if s.tally != nil {
		s.tally.settled(a.Err)
	}
	p.ch <- a // buffered: never blocks
}

// end runs once, when reading failed: the connection is over. It fails every
// call still waiting, so nobody waits for an answer that cannot come.
func (s *Station) end(readErr error) {
	s.ws.Close()
	s.mu.Lock()
	s.ended = true
	switch {
	case errors.Is(s.cause, ErrClosed):
		s.reason = nil
	case s.cause != nil:
		s.reason = s.cause
	default:
		s.reason = explainReadError(readErr)
	}
	waiting := s.pending
	s.pending = nil
	s.mu.Unlock()

	why := s.endError()
	for id, p := range waiting {
		s.finish(p, Answer{ID: id, Sent: p.sent,
			Err: fmt.Errorf("station %s: %s (id %s): %w", s.id, p.action, id, why)})
	}
	close(s.done)
}

// explainReadError says in words who ended the connection.
func explainReadError(err error) error {
	var ce *websocket.CloseError
	switch {
	case errors.As(err, &ce):
		return fmt.Errorf("server closed the connection: %w", err)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return fmt.Errorf("connection lost: %w", err)
	default:
		return fmt.Errorf("read: %w", err)
	}
}
