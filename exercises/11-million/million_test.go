package million_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	million "github.com/ocppkata/kata/exercises/11-million"
	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/kit"
	"github.com/ocppkata/kata/harness/netpoll"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/stations/station"
)

// serverPkg is the import path of the step: its goroutines are the ones
// counted.
var serverPkg = reflect.TypeFor[million.Server]().PkgPath()

// serverGoroutines returns the goroutines that run the server's code, or
// were started by it, by their id: their tracebacks. Inside a bubble, call
// it after synctest.Wait.
func serverGoroutines() map[string]string {
	gs := map[string]string{}
	for _, tb := range kit.LeftBehind(serverPkg) {
		id, _, _ := strings.Cut(tb, " [")
		gs[id] = tb
	}
	return gs
}

// newOne returns the traceback of a goroutine in now that is not in
// before, for a failure.
func newOne(before, now map[string]string) string {
	for id, tb := range now {
		if _, ok := before[id]; !ok {
			return tb
		}
	}
	return "(none: others ended meanwhile)"
}

func TestIdleStationsHoldNoGoroutine(t *testing.T) {
	needPoller(t)
	const idle = 200
	b := backend.New(backend.Options{NoRecords: true})
	srv := million.New(million.Config{Backend: b, Workers: 4})
	opts := serveTCP(t, srv)
	// A few stations first, so that whatever the server starts once (its
	// workers, its poller) is in the count before the others come.
	first := bootTCP(t, opts, 1, 10)
	settle()
	before := serverGoroutines()
	stations := bootTCP(t, opts, 11, idle)
	settle()
	now := serverGoroutines()
	for try := 0; len(now) > len(before) && try < 10; try++ {
		settle() // a reader that answered a station may still be on its way out
		now = serverGoroutines()
	}
	if len(now) > len(before) {
		t.Fatalf("with %d more stations connected, booted and idle, the server ran %d goroutines, want %d as before they "+
			"came: %d more, about one for each idle station. An idle station must cost its socket and its state, not a "+
			"goroutine parked on its connection (4-8 KiB of stack each, 8 GiB for a million): hand each connection to "+
			"the poller (watch), and let a goroutine read it only when the poller says it has something to say.\n\n"+
			"One of them:\n%s", idle, len(now), len(before), len(now)-len(before), newOne(before, now))
	}
	// Still theirs: the poller reads them when they speak.
	for _, st := range []*station.Station{first[0], stations[idle/2], stations[idle-1]} {
		if err := heartbeatWithin(st, 10*time.Second); err != nil {
			t.Fatalf("%s, idle among %d others, sent a Heartbeat and got %v, want its answer: a station handed to the "+
				"poller is read again as soon as it sends", st.ID(), idle, err)
		}
	}
}

func TestHalfAFrameHoldsNothing(t *testing.T) {
	hb := func(id string) string { return `[2,"` + id + `","Heartbeat",{}]` }
	long := `[2,"dt","DataTransfer",{"vendorId":"Kata","data":"` + strings.Repeat("x", 200) + `"}]` // a 16-bit length
	cases := []struct {
		name string
		// pieces is what the station writes, one after the other, and
		// answers what the server must have answered once each is written.
		pieces  [][]byte
		answers [][]string
	}{
		{
			name:    "a byte at a time",
			pieces:  bytesOf(frame(hb("h1"))),
			answers: lastGets(len(frame(hb("h1"))), "h1"),
		},
		{
			name:    "half, then the rest",
			pieces:  split(frame(hb("h1")), 13),
			answers: [][]string{nil, {"h1"}},
		},
		{
			name:    "the header cut in its length",
			pieces:  split(frame(long), 3),
			answers: [][]string{nil, {"dt"}},
		},
		{
			name:    "a frame and a half, then the rest",
			pieces:  split(append(frame(hb("h1")), frame(hb("h2"))...), len(frame(hb("h1")))+9),
			answers: [][]string{{"h1"}, {"h2"}},
		},
		{
			name:    "two frames in one write",
			pieces:  [][]byte{append(frame(hb("h1")), frame(hb("h2"))...)},
			answers: [][]string{{"h1", "h2"}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			runEdge(t, million.Config{}, func(t *testing.T, e *edge) {
				synctest.Wait()
				before := serverGoroutines()
				r := e.raw(t, "CS0001")
				r.boot(t)
				synctest.Wait()
				if now := serverGoroutines(); len(now) > len(before) {
					t.Fatalf("with CS0001 connected, booted and idle, the server ran %d goroutines, want %d as before it "+
						"connected: an idle station must hold none. Hand its connection to the poller (watch).\n\nThe one it holds:\n%s",
						len(now), len(before), newOne(before, now))
				}
				sent, total := 0, 0
				for _, piece := range tc.pieces {
					total += len(piece)
				}
				for i, piece := range tc.pieces {
					r.put(t, piece)
					sent += len(piece)
					synctest.Wait()
					if now := serverGoroutines(); len(now) > len(before) {
						t.Fatalf("%s: after piece %d of %d (%d of %d bytes written), the server ran %d goroutines, "+
							"want %d as before CS0001 connected: with nothing whole to handle, a reader keeps what it read "+
							"(partial) and gives the connection back to the poller. One that waits for the rest of a frame "+
							"is held by a station that may never send it.\n\nThe one held:\n%s",
							tc.name, i+1, len(tc.pieces), sent, total, len(now), len(before), newOne(before, now))
					}
					for _, id := range tc.answers[i] {
						got := r.await()
						if res, ok := got.message().(*ocpp.CallResult); !ok || res.ID != id {
							t.Fatalf("%s: after piece %d of %d (%d of %d bytes written), the call %q was whole, and the "+
								"server sent %s; want its CALLRESULT. A frame read in pieces is assembled: keep the bytes a "+
								"read leaves after the last whole frame (partial), and put the next read after them.",
								tc.name, i+1, len(tc.pieces), sent, total, id, got)
						}
					}
				}
			})
		})
	}
}

