package servercalls_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"

	servercalls "github.com/ocppkata/kata/exercises/07-server-calls"
	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/kit"
	"github.com/ocppkata/kata/harness/memnet"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/stations/station"
)

// The server calls its stations (Reset, GetConfiguration, DataTransfer, …)
// and waits for their answers. The stations here answer as each test tells
// them: at once, after a delay, never, with a CALLERROR, or by hanging up.
// Time is fake: "returned at 30s" is exact.

// setup starts a server on the in-memory network. Its backend answers the
// stations' own calls at once, unless latencies are given.
func setup(t *testing.T, lat backend.Latencies) (*servercalls.Server, *memnet.Listener, *logRecorder) {
	t.Helper()
	// Runs after the server's Close (cleanups run last first): whatever a
	// call left waiting on a timer is reported by then, and ends now, so
	// that the bubble can end and the suite goes on.
	t.Cleanup(func() { time.Sleep(time.Hour) })
	logs := &logRecorder{}
	b := backend.New(backend.Options{Latencies: lat})
	srv := servercalls.New(servercalls.Config{Backend: b, Workers: 4, Logger: slog.New(logs)})
	return srv, kit.Serve(t, srv), logs
}

// connect dials station n with the given way of answering the server's
// calls, and boots it unless boot is false. The station is closed when the
// test ends.
func connect(t *testing.T, l *memnet.Listener, n int, answer func(*ocpp.Call) station.Reply, boot bool) *station.Station {
	t.Helper()
	opts := kit.Stations(l)
	opts.Answer = answer
	st, err := station.Dial(t.Context(), station.StationID(n), opts)
	if err != nil {
		t.Fatalf("connecting %s: %v", station.StationID(n), err)
	}
	t.Cleanup(func() { st.Close() })
	if boot {
		req := ocpp.BootNotificationRequest{ChargePointVendor: "Kata", ChargePointModel: "Test"}
		if err := st.Call(t.Context(), ocpp.ActionBootNotification, req, nil); err != nil {
			t.Fatalf("BootNotification from %s: %v", st.ID(), err)
		}
	}
	return st
}

// answering returns an Answer that replies by action: the reply for the
// call's action if replies has one, the default answer at once otherwise.
func answering(replies map[string]station.Reply) func(*ocpp.Call) station.Reply {
	return func(call *ocpp.Call) station.Reply {
		r, ok := replies[call.Action]
		if !ok {
			return station.DefaultAnswer(call)
		}
		if r.Payload == nil && !r.Drop && !r.Disconnect {
			r.Payload = station.DefaultAnswer(call).Payload
		}
		return r
	}
}

// outcome is what one Call returned, and at what fake time since the test's start.
type outcome struct {
	err error
	at  time.Duration
}

// call runs srv.Call in a goroutine with a timeout (none if 0) and returns
// where its outcome will be delivered.
func call(srv *servercalls.Server, start time.Time, id, action string, req, resp any, timeout time.Duration) <-chan outcome {
	out := make(chan outcome, 1)
	go func() {
		ctx := context.Background()
		if timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		err := srv.Call(ctx, id, action, req, resp)
		out <- outcome{err: err, at: time.Since(start)}
	}()
	return out
}

// settle lets the server do all it can before fake time moves on
// (synctest.Wait), and ends the test if its goroutines wait for a lock
// instead: kit.Settle says where.
func settle(t *testing.T) {
	t.Helper()
	if !kit.Settle(t) {
		t.FailNow()
	}
}

// await returns a Call's outcome, failing the test if it never came.
func await(t *testing.T, what string, ch <-chan outcome) outcome {
	t.Helper()
	o, ok := kit.Await(t, ch)
	if !ok {
		t.Fatalf("%s never returned", what)
	}
	return o
}

var reset = ocpp.ResetRequest{Type: ocpp.ResetSoft}

