package demo

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/cmd/run/internal/chart"
	"github.com/ocppkata/kata/harness/cmd/run/internal/steplink"
	"github.com/ocppkata/kata/harness/internal/term"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/stations/edgecheck/edge"
	"github.com/ocppkata/kata/stations/station"
)

// Step 9's demo: the edge checks of make edge (package edge) attack the
// server, one case after another, while neighbour stations run charging
// sessions on it. The demo shows per case whether the server answered as
// OCPP-J expects, and what the attack cost the neighbours.
const (
	edgeNeighbours = 20
	// edgeTimeout is how long a case waits for one answer, at least (see
	// edgeAnswerTimeout). A server that does not answer costs this much
	// per silence: short, so that the starter's silences keep the demo
	// quick; long enough for an answer to come on loopback while the
	// neighbours keep the server busy.
	edgeTimeout = 500 * time.Millisecond
	// edgeScale scales the workshop's latencies: a session takes about a
	// third of a second, and a Heartbeat, the check's probe that a station
	// is still served, a few milliseconds.
	edgeScale = 0.02
	// edgeStation is the station the check connects as, with its own key:
	// a neighbour's id would have the "same station id twice" case take
	// over the neighbour's connection.
	edgeStation = "EDGECHECK"
	// edgeGrace is how long the neighbours may take to end the sessions
	// they are in when the attack is over; a call still unanswered then
	// counts as failed.
	edgeGrace = 5 * time.Second
	// edgeWidth is the width of the list of cases that passed.
	edgeWidth = 96
)

// edgeRun is what one run of step 9's demo measured.
type edgeRun struct {
	// Timeout is how long each case waited for an answer.
	Timeout time.Duration `json:"timeout"`
	// Keys: the server's Config has AuthKeys, so the neighbours and the
	// check log in with keys, and the auth cases run.
	Keys bool `json:"keys"`
	// Cases are the cases' results, in the order they ran.
	Cases []edgeCase `json:"cases"`
	// Err says why the check could not start: nothing answered its
	// handshake as a station.
	Err string `json:"err,omitempty"`
	// Took is how long the check took.
	Took time.Duration `json:"took"`
	// Sessions counts the neighbours' sessions that ran to the end.
	Sessions int `json:"sessions"`
}

// An edgeCase is one case's result, made printable in the child: JSON
// would turn the invalid UTF-8 a case sent or got into U+FFFD.
type edgeCase struct {
	Name string `json:"name"`
	Got  string `json:"got"`
	Want string `json:"want"`
	OK   bool   `json:"ok"`
}

func hardeningScenario() scenario {
	intro := fmt.Sprintf(`The edge checks of make edge attack the server as hostile chargers and broken firmware do:
handshakes without ocpp1.6, a 2 MiB frame, a binary frame, invalid UTF-8, malformed frames,
a station that connects twice, a wrong key. Each case runs on a fresh connection and waits
%v for an answer (longer with few workers, as a call may queue behind the neighbours').
Meanwhile %d neighbour stations, each with its key, run 14-call charging sessions one after
another until the attack is over. Real time, the workshop's latencies ×%g. Dead peers and
slow readers take minutes of real time: the suite proves those on fake time (make check STEP=9).`, edgeTimeout, edgeNeighbours, edgeScale)
	return scenario{intro: intro, unit: "edge checks run", run: runHardening, show: showHardening, compare: compareHardening}
}

// edgeAnswerTimeout returns how long a case waits for one answer from a
// server with the given workers and latencies: edgeTimeout, or, if longer,
// twice the longest a call can wait behind the neighbours' calls. Each
// neighbour has one call in flight at most, and the workers take them
// workers at a time, so a case's answer may come only after
// ceil(edgeNeighbours/workers) of the slowest calls. A server must not
// fail a case for being busy with its neighbours.
func edgeAnswerTimeout(lat backend.Latencies, workers int) time.Duration {
	slowest := lat.Total("") // an action without a latency of its own
	for _, action := range append(slices.Clone(station.SessionActions), ocpp.ActionHeartbeat) {
		slowest = max(slowest, lat.Total(action))
	}
	rounds := (edgeNeighbours + max(workers, 1) - 1) / max(workers, 1)
	queued := (2 * time.Duration(rounds) * slowest).Round(100 * time.Millisecond)
	return max(edgeTimeout, queued)
}

