package station

import (
	"context"
	"fmt"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ocppkata/kata/harness/ocpp"
)

// Outcome is what became of a call the central system sent to the station.
type Outcome string

// The outcomes of a server's call.
const (
	Pending      Outcome = "pending"      // the answer is still being delayed
	Answered     Outcome = "answered"     // the answer was written
	Dropped      Outcome = "dropped"      // Reply.Drop: never answered
	Disconnected Outcome = "disconnected" // Reply.Disconnect: the connection was closed instead
	Abandoned    Outcome = "abandoned"    // the connection ended before the answer could be written
)

// ServerCall is one CALL the central system sent to the station.
type ServerCall struct {
	ID, Action string
	Received   time.Time
	Answered   time.Time // when the answer was written; zero if it was not
	Outcome    Outcome
}

// Stats counts what a station sent and what came back.
type Stats struct {
	Sent       int // CALLs written
	Answered   int // answered with a CALLRESULT
	CallErrors int // answered with a CALLERROR
	Unmatched  int // answers whose id matched no call in flight: late after a timeout, or never asked for
	Malformed  int // frames from the server that were not valid OCPP-J
}

// Stats returns the station's counters so far.
func (s *Station) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// ServerCalls returns the calls the central system sent, in arrival order,
// and what the station did with each, so tests can check what was asked and
// how it was answered.
func (s *Station) ServerCalls() []ServerCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ServerCall(nil), s.served...)
}

// serve handles a CALL from the central system. It runs on the read loop, so
// it only records the call and decides; the answer is written by a goroutine
// of its own, which keeps the read loop reading even when the answer is
// delayed or the writer is busy.
func (s *Station) serve(call *ocpp.Call) {
	reply := s.answer(call)
	s.mu.Lock()
	i := len(s.served)
	sc := ServerCall{ID: call.ID, Action: call.Action, Received: time.Now(), Outcome: Pending}
	if reply.Drop {
		sc.Outcome = Dropped
	}
	s.served = append(s.served, sc)
	s.mu.Unlock()
	if reply.Drop {
		return
	}
	s.respond(i, call.ID, call.Action, reply)
}

// respond starts the goroutine that answers call id as reply says. i is the
// call's index in s.served, or -1 for a malformed call that is not recorded.
// It is called only from the read loop, before the loop ends, so Close's
// Wait, which follows the end of the loop, sees every Add.
func (s *Station) respond(i int, id, action string, reply Reply) {
	s.answering.Add(1)
	go func() {
		defer s.answering.Done()
		s.setOutcome(i, s.deliver(id, action, reply))
	}()
}

func (s *Station) deliver(id, action string, reply Reply) Outcome {
	if reply.Delay > 0 {
		timer := time.NewTimer(reply.Delay)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-s.closing:
			return Abandoned
		case <-s.done:
			return Abandoned
		}
	}
	if reply.Disconnect {
		s.breakConn(fmt.Errorf("disconnected instead of answering %s (id %s), as Options.Answer asked", action, id))
		return Disconnected
	}
	frame, err := answerFrame(id, reply.Payload)
	if err != nil {
		return Abandoned
	}
	if err := s.acquire(context.Background()); err != nil {
		return Abandoned
	}
	defer s.release()
	if err := s.ws.WriteMessage(websocket.TextMessage, frame); err != nil {
		s.breakConn(fmt.Errorf("write answer to %s (id %s): %w", action, id, err))
		return Abandoned
	}
	if reply.then != nil {
		reply.then()
	}
	return Answered
}

// answerFrame encodes the answer to call id: a CALLERROR if the payload is
// one, a CALLRESULT otherwise. A payload that cannot be encoded becomes an
// InternalError, which is what a real station would send.
func answerFrame(id string, payload any) ([]byte, error) {
	var msg ocpp.Message
	if ce, ok := payload.(*ocpp.CallError); ok {
		e := *ce
		e.ID = id
		msg = &e
	} else if res, err := ocpp.NewCallResult(id, payload); err == nil {
		msg = res
	} else {
		msg = ocpp.NewCallError(id, ocpp.InternalError, err.Error())
	}
	return ocpp.Encode(msg)
}

func (s *Station) setOutcome(i int, o Outcome) {
	if i < 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.served[i].Outcome = o
	if o == Answered {
		s.served[i].Answered = time.Now()
	}
}
