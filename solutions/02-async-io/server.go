// Package asyncio is step 02 of the kata: a central system that serves a
// thousand idle stations on a handful of OS threads.
package asyncio

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"sync"

	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/harness/wsconn"
)

// Config configures a Server.
type Config struct {
	// Backend answers every call. Required.
	Backend *backend.Backend
	// Workers is how many goroutines consume the queue of calls.
	// Zero means runtime.GOMAXPROCS(0).
	Workers int
	// Logger receives a line per call; nil discards them.
	Logger *slog.Logger
}

// Server is an OCPP 1.6-J central system. Each station's connection has a
// goroutine that reads its calls and puts them on one queue (the producers);
// workers take calls off the queue, let the backend answer them and send the
// answers back (the consumers).
type Server struct {
	cfg    Config
	ws     wsconn.Server
	queue  chan request
	ctx    context.Context // ends when the server closes
	cancel context.CancelFunc

	workers   sync.WaitGroup
	closeOnce sync.Once
}

// request is one call waiting in the queue, with the connection to answer on.
type request struct {
	conn *wsconn.Conn
	call *ocpp.Call
}

// New returns a Server whose workers are already waiting for calls.
func New(cfg Config) *Server {
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, queue: make(chan request)}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.ws.Handle = s.read
	s.ws.Logger = cfg.Logger
	s.startWorkers()
	return s
}

// startWorkers starts the consumers of the queue: Config.Workers goroutines
// receiving from the same channel, so each call goes to whichever is free.
func (s *Server) startWorkers() {
	for i := range s.cfg.Workers {
		name := fmt.Sprintf("worker-%d", i+1)
		s.workers.Go(func() { s.work(name) })
	}
}

// read is the producer: it runs in each station's connection goroutine and
// puts every call the station sends on the queue. While it waits, for the
// station in conn.Read or for a free worker on the queue, the runtime parks
// it and its OS thread runs other goroutines: a thousand idle stations cost
// a thousand small stacks, not a thousand threads. Only the workers call the
// backend, so only they can hold a thread in a blocking call.
func (s *Server) read(conn *wsconn.Conn) {
	for {
		msg, err := conn.Read()
		if err != nil {
			return
		}
		call, ok := msg.(*ocpp.Call)
		if !ok {
			continue // an answer to a call we never sent
		}
		select {
		case s.queue <- request{conn: conn, call: call}:
		case <-s.ctx.Done():
			return
		}
	}
}

// work is a consumer: it answers calls from the queue until the queue is closed.
func (s *Server) work(name string) {
	for req := range s.queue {
		s.handle(name, req)
	}
}

// handle lets the backend answer one call. The backend may block its OS
// thread while it works (a database driver written in C does).
func (s *Server) handle(worker string, req request) {
	station := req.conn.Station()
	s.cfg.Logger.Debug(req.call.Action, "station", station, "worker", worker)
	ctx := backend.WithWorker(s.ctx, worker)
	if err := s.cfg.Backend.Handle(ctx, station, req.call, req.conn.Send); err != nil {
		s.cfg.Logger.Warn("call failed", "station", station, "action", req.call.Action, "worker", worker, "err", err)
	}
}

// Serve accepts stations on l until Close is called.
func (s *Server) Serve(l net.Listener) error { return s.ws.Serve(l) }

// Close stops accepting stations, closes their connections, abandons the
// calls in progress, and returns once every goroutine the server started has
// ended. Close is idempotent.
func (s *Server) Close() error {
	s.cancel()
	err := s.ws.Close() // every reader has returned: nobody sends on the queue any more
	s.closeOnce.Do(func() { close(s.queue) })
	s.workers.Wait()
	return err
}
