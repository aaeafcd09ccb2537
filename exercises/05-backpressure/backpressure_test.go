package backpressure_test

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	backpressure "github.com/ocppkata/kata/exercises/05-backpressure"
	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/kit"
	"github.com/ocppkata/kata/harness/memnet"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/stations/station"
)

// The tests run on fake time over the in-memory network, where a write
// completes only once the other side has read it: a server that stops
// reading a station stops the station's writes, as TCP would. The backend
// answers and processes at once; gates hold a station's processing where a
// test needs its queue to fill.

const (
	queueLimit   = 8 // Config.QueueLimit
	processLimit = 4 // Config.ProcessLimit
	// plentySlots is Config.ProcessLimit in the tests that are about a
	// station's queue, not about the cap on processing: more than all the
	// calls they send, so that a mistake in the cap shows in
	// TestBackgroundCapped, which is about it, and not as a flood that
	// stalls.
	plentySlots = 1000
	workers     = 4
	// slack is what a station may have sent beyond its queue and the call
	// being processed: one call its reader holds while it waits for room, and
	// one its processor holds while it waits for a slot.
	slack = 2
	// longHold is how long a flood's processing stays held at call
	// longHoldAt: far longer than any wait a reader might give up after. A
	// station's queue may stay full for as long as its processing is slow.
	longHold   = time.Hour
	longHoldAt = 40
)

// floodHolds are the flooder's calls at which the flood tests hold its
// processing. Call 3 comes right after the queue filled behind call 2: a
// processor that takes its whole queue at once holds all of it then.
var floodHolds = []int{2, 3, longHoldAt, 80}

var flooder = station.StationID(1)

// newServer starts a server with the suite's Config and the given
// Config.ProcessLimit.
func newServer(t *testing.T, b *backend.Backend, slots int) (*backpressure.Server, *memnet.Listener) {
	srv := backpressure.New(backpressure.Config{
		Backend: b, Workers: workers, QueueLimit: queueLimit, ProcessLimit: slots,
	})
	return srv, kit.Serve(t, srv)
}

// A pause is what a flood looked like while the flooder's processing was
// held at one of its calls.
type pause struct {
	heldAt int // the call id the flooder's processing is held at
	// reached is whether the flood got there at the instant it began, or
	// the previous hold was let go: the backend answers at once, so a
	// station read again as soon as its queue has room needs no fake time
	// to get from one hold to the next.
	reached  bool
	held     time.Duration // how long the processing stayed held before the pause was read
	queued   int           // Server.Queued(flooder)
	sent     int           // meter values the flooder has written
	answered int           // meter values acknowledged
	started  int           // meter values whose processing has begun
}

// A floodRun is a flood whose processing was held at some of its calls.
type floodRun struct {
	*flood
	pauses []pause
	// let is when the last hold was let go, done when the flood's last
	// answer came.
	let, done time.Time
}

// floodHeld floods the server from CS0001 with n meter values, holding its
// processing at each of the call ids in holds in turn (longHoldAt for
// longHold, if the flood reached it), and reads the pause at each. Then it
// lets the flood finish and waits for its last answer. It returns false
// once it has failed the test.
func floodHeld(t *testing.T, b *backend.Backend, srv *backpressure.Server, l *memnet.Listener, n int, holds ...int) (*floodRun, bool) {
	t.Helper()
	gates := make([]*backend.Gate, len(holds))
	for i, id := range holds {
		call := strconv.Itoa(id)
		gates[i] = b.Hold(func(w backend.Work) bool {
			return w.Kind == backend.KindProcess && w.Station == flooder && w.CallID == call
		})
		t.Cleanup(gates[i].Open)
	}
	run := &floodRun{flood: startFlood(t, kit.Boot(t, l, 1), n)}
	for i, gate := range gates {
		kit.Settle(t, gates...)
		p := pause{heldAt: holds[i], reached: gate.Waiting() > 0}
		if holds[i] == longHoldAt && p.reached {
			// The flooder's queue is full, and stays full for an hour.
			time.Sleep(longHold)
			p.held = longHold
			kit.Settle(t, gates...)
		}
		queued, ok := queuedOf(t, srv, flooder, gates...)
		if !ok {
			return run, false
		}
		p.queued, p.sent, p.answered, p.started = queued, int(run.sent.Load()), int(run.answered.Load()), started(b, flooder)
		run.pauses = append(run.pauses, p)
		run.let = time.Now()
		gate.Open()
	}
	if _, ok := kit.Await(t, run.flood.done); !ok {
		t.Errorf("%s's flood of %d meter values did not end within a minute once nothing held it: "+
			"%d written, %d acknowledged", flooder, n, run.sent.Load(), run.answered.Load())
		return run, false
	}
	run.done = time.Now()
	return run, true
}

