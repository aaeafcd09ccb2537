// Command stations runs simulated OCPP 1.6-J charging stations against a
// central system and reports how it answered them.
//
//	go run ./stations -n 10 -url ws://127.0.0.1:8080/ocpp
//
// While the stations run it prints a progress line to stderr when something
// changed, at most every few seconds; at the end, a summary to stdout.
// Ctrl-C (SIGINT) or SIGTERM ends the run early, the way an idle fleet is
// meant to end: the stations close, the summary is printed, and the run
// counts as a normal one. A second Ctrl-C ends the program at once.
//
// The exit status is 0 when every call made was answered (calls cut short by
// Ctrl-C are nobody's failure), 1 if a call failed, a station could not
// connect or the run reached its -timeout before the stations were done,
// and 2 if the flags are wrong.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/stations/station"
)

func main() {
	ctx, cancel := context.WithCancelCause(context.Background())
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-signals
		cancel(signalled{sig})
		// The run winds down now. A second Ctrl-C is left to its default
		// action, which ends the program at once; SIGTERM stays caught,
		// because make sends it again to the program it runs.
		signal.Reset(os.Interrupt)
	}()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// signalled is why a run was cut short: the program got a signal.
type signalled struct{ sig os.Signal }

func (s signalled) Error() string {
	if s.sig == os.Interrupt {
		return "interrupted (Ctrl-C)"
	}
	return s.sig.String() // "terminated"
}

// Exit statuses.
const (
	exitOK     = 0
	exitFailed = 1 // a call failed, nobody could connect, or the run timed out
	exitUsage  = 2
)

// run runs the command line args. When ctx ends (the program got a signal)
// the stations close and the run ends as if they had finished.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	stderr = &lockedWriter{w: stderr}
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		return exitUsage
	}

	interrupted := ctx
	said := make(chan struct{})
	stopSaying := context.AfterFunc(interrupted, func() {
		defer close(said)
		cause := context.Cause(interrupted)
		again := ""
		var sig signalled
		if errors.As(cause, &sig) && sig.sig == os.Interrupt {
			again = " (Ctrl-C again quits at once)"
		}
		fmt.Fprintf(stderr, "stations: %v: closing the stations%s\n", cause, again)
	})
	defer func() {
		if !stopSaying() {
			<-said // the notice comes before whatever follows the run
		}
	}()
	if note := cfg.keyless(); note != "" {
		fmt.Fprintf(stderr, "stations: %s\n", note)
	}
	if note := cfg.certless(); note != "" {
		fmt.Fprintf(stderr, "stations: %s\n", note)
	}
	if note := cfg.spread(); note != "" {
		fmt.Fprintf(stderr, "stations: %s\n", note)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()

	p := &progressPrinter{w: stderr, cfg: cfg, every: progressEvery, ended: ctx.Done()}
	fo := cfg.fleet(p.print)
	fo.ProgressEvery = progressPoll
	report, err := station.RunFleet(ctx, fo)
	if err != nil {
		fmt.Fprintf(stderr, "stations: %v\n", err)
		return exitUsage
	}
	wasInterrupted := interrupted.Err() != nil
	timedOut := !wasInterrupted && errors.Is(ctx.Err(), context.DeadlineExceeded)

	if report.Connected == 0 && !(wasInterrupted && len(report.Failures()) == 0) {
		why, hint := explain(firstFailure(report), cfg)
		fmt.Fprintf(stderr, "stations: no station could connect to %s: %s\n%s\n", strings.Join(cfg.urls, " or "), why, hint)
		return exitFailed
	}
	fmt.Fprint(stdout, report.Summary())
	code := exitOK
	// An idle fleet, or a flood (or deaf run) whose flooding (or deaf)
	// station alone was still sending, is meant to be ended by the time
	// limit.
	if timedOut && cfg.mode != station.Idle && !report.OnlyFlooderCut() {
		fmt.Fprintf(stderr, "stations: the run reached its time limit of %v (-timeout, TIMEOUT= in make) before the stations were done\n", cfg.timeout)
		code = exitFailed
	}
	unconnected := 0
	for _, st := range report.Failures() {
		if !st.Connected {
			unconnected++
		}
	}
	switch {
	case unconnected > 0:
		why, hint := explain(firstFailure(report), cfg)
		fmt.Fprintf(stderr, "stations: %d of %d stations could not connect (%s); %s\n", unconnected, len(report.Stations), why, hint)
		return exitFailed
	case report.Failed > 0:
		fmt.Fprintf(stderr, "stations: %d of %d calls failed; the summary lists the first failures\n", report.Failed, report.Calls)
		return exitFailed
	}
	return code
}

// firstFailure is the first station that could not connect, for a reason
// other than the run being cut short if there is one.
func firstFailure(r *station.Report) station.StationReport {
	var cut *station.StationReport
	for i, st := range r.Stations {
		switch {
		case st.Connected:
		case !st.Cut:
			return st
		case cut == nil:
			cut = &r.Stations[i]
		}
	}
	if cut == nil {
		return station.StationReport{}
	}
	return *cut
}

// fleet turns the flags into the fleet's options.
func (c config) fleet(progress func(station.Progress)) station.FleetOptions {
	o := station.FleetOptions{
		Options:   station.Options{Password: c.key, TLS: c.tlsFor},
		Endpoints: c.urls,
		Passwords: c.keys,
		Stations:  c.n,
		FirstID:   c.first,
		Mode:      c.mode,
		Messages:  c.messages,
		Hold:      c.hold,
		Progress:  progress,
		// Idle stations act on the server's calls as chargers do, unless
		// they are told how to answer them.
		Chargers:  c.mode == station.Idle && !c.noAnswer && c.answerDelay == 0,
		Reconnect: c.reconnect,
	}
	switch {
	case c.noAnswer:
		o.Answer = func(*ocpp.Call) station.Reply { return station.Reply{Drop: true} }
	case c.answerDelay > 0:
		o.Answer = func(call *ocpp.Call) station.Reply {
			r := station.DefaultAnswer(call)
			r.Delay = c.answerDelay
			return r
		}
	}
	return o
}

// spread says how the stations are shared out over several endpoints, and
// returns "" for one endpoint.
func (c config) spread() string {
	if len(c.urls) < 2 {
		return ""
	}
	var each []string
	for i, u := range c.urls {
		n := c.n / len(c.urls)
		if i < c.n%len(c.urls) {
			n++
		}
		each = append(each, fmt.Sprintf("%d on %s", n, u))
	}
	return fmt.Sprintf("%d stations over %d endpoints, station i on endpoint i mod %d: %s",
		c.n, len(c.urls), len(c.urls), strings.Join(each, ", "))
}

// lockedWriter lets the progress reporter and the signal's notice share
// stderr.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
