package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/ocppkata/kata/stations/station"
)

// config is what the command line asks for.
type config struct {
	n, first, messages int
	url                string
	mode               station.Mode
	hold, answerDelay  time.Duration
	noAnswer           bool
	timeout            time.Duration
}

// parseFlags reads the command line. On a mistake it has already told the
// user, on stderr, what is wrong.
func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	var mode string
	fs := flag.NewFlagSet("stations", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: go run ./stations [flags]\n\n"+
			"Runs simulated OCPP 1.6-J charging stations against a central system.\n\nflags:\n")
		fs.PrintDefaults()
	}
	fs.IntVar(&c.n, "n", 10, "number of stations")
	fs.StringVar(&c.url, "url", "ws://127.0.0.1:8080/ocpp", "the central system's endpoint; each station appends /{id}")
	fs.StringVar(&mode, "mode", string(station.LockStep), "lockstep: the 14-call charging session on every station\n"+
		"pipelined: MeterValues sent without waiting for answers\n"+
		"flood: station 1 floods, the others run sessions\n"+
		"idle: connect, boot, stay connected and answer the server's calls")
	fs.IntVar(&c.messages, "messages", station.DefaultMessages, "MeterValues per station in pipelined mode, or from the flooding station")
	fs.DurationVar(&c.hold, "hold", 0, "how long idle stations stay connected (0: until Ctrl-C or -timeout)")
	fs.IntVar(&c.first, "first", 1, "number of the first station: 1 is CS0001")
	fs.DurationVar(&c.answerDelay, "answer-delay", 0, "how long stations wait before answering the server's calls")
	fs.BoolVar(&c.noAnswer, "no-answer", false, "never answer the server's calls")
	fs.DurationVar(&c.timeout, "timeout", defaultTimeout, "time limit for the whole run (default 5m, or -hold and a minute when -hold is longer)")
	if err := fs.Parse(args); err != nil {
		return c, err // the flag package has printed the error and the usage
	}
	timeoutSet := false
	fs.Visit(func(f *flag.Flag) { timeoutSet = timeoutSet || f.Name == "timeout" })

	err := c.check(mode, fs.Args(), timeoutSet)
	if err != nil {
		fmt.Fprintf(stderr, "stations: %v\nrun 'go run ./stations -h' for the flags\n", err)
	}
	return c, err
}

// defaultTimeout bounds a run when neither -timeout nor a longer -hold says
// otherwise.
const defaultTimeout = 5 * time.Minute

// check validates the flags and fills in what follows from them. timeoutSet
// is whether -timeout was given: if not, a -hold longer than the default
// limit extends it, rather than being cut short by it.
func (c *config) check(mode string, rest []string, timeoutSet bool) error {
	m, err := station.ParseMode(mode)
	if err != nil {
		return fmt.Errorf("-mode: %w", err)
	}
	c.mode = m
	switch {
	case len(rest) > 0:
		return fmt.Errorf("unexpected argument %q", rest[0])
	case c.n < 1:
		return fmt.Errorf("-n %d: want at least 1 station", c.n)
	case c.first < 1:
		return fmt.Errorf("-first %d: want 1 or more", c.first)
	case c.messages < 1:
		return fmt.Errorf("-messages %d: want at least 1", c.messages)
	case c.hold < 0:
		return fmt.Errorf("-hold %v: want 0 or more", c.hold)
	case c.answerDelay < 0:
		return fmt.Errorf("-answer-delay %v: want 0 or more", c.answerDelay)
	case c.timeout <= 0:
		return fmt.Errorf("-timeout %v: want more than 0", c.timeout)
	case c.noAnswer && c.answerDelay > 0:
		return errors.New("-no-answer and -answer-delay contradict each other: pick one")
	case c.hold > 0 && c.mode != station.Idle:
		return fmt.Errorf("-hold %v: only idle stations hold; add -mode idle", c.hold)
	case c.hold >= c.timeout && timeoutSet:
		return fmt.Errorf("-hold %v is not shorter than -timeout %v: the run would end before the stations; raise -timeout", c.hold, c.timeout)
	case c.hold >= c.timeout:
		c.timeout = c.hold + time.Minute
	}
	u, err := url.Parse(c.url)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		return fmt.Errorf("-url %q: want a WebSocket URL such as ws://127.0.0.1:8080/ocpp", c.url)
	}
	return nil
}
