package servercalls_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
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
	return setupWith(t, servercalls.Config{Backend: backend.New(backend.Options{Latencies: lat})})
}

// setupWith starts a server with cfg (its Workers and Logger set here).
func setupWith(t *testing.T, cfg servercalls.Config) (*servercalls.Server, *memnet.Listener, *logRecorder) {
	t.Helper()
	// Runs after the server's Close (cleanups run last first): whatever a
	// call left waiting on a timer is reported by then, and ends now, so
	// that the bubble can end and the suite goes on.
	t.Cleanup(func() { time.Sleep(time.Hour) })
	logs := &logRecorder{}
	cfg.Workers, cfg.Logger = 4, slog.New(logs)
	srv := servercalls.New(cfg)
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
	ctx, cancel := context.Background(), context.CancelFunc(func() {})
	if timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, timeout)
	}
	return callWith(ctx, cancel, srv, start, id, action, req, resp)
}

// callWith runs srv.Call with ctx in a goroutine, calls cancel when it
// returned, and returns where its outcome will be delivered.
func callWith(ctx context.Context, cancel context.CancelFunc, srv *servercalls.Server, start time.Time, id, action string, req, resp any) <-chan outcome {
	out := make(chan outcome, 1)
	go func() {
		defer cancel()
		err := srv.Call(ctx, id, action, req, resp)
		out <- outcome{err: err, at: time.Since(start)}
	}()
	return out
}

// returned waits for a Call's outcome, as await does, and says what came:
// "returned at 5s with …", or that it had not returned.
func returned(t *testing.T, ch <-chan outcome) said {
	t.Helper()
	o, ok := kit.Await(t, ch)
	return said{o, ok}
}

// said is a Call's outcome, or none, as a failure message tells it.
type said struct {
	outcome
	ok bool
}

