package shutdown_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"

	shutdown "github.com/ocppkata/kata/exercises/08-shutdown"
	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/kit"
	"github.com/ocppkata/kata/harness/memnet"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/stations/station"
)

// The suite runs on the workshop's latencies and fake time. A loaded server
// has work at every stage when Shutdown begins: messages not yet read in
// the connections, calls in the workers, readers waiting for room in a full
// queue, queued status notifications, processing in flight, meter values in
// a batch that is filling and in a write.

// loadConfig keeps every stage small, so that each is full.
func loadConfig(b *backend.Backend) shutdown.Config {
	return shutdown.Config{
		Backend: b, Workers: 4, QueueLimit: 4, ProcessLimit: 4,
		Batch: shutdown.BatchConfig{Size: 10, Interval: time.Second, Concurrency: 1, Slots: 2},
	}
}

const (
	loadStations = 12
	loadEach     = 24 // messages each station pipelines: status notifications and meter values by turns
	loadIdle     = 3  // stations connected, with nothing to send
)

// A sent message, and what became of it.
type sent struct {
	station, action string
	answer          <-chan station.Answer
	got             station.Answer // once settled; got.ID is the message id
}

// load is the traffic of a loaded server: what each station sent.
type load struct {
	t        *testing.T
	stations []*station.Station
	idle     []*station.Station // booted, and sending nothing since
	calls    []sent             // Authorize, one a station: answered by a worker
	messages []sent             // answered at once, processed in the background
	senders  sync.WaitGroup
}

// startLoad boots the stations, and has each send an Authorize and then
// pipeline loadEach messages, and lets the server work for a while on fake
// time.
func startLoad(t *testing.T, l *memnet.Listener) *load {
	t.Helper()
	ld := &load{t: t}
	var mu sync.Mutex
	var wg sync.WaitGroup
	ld.stations = make([]*station.Station, loadStations)
	for i := range loadStations {
		wg.Go(func() { ld.stations[i] = kit.Boot(t, l, i+1) })
	}
	ld.idle = make([]*station.Station, loadIdle)
	for i := range loadIdle {
		wg.Go(func() { ld.idle[i] = kit.Boot(t, l, loadStations+i+1) })
	}
	wg.Wait()
	for _, st := range ld.stations {
		ld.senders.Go(func() {
			send := func(action string, req any) (sent, bool) {
				ans, err := st.Send(t.Context(), action, req)
				if err != nil {
					return sent{}, false // the server closed the connection
				}
				m := sent{station: st.ID(), action: action, answer: ans}
				return m, true
			}
			m, ok := send(ocpp.ActionAuthorize, ocpp.AuthorizeRequest{IdTag: "TAG-" + st.ID()})
			if !ok {
				return
			}
			mu.Lock()
			ld.calls = append(ld.calls, m)
			mu.Unlock()
			for i := range loadEach {
				var m sent
				if i%2 == 0 {
					m, ok = send(ocpp.ActionStatusNotification, ocpp.StatusNotificationRequest{
						ConnectorId: 1, ErrorCode: ocpp.ChargePointNoError, Status: ocpp.StatusAvailable})
				} else {
					m, ok = send(ocpp.ActionMeterValues, station.MeterValue(i))
				}
				if !ok {
					return
				}
				mu.Lock()
				ld.messages = append(ld.messages, m)
				mu.Unlock()
			}
		})
	}
	// Let the server get going: every stage fills.
	time.Sleep(1500 * time.Millisecond)
	synctest.Wait()
	return ld
}

// settle waits, once the server has closed the connections, for every
// station's sender and every answer (a station settles each call it sent
// when its connection ends).
func (ld *load) settle() {
	ld.senders.Wait()
	for _, st := range slices.Concat(ld.stations, ld.idle) {
		<-st.Done()
	}
	for _, ms := range [][]sent{ld.calls, ld.messages} {
		for i := range ms {
			ms[i].got = <-ms[i].answer
		}
	}
}

// outcome is what became of the background messages: which the server
// acknowledged, and how many times the backend processed (or wrote) each.
type outcome struct {
	acked     map[string][]string       // action → "station/id" of each acknowledged message
	processed map[string]map[string]int // action → "station/id" → times
}