// hardeningKeys returns the keys of the neighbours and of the check's
// station, as a server's AuthKeys.
func hardeningKeys() map[string]string {
	keys := map[string]string{edgeStation: "edge-check-key-0001"}
	for i := range edgeNeighbours {
		id := station.StationID(i + 1)
		keys[id] = "key-of-" + id
	}
	return keys
}

func runHardening(ctx context.Context, v string, newServer func(steplink.Config) steplink.Server, fields []string, workers int, progress func(done, total int)) (*runResult, error) {
	run := &edgeRun{Keys: slices.Contains(fields, "AuthKeys")}
	var keys map[string]string
	if run.Keys {
		keys = hardeningKeys()
	}
	lat := backend.WorkshopLatencies().Scaled(edgeScale)
	run.Timeout = edgeAnswerTimeout(lat, workers)
	b := backend.New(backend.Options{Latencies: lat})
	opts, stop, err := onLoopback(newServer(steplink.Config{Backend: b, Workers: workers, AuthKeys: keys}))
	if err != nil {
		return nil, err
	}
	r := &runResult{Run: chart.Run{Variant: v, Stations: edgeNeighbours}, Workers: workers, Edge: run}

	// The neighbours connect first, so that the whole attack happens
	// while they are served, and stop when it is over.
	stations := make([]*station.Station, 0, edgeNeighbours)
	defer func() { closeAll(stations) }()
	for i := range edgeNeighbours {
		o := opts
		id := station.StationID(i + 1)
		o.Password = keys[id]
		st, err := station.Dial(ctx, id, o)
		if err != nil {
			stop()
			return nil, fmt.Errorf("connect neighbour %s: %w", id, err)
		}
		stations = append(stations, st)
	}
	attackOver := make(chan struct{})
	nctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu         sync.Mutex
		neighbours sync.WaitGroup
	)
	for _, st := range stations {
		neighbours.Go(func() {
			for {
				select {
				case <-attackOver:
					return
				default:
				}
				records, err := st.Session(nctx)
				mu.Lock()
				for _, rec := range records {
					if rec.Err != nil {
						r.Failed++
					} else {
						r.Answered++
					}
				}
				if err == nil {
					run.Sessions++
				}
				mu.Unlock()
				if err != nil {
					return // a station whose session failed is not served any more
				}
			}
		})
	}

	c := &edge.Checker{URL: opts.URL, Timeout: run.Timeout}
	if run.Keys {
		c.Keys = []edge.Key{{Station: edgeStation, Password: keys[edgeStation]}}
	}
	total := 0
	for _, cc := range edge.Cases() {
		if !cc.Auth || run.Keys {
			total++
		}
	}
	start := time.Now()
	if err := c.Reach(ctx); err != nil {
		run.Err = err.Error()
	} else {
		progress(0, total)
		c.Run(ctx, func(res edge.Result) {
			run.Cases = append(run.Cases, edgeCase{
				Name: res.Case, Got: edge.Printable(res.Got), Want: res.Want, OK: res.OK,
			})
			progress(len(run.Cases), total)
		})
	}
	run.Took = time.Since(start)
	close(attackOver)
	grace := time.AfterFunc(edgeGrace, cancel)
	neighbours.Wait()
	grace.Stop()
	r.Wall = time.Since(start)
	r.Planned = r.Answered + r.Failed
	if err := ctx.Err(); err != nil {
		stop()
		return nil, fmt.Errorf("the run took too long: %w", err)
	}
	return r, stop()
}

// passed counts the cases that are as OCPP-J expects.
func (e *edgeRun) passed() int {
	n := 0
	for _, c := range e.Cases {
		if c.OK {
			n++
		}
	}
	return n
}

