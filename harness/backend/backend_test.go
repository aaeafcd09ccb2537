package backend_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/ocpp"
)

// The tests of this file run inside testing/synctest bubbles: time is fake,
// so every duration below is exact, and synctest.Wait returns once every
// goroutine of the bubble is blocked (at a gate, on a timer).

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var errBoom = errors.New("boom")

// replies records what Handle sent, and when.
type replies struct {
	mu   sync.Mutex
	msgs []ocpp.Message
	at   []time.Time
	err  error // returned by send
}

func (r *replies) send(m ocpp.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, m)
	r.at = append(r.at, time.Now())
	return r.err
}

func (r *replies) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs)
}

func bootCall(t *testing.T, id string) *ocpp.Call {
	return newCall(t, id, ocpp.ActionBootNotification, ocpp.BootNotificationRequest{ChargePointVendor: "Kata", ChargePointModel: "Test"})
}

func heartbeat(id string) *ocpp.Call { return rawCall(id, ocpp.ActionHeartbeat, `{}`) }

// done reports whether ch is closed, without waiting.
func done[T any](ch <-chan T) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestKindString(t *testing.T) {
	require.Equal(t, "call", backend.KindCall.String())
	require.Equal(t, "process", backend.KindProcess.String())
}

func TestWorker(t *testing.T) {
	require.Empty(t, backend.WorkerFrom(context.Background()))
	ctx := backend.WithWorker(context.Background(), "worker-3")
	require.Equal(t, "worker-3", backend.WorkerFrom(ctx))
	require.Equal(t, "worker-4", backend.WorkerFrom(backend.WithWorker(ctx, "worker-4")))
}

func TestHandleOnFakeTime(t *testing.T) {
	lat := backend.WorkshopLatencies()
	tests := []struct {
		name string
		call func(t *testing.T) *ocpp.Call
		// answered with a CALLERROR of this code, or a CALLRESULT if ""
		code ocpp.ErrorCode
	}{
		{"BootNotification", func(t *testing.T) *ocpp.Call { return bootCall(t, "c1") }, ""},
		{"Heartbeat", func(*testing.T) *ocpp.Call { return heartbeat("c1") }, ""},
		{"MeterValues", func(t *testing.T) *ocpp.Call {
			return newCall(t, "c1", ocpp.ActionMeterValues, ocpp.MeterValuesRequest{ConnectorId: 1,
				MeterValue: []ocpp.MeterValue{{Timestamp: when, SampledValue: []ocpp.SampledValue{{Value: "1"}}}}})
		}, ""},
		{"unknown action takes Other", func(*testing.T) *ocpp.Call { return rawCall("c1", "FlyToTheMoon", `{}`) }, ocpp.NotImplemented},
		{"invalid payload", func(*testing.T) *ocpp.Call { return rawCall("c1", ocpp.ActionMeterValues, `{"connectorId":1}`) }, ocpp.OccurenceConstraintViolation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := backend.New(backend.Options{Latencies: lat})
				c := tt.call(t)
				var r replies
				start := time.Now()
				err := b.Handle(backend.WithWorker(t.Context(), "w1"), "CS1", c, r.send)
				require.NoError(t, err)
				require.Equal(t, lat.Total(c.Action), time.Since(start), "Handle took Before + action + After")

				require.Len(t, r.msgs, 1)
				require.Equal(t, lat.Before+lat.For(c.Action), r.at[0].Sub(start), "the reply went out after Before + action")
				require.Equal(t, c.ID, r.msgs[0].MessageID())
				if tt.code == "" {
					require.IsType(t, &ocpp.CallResult{}, r.msgs[0])
				} else {
					callError(t, r.msgs[0], c.ID, tt.code)
				}

				recs := b.Records()
				require.Len(t, recs, 1)
				rec := recs[0]
				require.Equal(t, backend.Work{Kind: backend.KindCall, Station: "CS1", CallID: c.ID, Action: c.Action, Worker: "w1"}, rec.Work)
				require.Equal(t, 1, rec.Seq)
				require.Equal(t, start, rec.Start)
				require.Equal(t, r.at[0], rec.Replied)
				require.Equal(t, time.Now(), rec.End)
				require.NoError(t, rec.Err)
				require.Equal(t, backend.Stats{InFlight: 0, Peak: 1, Done: 1, Held: 0}, b.Stats())
			})
		})
	}
}