func (ld *load) outcome(b *backend.Backend) outcome {
	o := outcome{acked: map[string][]string{}, processed: map[string]map[string]int{}}
	for _, a := range kinds {
		o.processed[a] = map[string]int{}
	}
	for _, m := range ld.messages {
		if m.got.Result != nil {
			o.acked[m.action] = append(o.acked[m.action], m.station+"/"+m.got.ID)
		}
	}
	for _, r := range b.Records() {
		if r.Kind == backend.KindProcess && !r.End.IsZero() && r.Err == nil {
			o.processed[r.Action][r.Station+"/"+r.CallID]++
		}
	}
	for _, r := range b.Batches() {
		for _, it := range r.Items {
			o.processed[it.Call.Action][it.Station+"/"+it.Call.ID]++
		}
	}
	return o
}

// lastWork returns when the last work the server gave the backend ended:
// a call, a processing or a batch write.
func lastWork(b *backend.Backend) time.Time {
	var last time.Time
	for _, r := range slices.Concat(b.Records(), b.Batches()) {
		if r.End.After(last) {
			last = r.End
		}
	}
	return last
}

// kinds are the actions answered at once and processed later.
var kinds = []string{ocpp.ActionStatusNotification, ocpp.ActionMeterValues}

// lost returns, for one action, the acknowledged messages never processed,
// those processed more than once, and those processed but never
// acknowledged.
func (o outcome) check(action string) (lost, twice, unacked []string) {
	acked := map[string]bool{}
	for _, k := range o.acked[action] {
		acked[k] = true
		if o.processed[action][k] == 0 {
			lost = append(lost, k)
		}
	}
	for k, n := range o.processed[action] {
		if n > 1 {
			twice = append(twice, k)
		}
		if !acked[k] {
			unacked = append(unacked, k)
		}
	}
	slices.Sort(lost)
	slices.Sort(twice)
	slices.Sort(unacked)
	return lost, twice, unacked
}

// some lists a few of many.
func some(keys []string) string {
	if len(keys) > 3 {
		return strings.Join(keys[:3], ", ") + ", …"
	}
	return strings.Join(keys, ", ")
}

// checkReport checks that what a *ShutdownError reports dropped adds up:
// for each kind, processed + dropped = acknowledged.
func (o outcome) checkReport(t *testing.T, dropped shutdown.Dropped) {
	t.Helper()
	reported := map[string]int{ocpp.ActionStatusNotification: dropped.Processing, ocpp.ActionMeterValues: dropped.MeterValues}
	for _, action := range kinds {
		lost, twice, unacked := o.check(action)
		if len(twice) > 0 || len(unacked) > 0 {
			t.Errorf("%s: %d processed more than once, %d processed but never acknowledged (e.g. %s), want none",
				action, len(twice), len(unacked), some(slices.Concat(twice, unacked)))
		}
		switch {
		case reported[action] != len(lost):
			t.Errorf("%s: %d acknowledged, %d processed, so %d dropped; Shutdown reported %d: "+
				"the report must add up, or the operator cannot tell stations what to send again "+
				"(count what a reader held, what sat in a queue or a batch, and what a cancelled write or processing lost)",
				action, len(o.acked[action]), len(o.acked[action])-len(lost), len(lost), reported[action])
		case len(twice) == 0 && len(unacked) == 0:
			t.Logf("%s: %d acknowledged, %d processed, %d reported dropped", action,
				len(o.acked[action]), len(o.acked[action])-len(lost), reported[action])
		}
	}
}

// notGoingAway returns the idle stations that were not closed with 1001
// (going away). (A station still writing when its connection closes reports
// its failed write instead: only the idle ones show the close frame.)
func (ld *load) notGoingAway() []string {
	var wrong []string
	for _, st := range ld.idle {
		var ce *websocket.CloseError
		if err := st.Err(); !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
			wrong = append(wrong, fmt.Sprintf("%s (%v)", st.ID(), err))
		}
	}
	return wrong
}

// Which stage of the drain ends last: each must be waited for.
const (
	slowCall    = 10 * time.Second // a DataTransfer's time in the backend: a worker's call ends last
	writesAfter = 15 * time.Second // or the batch writes wait this long after Shutdown began: they end last
)

