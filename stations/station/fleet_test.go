package station_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ocppkata/kata/harness/memnet"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/stations/station"
)

func TestFleetModes(t *testing.T) {
	defer goleak.VerifyNone(t)
	const latency = 100 * time.Millisecond
	tests := []struct {
		name     string
		opts     station.FleetOptions
		wantIDs  []string
		perCall  map[string]int // calls per station
		wantWall time.Duration
	}{
		{
			name:     "lockstep",
			opts:     station.FleetOptions{Stations: 3},
			wantIDs:  []string{"CS0001", "CS0002", "CS0003"},
			perCall:  map[string]int{"CS0001": 14, "CS0002": 14, "CS0003": 14},
			wantWall: 14 * latency,
		},
		{
			name:    "pipelined",
			opts:    station.FleetOptions{Stations: 2, Mode: station.Pipelined, Messages: 50, FirstID: 41},
			wantIDs: []string{"CS0041", "CS0042"},
			perCall: map[string]int{"CS0041": 51, "CS0042": 51},
			// The BootNotification, then all 50 MeterValues in flight at once.
			wantWall: 2 * latency,
		},
		{
			name:     "pipelined default messages",
			opts:     station.FleetOptions{Stations: 1, Mode: station.Pipelined},
			wantIDs:  []string{"CS0001"},
			perCall:  map[string]int{"CS0001": 101},
			wantWall: 2 * latency,
		},
		{
			name:     "flood",
			opts:     station.FleetOptions{Stations: 3, Mode: station.Flood, Messages: 300},
			wantIDs:  []string{"CS0001", "CS0002", "CS0003"},
			perCall:  map[string]int{"CS0001": 301, "CS0002": 14, "CS0003": 14},
			wantWall: 14 * latency,
		},
		{
			name:     "idle",
			opts:     station.FleetOptions{Stations: 2, Mode: station.Idle, Hold: 30 * time.Second},
			wantIDs:  []string{"CS0001", "CS0002"},
			perCall:  map[string]int{"CS0001": 1, "CS0002": 1},
			wantWall: latency + 30*time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inBubble(t, fakeConfig{latency: latency}, func(t *testing.T, fc *fakeCS, opts station.Options) {
				fo := tt.opts
				fo.Options = opts
				r, err := station.RunFleet(t.Context(), fo)
				require.NoError(t, err)

				total := 0
				for _, n := range tt.perCall {
					total += n
				}
				require.Equal(t, total, r.Calls)
				require.Equal(t, total, r.Answered)
				require.Zero(t, r.Failed)
				require.Equal(t, len(tt.wantIDs), r.Connected)
				require.Equal(t, tt.wantWall, r.Wall)
				require.Equal(t, latency, r.P50)
				require.Equal(t, latency, r.P99)
				require.Equal(t, latency, r.Max)

				require.Len(t, r.Stations, len(tt.wantIDs))
				for i, st := range r.Stations {
					require.Equal(t, tt.wantIDs[i], st.ID)
					require.NoError(t, st.Err)
					require.Len(t, st.Calls, tt.perCall[st.ID])
					// The server received the station's calls in the order
					// they were numbered.
					calls := fc.conn(st.ID).Calls()
					require.Equal(t, seq(1, tt.perCall[st.ID]), ids(calls), "station %s", st.ID)
					require.Equal(t, ocpp.ActionBootNotification, calls[0].Action)
				}
			})
		})
	}
}

// Idle stations answer the server's calls while they wait, slowly if told
// to, until the context ends.
func TestFleetIdleAnswersServerCalls(t *testing.T) {
	defer goleak.VerifyNone(t)
	inBubble(t, fakeConfig{}, func(t *testing.T, fc *fakeCS, opts station.Options) {
		const delay = 2 * time.Second
		opts.Answer = func(c *ocpp.Call) station.Reply {
			r := station.DefaultAnswer(c)
			r.Delay = delay
			return r
		}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		reports := make(chan *station.Report)
		go func() {
			r, err := station.RunFleet(ctx, station.FleetOptions{Options: opts, Stations: 3, Mode: station.Idle})
			require.NoError(t, err)
			reports <- r
		}()

		for range 3 {
			c := <-fc.arrived
			start := time.Now()
			c.call(t, "srv1", ocpp.ActionRemoteStartTransaction, ocpp.RemoteStartTransactionRequest{IdTag: "ABC"})
			got := <-c.answers
			require.Equal(t, delay, time.Since(start))
			require.Equal(t, &ocpp.CallResult{ID: "srv1", Payload: []byte(`{"status":"Accepted"}`)}, got)
		}
		time.Sleep(time.Hour) // idle with no Hold: until the context ends
		cancel()
		r := <-reports
		require.Equal(t, 3, r.Connected)
		require.Equal(t, 3, r.Answered)
		require.Empty(t, r.Failures())
		require.Equal(t, time.Hour+3*delay, r.Wall)
	})
}