func TestHandleReplyError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lat := backend.WorkshopLatencies()
		b := backend.New(backend.Options{Latencies: lat})
		r := replies{err: errBoom}
		start := time.Now()
		err := b.Handle(t.Context(), "CS1", heartbeat("h1"), r.send)
		require.ErrorIs(t, err, errBoom)
		require.Equal(t, 1, r.count())
		require.Equal(t, lat.Before+lat.For(ocpp.ActionHeartbeat), time.Since(start),
			"a failed reply ends the call at once: no time is spent after it")
		rec := b.Records()[0]
		require.ErrorIs(t, rec.Err, errBoom)
		require.False(t, rec.Replied.IsZero())
		require.Equal(t, backend.Stats{Peak: 1, Done: 1}, b.Stats())
	})
}

func TestHandleContextEnds(t *testing.T) {
	lat := backend.WorkshopLatencies()
	beforeReply := lat.Before + lat.For(ocpp.ActionHeartbeat) // 800 ms
	tests := []struct {
		name    string
		lat     backend.Latencies
		stop    time.Duration // when the context ends; 0: before Handle is called
		cancel  bool          // cancelled rather than timed out
		replied bool
	}{
		{name: "timeout during the work", lat: lat, stop: 300 * time.Millisecond},
		{name: "cancelled during the work", lat: lat, stop: 700 * time.Millisecond, cancel: true},
		{name: "cancelled before the call, no latency", cancel: true},
		{name: "cancelled before the call", lat: lat, cancel: true},
		// The reply has gone out: the context ends the bookkeeping after it,
		// and the call still succeeded.
		{name: "timeout after the reply", lat: lat, stop: beforeReply + 100*time.Millisecond, replied: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := backend.New(backend.Options{Latencies: tt.lat})
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				want := context.Canceled
				switch {
				case tt.stop == 0:
					cancel()
				case tt.cancel:
					time.AfterFunc(tt.stop, cancel)
				default:
					ctx, cancel = context.WithTimeout(ctx, tt.stop)
					defer cancel()
					want = context.DeadlineExceeded
				}
				var r replies
				start := time.Now()
				err := b.Handle(ctx, "CS1", heartbeat("h1"), r.send)
				if tt.replied {
					want = nil
				}
				require.ErrorIs(t, err, want)
				require.Equal(t, tt.stop, time.Since(start), "the wait ended when the context did")
				rec := b.Records()[0]
				require.ErrorIs(t, rec.Err, want)
				if tt.replied {
					require.Equal(t, 1, r.count())
					require.False(t, rec.Replied.IsZero())
				} else {
					require.Zero(t, r.count(), "a call whose context ended before its reply must not be answered")
					require.True(t, rec.Replied.IsZero())
				}
				require.Equal(t, backend.Stats{Peak: 1, Done: 1}, b.Stats())
			})
		})
	}
}

func TestProcessOnFakeTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lat := backend.WorkshopLatencies()
		b := backend.New(backend.Options{Latencies: lat})
		start := time.Now()
		require.NoError(t, b.Process(backend.WithWorker(t.Context(), "p1"), "CS1", rawCall("m1", ocpp.ActionMeterValues, `{}`)))
		require.Equal(t, lat.For(ocpp.ActionMeterValues), time.Since(start), "Process takes the action's time only")

		rec := b.Records()[0]
		require.Equal(t, backend.Work{Kind: backend.KindProcess, Station: "CS1", CallID: "m1", Action: ocpp.ActionMeterValues, Worker: "p1"}, rec.Work)
		require.True(t, rec.Replied.IsZero(), "Process replies to nobody")
		require.Equal(t, start, rec.Start)
		require.Equal(t, time.Now(), rec.End)

		ctx, cancel := context.WithTimeout(t.Context(), 250*time.Millisecond)
		defer cancel()
		start = time.Now()
		require.ErrorIs(t, b.Process(ctx, "CS1", rawCall("m2", ocpp.ActionMeterValues, `{}`)), context.DeadlineExceeded)
		require.Equal(t, 250*time.Millisecond, time.Since(start))
		require.ErrorIs(t, b.Records()[1].Err, context.DeadlineExceeded)
	})
}

func TestRecords(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := backend.New(backend.Options{Latencies: backend.WorkshopLatencies()})
		ctx := t.Context()
		var r replies
		require.NoError(t, b.Handle(backend.WithWorker(ctx, "a"), "CS1", bootCall(t, "1"), r.send))
		require.NoError(t, b.Process(backend.WithWorker(ctx, "b"), "CS2", rawCall("2", ocpp.ActionMeterValues, `{}`)))
		require.NoError(t, b.Handle(ctx, "CS1", heartbeat("3"), r.send))
		require.NoError(t, b.Process(ctx, "CS1", rawCall("4", ocpp.ActionStatusNotification, `{}`)))

		recs := b.Records()
		require.Len(t, recs, 4)
		for i, want := range []struct {
			kind            backend.Kind
			station, worker string
		}{
			{backend.KindCall, "CS1", "a"},
			{backend.KindProcess, "CS2", "b"},
			{backend.KindCall, "CS1", ""},
			{backend.KindProcess, "CS1", ""},
		} {
			rec := recs[i]
			require.Equal(t, i+1, rec.Seq, "records are numbered in the order their work started")
			require.Equal(t, want.kind, rec.Kind)
			require.Equal(t, want.station, rec.Station)
			require.Equal(t, want.worker, rec.Worker)
			require.Equal(t, rec.Kind == backend.KindCall, !rec.Replied.IsZero(), "Replied is set for calls only")
			if i > 0 {
				require.Equal(t, recs[i-1].End, rec.Start, "the calls ran one after another")
			}
		}

		ids := func(rs []backend.Record) (out []string) {
			for _, r := range rs {
				out = append(out, r.CallID)
			}
			return out
		}
		require.Equal(t, []string{"1", "3"}, ids(b.StationRecords("CS1", backend.KindCall)))
		require.Equal(t, []string{"4"}, ids(b.StationRecords("CS1", backend.KindProcess)))
		require.Equal(t, []string{"2"}, ids(b.StationRecords("CS2", backend.KindProcess)))
		require.Empty(t, b.StationRecords("CS2", backend.KindCall))
		require.Empty(t, b.StationRecords("CS9", backend.KindCall))

		recs[0].Station = "changed"
		require.Equal(t, "CS1", b.Records()[0].Station, "Records returns a copy")
	})
}

func TestRecordsOfConcurrentWork(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := backend.New(backend.Options{Latencies: backend.WorkshopLatencies()})
		g := b.Hold(nil)
		var r replies
		var wg sync.WaitGroup
		for _, id := range []string{"a", "b", "c"} {
			wg.Go(func() { assert.NoError(t, b.Handle(t.Context(), "CS1", heartbeat(id), r.send)) })
			synctest.Wait() // each one is at the gate before the next starts
		}
		recs := b.Records()
		require.Len(t, recs, 3)
		for i, rec := range recs {
			require.Equal(t, i+1, rec.Seq)
			require.Equal(t, []string{"a", "b", "c"}[i], rec.CallID)
			require.True(t, rec.End.IsZero(), "the work has not ended")
			require.True(t, rec.Replied.IsZero())
		}
		g.Open()
		wg.Wait()
		for _, rec := range b.Records() {
			require.False(t, rec.End.IsZero())
			require.False(t, rec.Replied.IsZero())
		}
	})
}