// lostUpTo counts the flooder's meter values among the first answered
// that were never processed: acknowledged, then dropped.
func lostUpTo(b *backend.Backend, answered int) int {
	done := make(map[int]bool)
	for _, id := range kit.Processed(b, flooder) {
		done[id] = true
	}
	lost := 0
	for id := 2; id < 2+answered; id++ { // the flood's calls are 2, 3, …: 1 was the BootNotification
		if !done[id] {
			lost++
		}
	}
	return lost
}

func TestQueueBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := backend.New(backend.Options{})
		srv, l := newServer(t, b, plentySlots)
		const n = 100
		run, ok := floodHeld(t, b, srv, l, n, floodHolds...)
		if !ok {
			return
		}
		kit.Settle(t)
		// A meter value acknowledged and then dropped is not held: losing it
		// is TestFloodLosesNothing's to report. What this test counts is
		// what the server holds.
		peakQueued, peakWaiting := 0, 0
		for i, p := range run.pauses {
			run.pauses[i].answered -= lostUpTo(b, p.answered)
			p = run.pauses[i]
			peakQueued, peakWaiting = max(peakQueued, p.queued), max(peakWaiting, p.answered-p.started)
		}
		for _, p := range run.pauses {
			if p.queued > queueLimit {
				t.Errorf("%s flooded %d meter values while its processing was held at call %d: Queued(%s) = %d, want at most %d "+
					"(Config.QueueLimit). A queue without a bound holds whatever a station sends, until the server runs out of memory",
					flooder, n, p.heldAt, flooder, p.queued, queueLimit)
				return
			}
			if waiting := p.answered - p.started; waiting > queueLimit+slack {
				t.Errorf("%s flooded %d meter values while its processing was held at call %d: %d were acknowledged and not yet "+
					"processed (nor dropped), want at most %d (Config.QueueLimit, plus the one its reader holds and the one its "+
					"processor holds), though Queued(%s) said %d. Every acknowledged call the server holds is memory the station "+
					"decides on: calls waiting for room (a goroutine each, say), or taken out of the queue all at once and not yet "+
					"begun, are held beyond the bound",
					flooder, n, p.heldAt, waiting, queueLimit+slack, flooder, p.queued)
				return
			}
		}
		t.Logf("%s flooded %d meter values: at most %d acknowledged and not yet processed; Queued(%s) at most %d (Config.QueueLimit %d)",
			flooder, n, peakWaiting, flooder, peakQueued, queueLimit)
	})
}

func TestFloodPushedBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := backend.New(backend.Options{})
		srv, l := newServer(t, b, plentySlots)
		const n = 100
		run, ok := floodHeld(t, b, srv, l, n, floodHolds...)
		if !ok {
			return
		}
		for i, p := range run.pauses {
			if !p.reached {
				from := "it began"
				if i > 0 {
					from = fmt.Sprintf("its processing was let go at call %d", run.pauses[i-1].heldAt)
				}
				t.Errorf("once %s, %s's flood did not reach call %d at that instant of fake time, want it there at once "+
					"(the backend processes at once here): it had %d written, %d acknowledged, %d processed, and Queued(%s) = %d "+
					"of %d, so its reader was waiting for something other than room in the queue. A station pushed back must be read again the "+
					"instant its queue has room: wait on the send itself (a select on the queue and the server's context), "+
					"not by sleeping and trying again",
					from, flooder, p.heldAt, p.sent, p.answered, p.started, flooder, p.queued, queueLimit)
				return
			}
			if ahead := p.sent - p.started; ahead > queueLimit+slack {
				held := ""
				if p.held > 0 {
					held = fmt.Sprintf(", and had been for %v of fake time", p.held)
				}
				t.Errorf("while %s's processing was held at call %d%s, the server read %d more of its meter values than it had begun "+
					"to process (%d written, %d processed), want at most %d: when a station's queue is full, stop reading "+
					"its connection for as long as it stays full. Its writes then stall and TCP slows the station down; reading on "+
					"means queueing without a bound, dropping (at once, or after a wait that gives up), or waiting somewhere that "+
					"holds up other stations",
					flooder, p.heldAt, held, ahead, p.sent, p.started, queueLimit+slack)
				return
			}
		}
		if err := run.err(); err != nil {
			t.Errorf("%s's flood, once nothing held it: %v", flooder, err)
		}
		if got := int(run.answered.Load()); got != n {
			t.Errorf("%d of %s's %d meter values were acknowledged once nothing held its processing, want all: "+
				"a station pushed back must be read again as soon as its queue has room", got, flooder, n)
		}
		if late := run.done.Sub(run.let); late != 0 {
			t.Errorf("%s's last meter value was acknowledged %v of fake time after its processing was let go at call %d, "+
				"want at that instant (the backend processes at once here): a station pushed back must be read again the "+
				"instant its queue has room, not a poll's period later", flooder, late, run.pauses[len(run.pauses)-1].heldAt)
		}
	})
}

func TestFloodLosesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := backend.New(backend.Options{})
		srv, l := newServer(t, b, plentySlots)
		const n = 100
		f, ok := floodHeld(t, b, srv, l, n, floodHolds...)
		if !ok {
			return
		}
		if err := f.err(); err != nil {
			t.Errorf("%s's flood: %v", flooder, err)
		}
		kit.Settle(t)
		got, want := kit.Processed(b, flooder), kit.IDs(2, n)
		if !slices.Equal(got, want) {
			lost, twice := diff(want, got)
			t.Errorf("%s's %d meter values were processed as %s, want each once and in order (calls 2 to %d): "+
				"%d lost, %d processed twice, %d out of order. A call the server acknowledged is a promise: "+
				"it must be processed, once, after the ones before it, however long its queue stays full (an hour here)",
				flooder, n, list(got, 12), n+1, lost, twice, station.OutOfOrder(got))
		}
	})
}