func TestFleetProgress(t *testing.T) {
	defer goleak.VerifyNone(t)
	inBubble(t, fakeConfig{latency: 100 * time.Millisecond}, func(t *testing.T, fc *fakeCS, opts station.Options) {
		var got []station.Progress
		r, err := station.RunFleet(t.Context(), station.FleetOptions{
			Options:       opts,
			Stations:      2,
			Progress:      func(p station.Progress) { got = append(got, p) },
			ProgressEvery: 500 * time.Millisecond,
		})
		require.NoError(t, err)
		require.Equal(t, 1400*time.Millisecond, r.Wall)
		// Ticks at 0.5 s and 1 s, and the final count.
		require.Len(t, got, 3)
		require.Equal(t, 500*time.Millisecond, got[0].Elapsed)
		require.Equal(t, station.Progress{Stations: 2, Connected: 2, Done: 2, Planned: 28, Calls: 28, Answered: 28, Elapsed: r.Wall}, got[2])
		for i := 1; i < len(got); i++ {
			require.GreaterOrEqual(t, got[i].Answered, got[i-1].Answered)
		}
	})
}

func TestFleetFailures(t *testing.T) {
	defer goleak.VerifyNone(t)
	tests := []struct {
		name     string
		cfg      fakeConfig
		stations int
		perCalls int    // calls per station, the failed one included
		want     string // in every station's error
	}{
		{
			name: "authorize refused with a CALLERROR",
			cfg: fakeConfig{latency: time.Second, answer: func(c *ocpp.Call) any {
				if c.Action == ocpp.ActionAuthorize {
					return ocpp.NewCallError(c.ID, ocpp.InternalError, "badge reader on fire")
				}
				return (&fakeConn{}).coreAnswer(c)
			}},
			stations: 7,
			perCalls: 3,
			want:     "Authorize (id 3): ocpp: InternalError: badge reader on fire",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inBubble(t, tt.cfg, func(t *testing.T, fc *fakeCS, opts station.Options) {
				r, err := station.RunFleet(t.Context(), station.FleetOptions{Options: opts, Stations: tt.stations})
				require.NoError(t, err, "failed calls are in the report, not an error")
				require.Equal(t, tt.stations, r.Connected)
				require.Equal(t, tt.stations*tt.perCalls, r.Calls)
				require.Equal(t, tt.stations, r.Failed)
				require.Len(t, r.Failures(), tt.stations)
				for _, st := range r.Stations {
					require.ErrorContains(t, st.Err, "station "+st.ID+": "+tt.want)
					last := st.Calls[len(st.Calls)-1]
					require.Error(t, last.Err)
				}

				sum := r.Summary()
				require.Contains(t, sum, fmt.Sprintf("%d stations (%d connected), mode lockstep", tt.stations, tt.stations))
				require.Contains(t, sum, fmt.Sprintf("%d calls: %d answered, %d failed", r.Calls, r.Answered, r.Failed))
				listed := strings.Count(sum, "\n  station ")
				require.Equal(t, min(tt.stations, 5), listed, "summary:\n%s", sum)
				if tt.stations > 5 {
					require.Contains(t, sum, fmt.Sprintf("%d stations failed, the first 5:", tt.stations))
				}
			})
		})
	}
}

