package eviction

import (
	"context"
	"sync"
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

	mu         sync.Mutex // guards the map, and nothing else
	processors map[string]*processor
	done       sync.WaitGroup
}

// processor is one station's queue of calls to process. Its own lock keeps
// a call from being queued while the processor decides to retire.
type processor struct {
	mu    sync.Mutex
	queue *queue.Queue[*ocpp.Call]
}

func (bg *background) start(ctx context.Context, cfg Config) {
	bg.ctx, bg.backend, bg.ttl = ctx, cfg.Backend, cfg.IdleTimeout
	bg.processors = make(map[string]*processor)
}

// enqueue hands a station's call to the station's processor, starting the
// processor on the station's first call.
func (bg *background) enqueue(station string, call *ocpp.Call) {
	p := bg.lookup(station)
	// The processor's own lock, not the map's: stations do not wait for
	// each other while they queue.
	p.mu.Lock()
	defer p.mu.Unlock()
	p.queue.Push(call)
}

// lookup returns the station's processor, starting it if it has none.
func (bg *background) lookup(station string) *processor {
	bg.mu.Lock()
	defer bg.mu.Unlock()
	p, ok := bg.processors[station]
	if !ok {
		p = &processor{queue: queue.New[*ocpp.Call]()}
		bg.processors[station] = p
		bg.done.Go(func() { bg.process(station, p) })
	}
	return p
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
// for it in the meantime. It holds the processor's lock, which enqueue holds
// while it pushes, from the check to the delete: no call is queued between.
func (bg *background) retire(station string, p *processor) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.queue.Len() > 0 {
		return false
	}
	bg.mu.Lock()
	delete(bg.processors, station)
	bg.mu.Unlock()
	return true
}

// live returns how many processors there are.
func (bg *background) live() int {
	bg.mu.Lock()
	defer bg.mu.Unlock()
	return len(bg.processors)
}

// stop waits for the processors, which end when the server's context does.
func (bg *background) stop() {
	bg.done.Wait()
}
