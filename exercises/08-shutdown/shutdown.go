package shutdown

import (
	"context"
	"errors"
	"fmt"
)

// Dropped counts, by kind, the messages that the server acknowledged and
// then never processed: the station was told "done", and it was not.
type Dropped struct {
	// Processing is status notifications (and any message answered at
	// once but for meter values) whose background processing never ran.
	Processing int
	// MeterValues is meter values never written.
	MeterValues int
}

// Total is how many acknowledged messages were dropped.
func (d Dropped) Total() int { return d.Processing + d.MeterValues }

// ShutdownError is what Shutdown returns when it could not finish what the
// server had acknowledged: its context ended first, or Close cut it short.
// It says exactly what was dropped.
type ShutdownError struct {
	Dropped Dropped
	Err     error // the context's error, or ErrAborted
}

func (e *ShutdownError) Error() string {
	return fmt.Sprintf("shutdown: %v: dropped %d acknowledged messages (%d to process, %d meter values)",
		e.Err, e.Dropped.Total(), e.Dropped.Processing, e.Dropped.MeterValues)
}

func (e *ShutdownError) Unwrap() error { return e.Err }

// ErrAborted is the error of a Shutdown that Close cut short.
var ErrAborted = errors.New("shutdown: the server was closed")

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
//
// For now it is Close: everything the server acknowledged and has not
// processed yet is lost, and nobody is told how much.
func (s *Server) Shutdown(ctx context.Context) error {
	return s.Close()
}
