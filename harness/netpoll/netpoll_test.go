package netpoll_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/ocppkata/kata/harness/memnet"
	"github.com/ocppkata/kata/harness/netpoll"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newPoller returns a poller closed at the end of the test.
func newPoller(t *testing.T) *netpoll.Poller {
	t.Helper()
	p := netpoll.New()
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	})
	return p
}

// A network is where a test's connections come from: loopback TCP, or
// memnet's buffered connections inside a synctest bubble.
type network struct {
	name string
	// pairs returns n connections: the server's ends and the client's, in
	// the same order. All are closed at the end of the test.
	pairs func(t *testing.T, n int) (servers, clients []net.Conn)
	// bubble reports whether the test runs in a synctest bubble.
	bubble bool
}

var networks = []network{
	{name: "loopback", pairs: pairs},
	{name: "loopback from a Listener", pairs: listenerPairs},
	{name: "memnet", pairs: bubbledMemPairs, bubble: true},
}

// bubbledMemPairs is memPairs in a synctest bubble: it returns once the
// goroutines that accepted have ended, so that a count of goroutines can
// start.
func bubbledMemPairs(t *testing.T, n int) (servers, clients []net.Conn) {
	t.Helper()
	servers, clients = memPairs(t, n)
	synctest.Wait()
	return servers, clients
}

// eachNetwork runs f as a subtest for each network: for memnet, inside a
// synctest bubble.
func eachNetwork(t *testing.T, f func(t *testing.T, nw network)) {
	t.Helper()
	for _, nw := range networks {
		t.Run(nw.name, func(t *testing.T) {
			if nw.bubble {
				synctest.Test(t, func(t *testing.T) { f(t, nw) })
				return
			}
			f(t, nw)
		})
	}
}

// memBuffer is what a memnet connection buffers each way: small, so that
// the tests also meet a writer held back by a full buffer.
const memBuffer = 4096

// memPairs is pairs over memnet's buffered connections.
func memPairs(t *testing.T, n int) (servers, clients []net.Conn) {
	t.Helper()
	l := memnet.ListenBuffered(memBuffer)
	defer l.Close()
	t.Cleanup(func() {
		for _, c := range slices.Concat(servers, clients) {
			c.Close()
		}
	})
	for range n {
		accepted := make(chan net.Conn, 1)
		go func() {
			s, err := l.Accept()
			if err != nil {
				t.Error(err)
			}
			accepted <- s
		}()
		c, err := l.Dial(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
		servers = append(servers, <-accepted)
	}
	return servers, clients
}

// pairs returns n loopback TCP connections: the server's ends and the
// client's, in the same order. net.Pipe has no descriptor to poll. All are
// closed at the end of the test. Where a poller takes no socket, it skips
// the test.
func pairs(t *testing.T, n int) (servers, clients []net.Conn) {
	t.Helper()
	return pairsOf(t, n, func(l net.Listener) net.Listener { return l })
}

// listenerPairs is pairs with the server's ends accepted through
// netpoll.Listener: Add takes them from the runtime.
func listenerPairs(t *testing.T, n int) (servers, clients []net.Conn) {
	t.Helper()
	return pairsOf(t, n, netpoll.Listener)
}

// pairsOf is pairs, through the listener wrap returns.
func pairsOf(t *testing.T, n int, wrap func(net.Listener) net.Listener) (servers, clients []net.Conn) {
	t.Helper()
	if !netpoll.Supported {
		t.Skip("no poller for sockets here")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := wrap(l)
	defer ln.Close()
	t.Cleanup(func() {
		for _, c := range slices.Concat(servers, clients) {
			c.Close()
		}
	})
	for range n {
		// One at a time: the listen backlog is not the subject here.
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		servers = append(servers, s)
	}
	return servers, clients
}

// frame returns a message as it goes on the wire: its length in two bytes,
// big-endian, then the message.
func frame(msg string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(msg))), msg...)
}

// assembler keeps the bytes of one connection until they make whole
// frames: what a worker keeps per connection between two readiness events.
type assembler struct{ buf []byte }

// feed adds b and calls emit with each frame it completes, in order.
func (a *assembler) feed(b []byte, emit func(msg string)) {
	a.buf = append(a.buf, b...)
	for len(a.buf) >= 2 {
		n := int(binary.BigEndian.Uint16(a.buf))
		if len(a.buf) < 2+n {
			return
		}
		emit(string(a.buf[2 : 2+n]))
		a.buf = a.buf[2+n:]
	}
	if len(a.buf) == 0 {
		a.buf = nil // an idle connection keeps no buffer
	}
}

