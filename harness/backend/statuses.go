package backend

import (
	"context"
	"sync"

	"github.com/ocppkata/kata/harness/store"
)

// statusWriter hands status notifications to the store in groups (a group
// commit): while one write is under way, the statuses that come meanwhile
// wait together, and the first of them to get its turn writes them all in
// one Store.Statuses. Under load, a commit (an fsync, on SQLite) carries as
// many statuses as came during the one before it, instead of one each: the
// backlog a store that writes them one at a time never clears, clears.
// Of a group's statuses for the same connector only the newest is written:
// the connector's state is its last status, and an older one is superseded
// before it is stored.
type statusWriter struct {
	mu      sync.Mutex // guards pending and group
	pending []store.StatusUpdate
	group   *statusGroup // the group pending joins; nil when nothing is pending

	// writing is held by the goroutine writing a group: one write at a
	// time, and whoever waits for it joins the next group meanwhile.
	writing sync.Mutex
}

// statusGroup is one write's worth of statuses: done is closed once the
// write is over, and err is its outcome.
type statusGroup struct {
	done chan struct{}
	err  error
}

// write stores us, in a group with whatever statuses come while an earlier
// group is being written, and returns once the group holding them is
// written (or failed: then every status of the group gets the same error).
func (w *statusWriter) write(ctx context.Context, st store.Store, us []store.StatusUpdate) error {
	if len(us) == 0 {
		return nil
	}
	w.mu.Lock()
	if w.group == nil {
		w.group = &statusGroup{done: make(chan struct{})}
	}
	g := w.group
	w.pending = append(w.pending, us...)
	w.mu.Unlock()

	w.writing.Lock()
	defer w.writing.Unlock()
	select {
	case <-g.done: // the goroutine before us wrote our group along with its own
		return g.err
	default:
	}
	w.mu.Lock()
	updates := newestPerConnector(w.pending)
	w.pending, w.group = nil, nil
	w.mu.Unlock()
	g.err = st.Statuses(ctx, updates)
	close(g.done)
	return g.err
}

// newestPerConnector returns updates without those superseded by a later
// update of the same station's same connector, in their order.
func newestPerConnector(updates []store.StatusUpdate) []store.StatusUpdate {
	type connector struct {
		station string
		id      int
	}
	last := make(map[connector]int, len(updates))
	for i, u := range updates {
		last[connector{u.Station, u.Request.ConnectorId}] = i
	}
	if len(last) == len(updates) {
		return updates
	}
	out := make([]store.StatusUpdate, 0, len(last))
	for i, u := range updates {
		if last[connector{u.Station, u.Request.ConnectorId}] == i {
			out = append(out, u)
		}
	}
	return out
}
