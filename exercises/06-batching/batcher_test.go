package batching_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	batching "github.com/ocppkata/kata/exercises/06-batching"
	"github.com/ocppkata/kata/harness/kit"
)

// The Batcher's own tests. Every one runs on fake time, so push times are
// exact to the nanosecond, and pushes are recorded by a fake push function
// that can hold them at a gate.

// pkg is the package under test, whose goroutines must all be gone after
// Complete.
const pkg = "github.com/ocppkata/kata/exercises/06-batching"

// item is what the tests batch: the slot it was added to, and its number
// among the items of its producer (or slot).
type item struct{ Slot, Seq int }

func (it item) String() string { return fmt.Sprint(it.Seq) }

// items returns the items first…first+n-1 of a slot.
func items(slot, first, n int) []item {
	out := make([]item, n)
	for i := range out {
		out[i] = item{slot, first + i}
	}
	return out
}

// pushed is one push the recorder saw.
type pushed struct {
	Slot  int
	At    time.Duration // fake time since the recorder was made
	End   time.Duration
	Items []item
	Err   error // the push's context ended while it was held
}

func (p pushed) String() string {
	if len(p.Items) == 1 {
		return fmt.Sprintf("slot %d at %v: 1 item %v", p.Slot, p.At, p.Items)
	}
	return fmt.Sprintf("slot %d at %v: %d items %v", p.Slot, p.At, len(p.Items), p.Items)
}

// list describes pushes, the first few of them.
func list(pushes []pushed) string {
	const most = 5
	var parts []string
	for _, p := range pushes[:min(most, len(pushes))] {
		parts = append(parts, p.String())
	}
	if len(pushes) > most {
		parts = append(parts, fmt.Sprintf("… %d more", len(pushes)-most))
	}
	return fmt.Sprintf("%d pushes: %s", len(pushes), strings.Join(parts, "; "))
}

// recorder is a push function that records every push, can hold pushes at
// a gate, and checks that the Batcher leaves a batch alone while it is
// being pushed.
type recorder struct {
	t0 time.Time
	// linger is how long a push takes to end once its context ended while
	// held: a push that cleans up after itself.
	linger time.Duration
	// took is how long each push takes (once through the gate).
	took time.Duration

	mu       sync.Mutex
	gate     chan struct{} // nil: pushes go through; else they wait until it is closed
	pushes   []pushed
	inFlight []int // per slot
	peak     []int
	changed  []string // batches that changed while they were being pushed
}

func newRecorder(slots int) *recorder {
	return &recorder{t0: time.Now(), inFlight: make([]int, slots), peak: make([]int, slots)}
}

// hold makes the pushes from now on wait until open.
func (r *recorder) hold() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gate = make(chan struct{})
}

// open lets held pushes go on, and later ones through.
func (r *recorder) open() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gate != nil {
		close(r.gate)
		r.gate = nil
	}
}

func (r *recorder) push(ctx context.Context, slot int, batch []item) {
	r.mu.Lock()
	i := len(r.pushes)
	r.pushes = append(r.pushes, pushed{Slot: slot, At: time.Since(r.t0), Items: slices.Clone(batch)})
	r.inFlight[slot]++
	r.peak[slot] = max(r.peak[slot], r.inFlight[slot])
	gate := r.gate
	r.mu.Unlock()

	var err error
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			err = ctx.Err()
			time.Sleep(r.linger)
		}
	}
	time.Sleep(r.took)

	r.mu.Lock()
	defer r.mu.Unlock()
	// The push reads its batch to the end: it must be what it was given.
	if !slices.Equal(batch, r.pushes[i].Items) {
		r.changed = append(r.changed, fmt.Sprintf("the batch of slot %d pushed at %v was %v when its push began and %v when it ended",
			slot, r.pushes[i].At, r.pushes[i].Items, batch))
	}
	r.pushes[i].End, r.pushes[i].Err = time.Since(r.t0), err
	r.inFlight[slot]--
}

