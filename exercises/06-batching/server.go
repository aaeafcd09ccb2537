// Package batching is step 06 of the kata: a central system that writes
// meter values in batches.
package batching

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"time"

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
	// IdleTimeout is how long a station's processor may sit idle before it
	// is stopped. Zero means DefaultIdleTimeout.
	IdleTimeout time.Duration
	// QueueLimit is how many of a station's calls may wait for background
	// processing. While a station's queue is full, the server reads nothing
	// more from it. Zero means DefaultQueueLimit.
	QueueLimit int
	// ProcessLimit is how many calls the background processes at once,
	// across all stations. Zero means DefaultProcessLimit.
	ProcessLimit int
	// Batch configures the Batcher that writes meter values; each station
	// has its slot, by a hash of its id. Zero fields take their defaults.
	Batch BatchConfig
}

// Defaults of a zero Config.
const (
	DefaultIdleTimeout  = 30 * time.Second
	DefaultQueueLimit   = 16
	DefaultProcessLimit = 32
)

// Server is an OCPP 1.6-J central system. Each station's connection has a
// goroutine that reads its calls and puts them on one queue (the producers);
// workers take calls off the queue, let the backend answer them and send the
// answers back (the consumers). Meter values and status notifications skip
// the queue: they are answered at once and processed in the background,
// meter values in batches, written by a Batcher.
type Server struct {
	cfg    Config
	ws     wsconn.Server
	queue  chan request
	ctx    context.Context // ends when the server closes
	cancel context.CancelFunc

	workers    sync.WaitGroup
	closeOnce  sync.Once
	background background
	meter      *Batcher[backend.Item] // meter values, to be written in batches
	slotNames  []string               // the backend's name for each slot's writes
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
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.QueueLimit <= 0 {
		cfg.QueueLimit = DefaultQueueLimit
	}
	if cfg.ProcessLimit <= 0 {
		cfg.ProcessLimit = DefaultProcessLimit
	}
	s := &Server{cfg: cfg, queue: make(chan request)}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.ws.Handle = s.read
	s.ws.Logger = cfg.Logger
	s.startWorkers()
	s.background.start(s.ctx, cfg)
	s.cfg.Batch = cfg.Batch.withDefaults()
	for i := range s.cfg.Batch.Slots {
		s.slotNames = append(s.slotNames, fmt.Sprintf("slot-%d", i))
	}
	s.meter = NewBatcher(s.cfg.Batch, s.writeMeterValues)
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
// a thousand small stacks, not a thousand threads. Of the backend, read
// calls only Answer, which never waits: the slow work is the workers' and
// the background's.
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
		if processedLater(call.Action) {
			// The station needs only an acknowledgement: send it now and
			// leave the analysis to the background.
			answer := s.cfg.Backend.Answer(conn.Station(), call)
			if err := conn.Send(answer); err != nil {
				return
			}
			if _, ok := answer.(*ocpp.CallResult); !ok {
				continue
			}
			if call.Action == ocpp.ActionMeterValues {
				// A station's meter values all go to its slot, so they are
				// batched in the order they came. While the slot is full,
				// Add waits, and this reader with it: TCP pushes back.
				item := backend.Item{Station: conn.Station(), Call: call}
				if s.meter.Add(s.ctx, slotOf(conn.Station(), len(s.slotNames)), item) != nil {
					return
				}
				continue
			}
			// While the station's queue is full this waits, and the
			// station's socket is not read: TCP pushes back on the
			// station that floods, and on nobody else.
			if !s.background.enqueue(conn.Station(), call) {
				return
			}
			continue
		}
		select {
		case s.queue <- request{conn: conn, call: call}:
		case <-s.ctx.Done():
			return
		}
	}
}

// processedLater reports whether the server answers an action at once and
// processes its data in the background.
func processedLater(action string) bool {
	return action == ocpp.ActionMeterValues || action == ocpp.ActionStatusNotification
}

// slotOf returns a station's slot: a hash of its id (FNV-1a), so that a
// station always has the same one.
func slotOf(station string, slots int) int {
	h := uint32(2166136261)
	for i := range len(station) {
		h ^= uint32(station[i])
		h *= 16777619
	}
	return int(h % uint32(slots))
}

// writeMeterValues is the Batcher's push: one backend write per batch.
func (s *Server) writeMeterValues(ctx context.Context, slot int, batch []backend.Item) {
	ctx = backend.WithWorker(ctx, s.slotNames[slot])
	if err := s.cfg.Backend.WriteBatch(ctx, batch); err != nil {
		s.cfg.Logger.Warn("meter values not written", "slot", slot, "values", len(batch), "err", err)
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

// Processors returns how many station processors are alive now.
func (s *Server) Processors() int { return s.background.live() }

// Queued returns how many of the station's calls wait in its queue for
// background processing now: never more than Config.QueueLimit.
func (s *Server) Queued(station string) int { return s.background.queued(station) }

// Serve accepts stations on l until Close is called.
func (s *Server) Serve(l net.Listener) error { return s.ws.Serve(l) }

// Close stops accepting stations, closes their connections, abandons the
// calls in progress and the background work not yet done (meter values
// included), and returns once every goroutine the server started has
// ended. Close is idempotent.
func (s *Server) Close() error {
	s.cancel()
	err := s.ws.Close() // every reader has returned: nobody sends on the queue any more
	s.closeOnce.Do(func() {
		close(s.queue)
		s.background.stop()
		// s.ctx has ended: the meter values not yet written are dropped.
		if dropped, _ := s.meter.Complete(s.ctx, false); len(dropped) > 0 {
			s.cfg.Logger.Warn("meter values dropped at close", "values", len(dropped))
		}
	})
	s.workers.Wait()
	return err
}
