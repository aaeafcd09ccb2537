package station

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ocppkata/kata/harness/ocpp"
)

// Answer is the outcome of one CALL the station sent.
type Answer struct {
	ID string // the call's message id
	// Result is the CALLRESULT; nil if Err is set.
	Result *ocpp.CallResult
	// Err is a *ocpp.CallError if the server answered with a CALLERROR, or
	// why no answer came (the connection ended, the context ended).
	Err            error
	Sent, Received time.Time // Received is zero when no answer came
}

// pending is a call waiting for its answer.
type pending struct {
	ch     chan Answer // buffered 1: whoever settles the call never waits
	action string
	sent   time.Time
}

// Call sends a CALL and waits for its answer, the lock-step way a station
// normally talks. If resp is not nil, the answer's payload is decoded into
// it. A CALLERROR answer is returned as a *ocpp.CallError.
func (s *Station) Call(ctx context.Context, action string, req, resp any) error {
	return s.exchange(ctx, action, req, resp).Err
}

// Send sends a CALL without waiting for its answer and returns a channel
// (buffered 1) that receives the answer, so that many calls can be in flight.
// The answer always comes: when the server answers, when the connection
// ends, or when the station is closed. ctx bounds the wait for the writer,
// not a write under way: a frame cannot be taken back half written, and
// only Close frees a write stuck on a server that has stopped reading.
func (s *Station) Send(ctx context.Context, action string, req any) (<-chan Answer, error) {
	_, p, err := s.send(ctx, action, req)
	if err != nil {
		return nil, err
	}
	return p.ch, nil
}

// exchange is one lock-step call, as the CallRecord a session keeps.
func (s *Station) exchange(ctx context.Context, action string, req, resp any) CallRecord {
	id, p, err := s.send(ctx, action, req)
	if err != nil {
		return CallRecord{Action: action, Err: err}
	}
	a := s.await(ctx, id, p)
	rec := CallRecord{ID: id, Action: action, Sent: a.Sent, Received: a.Received, Err: a.Err}
	if rec.Err == nil && resp != nil {
		if err := a.Result.UnmarshalPayload(resp); err != nil {
			rec.Err = fmt.Errorf("station %s: %s (id %s): unreadable answer: %w", s.id, action, id, err)
		}
	}
	return rec
}

// send writes a CALL and registers it as waiting for its answer. The id is
// taken while holding the writer, so ids follow the order on the wire.
func (s *Station) send(ctx context.Context, action string, req any) (string, *pending, error) {
	if action == "" {
		return "", nil, fmt.Errorf("station %s: send: empty action", s.id)
	}
	payload := json.RawMessage(`{}`)
	if req != nil {
		b, err := json.Marshal(req)
		if err != nil {
			return "", nil, fmt.Errorf("station %s: send %s: encode payload: %w", s.id, action, err)
		}
		payload = b
	}
	if err := s.acquire(ctx); err != nil {
		return "", nil, fmt.Errorf("station %s: send %s: %w", s.id, action, err)
	}
	defer s.release()

	s.nextID++
	id := strconv.Itoa(s.nextID)
	frame, err := ocpp.Encode(&ocpp.Call{ID: id, Action: action, Payload: payload})
	if err != nil {
		return "", nil, fmt.Errorf("station %s: send %s (id %s): %w", s.id, action, id, err)
	}
	p := &pending{ch: make(chan Answer, 1), action: action, sent: time.Now()}
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return "", nil, fmt.Errorf("station %s: send %s (id %s): %w", s.id, action, id, s.endError())
	}
	s.pending[id] = p
	s.stats.Sent++
	s.mu.Unlock()
	if s.tally != nil {
		s.tally.calls.Add(1)
	}

	if err := s.ws.WriteMessage(websocket.TextMessage, frame); err != nil {
		// Part of the frame may be on the wire: the connection is unusable.
		// The read loop ends and settles the call with this cause.
		select {
		case <-s.closing:
			// Close freed a write stuck on a server that stopped reading:
			// the station was closed, the write did not fail on its own.
			err = fmt.Errorf("write %s (id %s): %w: %w", action, id, ErrClosed, err)
		default:
			err = lost{fmt.Errorf("write %s (id %s): %w", action, id, err)}
		}
		s.breakConn(err)
		return "", nil, fmt.Errorf("station %s: %w", s.id, err)
	}
	return id, p, nil
}

// await waits for the answer to call id. If ctx ends first, the call stops
// waiting and an answer that comes later is counted as unmatched.
func (s *Station) await(ctx context.Context, id string, p *pending) Answer {
	select {
	case a := <-p.ch:
		return s.cutShort(ctx, id, p, a)
	case <-ctx.Done():
	}
	s.mu.Lock()
	_, waiting := s.pending[id]
	delete(s.pending, id)
	s.mu.Unlock()
	if !waiting {
		return s.cutShort(ctx, id, p, <-p.ch) // settled meanwhile: the answer is on its way
	}
	a := Answer{ID: id, Sent: p.sent, Err: s.noAnswer(ctx, id, p)}
	if s.tally != nil {
		s.tally.settled(a.Err)
	}
	return a
}

// cutShort says why a call failed when its context ended and the station
// was closed for it at the same instant (a fleet cut short, whose stations
// close when its context ends): the context, the first cause.
func (s *Station) cutShort(ctx context.Context, id string, p *pending, a Answer) Answer {
	if ctx.Err() != nil && errors.Is(a.Err, ErrClosed) {
		a.Err = s.noAnswer(ctx, id, p)
	}
	return a
}

func (s *Station) noAnswer(ctx context.Context, id string, p *pending) error {
	return fmt.Errorf("station %s: %s (id %s): no answer: %w", s.id, p.action, id, ctx.Err())
}

// describe puts a call's context around a bare CALLERROR, which names
// neither the station nor the call; other errors carry it already.
func (s *Station) describe(rec CallRecord) error {
	if _, ok := rec.Err.(*ocpp.CallError); ok {
		return fmt.Errorf("station %s: %s (id %s): %w", s.id, rec.Action, rec.ID, rec.Err)
	}
	return rec.Err
}
