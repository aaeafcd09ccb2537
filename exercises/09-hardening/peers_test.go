package hardening_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"

	hardening "github.com/ocppkata/kata/exercises/09-hardening"
	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/kit"
	"github.com/ocppkata/kata/harness/memnet"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/harness/wsconn"
	"github.com/ocppkata/kata/stations/station"
)

// Connections at the edge: who holds a station's id, who is alive, who
// reads what it is sent, and who may connect at all. Each case runs on fake
// time against a fresh server, with a neighbour station connected before it
// and a fresh station connected after it: neither may notice the case.

// The edge's timing in these tests: the server pings every 10s, takes a
// station that has sent nothing (no frame, no pong) for 30s for dead, and
// gives each frame it sends 5s to be taken.
const (
	connPingInterval = 10 * time.Second
	connDeadAfter    = 30 * time.Second
	connWriteTimeout = 5 * time.Second
)

// connScene is one case: a server, where its stations dial, their keys if
// it has any, and the neighbour booted before the case began.
type connScene struct {
	srv       *hardening.Server
	l         *memnet.Listener
	keys      map[string]string
	neighbour *station.Station
}

// connRun runs body in a synctest bubble of its own, against a new server
// configured by cfg with the edge's timing above (unless cfg sets its own).
// A neighbour station is booted before body runs; afterwards it must still
// be connected and served, and a station connecting afresh must be served.
func connRun(t *testing.T, cfg hardening.Config, body func(t *testing.T, s *connScene)) {
	t.Helper()
	synctest.Test(t, func(t *testing.T) {
		if cfg.Backend == nil {
			cfg.Backend = backend.New(backend.Options{})
		}
		if cfg.Workers == 0 {
			cfg.Workers = 2
		}
		if cfg.PingInterval == 0 {
			cfg.PingInterval = connPingInterval
		}
		if cfg.DeadAfter == 0 {
			cfg.DeadAfter = connDeadAfter
		}
		if cfg.WriteTimeout == 0 {
			cfg.WriteTimeout = connWriteTimeout
		}
		srv := hardening.New(cfg)
		s := &connScene{srv: srv, l: kit.Serve(t, srv), keys: cfg.AuthKeys}
		s.neighbour = s.boot(t, "NEIGHBOUR", nil)
		body(t, s)
		s.unharmed(t)
	})
}

// boot connects a simulated station with its key, if the server has keys,
// and registers it with a BootNotification. Like any gorilla client, it
// answers the server's pings while it reads. It is closed when the test
// ends.
func (s *connScene) boot(t *testing.T, id string, answer func(*ocpp.Call) station.Reply) *station.Station {
	t.Helper()
	opts := kit.Stations(s.l)
	opts.Password = s.keys[id]
	opts.Answer = answer
	// A bound on fake time: a server that never answers fails the test
	// instead of leaving the bubble with nothing to wait for.
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	st, err := station.Dial(ctx, id, opts)
	if err != nil {
		t.Fatalf("connecting %s: %v", id, err)
	}
	t.Cleanup(func() { st.Close() })
	req := ocpp.BootNotificationRequest{ChargePointVendor: "Kata", ChargePointModel: "Test"}
	if err := st.Call(ctx, ocpp.ActionBootNotification, req, nil); err != nil {
		t.Fatalf("BootNotification from %s: %v", id, err)
	}
	return st
}

// unharmed checks that the neighbour is still connected and served, and
// that a station connecting now is served.
func (s *connScene) unharmed(t *testing.T) {
	t.Helper()
	select {
	case <-s.neighbour.Done():
		t.Errorf("the neighbour station, connected before this case, answering every ping and doing nothing wrong, "+
			"was disconnected (%v): what one station does must not reach the others", s.neighbour.Err())
	default:
		if err := connHeartbeat(t, s.neighbour); err != nil {
			t.Errorf("the neighbour station's Heartbeat after this case: %v, want it answered: "+
				"what one station does must not reach the others", err)
		}
	}
	fresh := s.boot(t, "FRESH", nil)
	if err := connHeartbeat(t, fresh); err != nil {
		t.Errorf("a station connecting after this case: its Heartbeat got %v, want it answered: "+
			"the server must go on serving new stations", err)
	}
}

// connHeartbeat sends a Heartbeat from st and waits up to a minute of fake
// time for its answer.
func connHeartbeat(t *testing.T, st *station.Station) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	return st.Call(ctx, ocpp.ActionHeartbeat, ocpp.HeartbeatRequest{}, nil)
}

