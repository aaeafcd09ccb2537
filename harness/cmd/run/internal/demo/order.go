package demo

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/cmd/run/internal/chart"
	"github.com/ocppkata/kata/harness/cmd/run/internal/steplink"
	"github.com/ocppkata/kata/harness/internal/term"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/stations/station"
)

// Step 3's demo: a few stations pipeline their meter values, and the demo
// shows the order in which the server processed each station's.
const (
	orderStations = 5
	orderBurst    = 20
)

func orderScenario() scenario {
	lat := backend.WorkshopLatencies().Scaled(demoScale)
	intro := fmt.Sprintf(`%d stations each send %d meter values back to back, without waiting for answers.
The server acknowledges each at once and analyses it in the background (latencies
scaled ×%g: analysing a MeterValues takes %s here, %s in the lesson).
Below, each station's readings in the order the server analysed them: %s marks one
analysed after a later reading, which is a meter that runs backwards.`,
		orderStations, orderBurst, demoScale,
		lat.For(ocpp.ActionMeterValues), backend.WorkshopLatencies().For(ocpp.ActionMeterValues), "‹n›")
	return scenario{
		intro: intro,
		unit:  "meter values analysed",
		run: func(ctx context.Context, v string, newServer func(steplink.Config) steplink.Server, _ []string, workers int, progress func(done, total int)) (*runResult, error) {
			return runOrder(ctx, v, newServer, workers, lat, progress)
		},
		show: showOrder,
		compare: func(w io.Writer, st term.Style, runs []*runResult) {
			fmt.Fprintln(w)
			var line string
			for i, r := range runs {
				if i > 0 {
					line += "  →  "
				}
				line += fmt.Sprintf("%s: %d of %d out of order, up to %d of a station's at once", r.Variant, late(r), r.Planned, r.Overlap)
			}
			fmt.Fprintln(w, st.Bold(line))
		},
	}
}

func runOrder(ctx context.Context, v string, newServer func(steplink.Config) steplink.Server, workers int, lat backend.Latencies, progress func(done, total int)) (*runResult, error) {
	b := backend.New(backend.Options{Latencies: lat})
	opts, stop, err := onLoopback(newServer(steplink.Config{Backend: b, Workers: workers}))
	if err != nil {
		return nil, err
	}
	defer stop()

	r := &runResult{Run: chart.Run{Variant: v, Stations: orderStations}, Workers: workers, Planned: orderStations * orderBurst}
	stations, err := connectAll(ctx, opts, orderStations, func(int) {})
	defer closeAll(stations)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	var answers []<-chan station.Answer
	for _, st := range stations {
		if err := st.Call(ctx, ocpp.ActionBootNotification, ocpp.BootNotificationRequest{ChargePointVendor: "Kata", ChargePointModel: "Demo"}, nil); err != nil {
			return nil, fmt.Errorf("BootNotification from %s: %w", st.ID(), err)
		}
	}
	for i := range orderBurst {
		for _, st := range stations {
			req := station.MeterValue(i)
			ans, err := st.Send(ctx, ocpp.ActionMeterValues, req)
			if err != nil {
				return nil, fmt.Errorf("meter value from %s: %w", st.ID(), err)
			}
			answers = append(answers, ans)
		}
	}
	err = collect(ctx, answers, r, func(_ int, a station.Answer) {
		if a.Err == nil {
			r.AckMax = max(r.AckMax, a.Received.Sub(a.Sent))
		}
	})
	if err != nil {
		return nil, err
	}
	processed := func() int {
		n := 0
		for _, rec := range b.Records() {
			if rec.Kind == backend.KindProcess && !rec.End.IsZero() {
				n++
			}
		}
		return n
	}
	for processed() < r.Planned {
		progress(processed(), r.Planned)
		select {
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
			return nil, fmt.Errorf("the run took too long: %w", ctx.Err())
		}
	}
	r.Wall = time.Since(start)
	r.Peak = b.Stats().Peak
	r.Orders = make(map[string][]int)
	for _, st := range stations {
		for _, rec := range b.StationRecords(st.ID(), backend.KindProcess) {
			n, _ := strconv.Atoi(rec.CallID)
			r.Orders[st.ID()] = append(r.Orders[st.ID()], n-1) // call 1 was the BootNotification
		}
		r.Overlap = max(r.Overlap, b.StationPeak(st.ID(), backend.KindProcess))
	}
	return r, nil
}

// late counts the readings analysed after a later one, over every station.
func late(r *runResult) int {
	n := 0
	for _, order := range r.Orders {
		n += station.OutOfOrder(order)
	}
	return n
}

func showOrder(w io.Writer, st term.Style, r *runResult) {
	runHeader(w, st, r, fmt.Sprintf("Config.Workers %d", r.Workers))
	fmt.Fprintf(w, "%d/%d acknowledged, the slowest in %s · all analysed in %s · %d out of order · up to %d of one station's at once\n\n",
		r.Answered, r.Planned, r.AckMax.Round(100*time.Microsecond), term.Seconds(r.Wall.Seconds()), late(r), r.Overlap)
	ids := make([]string, 0, len(r.Orders))
	for id := range r.Orders {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		var line strings.Builder
		highest := 0
		for _, n := range r.Orders[id] {
			cell := fmt.Sprintf(" %2d ", n)
			if n < highest {
				cell = st.Paint("1;31", fmt.Sprintf("‹%2d›", n))
			}
			highest = max(highest, n)
			line.WriteString(cell)
		}
		fmt.Fprintf(w, "  %s %s\n", id, line.String())
	}
}
