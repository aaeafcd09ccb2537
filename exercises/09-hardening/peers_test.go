package hardening_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"

	hardening "github.com/ocppkata/kata/exercises/09-hardening"
	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/kit"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/harness/wsconn"
	"github.com/ocppkata/kata/stations/station"
)

// Connections at the edge: who holds a station's id, who is alive, who
// reads what it is sent, and who may connect at all. Each case runs with
// the edge's timing of timed: a ping every 10s, dead after 30s of
// silence, 5s for a station to take each frame.

func TestSecondConnectionTakesOver(t *testing.T) {
	const id = "CS0001"
	// connectNewer connects and boots id again while an older connection of
	// it is open.
	connectNewer := func(t *testing.T, e *edge) *station.Station {
		t.Helper()
		newer, err := e.connect(t, id)
		if err != nil {
			t.Fatalf("the newer connection of %s was closed as soon as it connected (%v); want the older closed (1008): "+
				"the newer wins. A station connects again when its old socket is dead, often without a close: "+
				"keeping the older locks the station out", id, err)
		}
		return newer
	}
	// takeOver connects id again while older is its connection: the newer
	// must be served, the older closed with 1008, and the server's calls
	// must go to the newer once the older's cleanup has run.
	takeOver := func(t *testing.T, e *edge, older *station.Station, which string) *station.Station {
		t.Helper()
		newer := connectNewer(t, e)
		if _, ok := kit.Await(t, older.Done()); !ok {
			t.Fatalf("the %s connection of %s was still open a minute after a newer one of the same station connected, "+
				"want it closed with 1008 (policy violation) at once: a station has one connection, its newest. "+
				"Keeping both leaves the server's calls and the station's state split between two sockets, "+
				"one of which is usually dead", which, id)
		}
		var ce *websocket.CloseError
		switch {
		case !errors.As(older.Err(), &ce) || ce.Code != websocket.ClosePolicyViolation:
			t.Errorf("the %s connection of %s ended with %v, want a close frame with 1008 (policy violation): "+
				"it tells the station's old socket why it was dropped", which, id, older.Err())
		default:
			wantReason(t, ce, "a newer connection of "+id+" connected")
		}
		if err := heartbeat(t, newer); err != nil {
			t.Fatalf("the newer connection of %s: its Heartbeat got %v, want it answered", id, err)
		}
		e.callReaches(t, id, newer, "the newer connection")
		return newer
	}

	t.Run("the older connection still reads", func(t *testing.T) {
		runEdge(t, timed(hardening.Config{}), func(t *testing.T, e *edge) {
			older := e.boot(t, id)
			newer := takeOver(t, e, older, "older")
			// And again: the station takes over from itself.
			takeOver(t, e, newer, "second")
		})
	})

	t.Run("the older connection was dropped without a close", func(t *testing.T) {
		runEdge(t, timed(hardening.Config{}), func(t *testing.T, e *edge) {
			// The station's network went away without a word: its old
			// socket neither reads nor closes, as a charger's modem that
			// lost its carrier leaves it, for hours.
			older := e.raw(t, id)
			older.boot(t)
			newer := connectNewer(t, e)
			kit.Settle(t)
			if closed, what := older.closed(); !closed {
				t.Fatalf("the older connection of %s was still open after a newer one connected (%s), "+
					"want the server to close it: a socket whose station has gone away without a close "+
					"must not keep the station's place", id, what)
			}
			if err := heartbeat(t, newer); err != nil {
				t.Fatalf("the newer connection of %s: its Heartbeat got %v, want it answered", id, err)
			}
			e.callReaches(t, id, newer, "the newer connection")
			takeOver(t, e, newer, "second")
		})
	})

	t.Run("the older connection's call waiting for a worker goes nowhere", func(t *testing.T) {
		b := backend.New(backend.Options{})
		runEdge(t, timed(hardening.Config{Workers: 1, Backend: b}), func(t *testing.T, e *edge) {
			// The only worker is busy with the neighbour's Heartbeat.
			busy := b.Hold(func(w backend.Work) bool { return w.Station == e.neighbour.ID() })
			hb, err := e.neighbour.Send(t.Context(), ocpp.ActionHeartbeat, ocpp.HeartbeatRequest{})
			if err != nil {
				t.Fatalf("the neighbour's Heartbeat: %v", err)
			}
			kit.Settle(t, busy)
			// The station boots, and its call waits for the worker; then
			// it connects again, as a charger does in a reconnect storm.
			older := e.raw(t, id)
			older.send(t, `[2,"boot-older","BootNotification",{"chargePointVendor":"Kata","chargePointModel":"Raw"}]`)
			newer := e.raw(t, id)
			kit.Settle(t, busy)
			busy.Open()
			<-hb
			newer.boot(t)
			kit.Settle(t)
			var calls []string
			for _, r := range b.StationRecords(id, backend.KindCall) {
				calls = append(calls, r.CallID)
			}
			if len(calls) != 1 || calls[0] != "boot" {
				t.Errorf("the backend worked on %s's calls %q, want only the newer connection's boot: the older "+
					"connection was closed while its BootNotification waited for a worker, and a worker answered "+
					"it all the same, to a socket nobody reads. In a reconnect storm, dead connections' calls "+
					"then take the workers from the live ones, and their readers stay behind, each with its "+
					"frame: a reader waiting for its turn or a worker must give up when its connection is "+
					"closed (conn.Done())", id, calls)
			}
		})
	})
}

