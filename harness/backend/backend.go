// Package backend is the instrumented "database and analysis" that every
// step's server calls: it answers OCPP calls with the source workshop's
// latencies on whatever clock it runs under (fake time inside a
// testing/synctest bubble, scaled real time in make demo), records what it
// processed for whom and in which order, measures how many calls are in
// flight, and lets a test hold calls at a gate to look at them.
package backend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ocppkata/kata/harness/idtags"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/harness/store"
)

// Options configures a Backend. The zero value is an instant, non-blocking backend.
type Options struct {
	// Latencies is how long each piece of work takes. Zero: no delay.
	Latencies Latencies
	// Blocking makes every wait of the backend (latencies and gates) a
	// blocking system call, the way a driver written in C would block: each
	// caller then holds an OS thread for as long as it waits, and a context
	// cannot interrupt it. It needs Linux or macOS (see BlockingSupported);
	// elsewhere New panics with ErrBlockingUnsupported.
	Blocking bool

	// Store, if set, is where the backend keeps what stations tell it
	// (make serve: SQLite). An answer that depends on a write the store
	// refused is a CALLERROR InternalError, never a CALLRESULT: nothing the
	// store did not take is acknowledged.
	Store store.Store
	// NoRecords makes the backend keep no Record of each piece of work,
	// only the counts of Totals, so that a server that runs for days does
	// not grow with every call. Records, Batches and Written are then
	// empty, and StationPeak is 0: the backend keeps nothing per station
	// but what it answers with, and spends per call only what the answer,
	// Stats, Totals and its Observer and Tracer need (make serve).
	NoRecords bool
	// Observer, if set, is told of every call answered, batch written and
	// store error (make serve's metrics).
	Observer Observer
	// Tracer, if set, is told of every piece of work as it starts and ends
	// (make serve's live view draws them as the workers' lanes).
	Tracer Tracer
	// Logger, if set, receives a line for every store write that failed.
	Logger *slog.Logger
	// HeartbeatInterval is the interval, in seconds, that BootNotification
	// answers give. Zero means HeartbeatInterval.
	HeartbeatInterval int
	// IdTags is the list of idTags Authorize, StartTransaction and
	// StopTransaction answer for; nil accepts every tag.
	IdTags idtags.List
	// Registration is what BootNotification answers: Accepted (the zero
	// value), or Pending or Rejected, to see how stations take it. A
	// station whose last BootNotification was not Accepted gets a CALLERROR
	// SecurityError for anything else it sends (OCPP 1.6 §4.2: it should
	// send nothing but BootNotification, a Rejected one nothing at all
	// before the interval has passed).
	Registration ocpp.RegistrationStatus
}

// Observer is told what the backend does, as it does it. Its methods must
// return at once: they run on the paths that answer stations.
type Observer interface {
	// Call reports a call answered: its action, "ok" for a CALLRESULT or
	// "callerror", and how long the backend took to answer it.
	Call(action, result string, took time.Duration)
	// Batch reports a batch written, and how many items it held.
	Batch(size int)
	// StoreError reports a store write that failed, by operation.
	StoreError(op string)
}

// Tracer is told of each piece of work as it starts and as it ends, and
// of a call answered through Handle when its answer is sent (the worker
// still has its bookkeeping to do). Seq is the work's Record.Seq, the same
// in every call. Its methods are called outside the backend's lock and
// must return at once: they run on the paths that answer stations.
type Tracer interface {
	WorkStarted(seq int, w Work, at time.Time)
	WorkReplied(seq int)
	WorkEnded(seq int, w Work, start, end time.Time, err error)
}

// ErrBlockingUnsupported is why New refuses Options.Blocking where
// BlockingSupported is false. A test that needs the blocking flavour skips
// there first (kit.NeedBlocking).
var ErrBlockingUnsupported = errors.New("backend: Options.Blocking needs Linux or macOS: " +
	"the blocking backend waits in a Unix system call; use WSL")

// Kind tells the two kinds of work apart.
type Kind int

const (
	// KindCall is a call answered through Handle: the station waits for it.
	KindCall Kind = iota + 1
	// KindProcess is background processing through Process: nobody waits.
	KindProcess
	// KindBatch is a batch of background work written in one WriteBatch.
	KindBatch

	numKinds // the kinds above are below it
)

func (k Kind) String() string {
	switch k {
	case KindProcess:
		return "process"
	case KindBatch:
		return "batch"
	}
	return "call"
}

// Work describes one piece of work, for gates and records.
type Work struct {
	Kind    Kind
	Station string
	CallID  string
	Action  string
	// Worker is the name the caller put in the context with WithWorker.
	Worker string
}