func (s said) String() string {
	if !s.ok {
		return "was still waiting a minute after everything else had stopped"
	}
	return fmt.Sprintf("returned at %v with %v", s.at, s.err)
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

		// An operator's request that is not JSON: Call fails at once and
		// sends nothing, and the station's next call goes at once.
		start = time.Now()
		bad := call(srv, start, st.ID(), ocpp.ActionDataTransfer, json.RawMessage(`{"vendorId": kata`), nil, time.Minute)
		if o := await(t, "the DataTransfer whose request is not JSON", bad); o.err == nil || o.at != 0 {
			t.Errorf("a DataTransfer whose request is not JSON returned at %v with error %v, want an error at once", o.at, o.err)
		}
		var resp ocpp.DataTransferResponse
		next := call(srv, start, st.ID(), ocpp.ActionDataTransfer, ocpp.DataTransferRequest{VendorId: "kata", Data: "next"}, &resp, 30*time.Second)
		if o := await(t, "the DataTransfer after it", next); o.err != nil || o.at != time.Second || resp.Data != "next" {
			t.Errorf("the DataTransfer after the one whose request was not JSON returned at %v with error %v (data %q), "+
				"want its own answer at 1s: sent at once, answered a second later. The call that failed took the "+
				"station's turn: it must give it back however it returns (a defer does), or the station's calls wait forever",
				o.at, o.err, resp.Data)
		}
		if n := len(st.ServerCalls()); n != callers+1 {
			t.Errorf("the station received %d calls, want %d: the %d calls, then the one after the request that is not JSON, which is never sent", n, callers+1, callers)
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
		kit.Settle(t) // a is in flight
		// b waits behind a, and gives up first; c waits longer than a.
		b := call(srv, start, st.ID(), ocpp.ActionGetConfiguration, ocpp.GetConfigurationRequest{}, nil, 10*time.Second)
		kit.Settle(t)
		// b2 waits behind b, and its caller cancels it at 5s.
		ctx, cancel := context.WithCancel(context.Background())
		b2 := callWith(ctx, cancel, srv, start, st.ID(), ocpp.ActionGetConfiguration, ocpp.GetConfigurationRequest{}, nil)
		time.AfterFunc(5*time.Second, cancel)
		kit.Settle(t)
		var conf ocpp.GetConfigurationResponse
		c := call(srv, start, st.ID(), ocpp.ActionGetConfiguration, ocpp.GetConfigurationRequest{}, &conf, 45*time.Second)

		for _, w := range []struct {
			name string
			ch   <-chan outcome
			at   time.Duration
			err  error
		}{
			{"the Reset nobody answers (deadline 30s)", a, 30 * time.Second, context.DeadlineExceeded},
			{"the GetConfiguration queued behind it (deadline 10s)", b, 10 * time.Second, context.DeadlineExceeded},
			{"the GetConfiguration queued behind both, canceled at 5s", b2, 5 * time.Second, context.Canceled},
		} {
			o := await(t, w.name, w.ch)
			if !errors.Is(o.err, w.err) || o.at != w.at {
				t.Errorf("%s returned at %v with error %v, want it to return at %v with %v: "+
					"the end of the caller's context ends the wait exactly then, in the queue as on the wire, "+
					"and Call returns the context's own error (ctx.Err()), so the caller knows why", w.name, o.at, o.err, w.at, w.err)
			}
		}
		o := await(t, "the GetConfiguration with a later deadline (45s)", c)
		if o.err != nil || o.at != 31*time.Second || len(conf.ConfigurationKey) == 0 {
			t.Errorf("the GetConfiguration queued behind the unanswered Reset returned at %v (error %v, %d keys), "+
				"want its answer at 31s: sent when the Reset timed out (30s), answered a second later. "+
				"One unanswered call must stall the station's later calls only until its deadline, "+
				"and a call that gave up in the queue must not keep its place in it",
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

func TestCallTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const callTimeout = 20 * time.Second
		srv, l, _ := setupWith(t, servercalls.Config{Backend: backend.New(backend.Options{}), CallTimeout: callTimeout})
		// The station never answers a Reset. Three Resets, one after the
		// other: two whose context has no deadline, one with a far one.
		st := connect(t, l, 1, answering(map[string]station.Reply{ocpp.ActionReset: {Drop: true}}), true)
		start := time.Now()
		a := call(srv, start, st.ID(), ocpp.ActionReset, reset, nil, 0)
		kit.Settle(t)
		b := call(srv, start, st.ID(), ocpp.ActionReset, reset, nil, 0)
		kit.Settle(t)
		c := call(srv, start, st.ID(), ocpp.ActionReset, reset, nil, time.Hour)

		for _, w := range []struct {
			name     string
			ch       <-chan outcome
			sent, at time.Duration
		}{
			{"the first Reset (no deadline)", a, 0, 20 * time.Second},
			{"the second Reset (no deadline), queued behind it", b, 20 * time.Second, 40 * time.Second},
			{"the third Reset (deadline in an hour), queued behind both", c, 40 * time.Second, 60 * time.Second},
		} {
			o, ok := kit.Await(t, w.ch)
			if !ok {
				t.Fatalf("%s had not returned a minute after CallTimeout (%v) should have ended it: "+
					"Config.CallTimeout bounds the wait for a station's answer, whatever the caller's context, "+
					"or one silent station holds its calls forever", w.name, callTimeout)
			}
			if !errors.Is(o.err, context.DeadlineExceeded) || o.at != w.at {
				t.Errorf("%s returned at %v with error %v, want context.DeadlineExceeded at %v: sent when the one "+
					"before it gave up (%v), it waits CallTimeout (%v) for its answer from then, however long "+
					"its turn took to come and however late its own deadline", w.name, o.at, o.err, w.at, w.sent, callTimeout)
			}
		}
		var sent []time.Duration
		for _, sc := range st.ServerCalls() {
			sent = append(sent, sc.Received.Sub(start))
		}
		if want := []time.Duration{0, 20 * time.Second, 40 * time.Second}; !slices.Equal(sent, want) {
			t.Errorf("the station received the Resets at %v, want %v: each when the one before it gave up", sent, want)
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
		kit.Settle(t)
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
		kit.Settle(t)
		goroutines, pending := kit.Goroutines()-before, srv.PendingCalls()
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
			// 200 stations answer a Reset 10s after it came: at the very instant
			// the caller's deadline ends. Either may win; nothing may freeze.
			const stations = 200
			sts := make([]*station.Station, stations)
			for i := range sts {
				sts[i] = connect(t, l, i+1, answering(map[string]station.Reply{ocpp.ActionReset: {Delay: 10 * time.Second}}), true)
			}
			kit.Settle(t)
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
		kit.Settle(t)
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
		kit.Settle(t)
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
		kit.Settle(t)
		d := call(srv, start, old.ID(), ocpp.ActionGetConfiguration, ocpp.GetConfigurationRequest{}, nil, time.Minute)
		kit.Settle(t)
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
			st := dialHand(t, l, "CS0001")
			start := time.Now()
			// A Reset with a 10s deadline, and a GetConfiguration queued
			// behind it. The station answers the Reset at 20s, twice, while
			// the GetConfiguration (sent at 10s) waits; it answers that one at 25s.
			a := call(srv, start, st.id, ocpp.ActionReset, reset, nil, 10*time.Second)
			resetCall := st.mustRead(ocpp.TypeCall)
			var conf ocpp.GetConfigurationResponse
			b := call(srv, start, st.id, ocpp.ActionGetConfiguration, ocpp.GetConfigurationRequest{}, &conf, time.Minute)
			o := await(t, "the Reset", a)
			if !errors.Is(o.err, context.DeadlineExceeded) || o.at != 10*time.Second {
				t.Errorf("the Reset with a 10s deadline, answered only at 20s, returned at %v with %v, want context.DeadlineExceeded at 10s", o.at, o.err)
			}
			confCall := st.mustRead(ocpp.TypeCall)

			time.Sleep(time.Until(start.Add(20 * time.Second)))
			late := `[3,"` + resetCall.id + `",{"status":"Accepted"}]`
			err := st.write(late)
			if err == nil {
				err = st.write(late) // stations resend
			}
			if err == nil {
				err = st.heartbeat()
			}
			if err != nil || time.Since(start) != 20*time.Second {
				t.Errorf("after the station answered the Reset twice at 20s, 10s after its call gave up, its own Heartbeat "+
					"was answered at %v (%v), want at once (20s): the late answers must be dropped without holding up the "+
					"connection's reader, which is the only one reading this station. "+
					"(If the reader is stuck, the server cannot close: this test runs in a process of its own, "+
					"which then ends with synctest's deadlock panic.)", time.Since(start), err)
			}
			kit.Settle(t)
			if !logs.mentions(resetCall.id) {
				t.Errorf("no log record mentions the late answer (id %s): a dropped answer should be logged, "+
					"it is the only trace of a station that answers too slowly", resetCall.id)
			}

			time.Sleep(time.Until(start.Add(25 * time.Second)))
			if err := st.write(`[3,"` + confCall.id + `",{"configurationKey":[{"key":"HeartbeatInterval","readonly":false,"value":"300"}]}]`); err != nil {
				t.Errorf("the station could not answer the GetConfiguration: %v", err)
			}
			o = await(t, "the GetConfiguration", b)
			if o.err != nil || o.at != 25*time.Second || len(conf.ConfigurationKey) != 1 {
				why := "the station answered it then"
				if o.at == 20*time.Second {
					why = fmt.Sprintf("it returned when the Reset's late answer (id %s) came, at 20s; its own id was %s. "+
						"An answer belongs to the call whose id it carries, and a call's id is never one that a call "+
						"before it on the connection had", resetCall.id, confCall.id)
				}
				t.Errorf("the GetConfiguration, sent while the Reset's late answer was on its way, returned at %v "+
					"(error %v, %d keys), want its own answer at 25s (1 key): %s", o.at, o.err, len(conf.ConfigurationKey), why)
			}
			if resetCall.id == confCall.id {
				t.Errorf("the Reset and the GetConfiguration after it were both sent with message id %s, want two ids: "+
					"OCPP asks for an id unique on the connection, and a late answer tells its call only by it", confCall.id)
			}
		})
	})
}