func TestShutdownDrainsAcknowledged(t *testing.T) {
	t.Run("a worker's call ends last", func(t *testing.T) { synctest.Test(t, func(t *testing.T) { testDrain(t, true) }) })
	t.Run("the batch writes end last", func(t *testing.T) { synctest.Test(t, func(t *testing.T) { testDrain(t, false) }) })
}

// testDrain loads the server and shuts it down without a deadline. One
// more station makes a call just before Shutdown: with callLast it is slow,
// and a worker is still on it when every other stage has drained; else the
// batch writes are held until after every other stage has drained.
func testDrain(t *testing.T, callLast bool) {
	lat := backend.WorkshopLatencies()
	if callLast {
		lat.Action[ocpp.ActionDataTransfer] = slowCall
	}
	b := backend.New(backend.Options{Latencies: lat})
	cfg := loadConfig(b)
	cfg.Batch.Interval = time.Hour // a batch not full is pushed by Complete: one is filling when Shutdown begins
	srv := shutdown.New(cfg)
	l := kit.Serve(t, srv)
	slow := kit.Boot(t, l, loadStations+loadIdle+1)
	ld := startLoad(t, l)
	slowAnswer, err := slow.Send(t.Context(), ocpp.ActionDataTransfer, ocpp.DataTransferRequest{VendorId: "kata"})
	if err != nil {
		t.Fatal(err)
	}
	synctest.Wait() // the server has read it
	writes := b.Hold(func(w backend.Work) bool { return w.Kind == backend.KindBatch && !callLast })

	start := time.Now()
	shut := make(chan error, 1)
	var returned time.Time
	go func() {
		err := srv.Shutdown(context.Background())
		returned = time.Now()
		shut <- err
	}()
	if !callLast {
		time.Sleep(writesAfter)
		writes.Open()
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown without a deadline returned %v, want nil: with all the time it needs, it drains everything", err)
	}
	if err := srv.Shutdown(context.Background()); err != nil || time.Since(returned) != 0 {
		t.Errorf("a second Shutdown, once the first had returned nil, returned %v after %v, want nil at once: Shutdown is idempotent", err, time.Since(returned))
	}
	ld.settle()
	<-slow.Done()
	o := ld.outcome(b)
	for _, action := range kinds {
		lost, twice, unacked := o.check(action)
		if len(lost) == 0 && len(twice) == 0 && len(unacked) == 0 {
			t.Logf("%s: %d acknowledged, each processed once", action, len(o.acked[action]))
		}
		if len(lost) > 0 {
			t.Errorf("%d of %d %s messages were acknowledged and never processed (e.g. %s): "+
				"the station was told they were safe, so it will never send them again. "+
				"Shutdown must let every acknowledged message reach the backend before it stops the processors and the batches.",
				len(lost), len(o.acked[action]), action, some(lost))
		}
		if len(twice) > 0 {
			t.Errorf("%d %s messages were processed more than once (e.g. %s), want exactly once",
				len(twice), action, some(twice))
		}
		if len(unacked) > 0 {
			t.Errorf("%d %s messages were processed but never acknowledged (e.g. %s): the station will send them again, and they will count twice",
				len(unacked), action, some(unacked))
		}
	}
	var unanswered []string
	for _, c := range ld.calls {
		if c.got.Result == nil {
			unanswered = append(unanswered, fmt.Sprintf("%s (%v)", c.station, c.got.Err))
		}
	}
	if len(unanswered) > 0 {
		t.Errorf("%d of %d Authorize calls the server had read before Shutdown got no answer, e.g. %s: "+
			"a call the server read is the server's to answer: keep the connections open until the workers are done",
			len(unanswered), len(ld.calls), some(unanswered))
	}
	if got := <-slowAnswer; got.Result == nil {
		t.Errorf("the DataTransfer a worker had to answer when Shutdown began got no answer (%v): "+
			"a call the server read is the server's to answer: wait for the workers before closing the connections", got.Err)
	}
	if wrong := ld.notGoingAway(); len(wrong) > 0 {
		t.Errorf("%d of %d idle stations were not closed with 1001 (going away), e.g. %s: "+
			"a station told the server is going away reconnects elsewhere or later; one whose connection just drops assumes a fault",
			len(wrong), len(ld.idle), some(wrong))
	}
	// Shutdown cuts nothing short, and returns the instant the last
	// work ends: not before (the backend still works for a server that
	// said it was done), not after (nothing is left to wait for).
	var cut []string
	for _, r := range slices.Concat(b.Records(), b.Batches()) {
		switch {
		case r.Err != nil:
			cut = append(cut, fmt.Sprintf("%s of %s (%v)", r.Action, r.Station, r.Err))
		case r.Kind == backend.KindCall && r.End.Sub(r.Replied) < backend.WorkshopLatencies().After:
			// Handle's bookkeeping after the answer: cut short, it
			// still counts as a success.
			cut = append(cut, fmt.Sprintf("%s of %s (the worker's call, cut %v after its answer)", r.Action, r.Station, r.End.Sub(r.Replied)))
		}
	}
	if len(cut) > 0 {
		t.Errorf("%d pieces of the backend's work were cut short, e.g. %s: a Shutdown with all the time it needs "+
			"cuts nothing short: wait for every stage to end, the workers too, before the server's context is cancelled "+
			"(or the deadline passes)",
			len(cut), some(cut))
	}
	if last := lastWork(b); !returned.Equal(last) {
		if returned.Before(last) {
			t.Errorf("Shutdown returned %v after it began, while the backend still worked for the server until %v: "+
				"wait for every stage, the workers' calls and the Batcher's writes in flight too, before returning: "+
				"the caller closes what the server uses (a database) once Shutdown returns",
				returned.Sub(start), last.Sub(start))
		} else {
			t.Errorf("Shutdown returned %v after it began, want the instant the last work ended, %v: it waited %v for nothing. "+
				"A processor that is not told that nothing more will come ends only on its IdleTimeout (%v): "+
				"once no reader can enqueue, tell the processors to finish what they hold and end",
				returned.Sub(start), last.Sub(start), returned.Sub(last), shutdown.DefaultIdleTimeout)
		}
	}
}

