// Package million is step 11 of the kata: step 10's central system, where
// an idle station costs no goroutine. After the handshake, a station's
// connection is handed to a poller, which watches every socket at once; a
// goroutine reads a station only while it has something to say.
package million

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/netpoll"
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
	// CallTimeout bounds how long Call waits for a station's answer,
	// counted from the moment the call is sent (the wait for the station's
	// boot and turn does not count): Call gives up then, or at its
	// context's deadline if that comes first, with context.DeadlineExceeded.
	// Zero means DefaultCallTimeout.
	CallTimeout time.Duration

	// The edge (edge.go).

	// MaxFrameSize is the largest frame a station may send, in bytes; a
	// larger one closes its connection with 1009 (message too big). Zero
	// means DefaultMaxFrameSize.
	MaxFrameSize int64
	// WriteTimeout bounds how long a station may take to accept a frame
	// the server sends it (an answer, a call, a ping); a station that does
	// not read for that long is disconnected. Zero means
	// DefaultWriteTimeout.
	WriteTimeout time.Duration
	// PingInterval is how often the server pings each station. Zero means
	// DefaultPingInterval.
	PingInterval time.Duration
	// DeadAfter is how long a station may stay silent (no frame, no pong)
	// before the server takes it for dead and closes its connection. Some
	// chargers never answer pings, so it must be well above the heartbeat
	// interval. Zero means DefaultDeadAfter.
	DeadAfter time.Duration
	// AuthKeys, if not nil, turns on HTTP Basic authentication (OCPP
	// security profile 1): a station connects only with its id as the user
	// name and AuthKeys[id] as the password.
	AuthKeys map[string]string

	// The cluster (cluster.go).

	// Node names this node among the nodes that share NATS: the stations
	// it takes over and the calls it routes say which node it is. Empty
	// means "node".
	Node string
	// NATS connects the node to the others. nil: the node is a cluster of
	// one, and its calls reach only the stations connected to it.
	NATS *nats.Conn
	// KeepAlive is how often a node that works on a call routed to it
	// tells the caller's node that it is still alive. The caller's node
	// takes it for dead after two KeepAlives of silence, and fails the
	// call with ErrDisconnected. Zero means DefaultKeepAlive.
	KeepAlive time.Duration
}

// Defaults of a zero Config.
const (
	DefaultIdleTimeout  = 30 * time.Second
	DefaultQueueLimit   = 16
	DefaultProcessLimit = 32
	DefaultCallTimeout  = 30 * time.Second

	DefaultMaxFrameSize = 64 << 10
	DefaultWriteTimeout = 10 * time.Second
	DefaultPingInterval = time.Minute
	DefaultDeadAfter    = 2 * backend.HeartbeatInterval * time.Second

	DefaultKeepAlive = time.Second
)

// Server is an OCPP 1.6-J central system. A poller watches every station's
// connection, and a reader reads a station while it has something to say
// and puts its calls on one queue (the producers);
// workers take calls off the queue and let the backend answer them (the
// consumers); each answer is written by a goroutine of its own, so that no
// worker waits on a station's socket, and a station has one call with the
// workers at a time. Meter values and status notifications skip the queue:
// status notifications are answered at once and processed in the
// background; meter values are written in batches by a Batcher, and each
// is answered once the batch holding it is written. The server also calls
// stations itself (Call), and each connection's reader routes the answers
// back to the callers.
type Server struct {
	cfg    Config
	ws     wsconn.Server
	queue  chan request
	ctx    context.Context // ends when the server closes
	cancel context.CancelFunc

	workers    sync.WaitGroup
	answers    sync.WaitGroup // the answers of workers and pushes being written
	background background
	meter      *Batcher[meterValue] // meter values, to be written in batches
	slotNames  []string             // the backend's name for each slot's writes
	calls      calls                // the server's own calls to stations
	cluster    cluster              // the other nodes, through NATS

	// The poller's side (reader.go): nil poller where there is none.
	poller      *netpoll.Poller
	polling     sync.WaitGroup // the goroutine that waits on the poller, and the readers it starts
	readBuffers sync.Pool      // *[]byte of readSize, lent for one readable event

	// The shutdown. A reader counts itself in readers under mu, and only
	// while stopping is false: once stopOnce has set it, readers.Wait sees
	// every reader there will ever be.
	mu       sync.Mutex
	stopping bool
	readers  sync.WaitGroup
	goodbyes sync.WaitGroup // readers about to close their station with 1001
	drained  chan struct{}  // closed once everything acknowledged is processed
	stopped  chan struct{}  // closed once stop has returned
	drops    dropCounter
	// Set by stop, read after stopped is closed.
	dropped  Dropped
	aborted  error
	closeErr error
}

