package asyncio_test

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"

	asyncio "github.com/ocppkata/kata/exercises/02-async-io"
	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/kit"
	"github.com/ocppkata/kata/harness/memnet"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/harness/wsconn"
	"github.com/ocppkata/kata/stations/station"
)

// The thread tests use real loopback sockets, because the netpoller is what
// they are about, and each runs in a fresh process (kit.Isolated), because Go
// never gives an OS thread back: a count is only meaningful against a process
// that did nothing else before.

const (
	// fleet is the stations of the thread tests: enough that a thread per
	// station stands out from the bound (14) by far, few enough that the
	// suite and its wrong turns stay cheap under -race.
	fleet   = 400
	workers = 8
	// procs is GOMAXPROCS in the measuring process: the bound on threads is
	// then the same on every machine, however many cores it has.
	procs = 2
	slack = 4 // threads the runtime may start for its own reasons
)

// measure runs body in a fresh process with GOMAXPROCS set to procs, and
// fails it if a goroutine is left once the server and stations are closed.
// The lesson's backend waits in Unix system calls: elsewhere it skips.
func measure(t *testing.T, body func(t *testing.T)) {
	t.Helper()
	kit.NeedBlocking(t)
	kit.Isolated(t, func(t *testing.T) {
		runtime.GOMAXPROCS(procs)
		t.Cleanup(func() { kit.NoLeaks(t) })
		body(t)
	})
}

func TestIdleStationsCostNoThreads(t *testing.T) {
	measure(t, func(t *testing.T) {
		// Counted before the server starts: its threads are all the load's.
		look := func() snapshot { return snapshot{threads: threads(t)} }
		before := settle(t, look, nil)

		b := backend.New(backend.Options{Blocking: true})
		opts, _ := kit.ServeLoopback(t, asyncio.New(asyncio.Config{Backend: b, Workers: workers}))

		stations := connect(t, opts, fleet)
		for _, st := range stations {
			// Each station's first call is answered, so its reader is running.
			if err := st.Call(t.Context(), ocpp.ActionBootNotification, bootRequest, nil); err != nil {
				t.Fatalf("BootNotification from %s: %v", st.ID(), err)
			}
		}
		after := settle(t, look, nil)

		checkThreads(t, before.threads, after.threads, fmt.Sprintf("%d stations connected and idle", fleet),
			"A goroutine waiting for data from a socket holds no OS thread: the runtime parks it and "+
				"the netpoller wakes it when data arrives. Something pins a thread to each connection.")
	})
}

func TestBlockingCallsAreBounded(t *testing.T) {
	measure(t, func(t *testing.T) {
		before := settle(t, func() snapshot { return snapshot{threads: threads(t)} }, nil)
		// The backend blocks its thread in a system call for the whole of a
		// call, like a database driver written in C; the gate holds every
		// Heartbeat there until the test has counted.
		b := backend.New(backend.Options{Blocking: true})
		gate := b.Hold(func(w backend.Work) bool { return w.Action == ocpp.ActionHeartbeat })
		opts, traffic := kit.ServeLoopback(t, asyncio.New(asyncio.Config{Backend: b, Workers: workers}))
		t.Cleanup(gate.Open) // before Close: a blocked system call cannot be cancelled
		look := func() snapshot {
			return snapshot{threads: threads(t), inFlight: b.Stats().InFlight, drained: traffic.Drained()}
		}

		stations := connect(t, opts, fleet)
		answers := make([]<-chan station.Answer, len(stations))
		for i, st := range stations {
			ans, err := st.Send(t.Context(), ocpp.ActionHeartbeat, ocpp.HeartbeatRequest{})
			if err != nil {
				t.Fatalf("Heartbeat from %s: %v", st.ID(), err)
			}
			answers[i] = ans
		}
		// Wait until the server has read every call and nothing moves any
		// more: each call is then either in the backend or waiting for a
		// worker. Every worker busy is what the solution settles on; a server
		// that settles short of it is given a moment longer, then judged by
		// the count.
		busy := min(workers, fleet)
		held := settle(t, look, func(s snapshot) bool { return s.drained && s.inFlight >= busy })
		gate.Open()
		for i, ans := range answers {
			select {
			case a := <-ans:
				if a.Err != nil {
					t.Errorf("Heartbeat from %s: %v", stations[i].ID(), a.Err)
				}
			case <-t.Context().Done():
				t.Fatal("the test ended before every Heartbeat was answered")
			}
		}
		after := settle(t, look, nil)
		peak := b.Stats().Peak

		if peak > workers {
			t.Errorf("%d calls were in the backend at once, want at most %d, one per worker (Config.Workers %d).\n"+
				"Only the workers may call the blocking backend: every call beyond theirs came from a connection's "+
				"goroutine, or from a goroutine started for it, and held an OS thread in its system call. "+
				"When every worker is busy, a call must wait for one.", peak, workers, workers)
		}
		if held.inFlight < busy {
			t.Errorf("with %d Heartbeats sent, %d reached the backend while the rest waited, want %d, one per worker "+
				"(Config.Workers %d): idle workers with calls waiting keep stations waiting for nothing.",
				fleet, held.inFlight, busy, workers)
		}
		checkThreads(t, before.threads, max(held.threads, after.threads),
			fmt.Sprintf("%d stations each waiting for a blocking backend call", fleet),
			fmt.Sprintf("%d calls were in the backend at once. A goroutine in a blocking system call holds its OS "+
				"thread until the call returns, so the number of goroutines that can make such calls must be "+
				"bounded: by the %d workers.", peak, workers))
	})
}