func TestShutdownDeadlineReportsDropped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := backend.New(backend.Options{Latencies: backend.WorkshopLatencies()})
		srv := shutdown.New(loadConfig(b))
		l := kit.Serve(t, srv)
		ld := startLoad(t, l)

		const deadline = time.Second // far from enough for the work queued
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		start := time.Now()
		err := srv.Shutdown(ctx)
		took := time.Since(start)
		ld.settle()
		o := ld.outcome(b)

		switch {
		case took > deadline:
			t.Errorf("Shutdown returned %v after its deadline of %v (fake time), want at once: "+
				"when the context ends, give up what is left and return. Every wait of the drain must end with "+
				"Shutdown's context (the server's context, cancelled when it ends): the Batcher's Complete and its writes too",
				took-deadline, deadline)
		case took < deadline:
			t.Errorf("Shutdown with a deadline of %v returned after %v, want exactly at its deadline: "+
				"the test queued more work than that, so Shutdown gave up while it still had time", deadline, took)
		}
		again := srv.Shutdown(context.Background())
		var se2 *shutdown.ShutdownError
		if !errors.As(again, &se2) || time.Since(start) != took {
			t.Errorf("a second Shutdown, once the first had returned, returned %v after %v, want a *ShutdownError at once: "+
				"Shutdown is idempotent, and what was dropped is dropped", again, time.Since(start)-took)
		}
		var se *shutdown.ShutdownError
		switch {
		case err == nil:
			t.Fatalf("Shutdown with a deadline of %v returned nil, want the context's error: "+
				"it could not have processed everything in that time, and the caller must know what was lost", deadline)
		case !errors.Is(err, context.DeadlineExceeded):
			t.Errorf("Shutdown returned %v, want an error that wraps context.DeadlineExceeded (errors.Is)", err)
		case !errors.As(err, &se):
			t.Fatalf("Shutdown returned %v (%T), want a *ShutdownError that says what it dropped", err, err)
		}
		if se == nil {
			return
		}
		if se2 != nil && se2.Dropped != se.Dropped {
			t.Errorf("a second Shutdown reported %+v dropped, the first %+v, want the same: what was dropped does not change", se2.Dropped, se.Dropped)
		}
		o.checkReport(t, se.Dropped)
		if se.Dropped.Total() == 0 {
			t.Errorf("Shutdown reported nothing dropped, want some: the test queued far more work than a %v deadline allows", deadline)
		}
	})
}