func TestStats(t *testing.T) {
	t.Run("gate", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := backend.New(backend.Options{})
			require.Equal(t, backend.Stats{}, b.Stats())
			g := b.Hold(nil)
			var r replies
			var wg sync.WaitGroup
			for _, st := range []string{"CS1", "CS2", "CS3"} {
				wg.Go(func() { assert.NoError(t, b.Handle(t.Context(), st, heartbeat("h"), r.send)) })
			}
			wg.Go(func() { assert.NoError(t, b.Process(t.Context(), "CS1", heartbeat("p"))) })
			synctest.Wait()
			require.Equal(t, backend.Stats{InFlight: 4, Peak: 4, Done: 0, Held: 4}, b.Stats())
			require.Equal(t, 4, g.Waiting())

			g.Open()
			wg.Wait()
			require.Equal(t, backend.Stats{InFlight: 0, Peak: 4, Done: 4, Held: 0}, b.Stats())
			require.NoError(t, b.Handle(t.Context(), "CS1", heartbeat("h2"), r.send))
			require.Equal(t, backend.Stats{InFlight: 0, Peak: 4, Done: 5, Held: 0}, b.Stats(), "one call at a time leaves the peak alone")
		})
	})
	t.Run("latency", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := backend.New(backend.Options{Latencies: backend.WorkshopLatencies()})
			var r replies
			var wg sync.WaitGroup
			for _, id := range []string{"1", "2"} {
				wg.Go(func() { assert.NoError(t, b.Handle(t.Context(), "CS1", heartbeat(id), r.send)) })
			}
			synctest.Wait()
			require.Equal(t, backend.Stats{InFlight: 2, Peak: 2, Held: 0}, b.Stats(), "calls spending their latency are in flight, not held")
			wg.Wait()
			require.Equal(t, backend.Stats{Peak: 2, Done: 2}, b.Stats())
		})
	})
}

func TestStationPeak(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := backend.New(backend.Options{})
		g := b.Hold(nil)
		var r replies
		var wg sync.WaitGroup
		handle := func(st, id string) {
			wg.Go(func() { assert.NoError(t, b.Handle(t.Context(), st, heartbeat(id), r.send)) })
		}
		handle("CS1", "1")
		handle("CS1", "2")
		handle("CS2", "3")
		wg.Go(func() { assert.NoError(t, b.Process(t.Context(), "CS1", heartbeat("4"))) })
		synctest.Wait()
		g.Open()
		wg.Wait()

		// Sequential work does not raise a peak.
		require.NoError(t, b.Handle(t.Context(), "CS2", heartbeat("5"), r.send))
		require.NoError(t, b.Process(t.Context(), "CS2", heartbeat("6")))
		require.NoError(t, b.Process(t.Context(), "CS2", heartbeat("7")))

		for _, tt := range []struct {
			station string
			kind    backend.Kind
			want    int
		}{
			{"CS1", backend.KindCall, 2},
			{"CS1", backend.KindProcess, 1},
			{"CS2", backend.KindCall, 1},
			{"CS2", backend.KindProcess, 1},
			{"CS9", backend.KindCall, 0},
			{"CS9", backend.KindProcess, 0},
		} {
			require.Equal(t, tt.want, b.StationPeak(tt.station, tt.kind), "StationPeak(%s, %v)", tt.station, tt.kind)
		}
		require.Equal(t, 4, b.Stats().Peak)
	})
}

