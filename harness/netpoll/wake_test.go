package netpoll_test

import (
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ocppkata/kata/harness/netpoll"
)

// TestWake checks that a woken connection is handed out with nothing to
// read: at once if armed, at its Rearm if owned, never once closed. A
// second connection, with bytes to read, is the witness that Wait ran.
func TestWake(t *testing.T) {
	tests := []struct {
		name string
		// prepare leaves c as the case needs and wakes it; it returns
		// whether the next Wait must hand c out with the witness.
		prepare func(t *testing.T, p *netpoll.Poller, c *netpoll.Conn) bool
	}{
		{"armed: at once", func(t *testing.T, p *netpoll.Poller, c *netpoll.Conn) bool {
			c.Wake()
			return true
		}},
		{"woken twice: handed out once", func(t *testing.T, p *netpoll.Poller, c *netpoll.Conn) bool {
			c.Wake()
			c.Wake()
			return true
		}},
		{"owned: not before its Rearm", func(t *testing.T, p *netpoll.Poller, c *netpoll.Conn) bool {
			c.Wake()
			if got := waitFor(t, p, 2); !slices.Equal(got, []*netpoll.Conn{c}) {
				t.Fatalf("Wait after Wake = %d connections, want only the woken one", len(got))
			}
			c.Wake() // owned: kept for its Rearm
			return false
		}},
		{"owned, then re-armed: at the Rearm", func(t *testing.T, p *netpoll.Poller, c *netpoll.Conn) bool {
			c.Wake()
			waitFor(t, p, 2)
			c.Wake()
			if err := c.Rearm(); err != nil {
				t.Fatal(err)
			}
			return true
		}},
		{"owned since Add: at the first Rearm", func(t *testing.T, p *netpoll.Poller, c *netpoll.Conn) bool {
			c.Wake()
			waitFor(t, p, 2)
			if err := c.Rearm(); err != nil { // the wake was handed out: nothing pending
				t.Fatal(err)
			}
			return false
		}},
		{"closed: never", func(t *testing.T, p *netpoll.Poller, c *netpoll.Conn) bool {
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			c.Wake()
			return false
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eachNetwork(t, func(t *testing.T, nw network) {
				p := newPoller(t)
				servers, clients := nw.pairs(t, 2)
				pcs := add(t, p, servers)
				c, witness := pcs[0], pcs[1]
				want := []*netpoll.Conn{witness}
				if tt.prepare(t, p, c) {
					want = []*netpoll.Conn{c, witness}
				}
				if _, err := clients[1].Write([]byte("w")); err != nil {
					t.Fatal(err)
				}
				// A woken connection is on the ready list before the Waits
				// start: handed out before the witness, or with it.
				var got []*netpoll.Conn
				for !slices.Contains(got, witness) {
					got = append(got, waitFor(t, p, 2)...)
				}
				slices.SortFunc(got, func(a, b *netpoll.Conn) int { return slices.Index(pcs, a) - slices.Index(pcs, b) })
				if !slices.Equal(got, want) {
					t.Errorf("handed out %d connections (woken one: %v), want %d (woken one: %v)",
						len(got), slices.Contains(got, c), len(want), slices.Contains(want, c))
				}
				if slices.Contains(got, c) {
					if _, err := c.Read(make([]byte, 1)); err != netpoll.ErrWouldBlock {
						t.Errorf("Read of the woken connection: %v, want ErrWouldBlock", err)
					}
				}
			})
		})
	}
}

// TestWakeFromATimer checks, in fake time, what a deadline does with Wake:
// a Wait of in-memory connections is durably blocked, time moves, and the
// timer's Wake hands the connection out when it fires.
func TestWakeFromATimer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPoller(t)
		servers, _ := memPairs(t, 1)
		c := add(t, p, servers)[0]
		start := time.Now()
		timer := time.AfterFunc(5*time.Second, c.Wake)
		defer timer.Stop()
		got := waitFor(t, p, 1)
		if !slices.Equal(got, []*netpoll.Conn{c}) {
			t.Fatalf("Wait = %d connections, want the woken one", len(got))
		}
		if d := time.Since(start); d != 5*time.Second {
			t.Errorf("handed out after %v of fake time, want 5s: when the timer fired", d)
		}
	})
}

// TestWaitIsDurablyBlocked checks that a Wait of in-memory connections
// lets fake time move, and returns when bytes come.
func TestWaitIsDurablyBlocked(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPoller(t)
		servers, clients := memPairs(t, 1)
		c := add(t, p, servers)[0]
		done := make(chan []*netpoll.Conn, 1)
		go func() { done <- waitFor(t, p, 1) }()
		time.Sleep(time.Hour) // returns only if Wait is durably blocked
		synctest.Wait()
		select {
		case <-done:
			t.Fatal("Wait returned with nothing to read")
		default:
		}
		if _, err := clients[0].Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		if got := <-done; !slices.Equal(got, []*netpoll.Conn{c}) {
			t.Errorf("Wait = %d connections, want the one written to", len(got))
		}
	})
}

// TestMixedConns checks in-memory connections and sockets in one poller:
// a Wait on the sync.Cond (in-memory only) moves to the kernel when the
// first socket comes, and the in-memory ready list then wakes it there.
func TestMixedConns(t *testing.T) {
	p := newPoller(t)
	mems, memClients := memPairs(t, 1)
	mem := add(t, p, mems)[0]
	handed := make(chan *netpoll.Conn, 8)
	go func() {
		buf := make([]*netpoll.Conn, 4)
		for {
			n, err := p.Wait(buf)
			if err != nil {
				close(handed)
				return
			}
			for _, c := range buf[:n] {
				handed <- c
			}
		}
	}()
	t.Cleanup(func() {
		p.Close()
		for range handed {
		}
	})
	waitOnCond(t)

	socks, sockClients := pairs(t, 1)
	sock := add(t, p, socks)[0]
	next := func(what string, want *netpoll.Conn) {
		t.Helper()
		got := <-handed
		if got != want {
			t.Fatalf("%s: handed out the other connection", what)
		}
		buf := make([]byte, 8)
		for {
			if _, err := got.Read(buf); err != nil {
				break
			}
		}
		if err := got.Rearm(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := sockClients[0].Write([]byte("s")); err != nil {
		t.Fatal(err)
	}
	next("bytes on the socket", sock)
	if _, err := memClients[0].Write([]byte("m")); err != nil {
		t.Fatal(err)
	}
	next("bytes on the in-memory connection, a Wait in the kernel", mem)
	sock.Wake()
	next("the socket woken", sock)
	mem.Wake()
	next("the in-memory connection woken", mem)
}

// waitOnCond returns once a goroutine waits in Poller.Wait on its
// sync.Cond (not in the kernel).
func waitOnCond(t *testing.T) {
	t.Helper()
	buf := make([]byte, 1<<20)
	for range 10_000 {
		for g := range strings.SplitSeq(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
			if strings.Contains(g, "sync.(*Cond).Wait") && strings.Contains(g, "netpoll.(*Poller).Wait") {
				return
			}
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("no goroutine waits in Poller.Wait on its sync.Cond")
}
