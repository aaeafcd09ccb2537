package million

import (
	"context"
	"sync"
	"time"

	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/ocpp"
)

// background processes the calls that were answered at once. Each station
// has a processor of its own, a goroutine and a bounded queue, created on
// first use and retired when it has been idle for the idle timeout: a
// station's calls are processed one at a time and in the order they came,
// and different stations' calls side by side, at most Config.ProcessLimit
// at once.
type background struct {
	ctx     context.Context
	backend *backend.Backend
	ttl     time.Duration // Config.IdleTimeout
	limit   int           // Config.QueueLimit
	// slots holds a token for each call being processed: a buffered channel
	// as a counting semaphore, whose wait can sit in a select beside the
	// server's context.
	slots chan struct{}

	mu         sync.Mutex
	processors map[string]*processor
	done       sync.WaitGroup

	finishing chan struct{} // closed by finish: process what is queued, then end
	drops     *dropCounter
}

// processor is one station's queue of calls to process.
type processor struct {
	queue chan *ocpp.Call // buffered Config.QueueLimit: full means stop reading
	// senders counts the readers between looking the processor up and
	// putting their call in its queue. Guarded by background.mu: while it is
	// not zero the processor must not retire, or their call would be lost.
	senders int
}

func (bg *background) start(ctx context.Context, cfg Config, drops *dropCounter) {
	bg.ctx, bg.backend, bg.ttl, bg.limit = ctx, cfg.Backend, cfg.IdleTimeout, cfg.QueueLimit
	bg.finishing, bg.drops = make(chan struct{}), drops
	bg.slots = make(chan struct{}, cfg.ProcessLimit)
	bg.processors = make(map[string]*processor)
}

// enqueue hands a station's call to the station's processor, starting the
// processor on the station's first call. While the station's queue is full
// it waits, and so the station's reader, which calls it, stops reading: the
// station's socket fills up and TCP tells the station to slow down. Only
// this station's reader waits; the lock is not held meanwhile. It returns
// false if the server closed first.
func (bg *background) enqueue(station string, call *ocpp.Call) bool {
	bg.mu.Lock()
	p, ok := bg.processors[station]
	if !ok {
		p = &processor{queue: make(chan *ocpp.Call, bg.limit)}
		bg.processors[station] = p
		bg.done.Go(func() { bg.process(station, p) })
	}
	p.senders++
	bg.mu.Unlock()
	defer func() {
		bg.mu.Lock()
		p.senders--
		bg.mu.Unlock()
	}()
	select {
	case p.queue <- call:
		return true
	case <-bg.ctx.Done():
		return false
	}
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
		case call := <-p.queue:
			if !bg.processOne(ctx, station, call) {
				return
			}
			// Idle time counts from the end of the last processing, not from
			// the last enqueue: a processor working through a backlog is busy.
			idle.Reset(bg.ttl)
		case <-idle.C:
			if bg.retire(station, p) {
				return
			}
			// A call is in the queue or on its way: the first case will take it.
		case <-bg.finishing:
			// Nobody enqueues any more: process what is queued, and end.
			for {
				select {
				case call := <-p.queue:
					if !bg.processOne(ctx, station, call) {
						return
					}
				default:
					return
				}
			}
		case <-bg.ctx.Done():
			return
		}
	}
}

// processOne processes one call once a slot is free. A slot is held for one
// call, not for a processor's life, so the slots go round every station
// with work. It returns false, with the call not processed, if the server
// closed before a slot was free.
func (bg *background) processOne(ctx context.Context, station string, call *ocpp.Call) bool {
	select {
	case bg.slots <- struct{}{}:
	case <-bg.ctx.Done():
		bg.drops.processing.Add(1) // acknowledged, and lost
		return false
	}
	defer func() { <-bg.slots }()
	if bg.backend.Process(ctx, station, call) != nil {
		bg.drops.processing.Add(1) // cut short: not processed
	}
	return true
}

// retire removes an idle processor from the map, unless a call is in its
// queue or a reader is about to put one there. It holds the lock that
// enqueue holds to look the processor up, so a call either counts before
// the processor looks (and it stays), or looks after the processor left the
// map (and enqueue starts a new one): none is lost between the two.
func (bg *background) retire(station string, p *processor) bool {
	bg.mu.Lock()
	defer bg.mu.Unlock()
	if len(p.queue) > 0 || p.senders > 0 {
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

// queued returns how many of the station's calls wait in its queue.
func (bg *background) queued(station string) int {
	bg.mu.Lock()
	defer bg.mu.Unlock()
	if p, ok := bg.processors[station]; ok {
		return len(p.queue)
	}
	return 0
}

// finish tells the processors that nothing more will be enqueued: each
// processes what its queue holds, and ends. Call it once no reader can
// enqueue any more.
func (bg *background) finish() { close(bg.finishing) }

// stop waits for the processors, which end once finish was called and
// their queue is empty, or when the server's context ends.
func (bg *background) stop() {
	bg.done.Wait()
}

// left returns how many calls the processors left in their queues. Call it
// after stop.
func (bg *background) left() int {
	bg.mu.Lock()
	defer bg.mu.Unlock()
	n := 0
	for _, p := range bg.processors {
		n += len(p.queue)
	}
	return n
}
