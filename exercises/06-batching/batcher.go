package batching

import (
	"context"
	"errors"
	"sync/atomic"
	"time"
)

// BatchConfig configures a Batcher. A zero field takes its default.
type BatchConfig struct {
	// Size is the most items a batch holds: a slot's batch is pushed as
	// soon as it has Size items. Default 100.
	Size int
	// Interval is the longest an item waits for its batch to fill: a
	// slot's batch is pushed Interval after its first item came, full or
	// not. Default 1 s.
	Interval time.Duration
	// Concurrency is the most pushes of one slot in flight at once.
	// Default 2.
	Concurrency int
	// Slots is how many slots the Batcher has, numbered from 0. Default 4.
	Slots int
}

// The defaults of a zero BatchConfig.
const (
	DefaultBatchSize       = 100
	DefaultBatchInterval   = time.Second
	DefaultPushConcurrency = 2
	DefaultBatchSlots      = 4
)

func (c BatchConfig) withDefaults() BatchConfig {
	if c.Size <= 0 {
		c.Size = DefaultBatchSize
	}
	if c.Interval <= 0 {
		c.Interval = DefaultBatchInterval
	}
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultPushConcurrency
	}
	if c.Slots <= 0 {
		c.Slots = DefaultBatchSlots
	}
	return c
}

// ErrClosed is what Add returns once Complete has been called, and what a
// second Complete returns.
var ErrClosed = errors.New("batching: the batcher is complete")

// PushFunc writes one batch of a slot. It must not keep batch, nor read it,
// after it returns: the Batcher reuses it for the slot's next batch. It
// should return soon after ctx ends (Complete's deadline cancels it).
type PushFunc[T any] func(ctx context.Context, slot int, batch []T)

// Batcher collects items from any number of producers into batches, a
// slot at a time, and hands each batch to a PushFunc. A slot's batch is
// pushed when it holds BatchConfig.Size items or when BatchConfig.Interval
// has passed since its first item came, whichever is first; at most
// BatchConfig.Concurrency pushes of a slot are in flight at once. Items
// keep their order within a slot: batches hold them in the order they were
// added, and are pushed in that order. When a slot's pushes are all in
// flight and its batch is full, Add waits: a producer is held back, and no
// item is ever dropped but by Complete, which says which.
//
// This first version does not batch at all: Add pushes every item alone,
// so the backend gets one write per meter value. Step 06 is to make it
// keep that contract.
type Batcher[T any] struct {
	cfg       BatchConfig
	push      PushFunc[T]
	completed atomic.Bool
}

// NewBatcher returns a Batcher that hands its batches to push. Call
// Complete to end it.
func NewBatcher[T any](cfg BatchConfig, push PushFunc[T]) *Batcher[T] {
	return &Batcher[T]{cfg: cfg.withDefaults(), push: push}
}

// Add gives an item to a slot (0 ≤ slot < BatchConfig.Slots). It returns
// at once unless the slot's batch is full and all its pushes are in
// flight: then it waits for room, or for ctx to end (and returns ctx's
// error), or for Complete (ErrClosed). An item Add returned nil for is
// pushed, or reported by Complete as dropped.
//
// For now it pushes the item alone, and waits for the push.
func (b *Batcher[T]) Add(ctx context.Context, slot int, item T) error {
	if b.completed.Load() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	b.push(ctx, slot, []T{item})
	return nil
}

// Complete ends the Batcher. No item is taken after it is called. With
// drain, it pushes every item that was added; without, it drops the items
// not yet handed to a push, and returns them, slot by slot in the order
// they were added. Either way, it returns once every push has ended and
// every goroutine of the Batcher with it.
//
// If ctx ends first, Complete stops starting pushes, cancels the context
// of those in flight, drops (and returns) what was not yet handed to a
// push, and returns ctx's error once the pushes in flight have ended. A
// second call returns ErrClosed.
//
// For now nothing ever waits in the Batcher, so there is nothing to do.
func (b *Batcher[T]) Complete(ctx context.Context, drain bool) ([]T, error) {
	if !b.completed.CompareAndSwap(false, true) {
		return nil, ErrClosed
	}
	return nil, nil
}