func TestAwait(t *testing.T) {
	t.Run("condition already met", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := backend.New(backend.Options{})
			require.NoError(t, b.Await(t.Context(), func(s backend.Stats) bool { return s.InFlight == 0 }))
		})
	})
	t.Run("condition met later", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := backend.New(backend.Options{})
			g := b.Hold(nil)
			awaited := make(chan error, 1)
			go func() { awaited <- b.Await(t.Context(), func(s backend.Stats) bool { return s.Held >= 2 }) }()
			var r replies
			var wg sync.WaitGroup
			for i, id := range []string{"1", "2"} {
				synctest.Wait()
				require.False(t, done(awaited), "Await returned with %d calls held, want it to wait for 2", i)
				wg.Go(func() { assert.NoError(t, b.Handle(t.Context(), "CS1", heartbeat(id), r.send)) })
			}
			synctest.Wait()
			require.True(t, done(awaited), "Await did not return once 2 calls were held")
			g.Open()
			wg.Wait()
		})
	})
	t.Run("condition met by the clock", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			lat := backend.WorkshopLatencies()
			b := backend.New(backend.Options{Latencies: lat})
			var r replies
			start := time.Now()
			for _, id := range []string{"1", "2", "3"} {
				boot := bootCall(t, id)
				go func() { assert.NoError(t, b.Handle(t.Context(), "CS1", boot, r.send)) }()
			}
			require.NoError(t, b.Await(t.Context(), func(s backend.Stats) bool { return s.Done == 3 }))
			require.Equal(t, lat.Total(ocpp.ActionBootNotification), time.Since(start))
		})
	})
	t.Run("context ends", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := backend.New(backend.Options{})
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			start := time.Now()
			err := b.Await(ctx, func(s backend.Stats) bool { return s.Done > 0 })
			require.ErrorIs(t, err, context.DeadlineExceeded)
			require.Equal(t, 5*time.Second, time.Since(start))
		})
	})
}

