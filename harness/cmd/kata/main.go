// Command kata does the work behind the kata's Makefile: it runs a step's
// test suite against the learner's code or the reference solution, proves
// the kata contract for every step, shows progress, hints and diffs, and
// builds a step's server for make serve and make demo.
//
// Usage:
//
//	go run ./harness/cmd/kata <command> [flags]
//
// The learner's commands are check, watch, hint, diff, reset, progress,
// serve and demo; the maintainer's are test, fuzz and bench. Run a command
// with -h for its flags. The Makefile is the usual way in.
//
// This package is only the command table: each command lives in a package
// of internal/ (learn, link, contract, bench), over the packages that read
// the repository (step, udiff), run a suite (gotest, proc) and shape the
// output (harness/internal/term).
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
	"slices"
	"strings"

	"github.com/ocppkata/kata/harness/cmd/kata/internal/base"
	"github.com/ocppkata/kata/harness/cmd/kata/internal/bench"
	"github.com/ocppkata/kata/harness/cmd/kata/internal/contract"
	"github.com/ocppkata/kata/harness/cmd/kata/internal/learn"
	"github.com/ocppkata/kata/harness/cmd/kata/internal/link"
)

// A command is one of kata's subcommands.
type command struct {
	name    string
	summary string // one line for kata's usage; "" keeps it out of the usage
	run     func(args []string) error
}

// learnerCommands are the learner's: they read the learner's code and
// never change it, except reset, which asks first.
var learnerCommands = []command{
	{"check", "run a step's suite against your code, the solution (-solution) or a wrong turn (-wrong)", learn.RunCheck},
	{"watch", "check a step again each time one of its files is saved", learn.RunWatch},
	{"hint", "the next hint for the test that fails", learn.RunHint},
	{"diff", "your code against the reference solution", learn.RunDiff},
	{"reset", "put a step's starter back as the kata ships it", learn.RunReset},
	{"progress", "where your code stands on every step", learn.RunProgress},
	{"serve", "run a step's server (default: the final server)", link.RunServe},
	{"demo", "watch a step's starter, then its solution, at work", link.RunDemo},
	{"cluster", "run the final server as several nodes over NATS, sharing one store", link.RunCluster},
}

// maintainerCommands are the maintainer's, apart from the learner's as
// rustlings keeps its dev command apart.
var maintainerCommands = []command{
	{"test", "prove the kata sound: starters, solutions, wrong turns, vet (CI runs it)", contract.RunContract},
	{"carry", "carry a fix in a step's solution into the steps after it", contract.RunCarry},
	{"fuzz", "fuzz the OCPP codec: each fuzz target of harness/ocpp in turn", contract.RunFuzz},
	{"bench", "benchmark the final server against a bare WebSocket responder", bench.RunBench},
	{"bench-ceiling", "", bench.RunBenchCeiling}, // make bench's child process, not for people
}

// usage says what kata's commands are. The Makefile is the usual way in,
// and make alone lists its targets with their parameters.
func usage() string {
	var b strings.Builder
	b.WriteString("usage: kata <command> [flags]; run a command with -h for its flags.\nThe Makefile is the usual way in: make alone lists its targets.\n")
	for _, group := range []struct {
		title    string
		commands []command
	}{{"The learner's commands", learnerCommands}, {"The maintainer's commands", maintainerCommands}} {
		fmt.Fprintf(&b, "\n%s:\n", group.title)
		for _, c := range group.commands {
			if c.summary != "" {
				fmt.Fprintf(&b, "  %-9s %s\n", c.name, c.summary)
			}
		}
	}
	return b.String()
}

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// run runs the command that args name and returns the exit status.
func run(args []string, stderr io.Writer) int {
	commands := slices.Concat(learnerCommands, maintainerCommands)
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stderr, usage())
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
		case errors.Is(err, base.ErrFailed):
			return 1 // the command has said why
		default:
			fmt.Fprintf(stderr, "kata %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "kata: unknown command %q\n\n%s", args[0], usage())
	return 2
}
