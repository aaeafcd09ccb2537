package ordering

import (
	"context"
	"fmt"
	"hash/maphash"
	"sync"

	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/harness/queue"
)

// shards is how many processors share the stations: a fixed number, so the
// goroutines do not grow with the stations.
const shards = 16

// background processes the calls that were answered at once. Stations are
// hashed onto a fixed set of shards, each a goroutine with its queue: a
// station always lands on the same shard, so its calls are processed in
// order, and different shards run side by side.
type background struct {
	ctx     context.Context
	backend *backend.Backend
	seed    maphash.Seed
	shards  [shards]*queue.Queue[item]
	done    sync.WaitGroup
}

// item is a call that was answered and still has to be processed.
type item struct {
	station string
	call    *ocpp.Call
}

func (bg *background) start(ctx context.Context, cfg Config) {
	bg.ctx, bg.backend = ctx, cfg.Backend
	bg.seed = maphash.MakeSeed()
	for i := range bg.shards {
		q := queue.New[item]()
		bg.shards[i] = q
		ctx := backend.WithWorker(ctx, fmt.Sprintf("shard-%d", i+1))
		bg.done.Go(func() { bg.process(ctx, q) })
	}
}

// enqueue hands a station's call to the station's shard.
func (bg *background) enqueue(station string, call *ocpp.Call) {
	bg.shards[maphash.String(bg.seed, station)%shards].Push(item{station: station, call: call})
}

// process is a shard: it processes its stations' calls one at a time,
// oldest first, until the server closes.
func (bg *background) process(ctx context.Context, q *queue.Queue[item]) {
	for {
		select {
		case <-q.Ready():
			for _, it := range q.Take() {
				bg.backend.Process(ctx, it.station, it.call)
			}
		case <-bg.ctx.Done():
			return
		}
	}
}

// stop waits for the shards, which end when the server's context does.
func (bg *background) stop() {
	bg.done.Wait()
}