// Record is one piece of work the backend did.
type Record struct {
	Work
	// Seq numbers the records in the order their work started, from 1.
	Seq int
	// Start is when the work began, Replied when Handle sent the reply (zero
	// for Process), End when the backend returned.
	Start, Replied, End time.Time
	// Err is why the work ended early (its context ended), or nil.
	Err error
	// Items is what a WriteBatch wrote (KindBatch only), in its order.
	Items []Item
	size  int // how many items a batch held, with or without Items
}

// Backend is safe for concurrent use. Create it with New inside the
// synctest bubble that uses it.
type Backend struct {
	opts  Options
	sleep func(context.Context, time.Duration) error

	mu sync.Mutex
	// changed is closed on the next change of state, and made again only
	// when an Await waits for one: nil while nobody waits, so that a call
	// costs no channel.
	changed   chan struct{}
	records   []*Record
	seq       int
	inFlight  int
	peak      int
	heldCount int
	stations  map[string]*stationState
	gates     atomic.Pointer[[]*Gate] // replaced whole by hold: a call reads it without the lock
	totals    Totals
	kindNow   [numKinds]int // in flight now, by kind
	free      sync.Pool     // *Record to reuse, with NoRecords

	seen      map[string]time.Time               // signs of life not yet handed to the store
	lastFlush atomic.Int64                       // when seen was last handed over, in Unix nanoseconds: written under mu
	booted    map[string]ocpp.RegistrationStatus // what each station's last BootNotification got
	// transactions gives transaction ids when there is no Options.Store.
	transactions store.Memory
	statuses     statusWriter // Options.Store's status notifications, in groups
}

type stationState struct {
	inFlight, peak [numKinds]int // by kind
}

// New returns a Backend. It panics with ErrBlockingUnsupported if
// opts.Blocking is set where BlockingSupported is false.
func New(opts Options) *Backend {
	if opts.Blocking && !BlockingSupported {
		panic(ErrBlockingUnsupported)
	}
	if opts.HeartbeatInterval <= 0 {
		opts.HeartbeatInterval = HeartbeatInterval
	}
	if opts.Registration == "" {
		opts.Registration = ocpp.RegistrationAccepted
	}
	b := &Backend{opts: opts, stations: make(map[string]*stationState),
		seen: make(map[string]time.Time), booted: make(map[string]ocpp.RegistrationStatus)}
	b.sleep = sleepOnTimer
	if opts.Blocking {
		b.sleep = sleepInSyscall
	}
	return b
}

type workerKey struct{}

// WithWorker returns a context naming the worker that does the work, so the
// backend's records (and the demo's timeline) can show who did what.
func WithWorker(ctx context.Context, name string) context.Context {
	return &workerContext{Context: ctx, name: name}
}

// workerContext is the context WithWorker returns. A step makes one for
// every call: as a type of its own it is one allocation, where
// context.WithValue with a string is two, and WorkerFrom reads it without
// a third.
type workerContext struct {
	context.Context
	name string
}

func (c *workerContext) Value(key any) any {
	if key == (workerKey{}) {
		return c.name
	}
	return c.Context.Value(key)
}

func (c *workerContext) String() string { return fmt.Sprintf("%v.WithWorker(%q)", c.Context, c.name) }

// WorkerFrom returns the worker named in ctx, or "".
func WorkerFrom(ctx context.Context) string {
	if c, ok := ctx.(*workerContext); ok {
		return c.name
	}
	name, _ := ctx.Value(workerKey{}).(string)
	return name
}

// Handle processes one call from a station the way a synchronous backend
// does: it spends the action's time, sends the answer with reply, then
// finishes its own bookkeeping. The caller is busy for Latencies.Total of the
// action. An error from reply is returned, as is the context's error if it
// ended before the reply (then no reply is sent).
func (b *Backend) Handle(ctx context.Context, station string, call *ocpp.Call, reply func(ocpp.Message) error) error {
	rec := b.begin(ctx, KindCall, station, call)
	err := b.wait(ctx, rec, b.opts.Latencies.Before+b.opts.Latencies.For(call.Action))
	if err == nil {
		answer := b.answer(ctx, station, call)
		if _, ok := answer.(*ocpp.CallResult); ok && processedLater(call.Action) {
			// Nobody processes it later on this road: it is stored
			// before the station hears it was.
			if err := b.persist(ctx, b.toStore([]Item{{Station: station, Call: call}})); err != nil {
				answer = notStored(call, err)
			}
		}
		answered := time.Now()
		b.observe(call.Action, answer, answered.Sub(rec.Start))
		b.flushSeen(ctx, false, answered) // an idle station's Heartbeats are its only news
		if !b.opts.NoRecords {            // only a record tells when it was answered
			b.mark(func() { rec.Replied = time.Now() })
		}
		err = reply(answer)
		if b.opts.Tracer != nil {
			b.opts.Tracer.WorkReplied(rec.Seq)
		}
	}
	if err == nil {
		// The station has its answer: a context ending now only cuts the
		// bookkeeping short, and the call still succeeded.
		b.sleep(ctx, b.opts.Latencies.After)
	}
	b.end(rec, err)
	b.done(rec)
	return err
}