func TestCallsTakeTurns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv, l, _ := setup(t, backend.Latencies{})
		// The station echoes each DataTransfer's data, a second later.
		st := connect(t, l, 1, func(c *ocpp.Call) station.Reply {
			var req ocpp.DataTransferRequest
			if err := c.UnmarshalPayload(&req); err != nil {
				return station.DefaultAnswer(c)
			}
			return station.Reply{Payload: ocpp.DataTransferResponse{Status: ocpp.DataTransferAccepted, Data: req.Data}, Delay: time.Second}
		}, true)

		const callers = 20
		start := time.Now()
		resps := make([]ocpp.DataTransferResponse, callers)
		outs := make([]<-chan outcome, callers)
		for i := range callers {
			req := ocpp.DataTransferRequest{VendorId: "kata", Data: fmt.Sprintf("caller-%d", i)}
			outs[i] = call(srv, start, st.ID(), ocpp.ActionDataTransfer, req, &resps[i], time.Hour)
		}
		var wrong []string
		for i, ch := range outs {
			o := await(t, fmt.Sprintf("caller %d's DataTransfer", i), ch)
			want := fmt.Sprintf("caller-%d", i)
			switch {
			case o.err != nil:
				wrong = append(wrong, fmt.Sprintf("caller %d got error %v", i, o.err))
			case resps[i].Data != want:
				wrong = append(wrong, fmt.Sprintf("caller %d got %q", i, resps[i].Data))
			}
		}
		if len(wrong) > 0 {
			t.Errorf("%d of %d callers did not get the answer to their own call, e.g. %s: "+
				"an answer must reach the caller that asked, whatever others are calling",
				len(wrong), callers, strings.Join(wrong[:min(3, len(wrong))], "; "))
		}

		// One in flight at a time: each call reached the station after the
		// one before was answered.
		served := st.ServerCalls()
		peak := peakInFlight(served)
		if peak > 1 {
			t.Errorf("the station had up to %d of the server's calls unanswered at once, want 1: "+
				"OCPP allows one call in flight per direction, and a station that gets a second one "+
				"may ignore it or answer out of order; the others must wait their turn", peak)
		}
		if len(served) != callers {
			t.Errorf("the station received %d calls, want %d", len(served), callers)
		}
		if srv.PendingCalls() != 0 {
			t.Errorf("PendingCalls() = %d after every call returned, want 0", srv.PendingCalls())
		}
	})
}

// peakInFlight returns the most calls the station had received and not yet
// answered at any one time (an unanswered call counts until the end).
func peakInFlight(served []station.ServerCall) int {
	type event struct {
		at    time.Time
		delta int
	}
	var events []event
	for _, c := range served {
		events = append(events, event{c.Received, +1})
		if !c.Answered.IsZero() {
			events = append(events, event{c.Answered, -1})
		}
	}
	// At the same instant, an answer goes out before the next call comes in.
	slices.SortStableFunc(events, func(a, b event) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return a.delta - b.delta
	})
	n, peak := 0, 0
	for _, e := range events {
		n += e.delta
		peak = max(peak, n)
	}
	return peak
}

func TestDeadlineEndsWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv, l, _ := setup(t, backend.Latencies{})
		// Reset is never answered; GetConfiguration a second after it came.
		st := connect(t, l, 1, answering(map[string]station.Reply{
			ocpp.ActionReset:            {Drop: true},
			ocpp.ActionGetConfiguration: {Delay: time.Second},
		}), true)
		start := time.Now()

		a := call(srv, start, st.ID(), ocpp.ActionReset, reset, nil, 30*time.Second)
		settle(t) // a is in flight
		// b waits behind a, and gives up first; c waits as long as it takes.
		b := call(srv, start, st.ID(), ocpp.ActionGetConfiguration, ocpp.GetConfigurationRequest{}, nil, 10*time.Second)
		settle(t)
		var conf ocpp.GetConfigurationResponse
		c := call(srv, start, st.ID(), ocpp.ActionGetConfiguration, ocpp.GetConfigurationRequest{}, &conf, time.Hour)

		for _, w := range []struct {
			name string
			ch   <-chan outcome
			at   time.Duration
		}{
			{"the Reset nobody answers (deadline 30s)", a, 30 * time.Second},
			{"the GetConfiguration queued behind it (deadline 10s)", b, 10 * time.Second},
		} {
			o := await(t, w.name, w.ch)
			if !errors.Is(o.err, context.DeadlineExceeded) || o.at != w.at {
				t.Errorf("%s returned at %v with error %v, want it to return at %v with context.DeadlineExceeded: "+
					"a deadline ends the wait exactly then, in the queue as on the wire", w.name, o.at, o.err, w.at)
			}
		}
		o := await(t, "the GetConfiguration with no early deadline", c)
		if o.err != nil || o.at != 31*time.Second || len(conf.ConfigurationKey) == 0 {
			t.Errorf("the GetConfiguration queued behind the unanswered Reset returned at %v (error %v, %d keys), "+
				"want its answer at 31s: sent when the Reset timed out (30s), answered a second later. "+
				"One unanswered call must stall the station's later calls only until its deadline",
				o.at, o.err, len(conf.ConfigurationKey))
		}
		var actions []string
		for _, sc := range st.ServerCalls() {
			actions = append(actions, sc.Action)
		}
		if want := []string{ocpp.ActionReset, ocpp.ActionGetConfiguration}; !slices.Equal(actions, want) {
			t.Errorf("the station received %v, want %v: the call that gave up in the queue is never sent", actions, want)
		}
		if n := srv.PendingCalls(); n != 0 {
			t.Errorf("PendingCalls() = %d after every call returned, want 0", n)
		}
	})
}

func TestTimedOutCallsLeaveNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv, l, _ := setup(t, backend.Latencies{})
		// 100 stations that never answer; 10 calls to each, all at once:
		// one in flight and nine queued per station, 1000 in all.
		const stations, each = 100, 10
		sts := make([]*station.Station, stations)
		for i := range sts {
			sts[i] = connect(t, l, i+1, answering(map[string]station.Reply{ocpp.ActionReset: {Drop: true}}), true)
		}
		settle(t)
		before := kit.Goroutines()
		start := time.Now()
		var outs []<-chan outcome
		for _, st := range sts {
			for range each {
				outs = append(outs, call(srv, start, st.ID(), ocpp.ActionReset, reset, nil, 10*time.Second))
			}
		}
		late := 0
		var example outcome
		for _, ch := range outs {
			o := await(t, "a Reset nobody answers", ch)
			if !errors.Is(o.err, context.DeadlineExceeded) || o.at != 10*time.Second {
				late++
				example = o
			}
		}
		if late > 0 {
			t.Errorf("%d of %d calls did not end at their deadline (10s) with context.DeadlineExceeded, e.g. at %v with %v",
				late, len(outs), example.at, example.err)
		}
		settle(t)
		goroutines, pending := kit.Goroutines()-before, srv.PendingCalls()
		t.Logf("after %d timed-out calls: %d goroutines and %d pending calls left", len(outs), goroutines, pending)
		if pending != 0 {
			t.Errorf("PendingCalls() = %d after %d calls gave up, want 0: a call that returns must take its entry "+
				"with it, or the map grows with every timeout, and a late answer still finds a waiter", pending, len(outs))
		}
		if goroutines > 0 {
			t.Errorf("%d more goroutines than before the calls, after all %d returned, want none: "+
				"whatever a call starts (a goroutine, a timer) must end when the call returns, not when a timeout passes",
				goroutines, len(outs))
		}
	})
}

