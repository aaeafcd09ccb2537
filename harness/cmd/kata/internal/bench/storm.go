package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ocppkata/kata/harness/internal/term"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/stations/station"
)

// The storm phase: stations that reconnect in a loop, as a fleet does after
// a network outage, beside live stations that go on with their Heartbeats.
const (
	stormScale    = 0.1              // the backend's latencies: a boot takes a worker 170ms
	stormLive     = 100              // stations that stay connected and heartbeat
	stormIDs      = 1800             // ids the storm uses: its first 200 are on two sockets at once
	stormFor      = 20 * time.Second // how long the storm lasts
	stormAfter    = 20 * time.Second // how long after it the server's memory is read again
	stormCallWait = 10 * time.Second // a live station's call not answered by then has timed out
)

// storm measures what a reconnect storm costs the final server and its
// live stations: their calls' latency and time-outs during it, and the
// server's memory and goroutines during and after it.
func (b *bench) storm(ctx context.Context) {
	const phase = "storm"
	n := b.opts.stormStations
	what := fmt.Sprintf("final server, %s stations reconnecting for %v beside %d live ones", term.Thousands(int64(n)), stormFor, stormLive)
	b.say(phase, "starting the final server")
	db := filepath.Join(b.tmp, "storm.db")
	// With its profiles, to ask it for a garbage collection afterwards.
	srv, err := b.startServerOn(ctx, "storm", b.finalBin, "solution", b.opts.workers, stormScale, db, "-pprof")
	if err != nil {
		b.failRow(phase, what, err)
		return
	}
	before, err := measure(ctx, srv)
	if err != nil {
		b.failRow(phase, what, err)
		return
	}
	b.say(phase, what)
	url := stationsURL(srv)
	stormCtx, stop := context.WithTimeout(ctx, stormFor)
	defer stop()

	// The live stations: a Heartbeat every half second each.
	var liveMu sync.Mutex
	var latencies []time.Duration
	var timedOut, liveFailed atomic.Int64
	var live sync.WaitGroup
	for i := range stormLive {
		live.Go(func() {
			st, err := station.Dial(stormCtx, fmt.Sprintf("LIVE%04d", i+1), station.Options{URL: url})
			if err != nil {
				liveFailed.Add(1)
				return
			}
			defer st.Close()
			call := func(action string, req any) {
				callCtx, cancel := context.WithTimeout(context.Background(), stormCallWait)
				defer cancel()
				start := time.Now()
				err := st.Call(callCtx, action, req, nil)
				switch {
				case err == nil:
					liveMu.Lock()
					latencies = append(latencies, time.Since(start))
					liveMu.Unlock()
				case callCtx.Err() != nil:
					timedOut.Add(1)
				default:
					liveFailed.Add(1)
				}
			}
			call(ocpp.ActionBootNotification, ocpp.BootNotificationRequest{ChargePointVendor: "Kata", ChargePointModel: "Live"})
			for stormCtx.Err() == nil {
				call(ocpp.ActionHeartbeat, ocpp.HeartbeatRequest{})
				select {
				case <-stormCtx.Done():
				case <-time.After(500 * time.Millisecond):
				}
			}
		})
	}

	// The storm: each connects, sends its BootNotification, and hangs up,
	// half of them at once, half once it is answered; and again.
	var connects atomic.Int64
	var storm sync.WaitGroup
	for i := range n {
		storm.Go(func() {
			id := fmt.Sprintf("STORM%04d", i%stormIDs+1)
			for stormCtx.Err() == nil {
				st, err := station.Dial(stormCtx, id, station.Options{URL: url})
				if err != nil {
					time.Sleep(10 * time.Millisecond) // a refusal, or no port left: try again soon
					continue
				}
				connects.Add(1)
				answer, err := st.Send(stormCtx, ocpp.ActionBootNotification,
					ocpp.BootNotificationRequest{ChargePointVendor: "Kata", ChargePointModel: "Storm"})
				if err == nil && i%2 == 0 {
					select {
					case <-answer:
					case <-stormCtx.Done():
					}
				}
				st.Close()
			}
		})
	}
	var peak serverFigures
	for stormCtx.Err() == nil {
		if f, err := measure(ctx, srv); err == nil && f.rss > peak.rss {
			peak = f
		}
		select {
		case <-stormCtx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
	storm.Wait()
	live.Wait()
	if err := srv.alive(); err != nil {
		b.failRow(phase, what, err)
		return
	}
	b.say(phase, fmt.Sprintf("waiting %v after the storm", stormAfter))
	select {
	case <-ctx.Done():
		return
	case <-time.After(stormAfter):
	}
	after, err := measure(ctx, srv)
	if err != nil {
		b.failRow(phase, what, err)
		return
	}
	// An idle server allocates nothing, so Go collects its garbage only
	// every two minutes; ask for a collection now, and give the runtime a
	// few seconds to hand the freed memory back.
	if req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+srv.addr+"/debug/pprof/heap?gc=1", nil); err == nil {
		if resp, err := http.DefaultClient.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	select {
	case <-ctx.Done():
		return
	case <-time.After(10 * time.Second):
	}
	collected, err := measure(ctx, srv)
	if err != nil {
		b.failRow(phase, what, err)
		return
	}
	slices.Sort(latencies)
	p50, p99 := station.Percentile(latencies, 50), station.Percentile(latencies, 99)
	b.add(benchRow{phase: phase, what: what, repro: b.repro(phase), failed: timedOut.Load() > 0,
		result: fmt.Sprintf("%s connects · live stations: %s calls answered, p50 %s, p99 %s, %d timed out (%v), %d failed · "+
			"RSS %.0f MiB before, %.0f MiB at most during, %.0f MiB %v after (Go heap in use %.0f MiB), %.0f MiB once collected (%.0f MiB) · goroutines %d before, %d after",
			term.Thousands(connects.Load()), term.Thousands(int64(len(latencies))), latency(p50), latency(p99), timedOut.Load(), stormCallWait,
			liveFailed.Load(), mib(before.rss), mib(max(peak.rss, after.rss)), mib(after.rss), stormAfter, mib(after.heap), mib(collected.rss), mib(collected.heap), before.goroutines, after.goroutines)})
}