func TestNothingAcceptedAfterShutdownBegins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := backend.New(backend.Options{Latencies: backend.WorkshopLatencies()})
		// The processing of the first status notifications is held, so
		// Shutdown is still draining while the test knocks.
		gate := b.HoldFirm(func(w backend.Work) bool { return w.Kind == backend.KindProcess })
		srv := shutdown.New(loadConfig(b))
		l := kit.Serve(t, srv)
		const n = 3
		sts := make([]*station.Station, n)
		for i := range sts {
			sts[i] = kit.Boot(t, l, i+1)
			if _, err := sendStatus(t, sts[i]); err != nil {
				t.Fatalf("%s's first status notification: %v", sts[i].ID(), err)
			}
		}
		synctest.Wait()
		if gate.Waiting() != n {
			t.Fatalf("%d status notifications held in processing, want %d", gate.Waiting(), n)
		}

		shut := make(chan error, 1)
		go func() { shut <- srv.Shutdown(context.Background()) }()
		synctest.Wait() // Shutdown has begun, and waits for the held processing

		// A new station knocks.
		newcomer, dialErr := station.Dial(t.Context(), station.StationID(n+1), kit.Stations(l))
		if dialErr == nil {
			newcomer.Close()
		}
		// A connected station sends one more message: the server must not
		// read it, or at least not acknowledge it.
		// (Its send waits while the server reads nothing: in a goroutine.)
		late := make(chan station.Answer, 1)
		go func() {
			ans, err := sendStatus(t, sts[0])
			if err != nil {
				late <- station.Answer{Err: err} // never written: the server closed first
				return
			}
			late <- <-ans
		}()
		synctest.Wait()
		gate.Open()
		if err := <-shut; err != nil {
			t.Errorf("Shutdown returned %v, want nil", err)
		}
		answer := <-late

		if dialErr == nil {
			t.Errorf("a station connected after Shutdown began, want it refused: " +
				"a server that is stopping takes no new work, or it never stops")
		}
		if answer.Result != nil {
			t.Errorf("a status notification sent after Shutdown began was acknowledged, want it not read (or read and not answered): " +
				"everything acknowledged must be processed, and the processors are being stopped: stop reading first")
		}
		for _, r := range b.Records() {
			if r.Station == sts[0].ID() && r.CallID == answer.ID && r.Kind == backend.KindProcess {
				t.Errorf("the status notification sent after Shutdown began was processed, want it left to the station to send again")
			}
		}
	})
}

// sendStatus sends a status notification without waiting for its answer.
func sendStatus(t *testing.T, s *station.Station) (<-chan station.Answer, error) {
	return s.Send(t.Context(), ocpp.ActionStatusNotification,
		ocpp.StatusNotificationRequest{ConnectorId: 1, ErrorCode: ocpp.ChargePointNoError, Status: ocpp.StatusAvailable})
}

