package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/cmd/run/internal/chart"
	"github.com/ocppkata/kata/harness/cmd/run/internal/steplink"
	"github.com/ocppkata/kata/harness/internal/term"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/stations/station"
)

// Step 8's demo: stations pipeline status notifications and meter values
// as fast as the server lets them; a moment in, the server is stopped
// (Shutdown if it has one, else Close), and the demo counts what the server
// acknowledged and what reached the backend.
const (
	shutdownStations = 30
	shutdownEach     = 200                    // messages a station sends at most
	shutdownAfter    = time.Second            // when the server is stopped
	shutdownDeadline = 10 * time.Second       // Shutdown's context
	shutdownScale    = 0.1                    // the workshop's latencies, scaled
	shutdownSettle   = 200 * time.Millisecond // for the last goodbyes to arrive
)

// shutdownRun is what one run of step 8's demo measured.
type shutdownRun struct {
	Graceful  bool          `json:"graceful"`  // the server had Shutdown
	Acked     int           `json:"acked"`     // messages answered at once
	Processed int           `json:"processed"` // of those, processed or written
	Took      time.Duration `json:"took"`      // Shutdown (or Close)
	GoingAway int           `json:"goingAway"` // stations closed with 1001
	Err       string        `json:"err,omitempty"`
}

func shutdownScenario() scenario {
	intro := fmt.Sprintf(`%d stations pipeline status notifications and meter values (up to %d each) as fast as the server reads them.
After %v the server is stopped: Shutdown (with a %v deadline) if it has one, else Close.
Then the demo counts the messages the server acknowledged, and those that reached the backend.
Real time, the workshop's latencies scaled ×%g.`, shutdownStations, shutdownEach, shutdownAfter, shutdownDeadline, shutdownScale)
	return scenario{intro: intro, unit: "messages sent", run: runShutdown, show: showShutdown, compare: compareShutdown}
}

func runShutdown(ctx context.Context, v string, newServer func(steplink.Config) steplink.Server, _ []string, workers int, progress func(done, total int)) (*runResult, error) {
	b := backend.New(backend.Options{Latencies: backend.WorkshopLatencies().Scaled(shutdownScale)})
	srv := newServer(steplink.Config{Backend: b, Workers: workers})
	opts, stop, err := onLoopback(srv)
	if err != nil {
		return nil, err
	}
	r := &runResult{Run: chart.Run{Variant: v, Stations: shutdownStations}, Workers: workers, Planned: shutdownStations * shutdownEach}
	stations, err := connectAll(ctx, opts, shutdownStations, func(int) {})
	defer closeAll(stations)
	if err != nil {
		stop()
		return nil, err
	}
	boot := ocpp.BootNotificationRequest{ChargePointVendor: "Kata", ChargePointModel: "Demo"}
	for _, st := range stations {
		if err := st.Call(ctx, ocpp.ActionBootNotification, boot, nil); err != nil {
			stop()
			return nil, fmt.Errorf("BootNotification from %s: %w", st.ID(), err)
		}
	}

	var (
		mu      sync.Mutex
		answers []<-chan station.Answer
		senders sync.WaitGroup
	)
	start := time.Now()
	for _, st := range stations {
		senders.Go(func() {
			for i := range shutdownEach {
				var req any = station.MeterValue(i)
				action := ocpp.ActionMeterValues
				if i%2 == 0 {
					action, req = ocpp.ActionStatusNotification, ocpp.StatusNotificationRequest{
						ConnectorId: 1, ErrorCode: ocpp.ChargePointNoError, Status: ocpp.StatusCharging}
				}
				ans, err := st.Send(ctx, action, req)
				if err != nil {
					return // the server is gone
				}
				mu.Lock()
				answers = append(answers, ans)
				progress(len(answers), r.Planned)
				mu.Unlock()
			}
		})
	}
	time.Sleep(shutdownAfter)

	run := &shutdownRun{}
	stopped := time.Now()
	if g, ok := srv.(steplink.Graceful); ok {
		run.Graceful = true
		sctx, cancel := context.WithTimeout(ctx, shutdownDeadline)
		err = g.Shutdown(sctx)
		cancel()
	} else {
		err = srv.Close()
	}
	run.Took = time.Since(stopped)
	if err != nil {
		run.Err = err.Error()
	}
	if err := stop(); err != nil && run.Err == "" {
		run.Err = err.Error()
	}
	time.Sleep(shutdownSettle)
	for _, st := range stations {
		st.Close() // a station whose server never closed it
	}
	senders.Wait()
	for _, ans := range answers {
		if a := <-ans; a.Result != nil {
			run.Acked++
		}
	}
	for _, st := range stations {
		var ce *websocket.CloseError
		if errors.As(st.Err(), &ce) && ce.Code == websocket.CloseGoingAway {
			run.GoingAway++
		}
	}
	for _, rec := range b.Records() {
		switch {
		case rec.End.IsZero() || rec.Err != nil:
		case rec.Kind == backend.KindProcess:
			run.Processed++
		case rec.Kind == backend.KindBatch:
			run.Processed += len(rec.Items)
		}
	}
	r.Answered, r.Wall, r.Shutdown = run.Acked, time.Since(start), run
	return r, nil
}

func showShutdown(w io.Writer, st term.Style, r *runResult) {
	runHeader(w, st, r, fmt.Sprintf("%d stations · Shutdown's deadline %v", r.Stations, shutdownDeadline))
	s := r.Shutdown
	how := "Close"
	if s.Graceful {
		how = "Shutdown"
	}
	fmt.Fprintf(w, "  stopped by %s in %v\n", how, s.Took.Round(time.Millisecond))
	fmt.Fprintf(w, "  acknowledged %d · reached the backend %d · %s\n", s.Acked, s.Processed,
		st.Bold(fmt.Sprintf("lost %d", s.Acked-s.Processed)))
	fmt.Fprintf(w, "  stations told 1001 (going away): %d of %d\n", s.GoingAway, r.Stations)
	if s.Err != "" {
		fmt.Fprintf(w, "  %s\n", st.Dim("returned: "+s.Err))
	}
	fmt.Fprintln(w)
}

func compareShutdown(w io.Writer, st term.Style, runs []*runResult) {
	var parts []string
	for _, r := range runs {
		s := r.Shutdown
		parts = append(parts, fmt.Sprintf("%s: %d of %d acknowledged lost", r.Variant, s.Acked-s.Processed, s.Acked))
	}
	fmt.Fprintln(w, st.Bold(joinArrow(parts)))
}

// joinArrow joins the runs' summaries as before → after.
func joinArrow(parts []string) string {
	out := ""
	for i, p := range parts {
		if i > 0 {
			out += "  →  "
		}
		out += p
	}
	return out
}