// TestReadersWaitForWorkers runs on the in-memory network and fake time: one
// station floods Heartbeats while the backend holds every call, so both
// workers are busy for good and everything else the server reads has to
// wait somewhere. The flood is bigger than any queue a server needs, so the
// queue fills up whatever its size, and then the reader must wait for a
// worker, not call the backend itself.
func TestReadersWaitForWorkers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const workers, flood = 2, 1 << 17
		b := backend.New(backend.Options{})
		b.Hold(func(w backend.Work) bool { return w.Action == ocpp.ActionHeartbeat })
		srv := asyncio.New(asyncio.Config{Backend: b, Workers: workers})
		l := kit.Serve(t, srv)

		// The station writes until the server stops reading it, or until a
		// call beyond the workers' is in the backend.
		conn := dialRaw(t, l, station.StationID(1))
		var sent atomic.Int64
		go func() {
			const burst = 64 // frames a write
			for sent.Load() < flood && b.Stats().InFlight <= workers {
				if _, err := conn.Write(heartbeats(int(sent.Load()), burst)); err != nil {
					return
				}
				sent.Add(burst)
			}
		}()
		synctest.Wait()

		inFlight, n := b.Stats().InFlight, sent.Load()
		if inFlight > workers {
			t.Fatalf("with both workers held in the backend and %d Heartbeats written, %d calls were in the backend, "+
				"want %d, one per worker (Config.Workers %d).\n"+
				"Once the queue is full, a reader that calls the backend itself holds a thread in a blocking call, "+
				"one per connection: a buffer in front of that fallback only makes it wait for a bigger load. "+
				"When every worker is busy and the queue is full, the reader must wait for a worker.",
				n, inFlight, workers, workers)
		}
		if n >= flood {
			t.Fatalf("with both workers held in the backend, the server read all %d Heartbeats and was still reading: "+
				"its queue is too big for this test to find where it ends, so the test cannot see what a reader "+
				"does once it is full. A queue that big is also memory any station can fill at will. Give the "+
				"queue no buffer, or a small one: when no worker is free, the reader waits for one.",
				flood)
		}
		if inFlight < workers {
			t.Fatalf("with %d Heartbeats written, %d calls reached the backend, want %d, one per worker "+
				"(Config.Workers %d): idle workers with calls waiting keep stations waiting for nothing.",
				n, inFlight, workers, workers)
		}
		t.Logf("about %d Heartbeats written before the server stopped reading; %d calls in the backend", n, inFlight)
	})
}

// dialRaw opens a WebSocket connection to the server behind l as station id,
// and returns the bare net.Conn under it, for a flood written frame by frame
// by the test itself: cheaper than the simulator's calls, which keep account
// of every answer to come. What the server sends is read and dropped.
func dialRaw(t *testing.T, l *memnet.Listener, id string) net.Conn {
	t.Helper()
	d := websocket.Dialer{NetDialContext: l.DialContext, Subprotocols: []string{wsconn.Subprotocol}}
	ws, _, err := d.DialContext(t.Context(), kit.URL+"/"+id, nil)
	if err != nil {
		t.Fatalf("connecting %s: %v", id, err)
	}
	t.Cleanup(func() { ws.Close() }) // also frees a write the server no longer reads
	go func() {
		for {
			if _, _, err := ws.NextReader(); err != nil {
				return
			}
		}
	}()
	return ws.UnderlyingConn()
}

