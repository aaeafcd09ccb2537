package station

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Report is what a fleet did: every station's calls, and the totals.
type Report struct {
	Mode      Mode
	Stations  []StationReport
	Connected int // stations that connected
	// Calls counts the calls attempted; Answered those answered with a
	// CALLRESULT; Failed the others.
	Calls, Answered, Failed int
	// P50, P99 and Max are latencies of the calls that got an answer.
	P50, P99, Max time.Duration
	Wall          time.Duration // from the first dial to the last station's end
}

// StationReport is what one station of a fleet did.
type StationReport struct {
	ID        string
	Connected bool
	Calls     []CallRecord
	Err       error // why the station could not connect, or its first failure
}

func newReport(mode Mode, stations []StationReport, wall time.Duration) *Report {
	r := &Report{Mode: mode, Stations: stations, Wall: wall}
	var latencies []time.Duration
	for _, st := range stations {
		if st.Connected {
			r.Connected++
		}
		for _, c := range st.Calls {
			r.Calls++
			if c.Err == nil {
				r.Answered++
			} else {
				r.Failed++
			}
			if !c.Received.IsZero() {
				latencies = append(latencies, c.Latency())
			}
		}
	}
	slices.Sort(latencies)
	r.P50 = percentile(latencies, 50)
	r.P99 = percentile(latencies, 99)
	if n := len(latencies); n > 0 {
		r.Max = latencies[n-1]
	}
	return r
}

// percentile is the nearest-rank percentile of sorted durations.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 · n)
	return sorted[max(rank, 1)-1]
}

// Failures returns the stations that failed, in id order.
func (r *Report) Failures() []StationReport {
	var failed []StationReport
	for _, st := range r.Stations {
		if st.Err != nil {
			failed = append(failed, st)
		}
	}
	return failed
}

// maxListed is how many failures Summary spells out.
const maxListed = 5

// Summary describes the run in a few lines: stations, calls, latency, wall
// time, and the first few failures.
func (r *Report) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d stations (%d connected), mode %s\n", len(r.Stations), r.Connected, r.Mode)
	fmt.Fprintf(&b, "%d calls: %d answered, %d failed\n", r.Calls, r.Answered, r.Failed)
	fmt.Fprintf(&b, "latency: p50 %v, p99 %v, max %v\n", round(r.P50), round(r.P99), round(r.Max))
	fmt.Fprintf(&b, "wall time: %v\n", round(r.Wall))
	failed := r.Failures()
	if len(failed) == 0 {
		return b.String()
	}
	if len(failed) == 1 {
		b.WriteString("1 station failed")
	} else {
		fmt.Fprintf(&b, "%d stations failed", len(failed))
	}
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

// round keeps a duration readable: milliseconds for anything over 10 ms.
func round(d time.Duration) time.Duration {
	if d >= 10*time.Millisecond {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Microsecond)
}
