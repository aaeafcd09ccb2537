package ordering_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"

	ordering "github.com/ocppkata/kata/exercises/03-ordering"
	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/kit"
	"github.com/ocppkata/kata/harness/memnet"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/stations/station"
)

// Stations in these tests pipeline their meter values: they send them back
// to back without waiting for answers. A station numbers its calls 1, 2, 3,
// … (call 1 is its BootNotification, call 2 its first meter value), so the
// call ids tell the order in which the station sent them.
//
// The backend answers at once unless a gate holds the work. What a test
// proves comes from gates and from letting the server do everything it can
// (settle), not from how long things take or how the scheduler feels.

const (
	workers  = 4
	perBurst = 20  // meter values per station
	first    = "2" // the call id of a station's first meter value
)

func newServer(t *testing.T, b *backend.Backend) *memnet.Listener {
	return kit.Serve(t, ordering.New(ordering.Config{Backend: b, Workers: workers}))
}

func TestAcknowledgedBeforeProcessing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := backend.New(backend.Options{})
		gate := b.Hold(func(w backend.Work) bool { return w.Kind == backend.KindProcess }) // open when the test ends
		l := newServer(t, b)
		t.Cleanup(gate.Open)

		// One meter value at a time, each waiting for its answer, so that a
		// server that answers late is seen not answering. Three hundred
		// from one station: more than a small buffer holds.
		for i, n := range []int{300, 5, 5} {
			st := kit.Boot(t, l, i+1)
			for k := range n {
				if !acknowledged(t, st, k, gate) {
					return
				}
			}
		}
	})
}

// acknowledged sends the k-th meter value of st and waits for its answer,
// reporting a failure if it does not come.
func acknowledged(t *testing.T, st *station.Station, k int, gates ...*backend.Gate) bool {
	t.Helper()
	a, ok := kit.Await(t, send(t, st, k, 1), gates...)
	switch {
	case !ok:
		before := ""
		if k > 0 {
			before = fmt.Sprintf(" (the %d before it were)", k)
		}
		t.Errorf("%s's meter value %d was not acknowledged within a minute while background processing was held%s: "+
			"a station must get its answer at once, whatever its processing is doing and however many of its "+
			"meter values wait for it", st.ID(), k+1, before)
		return false
	case a != nil:
		t.Errorf("%s's meter value %d: %v", st.ID(), k+1, a)
		return false
	}
	return true
}

func TestStationOrderKept(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := backend.New(backend.Options{})
		held := station.StationID(1)
		gate := b.Hold(func(w backend.Work) bool {
			return w.Kind == backend.KindProcess && w.Station == held && w.CallID == first
		})
		l := newServer(t, b)
		t.Cleanup(gate.Open)

		const n = 5
		for i := range n {
			pipeline(t, kit.Boot(t, l, i+1), perBurst, gate)
		}
		kit.Settle(t, gate)

		// The held first meter value is still in the backend: any later one
		// of the same station that has started was processed beside it, and
		// one that has finished overtook it.
		var beside []int
		for _, n := range meterValues(b, held) {
			if n != 1 {
				beside = append(beside, n)
			}
		}
		gate.Open()
		if len(beside) > 0 {
			t.Errorf("while %s's first meter value was held in the backend, %d of its later meter values were processed "+
				"(numbers %s), want none: a station's meter values must be processed one at a time, each after the one "+
				"before. Processed side by side, whichever finishes first is stored first, and the meter runs backwards",
				held, len(beside), list(beside, 5))
			return
		}

		kit.Settle(t)
		if got := count(b); got != n*perBurst {
			t.Fatalf("%d of %d meter values were processed once nothing held them, want all of them", got, n*perBurst)
		}
		var late []string
		for i := range n {
			id := station.StationID(i + 1)
			order := meterValues(b, id)
			if peak := b.StationPeak(id, backend.KindProcess); station.OutOfOrder(order) > 0 || peak > 1 {
				late = append(late, fmt.Sprintf("%s's in the order %v, up to %d at once", id, order, peak))
			}
		}
		if len(late) > 0 {
			t.Errorf("%d stations' meter values were not processed one at a time in the order they were sent, e.g. %s: "+
				"a station's readings must be analysed in the order they were taken", len(late), late[0])
		}
	})
}

func TestStationsProcessedInParallel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := backend.New(backend.Options{})
		gate := b.Hold(func(w backend.Work) bool { return w.Kind == backend.KindProcess })
		l := newServer(t, b)
		t.Cleanup(gate.Open)

		const n = workers
		for i := range n {
			pipeline(t, kit.Boot(t, l, i+1), 1, gate)
		}
		kit.Settle(t, gate)

		busy := make(map[string]bool)
		for _, r := range b.Records() {
			if r.Kind == backend.KindProcess && r.End.IsZero() {
				busy[r.Station] = true
			}
		}
		if len(busy) != n {
			t.Errorf("%d stations each had one meter value to process: %d were processed at the same time, want %d. "+
				"Ordering one station's work must not serialise everybody's", n, len(busy), n)
		}
	})
}

// maxStalled is how many stations TestStalledStationDelaysNobody stalls,
// one after the other. A server that processes with a fixed set of N
// goroutines (a pool, or shards that stations are hashed onto) has none
// left for anybody once N stations are stalled, whatever its hash; so the
// test catches every such N up to maxStalled.
const maxStalled = 64

