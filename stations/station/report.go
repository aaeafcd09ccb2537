package station

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// Report is what a fleet did: every station's calls, and the totals.
type Report struct {
	Mode      Mode
	Stations  []StationReport
	Connected int // stations that connected
	// Calls counts the calls attempted; Answered those answered with a
	// CALLRESULT; Cut those still waiting when the run's context ended (an
	// interrupt, a time limit), which are nobody's failure; Left those
	// still waiting when the server went away (see StationReport.Left),
	// nobody's failure either; Dropped, in a fleet of reconnecting
	// chargers, those still waiting when their connection ended otherwise
	// (the server was killed, the network failed), which the charger
	// survives by connecting again; Failed the others.
	Calls, Answered, Failed, Cut, Left, Dropped int
	// Reconnect reports that the fleet's chargers reconnect. Reconnects
	// counts their connections made again after one dropped, Moved the
	// stations that booted again on another endpoint than the one they
	// lost (once or more), and Reconnecting the stations still on their
	// way back when the run ended. BackP50 and BackMax are how long the
	// reconnects took, from the drop to the BootNotification accepted.
	Reconnect                       bool
	Reconnects, Moved, Reconnecting int
	BackP50, BackMax                time.Duration
	// Endpoints are the fleet's endpoints, and how many stations were on
	// each at the start and at the end.
	Endpoints []EndpointReport
	// Ended reports that the run's context ended before every station was
	// done: an interrupt or a time limit cut the run short.
	Ended bool
	// P50, P99 and Max are latencies of the calls that got an answer.
	P50, P99, Max time.Duration
	Wall          time.Duration // from the first dial to the last station's end
}

// EndpointReport is how many of a fleet's stations one endpoint had.
type EndpointReport struct {
	URL string
	// Started counts the stations that the fleet gave it; Ended the
	// stations that were connected to it last, and not reconnecting, when
	// they were done.
	Started, Ended int
}

// StationReport is what one station of a fleet did.
type StationReport struct {
	ID string
	// Endpoint is where the station was connected last, or tried to
	// connect last if it never did.
	Endpoint  string
	Connected bool
	Calls     []CallRecord
	Err       error // why the station could not connect, or its first failure
	// Cut reports that the station was still connecting or waiting for an
	// answer when the run's context ended; Err says where it was.
	Cut bool
	// Left reports that the server closed the station's connection with
	// 1001, going away: a server that stops says goodbye so (a graceful
	// shutdown), and a station reconnects later. Err says so.
	Left bool
	// Deaf is what the deaf station of a Deaf fleet did, once it had
	// connected; nil for every other station.
	Deaf *DeafReport
	// Reconnects are a reconnecting charger's connections made again after
	// one dropped, in order; Reconnecting reports that it was on its way
	// back when it was done.
	Reconnects   []Reconnect
	Reconnecting bool
}

// newReport sums up the reports of the stations of fleet o. ended is
// whether the run's context ended before they were done: then the calls
// and dials that ended with it were cut off, not failed.
func newReport(o FleetOptions, stations []StationReport, wall time.Duration, ended bool) *Report {
	r := &Report{Mode: o.Mode, Stations: stations, Wall: wall, Ended: ended, Reconnect: o.Reconnect}
	for _, u := range o.Endpoints {
		r.Endpoints = append(r.Endpoints, EndpointReport{URL: u})
	}
	var latencies, back []time.Duration
	for i, st := range stations {
		if st.Connected {
			r.Connected++
		}
		if n := len(r.Endpoints); n > 0 {
			r.Endpoints[i%n].Started++
			if k := slices.IndexFunc(r.Endpoints, func(e EndpointReport) bool { return e.URL == st.Endpoint }); k >= 0 && st.Connected && !st.Reconnecting {
				r.Endpoints[k].Ended++
			}
		}
		r.Reconnects += len(st.Reconnects)
		if slices.ContainsFunc(st.Reconnects, Reconnect.Moved) {
			r.Moved++
		}
		if st.Reconnecting {
			r.Reconnecting++
		}
		for _, m := range st.Reconnects {
			back = append(back, m.Took)
		}
		if ended && cutOff(st.Err) {
			stations[i].Cut = true
		}
		if serverWentAway(st.Err) {
			stations[i].Left = true
		}
		for _, c := range st.Calls {
			r.Calls++
			switch {
			case c.Err == nil:
				r.Answered++
			case ended && cutOff(c.Err):
				r.Cut++
			case serverWentAway(c.Err):
				r.Left++
			case o.Reconnect && isLost(c.Err):
				r.Dropped++
			default:
				r.Failed++
			}
			if !c.Received.IsZero() {
				latencies = append(latencies, c.Latency())
			}
		}
	}
	slices.Sort(latencies)
	r.P50 = Percentile(latencies, 50)
	r.P99 = Percentile(latencies, 99)
	if n := len(latencies); n > 0 {
		r.Max = latencies[n-1]
	}
	slices.Sort(back)
	r.BackP50, r.BackMax = Percentile(back, 50), Percentile(back, 100)
	return r
}