// call makes srv.Call to a station in a goroutine of its own and
// returns where its error will come. The call has no deadline of its own:
// whatever ends it is the server's doing.
func (s *connScene) call(id string) <-chan error {
	done := make(chan error, 1)
	go func() {
		var resp ocpp.ResetResponse
		done <- s.srv.Call(context.Background(), id, ocpp.ActionReset, ocpp.ResetRequest{Type: ocpp.ResetSoft}, &resp)
	}()
	return done
}

// callReaches checks that the server's calls to id go to st: a Reset is
// answered, by st.
func (s *connScene) callReaches(t *testing.T, id string, st *station.Station, who string) {
	t.Helper()
	if !kit.Settle(t) {
		t.FailNow()
	}
	before := len(st.ServerCalls())
	err, ok := kit.Await(t, s.call(id))
	switch {
	case !ok:
		t.Fatalf("srv.Call(%s, Reset) had not returned a minute later, want %s to answer it at once", id, who)
	case errors.Is(err, hardening.ErrNotConnected):
		t.Fatalf("srv.Call(%s, Reset) after the older connection ended: %v, want it to reach %s. "+
			"The older connection's cleanup removed the station's entry although it was no longer its own: "+
			"cleanup belongs to the connection, and must leave a newer one of the same station alone", id, err, who)
	case err != nil:
		t.Fatalf("srv.Call(%s, Reset): %v, want %s to answer it", id, err, who)
	case len(st.ServerCalls()) != before+1:
		t.Fatalf("srv.Call(%s, Reset) was answered, but not by %s: the server's calls must go to the station's newest connection", id, who)
	}
}

// connRaw is a station driven by hand: a bare WebSocket client that reads
// and writes only when the test says so. It never answers a ping: gorilla
// answers pings only while it reads, and this one drops them unanswered
// even then, as some chargers do.
type connRaw struct {
	id    string
	ws    *websocket.Conn
	pings atomic.Int32 // pings read (and dropped)
}

// dial opens a WebSocket to the server as station id, offering ocpp1.6,
// with header. A connection it opens is closed when the test ends, before
// the server is: a station that stops reading does not hold the server's
// Close.
func (s *connScene) dial(t *testing.T, id string, header http.Header) (*connRaw, *http.Response, error) {
	t.Helper()
	d := websocket.Dialer{NetDialContext: s.l.DialContext, Subprotocols: []string{wsconn.Subprotocol}}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	ws, resp, err := d.DialContext(ctx, kit.URL+"/"+url.PathEscape(id), header)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		return nil, resp, err
	}
	t.Cleanup(func() { ws.Close() })
	c := &connRaw{id: id, ws: ws}
	ws.SetPingHandler(func(string) error { c.pings.Add(1); return nil })
	return c, resp, nil
}

// raw connects station id by hand, with its key if the server has keys.
func (s *connScene) raw(t *testing.T, id string) *connRaw {
	t.Helper()
	var header http.Header
	if key, ok := s.keys[id]; ok {
		header = http.Header{"Authorization": {connBasic(id, key)}}
	}
	c, _, err := s.dial(t, id, header)
	if err != nil {
		t.Fatalf("connecting %s: %v", id, err)
	}
	return c
}

// send writes one frame; the write waits until the server reads it.
func (c *connRaw) send(t *testing.T, frame string) {
	t.Helper()
	c.ws.SetWriteDeadline(time.Now().Add(time.Minute))
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
		t.Fatalf("%s sending %s: %v", c.id, frame, err)
	}
}

// boot registers c with a BootNotification and reads the answer: the
// server's calls to it may go from now on.
func (c *connRaw) boot(t *testing.T) {
	t.Helper()
	c.send(t, `[2,"boot","BootNotification",{"chargePointVendor":"Kata","chargePointModel":"Raw"}]`)
	c.ws.SetReadDeadline(time.Now().Add(time.Minute))
	_, data, err := c.ws.ReadMessage()
	if err != nil {
		t.Fatalf("%s waiting for the answer to its BootNotification: %v", c.id, err)
	}
	if !strings.HasPrefix(string(data), `[3,"boot",`) {
		t.Fatalf("%s's BootNotification was answered with %s, want a CALLRESULT", c.id, data)
	}
	c.ws.SetReadDeadline(time.Time{})
}

