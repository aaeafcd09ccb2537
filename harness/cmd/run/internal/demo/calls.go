package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/cmd/run/internal/chart"
	"github.com/ocppkata/kata/harness/cmd/run/internal/steplink"
	"github.com/ocppkata/kata/harness/internal/term"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/stations/station"
)

// Step 7's demo: the server calls four stations, four calls each at once.
// One station answers each call after a moment, one answers more slowly,
// one never answers, and one hangs up a moment after its first call came.
const (
	callsEach     = 4
	callsQuick    = 250 * time.Millisecond // the quick station's answer
	callsSlow     = 600 * time.Millisecond // the slow station's answer
	callsHangUp   = 900 * time.Millisecond // the hanging-up station's, after its first call
	callsDeadline = 2 * time.Second        // every call's context
	callsWidth    = 60                     // columns of a lane
	callsSlack    = 10 * time.Millisecond  // see inFlightSummary
)

// A demoCall is one of the server's calls, as offsets from the run's start.
type demoCall struct {
	Station, Tag    string        // Tag tells the call apart in its request
	Returned        time.Duration // Call returned
	Reached, Answer time.Duration // the station received it; answered it (0: never)
	Outcome         string        // answered, timed out, disconnected, or the error
}

// The stations of the demo, and how each answers the server's calls.
var callsStations = []struct {
	name  string
	reply station.Reply
}{
	{"quick", station.Reply{Delay: callsQuick}},
	{"slow", station.Reply{Delay: callsSlow}},
	{"silent", station.Reply{Drop: true}},
	{"hangs up", station.Reply{Delay: callsHangUp, Disconnect: true}},
}

func callsScenario() scenario {
	intro := fmt.Sprintf(`The server calls %d stations (DataTransfer), %d calls to each at once, each with a %s deadline.
Station 1 answers each call %s after it came, station 2 %s after, station 3 never,
and station 4 hangs up %s after its first call came. Real time, no scaling.
Below, for each run: a row per call, from Call to its return. %s waiting for its turn,
%s on the wire (the station has it), then ✓ answered, ⏱ deadline, ✗ disconnected.`,
		len(callsStations), callsEach, callsDeadline, callsQuick, callsSlow, callsHangUp, "·", "█")
	return scenario{
		intro:   intro,
		unit:    "calls returned",
		run:     runCalls,
		show:    showCalls,
		compare: compareCalls,
	}
}

// caller is what a step's server offers from step 07 on.
type caller interface {
	Call(ctx context.Context, station, action string, req, resp any) error
}