// record returns the pushes so far.
func (r *recorder) record() []pushed {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.pushes)
}

// counts returns, per slot, the pushes in flight now and the most that
// were in flight at once so far.
func (r *recorder) counts() (inFlight, peak []int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.inFlight), slices.Clone(r.peak)
}

// now returns the fake time since the recorder was made.
func (r *recorder) now() time.Duration { return time.Since(r.t0) }

// newBatcher returns a Batcher that pushes to r, and checks when the test
// ends that no batch was changed during its push, that Complete ends it,
// and that none of its goroutines is left.
func newBatcher(t *testing.T, cfg batching.BatchConfig, r *recorder) *batching.Batcher[item] {
	t.Helper()
	b := batching.NewBatcher(cfg, r.push)
	t.Cleanup(func() {
		r.open() // let held pushes end, so that Complete can
		b.Complete(context.Background(), false)
		// Let whatever is on its way out (the test's producers, pushes
		// ending) get out, then look for what is still there.
		time.Sleep(time.Minute)
		synctest.Wait()
		if left := kit.LeftBehind(pkg); len(left) > 0 {
			t.Errorf("leak: %d goroutines of the Batcher were still there after Complete returned, e.g.\n\n%s\n\n"+
				"Complete must end every goroutine the Batcher started: a component made per connection or per "+
				"tenant would otherwise leave them behind by the thousand.", len(left), left[0])
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if len(r.changed) > 0 {
			t.Errorf("%d batches changed while they were being pushed, e.g. %s.\nOnce a batch is handed to a push, "+
				"it is the push's until the push returns: refilling it then (to save an allocation) overwrites "+
				"meter values a database driver is still reading.", len(r.changed), r.changed[0])
		}
	})
	return b
}

// producer adds items in the background; wait reports how many Adds
// returned, and what they returned.
type producer struct {
	wg       sync.WaitGroup
	accepted atomic.Int64 // Adds that returned nil
	refused  atomic.Int64 // Adds that returned an error
	closed   atomic.Int64 // of those, the ones that returned ErrClosed
}

// add adds the items to slot, one after the other, from a goroutine of its
// own. The context is the test's: it ends as the test does.
func (p *producer) add(t *testing.T, b *batching.Batcher[item], slot int, its []item) {
	p.wg.Go(func() {
		defer func() {
			// A panic here would end the whole test binary: report it as
			// this test's failure instead.
			if v := recover(); v != nil {
				p.refused.Add(1)
				t.Errorf("Add panicked: %v.\nAdd must never panic, even while Complete runs: a send on a channel "+
					"that Complete closed panics. Let Add select on a channel Complete closes (and return ErrClosed), "+
					"and close only the channels nobody sends on any more.", v)
			}
		}()
		for _, it := range its {
			if err := b.Add(t.Context(), slot, it); err != nil {
				if errors.Is(err, batching.ErrClosed) {
					p.closed.Add(1)
				}
				p.refused.Add(1)
				return
			}
			p.accepted.Add(1)
		}
	})
}

// checkPushes compares the recorded pushes with want, in the order they
// started, and says what differs first.
func checkPushes(t *testing.T, got, want []pushed, why string) {
	t.Helper()
	for i := range max(len(got), len(want)) {
		switch {
		case i >= len(got):
			t.Errorf("push %d never came: want %v. %s\n(%s)", i+1, want[i], why, list(got))
			return
		case i >= len(want):
			t.Errorf("push %d came unexpected: %v. %s\n(%s)", i+1, got[i], why, list(got))
			return
		case got[i].Slot != want[i].Slot || got[i].At != want[i].At || !slices.Equal(got[i].Items, want[i].Items):
			t.Errorf("push %d was %v, want %v. %s\n(%s)", i+1, got[i], want[i], why, list(got))
			return
		}
	}
}

func TestPushAtBatchSize(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder(3)
		b := newBatcher(t, batching.BatchConfig{Size: 10, Interval: time.Second, Concurrency: 2, Slots: 3}, r)

		// 35 items, one every 10 ms: three full batches, and 5 left over.
		for i := range 35 {
			time.Sleep(10 * time.Millisecond)
			if err := b.Add(t.Context(), 1, item{1, i}); err != nil {
				t.Fatalf("Add of item %d: %v", i, err)
			}
		}
		time.Sleep(2 * time.Second)
		checkPushes(t, r.record(), []pushed{
			{Slot: 1, At: 100 * time.Millisecond, Items: items(1, 0, 10)},
			{Slot: 1, At: 200 * time.Millisecond, Items: items(1, 10, 10)},
			{Slot: 1, At: 300 * time.Millisecond, Items: items(1, 20, 10)},
			{Slot: 1, At: 310*time.Millisecond + time.Second, Items: items(1, 30, 5)},
		}, "A batch is pushed the moment it holds Size (10) items, and what is left over an Interval (1s) after "+
			"its first item came: one write for ten meter values, not ten.")
	})
}

func TestPushAtInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder(2)
		b := newBatcher(t, batching.BatchConfig{Size: 10, Interval: time.Second, Concurrency: 2, Slots: 2}, r)

		// Items trickle in, too few to fill a batch. Each slot's batch is due
		// an Interval after its own first item: not after the last one, not
		// on a beat that ignores when they came.
		adds := []struct {
			at        time.Duration
			slot, seq int
		}{
			{0, 0, 0},
			{300 * time.Millisecond, 0, 1},
			{500 * time.Millisecond, 1, 0},
			{600 * time.Millisecond, 0, 2},
			{1200 * time.Millisecond, 0, 3},
			{1700 * time.Millisecond, 1, 1},
			{2100 * time.Millisecond, 0, 4},
		}
		for _, a := range adds {
			time.Sleep(a.at - r.now())
			if err := b.Add(t.Context(), a.slot, item{a.slot, a.seq}); err != nil {
				t.Fatalf("Add of slot %d's item %d: %v", a.slot, a.seq, err)
			}
		}
		time.Sleep(5 * time.Second)
		want := []pushed{
			{Slot: 0, At: 1000 * time.Millisecond, Items: items(0, 0, 3)},
			{Slot: 1, At: 1500 * time.Millisecond, Items: items(1, 0, 1)},
			{Slot: 0, At: 2200 * time.Millisecond, Items: items(0, 3, 2)},
			{Slot: 1, At: 2700 * time.Millisecond, Items: items(1, 1, 1)},
		}
		checkPushes(t, r.record(), want, "A slot's batch is pushed exactly an Interval (1s) after its first item came, with what it holds "+
			"then: so no meter value waits longer than the Interval, and none is written in a batch of its own "+
			"when others could join it.")
		if t.Failed() {
			return
		}

		// Slot 0 fills a batch in 90ms: it is pushed for its size. Then
		// nothing comes for 2.9s, longer than the Interval, and then one
		// item: its batch is due an Interval after it, as any first item's.
		for i := range 10 {
			time.Sleep(8*time.Second + time.Duration(i)*10*time.Millisecond - r.now())
			if err := b.Add(t.Context(), 0, item{0, 5 + i}); err != nil {
				t.Fatalf("Add of slot 0's item %d: %v", 5+i, err)
			}
		}
		time.Sleep(11*time.Second - r.now())
		if err := b.Add(t.Context(), 0, item{0, 15}); err != nil {
			t.Fatalf("Add of slot 0's item 15: %v", err)
		}
		time.Sleep(5 * time.Second)
		want = append(want,
			pushed{Slot: 0, At: 8090 * time.Millisecond, Items: items(0, 5, 10)},
			pushed{Slot: 0, At: 12 * time.Second, Items: items(0, 15, 1)},
		)
		checkPushes(t, r.record(), want, "After slot 0's batch was pushed at 8.09s for its size, nothing came until 11s, and the item that came "+
			"then is the first of a new batch, pushed an Interval (1s) later. The Interval of a batch pushed for its "+
			"size is over: its timer must not fire later on a batch that is empty (an empty write) or that it never "+
			"started (an item pushed at once).")
	})
}

func TestPushesInFlightPerSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const slots, concurrency, size = 2, 2, 5
		r := newRecorder(slots)
		r.hold()
		b := newBatcher(t, batching.BatchConfig{Size: size, Interval: time.Second, Concurrency: concurrency, Slots: slots}, r)

		// Three producers a slot, 20 items each, while every push is held:
		// first slot 0's alone, then slot 1's too.
		var p producer
		for slot := range slots {
			for k := range 3 {
				p.add(t, b, slot, items(slot, 100*k, 20))
			}
			synctest.Wait()
			inFlight, _ := r.counts()
			for other, n := range inFlight {
				switch {
				case other > slot && n != 0:
					t.Errorf("slot %d had %d pushes in flight before any item was added to it, want 0", other, n)
				case other == slot && n != concurrency && slot > 0:
					t.Errorf("slot %d had %d pushes in flight while its producers had 60 items for it and slot 0's "+
						"pushes were all held, want %d (Concurrency): each slot has Concurrency pushes of its own, so a "+
						"slot whose writes are slow delays its own stations, not every slot's", slot, n, concurrency)
				case other == slot && n != concurrency:
					t.Errorf("slot %d had %d pushes in flight while its producers had 60 items for it, want %d "+
						"(Concurrency): more overwhelms the database the Batcher is there to spare; fewer leaves it "+
						"idle while batches wait", slot, n, concurrency)
				}
			}
		}

		r.open()
		p.wg.Wait()
		if _, err := b.Complete(t.Context(), true); err != nil {
			t.Errorf("Complete: %v", err)
		}
		_, peaks := r.counts()
		for slot, peak := range peaks {
			if peak > concurrency && !t.Failed() {
				t.Errorf("slot %d had %d pushes in flight at once, want at most %d (Concurrency)", slot, peak, concurrency)
			}
		}
		checkEachOnce(t, r.record(), slots, 3, 20, 100)
	})
}

func TestFullSlotHoldsProducersBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder(1)
		r.hold()
		b := newBatcher(t, batching.BatchConfig{Size: 5, Interval: time.Second, Concurrency: 2, Slots: 1}, r)

		// Two pushes of 5 are held in flight and the next batch fills up:
		// the 16th item has nowhere to go.
		var p producer
		p.add(t, b, 0, items(0, 0, 20))
		synctest.Wait()
		switch got, refused := p.accepted.Load(), p.refused.Load(); {
		case got > 15 || refused > 0:
			t.Fatalf("%d of 20 Adds returned nil and %d an error while both pushes of 5 were held and the next batch "+
				"was full, want 15 and 0, then Add waiting for room: a full slot holds its producer back (and TCP then "+
				"holds the station back). Dropping meter values, or refusing them, loses the energy readings a bill "+
				"is made of", got, refused)
		case got < 15:
			t.Fatalf("%d of 20 Adds returned while both pushes were held, want 15: with two pushes of 5 in flight "+
				"and a batch of 5 filling, Add takes 15 items without waiting, then waits for room", got)
		}
		time.Sleep(time.Hour)
		if got, refused := p.accepted.Load(), p.refused.Load(); got != 15 || refused != 0 {
			t.Fatalf("an hour later, %d Adds had returned nil and %d an error, want still 15 and 0: Add waits for room "+
				"as long as it takes (or until its context ends)", got, refused)
		}

		// An Add whose context ends while it waits returns the context's error.
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		start := time.Now()
		if err := b.Add(ctx, 0, item{0, 99}); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != time.Second {
			t.Errorf("an Add waiting for room in a full slot, with a context that ends in 1s, returned %v after %v; "+
				"want context.DeadlineExceeded after 1s", err, time.Since(start))
		}

		// Room comes when the pushes end: the producer waiting gets in at
		// that instant, and its last 5 items with it (a batch of 5 pushed,
		// one of 5 filling).
		r.open()
		synctest.Wait()
		if got := p.accepted.Load(); got != 20 {
			t.Errorf("%d of 20 Adds had returned at the instant the held pushes ended, want 20: a producer held back "+
				"is let in the moment a push ends, not when it next looks (a station's reader waiting there is a "+
				"station not read)", got)
		}
		p.wg.Wait()
		if _, err := b.Complete(t.Context(), true); err != nil {
			t.Errorf("Complete: %v", err)
		}
		checkEachOnce(t, r.record(), 1, 1, 20, 100)
	})
}