// TestAnswerBeforeSendReturns: the station reads the server's CALL and
// answers it, twice, before the server's Send has returned (the test holds
// it there, as a busy machine may). The answer is the caller's all the same,
// and the reader goes on reading meanwhile.
func TestAnswerBeforeSendReturns(t *testing.T) {
	// In a process of its own: a server whose reader is stuck can never
	// close, and its bubble would end the whole test binary.
	kit.Isolated(t, func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			release := make(chan struct{})
			srv, l := serveHolding(t, release)
			st := dialHand(t, l, "CS0001")
			start := time.Now()
			var resp ocpp.ResetResponse
			out := call(srv, start, st.id, ocpp.ActionReset, reset, &resp, time.Minute)
			f := st.mustRead(ocpp.TypeCall) // the server's Send wrote it, and is held now
			answer := `[3,"` + f.id + `",{"status":"Accepted"}]`
			err := st.write(answer)
			if err == nil {
				err = st.write(answer) // stations resend
			}
			if err == nil {
				err = st.heartbeat()
			}
			if err != nil || time.Since(start) != 0 {
				t.Errorf("the station answered the server's Reset twice and then sent a Heartbeat; the Heartbeat was answered "+
					"at %v (%v), want at once (0s). The server's Call was still in Send then, not yet waiting for its answer: "+
					"the connection's reader must hand over the answer without waiting for the caller (a channel with room "+
					"for it), and hand over only one (the waiter taken out of the map as it is handed its answer), "+
					"or the station is not read any more", time.Since(start), err)
			}
			released := time.Now()
			close(release)
			o := await(t, "the Reset", out)
			if o.err != nil || resp.Status != ocpp.ResetAccepted || time.Since(released) != 0 {
				t.Errorf("the Reset returned %v after its Send was let go, with error %v (status %q), want its answer "+
					"(Accepted) at once: the answer came while Send was still returning, and a call must be ready for its "+
					"answer before it sends its request, its waiter in the map", time.Since(released), o.err, resp.Status)
			}
			if n := srv.PendingCalls(); n != 0 {
				t.Errorf("PendingCalls() = %d after the call returned, want 0", n)
			}
		})
	})
}

