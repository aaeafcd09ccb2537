package cluster_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	cluster "github.com/ocppkata/kata/exercises/10-cluster"
	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/kit"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/stations/station"
)

func TestCallReachesAnyNode(t *testing.T) {
	t.Run("from every node to every station", func(t *testing.T) {
		runCluster(t, 3, func(t *testing.T, w *world) {
			// Two stations on each node.
			stations := make([]*station.Station, 6)
			for i := range stations {
				stations[i] = w.nodes[i%3].boot(t, station.StationID(i+1), nil)
			}
			for _, n := range w.nodes {
				for i, st := range stations {
					holder := w.nodes[i%3]
					n.mustReach(t, st.ID(), st, fmt.Sprintf("%s, connected to %s", st.ID(), holder.name))
				}
			}
		})
	})

	t.Run("the station's CALLERROR comes back", func(t *testing.T) {
		runCluster(t, 2, func(t *testing.T, w *world) {
			refuse := func(c *ocpp.Call) station.Reply {
				return station.Reply{Payload: ocpp.NewCallError(c.ID, ocpp.NotSupported, "no reset today")}
			}
			w.nodes[0].boot(t, "CS0001", refuse)
			r, ok := kit.Await(t, w.nodes[1].call("CS0001"))
			var ce *ocpp.CallError
			switch {
			case !ok:
				t.Fatal("srv.Call(CS0001, Reset) on node-b had not returned a minute later, want the station's CALLERROR at once")
			case !errors.As(r.err, &ce) || ce.Code != ocpp.NotSupported || ce.Description != "no reset today":
				t.Fatalf("srv.Call(CS0001, Reset) on node-b, to a station on node-a that answers with a CALLERROR "+
					"(NotSupported, \"no reset today\"): %v; want a *ocpp.CallError with that code and description, "+
					"as if the station were connected here: the caller cannot tell a routed call from a local one", r.err)
			}
		})
	})

	t.Run("a station no node holds fails at once", func(t *testing.T) {
		runCluster(t, 3, func(t *testing.T, w *world) {
			st := w.nodes[0].boot(t, "CS0001", nil)
			w.nodes[1].mustReach(t, "CS0001", st, "CS0001, connected to node-a")
			st.Close()
			kit.Settle(t)
			for _, id := range []string{"CS0001", "NOBODY"} {
				start := time.Now()
				r, ok := kit.Await(t, w.nodes[1].call(id))
				switch {
				case !ok:
					t.Fatalf("srv.Call(%s, Reset) on node-b, a station no node holds, had not returned a minute later; "+
						"want ErrNotConnected at once", id)
				case !errors.Is(r.err, cluster.ErrNotConnected):
					t.Fatalf("srv.Call(%s, Reset) on node-b, a station no node holds: %v; want ErrNotConnected", id, r.err)
				case r.at.Sub(start) > 0:
					t.Fatalf("srv.Call(%s, Reset) on node-b, a station no node holds, returned ErrNotConnected after %v, "+
						"want it at once: the broker says at once that nobody listens on the station's subject "+
						"(a request with no subscriber gets \"no responders\", nats.ErrNoResponders); waiting for a "+
						"reply that cannot come makes every call to an offline station cost its whole timeout", id, r.at.Sub(start))
				}
			}
		})
	})
}

func TestOneCallInFlightAcrossNodes(t *testing.T) {
	runCluster(t, 3, func(t *testing.T, w *world) {
		// The station takes 10s to answer each call: long enough for the
		// calls of three nodes to meet.
		const delay = 10 * time.Second
		st := w.nodes[0].boot(t, "CS0001", slowly(delay))
		var results []<-chan result
		for _, n := range w.nodes {
			results = append(results, n.call("CS0001"))
		}
		for i, ch := range results {
			r, ok := kit.Await(t, ch)
			switch {
			case !ok:
				t.Fatalf("srv.Call(CS0001, Reset) on %s had not returned a minute after its turn could have come, "+
					"want it answered: three calls to one station take 3 × %v", w.nodes[i].name, delay)
			case r.err != nil:
				t.Fatalf("srv.Call(CS0001, Reset) on %s, made at the same moment as the other nodes' calls: %v; "+
					"want it answered in its turn", w.nodes[i].name, r.err)
			}
		}
		calls := st.ServerCalls()
		if len(calls) != 3 {
			t.Fatalf("CS0001 got %d calls from the server, want 3, one from each node's srv.Call", len(calls))
		}
		for i := 1; i < len(calls); i++ {
			if calls[i].Received.Before(calls[i-1].Answered) {
				t.Fatalf("CS0001 got call %s at %v while it was still answering call %s (answered at %v): two of the "+
					"server's calls were in flight at once. OCPP-J allows one at a time per station, whichever node "+
					"makes it: route every call to the node that holds the station, and let it take the station's "+
					"turn there, as for its own calls",
					calls[i].ID, calls[i].Received.Sub(calls[0].Received), calls[i-1].ID, calls[i-1].Answered.Sub(calls[0].Received))
			}
		}
	})
}

