package bench

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ocppkata/kata/harness/cmd/kata/internal/base"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/stations/station"
)

// loadResult is what a lock-step Heartbeat load measured.
type loadResult struct {
	answered int
	wall     time.Duration // from the first call to the last answer
	p50, p99 time.Duration
	err      error // the first failure, if any
	failed   int   // calls that failed, and stations that could not connect
}

// callsPerSecond is the answered calls over the wall time.
func (r loadResult) callsPerSecond() float64 {
	if r.wall <= 0 {
		return 0
	}
	return float64(r.answered) / r.wall.Seconds()
}

// heartbeats connects n stations to url, then, once all are connected,
// has each make m Heartbeat calls in lock-step, each waiting for the answer
// to the one before. The clock runs from the first call to the last answer,
// so connecting is not counted. done counts the calls answered as they are.
func heartbeats(ctx context.Context, url, prefix string, n, m int, done *atomic.Int64) loadResult {
	stations := make([]*station.Station, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			stations[i], errs[i] = station.Dial(ctx, fmt.Sprintf("%s%05d", prefix, i+1), station.Options{URL: url})
		})
	}
	wg.Wait()
	defer func() {
		var closing sync.WaitGroup
		for _, s := range stations {
			if s != nil {
				closing.Go(func() { s.Close() })
			}
		}
		closing.Wait()
	}()
	var r loadResult
	for _, err := range errs {
		if err != nil {
			r.failed++
			if r.err == nil {
				r.err = err
			}
		}
	}
	if r.err != nil {
		r.err = fmt.Errorf("%d of %d stations could not connect: %w", r.failed, n, r.err)
		return r
	}

	latencies := make([][]time.Duration, n)
	failures := make([]error, n)
	var failed atomic.Int64
	start := time.Now()
	for i, s := range stations {
		wg.Go(func() {
			lat := make([]time.Duration, 0, m)
			for range m {
				t0 := time.Now()
				if err := s.Call(ctx, ocpp.ActionHeartbeat, nil, nil); err != nil {
					failed.Add(1)
					failures[i] = err
					break
				}
				lat = append(lat, time.Since(t0))
				done.Add(1)
			}
			latencies[i] = lat
		})
	}
	wg.Wait()
	r.wall = time.Since(start)
	all := slices.Concat(latencies...)
	slices.Sort(all)
	r.answered, r.failed = len(all), int(failed.Load())
	r.p50, r.p99 = station.Percentile(all, 50), station.Percentile(all, 99)
	if r.failed > 0 {
		r.err = fmt.Errorf("%d of %d stations had a call fail: %w", r.failed, n, base.FirstErr(failures...))
	}
	return r
}
