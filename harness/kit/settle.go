package kit

import (
	"fmt"
	"path"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/internal/stackdump"
)

// Waiting inside a synctest bubble without hanging on a lock.
//
// synctest.Wait returns once every other goroutine of the bubble is durably
// blocked, and fake time moves only then. A goroutine waiting for a
// sync.Mutex is not durably blocked. So when a server holds a mutex while
// its goroutine is parked (in the backend, at a gate), every goroutine that
// wants the mutex stops the bubble for good: synctest.Wait never returns,
// no timer ever fires, and the test would hang until go test kills it.
//
// Settle and Await look at the goroutines instead of waiting blindly. The
// rule for both: a helper fails the test only for what the caller cannot
// see, goroutines stuck on a lock, and then it stops the test (t.Fatal)
// after freeing the lock's holder, so that the test can end. What it returns
// is for the caller to judge, and nothing about it has been reported yet:
// the caller never has to ask t.Failed, and never reports the same thing
// twice.

// The bubble's state, as seen in a dump of its goroutines.
type bubbleState int

const (
	bubbleBusy    bubbleState = iota // some goroutine can still run
	bubbleSettled                    // every other goroutine is durably blocked
	bubbleStuck                      // the others are durably blocked or wait for a mutex that one of them holds
)

// Settle lets the server do everything it can before fake time moves, as
// synctest.Wait does, and returns once it has. When goroutines wait for a
// mutex instead, Settle gives up: it opens the gates (so that the lock's
// holder can go on and the test can end) and stops the test with t.Fatal,
// saying where the server waits for the lock and why that is wrong. Call it
// from the test's goroutine, inside its synctest bubble.
func Settle(t testing.TB, gates ...*backend.Gate) {
	t.Helper()
	settle(t, func() { openAll(gates) })
}

// SettleThen is Settle for a test whose server no gate can free: when it
// gives up, it calls free (which ends what the lock's holder waits for: it
// cancels a context, closes a connection) before it stops the test.
func SettleThen(t testing.TB, free func()) {
	t.Helper()
	settle(t, free)
}

func settle(t testing.TB, free func()) {
	t.Helper()
	var l looker
	for pause := 1; ; pause = min(2*pause, 64) {
		yield(pause)
		switch state, waiting := l.look(); state {
		case bubbleSettled:
			synctest.Wait()
			return
		case bubbleStuck:
			if l.stuckAgain() {
				msg := stuckOnLock("The test waited for the server to finish what it could", waiting)
				free()
				t.Fatal(msg)
			}
		}
	}
}

// Await waits for a value from ch, for up to a minute of fake time once the
// server has done everything it can, and returns it and true. If none comes,
// it returns the zero value and false, and fails nothing: what the missing
// value means is the caller's to say, and the caller must say it. When
// goroutines wait for a mutex meanwhile, Await gives up as Settle does: it
// opens the gates and stops the test with t.Fatal. Call it from the test's
// goroutine, inside its synctest bubble.
func Await[T any](t testing.TB, ch <-chan T, gates ...*backend.Gate) (T, bool) {
	t.Helper()
	var l looker
	for pause := 1; ; pause = min(2*pause, 64) {
		select {
		case v := <-ch:
			return v, true
		default:
		}
		yield(pause)
		if pause < 8 {
			continue // what we wait for usually comes at once: look only then
		}
		switch state, waiting := l.look(); state {
		case bubbleSettled:
			select {
			case v := <-ch:
				return v, true
			case <-time.After(time.Minute):
				var zero T
				return zero, false
			}
		case bubbleStuck:
			if l.stuckAgain() {
				msg := stuckOnLock("The test waited for the server", waiting)
				openAll(gates)
				t.Fatal(msg)
			}
		}
	}
}

// yield lets the other goroutines run.
func yield(n int) {
	for range n {
		runtime.Gosched()
	}
}

