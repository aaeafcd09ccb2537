package roster_test

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ocppkata/kata/harness/natstest"
	"github.com/ocppkata/kata/harness/roster"
)

// stations is a node's connected stations, as a test sets them.
type stations struct {
	mu   sync.Mutex
	ids  []string
	gate chan struct{} // if not nil, Connected waits for it
}

func held(ids ...string) *stations { return &stations{ids: ids} }

func (s *stations) Connected() []string {
	if s.gate != nil {
		<-s.gate
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(slices.Values(s.ids))
}

func (s *stations) IsConnected(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Contains(s.ids, id)
}

// start starts the Roster of node, and closes it when the test ends.
func start(t testing.TB, node string, st roster.Stations, nc *nats.Conn) *roster.Roster {
	t.Helper()
	r, err := roster.New(roster.Options{Node: node, Stations: st, NATS: nc})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// timed returns what f returned and how long it took, in the bubble's
// fake time.
func timed[T any](f func() T) (T, time.Duration) {
	begin := time.Now()
	v := f()
	return v, time.Since(begin)
}

// Three nodes: any of them lists the stations of all three, each with the
// node that holds it, and finds the node of one station, at once (fake
// time: no wait, every node answered).
func TestEveryNodeSeesTheCluster(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := natstest.Start(t)
		a := start(t, "A", held("CS0001"), b.Connect(t, "A"))
		start(t, "B", held("CS0002", "CS0003"), b.Connect(t, "B"))
		start(t, "C", held(), b.Connect(t, "C"))
		synctest.Wait() // the hellos, and the heartbeats they call for

		want := map[string]string{"CS0001": "A", "CS0002": "B", "CS0003": "B"}
		got, took := timed(func() map[string]string { return a.Holders(t.Context()) })
		if !maps.Equal(got, want) || took != 0 {
			t.Errorf("A lists %v after %v, want %v at once", got, took, want)
		}
		for station, node := range map[string]string{"CS0001": "A", "CS0003": "B", "CS0099": ""} {
			got, took := timed(func() string { return a.Holder(t.Context(), station) })
			if got != node || took != 0 {
				t.Errorf("A: Holder(%s) = %q after %v, want %q at once", station, got, took, node)
			}
		}
	})
}

// A node cut off from the broker (its process killed) holds a listing up
// for Wait, once: it is not waited for again until it is heard from. A
// node that stops says so, and is not waited for at all.
func TestDeadNodeBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := natstest.Start(t)
		a := start(t, "A", held("CS0001"), b.Connect(t, "A"))
		cConn := b.Connect(t, "C")
		start(t, "C", held("CS0003"), cConn)
		d := start(t, "D", held("CS0004"), b.Connect(t, "D"))
		synctest.Wait()

		cConn.Close() // C dies
		want := map[string]string{"CS0001": "A", "CS0004": "D"}
		got, took := timed(func() map[string]string { return a.Holders(t.Context()) })
		if !maps.Equal(got, want) || took != roster.DefaultWait {
			t.Errorf("with C dead, A lists %v after %v, want %v after Wait (%v)", got, took, want, roster.DefaultWait)
		}
		got, took = timed(func() map[string]string { return a.Holders(t.Context()) })
		if !maps.Equal(got, want) || took != 0 {
			t.Errorf("C missed a listing; the next lists %v after %v, want %v at once", got, took, want)
		}

		d.Close() // D stops, and says so
		synctest.Wait()
		got, took = timed(func() map[string]string { return a.Holders(t.Context()) })
		if want := map[string]string{"CS0001": "A"}; !maps.Equal(got, want) || took != 0 {
			t.Errorf("after D's bye, A lists %v after %v, want %v at once", got, took, want)
		}
	})
}

// A node that joins late is known at once; one silent for three
// heartbeats is forgotten; one that missed a listing (too slow) is waited
// for again once it is heard from.
func TestMembership(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := natstest.Start(t)
		a := start(t, "A", held(), b.Connect(t, "A"))
		synctest.Wait()
		start(t, "E", held("CS0005"), b.Connect(t, "E")) // joins late
		synctest.Wait()
		if got := a.Holders(t.Context()); !maps.Equal(got, map[string]string{"CS0005": "E"}) {
			t.Errorf("A lists %v, want E's station: E said hello", got)
		}

		cConn := b.Connect(t, "C")
		start(t, "C", held("CS0003"), cConn)
		synctest.Wait()
		cConn.Close() // C dies, and no listing notices
		time.Sleep(roster.DefaultHeartbeat * 3)
		got, took := timed(func() map[string]string { return a.Holders(t.Context()) })
		if !maps.Equal(got, map[string]string{"CS0005": "E"}) || took != 0 {
			t.Errorf("three heartbeats after C died, A lists %v after %v, want E's station at once", got, took)
		}

		slow := held("CS0006")
		slow.gate = make(chan struct{})
		start(t, "F", slow, b.Connect(t, "F"))
		synctest.Wait()
		got, took = timed(func() map[string]string { return a.Holders(t.Context()) })
		if !maps.Equal(got, map[string]string{"CS0005": "E"}) || took != roster.DefaultWait {
			t.Errorf("with F too slow, A lists %v after %v, want E's station after Wait", got, took)
		}
		close(slow.gate)
		time.Sleep(roster.DefaultHeartbeat) // F's next heartbeat
		synctest.Wait()
		got, took = timed(func() map[string]string { return a.Holders(t.Context()) })
		if want := map[string]string{"CS0005": "E", "CS0006": "F"}; !maps.Equal(got, want) || took != 0 {
			t.Errorf("F heard from again: A lists %v after %v, want %v at once", got, took, want)
		}
	})
}

// A node of many stations answers in parts, and the listing has them all.
func TestManyStations(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := natstest.Start(t)
		a := start(t, "A", held(), b.Connect(t, "A"))
		var ids []string
		for i := range 20000 {
			ids = append(ids, fmt.Sprintf("A-LONG-STATION-IDENTITY-%06d", i)) // 30 bytes: 600 KB in all
		}
		start(t, "B", held(ids...), b.Connect(t, "B"))
		synctest.Wait()
		got := a.Holders(t.Context())
		if len(got) != len(ids) || got[ids[0]] != "B" || got[ids[len(ids)-1]] != "B" {
			t.Errorf("A lists %d stations, want B's %d", len(got), len(ids))
		}
	})
}

// Without NATS, a Roster is a cluster of one.
func TestClusterOfOne(t *testing.T) {
	r := start(t, "solo", held("CS0001"), nil)
	if got := r.Holders(t.Context()); !maps.Equal(got, map[string]string{"CS0001": "solo"}) {
		t.Errorf("Holders = %v", got)
	}
	if got := r.Holder(t.Context(), "CS0002"); got != "" {
		t.Errorf("Holder of a station nobody holds = %q", got)
	}
	if r.Node() != "solo" {
		t.Errorf("Node = %q", r.Node())
	}
}
