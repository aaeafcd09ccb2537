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
	workers      = 4
	// slack is what a station may have sent beyond its queue and the call
	// being processed: one call its reader holds while it waits for room, and
	// one its processor holds while it waits for a slot.
	slack = 2
)

var flooder = station.StationID(1)

func newServer(t *testing.T, b *backend.Backend) (*backpressure.Server, *memnet.Listener) {
	srv := backpressure.New(backpressure.Config{
		Backend: b, Workers: workers, QueueLimit: queueLimit, ProcessLimit: processLimit,
	})
	return srv, kit.Serve(t, srv)
}

// A pause is what a flood looked like while the flooder's processing was
// held at one of its calls.
type pause struct {
	heldAt   int // the call id the flooder's processing is held at
	queued   int // Server.Queued(flooder)
	sent     int // meter values the flooder has written
	answered int // meter values acknowledged
	started  int // meter values whose processing has begun
}

// floodHeld floods the server from CS0001 with n meter values, holding its
// processing at each of the call ids in holds in turn, and reads the
// pause at each. Then it lets the flood finish and waits for its last
// answer. It returns false if the test failed meanwhile.
func floodHeld(t *testing.T, b *backend.Backend, srv *backpressure.Server, l *memnet.Listener, n int, holds ...int) ([]pause, *flood, bool) {
	t.Helper()
	gates := make([]*backend.Gate, len(holds))
	for i, id := range holds {
		call := strconv.Itoa(id)
		gates[i] = b.Hold(func(w backend.Work) bool {
			return w.Kind == backend.KindProcess && w.Station == flooder && w.CallID == call
		})
		t.Cleanup(gates[i].Open)
	}
	f := startFlood(t, kit.Boot(t, l, 1), n)
	var pauses []pause
	for i, gate := range gates {
		if !kit.Settle(t, gates...) {
			return pauses, f, false
		}
		queued, ok := queuedOf(t, srv, flooder, gates...)
		if !ok {
			return pauses, f, false
		}
		pauses = append(pauses, pause{
			heldAt: holds[i], queued: queued,
			sent: int(f.sent.Load()), answered: int(f.answered.Load()), started: started(b, flooder),
		})
		gate.Open()
	}
	if _, ok := kit.Await(t, f.done); !ok {
		if !t.Failed() {
			t.Errorf("%s's flood of %d meter values did not end within a minute once nothing held it: "+
				"%d written, %d acknowledged", flooder, n, f.sent.Load(), f.answered.Load())
		}
		return pauses, f, false
	}
	return pauses, f, true
}

func TestQueueBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := backend.New(backend.Options{})
		srv, l := newServer(t, b)
		const n = 100
		pauses, _, ok := floodHeld(t, b, srv, l, n, 2, 40, 80)
		if !ok {
			return
		}
		peakQueued, peakWaiting := 0, 0
		for _, p := range pauses {
			peakQueued, peakWaiting = max(peakQueued, p.queued), max(peakWaiting, p.answered-p.started)
		}
		t.Logf("%s flooded %d meter values: at most %d acknowledged and not yet processed; Queued(%s) at most %d (Config.QueueLimit %d)",
			flooder, n, peakWaiting, flooder, peakQueued, queueLimit)
		for _, p := range pauses {
			if p.queued > queueLimit {
				t.Errorf("%s flooded %d meter values while its processing was held at call %d: Queued(%s) = %d, want at most %d "+
					"(Config.QueueLimit). A queue without a bound holds whatever a station sends, until the server runs out of memory",
					flooder, n, p.heldAt, flooder, p.queued, queueLimit)
				return
			}
			if waiting := p.answered - p.started; waiting > queueLimit+slack {
				t.Errorf("%s flooded %d meter values while its processing was held at call %d: %d were acknowledged and not yet "+
					"processed, want at most %d (Config.QueueLimit, plus the one its reader holds and the one its processor holds), "+
					"though Queued(%s) said %d. Every acknowledged call the server holds is memory the station decides on",
					flooder, n, p.heldAt, waiting, queueLimit+slack, flooder, p.queued)
				return
			}
		}
	})
}

func TestFloodPushedBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := backend.New(backend.Options{})
		srv, l := newServer(t, b)
		const n = 100
		pauses, f, ok := floodHeld(t, b, srv, l, n, 2, 40, 80)
		if !ok {
			return
		}
		for _, p := range pauses {
			if ahead := p.sent - p.started; ahead > queueLimit+slack {
				t.Errorf("while %s's processing was held at call %d, the server read %d more of its meter values than it had begun "+
					"to process (%d written, %d processed), want at most %d: when a station's queue is full, stop reading "+
					"its connection. Its writes then stall and TCP slows the station down; reading on means "+
					"queueing without a bound, dropping, or waiting somewhere that holds up other stations",
					flooder, p.heldAt, ahead, p.sent, p.started, queueLimit+slack)
				return
			}
		}
		if err := f.err(); err != nil {
			t.Errorf("%s's flood, once nothing held it: %v", flooder, err)
		}
		if got := int(f.answered.Load()); got != n {
			t.Errorf("%d of %s's %d meter values were acknowledged once nothing held its processing, want all: "+
				"a station pushed back must be read again as soon as its queue has room", got, flooder, n)
		}
	})
}

func TestFloodLosesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := backend.New(backend.Options{})
		srv, l := newServer(t, b)
		const n = 100
		_, f, ok := floodHeld(t, b, srv, l, n, 2, 40, 80)
		if !ok {
			return
		}
		if err := f.err(); err != nil {
			t.Errorf("%s's flood: %v", flooder, err)
		}
		if !kit.Settle(t) {
			return
		}
		got, want := kit.Processed(b, flooder), kit.IDs(2, n)
		if !slices.Equal(got, want) {
			lost, twice := diff(want, got)
			t.Errorf("%s's %d meter values were processed as %s, want each once and in order (calls 2 to %d): "+
				"%d lost, %d processed twice, %d out of order. A call the server acknowledged is a promise: "+
				"it must be processed, once, after the ones before it",
				flooder, n, list(got, 12), n+1, lost, twice, kit.OutOfOrder(got))
		}
	})
}

func TestNormalStationsServed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := backend.New(backend.Options{})
		gate := b.Hold(func(w backend.Work) bool { return w.Kind == backend.KindProcess && w.Station == flooder })
		t.Cleanup(gate.Open)
		_, l := newServer(t, b)

		// CS0001's processing is held, so its queue fills and stays full.
		f := startFlood(t, kit.Boot(t, l, 1), 100)
		if !kit.Settle(t, gate) {
			return
		}

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
			if !t.Failed() {
				t.Errorf("while %s flooded and its queue was full, %d other stations' charging sessions did not end "+
					"within a minute, want them over at once (the backend answers at once here): a full queue must hold "+
					"up its own station's reader and nobody else. Look for what the stations share: a lock held while "+
					"waiting for room, one goroutine that hands every station's calls on, or a bound for the whole server",
					flooder, normal)
			}
			return
		}
		if took := time.Since(start); took > time.Second {
			t.Errorf("while %s flooded, the other stations' sessions took %v of fake time, want them over at once "+
				"(the backend answers at once here)", flooder, took)
		}
		if len(failed) > 0 {
			t.Errorf("while %s flooded, %d of %d stations' sessions failed, e.g. %s", flooder, len(failed), normal, failed[0])
		}
		if !kit.Settle(t, gate) {
			return
		}
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
		if _, ok := kit.Await(t, f.done); !ok && !t.Failed() {
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
		_, l := newServer(t, b)

		const n = 3 * processLimit
		for i := range n {
			st := kit.Boot(t, l, i+1)
			if _, ok := kit.Await(t, send(t, st, 1), gate); !ok {
				if !t.Failed() {
					t.Errorf("%s's meter value was not acknowledged within a minute", st.ID())
				}
				return
			}
		}
		if !kit.Settle(t, gate) {
			return
		}
		held := gate.Waiting()
		t.Logf("%d stations each had a meter value to process: %d were processed at once (Config.ProcessLimit %d)", n, held, processLimit)
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
		if !kit.Settle(t) {
			return
		}
		var waiting []string
		for i := range n {
			if id := station.StationID(i + 1); len(kit.Processed(b, id)) != 1 {
				waiting = append(waiting, id)
			}
		}
		if len(waiting) > 0 {
			t.Errorf("once the backend let the first %d go, %d stations' meter values were still not processed (%s), "+
				"want all at once: a slot is for one call, not for a processor's whole life, or the stations beyond "+
				"the first %d wait for an idle timeout", processLimit, len(waiting), strings.Join(waiting, ", "), processLimit)
		}
	})
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
		_, l := newServer(t, b)

		// One station, whose processing is held: kit.Settle's quick look is
		// enough here (see settle).
		st := kit.Boot(t, l, 1)
		f := newFlood(heapFlood)
		if !kit.Settle(t, gate) {
			return
		}
		before := liveHeap()
		f.start(t, st)
		if !kit.Settle(t, gate) {
			return
		}
		after := liveHeap()
		grew := int64(after) - int64(before)
		t.Logf("the heap grew by %s while %s flooded %d meter values and none was processed (%d written)",
			kib(grew), flooder, heapFlood, f.sent.Load())
		if grew > heapBound {
			t.Errorf("the heap grew by %s while %s flooded %d meter values, want at most %s: the server kept "+
				"every call the station sent (%d written). Memory must be bounded by the queue, not by how much a "+
				"station sends", kib(grew), flooder, heapFlood, kib(heapBound), f.sent.Load())
		}
		// The flood ends when the test closes the station.
	})
}

func TestCloseLeavesNothingBehind(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := backend.New(backend.Options{})
		// Each station's first meter value is in the backend when Close is
		// called, and stays there until the test lets it go; CS0001's queue
		// is full and its reader waits for room.
		firm := b.HoldFirm(func(w backend.Work) bool { return w.Kind == backend.KindProcess && w.CallID == "2" })
		t.Cleanup(firm.Open)
		srv, l := newServer(t, b)
		startFlood(t, kit.Boot(t, l, 1), 50)
		for i := range 3 {
			send(t, kit.Boot(t, l, i+2), 3)
		}
		if !kit.Settle(t, firm) {
			return
		}
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
			ans, err := st.Send(t.Context(), ocpp.ActionMeterValues, kit.MeterValue(i))
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
	if !ok && !t.Failed() {
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