func TestStalledStationDelaysNobody(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := backend.New(backend.Options{})
		// Each station's second meter value (call 3) stalls in the backend
		// until the test ends.
		gate := b.Hold(func(w backend.Work) bool { return w.Kind == backend.KindProcess && w.CallID == "3" })
		l := newServer(t, b)
		t.Cleanup(gate.Open)

		// Station after station: its first meter value must be processed
		// though every station before it is stalled; then it stalls too.
		for i := 1; i <= maxStalled+1; i++ {
			st := kit.Boot(t, l, i)
			pipeline(t, st, 1, gate)
			kit.Settle(t, gate)
			if !processed(b, st.ID(), first) {
				stalled := "CS0001"
				if i > 2 {
					stalled = fmt.Sprintf("CS0001–%s", station.StationID(i-1))
				}
				t.Errorf("with %d stations stalled in the backend (%s), %s's meter value was not processed: "+
					"it waited behind a stalled station. One slow station must delay nobody but itself. "+
					"A fixed set of goroutines (a pool, or shards that stations are hashed onto) puts a healthy "+
					"station behind a stalled one as soon as they share a goroutine, and every station once as many "+
					"stations stall as there are goroutines, whatever the hash",
					i-1, stalled, st.ID())
				return
			}
			if i > maxStalled {
				t.Logf("with %d stations stalled, %s's meter value was processed at once", maxStalled, st.ID())
				break
			}
			pipeline(t, st, 1, gate)
			// The next station's meter value must come after this one is
			// stalled, so that it cannot slip past it.
			if _, ok := kit.Await(t, heldAt(t, b, i), gate); !ok {
				t.Errorf("%s's second meter value did not reach the backend within a minute, "+
					"though its first was processed at once", st.ID())
				return
			}
		}
	})
}

func TestCloseLeavesNothingBehind(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := backend.New(backend.Options{})
		// Each station's first meter value is in the backend when Close is
		// called, and stays there until the test lets it go (a query already
		// sent cannot be called back); the others wait behind it.
		firm := b.HoldFirm(func(w backend.Work) bool { return w.Kind == backend.KindProcess && w.CallID == first })
		srv := ordering.New(ordering.Config{Backend: b, Workers: workers})
		l := kit.Serve(t, srv)
		t.Cleanup(firm.Open) // should the test stop early: before the server is closed
		for i := range 5 {
			pipeline(t, kit.Boot(t, l, i+1), perBurst, firm)
		}
		kit.Settle(t, firm)
		kit.CloseWaits(t, srv, b, firm)
		// kit.Serve's cleanup checks that no goroutine of the server is left.
	})
}

// send sends n meter values from st, the k-th and those after it, back to
// back, and returns a channel that receives nil once all are acknowledged,
// or the first error. It sends from a goroutine of its own: the in-memory
// network is synchronous, so a server that has stopped reading would stop
// the test in Send, before it could say so.
func send(t *testing.T, st *station.Station, k, n int) <-chan error {
	done := make(chan error, 1)
	go func() {
		var answers []<-chan station.Answer
		for i := range n {
			ans, err := st.Send(t.Context(), ocpp.ActionMeterValues, station.MeterValue(k+i))
			if err != nil {
				done <- err
				return
			}
			answers = append(answers, ans)
		}
		for _, ans := range answers {
			if a := <-ans; a.Err != nil { // an answer always comes, if only when the station closes
				done <- a.Err
				return
			}
		}
		done <- nil
	}()
	return done
}

// pipeline sends n meter values from st back to back and waits for their
// acknowledgements; it stops the test if they do not all come at once,
// because the test needs them to.
func pipeline(t *testing.T, st *station.Station, n int, gates ...*backend.Gate) {
	t.Helper()
	err, ok := kit.Await(t, send(t, st, 0, n), gates...)
	switch {
	case !ok:
		t.Fatalf("%s's %d meter values were not all acknowledged within a minute, and this test needs them to be "+
			"at once: see TestAcknowledgedBeforeProcessing", st.ID(), n)
	case err != nil:
		t.Fatalf("%s's meter values: %v", st.ID(), err)
	}
}

// heldAt returns a channel that is closed once n pieces of work are held
// at the backend's gates.
func heldAt(t *testing.T, b *backend.Backend, n int) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		if b.Await(t.Context(), func(s backend.Stats) bool { return s.Held >= n }) == nil {
			close(ch)
		}
	}()
	return ch
}

// processed reports whether the backend has finished processing the call
// of the station with the given id.
func processed(b *backend.Backend, station, callID string) bool {
	for _, r := range b.StationRecords(station, backend.KindProcess) {
		if r.CallID == callID && !r.End.IsZero() {
			return true
		}
	}
	return false
}

// meterValues returns the numbers (1 for the first) of a station's meter
// values in the order the backend started processing them.
func meterValues(b *backend.Backend, id string) []int {
	order := kit.Processed(b, id)
	for i := range order {
		order[i]-- // call 1 was the BootNotification
	}
	return order
}

// count returns how many calls the backend has finished processing in the background.
func count(b *backend.Backend) int {
	n := 0
	for _, r := range b.Records() {
		if r.Kind == backend.KindProcess && !r.End.IsZero() {
			n++
		}
	}
	return n
}

// list writes numbers as "2, 3, 4, …", at most n of them.
func list(ids []int, n int) string {
	s := make([]string, 0, n+1)
	for i, id := range ids {
		if i == n {
			s = append(s, "…")
			break
		}
		s = append(s, strconv.Itoa(id))
	}
	return strings.Join(s, ", ")
}
