package station

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ocppkata/kata/harness/ocpp"
)

// closeGrace is how long Close waits for the server to answer its close
// frame before it closes the socket anyway.
const closeGrace = time.Second

// ErrClosed is why a call fails that was waiting for its answer, or for its
// turn to be written, when Close was called.
var ErrClosed = errors.New("station closed")

// Station is one simulated charging station connected to a central system.
// Its methods are safe for concurrent use.
type Station struct {
	id     string
	ws     *websocket.Conn
	answer func(*ocpp.Call) Reply
	tally  *tally // a fleet's counters; nil outside a fleet

	// writer holds a token while a goroutine writes a frame, because gorilla
	// allows one writer at a time. A channel rather than a mutex, so waiting
	// for it honours contexts and is durably blocking in a synctest bubble.
	writer chan struct{}
	nextID int // guarded by writer: ids are given in the order frames are written

	mu      sync.Mutex
	pending map[string]*pending // calls waiting for their answer, by id
	ended   bool                // the read loop has finished: no call can be answered
	cause   error               // why the station ended the connection itself
	reason  error               // why the connection ended; nil after Close
	stats   Stats
	served  []ServerCall

	closing   chan struct{} // closed when Close begins
	done      chan struct{} // closed when the read loop has ended
	finished  chan struct{} // closed when Close has finished
	closeOnce sync.Once
	answering sync.WaitGroup // goroutines answering the server's calls
}

// ID returns the station's identity.
func (s *Station) ID() string { return s.id }

// Done returns a channel that is closed when the connection has ended: the
// server closed it, it failed, or Close was called.
func (s *Station) Done() <-chan struct{} { return s.done }

// Err reports why the connection ended: nil after Close, otherwise the
// server's close frame (a wrapped *websocket.CloseError) or the read error.
// It is nil until Done is closed.
func (s *Station) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended || s.reason == nil {
		return nil
	}
	return fmt.Errorf("station %s: %w", s.id, s.reason)
}

// Close ends the connection the polite way: a normal close frame, a moment
// for the server to answer it, then the socket is closed. It returns when
// every goroutine of the station has ended. Calls still waiting fail with
// ErrClosed. Close is idempotent and safe to call concurrently.
func (s *Station) Close() error {
	first := false
	s.closeOnce.Do(func() {
		first = true
		close(s.closing)
	})
	if !first {
		<-s.finished
		return nil
	}
	defer close(s.finished)
	s.setCause(ErrClosed)

	select {
	case <-s.done:
	default:
		deadline := time.Now().Add(closeGrace)
		msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
		if err := s.ws.WriteControl(websocket.CloseMessage, msg, deadline); err == nil {
			// The server echoes the close frame; the read loop sees it and ends.
			timer := time.NewTimer(time.Until(deadline))
			select {
			case <-s.done:
			case <-timer.C:
			}
			timer.Stop()
		}
	}
	s.ws.Close()
	<-s.done
	s.answering.Wait()
	return nil
}

// setCause records why the station itself is ending the connection, so that
// the read error that follows is not mistaken for the server's doing. The
// first cause wins.
func (s *Station) setCause(err error) {
	s.mu.Lock()
	if s.cause == nil {
		s.cause = err
	}
	s.mu.Unlock()
}

// breakConn closes the socket without a close frame, for cause.
func (s *Station) breakConn(cause error) {
	s.setCause(cause)
	s.ws.Close()
}

// acquire waits for the right to write a frame.
func (s *Station) acquire(ctx context.Context) error {
	select {
	case s.writer <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.closing:
		return ErrClosed
	case <-s.done:
		return s.endError()
	}
	// A closing station writes nothing more, even if the token was free.
	select {
	case <-s.closing:
		s.release()
		return ErrClosed
	case <-s.done:
		s.release()
		return s.endError()
	default:
		return nil
	}
}

func (s *Station) release() { <-s.writer }

// endError is why a call cannot be sent or answered once the read loop ended.
func (s *Station) endError() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reason == nil {
		return ErrClosed
	}
	return lost{fmt.Errorf("connection ended: %w", s.reason)}
}

// lost marks why a call failed when its connection ended under it, and
// the station had not closed it: the server closed it, or was killed, or
// the network failed. A fleet of reconnecting chargers counts such calls
// apart (Report.Dropped): the charger connects again, and goes on.
type lost struct{ error }

func (e lost) Unwrap() error { return e.error }

// isLost reports whether err is a call's that its connection's end cut
// short.
func isLost(err error) bool {
	var l lost
	return errors.As(err, &l)
}