// closed reports whether the server has closed c's connection: a read ends
// at once with an error other than its deadline. A frame that comes
// instead (a ping included: the server was still writing to it), or
// nothing for a second, means the connection is still open; what says
// which.
func (c *connRaw) closed() (closed bool, what string) {
	pings := c.pings.Load()
	c.ws.SetReadDeadline(time.Now().Add(time.Second))
	_, data, err := c.ws.ReadMessage()
	var ne net.Error
	switch {
	case c.pings.Load() != pings:
		return false, "a ping from the server was still waiting for it to read"
	case err == nil:
		return false, fmt.Sprintf("it could still read a frame from it: %.80s", data)
	case errors.As(err, &ne) && ne.Timeout():
		return false, "a read on it still waited for the next frame"
	}
	return true, ""
}

// connListener reads a connection in a goroutine of its own, as a
// station's read loop does, until the connection fails.
type connListener struct {
	frames chan []byte
	done   chan struct{} // closed when the connection has failed
	at     time.Time     // when; set before done is closed
	err    error         // why
}

// listen starts reading c. Pings are read and dropped: never answered.
func (c *connRaw) listen(t *testing.T) *connListener {
	cl := &connListener{frames: make(chan []byte, 16), done: make(chan struct{})}
	go func() {
		defer close(cl.done)
		for {
			_, data, err := c.ws.ReadMessage()
			if err != nil {
				cl.at, cl.err = time.Now(), err
				return
			}
			cl.frames <- data
		}
	}()
	t.Cleanup(func() {
		c.ws.Close()
		<-cl.done
	})
	return cl
}

// next returns the next frame, or fails the test if the connection ends or
// no frame comes within a minute.
func (cl *connListener) next(t *testing.T, id, what string) []byte {
	t.Helper()
	select {
	case data := <-cl.frames:
		return data
	case <-cl.done:
		t.Fatalf("%s's connection ended while it waited for %s: %v", id, what, cl.err)
	case <-time.After(time.Minute):
		t.Fatalf("%s waited a minute for %s, and nothing came", id, what)
	}
	return nil
}

