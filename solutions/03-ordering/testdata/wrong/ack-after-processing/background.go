package ordering

import (
	"context"
	"sync"

	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/harness/queue"
	"github.com/ocppkata/kata/harness/wsconn"
)

// background processes the meter values and status notifications, and
// answers each once it is processed, so that a station's acknowledgement
// means its data is stored. Each station has a processor of its own, a
// goroutine and its queue, created on first use.
type background struct {
	ctx     context.Context
	backend *backend.Backend

	mu         sync.Mutex
	processors map[string]*processor
	done       sync.WaitGroup
}

// processor is one station's queue of calls to process and answer.
type processor struct {
	conn  *wsconn.Conn
	queue *queue.Queue[*ocpp.Call]
}

func (bg *background) start(ctx context.Context, cfg Config) {
	bg.ctx, bg.backend = ctx, cfg.Backend
	bg.processors = make(map[string]*processor)
}

// enqueue hands a station's call to the station's processor, starting the
// processor on the station's first call.
func (bg *background) enqueue(conn *wsconn.Conn, call *ocpp.Call) {
	station := conn.Station()
	bg.mu.Lock()
	defer bg.mu.Unlock()
	p, ok := bg.processors[station]
	if !ok {
		p = &processor{conn: conn, queue: queue.New[*ocpp.Call]()}
		bg.processors[station] = p
		bg.done.Go(func() { bg.process(station, p) })
	}
	p.queue.Push(call)
}

// process is a station's processor: it processes the station's calls one at
// a time, oldest first, and answers each, until the server closes.
func (bg *background) process(station string, p *processor) {
	ctx := backend.WithWorker(bg.ctx, "processor-"+station)
	for {
		select {
		case <-p.queue.Ready():
			for _, call := range p.queue.Take() {
				answer := bg.backend.Answer(station, call)
				if _, ok := answer.(*ocpp.CallResult); ok {
					if err := bg.backend.Process(ctx, station, call); err != nil {
						continue
					}
				}
				p.conn.Send(answer)
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
