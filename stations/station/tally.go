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
	deafFrames, deafClosed  atomic.Int64
}

// settled counts a call that got its answer, or will never get one.
func (t *tally) settled(err error) {
	if err == nil {
		t.answered.Add(1)
	} else {
		t.failed.Add(1)
	}
}

func (t *tally) progress(o FleetOptions, start time.Time) Progress {
	return Progress{
		Stations:   o.Stations,
		Connected:  int(t.connected.Load()),
		Done:       int(t.done.Load()),
		Planned:    o.planned(),
		Calls:      int(t.calls.Load()),
		Answered:   int(t.answered.Load()),
		Failed:     int(t.failed.Load()),
		DeafFrames: int(t.deafFrames.Load()),
		DeafClosed: int(t.deafClosed.Load()),
		Elapsed:    time.Since(start),
	}
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
