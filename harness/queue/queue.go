// Package queue is an unbounded FIFO queue for one consumer: Push never
// blocks, whatever the consumer is doing. It is what .NET calls an unbounded
// channel, and the kata's steps 03 and 04 use it for each station's backlog.
// Step 05 is about why a queue without a bound is a risk.
//
// Built with -race, Push and Len let other goroutines run first (Push) or
// last (Len), so that tests find the races of the code around the queue.
package queue

import "sync"

// Queue is safe for any number of producers and one consumer. The zero
// value is not usable; call New.
type Queue[T any] struct {
	mu    sync.Mutex
	items []T
	ready chan struct{} // holds a token while items may not be empty
}

// New returns an empty, open queue.
func New[T any]() *Queue[T] {
	return &Queue[T]{ready: make(chan struct{}, 1)}
}

// Push appends v. It never blocks.
func (q *Queue[T]) Push(v T) {
	yield()
	q.mu.Lock()
	defer q.mu.Unlock()
	q.items = append(q.items, v)
	select {
	case q.ready <- struct{}{}:
	default: // a token is already there
	}
}

// Ready returns a channel that has a value whenever the queue may hold items.
// The consumer waits on it in a select, then calls Take.
func (q *Queue[T]) Ready() <-chan struct{} { return q.ready }

// Take removes and returns every item, oldest first.
func (q *Queue[T]) Take() []T {
	q.mu.Lock()
	defer q.mu.Unlock()
	items := q.items
	q.items = nil
	return items
}

// Len returns how many items wait.
func (q *Queue[T]) Len() int {
	defer yield()
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}