// FleetOptions.Passwords gives each station its own password, in place of
// Options.Password; a station with no entry sends none.
func TestFleetPasswords(t *testing.T) {
	defer goleak.VerifyNone(t)
	keys := map[string]string{"CS0001": "0123456789abcdef", "CS0002": "fedcba9876543210"}
	inBubble(t, fakeConfig{passwords: keys}, func(t *testing.T, fc *fakeCS, opts station.Options) {
		opts.Password = keys["CS0001"] // every station would get in with it, if it were sent
		r, err := station.RunFleet(t.Context(), station.FleetOptions{
			Options: opts, Passwords: keys, Stations: 3, Mode: station.Idle, Hold: time.Second})
		require.NoError(t, err)
		require.Equal(t, 2, r.Connected, "the stations with a key connect, the one without does not")
		var he *station.HandshakeError
		require.ErrorAs(t, r.Stations[2].Err, &he, "CS0003 has no key")
		require.Equal(t, 401, he.StatusCode)
	})
}

// A call still waiting when the fleet's context ends (Ctrl-C, a time
// limit) is cut off, not failed: the server did nothing wrong.
func TestFleetCutOff(t *testing.T) {
	defer goleak.VerifyNone(t)
	cfg := fakeConfig{answer: func(c *ocpp.Call) any {
		if c.Action == ocpp.ActionBootNotification && c.ID == "1" {
			return nil // never answered
		}
		return (&fakeConn{}).coreAnswer(c)
	}}
	inBubble(t, cfg, func(t *testing.T, fc *fakeCS, opts station.Options) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		r, err := station.RunFleet(ctx, station.FleetOptions{Options: opts, Stations: 2})
		require.NoError(t, err)
		require.True(t, r.Ended)
		require.Equal(t, 2, r.Connected)
		require.Equal(t, 2, r.Calls)
		require.Equal(t, 2, r.Cut)
		require.Zero(t, r.Failed)
		require.Empty(t, r.Failures())
		for _, st := range r.Stations {
			require.True(t, st.Cut)
			require.ErrorContains(t, st.Err, "station "+st.ID+": BootNotification (id 1): no answer: ")
			require.ErrorIs(t, st.Err, context.DeadlineExceeded)
		}
		require.Equal(t, `2 stations (2 connected), mode lockstep
2 calls: 0 answered, 0 failed, 2 cut off waiting when the run ended
latency: p50 0s, p99 0s, max 0s
wall time: 1m0s
2 stations not done when the run ended
`, r.Summary())
	})
}

// A flooding station stuck writing to a server that stopped reading it
// does not keep the fleet from ending with its context, nor the others from
// finishing their sessions.
func TestFleetFloodStuck(t *testing.T) {
	defer goleak.VerifyNone(t)
	cfg := fakeConfig{latency: time.Second, stall: func(id string) bool { return id == "CS0001" }}
	inBubble(t, cfg, func(t *testing.T, fc *fakeCS, opts station.Options) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		start := time.Now()
		r, err := station.RunFleet(ctx, station.FleetOptions{Options: opts, Stations: 3, Mode: station.Flood, Messages: 1000})
		require.NoError(t, err)
		require.Less(t, time.Since(start), time.Minute+2*time.Second)

		flooder := r.Stations[0]
		require.Equal(t, "CS0001", flooder.ID)
		require.True(t, flooder.Cut, "the fleet closed it when its context ended: %v", flooder.Err)
		last := flooder.Calls[len(flooder.Calls)-1]
		require.ErrorIs(t, last.Err, station.ErrClosed, "the write stuck when the fleet closed the station")
		require.Zero(t, r.Failed, "the run was cut short, but nothing failed")
		require.Empty(t, r.Failures())
		require.NoError(t, flooder.Calls[0].Err, "the BootNotification was answered")
		require.Len(t, fc.conn("CS0001").Calls(), 2, "the server read the boot and one meter value, then stopped")
		for _, st := range r.Stations[1:] {
			require.NoError(t, st.Err)
			require.Len(t, st.Calls, station.SessionCalls)
		}
	})
}