// request is one call waiting in the queue, with the connection to answer on
// and the station's turn, to give back once the call is answered.
type request struct {
	link *link
	call *ocpp.Call
	turn chan struct{}
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
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	if cfg.MaxFrameSize <= 0 {
		cfg.MaxFrameSize = DefaultMaxFrameSize
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = DefaultPingInterval
	}
	if cfg.DeadAfter <= 0 {
		cfg.DeadAfter = DefaultDeadAfter
	}
	if cfg.Node == "" {
		cfg.Node = "node"
	}
	if cfg.KeepAlive <= 0 {
		cfg.KeepAlive = DefaultKeepAlive
	}
	s := &Server{cfg: cfg, queue: make(chan request), drained: make(chan struct{}), stopped: make(chan struct{})}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.ws.Accept = s.accept
	s.ws.Handle = s.serve
	s.ws.Logger = cfg.Logger
	s.startWorkers()
	s.background.start(s.ctx, cfg, &s.drops)
	s.cfg.Batch = cfg.Batch.withDefaults()
	for i := range s.cfg.Batch.Slots {
		s.slotNames = append(s.slotNames, fmt.Sprintf("slot-%d", i))
	}
	s.meter = NewBatcher(s.cfg.Batch, s.writeMeterValues)
	s.calls.init(cfg.Logger)
	s.startCluster()
	s.readBuffers.New = func() any { b := make([]byte, 0, readSize); return &b }
	s.startPolling()
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

// read is the producer for a station whose connection the poller cannot
// watch (one over TLS, or an in-memory pipe): a goroutine of its own reads
// its calls, as in step 10, and parks in conn.Read while the station is
// idle. Every other station is read by the poller's readers (reader.go).
func (s *Server) read(conn *wsconn.Conn) {
	l, ok := s.begin(conn)
	if !ok {
		return // the server is shutting down: the connection is closed
	}
	// A station has one call with the workers at a time: OCPP-J lets it
	// send the next only once this one is answered. One that sends without
	// waiting, or never reads its answers, holds one worker at the most, and
	// only while the backend works on its call.
	turn := make(chan struct{}, 1)
	for {
		msg, err := s.readMessage(l)
		if err != nil {
			s.end(l, errors.Is(err, wsconn.ErrStopped))
			return
		}
		if !s.handleMessage(l, turn, msg) {
			s.end(l, false)
			return
		}
	}
}

// begin counts a station's connection in s.readers, links it and claims
// its station for this node, before its first message is read. It reports
// false if the shutdown has begun: then the connection must not be read.
func (s *Server) begin(conn *wsconn.Conn) (*link, bool) {
	if !s.addReader() {
		return nil, false
	}
	l, older := s.calls.connect(conn)
	if older != nil {
		s.secondConnection(older, l)
	}
	// Before the station is heard: once its BootNotification is answered,
	// a call to it from any node must reach this connection.
	s.claim(l)
	return l, true
}

// end ends the reading of l's station: it went away, or the server
// stopped reading (then stopped is true).
func (s *Server) end(l *link, stopped bool) {
	defer s.leave(l)
	if !stopped {
		s.calls.disconnect(l, ErrDisconnected)
		s.readers.Done()
		return
	}
	// The server stopped reading: no answer to its calls can come any
	// more, so they fail now. Keep the connection open until what was read
	// is answered and processed (or the shutdown gives up), then say
	// goodbye.
	s.calls.disconnect(l, ErrShuttingDown)
	s.goodbyes.Add(1) // before readers.Done: stop waits for both in turn
	s.readers.Done()
	defer s.goodbyes.Done()
	select {
	case <-s.drained:
	case <-s.ctx.Done():
	}
	l.conn.CloseGoingAway()
}

// addReader counts a new reader in s.readers, unless the shutdown has
// begun: then it reports false, and the reader must not start.
func (s *Server) addReader() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return false
	}
	s.readers.Add(1)
	return true
}