func TestNormalStationsServed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := backend.New(backend.Options{})
		gate := b.Hold(func(w backend.Work) bool { return w.Kind == backend.KindProcess && w.Station == flooder })
		t.Cleanup(gate.Open)
		_, l := newServer(t, b, plentySlots)

		// CS0001's processing is held, so its queue fills and stays full.
		f := startFlood(t, kit.Boot(t, l, 1), 100)
		kit.Settle(t, gate)

		// Meanwhile, the others run charging sessions.
		const normal = 20
		start := time.Now()
		done := make(chan struct{})
		var mu sync.Mutex
		var failed []string
		var wg sync.WaitGroup
		for i := range normal {
			st := kit.Dial(t, l, i+2)
			t.Cleanup(func() { st.Close() })
			wg.Go(func() {
				if _, err := st.Session(t.Context()); err != nil {
					mu.Lock()
					failed = append(failed, fmt.Sprintf("%s: %v", st.ID(), err))
					mu.Unlock()
				}
			})
		}
		go func() { wg.Wait(); close(done) }()
		if _, ok := kit.Await(t, done, gate); !ok {
			t.Errorf("while %s flooded and its queue was full, %d other stations' charging sessions did not end "+
				"within a minute, want them over at once (the backend answers at once here): a full queue must hold "+
				"up its own station's reader and nobody else. Look for what the stations share: a lock held while "+
				"waiting for room, one goroutine that hands every station's calls on, or a bound for the whole server",
				flooder, normal)
			return
		}
		if took := time.Since(start); took > time.Second {
			t.Errorf("while %s flooded, the other stations' sessions took %v of fake time, want them over at once "+
				"(the backend answers at once here)", flooder, took)
		}
		if len(failed) > 0 {
			t.Errorf("while %s flooded, %d of %d stations' sessions failed, e.g. %s", flooder, len(failed), normal, failed[0])
		}
		kit.Settle(t, gate)
		var behind []string
		for i := range normal {
			id := station.StationID(i + 2)
			if got := len(kit.Processed(b, id)); got != backgroundCalls {
				behind = append(behind, fmt.Sprintf("%s (%d of %d)", id, got, backgroundCalls))
			}
		}
		if len(behind) > 0 {
			t.Errorf("while %s flooded, %d stations' meter values and status notifications were not all processed, e.g. %s: "+
				"one station's full queue must not hold up the others' processing", flooder, len(behind), behind[0])
		}
		gate.Open()
		if _, ok := kit.Await(t, f.done); !ok {
			t.Errorf("%s's flood did not end once nothing held it", flooder)
		}
	})
}

// backgroundCalls is how many calls of a charging session the server
// processes in the background: its status notifications and meter values.
var backgroundCalls = func() int {
	n := 0
	for _, a := range station.SessionActions {
		if a == ocpp.ActionMeterValues || a == ocpp.ActionStatusNotification {
			n++
		}
	}
	return n
}()

func TestBackgroundCapped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := backend.New(backend.Options{})
		gate := b.Hold(func(w backend.Work) bool { return w.Kind == backend.KindProcess })
		t.Cleanup(gate.Open)
		_, l := newServer(t, b, processLimit)

		const n = 3 * processLimit
		for i := range n {
			st := kit.Boot(t, l, i+1)
			if _, ok := kit.Await(t, send(t, st, 1), gate); !ok {
				t.Errorf("%s's meter value was not acknowledged within a minute", st.ID())
				return
			}
		}
		kit.Settle(t, gate)
		held := gate.Waiting()
		switch {
		case held > processLimit:
			t.Errorf("%d stations each had a meter value to process: %d were in the backend at once, want at most %d "+
				"(Config.ProcessLimit). A processor per station is cheap, but the database behind it is not: "+
				"a thousand stations must not mean a thousand queries at once", n, held, processLimit)
			return
		case held < processLimit:
			t.Errorf("%d stations each had a meter value to process: only %d were in the backend at once, want %d "+
				"(Config.ProcessLimit): the cap is on how many at once, not fewer", n, held, processLimit)
			return
		}

		gate.Open()
		let := time.Now()
		kit.Settle(t)
		if waiting := unprocessed(b, n); len(waiting) > 0 {
			slotsLate(t, b, n, let, waiting)
			return
		}

		// The 12 processors now sit idle, their idle timeout still far off.
		// Idle processors hold no slot: a new station's call finds one free.
		late := kit.Boot(t, l, n+1)
		if _, ok := kit.Await(t, send(t, late, 1)); !ok {
			t.Errorf("%s's meter value was not acknowledged within a minute", late.ID())
			return
		}
		kit.Settle(t)
		if got := len(kit.Processed(b, late.ID())); got != 1 {
			t.Errorf("once %d stations' meter values were processed and their processors sat idle, %s's meter value was "+
				"not processed at once, want it at once: no call was in the backend, so every slot was free. A processor "+
				"must hold a slot only while its call is in the backend: taken right before the call, given back right "+
				"after, never while it waits for its next call", n, late.ID())
		}
	})
}