func TestOneAtATimeInOrder(t *testing.T) {
	// Each of 8 stations sends 20 Heartbeats without waiting for the
	// answers, 1 to 80 bytes every 100ms (a frame is 29 to 31), while the backend takes a second
	// for each: a station's next frames come in while its last call is
	// still with the workers.
	const stations, calls = 8, 20
	opts := backend.Options{Latencies: backend.Latencies{Action: map[string]time.Duration{ocpp.ActionHeartbeat: time.Second}}}
	runEdgeWith(t, opts, million.Config{Workers: stations}, func(t *testing.T, e *edge) {
		b := e.b
		var wg sync.WaitGroup
		raws := make([]*raw, stations)
		for i := range raws {
			raws[i] = e.raw(t, fmt.Sprintf("CS%04d", i+1))
			raws[i].boot(t)
		}
		answered := make([][]string, stations)
		for i, r := range raws {
			rng := rand.New(rand.NewPCG(uint64(i), 11))
			var all []byte
			for n := range calls {
				all = append(all, frame(`[2,"`+strconv.Itoa(n+1)+`","Heartbeat",{}]`)...)
			}
			wg.Go(func() {
				for len(all) > 0 {
					n := min(len(all), 1+rng.IntN(80))
					r.put(t, all[:n])
					all = all[n:]
					time.Sleep(100 * time.Millisecond)
				}
			})
			wg.Go(func() {
				for range calls {
					got := r.await()
					res, ok := got.message().(*ocpp.CallResult)
					if !ok {
						t.Errorf("%s waited for the answer to its Heartbeat, and the server sent %s", r.id, got)
						return
					}
					answered[i] = append(answered[i], res.ID)
				}
			})
		}
		wg.Wait()
		var together int
		for i, r := range raws {
			ids := heartbeatIDs(b.StationRecords(r.id, backend.KindCall))
			want := make([]string, calls)
			for n := range want {
				want[n] = strconv.Itoa(n + 1)
			}
			if !slices.Equal(ids, want) {
				t.Errorf("%s sent Heartbeats 1 to %d in that order; the backend got %v: a station's messages are handled "+
					"in the order they came. Give the connection back to the poller (Rearm) only once its reader has "+
					"handled what it read: given back sooner, a second reader takes the next bytes while the first "+
					"still handles its frames, and the two race.", r.id, calls, ids)
			}
			if !slices.Equal(answered[i], want) {
				t.Errorf("%s got the answers %v, want 1 to %d in order", r.id, answered[i], calls)
			}
			if i, j, ok := overtaken(b.StationRecords(r.id, backend.KindCall)); ok {
				t.Errorf("%s's Heartbeat %s reached the backend before its Heartbeat %s was answered, want one at a "+
					"time: each call waits for the station's turn, and one reader per station, holding the connection "+
					"until it has handled what it read, keeps them in line", r.id, j, i)
			}
			together = max(together, overlapping(b.Records(), r.id))
		}
		if together < 2 {
			t.Errorf("no two stations' calls were with the workers at the same moment, want the %d stations served "+
				"in parallel: %d workers were free", stations, stations)
		}
	})
}

