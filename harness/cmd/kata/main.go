// Command kata does the work behind the kata's Makefile: it runs a step's
// test suite against the learner's code or the reference solution, proves
// the kata contract for every step, shows progress, hints and diffs, and
// builds a step's server for make serve and make demo.
//
// Usage:
//
//	go run ./harness/cmd/kata <command> [flags]
//
// The commands are check, watch, test, progress, hint, diff, reset, serve,
// demo and fuzz; run a command with -h for its flags. The Makefile is the
// usual way in.
//
// kata never imports an exercise or a solution: it runs them through the go
// command, so a learner's code that does not compile cannot break it.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

// usage is printed for kata without a command, or with an unknown one.
const usage = `kata runs the kata's commands; the Makefile is the usual way in:

  make demo     [STEP=1] [WORKERS=10]      watch a step's starter and solution side by side
  make check    STEP=N [SOLUTION=1]        run step N's suite against your code (or the solution)
  make check    STEP=N WRONG=NAME          watch the suite catch one of step N's wrong turns
  make watch    STEP=N                     check step N again each time you save one of its files
  make hint     STEP=N [LEVEL=L]           the next hint for step N
  make diff     STEP=N                     your code against the reference solution
  make progress                            where you stand on every step
  make serve    [STEP=N] [SOLUTION=1]      run a step's server on ws://127.0.0.1:8080/ocpp
  make reset    STEP=N [FORCE=1]           put step N's starter back as the kata ships it
  make test                                prove the kata itself is sound (CI runs this)
  make fuzz     [FUZZTIME=30s]             fuzz the OCPP decoder
  make bench    [PHASE=name] [BENCH=flags] benchmark the final server against a bare WebSocket responder
`

// A command is one of kata's subcommands.
type command struct {
	name string
	run  func(args []string) error
}

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// run runs the command that args name and returns the exit status.
func run(args []string, stderr io.Writer) int {
	commands := []command{
		{"check", runCheck},
		{"watch", runWatch},
		{"test", runContract},
		{"progress", runProgress},
		{"hint", runHint},
		{"diff", runDiff},
		{"serve", runServe},
		{"demo", runDemo},
		{"reset", runReset},
		{"fuzz", runFuzz},
		{"bench", runBench},
		{"bench-ceiling", runBenchCeiling}, // make bench's child process, not for people
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stderr, usage)
		return 2
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		err := c.run(args[1:])
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 2
		case errors.Is(err, errFailed):
			return 1 // the command has said why
		default:
			fmt.Fprintf(stderr, "kata %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "kata: unknown command %q\n\n%s", args[0], usage)
	return 2
}

// errFailed reports a failure that the command has already explained to the
// learner: main only sets the exit status.
var errFailed = errors.New("failed")

// newFlags returns a flag set for a subcommand that reports errors instead
// of exiting, and prints its usage on -h.
// parseStep parses a subcommand's flags and finds the step that its -step
// flag (num) names.
func parseStep(fs *flag.FlagSet, num *string, args []string) (step, error) {
	if err := fs.Parse(args); err != nil {
		return step{}, err
	}
	r, err := findRepo()
	if err != nil {
		return step{}, err
	}
	return findStep(r, *num)
}

// parseSteps parses a subcommand's flags and loads every step.
func parseSteps(fs *flag.FlagSet, args []string) (repo, []step, error) {
	if err := fs.Parse(args); err != nil {
		return repo{}, nil, err
	}
	r, err := findRepo()
	if err != nil {
		return repo{}, nil, err
	}
	steps, err := loadSteps(r)
	return r, steps, err
}

func newFlags(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet("kata "+name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: kata %s %s\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}