func TestNewerConnectionWinsAcrossNodes(t *testing.T) {
	const id = "CS0001"
	// takeOver connects id to n while older is its connection elsewhere:
	// the older must be closed with 1008 and every node's calls must reach
	// the newer, and only the newer.
	takeOver := func(t *testing.T, w *world, n *node, older *station.Station, where string) *station.Station {
		t.Helper()
		newer := n.boot(t, id, nil)
		if _, ok := kit.Await(t, older.Done()); !ok {
			t.Fatalf("the older connection of %s, on %s, was still open a minute after a newer one connected to %s; "+
				"want it closed with 1008 at once: the newer connection wins across nodes as it does within one. "+
				"The node that holds the station must hear of the newer connection (through the broker) and close its own",
				id, where, n.name)
		}
		if ok, why := closedWith(older, websocket.ClosePolicyViolation); !ok {
			t.Errorf("the older connection of %s, on %s, once a newer one connected to %s: %s; want a close with "+
				"1008 (policy violation) and a reason", id, where, n.name, why)
		}
		before := len(older.ServerCalls())
		for _, from := range w.nodes {
			from.mustReach(t, id, newer, fmt.Sprintf("the newer connection of %s, on %s", id, n.name))
		}
		if got := len(older.ServerCalls()); got != before {
			t.Fatalf("the older connection of %s got %d of the calls made after a newer one connected to %s; want "+
				"none: a call delivered to both connections is made twice", id, got-before, n.name)
		}
		return newer
	}

	t.Run("on another node", func(t *testing.T) {
		runCluster(t, 3, func(t *testing.T, w *world) {
			older := w.nodes[0].boot(t, id, nil)
			newer := takeOver(t, w, w.nodes[1], older, "node-a")
			// And back: the station takes over from itself again.
			takeOver(t, w, w.nodes[0], newer, "node-b")
		})
	})

	t.Run("on the same node as the last", func(t *testing.T) {
		runCluster(t, 3, func(t *testing.T, w *world) {
			first := w.nodes[0].boot(t, id, nil)
			second := takeOver(t, w, w.nodes[1], first, "node-a")
			// The second's cleanup runs a moment after the third took its
			// place on the same node: it must let go of its own
			// subscription, and not the third's.
			takeOver(t, w, w.nodes[1], second, "node-b")
		})
	})

	t.Run("on the same node, with the older's cleanup late", func(t *testing.T) {
		// One status notification of a station in processing, one in its
		// queue: the reader waits for room with the third.
		runClusterWith(t, 3, cluster.Config{QueueLimit: 1}, func(t *testing.T, w *world) {
			busy := w.backend.Hold(func(work backend.Work) bool { return work.Kind == backend.KindProcess })
			older := w.nodes[1].boot(t, id, nil)
			for range 3 {
				if _, err := older.Send(t.Context(), ocpp.ActionStatusNotification, statusAvailable); err != nil {
					t.Fatalf("%s's StatusNotification: %v", id, err)
				}
			}
			kit.Settle(t, busy)
			// The newer connection takes over on the same node while the
			// older's reader still waits: its cleanup runs once the
			// processing goes on, after the newer has subscribed.
			newer := takeOver(t, w, w.nodes[1], older, "node-b")
			busy.Open()
			kit.Settle(t)
			for _, from := range w.nodes {
				from.mustReachOr(t, id, newer, "the newer connection of "+id+", on node-b, after the older's cleanup",
					"the older connection's cleanup, which ran after the newer had subscribed on the same node, let go "+
						"of the newer's subscription. Cleanup belongs to the connection, as in step 09: leave lets go "+
						"of l's own subscription, never of every subscription of the station's id")
			}
		})
	})

	t.Run("a call in flight on the older connection", func(t *testing.T) {
		runCluster(t, 3, func(t *testing.T, w *world) {
			older := w.nodes[0].boot(t, id, drop)
			waiting := w.nodes[2].call(id)
			kit.Settle(t)
			newer := w.nodes[1].boot(t, id, nil)
			r, ok := kit.Await(t, waiting)
			switch {
			case !ok:
				t.Fatalf("srv.Call(%s, Reset) on node-c, in flight on the older connection on node-a when a newer one "+
					"connected to node-b, had not returned a minute later; want ErrDisconnected once the older was closed", id)
			case !errors.Is(r.err, cluster.ErrDisconnected):
				t.Fatalf("srv.Call(%s, Reset) on node-c, in flight on the older connection on node-a when a newer one "+
					"connected to node-b: %v; want ErrDisconnected: the older connection was closed before it answered", id, r.err)
			}
			if n := len(newer.ServerCalls()); n != 0 {
				t.Fatalf("the newer connection of %s got %d calls although none was made since it connected; want none: "+
					"the call in flight on the older one was delivered twice", id, n)
			}
			if n := len(older.ServerCalls()); n != 1 {
				t.Fatalf("the older connection of %s got %d calls, want the 1 made to it", id, n)
			}
			w.nodes[2].mustReach(t, id, newer, "the newer connection, on node-b")
		})
	})
}