func TestManyTimeoutsAtOnce(t *testing.T) {
	// In a process of its own: a server whose reader is stuck can never
	// close, and its bubble would end the whole test binary.
	kit.Isolated(t, func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			srv, l, _ := setup(t, backend.Latencies{})
			// 1000 stations answer a Reset 10s after it came: at the very instant
			// the caller's deadline ends. Either may win; nothing may freeze.
			const stations = 1000
			sts := make([]*station.Station, stations)
			for i := range sts {
				sts[i] = connect(t, l, i+1, answering(map[string]station.Reply{ocpp.ActionReset: {Delay: 10 * time.Second}}), true)
			}
			settle(t)
			start := time.Now()
			outs := make([]<-chan outcome, stations)
			for i, st := range sts {
				outs[i] = call(srv, start, st.ID(), ocpp.ActionReset, reset, nil, 10*time.Second)
			}
			answered := 0
			for _, ch := range outs {
				if o := await(t, "a Reset answered at its deadline", ch); o.err == nil {
					answered++
				}
			}
			t.Logf("%d of %d Resets answered at their deadline, the others timed out", answered, stations)

			// Every station can be called again.
			start = time.Now()
			for i, st := range sts {
				outs[i] = call(srv, start, st.ID(), ocpp.ActionGetConfiguration, ocpp.GetConfigurationRequest{}, nil, time.Minute)
			}
			var stuck []string
			for i, ch := range outs {
				if o := await(t, "a GetConfiguration", ch); o.err != nil {
					stuck = append(stuck, fmt.Sprintf("%s (%v)", sts[i].ID(), o.err))
				}
			}
			if len(stuck) > 0 {
				t.Errorf("%d stations were not answered any more after an answer and a deadline met, e.g. %s: "+
					"the connection's reader must never wait for a caller, which may have given up; "+
					"a reader stuck handing over one late answer reads nothing from its station again. "+
					"(A server whose readers are stuck cannot close: this test runs in a process of its own, "+
					"which then ends with synctest's deadlock panic.)",
					len(stuck), strings.Join(stuck[:min(3, len(stuck))], "; "))
			}
			if n := srv.PendingCalls(); n != 0 {
				t.Errorf("PendingCalls() = %d after every call returned, want 0", n)
			}
		})
	})
}

func TestDisconnectFailsCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv, l, _ := setup(t, backend.Latencies{})
		// The station hangs up 5s after the Reset came, without answering.
		st := connect(t, l, 1, answering(map[string]station.Reply{
			ocpp.ActionReset:            {Delay: 5 * time.Second, Disconnect: true},
			ocpp.ActionGetConfiguration: {Drop: true},
		}), true)
		start := time.Now()
		outs := []<-chan outcome{call(srv, start, st.ID(), ocpp.ActionReset, reset, nil, time.Minute)}
		settle(t)
		for range 2 { // queued behind the Reset
			outs = append(outs, call(srv, start, st.ID(), ocpp.ActionGetConfiguration, ocpp.GetConfigurationRequest{}, nil, time.Minute))
		}
		for i, ch := range outs {
			what := "the Reset in flight"
			if i > 0 {
				what = fmt.Sprintf("queued call %d", i)
			}
			o := await(t, what, ch)
			if !errors.Is(o.err, servercalls.ErrDisconnected) || o.at != 5*time.Second {
				t.Errorf("%s returned at %v with error %v, want it to fail at 5s, when the station hung up, "+
					"with servercalls.ErrDisconnected: no answer can come on a closed connection, "+
					"and the caller should know why at once rather than at its deadline", what, o.at, o.err)
			}
		}
		if n := srv.PendingCalls(); n != 0 {
			t.Errorf("PendingCalls() = %d after the station hung up, want 0", n)
		}
		// The calls fail the moment the connection is known gone; the
		// reader's cleanup may still be running. Once it is done, the
		// station is not connected.
		settle(t)
		err := srv.Call(t.Context(), st.ID(), ocpp.ActionReset, reset, nil)
		if !errors.Is(err, servercalls.ErrNotConnected) {
			t.Errorf("a call to the station after it hung up returned %v, want servercalls.ErrNotConnected", err)
		}
	})
}

