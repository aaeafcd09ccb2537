package live

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/ocpp"
)

// The benchmarks measure what the view costs the server per call: the
// tap's two hooks on a station connection, and the backend's three on
// each piece of work. Each runs with no page watching (make serve and make
// bench, most of the time) and with one (the workshop's projector). Run
// them with -benchmem.

// discardWriter is a page's ResponseWriter that drops what it is sent.
type discardWriter struct{ header http.Header }

func (w *discardWriter) Header() http.Header              { return w.header }
func (w *discardWriter) Write(p []byte) (int, error)      { return len(p), nil }
func (w *discardWriter) WriteHeader(int)                  {}
func (w *discardWriter) Flush()                           {}
func (w *discardWriter) SetWriteDeadline(time.Time) error { return nil }

// benchHub returns a hub for a benchmark, watched by a page if watched.
func benchHub(b *testing.B, watched bool) *Hub {
	b.Helper()
	h := New(Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	b.Cleanup(func() {
		cancel()
		if watched {
			<-done
		}
		h.Close()
	})
	if !watched {
		return h
	}
	go func() {
		defer close(done)
		req := httptest.NewRequest("GET", "/live/events", nil).WithContext(ctx)
		h.Handler().ServeHTTP(&discardWriter{header: http.Header{}}, req)
	}()
	for h.watching.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	return h
}

// heartbeatFrames are n different lock-step Heartbeat calls, as a
// station sends them, and their answers.
func heartbeatFrames(n int) ([][]byte, []*ocpp.CallResult) {
	frames := make([][]byte, n)
	answers := make([]*ocpp.CallResult, n)
	for i := range n {
		id := strconv.Itoa(19223201 + i)
		frames[i] = []byte(`[2,"` + id + `","Heartbeat",{}]`)
		answers[i] = &ocpp.CallResult{ID: id}
	}
	return frames, answers
}

func forEachWatch(b *testing.B, f func(b *testing.B, h *Hub)) {
	for _, watched := range []bool{false, true} {
		name := "unwatched"
		if watched {
			name = "watched"
		}
		b.Run(name, func(b *testing.B) { f(b, benchHub(b, watched)) })
	}
}

// BenchmarkTapFrameRead is the tap's hook on each frame a station sends.
// Every so many calls, the clock stops while they are answered, so that
// the tap never holds more than a station's worth.
func BenchmarkTapFrameRead(b *testing.B) {
	forEachWatch(b, func(b *testing.B, h *Hub) {
		frames, answers := heartbeatFrames(1024)
		c := tapOn(h)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			c.FrameRead("CS00001", frames[i%len(frames)])
			if i%len(frames) == len(frames)-1 || i == b.N-1 {
				b.StopTimer()
				for j := range i%len(frames) + 1 {
					c.MessageSent("CS00001", answers[j])
				}
				b.StartTimer()
			}
		}
	})
}

// BenchmarkTapCall is a lock-step call through the tap: the frame read,
// then its answer sent, on one connection.
func BenchmarkTapCall(b *testing.B) {
	forEachWatch(b, func(b *testing.B, h *Hub) {
		frames, answers := heartbeatFrames(1024)
		c := tapOn(h)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			c.FrameRead("CS00001", frames[i%len(frames)])
			c.MessageSent("CS00001", answers[i%len(frames)])
			i++
		}
	})
}

// BenchmarkTapCallParallel is BenchmarkTapCall on many connections at
// once, as a loaded server has them: what they share shows here.
func BenchmarkTapCallParallel(b *testing.B) {
	forEachWatch(b, func(b *testing.B, h *Hub) {
		frames, answers := heartbeatFrames(1024)
		b.ReportAllocs()
		n := 0
		b.RunParallel(func(pb *testing.PB) {
			h.mu.Lock()
			n++
			station := "CS" + strconv.Itoa(n)
			h.mu.Unlock()
			c := tapOn(h)
			for i := 0; pb.Next(); i++ {
				c.FrameRead(station, frames[i%len(frames)])
				c.MessageSent(station, answers[i%len(frames)])
			}
		})
	})
}

// BenchmarkTracerCall is the backend's three hooks on a call: started,
// replied, ended.
func BenchmarkTracerCall(b *testing.B) {
	forEachWatch(b, func(b *testing.B, h *Hub) {
		w := backend.Work{Kind: backend.KindCall, Station: "CS00001", CallID: "19223201", Action: ocpp.ActionHeartbeat, Worker: "worker-1"}
		b.ReportAllocs()
		seq := 0
		at := time.Now() // the backend's clock is not the hooks' cost
		for b.Loop() {
			seq++
			h.WorkStarted(seq, w, at)
			h.WorkReplied(seq)
			h.WorkEnded(seq, w, at, at, nil)
		}
	})
}
