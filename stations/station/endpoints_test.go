package station_test

import (
	"maps"
	"slices"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/stations/station"
)

// Two central systems, a.test and b.test, on an in-memory network.
const (
	addrA, urlA = "a.test:80", "ws://a.test/ocpp"
	addrB, urlB = "b.test:80", "ws://b.test/ocpp"
	addrC, urlC = "c.test:80", "ws://c.test/ocpp"
)

// A fleet shares its stations out over its endpoints one by one: the
// first on the first, the second on the second, the third on the first
// again, and so on, in every mode.
func TestFleetSpreadsOverEndpoints(t *testing.T) {
	defer goleak.VerifyNone(t)
	for _, fo := range []station.FleetOptions{
		{Stations: 5, Mode: station.LockStep},
		{Stations: 5, Mode: station.Idle, Hold: time.Minute},
		{Stations: 5, Mode: station.Idle, Hold: time.Minute, Chargers: true, Reconnect: true},
	} {
		name := string(fo.Mode)
		if fo.Chargers {
			name += " chargers"
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := newNetwork()
				a, b := n.server(t, addrA, fakeConfig{}), n.server(t, addrB, fakeConfig{})
				fo.Options = station.Options{Dial: n.DialContext}
				fo.Endpoints = []string{urlA, urlB}
				r, err := station.RunFleet(t.Context(), fo)
				require.NoError(t, err)
				require.Empty(t, r.Failures(), r.Summary())

				for i, want := range []*fakeCS{a, b, a, b, a} {
					id := station.StationID(i + 1)
					other := map[*fakeCS]*fakeCS{a: b, b: a}[want]
					require.NotNil(t, want.conn(id), "%s on its endpoint", id)
					require.Nil(t, other.conn(id), "%s on the other endpoint", id)
					require.Equal(t, map[*fakeCS]string{a: urlA, b: urlB}[want], r.Stations[i].Endpoint)
				}
				require.Equal(t, []station.EndpointReport{{URL: urlA, Started: 3, Ended: 3}, {URL: urlB, Started: 2, Ended: 2}}, r.Endpoints)
				require.Contains(t, r.Summary(), "stations on each endpoint, at the start → at the end: ws://a.test/ocpp 3 → 3, ws://b.test/ocpp 2 → 2\n")
			})
		})
	}
}

// A server that dies without a word (kill -9: no close frame, nobody
// listening any more): its chargers connect to the next endpoint, each
// after its own short wait, boot there, and go on with their
// transactions. The call lost with the connection is counted apart.
func TestFleetMovesOffADeadServer(t *testing.T) {
	defer goleak.VerifyNone(t)
	synctest.Test(t, func(t *testing.T) {
		n := newNetwork()
		a := n.server(t, addrA, fakeConfig{})
		// b never answers MeterValues: a call is under way when it dies.
		b := n.server(t, addrB, fakeConfig{silent: func(c *ocpp.Call) bool { return c.Action == ocpp.ActionMeterValues }})
		var progress []station.Progress
		reports := make(chan *station.Report, 1) // the fleet ends with the test, even if it fails
		go func() {
			r, err := station.RunFleet(t.Context(), station.FleetOptions{
				Options: station.Options{Dial: n.DialContext}, Endpoints: []string{urlA, urlB},
				Stations: 6, Mode: station.Idle, Hold: 2 * time.Minute, Chargers: true, Reconnect: true,
				Progress: func(p station.Progress) { progress = append(progress, p) }, ProgressEvery: 500 * time.Millisecond,
			})
			require.NoError(t, err)
			reports <- r
		}()
		for range 3 {
			<-a.arrived
			<-b.arrived
		}
		synctest.Wait()
		cs2 := b.conn("CS0002")
		cs2.call(t, "srv1", ocpp.ActionRemoteStartTransaction, remoteStart("OPERATOR1"))
		require.Equal(t, &ocpp.CallResult{ID: "srv1", Payload: []byte(accepted)}, <-cs2.answers)
		time.Sleep(station.DefaultMeterValueSampleInterval + time.Second) // its first sample waits for an answer
		synctest.Wait()

		killed := time.Now()
		n.kill(addrB, b)
		moved := map[string]time.Duration{}
		for range 3 {
			c := <-a.arrived
			moved[c.id] = time.Since(killed)
		}
		synctest.Wait()
		require.ElementsMatch(t, []string{"CS0002", "CS0004", "CS0006"}, slices.Collect(maps.Keys(moved)))
		took := slices.Sorted(maps.Values(moved))
		for _, d := range took {
			require.True(t, d >= station.ReconnectWait/2 && d < station.ReconnectWait, "a move took %v", d)
		}
		require.NotEqual(t, took[0], took[2], "the stations waited each its own time")
		require.Equal(t, []string{ocpp.ActionBootNotification, ocpp.ActionStatusNotification}, actions(a.conn("CS0002").Calls()))
		require.Equal(t, ocpp.StatusCharging, decode[ocpp.StatusNotificationRequest](t, a.conn("CS0002").Calls()[1]).Status, "the transaction goes on")

		r := <-reports
		require.Empty(t, r.Failures(), r.Summary())
		require.Zero(t, r.Failed, r.Summary())
		require.Equal(t, 1, r.Dropped, "CS0002's MeterValues, under way when b died")
		require.Equal(t, 3, r.Reconnects)
		require.Equal(t, 3, r.Moved)
		require.Zero(t, r.Reconnecting)
		require.Equal(t, took[2], r.BackMax)
		require.Equal(t, []station.EndpointReport{{URL: urlA, Started: 3, Ended: 6}, {URL: urlB, Started: 3, Ended: 0}}, r.Endpoints)
		for _, st := range r.Stations {
			if d, ok := moved[st.ID]; ok {
				require.Equal(t, []station.Reconnect{{From: urlB, To: urlA, Took: d}}, st.Reconnects)
			} else {
				require.Empty(t, st.Reconnects)
			}
		}
		sum := r.Summary()
		require.Contains(t, sum, ", 1 unanswered when their connection dropped (the stations reconnected)\n")
		require.Contains(t, sum, "ws://a.test/ocpp 3 → 6, ws://b.test/ocpp 3 → 0\n")
		require.Contains(t, sum, "reconnects: 3, 3 stations moved to another endpoint; from the drop to booted again: p50 ")

		// While they moved, the progress said how many were on their way,
		// and then where they were.
		require.True(t, slices.ContainsFunc(progress, func(p station.Progress) bool {
			return p.Reconnecting == 3 && slices.Equal(p.OnEndpoint, []int{3, 0})
		}), "%+v", progress)
		require.True(t, slices.ContainsFunc(progress, func(p station.Progress) bool {
			return p.Reconnecting == 0 && p.Reconnects == 3 && p.Moved == 3 && slices.Equal(p.OnEndpoint, []int{6, 0})
		}), "%+v", progress)
		require.Equal(t, []int{6, 0}, progress[len(progress)-1].OnEndpoint, "the last progress says where the stations ended")
		last := progress[len(progress)-1]
		require.Equal(t, [2]int{0, 1}, [2]int{last.Failed, last.Dropped}, "the progress counts the call cut off apart from the failed ones, as the report does")
	})
}

