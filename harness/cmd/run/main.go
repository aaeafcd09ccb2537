// Command run runs one step of the kata: it serves the step's server on a
// real port (make serve), or shows the step's starter and solution side by
// side with simulated stations (make demo).
//
// It needs the step compiled in, and on disk it has none: the kata command
// links a step in by building this program with an overlay that adds
// zz_step.go, a generated file that sets the hook below. So run it through
// the Makefile:
//
//	make serve [STEP=N] [SOLUTION=1] [ADDR=127.0.0.1:8080] [WORKERS=W]
//	make demo [STEP=N] [WORKERS=W]
//	make cluster [NODES=3]
//
// Nothing but the kata command imports an exercise or a solution, and it
// only compiles the ones it needs, so a learner's code that does not
// compile cannot break anything else.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/ocppkata/kata/harness/cmd/run/internal/demo"
	"github.com/ocppkata/kata/harness/cmd/run/internal/steplink"
)

// linked is the hook: nil on disk, set by the zz_step.go that the kata
// command adds through an overlay.
var linked *steplink.Link

func main() {
	if err := run(os.Args[1:]); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "run:", err)
		}
		os.Exit(1)
	}
}

// run runs the command that args name.
func run(args []string) error {
	if linked == nil {
		return errors.New("no step is linked into this program: start it with make serve or make demo")
	}
	if len(args) == 0 {
		return errors.New("want a command: serve or demo")
	}
	switch args[0] {
	case "serve":
		return serve(args[1:])
	case "demo":
		return demo.Run(linked, args[1:])
	case "cluster":
		return runCluster(args[1:])
	case "broker":
		return runBroker(args[1:])
	}
	return fmt.Errorf("unknown command %q: want serve, demo or cluster", args[0])
}
