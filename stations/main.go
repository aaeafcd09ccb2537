// Command stations runs simulated OCPP 1.6-J charging stations against a
// central system and reports how it answered them.
//
//	go run ./stations -n 10 -url ws://127.0.0.1:8080/ocpp
//
// It prints a progress line to stderr about once a second and a summary to
// stdout at the end. The exit status is 1 if a call failed or no station could
// connect, and 2 if the flags are wrong.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/stations/station"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// Exit statuses.
const (
	exitOK     = 0
	exitFailed = 1 // a call failed, or nobody could connect
	exitUsage  = 2
)

func run(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		return exitUsage
	}

	// Ctrl-C ends the run early, and still prints the summary: that is how an
	// idle fleet without -hold is stopped.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()

	report, err := station.RunFleet(ctx, cfg.fleet(func(p station.Progress) {
		if p.Connected == 0 && p.Done == p.Stations {
			return // nobody connected: the explanation below says it better
		}
		fmt.Fprintf(stderr, "stations %d/%d connected, %d/%d calls answered, %d failed, %.1fs\n",
			p.Connected, p.Stations, p.Answered, p.Planned, p.Failed, p.Elapsed.Seconds())
	}))
	if err != nil {
		fmt.Fprintf(stderr, "stations: %v\n", err)
		return exitUsage
	}

	if report.Connected == 0 {
		why, hint := explain(firstFailure(report))
		fmt.Fprintf(stderr, "stations: no station could connect to %s: %s\n%s\n", cfg.url, why, hint)
		return exitFailed
	}
	fmt.Fprint(stdout, report.Summary())
	if errors.Is(ctx.Err(), context.DeadlineExceeded) && cfg.mode != station.Idle {
		fmt.Fprintf(stderr, "stations: the run reached its -timeout of %v before the stations were done\n", cfg.timeout)
	}
	switch unconnected := len(report.Stations) - report.Connected; {
	case unconnected > 0:
		why, hint := explain(firstFailure(report))
		fmt.Fprintf(stderr, "stations: %d of %d stations could not connect (%s); %s\n", unconnected, len(report.Stations), why, hint)
		return exitFailed
	case report.Failed > 0:
		fmt.Fprintf(stderr, "stations: %d of %d calls failed; the summary lists the first failures\n", report.Failed, report.Calls)
		return exitFailed
	}
	return exitOK
}

// firstFailure is the error of the first station that could not connect.
func firstFailure(r *station.Report) error {
	for _, st := range r.Stations {
		if !st.Connected {
			return st.Err
		}
	}
	return nil
}

// fleet turns the flags into the fleet's options.
func (c config) fleet(progress func(station.Progress)) station.FleetOptions {
	o := station.FleetOptions{
		Options:  station.Options{URL: c.url},
		Stations: c.n,
		FirstID:  c.first,
		Mode:     c.mode,
		Messages: c.messages,
		Hold:     c.hold,
		Progress: progress,
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
