package main

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
	"runtime/metrics"
	"strings"
	"time"

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
	run func(ctx context.Context, v string, newServer func(Config) Server, workers int, progress func(done, total int)) (*runResult, error)
	// show draws one run once it is over.
	show func(w io.Writer, st style, r *runResult)
	// compare sums the runs up.
	compare func(w io.Writer, st style, runs []*runResult)
}

// scenarios returns the demo of each step that has one, by step number.
func scenarios() map[int]scenario {
	return map[int]scenario{
		1: workersScenario(),
		2: threadsScenario(),
		3: orderScenario(),
		4: evictionScenario(),
		5: floodScenario(),
		6: batchScenario(),
		7: callsScenario(),
		8: shutdownScenario(),
		9: hardeningScenario(),
	}
}

// A runResult is what one run measured; the child process sends it to the
// parent as JSON.
type runResult struct {
	Variant  string        `json:"variant"`  // starter or solution; in the parent, its label: your code or solution
	Workers  int           `json:"workers"`  // Config.Workers
	Stations int           `json:"stations"` // simulated stations
	Planned  int           `json:"planned"`  // calls the stations meant to make
	Answered int           `json:"answered"`
	Failed   int           `json:"failed"`
	Wall     time.Duration `json:"wall"`
	Peak     int           `json:"peak"`    // the backend's peak concurrency
	Threads  int           `json:"threads"` // OS threads at the end of the run
	Work     []span        `json:"work"`    // the backend's records
	Sent     []sending     `json:"sent"`    // when the stations sent their calls

	Samples  []sample         `json:"samples,omitempty"`  // gauges over the run (steps 2 and 4)
	Phases   []phase          `json:"phases,omitempty"`   // what the stations were doing when
	Orders   map[string][]int `json:"orders,omitempty"`   // per station, the calls in processing order (step 3)
	Overlap  int              `json:"overlap,omitempty"`  // most of one station's calls processed at once (step 3)
	AckMax   time.Duration    `json:"ackMax,omitempty"`   // the slowest acknowledgement (step 3)
	Writes   []batchWrite     `json:"writes,omitempty"`   // the backend's batch writes (step 6)
	Calls    []demoCall       `json:"calls,omitempty"`    // the server's calls to stations (step 7)
	Shutdown *shutdownRun     `json:"shutdown,omitempty"` // what a shutdown lost (step 8)
	Edge     *edgeRun         `json:"edge,omitempty"`     // the edge checks, and the neighbours (step 9)

	// Shipped reports that the learner's code (the starter variant) is
	// the starter as the kata shipped it; the parent sets it.
	Shipped bool `json:"-"`
}

// variantLabel names a variant for the learner: the starter variant is
// their code, whether or not they have changed it yet.
func variantLabel(v string) string {
	if v == "starter" {
		return "your code"
	}
	return v
}

// A sample is what the gauges read at one moment of a run.
type sample struct {
	At                            time.Duration
	Threads, Goroutines, InFlight int
	Processors                    int // step 4's live processors
	Backlog, HeapMiB, AckMs       int // step 5's flooder backlog, heap, slowest acknowledgement
}

// A phase is when the stations began doing something else.
type phase struct {
	Name string
	At   time.Duration
}

// A span is one call the backend worked on, as offsets from the run's start.
type span struct {
	Worker, Station, Call string
	Start, End            time.Duration
}

// A sending is one call a station sent, as an offset from the run's start.
type sending struct {
	Station, Call string
	At            time.Duration
}

// demoRunTimeout bounds one run: a server that hangs must not hang the demo.
const demoRunTimeout = 3 * time.Minute

