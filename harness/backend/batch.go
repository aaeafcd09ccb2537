package backend

import (
	"context"
	"slices"

	"github.com/ocppkata/kata/harness/ocpp"
)

// Item is one piece of background work in a batch: a station's call that
// was answered already and waits to be written.
type Item struct {
	Station string
	Call    *ocpp.Call
}

// WriteBatch writes a batch of items in one call, the way a database takes
// many rows in one statement: it costs Latencies.ForBatch(len(items)), and
// is recorded as one piece of work of KindBatch whose Record.Items lists
// the items in order. The write is all or nothing: if ctx ends before it is
// done, it returns the context's error and nothing of the batch counts as
// written (its record has Err set).
//
// WriteBatch reads items only before it starts waiting: the caller may
// reuse the slice as soon as WriteBatch returns. A batch's Work has Kind
// KindBatch, the Worker named in ctx, and the Station and Action of its
// first item (empty for an empty batch).
func (b *Backend) WriteBatch(ctx context.Context, items []Item) error {
	w := Work{Kind: KindBatch, Worker: WorkerFrom(ctx)}
	if len(items) > 0 {
		w.Station, w.Action = items[0].Station, items[0].Call.Action
	}
	rec := &Record{Work: w, size: len(items)}
	if !b.opts.NoRecords {
		rec.Items = slices.Clone(items)
	}
	b.start(rec)
	pending := b.toStore(items) // read now: the caller may reuse items once this waits
	err := b.wait(ctx, rec, b.opts.Latencies.ForBatch(len(items)))
	if err == nil {
		err = b.persist(ctx, pending)
	}
	if err == nil && b.opts.Observer != nil {
		b.opts.Observer.Batch(len(items))
	}
	b.end(rec, err)
	return err
}

// Batches returns the records of every WriteBatch that has written its
// items (it is over, and its context did not end first), in the order they
// started.
func (b *Backend) Batches() []Record {
	return slices.DeleteFunc(b.Records(), func(r Record) bool {
		return r.Kind != KindBatch || r.End.IsZero() || r.Err != nil
	})
}

// Written returns the call ids of one station's items that WriteBatch
// wrote, in the order the batches started and, within a batch, in the
// batch's order.
func (b *Backend) Written(station string) []string {
	var ids []string
	for _, r := range b.Batches() {
		for _, it := range r.Items {
			if it.Station == station {
				ids = append(ids, it.Call.ID)
			}
		}
	}
	return ids
}