func TestSlowStationDelaysNobody(t *testing.T) {
	// Eight stations each have a call held in the backend and a second
	// one waiting for it; eight more sent half a frame and went quiet.
	// Workers are plenty: only the readers could keep FAST waiting.
	const slow = 8
	runEdge(t, million.Config{Workers: 2 * slow}, func(t *testing.T, e *edge) {
		gate := e.b.Hold(func(w backend.Work) bool { return strings.HasPrefix(w.Station, "SLOW") })
		var halves, slows []*raw
		for i := range slow {
			halves = append(halves, e.raw(t, fmt.Sprintf("HALF%02d", i+1)))
			slows = append(slows, e.raw(t, fmt.Sprintf("SLOW%02d", i+1)))
		}
		fast := e.raw(t, "FAST")
		for i := range slow {
			halves[i].put(t, frame(`[2,"h","Heartbeat",{}]`)[:9])
			slows[i].send(t, `[2,"a","Heartbeat",{}]`)
			slows[i].send(t, `[2,"b","Heartbeat",{}]`)
		}
		synctest.Wait()
		if n := gate.Waiting(); n != slow {
			t.Fatalf("%d of the %d slow stations' first calls reached the backend, want all: each station has a reader "+
				"of its own, and one that waits (for its station's turn, for a worker) holds up nobody else. The poller's "+
				"goroutine only hands readable stations out: were it to read them itself, the first to wait would "+
				"stop every other.", n, slow)
		}
		start := time.Now()
		fast.send(t, `[2,"f","Heartbeat",{}]`)
		got := fast.await()
		if res, ok := got.message().(*ocpp.CallResult); !ok || res.ID != "f" {
			t.Fatalf("while %d stations each waited for its last call to be answered, and %d had sent half a frame, "+
				"FAST sent a Heartbeat and the server sent %s after %v; want its CALLRESULT at once. A reader that waits "+
				"(for a station's turn, for the rest of a frame) must not be the one that waits on the poller, nor one "+
				"of a few: the poller's goroutine only hands out, and each readable station gets a reader of its own.",
				slow, slow, got, time.Since(start))
		}
		gate.Open()
		for _, r := range slows {
			for _, id := range []string{"a", "b"} {
				if got := r.await(); got.message() == nil || got.message().MessageID() != id {
					t.Fatalf("%s's call %q, held in the backend and then let go, got %s; want its answer", r.id, id, got)
				}
			}
		}
	})
}

func TestDeadlinesStillHold(t *testing.T) {
	t.Run("a station silent for DeadAfter is closed then", func(t *testing.T) {
		runEdge(t, timed(million.Config{}), func(t *testing.T, e *edge) {
			c := e.raw(t, "CS0001")
			start := time.Now()
			loop := c.listen(t) // it reads, but never answers a ping
			if _, ok := kit.Await(t, loop.done); !ok {
				t.Fatalf("a station that sent nothing and answered no ping for %v was still connected, want it closed "+
					"after DeadAfter (%v). With nobody parked in a read, a read deadline wakes nobody: wsconn calls the "+
					"wake given to Detach when it passes, and the reader it wakes must call NextFrame even though it "+
					"read nothing new: NextFrame reports the deadline.", time.Since(start).Round(time.Second), deadAfter)
			}
			if at := loop.at.Sub(start); at != deadAfter {
				t.Errorf("a station that sent nothing and answered no ping was closed after %v, want DeadAfter (%v) exactly", at, deadAfter)
			}
		})
	})
	t.Run("a quiet station that answers pings stays", func(t *testing.T) {
		runEdge(t, timed(million.Config{}), func(t *testing.T, e *edge) {
			st := e.boot(t, "CS0001")
			select {
			case <-st.Done():
				t.Fatalf("a station that answered every ping was disconnected (%v), want it kept: a pong is a sign of life", st.Err())
			case <-time.After(5 * deadAfter):
			}
			if err := heartbeat(t, st); err != nil {
				t.Errorf("a quiet station that answered every ping: its Heartbeat got %v, want it answered", err)
			}
		})
	})
	t.Run("a station that does not read is closed after WriteTimeout", func(t *testing.T) {
		runEdge(t, timed(million.Config{}), func(t *testing.T, e *edge) {
			r := e.raw(t, "CS0001")
			r.boot(t)
			// It sends calls and never reads their answers: they fill its
			// connection, and the server's next write waits.
			big := `[2,"%d","DataTransfer",{"vendorId":"Kata","data":"` + strings.Repeat("x", 2000) + `"}]`
			// With its calls queued behind one answer the station does not
			// take, a server reads a few connection buffers' worth at most.
			const most = 2000
			start := time.Now()
			for i := range most {
				if err := r.putErr(frame(fmt.Sprintf(big, i))); err != nil {
					if at := time.Since(start); at < writeTimeout {
						t.Errorf("CS0001, which reads nothing, was closed after %v, want WriteTimeout (%v) at least: "+
							"a station is given that long to take each frame", at, writeTimeout)
					}
					return
				}
			}
			t.Fatalf("CS0001 wrote %d calls of 2 KiB without reading an answer, and the server took them all, want it "+
				"closed once a write to it waited WriteTimeout (%v): while a station's call waits for its turn, its "+
				"reader holds the connection, nothing more is read from it, and TCP pushes back", most, writeTimeout)
		})
	})
	t.Run("Shutdown reaches idle stations", func(t *testing.T) {
		runEdge(t, timed(million.Config{}), func(t *testing.T, e *edge) {
			var raws []*raw
			for i := range 5 {
				r := e.raw(t, fmt.Sprintf("CS%04d", i+1))
				r.boot(t)
				raws = append(raws, r)
			}
			raws[4].put(t, frame(`[2,"h","Heartbeat",{}]`)[:9]) // and half a frame
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := e.srv.Shutdown(ctx); err != nil {
				t.Fatalf("Shutdown with 5 idle stations returned %v, want nil: StopReading wakes each station's reader "+
					"(through the wake given to Detach), and NextFrame then says ErrStopped, with or without new bytes", err)
			}
			for _, r := range raws {
				wantClose(t, r.await(), 1001, r.id+" after Shutdown", "each station is told the server is going away")
			}
			e.over = true // the neighbour is closed too
		})
	})
}

