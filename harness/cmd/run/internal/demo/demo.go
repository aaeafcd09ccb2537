// Package demo is make demo: for the linked step, it runs the starter and
// then the solution, each in a child process of its own, under simulated
// stations on the loopback, and draws what each run did, side by side.
package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/ocppkata/kata/harness/cmd/run/internal/chart"
	"github.com/ocppkata/kata/harness/cmd/run/internal/steplink"
	"github.com/ocppkata/kata/harness/internal/term"
	"github.com/ocppkata/kata/harness/netpoll"
	"github.com/ocppkata/kata/stations/station"
)

// A scenario is what make demo shows for one step: a run of each variant,
// each in a process of its own so that what it measures of the process (OS
// threads, which Go never gives back) is its alone, then pictures of them.
type scenario struct {
	// intro says what the runs do; it is printed before they start.
	intro string
	// unit names what progress counts; "" means "calls answered".
	unit string
	// run is one run of a variant, in the child process. It calls progress
	// as calls are answered.
	// fields are the names of the variant's Config fields.
	run func(ctx context.Context, v string, newServer func(steplink.Config) steplink.Server, fields []string, workers int, progress func(done, total int)) (*runResult, error)
	// show draws one run once it is over.
	show func(w io.Writer, st term.Style, r *runResult)
	// compare sums the runs up.
	compare func(w io.Writer, st term.Style, runs []*runResult)
}

// scenarios returns the demo of each step that has one, by step number, for
// the step l links in.
func scenarios(l *steplink.Link) map[int]scenario {
	return map[int]scenario{
		1:  workersScenario(),
		2:  threadsScenario(),
		3:  orderScenario(),
		4:  evictionScenario(),
		5:  floodScenario(),
		6:  batchScenario(),
		7:  callsScenario(),
		8:  shutdownScenario(),
		9:  hardeningScenario(),
		10: clusterScenario(l),
		11: millionScenario(),
	}
}

// A runResult is what one run measured; the child process sends it to the
// parent as JSON.
type runResult struct {
	chart.Run // what the pictures draw: the variant, its stations, its wall time and what happened when

	Workers  int `json:"workers"` // Config.Workers
	Planned  int `json:"planned"` // calls the stations meant to make
	Answered int `json:"answered"`
	Failed   int `json:"failed"`
	Peak     int `json:"peak"`    // the backend's peak concurrency
	Threads  int `json:"threads"` // OS threads at the end of the run

	Orders   map[string][]int `json:"orders,omitempty"`   // per station, the calls in processing order (step 3)
	Overlap  int              `json:"overlap,omitempty"`  // most of one station's calls processed at once (step 3)
	AckMax   time.Duration    `json:"ackMax,omitempty"`   // the slowest acknowledgement (step 3)
	Writes   []batchWrite     `json:"writes,omitempty"`   // the backend's batch writes (step 6)
	Calls    []demoCall       `json:"calls,omitempty"`    // the server's calls to stations (step 7)
	Shutdown *shutdownRun     `json:"shutdown,omitempty"` // what a shutdown lost (step 8)
	Edge     *edgeRun         `json:"edge,omitempty"`     // the edge checks, and the neighbours (step 9)
	Cluster  *clusterRun      `json:"cluster,omitempty"`  // the rounds of calls across nodes, and the kill (step 10)
	Million  *millionRun      `json:"million,omitempty"`  // what idle stations cost the server (step 11)

	// Shipped reports that the learner's code (the starter variant) is
	// the starter as the kata shipped it; the parent sets it.
	Shipped bool `json:"-"`
	// Code says where the run's code is, for its header; the parent sets it.
	Code string `json:"-"`
	// SameAsSolution reports that the learner's code is the solution's,
	// byte for byte: then the runs are expected to look alike.
	SameAsSolution bool `json:"-"`
}

// variantLabel names a variant for the learner: the starter variant is
// their code, whether or not they have changed it yet.
func variantLabel(v string) string {
	if v == "starter" {
		return "your code"
	}
	return v
}

// demoRunTimeout bounds one run: a server that hangs must not hang the demo.
const demoRunTimeout = 3 * time.Minute

// Run runs the linked step's scenario: the parent process starts a child
// per variant and draws what they report.
func Run(l *steplink.Link, args []string) error {
	fs := steplink.NewFlags("demo")
	workers := fs.Int("workers", 10, "Config.Workers for both runs")
	child := fs.String("child", "", "run one variant and print its result as JSON (used by the demo itself)")
	shipped := fs.Bool("shipped", false, "the learner's code is the starter as the kata shipped it (the kata command knows)")
	fleet := fs.String("fleet", "", "run the stations of step 11's demo for the server at this URL (used by the demo itself)")
	fleetSize := fs.Int("stations", millionFleet, "with -fleet: how many stations")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: run demo [-workers W]")
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := steplink.CheckArgs(fs); err != nil {
		return err
	}
	if *workers < 1 {
		return fmt.Errorf("-workers %d: want 1 or more, the size of the worker pool both runs get", *workers)
	}
	if *fleet != "" {
		return fleetMain(*fleet, *fleetSize, os.Stdin, os.Stdout)
	}
	sc, ok := scenarios(l)[l.Step]
	if !ok {
		fmt.Printf("no demo for step %d yet\n", l.Step)
		return nil
	}
	if *child != "" {
		return demoChild(l, sc, *child, *workers)
	}

	st := term.StyleFor(os.Stdout)
	fmt.Printf("%s\n\n%s\n", st.Bold(fmt.Sprintf("make demo · step %02d · %s", l.Step, l.Title)), sc.intro)
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find this program to run the variants: %w", err)
	}
	same := starterIsSolution(l.Name)
	var runs []*runResult
	for _, v := range []string{"starter", "solution"} {
		if _, _, err := l.Variant(v); err != nil {
			continue
		}
		r, err := runChild(exe, v, *workers)
		if err != nil {
			fmt.Fprintf(os.Stderr, "the run of %s failed: %v\n", variantLabel(v), err)
			continue
		}
		r.Variant = variantLabel(v)
		r.Code = codeLabel(l.Name, v, *shipped, same)
		r.SameAsSolution = same
		sc.show(os.Stdout, st, r)
		runs = append(runs, r)
	}
	if len(runs) == 0 {
		return errors.New("no run completed")
	}
	sc.compare(os.Stdout, st, runs)
	return nil
}