// msg is a frame a server read, with the connection it came on.
type msg struct {
	conn *netpoll.Conn
	text string
}

// server is the shape the poller is made for, as a test helper: one
// goroutine waits on the poller and hands readable connections to a pool
// of workers over a channel; a worker reads until the socket is empty,
// assembles frames, re-arms. It counts busy workers, and reports each
// turn's bytes on reads once the turn is over (re-armed, not busy).
type server struct {
	p     *netpoll.Poller
	msgs  chan msg
	reads chan int
	busy  atomic.Int32
	eof   chan *netpoll.Conn
}

// serve starts the server's goroutines over p; they end when the test
// does.
func serve(t *testing.T, p *netpoll.Poller, workers int) *server {
	t.Helper()
	s := &server{p: p, msgs: make(chan msg, 1024), reads: make(chan int, 1024), eof: make(chan *netpoll.Conn, 16)}
	ready := make(chan *netpoll.Conn)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(ready)
		buf := make([]*netpoll.Conn, 64)
		for {
			n, err := p.Wait(buf)
			if errors.Is(err, netpoll.ErrClosed) {
				return
			}
			if err != nil {
				t.Error(err)
				return
			}
			for _, c := range buf[:n] {
				ready <- c
			}
		}
	})
	for range workers {
		wg.Go(func() {
			buf := make([]byte, 4096)
			for c := range ready {
				s.turn(t, c, buf)
			}
		})
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
		wg.Wait()
	})
	return s
}

// turn is a worker's turn with a connection it owns.
func (s *server) turn(t *testing.T, c *netpoll.Conn, buf []byte) {
	s.busy.Add(1)
	a := c.Value().(*assembler)
	total := 0
	for {
		n, err := c.Read(buf)
		a.feed(buf[:n], func(text string) { s.msgs <- msg{c, text} })
		total += n
		switch {
		case err == nil:
			continue
		case errors.Is(err, netpoll.ErrWouldBlock):
			err = c.Rearm()
			if err != nil && !errors.Is(err, net.ErrClosed) {
				t.Error(err)
			}
		case errors.Is(err, io.EOF):
			if err := c.Close(); err != nil {
				t.Error(err)
			}
			s.eof <- c
		case errors.Is(err, net.ErrClosed):
		default:
			t.Error(err)
		}
		s.busy.Add(-1)
		if total > 0 {
			s.reads <- total
		}
		return
	}
}

// add registers each of conns with an assembler of its own, and hands it to
// the poller (Rearm): Add leaves it with the caller.
func add(t *testing.T, p *netpoll.Poller, conns []net.Conn) []*netpoll.Conn {
	t.Helper()
	var pcs []*netpoll.Conn
	for _, c := range conns {
		pc, err := p.Add(c, &assembler{})
		if err != nil {
			t.Fatal(err)
		}
		if err := pc.Rearm(); err != nil {
			t.Fatal(err)
		}
		pcs = append(pcs, pc)
	}
	return pcs
}

// waitFor calls Wait on p and returns what it handed out.
func waitFor(t *testing.T, p *netpoll.Poller, room int) []*netpoll.Conn {
	t.Helper()
	ready := make([]*netpoll.Conn, room)
	n, err := p.Wait(ready)
	if err != nil {
		t.Fatal(err)
	}
	return ready[:n]
}

func TestIdleConnsHoldNoGoroutine(t *testing.T) {
	eachNetwork(t, func(t *testing.T, nw network) {
		const n = 1000
		p := newPoller(t)
		s := serve(t, p, 4)
		servers, clients := nw.pairs(t, n)

		// The count is the process's: a goroutine of an earlier test that
		// ends meanwhile lowers it. More than before is what the test is
		// for: a goroutine held by a connection.
		before := runtime.NumGoroutine()
		pcs := add(t, p, servers)
		if got := runtime.NumGoroutine(); got > before {
			t.Errorf("%d idle connections registered: %d goroutines, want %d at most, as before", n, got, before)
		}
		if got := p.Len(); got != n {
			t.Errorf("Len = %d, want %d", got, n)
		}

		// Every one of them is live: a frame from each comes through.
		for i, c := range clients {
			if _, err := c.Write(frame(fmt.Sprint(i))); err != nil {
				t.Fatal(err)
			}
		}
		from := make(map[*netpoll.Conn]string)
		for range n {
			m := <-s.msgs
			from[m.conn] = m.text
		}
		for i, pc := range pcs {
			if got, want := from[pc], fmt.Sprint(i); got != want {
				t.Fatalf("connection %d: got frame %q, want %q", i, got, want)
			}
		}
		if got := runtime.NumGoroutine(); got > before {
			t.Errorf("after a frame from each: %d goroutines, want %d at most, as before", got, before)
		}
	})
}