// stuckOnLock says what the test waited for (waited, a sentence's
// beginning), where the server's goroutines wait for a mutex instead, and
// why that is wrong.
func stuckOnLock(waited string, waiting []stackdump.Goroutine) string {
	who := fmt.Sprintf("%d goroutines of the server wait", len(waiting))
	if len(waiting) == 1 {
		who = "a goroutine of the server waits"
	}
	for _, g := range waiting {
		if g.Calls("sync.(*Once).doSlow") {
			return fmt.Sprintf("%s, but %s inside sync.Once.Do, at %s, for another caller of the same Once to finish. "+
				"In real time that would be right; but this suite runs on fake time (testing/synctest), which does not count a "+
				"goroutine waiting for a mutex (the Once's) as durably blocked: while it waits, the fake clock cannot "+
				"move, so the first caller, which waits for fake time, never ends. Let the later callers wait on a "+
				"channel the first one closes when it is done (a flag set under a mutex says who is first): a goroutine "+
				"waiting on a channel lets fake time pass.", waited, who, where(g))
		}
	}
	return fmt.Sprintf("%s, but %s for a lock (a sync.Mutex) held by a goroutine that is parked, at %s. "+
		"A lock held while a goroutine waits (for the backend, for room in a queue) makes everything that "+
		"needs the lock wait for the slowest of them: one slow station ties up goroutine after goroutine. "+
		"Hold a lock only to look at or change shared state, never across a wait. (In this test's synctest "+
		"bubble a goroutine waiting for a mutex also stops the fake clock, so the test stops here rather than hang.)",
		waited, who, where(waiting[0]))
}

// openAll opens the gates, so that a parked holder of a lock can go on.
func openAll(gates []*backend.Gate) {
	for _, g := range gates {
		g.Open()
	}
}

// looker takes dumps of the goroutines, reusing its buffer.
type looker struct {
	buf   []byte
	stuck int // looks in a row that found the bubble stuck
}

// stuckLooks is how many looks in a row must find the bubble stuck before
// it is taken to be: a goroutine can be seen waiting for a mutex an instant
// before it is woken (a dump is a snapshot), but a lock held by a parked
// goroutine stays held however long one looks.
const stuckLooks = 4

// stuckAgain counts a look that found the bubble stuck, and reports
// whether enough looks in a row have.
func (l *looker) stuckAgain() bool {
	l.stuck++
	return l.stuck >= stuckLooks
}

// look returns the state of the caller's bubble and, when it is stuck, the
// goroutines waiting for a mutex, with their frames. The headers say the
// state; the frames are read only for a stuck bubble, which is rare.
func (l *looker) look() (bubbleState, []stackdump.Goroutine) {
	l.buf = stackdump.Take(l.buf)
	dump := string(l.buf)
	state, _ := classify(stackdump.Headers(dump))
	if state != bubbleStuck {
		l.stuck = 0
		return state, nil
	}
	return classify(stackdump.Parse(dump))
}

// classify returns the state of the caller's bubble, given every goroutine
// of the process, the caller first (as runtime.Stack lists them).
func classify(all []stackdump.Goroutine) (bubbleState, []stackdump.Goroutine) {
	if all[0].Bubble == 0 {
		panic("kit.Settle and kit.Await must be called inside a synctest bubble")
	}
	var waiting []stackdump.Goroutine
	running := 0
	for _, g := range all[1:] {
		switch {
		case g.Bubble != all[0].Bubble, g.Durable:
		case g.WaitsForLock():
			waiting = append(waiting, g)
		default:
			running++
		}
	}
	switch {
	case running > 0:
		return bubbleBusy, nil
	case len(waiting) > 0:
		// Nobody can run, so whoever holds the mutex is parked (or waits
		// for a mutex itself): nothing will change until the test acts.
		return bubbleStuck, waiting
	default:
		return bubbleSettled, nil
	}
}

// where returns the innermost frame of the code under test (a step's
// package, under exercises/, whichever files the test runs it with) in a
// goroutine's stack, as "function (file:line)", or the whole stack if
// there is none.
func where(g stackdump.Goroutine) string {
	for _, f := range g.Frames {
		pkg := f.Package()
		i := strings.LastIndex(pkg, "/exercises/")
		if i >= 0 && !strings.Contains(pkg[i+len("/exercises/"):], "/") {
			return fmt.Sprintf("%s (%s:%d)", f.Name(), path.Base(f.File), f.Line)
		}
	}
	return "\n" + g.Text + "\n"
}