func TestCloseLeavesNothing(t *testing.T) {
	t.Run("in memory", func(t *testing.T) {
		runEdge(t, million.Config{}, func(t *testing.T, e *edge) {
			for i := range 3 {
				e.raw(t, fmt.Sprintf("IDLE%d", i)).boot(t)
			}
			half := e.raw(t, "HALF")
			half.boot(t)
			half.put(t, frame(`[2,"h","Heartbeat",{}]`)[:9])
			// Closed when the test ends, by kit.ServeOn, which then checks
			// that no goroutine of the server is left.
		})
	})
	t.Run("on loopback TCP", func(t *testing.T) {
		needPoller(t)
		// The runtime's own poller opens its descriptors at the first
		// socket: before counting, so that they are not taken for the
		// server's.
		if l, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
			l.Close()
		}
		before := descriptors(t)
		b := backend.New(backend.Options{NoRecords: true})
		srv := million.New(million.Config{Backend: b})
		opts, closeSrv := serveTCPManual(t, srv)
		sts := bootTCP(t, opts, 1, 20)
		for _, st := range sts {
			st.Close()
		}
		closeSrv()
		kit.NoLeaks(t)
		if after := descriptors(t); after > before {
			t.Errorf("after Close, the process had %d open descriptors, %d before New: %d left open. Close the poller "+
				"(Poller.Close) once no station is read: its descriptor, and every registration in it, go with it.",
				after, before, after-before)
		}
	})
}

// frame returns payload as a station sends it: one text frame, masked,
// with its length in as few bytes as it fits (RFC 6455 §5.2).
func frame(payload string) []byte {
	head := []byte{0x81}
	switch n := len(payload); {
	case n < 126:
		head = append(head, 0x80|byte(n))
	case n <= 0xffff:
		head = binary.BigEndian.AppendUint16(append(head, 0x80|126), uint16(n))
	default:
		head = binary.BigEndian.AppendUint64(append(head, 0x80|127), uint64(n))
	}
	mask := []byte{7, 1, 2, 9}
	head = append(head, mask...)
	for i := range len(payload) {
		head = append(head, payload[i]^mask[i%4])
	}
	return head
}

// bytesOf cuts b into pieces of one byte.
func bytesOf(b []byte) [][]byte {
	var out [][]byte
	for i := range b {
		out = append(out, b[i:i+1])
	}
	return out
}

// split cuts b in two at i.
func split(b []byte, i int) [][]byte { return [][]byte{b[:i], b[i:]} }

// lastGets says that only the last of n pieces makes id's frame whole.
func lastGets(n int, id string) [][]string {
	out := make([][]string, n)
	out[n-1] = []string{id}
	return out
}