func showHardening(w io.Writer, st term.Style, r *runResult) {
	e := r.Edge
	as := "as made-up stations, no keys: this Config has no AuthKeys"
	if e.Keys {
		as = "as station " + edgeStation + " with its key"
	}
	runHeader(w, st, r, fmt.Sprintf("%d neighbours · %v per answer · %s", r.Stations, e.Timeout, as))
	if e.Err != "" {
		fmt.Fprintf(w, "  %s\n", st.Paint("31", "the check could not start: "+e.Err))
	}
	nameW := 0
	for _, c := range e.Cases {
		if !c.OK {
			nameW = max(nameW, utf8.RuneCountInString(c.Name))
		}
	}
	var passed []string
	for _, c := range e.Cases {
		if c.OK {
			passed = append(passed, c.Name)
			continue
		}
		fmt.Fprintf(w, "  %s %s  %s%s\n", st.Paint("31", "✗"), pad(c.Name, nameW), c.Got, st.Dim("   want: "+c.Want))
	}
	if len(passed) > 0 {
		fmt.Fprintf(w, "  %s %s\n", st.Paint("32", "✓"), passedLine(passed, len(passed) == len(e.Cases)))
	}
	fmt.Fprintf(w, "  %s · in %s\n", st.Bold(fmt.Sprintf("%d of %d edge checks as OCPP-J expects", e.passed(), len(e.Cases))), term.Seconds(e.Took.Seconds()))
	fmt.Fprintf(w, "  neighbours meanwhile: %s · %s\n", answered(st, r, "calls"), term.Plural(e.Sessions, "session")+" completed")
}

// passedLine names the cases that passed, wrapped to lines of at most
// edgeWidth runes after the first's "✓ " and indented as far, each ending
// in " ·" where the list goes on; all says they are every case.
func passedLine(names []string, all bool) string {
	head := fmt.Sprintf("%d as OCPP-J expects:", len(names))
	if all {
		head = "all " + head
	}
	var b strings.Builder
	b.WriteString(head)
	col := utf8.RuneCountInString(head)
	for i, name := range names {
		sep := " "
		if i > 0 {
			sep = " · "
		}
		n := utf8.RuneCountInString(name)
		// Room is left for the " ·" that ends a line the list goes on from.
		if col+utf8.RuneCountInString(sep)+n+2 > edgeWidth {
			b.WriteString(" ·\n    ")
			sep, col = "", 0
		}
		b.WriteString(sep + name)
		col += utf8.RuneCountInString(sep) + n
	}
	return b.String()
}

// pad fills s with spaces to width runes.
func pad(s string, width int) string {
	return s + strings.Repeat(" ", max(width-utf8.RuneCountInString(s), 0))
}

func compareHardening(w io.Writer, st term.Style, runs []*runResult) {
	fmt.Fprintln(w)
	fmt.Fprintln(w, st.Bold(hardeningSummary(runs)))
}

// hardeningSummary sums the runs up: each one's edge checks, then what the
// neighbours got.
func hardeningSummary(runs []*runResult) string {
	var parts []string
	for i, r := range runs {
		e := r.Edge
		label := r.Variant + ": "
		switch {
		case e.Err != "":
			parts = append(parts, label+"the edge check could not connect")
		case i == 0:
			parts = append(parts, fmt.Sprintf("%s%d of %d edge checks", label, e.passed(), len(e.Cases)))
		default:
			parts = append(parts, fmt.Sprintf("%s%d of %d", label, e.passed(), len(e.Cases)))
		}
	}
	return strings.Join(parts, "; ") + "; neighbours: " + neighboursSummary(runs)
}

// neighboursSummary says whether the neighbours' calls were all answered
// during each attack.
func neighboursSummary(runs []*runResult) string {
	var counts []string
	clean := true
	for _, r := range runs {
		counts = append(counts, fmt.Sprint(r.Answered+r.Failed))
		clean = clean && r.Failed == 0 && r.Answered > 0
	}
	if clean {
		if len(runs) == 1 {
			return fmt.Sprintf("all %s calls answered", counts[0])
		}
		return fmt.Sprintf("all calls answered in both (%s)", strings.Join(counts, " and "))
	}
	var parts []string
	for _, r := range runs {
		switch {
		case r.Answered+r.Failed == 0:
			parts = append(parts, r.Variant+" made no calls")
		case r.Failed == 0:
			parts = append(parts, fmt.Sprintf("%s all %d answered", r.Variant, r.Answered))
		default:
			parts = append(parts, fmt.Sprintf("%s %d of %d calls failed", r.Variant, r.Failed, r.Answered+r.Failed))
		}
	}
	return strings.Join(parts, ", ")
}