// slotsLate fails the test for the stations' meter values that were not
// processed at the instant let, when the backend let the first
// Config.ProcessLimit go: it says whether they came later or not at all.
func slotsLate(t *testing.T, b *backend.Backend, n int, let time.Time, waiting []string) {
	t.Helper()
	// Not all at once: see whether they come a little later (a wait for
	// a slot that sleeps and looks again), or not before the idle timeout.
	time.Sleep(backpressure.DefaultIdleTimeout / 2)
	kit.Settle(t)
	if still := unprocessed(b, n); len(still) > 0 {
		t.Errorf("once the backend let the first %d go, %d stations' meter values were still not processed (%s), "+
			"want all at once: the slots the first %d took were not given back when their call was done. A slot is "+
			"for one call, not for a processor's whole life; give it back right after the backend returns (a defer "+
			"inside the processor's loop runs only when the processor's function returns, so its slots stay taken)",
			processLimit, len(waiting), strings.Join(waiting, ", "), processLimit)
		return
	}
	last := let
	for i := range n {
		for _, r := range b.StationRecords(station.StationID(i+1), backend.KindProcess) {
			last = maxTime(last, r.Start)
		}
	}
	t.Errorf("once the backend let the first %d go, %d stations' meter values began to be processed only up to %v of "+
		"fake time later (%s), want at that instant: a processor waiting for a slot must take it the instant one "+
		"is given back. Wait on the semaphore itself (a send on a buffered channel, in a select with the server's "+
		"context), not by sleeping and looking again", processLimit, len(waiting), last.Sub(let), strings.Join(waiting, ", "))
}

// unprocessed lists the stations 1 to n whose one meter value has not been processed.
func unprocessed(b *backend.Backend, n int) []string {
	var waiting []string
	for i := range n {
		if id := station.StationID(i + 1); len(kit.Processed(b, id)) != 1 {
			waiting = append(waiting, id)
		}
	}
	return waiting
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// heapBound is the most the heap may grow while a station floods with
// heapFlood meter values and the server processes none of them. A bounded
// server holds a few calls and a stalled write; a server that reads on
// holds every call, which is several times this for heapFlood of them.
const (
	heapFlood = 2000
	heapBound = 192 << 10
)

func TestHeapBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := backend.New(backend.Options{})
		gate := b.Hold(func(w backend.Work) bool { return w.Kind == backend.KindProcess && w.Station == flooder })
		t.Cleanup(gate.Open)
		_, l := newServer(t, b, processLimit)

		// One station, whose processing is held: kit.Settle's quick look is
		// enough here (see settle).
		st := kit.Boot(t, l, 1)
		f := newFlood(heapFlood)
		kit.Settle(t, gate)
		before := liveHeap()
		f.start(t, st)
		kit.Settle(t, gate)
		after := liveHeap()
		grew := int64(after) - int64(before)
		if grew > heapBound {
			t.Errorf("the heap grew by %s while %s flooded %d meter values, want at most %s: the server kept "+
				"every call the station sent (%d written). Memory must be bounded by the queue, not by how much a "+
				"station sends", kib(grew), flooder, heapFlood, kib(heapBound), f.sent.Load())
		} else {
			t.Logf("the heap grew by %s while %s flooded %d meter values and none was processed (%d written)",
				kib(grew), flooder, heapFlood, f.sent.Load())
		}
		// The flood ends when the test closes the station.
	})
}

func TestCloseLeavesNothingBehind(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := backend.New(backend.Options{})
		// The first meter values of CS0002 to CS0005 take the four slots and
		// are in the backend when Close is called, and stay there until the
		// test lets them go. Then CS0001 floods: its processor has its first
		// meter value and waits for a slot, its queue is full, and its reader
		// waits for room. Nothing but Close will ever end that wait.
		firm := b.HoldFirm(func(w backend.Work) bool { return w.Kind == backend.KindProcess && w.CallID == "2" })
		t.Cleanup(firm.Open)
		srv, l := newServer(t, b, processLimit)
		for i := range processLimit {
			send(t, kit.Boot(t, l, i+2), 3)
		}
		kit.Settle(t, firm)
		startFlood(t, kit.Boot(t, l, 1), 50)
		kit.Settle(t, firm)
		kit.CloseWaits(t, srv, b, firm)
		// kit.Serve's cleanup checks that no goroutine of the server is left.
	})
}

