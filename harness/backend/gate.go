package backend

import (
	"context"
	"sync"
)

// Gate holds the work that matches it until Open is called. Work waits at a
// gate after it entered the backend, so it counts as in flight: a test holds
// K calls at a gate to see K calls in flight at once.
type Gate struct {
	b     *Backend
	match func(Work) bool

	mu      sync.Mutex
	isOpen  bool
	open    chan struct{} // closed by Open: the timer flavour waits on it
	waiting int
	blocker *blocker // the blocking flavour waits in a read(2) on a pipe
	// firm is true for a gate from HoldFirm: held work ignores its context.
	firm bool
}

func newGate(b *Backend, match func(Work) bool) *Gate {
	g := &Gate{b: b, match: match, open: make(chan struct{})}
	if b.opts.Blocking {
		g.blocker = newBlocker()
	}
	return g
}

// Open lets every held piece of work go on, and every later one pass.
// Open is idempotent.
func (g *Gate) Open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.isOpen {
		return
	}
	g.isOpen = true
	close(g.open)
	if g.blocker != nil {
		g.blocker.release()
	}
}

// Waiting returns how many pieces of work are held at the gate now.
func (g *Gate) Waiting() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.waiting
}

func (g *Gate) wait(ctx context.Context) error {
	g.mu.Lock()
	if g.isOpen {
		g.mu.Unlock()
		return nil
	}
	g.waiting++
	g.mu.Unlock()
	g.b.held(+1)
	defer func() {
		g.mu.Lock()
		g.waiting--
		g.mu.Unlock()
		g.b.held(-1)
	}()
	if g.blocker != nil {
		// Like a C driver, this wait cannot be cancelled: it ends when the gate opens.
		g.blocker.wait()
		return nil
	}
	if g.firm {
		<-g.open
		return nil
	}
	select {
	case <-g.open:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