// serveHolding starts a server whose every Send of a CALL to a station, once
// the station has read it, waits until release is closed before it returns.
func serveHolding(t *testing.T, release <-chan struct{}) (*servercalls.Server, *memnet.Listener) {
	t.Helper()
	t.Cleanup(func() { time.Sleep(time.Hour) }) // as in setup
	srv := servercalls.New(servercalls.Config{Backend: backend.New(backend.Options{}), Workers: 4})
	l := memnet.Listen()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(holdingListener{l, release}) }()
	t.Cleanup(func() {
		kit.CheckClose(t, srv.Close())
		if err := <-served; err != nil && !errors.Is(err, memnet.ErrClosed) {
			t.Errorf("Serve returned %v after Close, want nil", err)
		}
		kit.NoneLeftBehind(t, srv)
	})
	return srv, l
}

// holdingListener's connections hold each CALL the server sends.
type holdingListener struct {
	*memnet.Listener
	release <-chan struct{}
}

func (l holdingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return holdingConn{c, l.release}, nil
}

// holdingConn is a wsconn.Tap: wsconn's Send tells it of each message it
// wrote, on the sending goroutine, before Send returns.
type holdingConn struct {
	net.Conn
	release <-chan struct{}
}

func (holdingConn) FrameRead(string, []byte) {}
func (c holdingConn) MessageSent(_ string, m ocpp.Message) {
	if m.Type() == ocpp.TypeCall {
		<-c.release
	}
}

// handStation is a station written by hand, frame by frame, to send what no
// simulated station would: answers twice, or at a moment of the test's
// choosing. Each read and write gives up after 10s, before the calls of the
// tests that use it end.
type handStation struct {
	t  *testing.T
	id string
	ws *websocket.Conn
}

// frame is an OCPP-J frame as a hand station reads it.
type frame struct {
	typ ocpp.MessageType
	id  string
	raw []byte
}

// dialHand connects a hand station and boots it.
func dialHand(t *testing.T, l *memnet.Listener, id string) *handStation {
	t.Helper()
	d := websocket.Dialer{NetDialContext: l.DialContext, Subprotocols: []string{"ocpp1.6"}}
	ws, _, err := d.DialContext(t.Context(), kit.URL+"/"+id, nil)
	if err != nil {
		t.Fatalf("connecting %s: %v", id, err)
	}
	t.Cleanup(func() { ws.Close() })
	st := &handStation{t: t, id: id, ws: ws}
	if err := st.write(`[2,"boot","BootNotification",{"chargePointVendor":"Kata","chargePointModel":"Hand"}]`); err != nil {
		t.Fatalf("BootNotification from %s: %v", id, err)
	}
	if f := st.mustRead(ocpp.TypeCallResult); f.id != "boot" {
		t.Fatalf("%s's BootNotification was answered with %s, want the answer to it (id boot)", id, f.raw)
	}
	return st
}

func (st *handStation) write(f string) error {
	st.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return st.ws.WriteMessage(websocket.TextMessage, []byte(f))
}