// Process is the background analysis of a message whose station was already
// answered (with Answer): it takes the action's time and records the order in
// which each station's messages were processed.
func (b *Backend) Process(ctx context.Context, station string, call *ocpp.Call) error {
	rec := b.begin(ctx, KindProcess, station, call)
	w := b.toStore([]Item{{Station: station, Call: call}})
	err := b.wait(ctx, rec, b.opts.Latencies.For(call.Action))
	if err == nil {
		err = b.persist(ctx, w)
	}
	b.end(rec, err)
	b.done(rec)
	return err
}

// wait holds the work at any gate that matches it, then spends d.
func (b *Backend) wait(ctx context.Context, rec *Record, d time.Duration) error {
	if gates := b.gates.Load(); gates != nil {
		for _, g := range *gates {
			if !g.match(rec.Work) {
				continue
			}
			if err := g.wait(ctx); err != nil {
				return err
			}
		}
	}
	return b.sleep(ctx, d)
}

func (b *Backend) begin(ctx context.Context, kind Kind, station string, call *ocpp.Call) *Record {
	rec := b.newRecord()
	rec.Work = Work{Kind: kind, Station: station, CallID: call.ID, Action: call.Action, Worker: WorkerFrom(ctx)}
	return b.start(rec)
}

// newRecord returns an empty record: one that a call before this one
// left, if records are not kept (see done).
func (b *Backend) newRecord() *Record {
	if rec, ok := b.free.Get().(*Record); ok {
		return rec
	}
	return &Record{}
}

// done is the end of rec's use by Handle or Process: with NoRecords
// nothing else holds it (the tracer and the gates were given copies), so
// the next call may have it.
func (b *Backend) done(rec *Record) {
	if b.opts.NoRecords {
		*rec = Record{}
		b.free.Put(rec)
	}
}

// start records the beginning of rec's work.
func (b *Backend) start(rec *Record) *Record {
	b.mu.Lock()
	b.seq++
	rec.Seq = b.seq
	rec.Start = time.Now()
	if !b.opts.NoRecords {
		b.records = append(b.records, rec)
	}
	b.inFlight++
	b.peak = max(b.peak, b.inFlight)
	b.kindNow[rec.Kind]++
	switch rec.Kind {
	case KindCall:
		b.totals.PeakCalls = max(b.totals.PeakCalls, b.kindNow[rec.Kind])
	case KindProcess:
		b.totals.PeakProcessing = max(b.totals.PeakProcessing, b.kindNow[rec.Kind])
	}
	if rec.Kind != KindBatch && !b.opts.NoRecords { // a batch is many stations' work
		st := b.station(rec.Station)
		st.inFlight[rec.Kind]++
		st.peak[rec.Kind] = max(st.peak[rec.Kind], st.inFlight[rec.Kind])
	}
	b.notifyLocked()
	seq, w, at := rec.Seq, rec.Work, rec.Start
	b.mu.Unlock()
	if b.opts.Tracer != nil {
		b.opts.Tracer.WorkStarted(seq, w, at)
	}
	return rec
}

func (b *Backend) end(rec *Record, err error) {
	b.mu.Lock()
	rec.End = time.Now()
	rec.Err = err
	b.inFlight--
	b.kindNow[rec.Kind]--
	b.totals.Done++
	switch {
	case err != nil:
		b.totals.Failed++
	case rec.Kind == KindCall:
		b.totals.Calls++
	case rec.Kind == KindProcess:
		b.totals.Processed++
	case rec.Kind == KindBatch:
		b.totals.Batches++
		b.totals.Written += rec.size
	}
	if rec.Kind != KindBatch && !b.opts.NoRecords {
		b.station(rec.Station).inFlight[rec.Kind]--
	}
	b.notifyLocked()
	seq, w, start, end := rec.Seq, rec.Work, rec.Start, rec.End
	b.mu.Unlock()
	if b.opts.Tracer != nil {
		b.opts.Tracer.WorkEnded(seq, w, start, end, err)
	}
}