// runChild runs one variant in a child process and returns its result.
func runChild(exe, v string, workers int) (*runResult, error) {
	cmd := exec.Command(exe, "demo", "-child", v, "-workers", fmt.Sprint(workers))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s: %w", v, err)
	}
	var r runResult
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		return nil, fmt.Errorf("%s: reading its result: %w", v, err)
	}
	return &r, nil
}

// demoChild is the child process: it runs one variant, shows a live
// progress line on stderr when that is a terminal, and prints the result
// as JSON on stdout.
func demoChild(l *steplink.Link, sc scenario, v string, workers int) error {
	newServer, fields, err := l.Variant(v)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), demoRunTimeout)
	defer cancel()
	live := term.IsTerminal(os.Stderr)
	st := term.StyleFor(os.Stderr)
	start := time.Now()
	unit := sc.unit
	if unit == "" {
		unit = "calls answered"
	}
	progress := func(done, total int) {
		if live {
			fmt.Fprintf(os.Stderr, "\r\x1b[K  %-9s %s %d/%d %s · %.1fs",
				variantLabel(v), st.Dim(progressBar(done, total, 30)), done, total, unit, time.Since(start).Seconds())
		}
	}
	r, err := sc.run(ctx, v, newServer, fields, workers, progress)
	if live {
		fmt.Fprint(os.Stderr, "\r\x1b[K")
	}
	if err != nil {
		return err
	}
	if r.Threads, err = chart.Threads(); err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(r)
}

// progressBar draws done/total as a bar of width cells.
func progressBar(done, total, width int) string {
	filled := 0
	if total > 0 {
		filled = min(done*width/total, width)
	}
	return "[" + strings.Repeat("█", filled) + strings.Repeat("░", width-filled) + "]"
}

// onLoopback serves srv on a new port of 127.0.0.1. It returns options for
// stations that dial it, and stop, which closes the server and says what
// went wrong with it.
func onLoopback(srv steplink.Server) (opts station.Options, stop func() error, err error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return opts, nil, fmt.Errorf("listen on loopback: %w", err)
	}
	// As make serve's: a connection handed to a poller (step 11) leaves the
	// runtime's.
	l = netpoll.Listener(l)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	stop = func() error {
		closeErr := srv.Close()
		if err := <-served; err != nil {
			return fmt.Errorf("the server: %w", err)
		}
		if closeErr != nil {
			return fmt.Errorf("close the server: %w", closeErr)
		}
		return nil
	}
	return station.Options{URL: "ws://" + l.Addr().String() + "/ocpp"}, stop, nil
}

// runHeader starts the picture of one run: which code ran, with what.
func runHeader(w io.Writer, st term.Style, r *runResult, detail string) {
	fmt.Fprintf(w, "\n%s  %s\n", st.Bold(variantLabel(r.Variant)), st.Dim(r.Code+" · "+detail))
}

// codeLabel says where the code of a run of step name's variant v is.
func codeLabel(name, v string, shipped, sameAsSolution bool) string {
	where := "exercises/" + name
	switch {
	case v == "solution":
		where = "solutions/" + name
	case shipped:
		where += " (the starter, as shipped)"
	case sameAsSolution:
		where += ", the same as the solution's"
	}
	return where
}

// starterIsSolution reports whether the learner's code for step name
// is the reference solution's: the same Go files, byte for byte, leaving the
// tests aside. Then the two runs of the demo are expected to look alike. It
// reads the files from the kata's root, where the kata command runs this
// program; if it cannot read them, it says no.
func starterIsSolution(name string) bool {
	files := func(dir string) map[string][]byte {
		names, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(names) == 0 {
			return nil
		}
		contents := make(map[string][]byte)
		for _, name := range names {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			data, err := os.ReadFile(name)
			if err != nil {
				return nil
			}
			contents[filepath.Base(name)] = data
		}
		return contents
	}
	mine, theirs := files(filepath.Join("exercises", name)), files(filepath.Join("solutions", name))
	return mine != nil && maps.EqualFunc(mine, theirs, bytes.Equal)
}

// answered says how many of what the run planned were answered, and the
// failures in red.
func answered(st term.Style, r *runResult, what string) string {
	text := fmt.Sprintf("%d/%d %s answered", r.Answered, r.Planned, what)
	if r.Failed > 0 {
		text += st.Paint("31", fmt.Sprintf(", %d failed", r.Failed))
	}
	return text
}

// collect waits for every answer, counts it as answered or failed in r, and
// hands it to each. It gives up when ctx ends.
func collect(ctx context.Context, answers []<-chan station.Answer, r *runResult, each func(i int, a station.Answer)) error {
	for i, ans := range answers {
		select {
		case a := <-ans:
			if a.Err != nil {
				r.Failed++
			} else {
				r.Answered++
			}
			each(i, a)
		case <-ctx.Done():
			return fmt.Errorf("the run took too long: %d of %d calls still unanswered: %w", len(answers)-i, len(answers), ctx.Err())
		}
	}
	return nil
}
