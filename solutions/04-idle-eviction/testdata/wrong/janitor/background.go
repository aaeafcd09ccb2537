package eviction

import (
	"context"
	"sync"
	"time"

	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/harness/queue"
)

// janitorPeriod is how often the janitor looks for idle processors.
const janitorPeriod = time.Second

// background processes the calls that were answered at once. Each station
// has a processor of its own, a goroutine and its queue, created on first
// use; a janitor goroutine stops the processors that have been idle for the
// idle timeout.
type background struct {
	ctx     context.Context
	backend *backend.Backend
	ttl     time.Duration // Config.IdleTimeout

	mu         sync.Mutex
	processors map[string]*processor
	done       sync.WaitGroup
}

// processor is one station's queue of calls to process. busy and idleSince
// are guarded by background.mu.
type processor struct {
	queue     *queue.Queue[*ocpp.Call]
	quit      chan struct{} // closed by the janitor
	busy      bool
	idleSince time.Time
}

func (bg *background) start(ctx context.Context, cfg Config) {
	bg.ctx, bg.backend, bg.ttl = ctx, cfg.Backend, cfg.IdleTimeout
	bg.processors = make(map[string]*processor)
	bg.done.Go(bg.janitor)
}

// enqueue hands a station's call to the station's processor, starting the
// processor on the station's first call.
func (bg *background) enqueue(station string, call *ocpp.Call) {
	bg.mu.Lock()
	defer bg.mu.Unlock()
	p, ok := bg.processors[station]
	if !ok {
		p = &processor{queue: queue.New[*ocpp.Call](), quit: make(chan struct{}), idleSince: time.Now()}
		bg.processors[station] = p
		bg.done.Go(func() { bg.process(station, p) })
	}
	p.queue.Push(call)
}

// process is a station's processor: it processes the station's calls one at
// a time, oldest first, until the janitor stops it or the server closes.
func (bg *background) process(station string, p *processor) {
	ctx := backend.WithWorker(bg.ctx, "processor-"+station)
	for {
		select {
		case <-p.queue.Ready():
			bg.mu.Lock()
			p.busy = true
			bg.mu.Unlock()
			for _, call := range p.queue.Take() {
				bg.backend.Process(ctx, station, call)
			}
			bg.mu.Lock()
			p.busy, p.idleSince = false, time.Now()
			bg.mu.Unlock()
		case <-p.quit:
			return
		case <-bg.ctx.Done():
			return
		}
	}
}

// janitor stops idle processors, looking at all of them every janitorPeriod.
func (bg *background) janitor() {
	tick := time.NewTicker(janitorPeriod)
	defer tick.Stop()
	for {
		select {
		case now := <-tick.C:
			bg.evictIdle(now)
		case <-bg.ctx.Done():
			return
		}
	}
}

// evictIdle removes the processors idle for the idle timeout and tells them
// to stop. Under the lock enqueue holds, a processor with nothing queued and
// nothing in progress cannot get a call while it is being removed.
func (bg *background) evictIdle(now time.Time) {
	bg.mu.Lock()
	defer bg.mu.Unlock()
	for station, p := range bg.processors {
		if !p.busy && p.queue.Len() == 0 && now.Sub(p.idleSince) >= bg.ttl {
			delete(bg.processors, station)
			close(p.quit)
		}
	}
}

// live returns how many processors there are.
func (bg *background) live() int {
	bg.mu.Lock()
	defer bg.mu.Unlock()
	return len(bg.processors)
}

// stop waits for the processors and the janitor, which end when the server's
// context does.
func (bg *background) stop() {
	bg.done.Wait()
}
