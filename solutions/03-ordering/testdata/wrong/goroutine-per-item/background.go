package ordering

import (
	"context"
	"sync"

	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/harness/queue"
)

// background processes the calls that were answered at once. Each station
// has a processor of its own, a goroutine and its queue, created on first
// use: a station's calls are processed one at a time and in the order they
// came, and different stations' calls side by side, so a station whose
// processing is slow delays nobody but itself.
type background struct {
	ctx     context.Context
	backend *backend.Backend

	mu         sync.Mutex
	processors map[string]*processor
	done       sync.WaitGroup
}

// processor is one station's queue of calls to process.
type processor struct {
	queue *queue.Queue[*ocpp.Call]
}

func (bg *background) start(ctx context.Context, cfg Config) {
	bg.ctx, bg.backend = ctx, cfg.Backend
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
	p.queue.Push(call)
}

// process is a station's processor: it processes the station's calls one at
// a time, oldest first, until the server closes.
func (bg *background) process(station string, p *processor) {
	ctx := backend.WithWorker(bg.ctx, "processor-"+station)
	for {
		select {
		case <-p.queue.Ready():
			for _, call := range p.queue.Take() {
				// Processing takes a while: let it run on its own, so the
				// processor is ready for the station's next call.
				bg.done.Go(func() { bg.backend.Process(ctx, station, call) })
			}
		case <-bg.ctx.Done():
			return
		}
	}
}

// stop waits for the processors, which end when the server's context does.
func (bg *background) stop() {
	bg.done.Wait()
}