func TestFrameInPieces(t *testing.T) {
	whole := frame("Heartbeat")
	tests := []struct {
		name   string
		writes [][]byte
		want   []string
	}{
		{"a byte at a time", split(whole, 1), []string{"Heartbeat"}},
		{"half, then half", split(whole, len(whole)/2+1), []string{"Heartbeat"}},
		{"two frames in one write", [][]byte{slices.Concat(frame("a"), frame("bc"))}, []string{"a", "bc"}},
		{"a frame and a half, then the rest", [][]byte{
			slices.Concat(frame("one"), whole[:4]), whole[4:],
		}, []string{"one", "Heartbeat"}},
		{"an empty frame", [][]byte{frame("")}, []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eachNetwork(t, func(t *testing.T, nw network) {
				p := newPoller(t)
				s := serve(t, p, 2)
				servers, clients := nw.pairs(t, 1)
				add(t, p, servers)

				var got []string
				for i, w := range tt.writes {
					if _, err := clients[0].Write(w); err != nil {
						t.Fatal(err)
					}
					// Wait until the server has read all of it: each write is
					// its own readiness event, and maybe more than one.
					for left := len(w); left > 0; {
						left -= <-s.reads
					}
					// The turn is over: nobody holds the connection.
					if b := s.busy.Load(); b != 0 {
						t.Errorf("after write %d: %d workers busy, want 0", i, b)
					}
					for len(s.msgs) > 0 {
						got = append(got, (<-s.msgs).text)
					}
				}
				if !slices.Equal(got, tt.want) {
					t.Errorf("frames = %q, want %q", got, tt.want)
				}
			})
		})
	}
}

// split cuts b into pieces of n bytes (the last one maybe shorter).
func split(b []byte, n int) [][]byte {
	var pieces [][]byte
	for len(b) > n {
		pieces = append(pieces, b[:n])
		b = b[n:]
	}
	return append(pieces, b)
}

// TestAddOwnedUntilRearm checks that Add leaves the connection with the
// caller: bytes that are there already are not handed out until the caller
// re-arms it. A second connection, armed, is the witness that Wait ran.
func TestAddOwnedUntilRearm(t *testing.T) {
	eachNetwork(t, func(t *testing.T, nw network) {
		p := newPoller(t)
		servers, clients := nw.pairs(t, 2)
		for _, c := range clients {
			if _, err := c.Write([]byte("early")); err != nil {
				t.Fatal(err)
			}
		}
		a, err := p.Add(servers[0], nil)
		if err != nil {
			t.Fatal(err)
		}
		b := add(t, p, servers[1:])[0]
		if got := waitFor(t, p, 2); !slices.Equal(got, []*netpoll.Conn{b}) {
			t.Fatalf("Wait = %d connections, want only the armed one: Add hands nothing out", len(got))
		}
		// The caller takes what is there before it re-arms.
		buf := make([]byte, 16)
		if n, err := a.Read(buf); err != nil || string(buf[:n]) != "early" {
			t.Fatalf("the owner's Read after Add = %q, %v; want %q", buf[:n], err, "early")
		}
		if _, err := clients[0].Write([]byte("later")); err != nil {
			t.Fatal(err)
		}
		if err := a.Rearm(); err != nil {
			t.Fatal(err)
		}
		if got := waitFor(t, p, 2); !slices.Equal(got, []*netpoll.Conn{a}) {
			t.Fatalf("Wait after Rearm = %d connections, want only the re-armed one", len(got))
		}
	})
}

// TestOneShotUntilRearm checks that a handed-out connection is reported to
// nobody until its owner re-arms it, even with unread bytes, and that it
// is reported again at once after (level-triggered).
func TestOneShotUntilRearm(t *testing.T) {
	eachNetwork(t, func(t *testing.T, nw network) {
		p := newPoller(t)
		servers, clients := nw.pairs(t, 2)
		pcs := add(t, p, servers)
		a, b := pcs[0], pcs[1]

		if _, err := clients[0].Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		if got := waitFor(t, p, 2); !slices.Equal(got, []*netpoll.Conn{a}) {
			t.Fatalf("Wait = %v, want only a", got)
		}
		// a is owned and still readable; b becomes readable.
		if _, err := clients[1].Write([]byte("y")); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if got := waitFor(t, p, 2); !slices.Equal(got, []*netpoll.Conn{b}) {
				t.Fatalf("Wait %d with a owned: got %d connections, want only b", i, len(got))
			}
			// Re-armed unread: reported again at once.
			if err := b.Rearm(); err != nil {
				t.Fatal(err)
			}
		}
		if err := a.Rearm(); err != nil {
			t.Fatal(err)
		}
		if err := a.Rearm(); err == nil {
			t.Error("second Rearm without a Wait between: no error")
		}
		seen := map[*netpoll.Conn]bool{}
		for !seen[a] || !seen[b] {
			for _, c := range waitFor(t, p, 2) {
				if seen[c] {
					t.Fatal("a connection handed out twice without a Rearm")
				}
				seen[c] = true
			}
		}
	})
}