// A deaf station writes its calls and never reads: a server that closes it
// when a write to it gives up (as the final one does) makes it connect
// again, and it stops when the others are done, whose calls are answered
// as if it were not there.
func TestFleetDeaf(t *testing.T) {
	defer goleak.VerifyNone(t)
	const latency = time.Second
	stall := func(id string) bool { return id == "CS0001" }
	tests := []struct {
		name     string
		cfg      fakeConfig
		stations int
		timeout  time.Duration // of the run; none if zero
		want     station.DeafReport
		// perConn is the deaf station's frames the server read on each of
		// its connections.
		perConn  []int
		wantWall time.Duration
		wantCut  bool
	}{
		{
			// The server reads a frame, answers after a second, and reads
			// the next once the answer is out: the answer waits 5 s for the
			// station to read, then the server closes it. It connects again
			// at 6 s and 12 s; the others are done at 14 s.
			name:     "the server closes it",
			cfg:      fakeConfig{latency: latency, turns: true, writeTimeout: 5 * time.Second},
			stations: 3,
			want:     station.DeafReport{Frames: 3, Connections: 3, ServerClosed: 2},
			perConn:  []int{1, 1, 1},
			wantWall: station.SessionCalls * latency,
		},
		{
			name:     "a server that stops reading it",
			cfg:      fakeConfig{latency: latency, stall: stall},
			stations: 3,
			want:     station.DeafReport{Frames: 1, Connections: 1},
			perConn:  []int{1},
			wantWall: station.SessionCalls * latency,
		},
		{
			name:     "alone, it writes them all and goes",
			cfg:      fakeConfig{latency: latency},
			stations: 1,
			want:     station.DeafReport{Frames: 50, Connections: 1},
			perConn:  []int{50},
		},
		{
			name:     "alone and stuck, the time limit cuts it short",
			cfg:      fakeConfig{latency: latency, stall: stall},
			stations: 1,
			timeout:  time.Minute,
			want:     station.DeafReport{Frames: 1, Connections: 1},
			perConn:  []int{1},
			wantWall: time.Minute,
			wantCut:  true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inBubble(t, tt.cfg, func(t *testing.T, fc *fakeCS, opts station.Options) {
				ctx := t.Context()
				if tt.timeout > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.timeout)
					defer cancel()
				}
				var last station.Progress
				r, err := station.RunFleet(ctx, station.FleetOptions{Options: opts, Stations: tt.stations, Mode: station.Deaf,
					Messages: 50, Progress: func(p station.Progress) { last = p }})
				require.NoError(t, err)
				require.Equal(t, tt.wantWall, r.Wall)
				require.Equal(t, tt.stations, r.Connected)

				deaf := r.Stations[0]
				require.Equal(t, "CS0001", deaf.ID)
				require.Empty(t, deaf.Calls, "its frames are no calls: it reads no answer")
				require.Equal(t, &tt.want, deaf.Deaf)
				require.Equal(t, tt.wantCut, deaf.Cut, "err: %v", deaf.Err)
				if tt.wantCut {
					require.ErrorIs(t, deaf.Err, context.DeadlineExceeded)
					require.True(t, r.OnlyFlooderCut())
				} else {
					require.NoError(t, deaf.Err)
				}

				// What the server read of it, connection by connection: the
				// calls in order, each frame written whole once, a frame cut
				// short by a close written again on the next connection.
				synctest.Wait() // the server has recorded the last frame read
				var perConn []int
				next := 1
				for len(fc.arrived) > 0 {
					c := <-fc.arrived
					if c.id != "CS0001" {
						continue
					}
					calls := c.Calls()
					perConn = append(perConn, len(calls))
					for _, call := range calls {
						require.Equal(t, fmt.Sprintf("d%d", next), call.ID)
						require.Equal(t, strings.Repeat("X", station.DeafActionLength), call.Action)
						next++
					}
				}
				require.Equal(t, tt.perConn, perConn)

				// The others ran their sessions, each call answered after
				// the server's latency, as if the deaf station were not there.
				others := tt.stations - 1
				require.Equal(t, others*station.SessionCalls, r.Calls)
				require.Equal(t, r.Calls, r.Answered)
				require.Zero(t, r.Failed)
				for _, st := range r.Stations[1:] {
					require.NoError(t, st.Err)
					require.Nil(t, st.Deaf)
					require.Len(t, st.Calls, station.SessionCalls)
				}
				if others > 0 {
					require.Equal(t, latency, r.P50)
					require.Equal(t, latency, r.Max)
				}
				require.Equal(t, station.Progress{Stations: tt.stations, Connected: tt.stations, Done: tt.stations,
					Planned: others * station.SessionCalls, Calls: r.Calls, Answered: r.Answered,
					DeafFrames: tt.want.Frames, DeafClosed: tt.want.ServerClosed, Elapsed: r.Wall}, last)
			})
		})
	}
}

