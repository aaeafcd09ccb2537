package backpressure

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/harness/queue"
)

// background processes the calls that were answered at once. Each station
// has a processor of its own, a goroutine and its queue, created on first
// use and retired when it has been idle for the idle timeout: a station's
// calls are processed one at a time and in the order they came, and
// different stations' calls side by side.
type background struct {
	ctx     context.Context
	backend *backend.Backend
	ttl     time.Duration // Config.IdleTimeout

	mu         sync.Mutex
	processors map[string]*processor
	done       sync.WaitGroup
}

// processor is one station's queue of calls to process.
type processor struct {
	queue   *queue.Queue[*ocpp.Call]
	waiting atomic.Int64 // calls queued or taken, and not yet begun
}

func (bg *background) start(ctx context.Context, cfg Config) {
	bg.ctx, bg.backend, bg.ttl = ctx, cfg.Backend, cfg.IdleTimeout
	bg.processors = make(map[string]*processor)
}

// enqueue hands a station's call to the station's processor, starting the
// processor on the station's first call.
func (bg *background) enqueue(station string, call *ocpp.Call) {
	bg.mu.Lock()
	defer bg.mu.Unlock()
	p, ok := bg.processors[station]
	if !ok {
		p = &processor{queue: queue.New[*ocpp.Call]()}
		bg.processors[station] = p
		bg.done.Go(func() { bg.process(station, p) })
	}
	p.waiting.Add(1)
	p.queue.Push(call)
}

// process is a station's processor: it processes the station's calls one at
// a time, oldest first, until it has been idle for the idle timeout or the
// server closes.
func (bg *background) process(station string, p *processor) {
	ctx := backend.WithWorker(bg.ctx, "processor-"+station)
	idle := time.NewTimer(bg.ttl)
	defer idle.Stop()
	for {
		select {
		case <-p.queue.Ready():
			for _, call := range p.queue.Take() {
				p.waiting.Add(-1)
				bg.backend.Process(ctx, station, call)
			}
			// Idle time counts from the end of the last processing, not from
			// the last enqueue: a processor working through a backlog is busy.
			idle.Reset(bg.ttl)
		case <-idle.C:
			if bg.retire(station, p) {
				return
			}
			// A call came in just now: the Ready case will take it.
		case <-bg.ctx.Done():
			return
		}
	}
}

// retire removes an idle processor from the map, unless a call was queued
// for it in the meantime. It holds the lock that enqueue holds, so a call is
// either in the queue before the processor looks (and it stays), or arrives
// after the processor left the map (and enqueue starts a new one): none is
// lost between the two.
func (bg *background) retire(station string, p *processor) bool {
	bg.mu.Lock()
	defer bg.mu.Unlock()
	if p.queue.Len() > 0 {
		return false
	}
	delete(bg.processors, station)
	return true
}

// live returns how many processors there are.
func (bg *background) live() int {
	bg.mu.Lock()
	defer bg.mu.Unlock()
	return len(bg.processors)
}

// queued returns how many of the station's calls wait for processing.
func (bg *background) queued(station string) int {
	bg.mu.Lock()
	defer bg.mu.Unlock()
	if p, ok := bg.processors[station]; ok {
		return int(p.waiting.Load())
	}
	return 0
}

// stop waits for the processors, which end when the server's context does.
func (bg *background) stop() {
	bg.done.Wait()
}