// cutOff reports whether err is how a dial or a call ends when the fleet's
// context ends: the context's own error, or the station closed under it.
func cutOff(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrClosed)
}

// serverWentAway reports whether err is the server closing the connection
// with 1001, going away.
func serverWentAway(err error) bool {
	var ce *websocket.CloseError
	return errors.As(err, &ce) && ce.Code == websocket.CloseGoingAway
}

// Percentile is the nearest-rank p-th percentile (0 to 100) of sorted
// durations, 0 for none: the one the reports give, for anyone who measures
// calls the same way (make bench).
func Percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 · n)
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// Failures returns the stations that failed, in id order: those with an
// error that was not the run being cut short, nor the server going away.
func (r *Report) Failures() []StationReport {
	var failed []StationReport
	for _, st := range r.Stations {
		if st.Err != nil && !st.Cut && !st.Left {
			failed = append(failed, st)
		}
	}
	return failed
}

// countStations counts the stations for which is reports true.
func (r *Report) countStations(is func(StationReport) bool) int {
	n := 0
	for _, st := range r.Stations {
		if is(st) {
			n++
		}
	}
	return n
}

// stations returns "1 station" or "n stations".
func stations(n int) string {
	if n == 1 {
		return "1 station"
	}
	return fmt.Sprintf("%d stations", n)
}

// maxListed is how many failures Summary spells out.
const maxListed = 5

// Summary describes the run in a few lines: stations, calls, latency, wall
// time, what was cut short, and the first few failures.
func (r *Report) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d stations (%d connected), mode %s\n", len(r.Stations), r.Connected, r.Mode)
	fmt.Fprintf(&b, "%d calls: %d answered, %d failed", r.Calls, r.Answered, r.Failed)
	if r.Cut > 0 {
		fmt.Fprintf(&b, ", %d cut off waiting when the run ended", r.Cut)
	}
	if r.Left > 0 {
		fmt.Fprintf(&b, ", %d unanswered when the server went away", r.Left)
	}
	if r.Dropped > 0 {
		fmt.Fprintf(&b, ", %d unanswered when their connection dropped (the stations reconnected)", r.Dropped)
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "latency: p50 %v, p99 %v, max %v\n", round(r.P50), round(r.P99), round(r.Max))
	fmt.Fprintf(&b, "wall time: %v\n", round(r.Wall))
	if r.Mode == Flood && len(r.Stations) > 0 {
		b.WriteString(r.floodSummary())
	}
	if r.Mode == Deaf && len(r.Stations) > 0 {
		b.WriteString(r.deafSummary())
	}
	if len(r.Endpoints) > 1 {
		b.WriteString("stations on each endpoint, at the start → at the end:")
		for i, e := range r.Endpoints {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, " %s %d → %d", e.URL, e.Started, e.Ended)
		}
		b.WriteString("\n")
	}
	if r.Reconnect {
		fmt.Fprintf(&b, "reconnects: %d, %s moved to another endpoint", r.Reconnects, stations(r.Moved))
		if r.Reconnects > 0 {
			fmt.Fprintf(&b, "; from the drop to booted again: p50 %v, max %v", round(r.BackP50), round(r.BackMax))
		}
		b.WriteString("\n")
		if r.Reconnecting > 0 {
			fmt.Fprintf(&b, "%s still reconnecting when the run ended\n", stations(r.Reconnecting))
		}
	}
	if cut := r.countStations(func(st StationReport) bool { return st.Cut }); cut > 0 {
		fmt.Fprintf(&b, "%s not done when the run ended\n", stations(cut))
	}
	if left := r.countStations(func(st StationReport) bool { return st.Left }); left > 0 {
		fmt.Fprintf(&b, "%s closed by the server with 1001, going away: it was stopped, and said goodbye\n", stations(left))
	}
	failed := r.Failures()
	if len(failed) == 0 {
		return b.String()
	}
	fmt.Fprintf(&b, "%s failed", stations(len(failed)))
	if len(failed) > maxListed {
		fmt.Fprintf(&b, ", the first %d", maxListed)
	}
	b.WriteString(":\n")
	for _, st := range failed[:min(len(failed), maxListed)] {
		msg := st.Err.Error()
		// Errors from this package name their station already.
		if !strings.HasPrefix(msg, "station "+st.ID+":") {
			msg = st.ID + ": " + msg
		}
		fmt.Fprintf(&b, "  %s\n", msg)
	}
	return b.String()
}

