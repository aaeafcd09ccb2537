package kit

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/internal/stackdump"
	"github.com/ocppkata/kata/harness/ocpp"
)

func TestClassify(t *testing.T) {
	const me = "goroutine 1 [running, synctest bubble 7]:\nmain.test()\n\t/x/t.go:1\n\n"
	g := func(id, state string) string {
		return "goroutine " + id + " [" + state + "]:\ngithub.com/ocppkata/kata/exercises/03-ordering.(*background).enqueue(0x1)\n\t/k/exercises/03-ordering/background.go:42 +0x1\n\n"
	}
	tests := []struct {
		name    string
		dump    string
		want    bubbleState
		waiting int
	}{
		{"all durable", me + g("2", "chan receive (durable), synctest bubble 7") + g("3", "select (durable), synctest bubble 7"), bubbleSettled, 0},
		{"one runnable", me + g("2", "chan receive (durable), synctest bubble 7") + g("3", "runnable, synctest bubble 7"), bubbleBusy, 0},
		{"mutex wait", me + g("2", "sync.Mutex.Lock, synctest bubble 7") + g("3", "select (durable), synctest bubble 7"), bubbleStuck, 1},
		{"rwmutex wait", me + g("2", "sync.RWMutex.Lock, synctest bubble 7"), bubbleStuck, 1},
		{"other bubbles ignored", me + g("2", "runnable, synctest bubble 8") + g("3", "sync.Mutex.Lock") + g("4", "select (durable), synctest bubble 7"), bubbleSettled, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, waiting := classify(stackdump.Parse(tt.dump))
			if got != tt.want || len(waiting) != tt.waiting {
				t.Errorf("classify = %v with %d waiting, want %v with %d", got, len(waiting), tt.want, tt.waiting)
			}
		})
	}
	_, waiting := classify(stackdump.Parse(me + g("2", "sync.Mutex.Lock, synctest bubble 7")))
	if got, want := where(waiting[0]), "(*background).enqueue (background.go:42)"; got != want {
		t.Errorf("where = %q, want %q", got, want)
	}
}

// stopper records a test's failures, and ends the goroutine at the first
// fatal one, as testing.T does.
type stopper struct{ recorder }

func (s *stopper) Fatal(args ...any) {
	s.Errorf("%s", fmt.Sprint(args...))
	runtime.Goexit()
}

// lockedServer starts a server stuck on its lock: a goroutine holds a mutex
// while it is parked in park, and another waits for the mutex.
func lockedServer(park func()) {
	var mu sync.Mutex
	held := make(chan struct{})
	go func() {
		mu.Lock()
		close(held)
		park()
		mu.Unlock()
	}()
	<-held
	go func() {
		mu.Lock()
		//lint:ignore SA2001 the point is to wait for the lock, as a stuck server does
		mu.Unlock()
	}()
}

// helper runs f in a goroutine of the bubble, as a test's body would call
// a helper, and reports whether f returned rather than stopped.
func helper(f func()) (returned bool) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
		returned = true
	}()
	<-done
	return returned
}

func TestSettle(t *testing.T) {
	t.Run("settles", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			rec := &stopper{recorder{TB: t}}
			done := make(chan struct{}, 1)
			go func() {
				for range 100 {
					runtime.Gosched()
				}
				done <- struct{}{}
			}()
			if !helper(func() { Settle(rec) }) || len(rec.errors()) > 0 {
				t.Fatalf("Settle stopped with %q, want it to return", rec.errors())
			}
			select {
			case <-done:
			default:
				t.Error("Settle returned before the server had done all it could")
			}
		})
	})
	t.Run("gives up on a lock", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			rec := &stopper{recorder{TB: t}}
			release := make(chan struct{})
			lockedServer(func() { <-release })
			if helper(func() { SettleThen(rec, func() { close(release) }) }) {
				t.Error("SettleThen returned, want it to stop the test")
			}
			errs := rec.errors()
			if len(errs) != 1 || !strings.HasPrefix(errs[0], "The test waited for the server to finish what it could, but a goroutine of the server waits for a lock") {
				t.Errorf("SettleThen failed with %q, want one failure saying what it waited for, and the lock", errs)
			}
			// free was called: the lock's holder and its waiter can end.
			synctest.Wait()
		})
	})
}

func TestAwait(t *testing.T) {
	t.Run("a value comes", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			rec := &stopper{recorder{TB: t}}
			ch := make(chan int, 1)
			go func() { time.Sleep(59 * time.Second); ch <- 7 }()
			var v int
			var ok bool
			if !helper(func() { v, ok = Await(rec, ch) }) || v != 7 || !ok || len(rec.errors()) > 0 {
				t.Errorf("Await = %d, %v with failures %q, want 7, true and none", v, ok, rec.errors())
			}
		})
	})
	t.Run("none comes: false, and nothing reported", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			rec := &stopper{recorder{TB: t}}
			start := time.Now()
			var v int
			ok := true
			if !helper(func() { v, ok = Await(rec, make(chan int)) }) || v != 0 || ok || len(rec.errors()) > 0 {
				t.Errorf("Await = %d, %v with failures %q, want 0, false and none: the caller says what it means", v, ok, rec.errors())
			}
			if waited := time.Since(start); waited != time.Minute {
				t.Errorf("Await gave up after %v of fake time, want a minute", waited)
			}
		})
	})
	t.Run("gives up on a lock", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			rec := &stopper{recorder{TB: t}}
			b := backend.New(backend.Options{})
			gate := b.Hold(nil)
			lockedServer(func() { b.Process(context.Background(), "CS1", &ocpp.Call{ID: "1", Action: ocpp.ActionHeartbeat}) })
			if helper(func() { Await(rec, make(chan int), gate) }) {
				t.Error("Await returned, want it to stop the test")
			}
			errs := rec.errors()
			if len(errs) != 1 || !strings.HasPrefix(errs[0], "The test waited for the server, but a goroutine of the server waits for a lock") {
				t.Errorf("Await failed with %q, want one failure saying what it waited for, and the lock", errs)
			}
			synctest.Wait()
		})
	})
}
