package backend

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/harness/store"
)

// writes is what a piece of background work (or a call answered at once and
// stored before its answer) gives the store: decoded when the work starts,
// so that the caller's items may change meanwhile.
type writes struct {
	readings []store.Reading
	statuses []store.StatusUpdate
}

// processedLater reports whether an action's data is stored by the
// background (Process or WriteBatch) when a server answers it at once.
func processedLater(action string) bool {
	return action == ocpp.ActionMeterValues || action == ocpp.ActionStatusNotification
}

// toStore decodes what items ask the store to keep, if the backend has a
// store; items it cannot decode were answered with a CALLERROR already,
// and are skipped.
func (b *Backend) toStore(items []Item) writes {
	var w writes
	if b.opts.Store == nil {
		return w
	}
	now := time.Now()
	for _, it := range items {
		switch it.Call.Action {
		case ocpp.ActionMeterValues:
			var req ocpp.MeterValuesRequest
			if it.Call.UnmarshalPayload(&req) == nil {
				w.readings = append(w.readings, store.Reading{Station: it.Station, Request: req})
			}
		case ocpp.ActionStatusNotification:
			var req ocpp.StatusNotificationRequest
			if it.Call.UnmarshalPayload(&req) == nil {
				w.statuses = append(w.statuses, store.StatusUpdate{Station: it.Station, Request: req, At: now})
			}
		}
	}
	return w
}

// persist hands w to the store: the meter values in one write.
func (b *Backend) persist(ctx context.Context, w writes) error {
	if b.opts.Store == nil {
		return nil
	}
	var errs []error
	if len(w.readings) > 0 {
		if err := b.opts.Store.MeterValues(ctx, w.readings); err != nil {
			errs = append(errs, b.storeError("meter values", err))
		}
	}
	if err := b.statuses.write(ctx, b.opts.Store, w.statuses); err != nil {
		errs = append(errs, b.storeError("status", err))
	}
	b.flushSeen(ctx, false, time.Now())
	return errors.Join(errs...)
}

// storeError reports a failed write to the observer and wraps it.
func (b *Backend) storeError(op string, err error) error {
	if b.opts.Observer != nil {
		b.opts.Observer.StoreError(op)
	}
	if b.opts.Logger != nil {
		b.opts.Logger.Error("store write failed", "op", op, "err", err)
	}
	return fmt.Errorf("store %s: %w", op, err)
}

// notStored is the answer to a call whose data the store refused: a
// CALLERROR, so that the station sends it again rather than believe it was
// kept.
func notStored(call *ocpp.Call, err error) *ocpp.CallError {
	return ocpp.NewCallError(call.ID, ocpp.InternalError, "not stored, send it again later: "+err.Error())
}

// seenEvery is how often signs of life are handed to the store at most.
const seenEvery = time.Second

// sawStation notes a sign of life from the station at now.
func (b *Backend) sawStation(station string, now time.Time) {
	if b.opts.Store == nil {
		return
	}
	b.mu.Lock()
	b.seen[station] = now
	b.mu.Unlock()
}

// flushSeen hands the signs of life noted since the last flush to the
// store: all of them if force, else only if seenEvery has passed by now.
func (b *Backend) flushSeen(ctx context.Context, force bool, now time.Time) error {
	if b.opts.Store == nil {
		return nil
	}
	// Most calls come within seenEvery of the last flush: they need not
	// take the lock to learn it.
	if !force && now.UnixNano()-b.lastFlush.Load() < int64(seenEvery) {
		return nil
	}
	b.mu.Lock()
	if len(b.seen) == 0 || (!force && now.UnixNano()-b.lastFlush.Load() < int64(seenEvery)) {
		b.mu.Unlock()
		return nil
	}
	seen := b.seen
	b.seen = make(map[string]time.Time)
	b.lastFlush.Store(now.UnixNano())
	b.mu.Unlock()
	if err := b.opts.Store.Seen(ctx, seen); err != nil {
		return b.storeError("last seen", err)
	}
	return nil
}

// Flush hands the store what the backend still holds for it (the last
// signs of life). A server calls it when it stops.
func (b *Backend) Flush(ctx context.Context) error { return b.flushSeen(ctx, true, time.Now()) }

// observe reports an answered call to the observer.
func (b *Backend) observe(action string, answer ocpp.Message, took time.Duration) {
	if b.opts.Observer == nil {
		return
	}
	result := "ok"
	if _, ok := answer.(*ocpp.CallError); ok {
		result = "callerror"
	}
	b.opts.Observer.Call(action, result, took)
}