func TestShutdownAndCloseTogether(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := backend.New(backend.Options{Latencies: backend.WorkshopLatencies()})
		srv := shutdown.New(loadConfig(b))
		l := kit.Serve(t, srv)
		ld := startLoad(t, l)

		// Two Shutdowns at once (a signal handler and a deferred call), and
		// a Close while they drain (the operator who will not wait).
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		type returned struct {
			err error
			at  time.Time
		}
		start := time.Now()
		var wg sync.WaitGroup
		shut := make([]returned, 2)
		for i := range shut {
			wg.Go(func() {
				err := srv.Shutdown(ctx)
				shut[i] = returned{err, time.Now()}
			})
		}
		kit.SettleThen(t, cancel)
		time.Sleep(100 * time.Millisecond)
		closing := time.Now()
		closeErr := srv.Close()
		closed := time.Now()
		wg.Wait()
		kit.CheckClose(t, closeErr)
		if closed.After(closing) {
			t.Errorf("Close returned %v after it was called, while Shutdown drained; want at once: "+
				"Close cuts a Shutdown short (it cancels everything the server waits on), it does not wait for the drain",
				closed.Sub(closing))
		}
		latest := shut[0].at // when the later of the two Shutdowns returned
		if shut[1].at.After(latest) {
			latest = shut[1].at
		}
		var first *shutdown.ShutdownError
		for i, r := range shut {
			var se *shutdown.ShutdownError
			switch {
			case !errors.As(r.err, &se) || !errors.Is(r.err, shutdown.ErrAborted):
				t.Errorf("Shutdown %d returned %v, want a *ShutdownError that wraps ErrAborted: "+
					"Close cut it short while acknowledged messages were still queued, and its caller must learn what was dropped", i+1, r.err)
			case first == nil:
				first = se
			case se.Dropped != first.Dropped:
				t.Errorf("the two Shutdowns reported %+v and %+v dropped, want the same: there was one shutdown", first.Dropped, se.Dropped)
			}
			switch {
			case r.at.Before(closing) && !latest.Before(closing):
				t.Errorf("Shutdown %d returned %v after it began, while the other was still draining (Close came %v after): "+
					"a second Shutdown must wait until the first is done, or its caller exits with the work still going",
					i+1, r.at.Sub(start), closing.Sub(start))
			case r.at.After(closed):
				t.Errorf("Shutdown %d returned %v after Close had returned, want with it: Close cut the drain short", i+1, r.at.Sub(closed))
			}
		}
		// Once stopped, the server says the same, at once.
		later := time.Now()
		err := srv.Shutdown(context.Background())
		var se *shutdown.ShutdownError
		switch {
		case time.Since(later) != 0:
			t.Errorf("a Shutdown after Close took %v, want at once: the server has stopped", time.Since(later))
		case !errors.As(err, &se) || !errors.Is(err, shutdown.ErrAborted):
			t.Errorf("a Shutdown after Close returned %v, want what the first ones returned: a *ShutdownError that wraps ErrAborted", err)
		case first != nil && se.Dropped != first.Dropped:
			t.Errorf("a Shutdown after Close reported %+v dropped, the first ones %+v, want the same", se.Dropped, first.Dropped)
		}
		kit.CheckClose(t, srv.Close())
		ld.settle()
		if first != nil {
			ld.outcome(b).checkReport(t, first.Dropped)
		}
	})
}

func TestCloseWaitsForProcessing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := backend.New(backend.Options{Latencies: backend.WorkshopLatencies()})
		gate := b.HoldFirm(func(w backend.Work) bool { return w.Kind == backend.KindProcess })
		srv := shutdown.New(loadConfig(b))
		l := kit.Serve(t, srv)
		s := kit.Boot(t, l, 1)
		if _, err := sendStatus(t, s); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		kit.CloseWaits(t, srv, b, gate)
	})
}

func TestShutdownFailsPendingCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := backend.New(backend.Options{Latencies: backend.WorkshopLatencies()})
		srv := shutdown.New(loadConfig(b))
		l := kit.Serve(t, srv)
		// A station that never answers the server's calls: one call waits
		// for its answer, one for its turn.
		opts := kit.Stations(l)
		opts.Answer = func(*ocpp.Call) station.Reply { return station.Reply{Drop: true} }
		silent, err := station.Dial(t.Context(), station.StationID(1), opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { silent.Close() })
		if err := silent.Call(t.Context(), ocpp.ActionBootNotification,
			ocpp.BootNotificationRequest{ChargePointVendor: "Kata", ChargePointModel: "Test"}, nil); err != nil {
			t.Fatal(err)
		}
		errs := make(chan error, 2)
		for range 2 {
			go func() {
				errs <- srv.Call(context.Background(), silent.ID(), ocpp.ActionReset, ocpp.ResetRequest{Type: ocpp.ResetSoft}, nil)
			}()
		}
		synctest.Wait()

		if err := srv.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown returned %v, want nil", err)
		}
		for range 2 {
			if err := <-errs; !errors.Is(err, shutdown.ErrShuttingDown) {
				t.Errorf("a pending Call returned %v, want an error that wraps ErrShuttingDown (errors.Is): "+
					"its caller must learn that no answer will come, and why", err)
			}
		}
		if err := srv.Call(context.Background(), silent.ID(), ocpp.ActionReset, ocpp.ResetRequest{Type: ocpp.ResetSoft}, nil); !errors.Is(err, shutdown.ErrShuttingDown) {
			t.Errorf("a Call after Shutdown returned %v, want an error that wraps ErrShuttingDown", err)
		}
	})
}