// heartbeats returns n Heartbeat CALLs numbered from first, as the masked
// WebSocket text frames a client sends (the mask is zero, so the payload is
// left as it is).
func heartbeats(first, n int) []byte {
	var frames []byte
	for i := range n {
		payload := fmt.Appendf(nil, `[2,"%d","Heartbeat",{}]`, first+i+1)
		frames = append(frames, 0x81, 0x80|byte(len(payload)), 0, 0, 0, 0)
		frames = append(frames, payload...)
	}
	return frames
}

// TestCloseWaitsForWorkers runs on the in-memory network and fake time:
// what it looks at is goroutines, not threads.
func TestCloseWaitsForWorkers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const workers, stations = 2, 5
		b := backend.New(backend.Options{})
		// Held firmly: a call in the backend stays there when the server
		// cancels it, like a query already sent to a database.
		gate := b.HoldFirm(nil)
		srv := asyncio.New(asyncio.Config{Backend: b, Workers: workers})
		l := kit.Serve(t, srv)
		for i := range stations {
			st := kit.Dial(t, l, i+1)
			t.Cleanup(func() { st.Close() })
			if _, err := st.Send(t.Context(), ocpp.ActionHeartbeat, ocpp.HeartbeatRequest{}); err != nil {
				t.Fatalf("Heartbeat from %s: %v", st.ID(), err)
			}
		}
		synctest.Wait() // every call is held in the backend or waits for a worker
		kit.CloseWaits(t, srv, b, gate)
	})
}

// checkThreads fails the test if the load made the process start more OS
// threads than one per processor, one per worker and a little slack.
func checkThreads(t *testing.T, before, after int, load, why string) {
	t.Helper()
	limit := procs + workers + slack
	if after-before > limit {
		t.Errorf("with %s the server started %d more OS threads (%d before, %d after), want at most %d "+
			"(GOMAXPROCS %d + %d workers + %d slack).\n%s",
			load, after-before, before, after, limit, procs, workers, slack, why)
	} else {
		t.Logf("OS threads: %d before, %d with %s (%+d)", before, after, load, after-before)
	}
}

// snapshot is what a test watches while the server settles.
type snapshot struct {
	threads  int  // OS threads of the process
	inFlight int  // calls in the backend
	drained  bool // the server has read every byte the stations sent
}

func threads(t *testing.T) int {
	t.Helper()
	n, err := kit.Threads()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// settle waits until the snapshot look takes has stopped changing, and
// returns it: once it has held still for a few looks if it is what the test
// expects (expected nil: anything is), or, once the server has read every
// call, for a couple of seconds if it is not, so that a server that settles
// short of it is judged by the test's counts rather than by a timeout.
// Polling here only decides when to look; what is asserted is a count,
// never a duration.
func settle(t *testing.T, look func() snapshot, expected func(snapshot) bool) snapshot {
	t.Helper()
	const (
		every    = 20 * time.Millisecond
		quiet    = 10  // looks
		patience = 100 // looks, for a snapshot that is not the expected one
	)
	deadline := time.Now().Add(time.Minute)
	var last snapshot
	for still := -1; ; still++ {
		s := look()
		if s != last {
			last, still = s, 0
		}
		ok := expected == nil || expected(s)
		if ok && still >= quiet || !ok && s.drained && still >= patience {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server had not settled after a minute: %d OS threads, %d calls in the backend, "+
				"every call read: %v", s.threads, s.inFlight, s.drained)
		}
		time.Sleep(every)
	}
}

var bootRequest = ocpp.BootNotificationRequest{ChargePointVendor: "Kata", ChargePointModel: "Idle"}

// connect dials n stations, a few at a time, and closes them when the test ends.
func connect(t *testing.T, opts station.Options, n int) []*station.Station {
	t.Helper()
	stations := make([]*station.Station, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			st, err := station.Dial(ctx, station.StationID(i+1), opts)
			if err != nil {
				errs <- err
				return
			}
			stations[i] = st
		})
	}
	wg.Wait()
	t.Cleanup(func() {
		var wg sync.WaitGroup
		for _, st := range stations {
			if st != nil {
				wg.Go(func() { st.Close() })
			}
		}
		wg.Wait()
	})
	close(errs)
	if err := <-errs; err != nil {
		t.Fatalf("connecting %d stations: %v", n, err)
	}
	return stations
}