func TestDeadPeerClosed(t *testing.T) {
	// The neighbour is a quiet station that answers pings: the one a dead
	// peer's check must keep.
	run := func(t *testing.T, body func(t *testing.T, e *edge)) {
		t.Helper()
		runEdge(t, timed(hardening.Config{}), func(t *testing.T, e *edge) {
			e.lost = "The neighbour, which sends nothing but answers every ping, was closed after DeadAfter: " +
				"do pongs push the deadline back (OnPong), and is each station pinged every PingInterval?"
			body(t, e)
		})
	}
	t.Run("a station that sends nothing and answers no ping is closed", func(t *testing.T) {
		run(t, func(t *testing.T, e *edge) {
			c := e.raw(t, "CS0001")
			start := time.Now()
			loop := c.listen(t) // it reads, but never answers a ping
			// Pinged every PingInterval: twice by now, at 10s and at 20s.
			time.Sleep(deadAfter - pingInterval/2)
			if n, want := c.pings.Load(), int32(deadAfter/pingInterval)-1; n != want {
				why := "a quiet but live station shows it is alive only by its pongs, and it can answer only the pings " +
					"it gets: pinged less often, it is taken for dead while it waits for the next ping"
				if n > want {
					why = "Config.PingInterval says how often, and every ping costs every idle station a write"
				}
				t.Errorf("a station connected for %v had been pinged %d times, want %d: one ping every PingInterval (%v); %s",
					time.Since(start), n, want, pingInterval, why)
			}
			if _, ok := kit.Await(t, loop.done); !ok {
				t.Fatalf("a station that sent nothing and answered no ping for %v was still connected, "+
					"want it closed after DeadAfter (%v): a station whose network went away without a close "+
					"holds its connection, and its place, for ever unless the server gives up on it",
					time.Since(start).Round(time.Second), deadAfter)
			}
			switch at := loop.at.Sub(start); {
			case at < deadAfter:
				t.Errorf("a station that sent nothing and answered no ping was closed after %v, want it kept until "+
					"DeadAfter (%v) of silence: a station is taken for dead only after DeadAfter, which is generous "+
					"on purpose (some chargers answer no ping, and heartbeat only every few minutes)", at, deadAfter)
			case at > deadAfter:
				t.Errorf("a station that sent nothing and answered no ping was closed after %v, want it closed at DeadAfter "+
					"(%v) of silence exactly: DeadAfter is how long a station may be silent, not a moment after which "+
					"a check may notice it some time. A read deadline DeadAfter ahead, pushed back by every frame and "+
					"every pong, ends the read at that very moment; a check made only when the next ping is due comes "+
					"up to a PingInterval late", at, deadAfter)
			}
		})
	})

	t.Run("a station that neither reads nor sends is closed", func(t *testing.T) {
		run(t, func(t *testing.T, e *edge) {
			c := e.raw(t, "CS0001")
			wait := deadAfter + pingInterval
			time.Sleep(wait)
			if closed, what := c.closed(); !closed {
				t.Errorf("a station that neither read nor sent anything for %v was still connected (%s), "+
					"want it closed by then: DeadAfter is %v, and a ping it does not take must not hold its "+
					"connection open either", wait, what, deadAfter)
			}
		})
	})

	t.Run("a station that never answers pings but sends Heartbeats stays", func(t *testing.T) {
		run(t, func(t *testing.T, e *edge) {
			c := e.raw(t, "CS0001")
			start := time.Now()
			loop := c.listen(t)
			const every = 20 * time.Second // more often than DeadAfter
			for i := range 8 {
				select {
				case <-loop.done:
					t.Fatalf("a station that never answers pings, but sent a Heartbeat every %v, was disconnected after %v (%v), "+
						"want it kept: some chargers never answer pings, and any frame a station sends shows it is alive, "+
						"not only a pong", every, loop.at.Sub(start), loop.err)
				default:
				}
				hb := fmt.Sprintf("hb%d", i)
				c.send(t, `[2,"`+hb+`","Heartbeat",{}]`)
				if got := loop.next(t, "the answer to its Heartbeat"); !strings.HasPrefix(string(got), `[3,"`+hb+`",`) {
					t.Fatalf("CS0001's Heartbeat %s was answered with %s, want its CALLRESULT", hb, got)
				}
				time.Sleep(every)
			}
		})
	})

	t.Run("a quiet station that answers pings stays", func(t *testing.T) {
		run(t, func(t *testing.T, e *edge) {
			st := e.boot(t, "CS0001") // it reads, so it answers every ping
			start := time.Now()
			const quiet = 5 * deadAfter
			select {
			case <-st.Done():
				t.Fatalf("a station that sent nothing but answered every ping was disconnected after %v (%v), "+
					"want it kept: a pong shows it is alive, and an idle station has nothing else to say. "+
					"Do pongs push the deadline back (OnPong), and is each station pinged every PingInterval?",
					time.Since(start), st.Err())
			case <-time.After(quiet):
			}
			if err := heartbeat(t, st); err != nil {
				t.Errorf("a quiet station that answered every ping: its Heartbeat after %v got %v, want it answered", quiet, err)
			}
		})
	})
}