func runCalls(ctx context.Context, v string, newServer func(steplink.Config) steplink.Server, _ []string, workers int, progress func(done, total int)) (*runResult, error) {
	srv := newServer(steplink.Config{Backend: backend.New(backend.Options{}), Workers: workers})
	calls, ok := srv.(caller)
	if !ok {
		return nil, errors.New("this step's server has no Call method")
	}
	opts, stop, err := onLoopback(srv)
	if err != nil {
		return nil, err
	}
	r := &runResult{Run: chart.Run{Variant: v, Stations: len(callsStations)}, Workers: workers, Planned: len(callsStations) * callsEach}
	var stations []*station.Station
	defer func() { closeAll(stations) }()
	// Each call carries a tag in its DataTransfer's data; the stations note
	// which message id came with which tag, to tell when each reached them.
	var (
		mu    sync.Mutex
		tagOf = make(map[string]string) // station and message id → tag
	)
	boot := ocpp.BootNotificationRequest{ChargePointVendor: "Kata", ChargePointModel: "Demo"}
	for i, s := range callsStations {
		o := opts
		id := station.StationID(i + 1)
		o.Answer = func(c *ocpp.Call) station.Reply {
			var req ocpp.DataTransferRequest
			if c.UnmarshalPayload(&req) == nil {
				mu.Lock()
				tagOf[id+"/"+c.ID] = req.Data
				mu.Unlock()
			}
			reply := s.reply
			reply.Payload = station.DefaultAnswer(c).Payload
			return reply
		}
		st, err := station.Dial(ctx, id, o)
		if err != nil {
			stop()
			return nil, err
		}
		stations = append(stations, st)
		if err := st.Call(ctx, ocpp.ActionBootNotification, boot, nil); err != nil {
			stop()
			return nil, fmt.Errorf("BootNotification from %s: %w", st.ID(), err)
		}
	}
	time.Sleep(50 * time.Millisecond) // the boot answers are out

	start := time.Now()
	var wg sync.WaitGroup
	for _, st := range stations {
		for k := range callsEach {
			tag := fmt.Sprintf("%s-%d", st.ID(), k)
			wg.Go(func() {
				cctx, cancel := context.WithTimeout(ctx, callsDeadline)
				defer cancel()
				req := ocpp.DataTransferRequest{VendorId: "kata", Data: tag}
				err := calls.Call(cctx, st.ID(), ocpp.ActionDataTransfer, req, nil)
				c := demoCall{Station: st.ID(), Tag: tag, Returned: time.Since(start), Outcome: outcome(err)}
				mu.Lock()
				r.Calls = append(r.Calls, c)
				if err != nil {
					r.Failed++
				} else {
					r.Answered++
				}
				progress(r.Answered+r.Failed, r.Planned)
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	r.Wall = time.Since(start)
	seen := make(map[string]station.ServerCall) // by tag
	mu.Lock()
	for _, st := range stations {
		for _, sc := range st.ServerCalls() {
			if tag, ok := tagOf[st.ID()+"/"+sc.ID]; ok {
				seen[tag] = sc
			}
		}
	}
	mu.Unlock()
	for i, c := range r.Calls {
		if sc, ok := seen[c.Tag]; ok {
			r.Calls[i].Reached = sc.Received.Sub(start)
			if !sc.Answered.IsZero() {
				r.Calls[i].Answer = sc.Answered.Sub(start)
			}
		}
	}
	return r, stop()
}

// outcome names what a Call returned.
func outcome(err error) string {
	switch {
	case err == nil:
		return "answered"
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	case strings.Contains(err.Error(), "disconnect"):
		return "disconnected"
	}
	return err.Error()
}

func showCalls(w io.Writer, st term.Style, r *runResult) {
	runHeader(w, st, r, fmt.Sprintf("%d calls, %d per station", r.Planned, callsEach))
	fmt.Fprintf(w, "%s · %s\n\n", answered(st, r, "calls"), inFlightSummary(r))
	scale := float64(callsWidth) / float64(callsDeadline+callsDeadline/4)
	col := func(d time.Duration) int { return min(callsWidth-1, int(float64(d)*scale)) }
	for i, s := range callsStations {
		id := station.StationID(i + 1)
		calls := slices.DeleteFunc(slices.Clone(r.Calls), func(c demoCall) bool { return c.Station != id })
		// In the order they reached the station, those never sent last.
		slices.SortFunc(calls, func(a, b demoCall) int {
			if (a.Reached == 0) != (b.Reached == 0) {
				if a.Reached == 0 {
					return 1
				}
				return -1
			}
			if a.Reached != b.Reached {
				return int(a.Reached - b.Reached)
			}
			return int(a.Returned - b.Returned)
		})
		for k, c := range calls {
			label := ""
			if k == 0 {
				label = fmt.Sprintf("%s %s", id, s.name)
			}
			lane := []rune(strings.Repeat(" ", callsWidth))
			end := col(c.Returned)
			for x := 0; x < end; x++ {
				lane[x] = '·'
			}
			if c.Reached > 0 {
				for x := col(c.Reached); x < end; x++ {
					lane[x] = '█'
				}
			}
			mark, color := "?", "31"
			switch c.Outcome {
			case "answered":
				mark, color = "✓", "32"
			case "timed out":
				mark, color = "⏱", "33"
			case "disconnected":
				mark, color = "✗", "31"
			}
			lane[end] = []rune(mark)[0]
			fmt.Fprintf(w, "  %-17s %s %s\n", label, st.Paint(color, string(lane)), st.Dim(fmt.Sprintf("%s at %.2fs", c.Outcome, c.Returned.Seconds())))
		}
	}
}

// inFlightSummary says how many calls each station had unanswered at once, at most.
func inFlightSummary(r *runResult) string {
	return fmt.Sprintf("at most %s in flight to one station", term.Plural(mostInFlight(r), "call"))
}

// mostInFlight returns how many calls a station had unanswered at once, at
// most, over the stations.
func mostInFlight(r *runResult) int {
	most := 0
	for i := range callsStations {
		id := station.StationID(i + 1)
		type ev struct {
			at    time.Duration
			delta int
		}
		var evs []ev
		for _, c := range r.Calls {
			if c.Station != id || c.Reached == 0 {
				continue
			}
			evs = append(evs, ev{c.Reached, 1})
			end := c.Answer
			if end == 0 {
				end = c.Returned
			}
			// The station notes its answer once written, by which time the
			// server may have read it and sent the next call: a few
			// milliseconds of overlap are the clocks', not two calls.
			evs = append(evs, ev{end - callsSlack, -1})
		}
		slices.SortFunc(evs, func(a, b ev) int {
			if a.at != b.at {
				return int(a.at - b.at)
			}
			return a.delta - b.delta
		})
		n := 0
		for _, e := range evs {
			n += e.delta
			most = max(most, n)
		}
	}
	return most
}

func compareCalls(w io.Writer, st term.Style, runs []*runResult) {
	fmt.Fprintln(w)
	var parts []string
	for _, r := range runs {
		hungUp := time.Duration(0)
		for _, c := range r.Calls {
			if c.Station == station.StationID(4) {
				hungUp = max(hungUp, c.Returned)
			}
		}
		parts = append(parts, fmt.Sprintf("%s: %s, the hung-up station's calls ended by %.1fs",
			r.Variant, inFlightSummary(r), hungUp.Seconds()))
	}
	fmt.Fprintln(w, st.Bold(strings.Join(parts, "  →  ")))
	if why := whyAnsweredDiffer(runs); why != "" {
		fmt.Fprintln(w)
		fmt.Fprintln(w, why)
	}
}

// whyAnsweredDiffer explains, from what the runs measured, why one run
// answered fewer calls than another: taking turns, a slow station's later
// calls wait for the ones before them, and their deadline may come first. A
// run that answered more by sending a station several calls at once broke
// OCPP's rule of one call in flight. Empty if the runs answered as many.
func whyAnsweredDiffer(runs []*runResult) string {
	if len(runs) < 2 {
		return ""
	}
	count := func(r *runResult, id string) int {
		n := 0
		for _, c := range r.Calls {
			if c.Station == id && c.Outcome == "answered" {
				n++
			}
		}
		return n
	}
	var totals, why []string
	for _, r := range runs {
		totals = append(totals, fmt.Sprintf("%s %d/%d", r.Variant, r.Answered, r.Planned))
	}
	for i, s := range callsStations {
		id := station.StationID(i + 1)
		fewer, more := runs[0], runs[0]
		for _, r := range runs[1:] {
			if count(r, id) < count(fewer, id) {
				fewer = r
			}
			if count(r, id) > count(more, id) {
				more = r
			}
		}
		if count(fewer, id) == count(more, id) {
			continue
		}
		var lost []string
		for _, c := range fewer.Calls {
			if c.Station != id || c.Outcome == "answered" {
				continue
			}
			if c.Reached > 0 {
				lost = append(lost, fmt.Sprintf("one waited %.2fs for its turn behind the calls before it, and its %s deadline came before the answer",
					c.Reached.Seconds(), callsDeadline))
			} else {
				lost = append(lost, fmt.Sprintf("one waited for its turn until its %s deadline, never sent", callsDeadline))
			}
		}
		text := fmt.Sprintf("At the %s station, %s answered %d of its %d calls and %s %d: in %s, %s.",
			s.name, fewer.Variant, count(fewer, id), callsEach, more.Variant, count(more, id), fewer.Variant, strings.Join(lost, "; "))
		if n := mostInFlight(more); n > 1 && mostInFlight(fewer) == 1 {
			text += fmt.Sprintf(" %s answered more only by sending a station up to %d calls at once, which OCPP forbids: "+
				"a real station may ignore a second call in flight, or answer it out of order.", capitalized(more.Variant), n)
		}
		why = append(why, text)
	}
	if len(why) == 0 {
		return ""
	}
	return fmt.Sprintf("Calls answered: %s. %s One call in flight is OCPP's rule; its price is that a slow "+
		"station's calls queue, and a deadline counts the wait in the queue too.", strings.Join(totals, ", "), strings.Join(why, " "))
}

// capitalized returns s with its first letter in upper case.
func capitalized(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