// demo runs the linked step's scenario: the parent process starts a child
// per variant and draws what they report.
func demo(args []string) error {
	fs := newFlags("demo")
	workers := fs.Int("workers", 10, "Config.Workers for both runs")
	child := fs.String("child", "", "run one variant and print its result as JSON (used by the demo itself)")
	shipped := fs.Bool("shipped", false, "the learner's code is the starter as the kata shipped it (the kata command knows)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: run demo [-workers W]")
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := checkArgs(fs); err != nil {
		return err
	}
	if *workers < 1 {
		return fmt.Errorf("-workers %d: want 1 or more, the size of the worker pool both runs get", *workers)
	}
	sc, ok := scenarios()[linked.Step]
	if !ok {
		fmt.Printf("no demo for step %d yet\n", linked.Step)
		return nil
	}
	if *child != "" {
		return demoChild(sc, *child, *workers)
	}

	st := styleFor(os.Stdout)
	fmt.Printf("%s\n\n%s\n", st.bold(fmt.Sprintf("make demo · step %02d · %s", linked.Step, linked.Title)), sc.intro)
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find this program to run the variants: %w", err)
	}
	var runs []*runResult
	for _, v := range []string{"starter", "solution"} {
		if _, _, err := variant(v); err != nil {
			continue
		}
		r, err := runChild(exe, v, *workers)
		if err != nil {
			fmt.Fprintf(os.Stderr, "the run of %s failed: %v\n", variantLabel(v), err)
			continue
		}
		r.Variant, r.Shipped = variantLabel(v), *shipped && v == "starter"
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
func demoChild(sc scenario, v string, workers int) error {
	newServer, _, err := variant(v)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), demoRunTimeout)
	defer cancel()
	live := isTerminal(os.Stderr)
	st := styleFor(os.Stderr)
	start := time.Now()
	unit := sc.unit
	if unit == "" {
		unit = "calls answered"
	}
	progress := func(done, total int) {
		if live {
			fmt.Fprintf(os.Stderr, "\r\x1b[K  %-9s %s %d/%d %s · %.1fs",
				variantLabel(v), st.dim(progressBar(done, total, 30)), done, total, unit, time.Since(start).Seconds())
		}
	}
	r, err := sc.run(ctx, v, newServer, workers, progress)
	if live {
		fmt.Fprint(os.Stderr, "\r\x1b[K")
	}
	if err != nil {
		return err
	}
	if r.Threads, err = threads(); err != nil {
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

// threads returns how many OS threads the process has. Go never gives threads back, so at the end of a run it
// is the most the run needed.
func threads() (int, error) {
	// The runtime's count agrees with the kernel's (kit.Threads is tested
	// against /proc) and works on every system.
	sample := []metrics.Sample{{Name: "/sched/threads/total:threads"}}
	metrics.Read(sample)
	if sample[0].Value.Kind() != metrics.KindUint64 {
		return 0, nil // an older runtime: the demo shows no thread count
	}
	return int(sample[0].Value.Uint64()), nil
}

// onLoopback serves srv on a new port of 127.0.0.1. It returns options for
// stations that dial it, and stop, which closes the server and says what
// went wrong with it.
func onLoopback(srv Server) (opts station.Options, stop func() error, err error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return opts, nil, fmt.Errorf("listen on loopback: %w", err)
	}
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
func runHeader(w io.Writer, st style, r *runResult, detail string) {
	where := "exercises/" + linked.Name
	switch {
	case r.Variant == "solution":
		where = "solutions/" + linked.Name
	case r.Shipped:
		where += " (the starter, as shipped)"
	case starterIsSolution():
		where += ", the same as the solution's"
	}
	fmt.Fprintf(w, "\n%s  %s\n", st.bold(variantLabel(r.Variant)), st.dim(where+" · "+detail))
}

// starterIsSolution reports whether the learner's code for the linked step
// is the reference solution's: the same Go files, byte for byte, leaving the
// tests aside. Then the two runs of the demo are expected to look alike. It
// reads the files from the kata's root, where the kata command runs this
// program; if it cannot read them, it says no.
func starterIsSolution() bool {
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
	mine, theirs := files(filepath.Join("exercises", linked.Name)), files(filepath.Join("solutions", linked.Name))
	return mine != nil && maps.EqualFunc(mine, theirs, bytes.Equal)
}

// answered says how many of what the run planned were answered, and the
// failures in red.
func answered(st style, r *runResult, what string) string {
	text := fmt.Sprintf("%d/%d %s answered", r.Answered, r.Planned, what)
	if r.Failed > 0 {
		text += st.paint("31", fmt.Sprintf(", %d failed", r.Failed))
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