// TestOneOwnerUnderLoad checks, with a gauge, that no connection is ever in
// two workers' hands, while many connections send bytes in many pieces,
// and that each connection's bytes arrive whole and in order.
func TestOneOwnerUnderLoad(t *testing.T) {
	eachNetwork(t, func(t *testing.T, nw network) {
		const conns, workers, size = 32, 8, 20_000
		p := newPoller(t)
		servers, clients := nw.pairs(t, conns)
		type state struct {
			holders atomic.Int32
			next    byte // the byte expected next
			got     int
		}
		for _, c := range servers {
			pc, err := p.Add(c, &state{})
			if err != nil {
				t.Fatal(err)
			}
			if err := pc.Rearm(); err != nil {
				t.Fatal(err)
			}
		}
		var (
			doubled atomic.Int32
			wrong   atomic.Int32
			done    = make(chan struct{}, conns)
			ready   = make(chan *netpoll.Conn)
			wg      sync.WaitGroup
		)
		wg.Go(func() {
			defer close(ready)
			buf := make([]*netpoll.Conn, 16)
			for {
				n, err := p.Wait(buf)
				if err != nil {
					return
				}
				for _, c := range buf[:n] {
					ready <- c
				}
			}
		})
		for range workers {
			wg.Go(func() {
				buf := make([]byte, 7) // small: many reads per event
				for c := range ready {
					st := c.Value().(*state)
					if st.holders.Add(1) != 1 {
						doubled.Add(1)
					}
					for {
						n, err := c.Read(buf)
						for _, b := range buf[:n] {
							if b != st.next {
								wrong.Add(1)
							}
							st.next++
						}
						if st.got += n; n > 0 && st.got == size {
							done <- struct{}{}
						}
						runtime.Gosched() // give another worker its chance to be wrong
						if err != nil {
							break
						}
					}
					st.holders.Add(-1)
					c.Rearm()
				}
			})
		}
		t.Cleanup(func() {
			p.Close() // the Wait loop ends, then the workers
			wg.Wait()
		})

		var cw sync.WaitGroup
		for i, c := range clients {
			cw.Go(func() {
				data := make([]byte, size)
				for j := range data {
					data[j] = byte(j)
				}
				for _, piece := range split(data, 1+i%13) {
					if _, err := c.Write(piece); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		cw.Wait()
		for range conns {
			<-done
		}
		if n := doubled.Load(); n > 0 {
			t.Errorf("a connection was in two workers' hands at once %d times", n)
		}
		if n := wrong.Load(); n > 0 {
			t.Errorf("%d bytes out of order", n)
		}
	})
}

func TestPeerCloseReadsEOF(t *testing.T) {
	eachNetwork(t, func(t *testing.T, nw network) {
		p := newPoller(t)
		s := serve(t, p, 1)
		servers, clients := nw.pairs(t, 1)
		pcs := add(t, p, servers)
		clients[0].Write(frame("bye"))
		clients[0].Close()
		if got := <-s.eof; got != pcs[0] {
			t.Fatal("the end came on another connection")
		}
		if m := <-s.msgs; m.text != "bye" {
			t.Errorf("last frame = %q, want %q", m.text, "bye")
		}
		if n := p.Len(); n != 0 {
			t.Errorf("after Close: Len = %d, want 0", n)
		}
	})
}

func TestCloseLeavesNothing(t *testing.T) {
	eachNetwork(t, func(t *testing.T, nw network) {
		p := netpoll.New()
		servers, clients := nw.pairs(t, 3)
		pcs := add(t, p, servers)
		// Two goroutines wait; one of them is handed the first connection.
		clients[0].Write([]byte("x"))
		handed := make(chan *netpoll.Conn, 2)
		errs := make(chan error, 2)
		for range 2 {
			go func() {
				buf := make([]*netpoll.Conn, 1)
				for {
					if _, err := p.Wait(buf); err != nil {
						errs <- err
						return
					}
					handed <- buf[0]
				}
			}()
		}
		owned := <-handed
		if owned != pcs[0] {
			t.Fatal("handed the wrong connection")
		}

		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := <-errs; !errors.Is(err, netpoll.ErrClosed) {
				t.Errorf("Wait after Close: %v, want ErrClosed", err)
			}
		}
		if n := p.Len(); n != 0 {
			t.Errorf("Len after Close = %d, want 0", n)
		}
		if _, err := owned.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
			t.Errorf("owner's Read after Close: %v, want net.ErrClosed", err)
		}
		if err := owned.Rearm(); !errors.Is(err, net.ErrClosed) {
			t.Errorf("owner's Rearm after Close: %v, want net.ErrClosed", err)
		}
		if _, err := p.Add(servers[1], nil); !errors.Is(err, netpoll.ErrClosed) {
			t.Errorf("Add after Close: %v, want ErrClosed", err)
		}
		if err := p.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		// The connections themselves are the caller's, still open.
		if _, err := clients[1].Write([]byte("y")); err != nil {
			t.Fatal(err)
		}
		if _, err := servers[1].Read(make([]byte, 1)); err != nil {
			t.Errorf("a connection after the poller's Close: %v", err)
		}
		for _, pc := range pcs {
			if err := pc.Close(); err != nil {
				t.Error(err)
			}
		}
		// In a bubble, synctest.Test itself fails if a goroutine is left
		// blocked; goleak cannot tell it from the bubble's own.
		if !nw.bubble {
			goleak.VerifyNone(t)
		}
	})
}

// TestCloseAfterTheNetConn checks that Conn.Close of a connection whose
// net.Conn was closed elsewhere (a server's shutdown) forgets it quietly.
func TestCloseAfterTheNetConn(t *testing.T) {
	eachNetwork(t, func(t *testing.T, nw network) {
		p := newPoller(t)
		servers, _ := nw.pairs(t, 2)
		pcs := add(t, p, servers)
		servers[0].Close()
		if err := pcs[0].Close(); err != nil {
			t.Errorf("Conn.Close after the net.Conn's: %v, want nil", err)
		}
		if n := p.Len(); n != 1 {
			t.Errorf("Len = %d, want 1", n)
		}
		pcs[0].Wake() // closed: nothing
		pcs[1].Wake()
		if got := waitFor(t, p, 2); !slices.Equal(got, []*netpoll.Conn{pcs[1]}) {
			t.Errorf("Wait = %d connections, want only the live one", len(got))
		}
	})
}

// wrapper is a net.Conn around another, that passes through to it unless
// it holds bytes read ahead.
type wrapper struct {
	net.Conn
	ahead  bool
	closed bool
}

func (w *wrapper) PassThrough() net.Conn {
	if w.ahead {
		return nil
	}
	return w.Conn
}

func (w *wrapper) Close() error {
	w.closed = true
	return w.Conn.Close()
}

func TestAddNeedsADescriptor(t *testing.T) {
	eachNetwork(t, func(t *testing.T, nw network) {
		p := newPoller(t)
		c1, c2 := net.Pipe()
		defer c1.Close()
		defer c2.Close()
		servers, _ := nw.pairs(t, 1)
		tests := []struct {
			name string
			conn net.Conn
		}{
			{"net.Pipe", c1},
			{"a wrapper that does not pass through", struct{ net.Conn }{servers[0]}},
			{"a wrapper with bytes read ahead", &wrapper{Conn: servers[0], ahead: true}},
			{"a wrapper passing through to net.Pipe", &wrapper{Conn: c1}},
		}
		for _, tt := range tests {
			if _, err := p.Add(tt.conn, nil); err == nil {
				t.Errorf("Add of %s: no error", tt.name)
			}
			if n := p.Len(); n != 0 {
				t.Errorf("after the Add of %s: Len = %d, want 0", tt.name, n)
			}
		}
	})
}

func TestAddThroughAWrapper(t *testing.T) {
	eachNetwork(t, func(t *testing.T, nw network) {
		p := newPoller(t)
		s := serve(t, p, 1)
		servers, clients := nw.pairs(t, 1)
		w := &wrapper{Conn: servers[0]}
		pcs := add(t, p, []net.Conn{w})
		if pcs[0].NetConn() != w {
			t.Error("NetConn is not the connection given to Add")
		}
		clients[0].Write(frame("through"))
		if m := <-s.msgs; m.text != "through" {
			t.Errorf("frame = %q, want %q", m.text, "through")
		}
		if err := pcs[0].Close(); err != nil {
			t.Fatal(err)
		}
		if !w.closed {
			t.Error("Conn.Close did not close the wrapper")
		}
	})
}
