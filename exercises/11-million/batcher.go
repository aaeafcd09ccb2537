package million

import (
	"context"
	"errors"
	"sync"
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
// Each slot has a goroutine that fills its batches and Concurrency
// goroutines that push them, all started by NewBatcher and ended by
// Complete. The batches' memory is allocated once, by NewBatcher, and
// reused: adding an item allocates nothing.
type Batcher[T any] struct {
	cfg   BatchConfig
	push  PushFunc[T]
	slots []slot[T]

	// The pushes' context: Complete cancels it when its own context ends.
	pushCtx    context.Context
	cancelPush context.CancelFunc

	completed atomic.Bool
	drain     bool          // Complete's drain, written before closing is closed
	closing   chan struct{} // closed by Complete: no more items
	abort     chan struct{} // closed when Complete's context ends: drop what is left
	running   sync.WaitGroup
}

// slot is one slot's channels. Its goroutine owns the batch being filled;
// a batch handed to a pusher belongs to the pusher until it comes back on
// free.
type slot[T any] struct {
	in      chan T   // items from Add to the slot's goroutine
	batches chan []T // batches to push, to the slot's pushers
	free    chan []T // empty batches; one is there while a push may start
	dropped []T      // what Complete dropped, set before the goroutine ends
}

// NewBatcher returns a Batcher that hands its batches to push, and starts
// its goroutines. Call Complete to end them.
func NewBatcher[T any](cfg BatchConfig, push PushFunc[T]) *Batcher[T] {
	cfg = cfg.withDefaults()
	b := &Batcher[T]{
		cfg:     cfg,
		push:    push,
		slots:   make([]slot[T], cfg.Slots),
		closing: make(chan struct{}),
		abort:   make(chan struct{}),
	}
	b.pushCtx, b.cancelPush = context.WithCancel(context.Background())
	for i := range b.slots {
		s := &b.slots[i]
		// Concurrency batches in flight and one filling: the number of
		// buffers is the bound on pushes in flight.
		n := cfg.Concurrency + 1
		s.in = make(chan T)
		s.batches = make(chan []T, n)
		s.free = make(chan []T, n)
		memory := make([]T, n*cfg.Size)
		for j := range n {
			s.free <- memory[j*cfg.Size : j*cfg.Size : (j+1)*cfg.Size]
		}
		b.running.Go(func() { b.fill(s) })
		for range cfg.Concurrency {
			b.running.Go(func() { b.pushAll(i, s) })
		}
	}
	return b
}

// Add gives an item to a slot (0 ≤ slot < BatchConfig.Slots). It returns
// at once unless the slot's batch is full and all its pushes are in
// flight: then it waits for room, or for ctx to end (and returns ctx's
// error), or for Complete (ErrClosed). An item Add returned nil for is
// pushed, or reported by Complete as dropped.
func (b *Batcher[T]) Add(ctx context.Context, slot int, item T) error {
	select {
	case b.slots[slot].in <- item:
		return nil
	case <-b.closing:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// fill is a slot's goroutine: it puts the items that come into a batch,
// and hands the batch to the pushers when it is due (full, or Interval
// after its first item) and a push may start.
func (b *Batcher[T]) fill(s *slot[T]) {
	defer close(s.batches) // the pushers end once the last batch is pushed
	// One timer for the slot, started by a batch's first item: not one per
	// item, nor a ticker that beats regardless of when the items came.
	timer := time.NewTimer(b.cfg.Interval)
	timer.Stop()
	defer timer.Stop()
	var (
		batch   = <-s.free
		due     bool // batch is full, or has waited Interval
		closing = b.closing
	)
	for {
		select {
		case <-b.abort: // Complete's deadline passed: stop, whatever is left
			s.dropped = append([]T(nil), batch...)
			return
		default:
		}
		in, free := s.in, s.free
		if len(batch) == cap(batch) {
			// Full. Until a push can take it, take no more items: Add
			// waits, and so does the producer that called it.
			in, due = nil, true
		}
		if closing == nil { // Complete was called
			in = nil
			if len(batch) == 0 {
				return
			}
			if !b.drain {
				s.dropped = append([]T(nil), batch...)
				return
			}
			due = true // drain: push what there is
		}
		if !due {
			free = nil
		}
		select {
		case item := <-in:
			if len(batch) == 0 {
				timer.Reset(b.cfg.Interval)
			}
			batch = append(batch, item)
		case <-timer.C:
			due = true
		case next := <-free:
			// A push may start: hand the batch over, and never touch it
			// again until it comes back on free.
			timer.Stop()
			s.batches <- batch
			batch, due = next[:0], false
		case <-closing:
			closing = nil
		case <-b.abort:
			s.dropped = append([]T(nil), batch...)
			return
		}
	}
}

// pushAll is one of a slot's pushers: it pushes batches until fill has
// handed over its last, and gives each back once pushed.
func (b *Batcher[T]) pushAll(i int, s *slot[T]) {
	for batch := range s.batches {
		b.push(b.pushCtx, i, batch)
		s.free <- batch
	}
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
func (b *Batcher[T]) Complete(ctx context.Context, drain bool) ([]T, error) {
	if !b.completed.CompareAndSwap(false, true) {
		return nil, ErrClosed
	}
	b.drain = drain
	close(b.closing)
	stop := context.AfterFunc(ctx, func() {
		close(b.abort)
		b.cancelPush()
	})
	b.running.Wait()
	var err error
	if !stop() {
		err = ctx.Err()
	}
	b.cancelPush()
	var dropped []T
	for i := range b.slots {
		dropped = append(dropped, b.slots[i].dropped...)
	}
	return dropped, err
}