// handleMessage hands on one message of l's station, and reports false if
// the station's reading must end: its connection closed, or the server's
// context ended, before the message was acknowledged. turn is the
// station's: a token while one of its calls is with the workers. It waits
// while the station's turn, a worker or room in a full queue is not free:
// the station's socket is not read meanwhile, and TCP pushes back.
func (s *Server) handleMessage(l *link, turn chan struct{}, msg ocpp.Message) bool {
	conn := l.conn
	call, ok := msg.(*ocpp.Call)
	if !ok {
		s.calls.answer(l, msg) // the answer to one of the server's calls
		return true
	}
	if processedLater(call.Action) {
		answer := s.cfg.Backend.Answer(conn.Station(), call)
		if _, ok := answer.(*ocpp.CallResult); ok && call.Action == ocpp.ActionMeterValues {
			// Meter values are what the station bills by, and it deletes
			// what was acknowledged: the answer waits for the write of the
			// batch holding it (writeMeterValues sends it). A station's
			// meter values all go to its slot, so they are batched in the
			// order they came. While the slot is full, Add waits, and this
			// reader with it: TCP pushes back.
			mv := meterValue{Item: backend.Item{Station: conn.Station(), Call: call}, conn: conn, answer: answer}
			return s.meter.Add(s.ctx, slotOf(conn.Station(), len(s.slotNames)), mv) == nil // if not, not acknowledged: the station sends it again
		}
		// A status needs only an acknowledgement: send it now and leave
		// the analysis to the background.
		if err := conn.Send(answer); err != nil {
			return false
		}
		if _, ok := answer.(*ocpp.CallResult); !ok {
			return true
		}
		// While the station's queue is full this waits, and the station's
		// socket is not read: TCP pushes back on the station that floods,
		// and on nobody else.
		if !s.background.enqueue(conn.Station(), call) {
			s.drops.processing.Add(1) // acknowledged, and lost
			return false
		}
		return true
	}
	// While it waits for its turn or a worker, the connection may be
	// closed (a newer one of the station took over, its answer's write
	// failed): then the call goes nowhere. A station that reconnects in a
	// loop leaves no reader behind it, and no worker spends a backend's time
	// on a call whose answer nobody can read. (The queue has no buffer: a
	// call not taken by a worker is still here.)
	select {
	case turn <- struct{}{}: // its last call is answered
	case <-conn.Done():
		return false
	case <-s.ctx.Done():
		return false
	}
	select {
	case s.queue <- request{link: l, call: call, turn: turn}:
		return true
	case <-conn.Done():
		return false
	case <-s.ctx.Done():
		return false
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

// meterValue is a meter value waiting for its batch to be written, with
// the answer it gets once it is.
type meterValue struct {
	backend.Item
	conn   *wsconn.Conn
	answer ocpp.Message
}

// writeMeterValues is the Batcher's push: one backend write per batch, and
// only then the answers of everything in it (a group commit). A batch that
// was not written is answered with a CALLERROR: the stations send its
// meter values again, and nothing they were told is stored is lost, not
// even by a crash. Like the workers, a push hands each answer to a
// goroutine of its own: a station that does not read holds no batch.
func (s *Server) writeMeterValues(ctx context.Context, slot int, batch []meterValue) {
	ctx = backend.WithWorker(ctx, s.slotNames[slot])
	items := make([]backend.Item, len(batch))
	for i := range batch {
		items[i] = batch[i].Item
	}
	err := s.cfg.Backend.WriteBatch(ctx, items)
	if err != nil {
		s.cfg.Logger.Warn("meter values not written", "slot", slot, "values", len(batch), "err", err)
	}
	for _, mv := range batch {
		answer := mv.answer
		if err != nil {
			answer = ocpp.NewCallError(mv.Call.ID, ocpp.InternalError, "not written, send it again: "+err.Error())
		}
		s.answers.Go(func() {
			if err := mv.conn.Send(answer); err != nil {
				s.cfg.Logger.Warn("answer not sent", "station", mv.Station, "action", mv.Call.Action, "err", err)
			}
		})
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
	station := req.link.conn.Station()
	s.cfg.Logger.Debug(req.call.Action, "station", station, "worker", worker)
	ctx := backend.WithWorker(s.ctx, worker)
	replied := false
	// No worker waits for a station to take its answer: a goroutine of the
	// answer's own writes it, and gives the station its turn back once it
	// is out (or the write gave up, after WriteTimeout). A station that
	// stops reading holds that goroutine, and nothing anyone else needs.
	send := func(m ocpp.Message) error {
		replied = true
		s.answers.Go(func() {
			defer func() { <-req.turn }()
			if err := req.link.conn.Send(m); err != nil {
				s.cfg.Logger.Warn("answer not sent", "station", station, "action", req.call.Action, "err", err)
				return
			}
			// The station listens to the server's calls once it has read
			// that it was accepted: let them go only after this answer.
			if req.call.Action == ocpp.ActionBootNotification && bootAccepted(m) {
				s.calls.booted(req.link)
			}
		})
		return nil
	}
	if err := s.cfg.Backend.Handle(ctx, station, req.call, send); err != nil {
		s.cfg.Logger.Warn("call failed", "station", station, "action", req.call.Action, "worker", worker, "err", err)
	}
	if !replied {
		<-req.turn
	}
}

// Processors returns how many station processors are alive now.
func (s *Server) Processors() int { return s.background.live() }

// Queued returns how many of the station's calls wait in its queue for
// background processing now: never more than Config.QueueLimit.
func (s *Server) Queued(station string) int { return s.background.queued(station) }

// Serve accepts stations on l until Close is called.
func (s *Server) Serve(l net.Listener) error { return s.ws.Serve(l) }

// Close stops accepting stations, closes their connections (which fails
// the server's calls still waiting for an answer), abandons the calls in
// progress, the background work not yet done and the meter values not yet
// written (which were not acknowledged either),
// and returns once every goroutine the server started has ended. Close is
// idempotent, and may be called during a Shutdown: it cuts the drain short.
func (s *Server) Close() error {
	s.cancel()
	s.stopOnce()
	return s.closeErr
}