// floodSummary tells the flooding station apart from the others: how much
// of its flood the server took, and how the others fared beside it.
func (r *Report) floodSummary() string {
	var b strings.Builder
	flooder := r.Stations[0]
	sent, answered := len(flooder.Calls), 0
	var lat []time.Duration
	for _, c := range flooder.Calls {
		if c.Err == nil {
			answered++
			lat = append(lat, c.Latency())
		}
	}
	slices.Sort(lat)
	fmt.Fprintf(&b, "flooding station %s: %d calls sent, %d answered", flooder.ID, sent, answered)
	if len(lat) > 0 {
		fmt.Fprintf(&b, ", latency p50 %v, max %v", round(Percentile(lat, 50)), round(lat[len(lat)-1]))
	}
	b.WriteString("\n")
	others := r.Stations[1:]
	if len(others) == 0 {
		return b.String()
	}
	o := sessions(others, r.Ended)
	fmt.Fprintf(&b, "the other %s: %d of %d sessions done, latency p50 %v, p99 %v, max %v\n", stations(len(others)),
		o.done, len(others), round(o.p50), round(o.p99), round(o.max))
	return b.String()
}

// deafSummary tells the deaf station apart from the others: what it wrote
// without reading, how often the server closed it, and how the others fared
// beside it.
func (r *Report) deafSummary() string {
	var b strings.Builder
	st := r.Stations[0]
	if d := st.Deaf; d != nil {
		fmt.Fprintf(&b, "deaf station %s: %d frames sent (unknown actions of %d characters, nothing read) over %s, %d closed by the server\n",
			st.ID, d.Frames, DeafActionLength, connections(d.Connections), d.ServerClosed)
	} else {
		fmt.Fprintf(&b, "deaf station %s: never connected\n", st.ID)
	}
	others := r.Stations[1:]
	if len(others) == 0 {
		return b.String()
	}
	o := sessions(others, r.Ended)
	fmt.Fprintf(&b, "the other %s: %d of %d sessions done, %d calls: %d answered, %d failed", stations(len(others)),
		o.done, len(others), o.calls, o.answered, o.failed)
	if o.cut > 0 {
		fmt.Fprintf(&b, ", %d cut off", o.cut)
	}
	fmt.Fprintf(&b, ", latency p50 %v, p99 %v, max %v\n", round(o.p50), round(o.p99), round(o.max))
	return b.String()
}

// connections returns "1 connection" or "n connections".
func connections(n int) string {
	if n == 1 {
		return "1 connection"
	}
	return fmt.Sprintf("%d connections", n)
}

// sessionTally is how the stations beside a flooding or deaf one fared.
type sessionTally struct {
	done                         int // whole sessions
	calls, answered, failed, cut int
	p50, p99, max                time.Duration // of the answered calls
}

// sessions sums up the sessions of stations. Like newReport, it counts a
// call as cut off rather than failed when the run ended under it.
func sessions(stations []StationReport, ended bool) sessionTally {
	var o sessionTally
	var lat []time.Duration
	for _, st := range stations {
		if st.Err == nil && !st.Cut && len(st.Calls) == SessionCalls {
			o.done++
		}
		for _, c := range st.Calls {
			o.calls++
			switch {
			case c.Err == nil:
				o.answered++
				lat = append(lat, c.Latency())
			case ended && cutOff(c.Err):
				o.cut++
			default:
				o.failed++
			}
		}
	}
	slices.Sort(lat)
	o.p50, o.p99, o.max = Percentile(lat, 50), Percentile(lat, 99), Percentile(lat, 100)
	return o
}

// OnlyFlooderCut reports whether, in a flood or a deaf run, the flooding or
// deaf station is the only one the run's end cut short: the others were
// served.
func (r *Report) OnlyFlooderCut() bool {
	if (r.Mode != Flood && r.Mode != Deaf) || len(r.Stations) == 0 {
		return false
	}
	for _, st := range r.Stations[1:] {
		if st.Cut || st.Err != nil {
			return false
		}
	}
	return true
}

// round keeps a duration readable: milliseconds for anything over 10 ms.
func round(d time.Duration) time.Duration {
	if d >= 10*time.Millisecond {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Microsecond)
}