func (st *handStation) read() (frame, error) {
	st.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, data, err := st.ws.ReadMessage()
	if err != nil {
		return frame{}, err
	}
	var f []json.RawMessage
	var typ ocpp.MessageType
	var id string
	if json.Unmarshal(data, &f) != nil || len(f) < 3 || json.Unmarshal(f[0], &typ) != nil || json.Unmarshal(f[1], &id) != nil {
		return frame{}, fmt.Errorf("%q is not an OCPP-J frame", data)
	}
	return frame{typ: typ, id: id, raw: data}, nil
}

// mustRead reads a frame of type typ, or ends the test.
func (st *handStation) mustRead(typ ocpp.MessageType) frame {
	st.t.Helper()
	f, err := st.read()
	if err != nil {
		st.t.Fatalf("%s reading from the server: %v", st.id, err)
	}
	if f.typ != typ {
		st.t.Fatalf("%s read %s from the server, want a frame of type %d", st.id, f.raw, typ)
	}
	return f
}

// heartbeat sends a Heartbeat and reads its answer.
func (st *handStation) heartbeat() error {
	if err := st.write(`[2,"hb","Heartbeat",{}]`); err != nil {
		return err
	}
	f, err := st.read()
	if err == nil && (f.typ != ocpp.TypeCallResult || f.id != "hb") {
		err = fmt.Errorf("read %s, want the Heartbeat's answer", f.raw)
	}
	return err
}

func TestCallsWaitForBoot(t *testing.T) {
	// In a process of its own: a call that waits for a boot that never
	// comes, whatever happens, would keep the bubble from ever ending.
	kit.Isolated(t, func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			srv, l, _ := setup(t, backend.WorkshopLatencies())
			// Three stations connect and do not boot yet: the first boots at
			// 10s, the second never, and the third hangs up at 5s.
			st := connect(t, l, 1, nil, false)
			never := connect(t, l, 2, nil, false)
			hangs := connect(t, l, 3, nil, false)
			kit.Settle(t) // the server has the connections
			start := time.Now()
			a := call(srv, start, st.ID(), ocpp.ActionReset, reset, nil, time.Hour)
			b := call(srv, start, never.ID(), ocpp.ActionReset, reset, nil, 10*time.Second)
			c := call(srv, start, hangs.ID(), ocpp.ActionReset, reset, nil, time.Minute)
			time.Sleep(5 * time.Second)
			hangs.Close()
			time.Sleep(5 * time.Second)
			kit.Settle(t)
			if n := len(st.ServerCalls()) + len(never.ServerCalls()) + len(hangs.ServerCalls()); n != 0 {
				t.Errorf("the stations received %d calls before their BootNotification, want 0: "+
					"stations in the field ignore calls until their BootNotification was accepted", n)
			}
			if got := returned(t, b); !errors.Is(got.err, context.DeadlineExceeded) || got.at != 10*time.Second {
				t.Errorf("the Reset to the station that never boots %s, want context.DeadlineExceeded at 10s, "+
					"its deadline: the wait for the boot ends with the caller's context, with the context's error", got)
			}
			if got := returned(t, c); !errors.Is(got.err, servercalls.ErrDisconnected) || got.at != 5*time.Second {
				t.Errorf("the Reset to the station that hung up at 5s, before it booted, %s, want "+
					"servercalls.ErrDisconnected at 5s: a connection that ended will never boot, and the wait "+
					"for the boot ends with it", got)
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

			// Some stations send their BootNotification again on the same
			// connection: it is accepted again, and calls go on.
			if err := st.Call(t.Context(), ocpp.ActionBootNotification, req, nil); err != nil {
				t.Fatalf("a second BootNotification on the same connection: %v", err)
			}
			if o := await(t, "a Reset after a second BootNotification", call(srv, start, st.ID(), ocpp.ActionReset, reset, nil, time.Minute)); o.err != nil {
				t.Errorf("a Reset after the station's second BootNotification returned %v, want its answer: "+
					"a station that is accepted twice is booted, once", o.err)
			}
		})
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
		kit.Settle(t)
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
		switch err, ok := kit.Await(t, done); {
		case !ok:
			t.Errorf("the Reset had not returned a minute after its answer came, want it to return at once " +
				"with status Accepted: the answer whose id is the call's, not the one before it with another id")
		case err != nil || resp.Status != ocpp.ResetAccepted:
			t.Errorf("the Reset returned %v with status %q, want status Accepted: the answer whose id is the call's, "+
				"not the one before it with another id", err, resp.Status)
		}
	})
}