func TestBatchUntouchedDuringPush(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder(1)
		r.hold()
		b := newBatcher(t, batching.BatchConfig{Size: 4, Interval: time.Second, Concurrency: 1, Slots: 1}, r)

		// The first batch is held in its push while the next one fills.
		var p producer
		p.add(t, b, 0, items(0, 0, 7))
		synctest.Wait()
		if got := p.accepted.Load(); got != 7 {
			t.Fatalf("%d of 7 Adds returned while the first push was held, want 7: a batch of 4 in flight and "+
				"one of 4 filling leave room for 7 without waiting", got)
		}
		r.open()
		p.wg.Wait()
		time.Sleep(2 * time.Second)
		checkPushes(t, r.record(), []pushed{
			{Slot: 0, At: 0, Items: items(0, 0, 4)},
			{Slot: 0, At: time.Second, Items: items(0, 4, 3)},
		}, "A batch belongs to its push until the push returns: the next batch fills memory of its own (the "+
			"Batcher has Concurrency+1 buffers a slot). The second batch waits for the first push to end "+
			"(Concurrency 1), then for its Interval.")
		// newBatcher's check says whether the first batch changed while held.
	})
}

func TestCompleteDrains(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder(3)
		b := newBatcher(t, batching.BatchConfig{Size: 10, Interval: time.Minute, Concurrency: 1, Slots: 3}, r)
		r.hold()
		// Slot 0: a push of 10 held in flight, a full batch of 10 waiting
		// for it, and its producer waiting to add a 21st item; slot 1: 3
		// items waiting; slot 2: nothing.
		var p producer
		p.add(t, b, 0, items(0, 0, 22))
		p.add(t, b, 1, items(1, 0, 3))
		synctest.Wait()
		if got, refused := p.accepted.Load(), p.refused.Load(); got != 23 || refused != 0 {
			t.Fatalf("%d Adds returned nil and %d an error while a push was held, want 23 and 0, then slot 0's "+
				"producer waiting: slot 0 had room for 20 items (a push of 10 in flight, a batch of 10 filling), "+
				"slot 1 for its 3", got, refused)
		}

		time.Sleep(time.Second)
		type result struct {
			err error
			at  time.Duration
		}
		completed := make(chan result, 1)
		go func() {
			dropped, err := b.Complete(context.Background(), true)
			if len(dropped) > 0 {
				err = errors.Join(err, fmt.Errorf("dropped %v", dropped))
			}
			completed <- result{err, r.now()}
		}()
		synctest.Wait()
		select {
		case res := <-completed:
			t.Fatalf("Complete(drain) returned (%v) while a push was still in flight, want it to wait: whoever calls "+
				"Complete then closes the database under that push's feet, or exits and loses it", res.err)
		default:
		}
		// The producer that waited for room in slot 0 is told at once that
		// its item will never be taken.
		if got, closed := p.accepted.Load(), p.closed.Load(); got != 23 || closed != 1 {
			t.Errorf("once Complete was called, %d Adds had returned nil and %d ErrClosed, want 23 and 1: the Add "+
				"waiting for room in a full slot must return ErrClosed at once, since the slot takes nothing more; "+
				"waiting on would hold its producer (a station's reader) until its own context ends", got, closed)
		}
		// Slot 1 had nothing in flight: its 3 items are pushed now, without
		// waiting for the Interval.
		checkPushes(t, r.record(), []pushed{
			{Slot: 0, At: 0, Items: items(0, 0, 10)},
			{Slot: 1, At: time.Second, Items: items(1, 0, 3)},
		}, "Complete(drain) pushes what is buffered at once: the Interval is over when the Batcher is.")
		if err := b.Add(t.Context(), 2, item{2, 0}); !errors.Is(err, batching.ErrClosed) {
			t.Errorf("Add after Complete was called returned %v, want ErrClosed", err)
		}

		r.open()
		if res, ok := kit.Await(t, completed); !ok {
			t.Fatal("Complete(drain) did not return once the pushes could end")
		} else {
			if res.err != nil {
				t.Errorf("Complete(drain) returned %v, want nil: nothing needed dropping", res.err)
			}
			if res.at != time.Second {
				t.Errorf("Complete(drain) returned at %v, want at %v: the instant its last push ended. Wait for the "+
					"pushes themselves (a WaitGroup), not by looking every so often whether they are done", res.at, time.Second)
			}
		}
		checkPushes(t, r.record(), []pushed{
			{Slot: 0, At: 0, Items: items(0, 0, 10)},
			{Slot: 1, At: time.Second, Items: items(1, 0, 3)},
			{Slot: 0, At: time.Second, Items: items(0, 10, 10)},
		}, "Complete(drain) pushes everything that was added, in order, Concurrency (1) at a time.")
		if _, err := b.Complete(t.Context(), true); !errors.Is(err, batching.ErrClosed) {
			t.Errorf("a second Complete returned %v, want ErrClosed", err)
		}
	})
}