func TestGate(t *testing.T) {
	lat := backend.WorkshopLatencies()
	hb := lat.Total(ocpp.ActionHeartbeat)

	t.Run("holds the work it matches", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := backend.New(backend.Options{Latencies: lat})
			var seen []backend.Work
			var seenMu sync.Mutex
			g := b.Hold(func(w backend.Work) bool {
				seenMu.Lock()
				defer seenMu.Unlock()
				seen = append(seen, w)
				return w.Action == ocpp.ActionHeartbeat
			})
			var r replies
			start := time.Now()
			held := make(chan error, 1)
			go func() { held <- b.Handle(backend.WithWorker(t.Context(), "w"), "CS1", heartbeat("h1"), r.send) }()
			require.NoError(t, b.Handle(t.Context(), "CS2", bootCall(t, "b1"), r.send), "work the gate does not match passes")
			require.Equal(t, lat.Total(ocpp.ActionBootNotification), time.Since(start))
			synctest.Wait()
			require.False(t, done(held))
			require.Equal(t, 1, g.Waiting())
			require.Equal(t, backend.Stats{InFlight: 1, Peak: 2, Done: 1, Held: 1}, b.Stats())

			time.Sleep(time.Minute)
			g.Open()
			require.NoError(t, <-held)
			require.Equal(t, time.Minute+hb, time.Since(start)-lat.Total(ocpp.ActionBootNotification),
				"held work spends its whole latency after the gate opens")
			require.Zero(t, g.Waiting())

			seenMu.Lock()
			defer seenMu.Unlock()
			require.ElementsMatch(t, []backend.Work{
				{Kind: backend.KindCall, Station: "CS1", CallID: "h1", Action: ocpp.ActionHeartbeat, Worker: "w"},
				{Kind: backend.KindCall, Station: "CS2", CallID: "b1", Action: ocpp.ActionBootNotification},
			}, seen, "the gate's match sees the work")
		})
	})

	t.Run("nil match holds all", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := backend.New(backend.Options{})
			g := b.Hold(nil)
			var r replies
			var wg sync.WaitGroup
			wg.Go(func() { assert.NoError(t, b.Handle(t.Context(), "CS1", heartbeat("1"), r.send)) })
			boot := bootCall(t, "2")
			wg.Go(func() { assert.NoError(t, b.Handle(t.Context(), "CS2", boot, r.send)) })
			wg.Go(func() { assert.NoError(t, b.Process(t.Context(), "CS3", rawCall("3", "Anything", `{}`))) })
			synctest.Wait()
			require.Equal(t, 3, g.Waiting())
			require.Zero(t, r.count())
			g.Open()
			wg.Wait()
			require.Equal(t, 2, r.count())
		})
	})

	t.Run("Open is idempotent and an open gate lets later work pass", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := backend.New(backend.Options{Latencies: lat})
			g := b.Hold(nil)
			g.Open()
			g.Open()
			var r replies
			start := time.Now()
			require.NoError(t, b.Handle(t.Context(), "CS1", heartbeat("1"), r.send))
			require.Equal(t, hb, time.Since(start), "an open gate adds no time")
			g.Open()
			require.Zero(t, g.Waiting())
			require.Equal(t, backend.Stats{Peak: 1, Done: 1}, b.Stats())
		})
	})

	t.Run("every matching gate must open", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := backend.New(backend.Options{})
			g1, g2 := b.Hold(nil), b.Hold(nil)
			var r replies
			handled := make(chan error, 1)
			go func() { handled <- b.Handle(t.Context(), "CS1", heartbeat("1"), r.send) }()
			synctest.Wait()
			require.Equal(t, []int{1, 0}, []int{g1.Waiting(), g2.Waiting()})
			g1.Open()
			synctest.Wait()
			require.Equal(t, []int{0, 1}, []int{g1.Waiting(), g2.Waiting()})
			require.False(t, done(handled))
			g2.Open()
			require.NoError(t, <-handled)
		})
	})

	t.Run("context ends at the gate", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := backend.New(backend.Options{Latencies: lat})
			g := b.Hold(nil)
			defer g.Open()
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
			defer cancel()
			var r replies
			start := time.Now()
			err := b.Handle(ctx, "CS1", heartbeat("1"), r.send)
			require.ErrorIs(t, err, context.DeadlineExceeded)
			require.Equal(t, 2*time.Second, time.Since(start))
			require.Zero(t, r.count(), "a call abandoned at the gate must not be answered")
			require.Zero(t, g.Waiting())
			require.Equal(t, backend.Stats{Peak: 1, Done: 1}, b.Stats())
			require.ErrorIs(t, b.Records()[0].Err, context.DeadlineExceeded)

			// The same for background work.
			ctx, cancel = context.WithCancel(t.Context())
			processed := make(chan error, 1)
			go func() { processed <- b.Process(ctx, "CS1", heartbeat("2")) }()
			synctest.Wait()
			require.Equal(t, 1, g.Waiting())
			cancel()
			require.ErrorIs(t, <-processed, context.Canceled)
			require.Zero(t, g.Waiting())
			require.Zero(t, b.Stats().Held)
		})
	})
}

func TestWithWorker(t *testing.T) {
	type otherKey struct{}
	parent := context.WithValue(context.Background(), otherKey{}, "kept")
	ctx := backend.WithWorker(parent, "worker-3")
	if got := backend.WorkerFrom(ctx); got != "worker-3" {
		t.Errorf("WorkerFrom = %q, want worker-3", got)
	}
	if got := ctx.Value(otherKey{}); got != "kept" {
		t.Errorf("a value of the parent: %v, want kept", got)
	}
	// A context made from it still names the worker.
	child, cancel := context.WithCancel(ctx)
	defer cancel()
	if got := backend.WorkerFrom(child); got != "worker-3" {
		t.Errorf("WorkerFrom of a child = %q, want worker-3", got)
	}
	if got := backend.WorkerFrom(parent); got != "" {
		t.Errorf("WorkerFrom of a context without a worker = %q, want none", got)
	}
}