// A charger skips an endpoint that refuses it: at the start at once, and
// after a drop after its wait, on to the next one.
func TestChargerSkipsRefusedEndpoint(t *testing.T) {
	defer goleak.VerifyNone(t)
	t.Run("at the start", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			n := newNetwork()
			a := n.server(t, addrA, fakeConfig{}) // nobody on b
			fo := station.FleetOptions{Options: station.Options{Dial: n.DialContext}, Endpoints: []string{urlA, urlB},
				Stations: 2, Mode: station.Idle, Hold: time.Minute, Chargers: true, Reconnect: true}
			r, err := station.RunFleet(t.Context(), fo)
			require.NoError(t, err)
			require.Empty(t, r.Failures(), r.Summary())
			require.NotNil(t, a.conn("CS0002"))
			require.Equal(t, time.Minute, r.Wall, "CS0002 went on to a at once")
			require.Equal(t, []station.EndpointReport{{URL: urlA, Started: 1, Ended: 2}, {URL: urlB, Started: 1, Ended: 0}}, r.Endpoints)
			require.Zero(t, r.Reconnects)

			// Without Reconnect, it stays with its own endpoint, and fails.
			fo.Reconnect = false
			r, err = station.RunFleet(t.Context(), fo)
			require.NoError(t, err)
			require.Equal(t, 1, r.Connected)
			require.ErrorIs(t, r.Stations[1].Err, syscall.ECONNREFUSED)

			// With Reconnect and nobody anywhere, it says so.
			fo.Reconnect, fo.Endpoints = true, []string{urlB, urlC}
			r, err = station.RunFleet(t.Context(), fo)
			require.NoError(t, err)
			require.Zero(t, r.Connected)
			require.ErrorIs(t, r.Stations[0].Err, syscall.ECONNREFUSED)
			require.ErrorContains(t, r.Stations[0].Err, "station CS0001: connect ws://b.test/ocpp/CS0001: ")
			require.ErrorContains(t, r.Stations[0].Err, "; its other endpoint failed too")
		})
	})
	t.Run("after a drop", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			n := newNetwork()
			a := n.server(t, addrA, fakeConfig{})
			c := n.server(t, addrC, fakeConfig{}) // nobody on b
			ch, err := station.StartCharger(t.Context(), "CS0001", station.ChargerOptions{
				Options: station.Options{Dial: n.DialContext}, Endpoints: []string{urlA, urlB, urlC}, Reconnect: true})
			require.NoError(t, err)
			defer ch.Close()
			<-a.arrived
			synctest.Wait()

			killed := time.Now()
			n.kill(addrA, a)
			<-c.arrived
			synctest.Wait()
			require.Equal(t, urlC, ch.Endpoint())
			require.Equal(t, []string{ocpp.ActionBootNotification, ocpp.ActionStatusNotification}, actions(c.conn("CS0001").Calls()))

			dials := n.dialed()
			require.Equal(t, []string{addrA, addrB, addrC}, dialAddrs(dials))
			toB, toC := dials[1].at.Sub(killed), dials[2].at.Sub(dials[1].at)
			require.True(t, toB >= station.ReconnectWait/2 && toB < station.ReconnectWait, "b tried %v after a died", toB)
			require.True(t, toC >= station.ReconnectWait && toC < 2*station.ReconnectWait, "c tried %v after b refused", toC)
			require.Equal(t, []station.Reconnect{{From: urlA, To: urlC, Took: dials[2].at.Sub(killed)}}, ch.Reconnects())
		})
	})
}

func dialAddrs(dials []dial) []string {
	out := make([]string, len(dials))
	for i, d := range dials {
		out[i] = d.addr
	}
	return out
}