func TestReconnectKeepsCallsApart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv, l, _ := setup(t, backend.Latencies{})
		// The station reboots: its new connection comes while the server
		// still holds the old one, as happens in the field. The old
		// connection answers a Reset after 10s and never a GetConfiguration;
		// the new one answers a GetConfiguration after 20s.
		old := connect(t, l, 1, answering(map[string]station.Reply{
			ocpp.ActionReset:            {Delay: 10 * time.Second},
			ocpp.ActionGetConfiguration: {Drop: true},
		}), true)
		start := time.Now()
		var resetResp ocpp.ResetResponse
		a := call(srv, start, old.ID(), ocpp.ActionReset, reset, &resetResp, time.Minute)
		settle(t)
		d := call(srv, start, old.ID(), ocpp.ActionGetConfiguration, ocpp.GetConfigurationRequest{}, nil, time.Minute)
		settle(t)
		connect(t, l, 1, answering(map[string]station.Reply{ocpp.ActionGetConfiguration: {Delay: 20 * time.Second}}), true)
		var conf ocpp.GetConfigurationResponse
		b := call(srv, start, old.ID(), ocpp.ActionGetConfiguration, ocpp.GetConfigurationRequest{}, &conf, time.Minute)
		time.Sleep(30 * time.Second)
		old.Close() // the server sees the old connection end now

		o := await(t, "the Reset on the old connection", a)
		if o.err != nil || o.at != 10*time.Second || resetResp.Status != ocpp.ResetAccepted {
			t.Errorf("the Reset sent on the old connection returned at %v (error %v, status %q), "+
				"want the old connection's answer at 10s (Accepted)", o.at, o.err, resetResp.Status)
		}
		o = await(t, "the GetConfiguration on the new connection", b)
		if o.err != nil || o.at != 20*time.Second || len(conf.ConfigurationKey) == 0 {
			t.Errorf("the GetConfiguration sent on the new connection returned at %v (error %v, %d keys), "+
				"want the new connection's answer at 20s: an answer that comes on the old connection "+
				"belongs to a call of the old connection, whatever its message id", o.at, o.err, len(conf.ConfigurationKey))
		}
		o = await(t, "the GetConfiguration queued on the old connection", d)
		if !errors.Is(o.err, servercalls.ErrDisconnected) || o.at != 30*time.Second {
			t.Errorf("the call queued on the old connection returned at %v with %v, want servercalls.ErrDisconnected "+
				"at 30s, when the old connection ended: its calls end with it", o.at, o.err)
		}
		// The old connection's end left the new one alone.
		e := call(srv, start, old.ID(), ocpp.ActionGetConfiguration, ocpp.GetConfigurationRequest{}, nil, time.Minute)
		if o := await(t, "a call after the old connection ended", e); o.err != nil || o.at != 50*time.Second {
			t.Errorf("a call after the old connection ended returned at %v with %v, want the new connection's answer at 50s: "+
				"the end of a stale connection must not touch the station's new one", o.at, o.err)
		}
	})
}