// connBasic is the Authorization header of HTTP Basic authentication.
func connBasic(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

// connCloseCode returns the status of the close frame that ended st's
// connection, or 0 if it ended without one.
func connCloseCode(st *station.Station) int {
	var ce *websocket.CloseError
	if errors.As(st.Err(), &ce) {
		return ce.Code
	}
	return 0
}

func TestSecondConnectionTakesOver(t *testing.T) {
	const id = "CS0001"
	// takeOver connects id again while older is its connection: the newer
	// must be served, the older closed with 1008, and the server's calls
	// must go to the newer once the older's cleanup has run.
	takeOver := func(t *testing.T, s *connScene, older *station.Station, which string) *station.Station {
		t.Helper()
		newer := s.boot(t, id, nil)
		if _, ok := kit.Await(t, older.Done()); !ok {
			t.Fatalf("the %s connection of %s was still open a minute after a newer one of the same station connected, "+
				"want it closed with 1008 (policy violation) at once: a station has one connection, its newest. "+
				"Keeping both leaves the server's calls and the station's state split between two sockets, "+
				"one of which is usually dead", which, id)
		}
		if code := connCloseCode(older); code != websocket.ClosePolicyViolation {
			t.Errorf("the %s connection of %s ended with %v, want a close frame with 1008 (policy violation): "+
				"it tells the station's old socket why it was dropped", which, id, older.Err())
		}
		if err := connHeartbeat(t, newer); err != nil {
			t.Fatalf("the newer connection of %s: its Heartbeat got %v, want it answered", id, err)
		}
		s.callReaches(t, id, newer, "the newer connection")
		return newer
	}

	t.Run("the older connection still reads", func(t *testing.T) {
		connRun(t, hardening.Config{}, func(t *testing.T, s *connScene) {
			older := s.boot(t, id, nil)
			newer := takeOver(t, s, older, "older")
			// And again: the station takes over from itself.
			takeOver(t, s, newer, "second")
		})
	})

	t.Run("the older connection was dropped without a close", func(t *testing.T) {
		connRun(t, hardening.Config{}, func(t *testing.T, s *connScene) {
			// The station's network went away without a word: its old
			// socket neither reads nor closes, as a charger's modem that
			// lost its carrier leaves it, for hours.
			older := s.raw(t, id)
			older.boot(t)
			newer := s.boot(t, id, nil)
			if !kit.Settle(t) {
				t.FailNow()
			}
			if closed, what := older.closed(); !closed {
				t.Fatalf("the older connection of %s was still open after a newer one connected (%s), "+
					"want the server to close it: a socket whose station has gone away without a close "+
					"must not keep the station's place", id, what)
			}
			if err := connHeartbeat(t, newer); err != nil {
				t.Fatalf("the newer connection of %s: its Heartbeat got %v, want it answered", id, err)
			}
			s.callReaches(t, id, newer, "the newer connection")
			takeOver(t, s, newer, "second")
		})
	})
}

func TestDeadPeerClosed(t *testing.T) {
	t.Run("a station that sends nothing and answers no ping is closed", func(t *testing.T) {
		connRun(t, hardening.Config{}, func(t *testing.T, s *connScene) {
			c := s.raw(t, "CS0001")
			start := time.Now()
			cl := c.listen(t) // it reads, but never answers a ping
			if _, ok := kit.Await(t, cl.done); !ok {
				t.Fatalf("a station that sent nothing and answered no ping for %v was still connected, "+
					"want it closed after DeadAfter (%v): a station whose network went away without a close "+
					"holds its connection, and its place, for ever unless the server gives up on it",
					time.Since(start).Round(time.Second), connDeadAfter)
			}
			switch at := cl.at.Sub(start); {
			case at < connDeadAfter:
				t.Errorf("a station that sent nothing and answered no ping was closed after %v, want it kept until "+
					"DeadAfter (%v) of silence: a station is taken for dead only after DeadAfter, which is generous "+
					"on purpose (some chargers answer no ping, and heartbeat only every few minutes)", at, connDeadAfter)
			case at > connDeadAfter+connPingInterval:
				t.Errorf("a station that sent nothing and answered no ping was closed after %v, want it closed after "+
					"DeadAfter (%v) of silence, and no later than a PingInterval (%v) after that", at, connDeadAfter, connPingInterval)
			}
		})
	})

	t.Run("a station that neither reads nor sends is closed", func(t *testing.T) {
		connRun(t, hardening.Config{}, func(t *testing.T, s *connScene) {
			c := s.raw(t, "CS0001")
			wait := connDeadAfter + connPingInterval
			time.Sleep(wait)
			if closed, what := c.closed(); !closed {
				t.Errorf("a station that neither read nor sent anything for %v was still connected (%s), "+
					"want it closed by then: DeadAfter is %v, and a ping it does not take must not hold its "+
					"connection open either", wait, what, connDeadAfter)
			}
		})
	})

	t.Run("a station that never answers pings but sends Heartbeats stays", func(t *testing.T) {
		connRun(t, hardening.Config{}, func(t *testing.T, s *connScene) {
			c := s.raw(t, "CS0001")
			start := time.Now()
			cl := c.listen(t)
			const every = 20 * time.Second // more often than DeadAfter
			for i := range 8 {
				select {
				case <-cl.done:
					t.Fatalf("a station that never answers pings, but sent a Heartbeat every %v, was disconnected after %v (%v), "+
						"want it kept: some chargers never answer pings, and any frame a station sends shows it is alive, "+
						"not only a pong", every, cl.at.Sub(start), cl.err)
				default:
				}
				hb := fmt.Sprintf("hb%d", i)
				c.send(t, `[2,"`+hb+`","Heartbeat",{}]`)
				if got := cl.next(t, c.id, "the answer to its Heartbeat"); !strings.HasPrefix(string(got), `[3,"`+hb+`",`) {
					t.Fatalf("CS0001's Heartbeat %s was answered with %s, want its CALLRESULT", hb, got)
				}
				time.Sleep(every)
			}
		})
	})

	t.Run("a quiet station that answers pings stays", func(t *testing.T) {
		connRun(t, hardening.Config{}, func(t *testing.T, s *connScene) {
			st := s.boot(t, "CS0001", nil) // it reads, so it answers every ping
			start := time.Now()
			const quiet = 5 * connDeadAfter
			select {
			case <-st.Done():
				t.Fatalf("a station that sent nothing but answered every ping was disconnected after %v (%v), "+
					"want it kept: a pong shows it is alive, and an idle station has nothing else to say",
					time.Since(start), st.Err())
			case <-time.After(quiet):
			}
			if err := connHeartbeat(t, st); err != nil {
				t.Errorf("a quiet station that answered every ping: its Heartbeat after %v got %v, want it answered", quiet, err)
			}
		})
	})
}

func TestSlowReaderBounded(t *testing.T) {
	// One worker: a worker stuck writing to one station would stop
	// every station's calls.
	cfg := hardening.Config{Workers: 1}

	t.Run("a worker writing to a station that stopped reading moves on", func(t *testing.T) {
		connRun(t, cfg, func(t *testing.T, s *connScene) {
			slow := s.raw(t, "CS0001")
			// It sends a Heartbeat and never reads the answer: the
			// worker that writes it waits for the station to take it.
			slow.send(t, `[2,"hb","Heartbeat",{}]`)
			if !kit.Settle(t) {
				t.FailNow()
			}
			// The wait ends well before the neighbour's first ping: over the
			// in-memory network, a station whose connection the server does
			// not read (its reader waits for a worker) cannot write its pong.
			start := time.Now()
			ans, err := s.neighbour.Send(t.Context(), ocpp.ActionHeartbeat, ocpp.HeartbeatRequest{})
			if err != nil {
				t.Fatalf("the neighbour's Heartbeat: %v", err)
			}
			select {
			case a := <-ans:
				if at := time.Since(start); a.Err != nil || at > connWriteTimeout {
					t.Errorf("the neighbour's Heartbeat was answered after %v (error %v), want within WriteTimeout (%v): "+
						"the only worker was writing to a station that stopped reading, and that write must give up "+
						"after WriteTimeout", at, a.Err, connWriteTimeout)
				}
			case <-time.After(connWriteTimeout + time.Second):
				t.Fatalf("the neighbour's Heartbeat was not answered %v after it was sent, want it answered within WriteTimeout (%v): "+
					"the only worker is still writing an answer to CS0001, which stopped reading, and no other call "+
					"gets a worker. A write to a station must give up after WriteTimeout (conn.SetWriteTimeout)",
					connWriteTimeout+time.Second, connWriteTimeout)
			}
			if closed, what := slow.closed(); !closed {
				t.Errorf("CS0001, which stopped reading, was still connected after the server's write to it gave up (%s), "+
					"want its connection closed: once a write to it has failed, the connection can carry nothing more", what)
			}
		})
	})

	t.Run("a Call to a station that stopped reading returns", func(t *testing.T) {
		connRun(t, cfg, func(t *testing.T, s *connScene) {
			slow := s.raw(t, "CS0001")
			slow.boot(t) // it reads the answer to its boot, and nothing more
			if !kit.Settle(t) {
				t.FailNow()
			}
			start := time.Now()
			done := s.call(slow.id)
			if err := connHeartbeat(t, s.neighbour); err != nil {
				t.Errorf("the neighbour's Heartbeat while a Call to CS0001 waited: %v, want it answered", err)
			}
			select {
			case err := <-done:
				if at := time.Since(start); err == nil || at > connWriteTimeout {
					t.Errorf("srv.Call to CS0001, which stopped reading, returned %v after %v, "+
						"want an error within WriteTimeout (%v)", err, at, connWriteTimeout)
				}
			case <-time.After(time.Minute):
				t.Fatalf("srv.Call to CS0001, which stopped reading, had not returned a minute later, want an error "+
					"within WriteTimeout (%v): the call's write waits for a station that does not read, and its caller "+
					"with it. A write to a station must give up after WriteTimeout (conn.SetWriteTimeout)", connWriteTimeout)
			}
			if closed, what := slow.closed(); !closed {
				t.Errorf("CS0001, which stopped reading, was still connected after the server's write to it gave up (%s), "+
					"want its connection closed", what)
			}
		})
	})

	t.Run("a ping to a station that stopped reading does not wedge its writes", func(t *testing.T) {
		connRun(t, cfg, func(t *testing.T, s *connScene) {
			slow := s.raw(t, "CS0001")
			slow.boot(t)
			// The server pings it after PingInterval; the ping waits for
			// the station to read it.
			time.Sleep(connPingInterval + time.Second)
			start := time.Now()
			done := s.call(slow.id)
			select {
			case err := <-done:
				if at := time.Since(start); err == nil || at > connWriteTimeout {
					t.Errorf("srv.Call to CS0001, which stopped reading and had a ping waiting, returned %v after %v, "+
						"want an error within WriteTimeout (%v)", err, at, connWriteTimeout)
				}
			case <-time.After(time.Minute):
				t.Fatalf("srv.Call to CS0001, which stopped reading, had not returned a minute later, want an error "+
					"within WriteTimeout (%v): a ping or a call that waits for ever for a station to read holds "+
					"the connection's writes with it. Every write, pings included, must give up after WriteTimeout "+
					"(conn.SetWriteTimeout)", connWriteTimeout)
			}
		})
	})
}

func TestBasicAuth(t *testing.T) {
	keys := map[string]string{
		"CS0001":    "key-of-cs0001",
		"CS0002":    "key-of-cs0002",
		"CS:01":     "key-of-cs:01", // an identity may contain ':'
		"NEIGHBOUR": "key-of-the-neighbour",
		"FRESH":     "key-of-the-fresh-one",
	}
	tests := []struct {
		name, id      string
		authorization string // "" sends none
		want          int
	}{
		{"the right key", "CS0001", connBasic("CS0001", keys["CS0001"]), http.StatusSwitchingProtocols},
		{"an identity with a colon, and its key", "CS:01", connBasic("CS:01", keys["CS:01"]), http.StatusSwitchingProtocols},
		{"a wrong key", "CS0001", connBasic("CS0001", "guessed"), http.StatusUnauthorized},
		{"no Authorization header", "CS0001", "", http.StatusUnauthorized},
		{"another station's key", "CS0001", connBasic("CS0001", keys["CS0002"]), http.StatusUnauthorized},
		{"another station's credentials", "CS0001", connBasic("CS0002", keys["CS0002"]), http.StatusUnauthorized},
		{"the key with more after it", "CS0001", connBasic("CS0001", keys["CS0001"]+"x"), http.StatusUnauthorized},
		{"the key cut short", "CS0001", connBasic("CS0001", keys["CS0001"][:5]), http.StatusUnauthorized},
		{"malformed base64", "CS0001", "Basic Q1MwMDAxOmtleS1vZi1jczAwMDE*", http.StatusUnauthorized},
		{"another scheme", "CS0001", "Bearer " + keys["CS0001"], http.StatusUnauthorized},
		{"an unknown station", "CS0099", connBasic("CS0099", "anything"), http.StatusUnauthorized},
		{"an unknown station with an empty key", "CS0099", connBasic("CS0099", ""), http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			connRun(t, hardening.Config{AuthKeys: keys}, func(t *testing.T, s *connScene) {
				var header http.Header
				if tt.authorization != "" {
					header = http.Header{"Authorization": {tt.authorization}}
				}
				c, resp, err := s.dial(t, tt.id, header)
				got := 0
				if resp != nil {
					got = resp.StatusCode
				}
				if tt.want == http.StatusSwitchingProtocols {
					if err != nil {
						t.Fatalf("%s connecting with Authorization %q: HTTP %d (%v), want 101 Switching Protocols: "+
							"its credentials are its id, a ':' and its key, and they are right", tt.id, tt.authorization, got, err)
					}
					c.boot(t)
					return
				}
				if err == nil {
					t.Fatalf("%s connecting with Authorization %q: HTTP 101, the WebSocket was opened, want 401 Unauthorized "+
						"before the upgrade: with AuthKeys set, only a station with its own id and its own key may connect, "+
						"or anyone who knows an id can take that station's place", tt.id, tt.authorization)
				}
				if got != http.StatusUnauthorized {
					t.Fatalf("%s connecting with Authorization %q: HTTP %d (%v), want 401 Unauthorized", tt.id, tt.authorization, got, err)
				}
				if h := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Basic") {
					t.Errorf("the 401 had WWW-Authenticate %q, want a Basic challenge (`Basic realm=\"…\"`): "+
						"RFC 7235 requires it, and it tells the station which scheme to use", h)
				}
				ctx, cancel := context.WithCancel(t.Context())
				cancel()
				if err := s.srv.Call(ctx, tt.id, ocpp.ActionReset, ocpp.ResetRequest{Type: ocpp.ResetSoft}, nil); !errors.Is(err, hardening.ErrNotConnected) {
					t.Errorf("after its 401, srv.Call(%s) returned %v, want hardening.ErrNotConnected: nothing was upgraded, "+
						"so the server has no connection of it", tt.id, err)
				}
			})
		})
	}
	t.Run("no AuthKeys, no authentication", func(t *testing.T) {
		connRun(t, hardening.Config{}, func(t *testing.T, s *connScene) {
			c, resp, err := s.dial(t, "CS0001", nil)
			if err != nil {
				got := 0
				if resp != nil {
					got = resp.StatusCode
				}
				t.Fatalf("CS0001 connecting without credentials to a server without AuthKeys: HTTP %d (%v), "+
					"want 101: authentication is on only when AuthKeys is set", got, err)
			}
			c.boot(t)
		})
	})
}