// statusAvailable is a connector's StatusNotification: answered at once,
// and processed in the background.
var statusAvailable = ocpp.StatusNotificationRequest{ConnectorId: 1, ErrorCode: ocpp.ChargePointNoError, Status: ocpp.StatusAvailable}

func TestNodeDeathFailsItsCalls(t *testing.T) {
	runCluster(t, 3, func(t *testing.T, w *world) {
		a, b, c := w.nodes[0], w.nodes[1], w.nodes[2]
		// The station never answers: b's call waits on a.
		st := a.boot(t, "CS0001", drop)
		waiting := b.call("CS0001")
		kit.Settle(t)
		if n := len(st.ServerCalls()); n != 1 {
			t.Fatalf("CS0001, on node-a, got %d calls after srv.Call(CS0001) on node-b; want 1: the call must reach it", n)
		}
		// node-a dies: its process is killed, its broker connection cut.
		// Its stations lose their connections too, and reconnect elsewhere.
		a.nc.Close()
		killed := time.Now()
		r, ok := kit.Await(t, waiting)
		switch {
		case !ok:
			t.Fatalf("srv.Call(CS0001, Reset) on node-b, waiting on node-a when node-a died, had not returned a minute later "+
				"(CallTimeout is %v); want ErrDisconnected within two KeepAlives (%v): a call waits on a node that cannot "+
				"answer any more", callTimeout, 2*keepAlive)
		case !errors.Is(r.err, cluster.ErrDisconnected):
			t.Fatalf("srv.Call(CS0001, Reset) on node-b, waiting on node-a when node-a died: %v; want ErrDisconnected", r.err)
		case r.at.Sub(killed) > 2*keepAlive:
			t.Fatalf("srv.Call(CS0001, Reset) on node-b, waiting on node-a when node-a died, failed %v after, want it within "+
				"two KeepAlives (%v): the node at work on a routed call says so every KeepAlive, and its silence is its death. "+
				"Waiting for the call's deadline makes every caller of every station of a dead node wait it out", r.at.Sub(killed), 2*keepAlive)
		}
		st.Close()
		kit.Settle(t)
		moved := c.boot(t, "CS0001", nil)
		b.mustReach(t, "CS0001", moved, "CS0001, reconnected to node-c")
		a.mustReachNobody(t, "CS0001")
	})
}

// mustReachNobody checks that a call from n, whose broker connection is
// gone, fails rather than waits.
func (n *node) mustReachNobody(t *testing.T, id string) {
	t.Helper()
	r, ok := kit.Await(t, n.call(id))
	switch {
	case !ok:
		t.Fatalf("srv.Call(%s, Reset) on %s, cut off from the broker, had not returned a minute later; want it to fail", id, n.name)
	case r.err == nil:
		t.Fatalf("srv.Call(%s, Reset) on %s, cut off from the broker, was answered: by whom?", id, n.name)
	}
}

func TestNothingLeftBehind(t *testing.T) {
	runCluster(t, 3, func(t *testing.T, w *world) {
		kit.Settle(t)
		baseline := w.broker.Subscriptions(t)
		var all []*station.Station
		for i := range 6 {
			all = append(all, w.nodes[i%3].boot(t, station.StationID(i+1), nil))
		}
		for i, st := range all {
			w.nodes[(i+1)%3].mustReach(t, st.ID(), st, st.ID())
		}
		// One station connects again elsewhere, one more time on the
		// same node, then they all leave.
		again := w.nodes[2].boot(t, all[0].ID(), nil)
		again = w.nodes[2].boot(t, again.ID(), nil)
		for _, st := range append(all, again) {
			st.Close()
		}
		kit.Settle(t)
		if left := w.stationSubscriptions(t, baseline); len(left) != 0 {
			t.Fatalf("every station has left, and the broker still holds the subscriptions %s; want none: a station "+
				"that leaves takes its subscription with it, or every node answers for stations it no longer has, "+
				"and the broker's interest grows with every reconnect", list(left))
		}
		for _, n := range w.nodes {
			n.boot(t, "CS0099-"+n.name, nil)
		}
		for _, n := range w.nodes {
			kit.CheckClose(t, n.srv.Close())
		}
		kit.Settle(t)
		if left := w.stationSubscriptions(t, baseline); len(left) != 0 {
			t.Fatalf("every node is closed, and the broker still holds the subscriptions %s; want none: Close "+
				"lets go of every subscription the node made", list(left))
		}
	})
}