// The summary of a deaf run tells the deaf station from the others.
func TestFleetDeafSummary(t *testing.T) {
	defer goleak.VerifyNone(t)
	cfg := fakeConfig{latency: time.Second, turns: true, writeTimeout: 5 * time.Second}
	inBubble(t, cfg, func(t *testing.T, fc *fakeCS, opts station.Options) {
		r, err := station.RunFleet(t.Context(), station.FleetOptions{Options: opts, Stations: 3, Mode: station.Deaf, Messages: 2000})
		require.NoError(t, err)
		require.Equal(t, `3 stations (3 connected), mode deaf
28 calls: 28 answered, 0 failed
latency: p50 1s, p99 1s, max 1s
wall time: 14s
deaf station CS0001: 3 frames sent (unknown actions of 16000 characters, nothing read) over 3 connections, 2 closed by the server
the other 2 stations: 2 of 2 sessions done, 28 calls: 28 answered, 0 failed, latency p50 1s, p99 1s, max 1s
`, r.Summary())
	})
}

func TestFleetNobodyConnects(t *testing.T) {
	defer goleak.VerifyNone(t)
	inBubble(t, fakeConfig{}, func(t *testing.T, fc *fakeCS, opts station.Options) {
		ln := memnet.Listen()
		ln.Close()
		opts.Dial = ln.DialContext
		r, err := station.RunFleet(t.Context(), station.FleetOptions{Options: opts, Stations: 3})
		require.NoError(t, err)
		require.Zero(t, r.Connected)
		require.Zero(t, r.Calls)
		for _, st := range r.Stations {
			require.ErrorIs(t, st.Err, memnet.ErrClosed)
			require.False(t, st.Connected)
		}
		require.Contains(t, r.Summary(), "3 stations (0 connected)")
	})
}

func TestFleetBadOptions(t *testing.T) {
	defer goleak.VerifyNone(t)
	good := station.FleetOptions{Options: station.Options{URL: "ws://127.0.0.1:1/ocpp"}, Stations: 1}
	tests := []struct {
		name   string
		change func(*station.FleetOptions)
		want   string
	}{
		{"no stations", func(o *station.FleetOptions) { o.Stations = 0 }, "0 stations: want at least 1"},
		{"unknown mode", func(o *station.FleetOptions) { o.Mode = "stampede" }, `unknown mode "stampede"`},
		{"no URL", func(o *station.FleetOptions) { o.URL = "" }, "scheme must be ws or wss"},
		{"http URL", func(o *station.FleetOptions) { o.URL = "http://x/ocpp" }, "scheme must be ws or wss"},
		{"negative messages", func(o *station.FleetOptions) { o.Messages = -1 }, "-1 messages"},
		{"negative hold", func(o *station.FleetOptions) { o.Hold = -time.Second }, "hold -1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := good
			tt.change(&o)
			r, err := station.RunFleet(t.Context(), o)
			require.Nil(t, r)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestParseMode(t *testing.T) {
	for _, m := range []station.Mode{station.LockStep, station.Pipelined, station.Flood, station.Deaf, station.Idle} {
		got, err := station.ParseMode(string(m))
		require.NoError(t, err)
		require.Equal(t, m, got)
	}
	_, err := station.ParseMode("fast")
	require.EqualError(t, err, `unknown mode "fast" (want lockstep, pipelined, flood, deaf or idle)`)
}

func TestSummary(t *testing.T) {
	r := &station.Report{
		Mode: station.Pipelined,
		Stations: []station.StationReport{
			{ID: "CS0001", Connected: true},
			{ID: "CS0002", Err: errors.New("dial tcp: connection refused")},
		},
		Connected: 1, Calls: 101, Answered: 100, Failed: 1,
		P50: 1234567 * time.Nanosecond, P99: 45678901 * time.Nanosecond, Max: 2 * time.Second,
		Wall: 3500 * time.Millisecond,
	}
	require.Equal(t, `2 stations (1 connected), mode pipelined
101 calls: 100 answered, 1 failed
latency: p50 1.235ms, p99 46ms, max 2s
wall time: 3.5s
1 station failed:
  CS0002: dial tcp: connection refused
`, r.Summary())
}
