package main

import (
	"fmt"
	"io"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/ocppkata/kata/stations/station"
)

// How progress is shown: the fleet reports it every progressPoll, and a line
// is printed when the counts changed, at most one every progressEvery, so a
// fleet that waits (idle stations, a stalled server) does not fill the
// terminal with the same line.
const (
	progressPoll  = 500 * time.Millisecond
	progressEvery = 3 * time.Second
)

// progressPrinter prints a fleet's progress. The fleet never calls print
// concurrently.
type progressPrinter struct {
	w     io.Writer
	cfg   config
	every time.Duration
	// ended is closed when the run's context ends: from then on the counts
	// include the calls cut off, and the summary says it better.
	ended <-chan struct{}

	last    station.Progress // the counts printed last, without Elapsed
	lastAt  time.Duration    // when they were printed
	printed bool
	settled bool // idle mode: said once that the stations are waiting
}

func (p *progressPrinter) print(now station.Progress) {
	select {
	case <-p.ended:
		return
	default:
	}
	if now.Connected == 0 && now.Done == now.Stations {
		return // nobody connected: the explanation after the run says it better
	}
	at := now.Elapsed
	now.Elapsed = 0
	if same(now, p.last) || (now.Connected == 0 && now.Calls == 0 && now.Done == 0) {
		return // nothing new
	}
	if p.cfg.mode == station.Idle && !p.settled && idleSettled(now) {
		p.settled = true
		p.last, p.lastAt, p.printed = now, at, true
		until := fmt.Sprintf("until Ctrl-C, or the time limit of %v", p.cfg.timeout)
		if p.cfg.hold > 0 {
			until = fmt.Sprintf("for %v, or until Ctrl-C", p.cfg.hold)
		}
		fmt.Fprintf(p.w, "stations %d/%d connected and booted, %.1fs: idle now, they stay connected %s\n",
			now.Connected, now.Stations, at.Seconds(), until)
		return
	}
	if p.printed && at-p.lastAt < p.every {
		return // changed, but too soon: a later report will show it
	}
	p.last, p.lastAt, p.printed = now, at, true
	deaf := ""
	if p.cfg.mode == station.Deaf {
		closed := "connections"
		if now.DeafClosed == 1 {
			closed = "connection"
		}
		deaf = fmt.Sprintf("; deaf station: %d frames sent, %d %s closed by the server", now.DeafFrames, now.DeafClosed, closed)
	}
	planned := fmt.Sprintf("/%d", now.Planned)
	if p.settled {
		planned = "" // booted idle stations (chargers) call as long as they stay: no plan
	}
	dropped := ""
	if now.Dropped > 0 {
		dropped = fmt.Sprintf(", %d unanswered when their connection dropped", now.Dropped)
	}
	fmt.Fprintf(p.w, "stations %d/%d connected, %d%s calls answered, %d failed%s%s%s, %.1fs\n",
		now.Connected, now.Stations, now.Answered, planned, now.Failed, dropped, deaf, p.moves(now), at.Seconds())
}

// moves says, for reconnecting stations or several endpoints, how many
// reconnected and moved, how many are on their way back, and how many are
// on each endpoint now.
func (p *progressPrinter) moves(now station.Progress) string {
	var b strings.Builder
	if p.cfg.reconnect {
		reconnects := "reconnects"
		if now.Reconnects == 1 {
			reconnects = "reconnect"
		}
		fmt.Fprintf(&b, "; %d %s, %d moved, %d reconnecting", now.Reconnects, reconnects, now.Moved, now.Reconnecting)
	}
	if len(now.OnEndpoint) > 1 {
		names := endpointNames(p.cfg.urls)
		b.WriteString("; now")
		for i, n := range now.OnEndpoint {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, " %d on %s", n, names[i])
		}
	}
	return b.String()
}

// same reports whether two reports have the same counts.
func same(a, b station.Progress) bool { return reflect.DeepEqual(a, b) }

// endpointNames are short names of the endpoints, for a progress line:
// their host and port when these tell them apart, otherwise the URLs.
func endpointNames(urls []string) []string {
	names := make([]string, len(urls))
	for i, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil || slices.Contains(names[:i], u.Host) {
			return urls
		}
		names[i] = u.Host
	}
	return names
}

// idleSettled reports whether an idle fleet has nobody left dialing and
// every connected station's BootNotification settled: from then on it waits.
func idleSettled(p station.Progress) bool {
	return p.Connected > 0 && p.Connected+p.Done >= p.Stations && p.Answered+p.Failed+p.Dropped >= p.Connected
}