// A flood is one station sending meter values as fast as the server reads
// them, from a goroutine of its own (the in-memory network is synchronous:
// a server that stops reading stops the writer), and another collecting
// their answers without keeping them.
type flood struct {
	n        int
	answers  chan (<-chan station.Answer)
	sent     atomic.Int64 // meter values written
	answered atomic.Int64 // meter values acknowledged
	done     chan struct{}

	mu    sync.Mutex
	first error
}

func newFlood(n int) *flood {
	return &flood{n: n, answers: make(chan (<-chan station.Answer), n), done: make(chan struct{})}
}

// startFlood starts sending n meter values from st.
func startFlood(t *testing.T, st *station.Station, n int) *flood {
	f := newFlood(n)
	f.start(t, st)
	return f
}

func (f *flood) start(t *testing.T, st *station.Station) {
	go func() {
		defer close(f.answers)
		for i := range f.n {
			ans, err := st.Send(t.Context(), ocpp.ActionMeterValues, station.MeterValue(i))
			if err != nil {
				f.fail(err)
				return
			}
			f.sent.Add(1)
			f.answers <- ans
		}
	}()
	go func() {
		defer close(f.done)
		for ans := range f.answers {
			if a := <-ans; a.Err != nil { // an answer always comes, if only when the station closes
				f.fail(a.Err)
				continue
			}
			f.answered.Add(1)
		}
	}()
}

func (f *flood) fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.first == nil {
		f.first = err
	}
}

// err returns the flood's first failure.
func (f *flood) err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.first
}

// send sends n meter values from st back to back, and returns a channel
// that receives nil once all are acknowledged, or the first error.
func send(t *testing.T, st *station.Station, n int) <-chan error {
	done := make(chan error, 1)
	f := startFlood(t, st, n)
	go func() {
		<-f.done
		err := f.err()
		if err == nil && int(f.answered.Load()) != n {
			err = errors.New("not every meter value was acknowledged")
		}
		done <- err
	}()
	return done
}

// queuedOf returns srv.Queued(id). It asks from a goroutine of its own, so
// that a server whose lock is held by a reader waiting for room fails the
// test rather than hang it.
func queuedOf(t *testing.T, srv *backpressure.Server, id string, gates ...*backend.Gate) (int, bool) {
	t.Helper()
	ch := make(chan int, 1)
	go func() { ch <- srv.Queued(id) }()
	n, ok := kit.Await(t, ch, gates...)
	if !ok {
		t.Errorf("Queued(%s) did not return within a minute", id)
	}
	return n, ok
}

// started returns how many of a station's calls the backend has begun to process.
func started(b *backend.Backend, id string) int {
	return len(b.StationRecords(id, backend.KindProcess))
}

// liveHeap returns the bytes of the heap in use after a garbage collection.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func kib(n int64) string { return fmt.Sprintf("%d KiB", n>>10) }

// diff counts the ids of want missing from got, and those got has more than once.
func diff(want, got []int) (lost, twice int) {
	seen := make(map[int]int)
	for _, id := range got {
		seen[id]++
	}
	for _, id := range want {
		switch c := seen[id]; {
		case c == 0:
			lost++
		case c > 1:
			twice += c - 1
		}
	}
	return lost, twice
}

// list shows up to max ids, and says how many more there are.
func list(ids []int, max int) string {
	if len(ids) <= max {
		return fmt.Sprint(ids)
	}
	return fmt.Sprintf("%v … (%d in all)", ids[:max], len(ids))
}