func TestCompleteDropsAndReports(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder(3)
		b := newBatcher(t, batching.BatchConfig{Size: 10, Interval: time.Minute, Concurrency: 1, Slots: 3}, r)
		r.hold()
		var p producer
		p.add(t, b, 0, items(0, 0, 12))
		p.add(t, b, 1, items(1, 0, 3))
		synctest.Wait()
		if got := p.accepted.Load(); got != 15 {
			t.Fatalf("%d of 15 Adds returned while a push was held, want 15: there was room for them all", got)
		}

		time.Sleep(time.Second)
		type result struct {
			dropped []item
			err     error
			at      time.Duration
		}
		completed := make(chan result, 1)
		go func() {
			dropped, err := b.Complete(context.Background(), false)
			completed <- result{dropped, err, r.now()}
		}()
		synctest.Wait()
		select {
		case res := <-completed:
			t.Fatalf("Complete returned (dropped %v, %v) while a push was still in flight, want it to wait for the "+
				"push: without drain it drops what waits, not what is already being written", res.dropped, res.err)
		default:
		}
		r.open()
		res, ok := kit.Await(t, completed)
		if !ok {
			t.Fatal("Complete did not return once the push in flight could end")
		}
		if res.err != nil {
			t.Errorf("Complete returned %v, want nil", res.err)
		}
		if res.at != time.Second {
			t.Errorf("Complete returned at %v, want at %v: the instant the push in flight ended. Wait for the "+
				"pushes themselves (a WaitGroup), not by looking every so often whether they are done", res.at, time.Second)
		}
		if want := append(items(0, 10, 2), items(1, 0, 3)...); !slices.Equal(res.dropped, want) {
			t.Errorf("Complete without drain reported %v dropped, want %v: exactly the items not yet handed to a "+
				"push, slot by slot in order, so the caller can log them, count them, or save them elsewhere",
				res.dropped, want)
		}
		checkPushes(t, r.record(), []pushed{{Slot: 0, At: 0, Items: items(0, 0, 10)}},
			"Without drain, Complete pushes nothing more: the push in flight is all.")
	})
}

func TestCompleteDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder(2)
		r.linger = time.Millisecond
		b := newBatcher(t, batching.BatchConfig{Size: 10, Interval: time.Minute, Concurrency: 1, Slots: 2}, r)
		r.hold()
		var p producer
		p.add(t, b, 0, items(0, 0, 15))
		p.add(t, b, 1, items(1, 0, 2))
		synctest.Wait()
		if got := p.accepted.Load(); got != 17 {
			t.Fatalf("%d of 17 Adds returned while a push was held, want 17: there was room for them all", got)
		}

		// The pushes stay held: draining cannot finish within the 5s given.
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		start := time.Now()
		type result struct {
			dropped []item
			err     error
			took    time.Duration
		}
		completed := make(chan result, 1)
		go func() {
			dropped, err := b.Complete(ctx, true)
			completed <- result{dropped, err, time.Since(start)}
		}()
		time.Sleep(time.Minute)
		synctest.Wait()
		var res result
		select {
		case res = <-completed:
		default:
			t.Fatal("Complete(drain) with a context that ended after 5s had not returned a minute later, want it to " +
				"return then: a shutdown has a deadline, and the pushes that cannot make it are cancelled")
		}
		if !errors.Is(res.err, context.DeadlineExceeded) {
			t.Errorf("Complete returned %v when its context's deadline passed, want context.DeadlineExceeded", res.err)
		}
		// The pushes in flight were cancelled, and took 1ms to end.
		if want := 5*time.Second + r.linger; res.took != want {
			t.Errorf("Complete returned after %v, want %v: when the deadline passes, cancel the pushes in flight, "+
				"and return once they have ended (they take %v to)", res.took, want, r.linger)
		}
		if want := items(0, 10, 5); !slices.Equal(res.dropped, want) {
			t.Errorf("Complete reported %v dropped, want %v: the items never handed to a push", res.dropped, want)
		}
		for _, push := range r.record() {
			if push.End == 0 || push.Err == nil {
				t.Errorf("the push (%v) was not cancelled by the deadline: ended at %v with %v", push, push.End, push.Err)
			}
		}
	})
}

func TestNothingLostOrderKept(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const slots, producers, each = 3, 4, 60
		r := newRecorder(slots)
		r.took = 30 * time.Millisecond // a write takes a while, so pushes overlap
		cfg := batching.BatchConfig{Size: 8, Interval: 50 * time.Millisecond, Concurrency: 2, Slots: slots}
		b := newBatcher(t, cfg, r)

		// Producers on every slot, each at its own uneven pace, so batches
		// fill up, time out, and are left over for Complete.
		var wg sync.WaitGroup
		for slot := range slots {
			for k := range producers {
				wg.Go(func() {
					for i := range each {
						time.Sleep(time.Duration((slot*7+k*5+i*3)%17) * time.Millisecond)
						if err := b.Add(t.Context(), slot, item{slot, 1000*k + i}); err != nil {
							t.Errorf("Add: %v", err)
							return
						}
					}
				})
			}
		}
		wg.Wait()
		dropped, err := b.Complete(t.Context(), true)
		if err != nil || len(dropped) > 0 {
			t.Errorf("Complete(drain) returned %v, %v dropped, want nil and none", err, dropped)
		}
		got := r.record()
		for _, push := range got {
			if len(push.Items) == 0 || len(push.Items) > cfg.Size {
				t.Errorf("a push of %d items, want 1 to %d (Size): %v", len(push.Items), cfg.Size, push)
				break
			}
		}
		_, peaks := r.counts()
		for slot, peak := range peaks {
			if peak > cfg.Concurrency {
				t.Errorf("slot %d had %d pushes in flight at once, want at most %d (Concurrency)", slot, peak, cfg.Concurrency)
			}
		}
		checkEachOnce(t, got, slots, producers, each, 1000)
		t.Logf("%d items in %d pushes", slots*producers*each, len(got))
	})
}

