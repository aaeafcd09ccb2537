package ordering

import (
	"context"
	"fmt"
	"sync"

	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/ocpp"
)

// background processes the calls that were answered at once: a pool of
// workers shares one channel of items, and a worker holds the station's
// lock while it processes, so two of a station's calls are never processed
// at the same time.
type background struct {
	ctx     context.Context
	backend *backend.Backend
	items   chan item
	done    sync.WaitGroup

	mu    sync.Mutex
	locks map[string]*sync.Mutex // one per station
}

// item is a call that was answered and still has to be processed.
type item struct {
	station string
	call    *ocpp.Call
}

func (bg *background) start(ctx context.Context, cfg Config) {
	bg.ctx, bg.backend = ctx, cfg.Backend
	bg.items = make(chan item, 1024)
	bg.locks = make(map[string]*sync.Mutex)
	for i := range cfg.Workers {
		ctx := backend.WithWorker(ctx, fmt.Sprintf("processor-%d", i+1))
		bg.done.Go(func() {
			for it := range bg.items {
				lock := bg.lock(it.station)
				lock.Lock()
				bg.backend.Process(ctx, it.station, it.call)
				lock.Unlock()
			}
		})
	}
}

// lock returns the station's lock, creating it on the station's first call.
func (bg *background) lock(station string) *sync.Mutex {
	bg.mu.Lock()
	defer bg.mu.Unlock()
	l, ok := bg.locks[station]
	if !ok {
		l = new(sync.Mutex)
		bg.locks[station] = l
	}
	return l
}

// enqueue hands a station's call to the background.
func (bg *background) enqueue(station string, call *ocpp.Call) {
	select {
	case bg.items <- item{station: station, call: call}:
	case <-bg.ctx.Done():
	}
}

// stop ends the background processing once no more calls can be enqueued.
func (bg *background) stop() {
	close(bg.items)
	bg.done.Wait()
}