func (b *Backend) mark(f func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	f()
}

func (b *Backend) station(id string) *stationState {
	st, ok := b.stations[id]
	if !ok {
		st = &stationState{}
		b.stations[id] = st
	}
	return st
}

// notifyLocked wakes whoever awaits a change of state.
func (b *Backend) notifyLocked() {
	if b.changed != nil {
		close(b.changed)
		b.changed = nil
	}
}

// Stats is a snapshot of the in-flight gauge.
type Stats struct {
	// InFlight is how many calls are in the backend now; Peak is the most
	// there ever were at once.
	InFlight, Peak int
	// Done is how many pieces of work have ended.
	Done int
	// Held is how many are waiting at gates now.
	Held int
}

func (b *Backend) statsLocked() Stats {
	return Stats{InFlight: b.inFlight, Peak: b.peak, Done: b.totals.Done, Held: b.heldCount}
}

// Totals counts the work the backend has done, by kind. Unlike Records it
// costs nothing per call: it is what a backend with Options.NoRecords can
// still tell.
type Totals struct {
	// Calls, Processed and Batches count the work of each kind that
	// ended well; Written, the items in those batches.
	Calls, Processed, Batches, Written int
	// Failed counts the work that ended with an error (its context ended,
	// or the store refused it).
	Failed int
	// Done counts all the work that ended.
	Done int
	// PeakCalls and PeakProcessing are the most calls (Handle) and
	// background processing (Process) the backend ever had at once.
	PeakCalls, PeakProcessing int
}

// Registration returns what the station's last BootNotification was
// answered, or "" if it has sent none since the backend started.
func (b *Backend) Registration(station string) ocpp.RegistrationStatus {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.booted[station]
}

// Totals returns the counts so far.
func (b *Backend) Totals() Totals {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.totals
}

// Stats returns the current gauge.
func (b *Backend) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.statsLocked()
}

// StationPeak returns the most pieces of work of one kind the backend ever
// had in flight at once for one station. More than 1 means the station's
// messages were processed concurrently, so their order was not kept.
func (b *Backend) StationPeak(station string, kind Kind) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if st, ok := b.stations[station]; ok && kind >= 0 && kind < numKinds {
		return st.peak[kind]
	}
	return 0
}

// Records returns a copy of every record, in the order the work started.
func (b *Backend) Records() []Record {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Record, len(b.records))
	for i, r := range b.records {
		out[i] = *r
		out[i].Items = slices.Clone(r.Items)
	}
	return out
}

// StationRecords returns one station's records of the given kind, in the
// order the work started.
func (b *Backend) StationRecords(station string, kind Kind) []Record {
	return slices.DeleteFunc(b.Records(), func(r Record) bool { return r.Station != station || r.Kind != kind })
}

// Await blocks until cond holds for the backend's stats, or ctx ends. It is
// how a test outside a synctest bubble waits for "K calls in flight" without
// sleeping.
func (b *Backend) Await(ctx context.Context, cond func(Stats) bool) error {
	for {
		b.mu.Lock()
		ok := cond(b.statsLocked())
		if b.changed == nil {
			b.changed = make(chan struct{})
		}
		changed := b.changed
		b.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Hold returns a closed gate: work for which match is true waits at it, in
// flight, until the gate is opened. A nil match holds all work.
func (b *Backend) Hold(match func(Work) bool) *Gate { return b.hold(match, false) }

func (b *Backend) hold(match func(Work) bool, firm bool) *Gate {
	if match == nil {
		match = func(Work) bool { return true }
	}
	g := newGate(b, match)
	g.firm = firm
	b.mu.Lock()
	var gates []*Gate
	if old := b.gates.Load(); old != nil {
		gates = slices.Clip(*old)
	}
	gates = append(gates, g) // a new array: wait may be reading the old one
	b.gates.Store(&gates)
	b.mu.Unlock()
	return g
}

// HoldFirm is Hold for work that cannot be called back: a held piece of work
// stays held when its context ends, like a query already sent to a database,
// until the gate opens. A test holds work firmly to see whether whoever
// started it waits for it: a Close that returns while such work is still in
// the backend has left its goroutine running.
func (b *Backend) HoldFirm(match func(Work) bool) *Gate { return b.hold(match, true) }

func sleepOnTimer(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *Backend) held(delta int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.heldCount += delta
	b.notifyLocked()
}