func TestSlowReaderBounded(t *testing.T) {
	// One worker: a worker stuck writing to one station would stop
	// every station's calls.
	cfg := timed(hardening.Config{Workers: 1})

	t.Run("a station that stopped reading holds no worker", func(t *testing.T) {
		b := backend.New(backend.Options{}) // answers at once
		cfg := cfg
		cfg.Backend = b
		runEdge(t, cfg, func(t *testing.T, e *edge) {
			slow := e.raw(t, "CS0001")
			// It sends a Heartbeat and never reads the answer: the answer
			// waits for the station to take it, for up to WriteTimeout.
			slow.send(t, `[2,"hb0","Heartbeat",{}]`)
			kit.Settle(t)
			// The backend answers at once, so the neighbour's Heartbeat
			// must be answered at once: no worker may be left waiting on a
			// station's socket. (Over the in-memory network, a write waits
			// until the other side reads.)
			start := time.Now()
			ans, err := e.neighbour.Send(t.Context(), ocpp.ActionHeartbeat, ocpp.HeartbeatRequest{})
			if err != nil {
				t.Fatalf("the neighbour's Heartbeat: %v", err)
			}
			select {
			case a := <-ans:
				if at := time.Since(start); a.Err != nil || at > 0 {
					t.Errorf("the neighbour's Heartbeat was answered after %v (error %v), want at once: the only worker waited "+
						"while CS0001, which stopped reading, did not take its answer. With a hundred stations like it, no "+
						"station is served: a worker must hand the answer on, not wait for a station to take it", at, a.Err)
				}
			case <-time.After(writeTimeout + time.Second):
				t.Fatalf("the neighbour's Heartbeat was not answered %v after it was sent, want it answered at once: "+
					"the only worker is still writing an answer to CS0001, which stopped reading, and no other call "+
					"gets a worker. A worker must hand the answer on, not wait for a station to take it; and a write to a "+
					"station must give up after WriteTimeout (conn.SetWriteTimeout)", writeTimeout+time.Second)
			}
			// More calls from it wait their turn: OCPP-J lets a station
			// send its next call only once the last is answered, and its
			// answer is not out.
			sent := make(chan struct{})
			go func() {
				defer close(sent)
				for i := 1; i <= 5; i++ {
					if slow.write(websocket.TextMessage, fmt.Sprintf(`[2,"hb%d","Heartbeat",{}]`, i)) != nil {
						return // the server closed it
					}
				}
			}()
			kit.Settle(t)
			if n := len(b.StationRecords("CS0001", backend.KindCall)); n != 1 {
				t.Errorf("%d of CS0001's Heartbeats reached the backend while the answer to its first waited for it to read, "+
					"want 1: a station has one call at a time with the workers (OCPP-J lets it send the next only once "+
					"the last is answered), so one that floods without reading holds a worker and a write at the most, "+
					"not one per call it sends", n)
			}
			// The write gives up after WriteTimeout, and the connection with it.
			time.Sleep(writeTimeout)
			kit.Settle(t)
			if closed, what := slow.closed(); !closed {
				t.Errorf("CS0001, which stopped reading, was still connected after the server's write to it gave up (%s), "+
					"want its connection closed: once a write to it has failed, the connection can carry nothing more", what)
			}
			<-sent
		})
	})

	t.Run("a station that stopped reading holds no batch of meter values", func(t *testing.T) {
		cfg := cfg
		cfg.Batch = hardening.BatchConfig{Interval: batchInterval, Slots: 1, Concurrency: 1}
		runEdge(t, cfg, func(t *testing.T, e *edge) {
			slow := e.raw(t, "CS0001")
			payload, err := json.Marshal(station.MeterValue(1))
			if err != nil {
				t.Fatal(err)
			}
			// It sends a meter value and never reads the answer; the
			// neighbour's goes into the same batch, after it.
			slow.send(t, `[2,"mv1","MeterValues",`+string(payload)+`]`)
			kit.Settle(t)
			start := time.Now()
			ans, err := e.neighbour.Send(t.Context(), ocpp.ActionMeterValues, station.MeterValue(2))
			if err != nil {
				t.Fatalf("the neighbour's MeterValues: %v", err)
			}
			select {
			case a := <-ans:
				if at := time.Since(start); a.Result == nil || at > batchInterval {
					t.Errorf("the neighbour's MeterValues, in a batch with one from CS0001 (which stopped reading), was "+
						"answered %s after %v, want its CALLRESULT once the batch was written, %v after it came: the "+
						"push waited for CS0001 to take its answer first. A push must hand its answers on, as a "+
						"worker does", describe(a), at, batchInterval)
				}
			case <-time.After(batchInterval + writeTimeout + time.Second):
				t.Fatalf("the neighbour's MeterValues, in a batch with one from CS0001 (which stopped reading), was "+
					"not answered %v after it came, want it answered once the batch was written, %v after it came",
					batchInterval+writeTimeout+time.Second, batchInterval)
			}
		})
	})

	t.Run("a Call to a station that stopped reading returns", func(t *testing.T) {
		runEdge(t, cfg, func(t *testing.T, e *edge) {
			slow := e.raw(t, "CS0001")
			slow.boot(t) // it reads the answer to its boot, and nothing more
			kit.Settle(t)
			start := time.Now()
			done := e.call(slow.id)
			if err := heartbeat(t, e.neighbour); err != nil {
				t.Errorf("the neighbour's Heartbeat while a Call to CS0001 waited: %v, want it answered", err)
			}
			select {
			case err := <-done:
				if at := time.Since(start); err == nil || at > writeTimeout {
					t.Errorf("srv.Call to CS0001, which stopped reading, returned %v after %v, "+
						"want an error within WriteTimeout (%v)", err, at, writeTimeout)
				}
			case <-time.After(time.Minute):
				t.Fatalf("srv.Call to CS0001, which stopped reading, had not returned a minute later, want an error "+
					"within WriteTimeout (%v): the call's write waits for a station that does not read, and its caller "+
					"with it. A write to a station must give up after WriteTimeout (conn.SetWriteTimeout)", writeTimeout)
			}
			if closed, what := slow.closed(); !closed {
				t.Errorf("CS0001, which stopped reading, was still connected after the server's write to it gave up (%s), "+
					"want its connection closed", what)
			}
		})
	})

	t.Run("a ping to a station that stopped reading does not wedge its writes", func(t *testing.T) {
		runEdge(t, cfg, func(t *testing.T, e *edge) {
			slow := e.raw(t, "CS0001")
			slow.boot(t)
			// The server pings it after PingInterval; the ping waits for
			// the station to read it.
			time.Sleep(pingInterval + time.Second)
			start := time.Now()
			done := e.call(slow.id)
			select {
			case err := <-done:
				if at := time.Since(start); err == nil || at > writeTimeout {
					t.Errorf("srv.Call to CS0001, which stopped reading and had a ping waiting, returned %v after %v, "+
						"want an error within WriteTimeout (%v)", err, at, writeTimeout)
				}
			case <-time.After(time.Minute):
				t.Fatalf("srv.Call to CS0001, which stopped reading, had not returned a minute later, want an error "+
					"within WriteTimeout (%v): a ping or a call that waits for ever for a station to read holds "+
					"the connection's writes with it. Every write, pings included, must give up after WriteTimeout "+
					"(conn.SetWriteTimeout)", writeTimeout)
			}
		})
	})
}

