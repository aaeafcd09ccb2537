package million

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
)

// Dropped counts, by kind, the messages that the server acknowledged and
// then never processed: the station was told "done", and it was not.
// Meter values are not among them: they are acknowledged once written.
type Dropped struct {
	// Processing is status notifications (and any message answered at
	// once but for meter values) whose background processing never ran.
	Processing int
}

// Total is how many acknowledged messages were dropped.
func (d Dropped) Total() int { return d.Processing }

// ShutdownError is what Shutdown returns when it could not finish what the
// server had acknowledged: its context ended first, or Close cut it short.
// It says exactly what was dropped.
type ShutdownError struct {
	Dropped Dropped
	Err     error // the context's error, or ErrAborted
}

func (e *ShutdownError) Error() string {
	return fmt.Sprintf("shutdown: %v: dropped %d acknowledged messages to process", e.Err, e.Dropped.Total())
}

func (e *ShutdownError) Unwrap() error { return e.Err }

// ErrAborted is the error of a Shutdown that Close cut short.
var ErrAborted = errors.New("shutdown: the server was closed")

// dropCounter counts what the server's goroutines drop as they give up;
// atomics, because many of them give up at once.
type dropCounter struct {
	processing atomic.Int64
}

func (c *dropCounter) counts() Dropped {
	return Dropped{Processing: int(c.processing.Load())}
}

// Shutdown stops the server gracefully: it stops accepting stations, stops
// reading from them, lets every message it acknowledged reach the backend
// (the processors' queues and the meter values' batches are drained) and
// the calls it read be answered, closes every station's connection with
// 1001 (going away), and returns nil once every goroutine the server
// started has ended.
//
// If ctx ends first, Shutdown abandons what is left, waits only for the
// goroutines to notice, and returns a *ShutdownError that wraps ctx's error
// and counts what was dropped. Shutdown is idempotent: a later call returns
// what the first one did. Close may be called meanwhile: it cuts the drain
// short, as a deadline does.
func (s *Server) Shutdown(ctx context.Context) error {
	// The deadline cancels the server's context: everything the server
	// does waits on it, so nothing hangs once it has ended.
	stop := context.AfterFunc(ctx, s.cancel)
	defer stop()
	s.stopOnce()
	if s.dropped.Total() == 0 && s.aborted == nil {
		return nil
	}
	err := s.aborted
	if ctx.Err() != nil {
		err = ctx.Err()
	}
	return &ShutdownError{Dropped: s.dropped, Err: err}
}

// stopOnce runs stop once, for Shutdown or Close, whichever comes first;
// a later or concurrent caller waits until it is done. (Not sync.Once: its
// waiters wait on a mutex, where a channel lets fake time pass.)
func (s *Server) stopOnce() {
	// 1. The cut-off: a reader adds itself to s.readers only under s.mu
	// and only before stopping is set, so stop's Wait cannot miss one.
	s.mu.Lock()
	first := !s.stopping
	s.stopping = true
	s.mu.Unlock()
	if first {
		s.stop()
		close(s.stopped)
	}
	<-s.stopped
}

// stop is the shutdown. The order is the lesson: each stage ends only once
// nothing can hand it more work.
func (s *Server) stop() {
	// 2. No new station; no Read returns a message from now on. The
	// connections stay open: the answers still have to go out.
	s.ws.StopReading()
	// 3. Every reader has handed on what it acknowledged (it waits for
	// room in a full queue: the processors are still running).
	s.readers.Wait()
	// 4. Nobody sends on the queue or to the processors any more: drain.
	close(s.queue)
	s.background.finish()
	// What Complete drops was never acknowledged: its stations send it
	// again, and it is not counted as lost.
	_, err := s.meter.Complete(s.ctx, true)
	s.workers.Wait()
	s.answers.Wait()
	s.background.stop()
	s.drops.processing.Add(int64(s.background.left()))
	// 5. Tell every station we are going away, and wait for the handlers.
	close(s.drained)
	s.goodbyes.Wait()
	closeErr := s.ws.Close()
	s.stopPolling()
	// Every station has left, and its subscription with it: no call is
	// routed here any more.
	s.stopCluster()
	s.dropped = s.drops.counts()
	switch {
	case err != nil || s.ctx.Err() != nil:
		s.aborted = ErrAborted
	}
	s.closeErr = closeErr
	s.cancel()
}
