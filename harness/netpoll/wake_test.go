package netpoll_test

import (
	"slices"
	"testing"

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
