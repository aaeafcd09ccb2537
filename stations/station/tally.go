package station

import (
	"sync/atomic"
	"time"
)

// tally is a fleet's running count, updated by its stations as calls are
// sent and settled, and read by the progress reporter while they run.
type tally struct {
	connected, done         atomic.Int64
	calls, answered, failed atomic.Int64
	// dropped counts, in a fleet of reconnecting chargers, the calls that
	// a connection's end cut off: the station reconnects and goes on, as
	// the report counts them (Report.Dropped), not as failed.
	dropped                atomic.Int64
	reconnect              bool
	deafFrames, deafClosed atomic.Int64
	// What reconnecting chargers did: connections made again and booted
	// on, stations that moved to another endpoint, and stations on their
	// way back now.
	reconnects, moved, reconnecting atomic.Int64
	// onEndpoint counts the chargers booted on each endpoint now; nil
	// unless the fleet's chargers have several endpoints. It is made
	// before the fleet starts and never changes after, its counters do.
	onEndpoint map[string]*atomic.Int64
}

// newTally returns the count of a fleet: with chargers on several
// endpoints, it counts the chargers on each.
func newTally(o FleetOptions) *tally {
	t := &tally{reconnect: o.Reconnect}
	if o.chargers() && len(o.Endpoints) > 1 {
		t.onEndpoint = make(map[string]*atomic.Int64, len(o.Endpoints))
		for _, u := range o.Endpoints {
			t.onEndpoint[u] = new(atomic.Int64)
		}
	}
	return t
}

// on adds n to the chargers on endpoint u. A nil tally (a charger outside
// a fleet), an empty u, or an endpoint it does not count, is left alone.
func (t *tally) on(u string, n int64) {
	if t == nil {
		return
	}
	if c := t.onEndpoint[u]; c != nil {
		c.Add(n)
	}
}

// settled counts a call that got its answer, or will never get one.
func (t *tally) settled(err error) {
	switch {
	case err == nil:
		t.answered.Add(1)
	case t.reconnect && isLost(err):
		t.dropped.Add(1)
	default:
		t.failed.Add(1)
	}
}

func (t *tally) progress(o FleetOptions, start time.Time) Progress {
	p := Progress{
		Stations:     o.Stations,
		Connected:    int(t.connected.Load()),
		Done:         int(t.done.Load()),
		Planned:      o.planned(),
		Calls:        int(t.calls.Load()),
		Answered:     int(t.answered.Load()),
		Failed:       int(t.failed.Load()),
		Dropped:      int(t.dropped.Load()),
		DeafFrames:   int(t.deafFrames.Load()),
		DeafClosed:   int(t.deafClosed.Load()),
		Reconnects:   int(t.reconnects.Load()),
		Moved:        int(t.moved.Load()),
		Reconnecting: int(t.reconnecting.Load()),
		Elapsed:      time.Since(start),
	}
	if t.onEndpoint != nil {
		p.OnEndpoint = make([]int, len(o.Endpoints))
		for i, u := range o.Endpoints {
			p.OnEndpoint[i] = int(t.onEndpoint[u].Load())
		}
	}
	return p
}

// watch calls o.Progress every o.ProgressEvery until the returned stop is
// called; stop waits for the reporter to end, then reports once more, so the
// last report is the final count and no two reports overlap.
func (o FleetOptions) watch(t *tally, start time.Time) (stop func()) {
	if o.Progress == nil {
		return func() {}
	}
	quit := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		ticker := time.NewTicker(o.ProgressEvery)
		defer ticker.Stop()
		for {
			select {
			case <-ticker.C:
				o.Progress(t.progress(o, start))
			case <-quit:
				return
			}
		}
	}()
	return func() {
		close(quit)
		<-exited
		o.Progress(t.progress(o, start))
	}
}