// checkEachOnce checks that every producer's items (numbered stride*k+i
// by producer k of a slot) were pushed exactly once, to their own slot, and
// in the order they were added: each batch holds a producer's items in
// order, and no two batches interleave them. (Two batches of a slot in
// flight at once may start in either order: they are written side by
// side.)
func checkEachOnce(t *testing.T, got []pushed, slots, producers, each, stride int) {
	t.Helper()
	seen := make(map[item]int)
	runs := make(map[[2]int][][]int) // slot and producer: its items in each batch
	for _, push := range got {
		inBatch := make(map[[2]int][]int)
		for _, it := range push.Items {
			seen[it]++
			if it.Slot != push.Slot {
				t.Errorf("slot %d's item %v was pushed in slot %d's batch", it.Slot, it, push.Slot)
			}
			key := [2]int{it.Slot, it.Seq / stride}
			inBatch[key] = append(inBatch[key], it.Seq)
		}
		for key, seqs := range inBatch {
			runs[key] = append(runs[key], seqs)
		}
	}
	var lost, twice, disorder []string
	for slot := range slots {
		for k := range producers {
			for i := range each {
				switch n := seen[item{slot, stride*k + i}]; {
				case n == 0:
					lost = append(lost, fmt.Sprintf("slot %d item %d", slot, stride*k+i))
				case n > 1:
					twice = append(twice, fmt.Sprintf("slot %d item %d (%d times)", slot, stride*k+i, n))
				}
			}
		}
	}
	for key, batches := range runs {
		slices.SortFunc(batches, func(a, b []int) int { return a[0] - b[0] })
		if all := slices.Concat(batches...); !slices.IsSorted(all) {
			disorder = append(disorder, fmt.Sprintf("slot %d's batches held %v", key[0], batches))
		}
	}
	report := func(what []string, msg string) {
		if len(what) > 0 {
			t.Errorf("%d %s, e.g. %s", len(what), msg, strings.Join(what[:min(3, len(what))], "; "))
		}
	}
	report(lost, "items added were never pushed: a meter value lost is a bill that is wrong")
	report(twice, "items were pushed more than once: a meter value written twice is a bill that is wrong")
	report(disorder, "producers' items were batched out of the order they were added in: a slot is FIFO, "+
		"each batch takes the oldest items")
}

func TestAddAllocatesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const slots, size = 4, 64
		var pushes, pushedItems atomic.Int64
		b := batching.NewBatcher(batching.BatchConfig{Size: size, Interval: time.Hour, Concurrency: 2, Slots: slots},
			func(_ context.Context, _ int, batch []item) {
				pushes.Add(1)
				pushedItems.Add(int64(len(batch)))
			})
		t.Cleanup(func() { b.Complete(context.Background(), false) })
		ctx := t.Context()
		n := 0
		add := func() {
			if err := b.Add(ctx, n%slots, item{n % slots, n}); err != nil {
				panic(err)
			}
			n++
		}
		for range 1000 { // the steady path: past the first batches
			add()
		}
		synctest.Wait()
		// A round adds a batch's worth of items to every slot, so it fills a
		// batch in each: it is done when the 4 pushes it started are.
		// Allocations are counted per round, not per item: one per push
		// would be 1/64 of one per item, and testing.AllocsPerRun rounds
		// its mean down to a whole number.
		round := func() {
			for range slots * size {
				add()
			}
			synctest.Wait()
		}
		const runs = 50
		before := pushes.Load()
		allocs := testing.AllocsPerRun(runs, round)
		perRound := float64(pushes.Load()-before) / (runs + 1) // AllocsPerRun runs round once more, to warm up
		if perRound < slots {
			t.Fatalf("%d items, a batch's worth for each of %d slots of Size %d, started %.2f pushes, want %d: a "+
				"batch is pushed the moment it is full", slots*size, slots, size, perRound, slots)
		}
		if allocs > 0 {
			t.Errorf("adding %d items (a batch's worth for each of %d slots), and pushing the batches they fill, "+
				"allocates %.0f times (%.2f an item, %.2f a push), want 0: the batches' memory is allocated once, with "+
				"the Batcher, and goes round (a slice, a timer or a closure per item or per batch is garbage the "+
				"collector pays for at every meter value)", slots*size, slots, allocs, allocs/(slots*size), allocs/perRound)
		} else {
			t.Logf("no allocation per round of %d items; %.2f pushes a round, %d pushes for %d items in all",
				slots*size, perRound, pushes.Load(), n)
		}
	})
}