func TestLateAnswerDropped(t *testing.T) {
	// In a process of its own: a server whose reader is stuck can never
	// close, and its bubble would end the whole test binary.
	kit.Isolated(t, func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			srv, l, logs := setup(t, backend.Latencies{})
			st := connect(t, l, 1, answering(map[string]station.Reply{ocpp.ActionReset: {Delay: 20 * time.Second}}), true)
			start := time.Now()
			o := await(t, "the Reset", call(srv, start, st.ID(), ocpp.ActionReset, reset, nil, 10*time.Second))
			if !errors.Is(o.err, context.DeadlineExceeded) || o.at != 10*time.Second {
				t.Fatalf("the Reset answered after 20s, with a 10s deadline, returned at %v with %v, want context.DeadlineExceeded at 10s", o.at, o.err)
			}
			time.Sleep(15 * time.Second) // the late answer came at 20s
			settle(t)
			lateID := st.ServerCalls()[0].ID
			if !logs.mentions(lateID) {
				t.Errorf("no log record mentions the late answer (id %s): a dropped answer should be logged, "+
					"it is the only trace of a station that answers too slowly", lateID)
			}
			o = await(t, "a GetConfiguration after the late answer",
				call(srv, start, st.ID(), ocpp.ActionGetConfiguration, ocpp.GetConfigurationRequest{}, nil, time.Minute))
			if o.err != nil || o.at != 25*time.Second {
				t.Errorf("a call after the late answer returned at %v with %v, want its answer at once (25s): "+
					"the late answer must be dropped without holding up the connection's reader. "+
					"(If the reader is stuck, the server cannot close: this test runs in a process of its own, "+
					"which then ends with synctest's deadlock panic.)", o.at, o.err)
			}
		})
	})
}

func TestCallsWaitForBoot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv, l, _ := setup(t, backend.WorkshopLatencies())
		st := connect(t, l, 1, nil, false)
		settle(t) // the server has the connection
		start := time.Now()
		a := call(srv, start, st.ID(), ocpp.ActionReset, reset, nil, time.Minute)
		time.Sleep(10 * time.Second)
		settle(t)
		if n := len(st.ServerCalls()); n != 0 {
			t.Errorf("the station received %d calls before its BootNotification, want 0: "+
				"stations in the field ignore calls until their BootNotification was accepted", n)
		}
		req := ocpp.BootNotificationRequest{ChargePointVendor: "Kata", ChargePointModel: "Test"}
		if err := st.Call(t.Context(), ocpp.ActionBootNotification, req, nil); err != nil {
			t.Fatalf("BootNotification: %v", err)
		}
		accepted := time.Since(start)
		o := await(t, "the Reset", a)
		if o.err != nil {
			t.Errorf("the Reset returned %v after the BootNotification was accepted, want its answer", o.err)
		}
		if sc := st.ServerCalls(); len(sc) == 0 || sc[0].Received.Sub(start) < accepted {
			got := "never"
			if len(sc) > 0 {
				got = fmt.Sprintf("at %v", sc[0].Received.Sub(start))
			}
			t.Errorf("the Reset reached the station %s, want it after the station read that its BootNotification "+
				"was accepted (%v): the answer is what tells the station it may take calls", got, accepted)
		}
	})
}

func TestCallErrorsAreTyped(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reply station.Reply
		check func(t *testing.T, err error, resp ocpp.ResetResponse)
	}{
		{"CALLERROR", station.Reply{Payload: ocpp.NewCallError("", ocpp.NotSupported, "no resets here")},
			func(t *testing.T, err error, _ ocpp.ResetResponse) {
				var ce *ocpp.CallError
				if !errors.As(err, &ce) || ce.Code != ocpp.NotSupported || ce.Description != "no resets here" {
					t.Errorf("Call returned %v, want an error that errors.As finds as a *ocpp.CallError "+
						"with code NotSupported and description %q", err, "no resets here")
				}
			}},
		{"answer breaking the schema", station.Reply{Payload: map[string]string{"status": "Maybe"}},
			func(t *testing.T, err error, resp ocpp.ResetResponse) {
				if err == nil {
					t.Errorf("Call returned no error for a ResetResponse with status %q, want an error: "+
						"a response that breaks the schema must not pass for a valid one", resp.Status)
				}
			}},
		{"answer", station.Reply{},
			func(t *testing.T, err error, resp ocpp.ResetResponse) {
				if err != nil || resp.Status != ocpp.ResetAccepted {
					t.Errorf("Call returned %v with status %q, want status Accepted", err, resp.Status)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv, l, _ := setup(t, backend.Latencies{})
				st := connect(t, l, 1, answering(map[string]station.Reply{ocpp.ActionReset: tc.reply}), true)
				var resp ocpp.ResetResponse
				err := srv.Call(t.Context(), st.ID(), ocpp.ActionReset, reset, &resp)
				tc.check(t, err, resp)
			})
		})
	}
}

func TestCloseWaitsForCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := backend.New(backend.Options{})
		gate := b.HoldFirm(func(w backend.Work) bool { return w.Kind == backend.KindCall && w.Action == ocpp.ActionHeartbeat })
		srv := servercalls.New(servercalls.Config{Backend: b, Workers: 4})
		l := kit.Serve(t, srv)
		st := connect(t, l, 1, nil, true)
		if _, err := st.Send(t.Context(), ocpp.ActionHeartbeat, nil); err != nil {
			t.Fatal(err)
		}
		settle(t)
		kit.CloseWaits(t, srv, b, gate)
	})
}

// logRecorder is a slog.Handler that keeps every record.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *logRecorder) WithGroup(string) slog.Handler            { return r }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, rec.Clone())
	return nil
}

// mentions reports whether a record has an attribute whose value is s.
func (r *logRecorder) mentions(s string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range r.records {
		found := false
		rec.Attrs(func(a slog.Attr) bool {
			found = a.Value.String() == s
			return !found
		})
		if found {
			return true
		}
	}
	return false
}

func TestUnknownAnswerIgnored(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv, l, logs := setup(t, backend.Latencies{})
		// A station written by hand, to send answers no simulated station
		// would: to calls that were never made.
		d := websocket.Dialer{NetDialContext: l.DialContext, Subprotocols: []string{"ocpp1.6"}}
		ws, _, err := d.DialContext(t.Context(), kit.URL+"/CS0001", nil)
		if err != nil {
			t.Fatalf("connecting: %v", err)
		}
		t.Cleanup(func() { ws.Close() })
		write := func(frame string) {
			t.Helper()
			if err := ws.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
				t.Fatalf("writing %s: %v", frame, err)
			}
		}
		read := func() []any {
			t.Helper()
			_, data, err := ws.ReadMessage()
			if err != nil {
				t.Fatalf("reading: %v", err)
			}
			var frame []any
			if err := json.Unmarshal(data, &frame); err != nil || len(frame) < 3 {
				t.Fatalf("reading: %q is not an OCPP-J frame", data)
			}
			return frame
		}
		write(`[3,"never-asked",{"status":"Accepted"}]`)
		write(`[4,"never-asked-either","GenericError","",{}]`)
		write(`[2,"b1","BootNotification",{"chargePointVendor":"Kata","chargePointModel":"Hand"}]`)
		if f := read(); f[0] != 3.0 || f[1] != "b1" {
			t.Fatalf("the BootNotification was answered with %v, want a CALLRESULT with id b1: "+
				"answers to calls never made must be ignored, and the connection go on", f)
		}
		for _, id := range []string{"never-asked", "never-asked-either"} {
			if !logs.mentions(id) {
				t.Errorf("no log record mentions the answer with the unknown id %s, want one: it is dropped, and said so", id)
			}
		}

		var resp ocpp.ResetResponse
		done := make(chan error, 1)
		go func() { done <- srv.Call(t.Context(), "CS0001", ocpp.ActionReset, reset, &resp) }()
		f := read()
		if f[0] != 2.0 || f[2] != ocpp.ActionReset {
			t.Fatalf("the server sent %v, want its Reset", f)
		}
		write(`[3,"` + fmt.Sprint(f[1]) + `x",{"status":"Rejected"}]`) // an id that is not the call's
		write(`[3,"` + fmt.Sprint(f[1]) + `",{"status":"Accepted"}]`)
		if err, ok := kit.Await(t, done); !ok || err != nil || resp.Status != ocpp.ResetAccepted {
			t.Errorf("the Reset returned %v with status %q, want status Accepted: the answer whose id is the call's, "+
				"not the one before it with another id", err, resp.Status)
		}
	})
}
