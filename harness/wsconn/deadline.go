package wsconn

import (
	"container/heap"
	"sync"
	"time"
)

// The read deadlines of detached connections. A connection read by a
// poller has no read waiting on its socket for the deadline to end, so a
// timer must wake its reader when the deadline passes. One timer per
// connection would be ten thousand timers for ten thousand idle stations;
// and a deadline moves with every frame and every pong, nearly always
// later. So a Server keeps one timer for all of them, and a queue of the
// connections by when the timer must look at each (its due): the deadline
// it had when queued, or earlier. Moving a deadline later only stores it;
// when the timer comes to the connection, it finds the deadline not passed
// and queues the connection again for the rest. Only a deadline moved
// earlier than its due reorders the queue.

// deadlines is a Server's queue of the detached connections that have a
// read deadline, and its timer.
type deadlines struct {
	// epoch is what deadlines are counted from, in nanoseconds: a
	// deadline is stored as a number, monotonic as time.Time's own.
	epoch time.Time

	mu    sync.Mutex
	queue deadlineQueue
	timer *time.Timer // fires at queue[0]'s due; nil until the first deadline
}

// at returns t as a deadline: nanoseconds since epoch, never 0 unless t
// is zero (no deadline).
func (ds *deadlines) at(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return max(int64(t.Sub(ds.epoch)), 1)
}

// now returns the time now as a deadline.
func (ds *deadlines) now() int64 { return max(int64(time.Since(ds.epoch)), 1) }

// schedule makes the timer look at c by its deadline d at the latest (c's
// readDeadline, stored before): c's due becomes d unless it is queued to be
// looked at earlier already. c.dmu is held.
//
// Why the atomics suffice: schedule stores the deadline, then loads the
// due; fire stores a due, then loads the deadline again. One of the two
// sees the other's store: schedule then takes the lock and orders the
// queue, or fire sets the due to the new deadline. A connection fire takes
// out of the queue is looked at again under c.dmu (deadlinePassed).
func (ds *deadlines) schedule(c *Conn, d int64) {
	det := c.det
	if due := det.due.Load(); due != 0 && due <= d {
		return // the timer comes first, and will find the deadline moved
	}
	ds.mu.Lock()
	defer ds.mu.Unlock()
	det.due.Store(d)
	if det.index < 0 {
		heap.Push(&ds.queue, c)
	} else {
		heap.Fix(&ds.queue, det.index)
	}
	if ds.queue[0] == c { // the first now: the timer moves up
		wait := time.Duration(d - ds.now())
		if ds.timer == nil {
			ds.timer = time.AfterFunc(wait, ds.fire)
		} else {
			ds.timer.Reset(wait)
		}
	}
}

// remove takes c out of the queue: its deadline no longer matters (it is
// zero, the connection is closed or stopped). c.dmu is held. The timer is
// stopped once the queue is empty; otherwise left: if it fires for
// nothing, it sets itself for the next.
func (ds *deadlines) remove(c *Conn) {
	if c.det.due.Load() == 0 {
		return // not queued, or being taken out by fire
	}
	ds.mu.Lock()
	defer ds.mu.Unlock()
	if c.det.index >= 0 {
		heap.Remove(&ds.queue, c.det.index)
	}
	if len(ds.queue) == 0 {
		ds.timer.Stop()
		ds.queue = nil // its array, sized for every station there was
	}
}

// fire runs on the timer: it wakes the reader of each connection whose
// deadline has passed, queues again for the rest those whose deadline has
// moved, and sets the timer for the next.
func (ds *deadlines) fire() {
	var passed []*Conn
	ds.mu.Lock()
	now := ds.now()
	for len(ds.queue) > 0 && ds.queue[0].det.due.Load() <= now {
		c := ds.queue[0]
		if ds.later(c, now) {
			heap.Fix(&ds.queue, 0)
			continue
		}
		heap.Pop(&ds.queue)
		passed = append(passed, c)
	}
	if len(ds.queue) > 0 {
		ds.timer.Reset(time.Duration(ds.queue[0].det.due.Load() - now))
	}
	ds.mu.Unlock()
	for _, c := range passed {
		c.deadlinePassed()
	}
}

// later reports whether c's deadline is after now, and if so makes it c's
// due. ds.mu is held.
func (ds *deadlines) later(c *Conn, now int64) bool {
	for {
		d := c.readDeadline.Load()
		if d <= now { // passed, or cleared: 0
			return false
		}
		c.det.due.Store(d)
		if c.readDeadline.Load() >= d {
			return true // any move after the store sees this due
		}
	}
}

// deadlineQueue is a heap of connections by due, earliest first. Each
// connection's detachedReader has its due (changed under deadlines.mu,
// read anywhere) and its index in the heap (under deadlines.mu); a
// connection not queued has due 0 and index -1.
type deadlineQueue []*Conn

func (q deadlineQueue) Len() int           { return len(q) }
func (q deadlineQueue) Less(i, j int) bool { return q[i].det.due.Load() < q[j].det.due.Load() }
func (q deadlineQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].det.index, q[j].det.index = i, j
}

func (q *deadlineQueue) Push(x any) {
	c := x.(*Conn)
	c.det.index = len(*q)
	*q = append(*q, c)
}

func (q *deadlineQueue) Pop() any {
	old := *q
	c := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	c.det.due.Store(0)
	c.det.index = -1
	return c
}