func TestBasicAuth(t *testing.T) {
	keys := map[string]string{
		"CS0001":    "key-of-cs0001",
		"CS0002":    "key-of-cs0002",
		"CS:01":     "key-of-cs-01", // an identity may contain ':' (a key may not)
		"NEIGHBOUR": "key-of-the-neighbour",
		"FRESH":     "key-of-the-fresh-one",
	}
	tests := []struct {
		name, id      string
		authorization string // "" sends none
		want          int
	}{
		{"the right key", "CS0001", basicAuth("CS0001", keys["CS0001"]), http.StatusSwitchingProtocols},
		{"an identity with a colon, and its key", "CS:01", basicAuth("CS:01", keys["CS:01"]), http.StatusSwitchingProtocols},
		// RFC 7235 §2.1: the scheme is case-insensitive; chargers spell it as they like.
		{"the scheme in lower case", "CS0001", "basic" + strings.TrimPrefix(basicAuth("CS0001", keys["CS0001"]), "Basic"), http.StatusSwitchingProtocols},
		{"the scheme in capitals", "CS0001", "BASIC" + strings.TrimPrefix(basicAuth("CS0001", keys["CS0001"]), "Basic"), http.StatusSwitchingProtocols},
		{"a wrong key", "CS0001", basicAuth("CS0001", "guessed"), http.StatusUnauthorized},
		{"no Authorization header", "CS0001", "", http.StatusUnauthorized},
		{"another station's key", "CS0001", basicAuth("CS0001", keys["CS0002"]), http.StatusUnauthorized},
		{"another station's credentials", "CS0001", basicAuth("CS0002", keys["CS0002"]), http.StatusUnauthorized},
		// The user name is the identity in the URL, byte for byte: RFC 7617's user-id is case-sensitive.
		{"the identity in another case, with the station's key", "CS0001", basicAuth("cs0001", keys["CS0001"]), http.StatusUnauthorized},
		{"the key with more after it", "CS0001", basicAuth("CS0001", keys["CS0001"]+"x"), http.StatusUnauthorized},
		{"the key cut short", "CS0001", basicAuth("CS0001", keys["CS0001"][:5]), http.StatusUnauthorized},
		{"malformed base64", "CS0001", "Basic Q1MwMDAxOmtleS1vZi1jczAwMDE*", http.StatusUnauthorized},
		{"another scheme", "CS0001", "Bearer " + keys["CS0001"], http.StatusUnauthorized},
		{"an unknown station", "CS0099", basicAuth("CS0099", "anything"), http.StatusUnauthorized},
		{"an unknown station with an empty key", "CS0099", basicAuth("CS0099", ""), http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runEdge(t, timed(hardening.Config{AuthKeys: keys}), func(t *testing.T, e *edge) {
				// The station itself is connected when someone else
				// tries its id: a refusal must leave it alone.
				var real *station.Station
				if _, known := keys[tt.id]; known && tt.want == http.StatusUnauthorized {
					real = e.boot(t, tt.id)
				}
				var header http.Header
				if tt.authorization != "" {
					header = http.Header{"Authorization": {tt.authorization}}
				}
				c, resp, err := e.dial(t, tt.id, header, wsconn.Subprotocol)
				got := 0
				if resp != nil {
					got = resp.StatusCode
				}
				if tt.want == http.StatusSwitchingProtocols {
					if err != nil {
						why := "its credentials are its id, a ':' and its key, and they are right"
						if !strings.HasPrefix(tt.authorization, "Basic ") {
							why = "the scheme is Basic, spelt " + strconv.Quote(strings.Fields(tt.authorization)[0]) +
								": RFC 7235 §2.1 makes an auth scheme case-insensitive, and a charger that spells it so " +
								"would be refused for ever. Compare the scheme with strings.EqualFold, not as the prefix \"Basic \""
						}
						t.Fatalf("%s connecting with Authorization %q: HTTP %d (%v), want 101 Switching Protocols: %s",
							tt.id, tt.authorization, got, err, why)
					}
					c.boot(t)
					return
				}
				if err == nil {
					why := "with AuthKeys set, only a station with its own id and its own key may connect, " +
						"or anyone who knows an id can take that station's place"
					if user := credentialsUser(tt.authorization); user != tt.id && strings.EqualFold(user, tt.id) {
						why = fmt.Sprintf("the user name was %q and the station in the URL %q: the user name must be "+
							"the identity byte for byte (RFC 7617's user-id is case-sensitive, and so are the keys of AuthKeys); "+
							"a credential that matches in another case is another station's", user, tt.id)
					}
					t.Fatalf("%s connecting with Authorization %q: HTTP 101, the WebSocket was opened, want 401 Unauthorized "+
						"before the upgrade: %s", tt.id, tt.authorization, why)
				}
				if got != http.StatusUnauthorized {
					t.Fatalf("%s connecting with Authorization %q: HTTP %d (%v), want 401 Unauthorized", tt.id, tt.authorization, got, err)
				}
				if h := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Basic") {
					t.Errorf("the 401 had WWW-Authenticate %q, want a Basic challenge (`Basic realm=\"…\"`): "+
						"RFC 7235 requires it, and it tells the station which scheme to use", h)
				}
				if real != nil {
					e.untouched(t, real, "a refused attempt to connect as "+tt.id,
						"A refused handshake must leave nothing behind: if accept answers 401 and still lets the "+
							"upgrade go on (returns true), the refused connection takes the station's place, and anyone "+
							"without a key can knock any station off.")
					return
				}
				// An unknown station is refused as a known one with a wrong key
				// is, to the byte: any difference tells which stations exist.
				_, wrong, _ := e.dial(t, "CS0001", http.Header{"Authorization": {basicAuth("CS0001", "guessed")}}, wsconn.Subprotocol)
				if diff := refusalDiff(resp, wrong); diff != "" {
					t.Errorf("%s, a station without a key, was refused otherwise than CS0001 with a wrong key: %s.\n"+
						"Every refusal must look the same: one that differs for ids that have no key tells anyone "+
						"who tries which stations exist, and so which ids are worth attacking", tt.id, diff)
				}
				ctx, cancel := context.WithCancel(t.Context())
				cancel()
				if err := e.srv.Call(ctx, tt.id, ocpp.ActionReset, ocpp.ResetRequest{Type: ocpp.ResetSoft}, nil); !errors.Is(err, hardening.ErrNotConnected) {
					t.Errorf("after its 401, srv.Call(%s) returned %v, want hardening.ErrNotConnected: nothing was upgraded, "+
						"so the server has no connection of it", tt.id, err)
				}
			})
		})
	}
	t.Run("AuthKeys set and empty: nobody gets in", func(t *testing.T) {
		// A keys file with no keys in it gives an empty map, not nil: the
		// operator turned authentication on and let nobody in yet. No
		// neighbour here: there is no key to connect it with.
		synctest.Test(t, func(t *testing.T) {
			srv := hardening.New(timed(hardening.Config{Backend: backend.New(backend.Options{}), Workers: 2, AuthKeys: map[string]string{}}))
			e := &edge{srv: srv, l: kit.Serve(t, srv), keys: map[string]string{}}
			for _, authorization := range []string{"", basicAuth("CS0001", ""), basicAuth("CS0001", "anything")} {
				var header http.Header
				if authorization != "" {
					header = http.Header{"Authorization": {authorization}}
				}
				_, resp, err := e.dial(t, "CS0001", header, wsconn.Subprotocol)
				if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
					got := "101, the WebSocket was opened"
					if err != nil {
						got = fmt.Sprint(err)
						if resp != nil {
							got = fmt.Sprintf("%d (%v)", resp.StatusCode, err)
						}
					}
					t.Fatalf("with AuthKeys set to an empty map, CS0001 connecting with Authorization %q: HTTP %s, "+
						"want 401 Unauthorized: AuthKeys not nil means authentication is on, and no station has a key yet. "+
						"Letting everyone in when there are no keys (len(AuthKeys) == 0) fails open: an operator whose keys "+
						"file is empty, or not yet filled, has a server anyone can connect to as anyone", authorization, got)
				}
			}
		})
	})
	t.Run("no AuthKeys, no authentication", func(t *testing.T) {
		runEdge(t, timed(hardening.Config{}), func(t *testing.T, e *edge) {
			c, resp, err := e.dial(t, "CS0001", nil, wsconn.Subprotocol)
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