// heartbeatIDs returns the call ids of the Heartbeats among records, in
// the order their work started.
func heartbeatIDs(records []backend.Record) []string {
	var ids []string
	for _, r := range records {
		if r.Action == ocpp.ActionHeartbeat {
			ids = append(ids, r.CallID)
		}
	}
	return ids
}

// overtaken returns the first two of a station's Heartbeats where the
// second started before the first was answered.
func overtaken(records []backend.Record) (first, second string, ok bool) {
	var last *backend.Record
	for _, r := range records {
		if r.Action != ocpp.ActionHeartbeat {
			continue
		}
		if last != nil && r.Start.Before(last.Replied) {
			return last.CallID, r.CallID, true
		}
		last = &r
	}
	return "", "", false
}

// overlapping returns how many stations' calls were in the backend at the
// moment one of station's calls started, its own included.
func overlapping(records []backend.Record, station string) int {
	most := 0
	for _, r := range records {
		if r.Station != station || r.Kind != backend.KindCall {
			continue
		}
		at := map[string]bool{}
		for _, o := range records {
			if o.Kind == backend.KindCall && !o.Start.After(r.Start) && o.End.After(r.Start) {
				at[o.Station] = true
			}
		}
		most = max(most, len(at))
	}
	return most
}

// descriptors returns how many descriptors the process has open, or skips
// the test where the system does not list them.
func descriptors(t *testing.T) int {
	t.Helper()
	for _, dir := range []string{"/proc/self/fd", "/dev/fd"} {
		if fds, err := os.ReadDir(dir); err == nil {
			return len(fds)
		}
	}
	t.Skip("this system does not list a process's descriptors")
	return 0
}

// needPoller skips a test that needs the system's poller where netpoll has
// none.
func needPoller(t *testing.T) {
	t.Helper()
	if !netpoll.Supported {
		t.Skipf("the poller needs epoll (Linux) or kqueue (macOS): on %s, run the kata in WSL", runtime.GOOS)
	}
}

// serveTCP runs srv on a loopback listener until the test ends, and
// returns station options that dial it.
func serveTCP(t *testing.T, srv *million.Server) station.Options {
	t.Helper()
	opts, closeSrv := serveTCPManual(t, srv)
	t.Cleanup(func() { closeSrv(); kit.NoLeaks(t) })
	return opts
}

// serveTCPManual is serveTCP for a test that closes the server itself.
func serveTCPManual(t *testing.T, srv *million.Server) (station.Options, func()) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	var once sync.Once
	closeSrv := func() {
		once.Do(func() {
			kit.CheckClose(t, srv.Close())
			l.Close()
			if err := <-served; err != nil && !errors.Is(err, net.ErrClosed) {
				t.Errorf("Serve returned %v after Close, want nil", err)
			}
		})
	}
	return station.Options{URL: "ws://" + l.Addr().String() + "/ocpp"}, closeSrv
}

// bootTCP connects n stations, numbered from first, and boots each.
func bootTCP(t *testing.T, opts station.Options, first, n int) []*station.Station {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var out []*station.Station
	for i := range n {
		id := fmt.Sprintf("CS%05d", first+i)
		st, err := station.Dial(ctx, id, opts)
		if err != nil {
			t.Fatalf("%s could not connect: %v", id, err)
		}
		t.Cleanup(func() { st.Close() })
		req := ocpp.BootNotificationRequest{ChargePointVendor: "Kata", ChargePointModel: "Test"}
		if err := st.Call(ctx, ocpp.ActionBootNotification, req, nil); err != nil {
			t.Fatalf("%s's BootNotification: %v", id, err)
		}
		out = append(out, st)
	}
	return out
}

// heartbeatWithin sends a Heartbeat on st and waits for its answer.
func heartbeatWithin(st *station.Station, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return st.Call(ctx, ocpp.ActionHeartbeat, ocpp.HeartbeatRequest{}, nil)
}

// settle waits until the process's goroutines have been as many for 200ms
// in a row, or 5s have passed. On real sockets, a goroutine that answered a
// station ends a moment after the answer is read: this waits for it,
// without a bound that a test would assert on.
func settle() {
	n, same := runtime.NumGoroutine(), 0
	for i := 0; same < 20 && i < 500; i++ {
		time.Sleep(10 * time.Millisecond)
		if m := runtime.NumGoroutine(); m == n {
			same++
		} else {
			n, same = m, 0
		}
	}
}
