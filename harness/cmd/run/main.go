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
//
// Nothing but the kata command imports an exercise or a solution, and it
// only compiles the ones it needs, so a learner's code that does not
// compile cannot break anything else.
package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/ocppkata/kata/harness/backend"
)

// Config is what the program gives a step's New. Every step's Config has
// these fields; the generated link copies them over.
type Config struct {
	Backend *backend.Backend
	Workers int
	Logger  *slog.Logger
	// IdleTimeout reaches only the steps whose Config has it (step 04 on).
	IdleTimeout time.Duration
	// QueueLimit reaches only the steps whose Config has it (step 05 on).
	QueueLimit int
	// AuthKeys reaches only the steps whose Config has it (step 09 on):
	// each station's key, for HTTP Basic authentication. nil leaves it off.
	AuthKeys map[string]string
	// MaxFrameSize reaches only the steps whose Config has it (step 09
	// on): the largest frame a station may send. 0 leaves the step's
	// default.
	MaxFrameSize int64
}

// Server is what every step's server offers.
type Server interface {
	// Serve accepts stations on l until Close.
	Serve(l net.Listener) error
	// Close stops the server and waits for every goroutine it started.
	Close() error
}

// A link is the step compiled into the program.
type link struct {
	Step  int
	Name  string // "01-workers"
	Title string
	// Starter builds the learner's server (exercises/NN-name) and Solution
	// the reference solution's (solutions/NN-name); either is nil when the
	// program was built without it.
	Starter, Solution func(Config) Server
	// StarterFields and SolutionFields are the optional fields of Config
	// (IdleTimeout, QueueLimit, AuthKeys) that each variant's Config has:
	// the ones the link copies over.
	StarterFields, SolutionFields []string
	// StarterErrNotConnected and SolutionErrNotConnected are the error a
	// variant's Call returns for a station that is not connected (step 07
	// on), or nil.
	StarterErrNotConnected, SolutionErrNotConnected error
}

// linked is the hook: nil on disk, set by the zz_step.go that the kata
// command adds through an overlay.
var linked *link

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
		return demo(args[1:])
	}
	return fmt.Errorf("unknown command %q: want serve or demo", args[0])
}

// variant returns the constructor of the named variant of the linked step,
// and the optional Config fields it takes.
func variant(name string) (func(Config) Server, []string, error) {
	var f func(Config) Server
	var fields []string
	switch name {
	case "starter":
		f, fields = linked.Starter, linked.StarterFields
	case "solution":
		f, fields = linked.Solution, linked.SolutionFields
	default:
		return nil, nil, fmt.Errorf("unknown variant %q: want starter or solution", name)
	}
	if f == nil {
		return nil, nil, fmt.Errorf("step %s was built without its %s", linked.Name, name)
	}
	return f, fields, nil
}

// A style colours output for a terminal; its zero value adds nothing.
type style struct{ color bool }

// styleFor returns the style for output written to f: colour only when f is
// a terminal and NO_COLOR is unset.
func styleFor(f *os.File) style {
	return style{color: isTerminal(f) && os.Getenv("NO_COLOR") == ""}
}

// isTerminal reports whether f is a character device, such as a terminal.
func isTerminal(f *os.File) bool {
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// paint wraps text in an SGR escape sequence.
func (s style) paint(code, text string) string {
	if !s.color || text == "" {
		return text
	}
	return "\x1b[" + code + "m" + text + "\x1b[0m"
}

// bold and dim paint text.
func (s style) bold(text string) string { return s.paint("1", text) }
func (s style) dim(text string) string  { return s.paint("2", text) }

// newFlags returns a flag set for a command that reports errors instead of
// exiting.
func newFlags(name string) *flag.FlagSet {
	return flag.NewFlagSet("run "+name, flag.ContinueOnError)
}

// checkArgs refuses arguments left after the flags: a mistyped flag value
// would otherwise be ignored without a word.
func checkArgs(fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return nil
}
