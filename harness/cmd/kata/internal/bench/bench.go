// Package bench measures the final server (make bench): in its own process,
// under the kata's own load generator, side by side with a bare WebSocket
// responder (the ceiling), for throughput, whole charging sessions, idle
// stations, a crash and a reconnect storm. Its figures are the README's.
package bench

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ocppkata/kata/harness/cmd/kata/internal/base"
	"github.com/ocppkata/kata/harness/cmd/kata/internal/link"
	"github.com/ocppkata/kata/harness/cmd/kata/internal/step"
	"github.com/ocppkata/kata/harness/internal/term"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/stations/station"
)

// The bench's phases, in the order it runs them.
var benchPhases = []string{"throughput", "session", "idle", "before", "crash", "storm", "cluster"}

// benchFlagPhase ties a flag of make bench to the phase it changes, so that a
// row's command line repeats only what matters to it.
var benchFlagPhase = map[string]string{
	"stations": "throughput", "calls": "throughput", "pairs": "throughput",
	"session-stations": "session",
	"idle-stations":    "idle",
	"before-stations":  "before", "before-calls": "before", "before-scale": "before",
	"crash-stations": "crash", "storm-stations": "storm", "cluster-stations": "cluster",
}

// benchOptions are make bench's flags.
type benchOptions struct {
	phases                        []string
	stations, calls, pairs        int
	sessionStations, idleStations int
	beforeStations, beforeCalls   int
	beforeScale                   float64
	crashStations, stormStations  int
	clusterStations               int
	workers                       int
	set                           map[string]string // flags given, by name: for the rows' command lines
}

// RunBench runs make bench: the final server, in its own process, under
// the project's own load generator (this process), measured against a bare
// WebSocket responder (the ceiling) and against step 01's starter.
func RunBench(args []string) error {
	fs := base.NewFlags("bench", "[-phase throughput,session,idle,before] [-stations N] [-calls M] [-pairs P] [-session-stations N] [-idle-stations N] [-before-stations N] [-before-calls M] [-before-scale F]")
	phase := fs.String("phase", "all", "the phases to run, by name, comma-separated: throughput, session, idle, before, crash, storm, cluster, or all")
	var o benchOptions
	fs.IntVar(&o.stations, "stations", 200, "throughput: stations")
	fs.IntVar(&o.calls, "calls", 500, "throughput: lock-step Heartbeat calls per station")
	fs.IntVar(&o.pairs, "pairs", 15, "throughput: runs of the final server and the ceiling, alternating; the verdict is their median")
	fs.IntVar(&o.sessionStations, "session-stations", 1000, "session: stations that each run the 14-call charging session")
	fs.IntVar(&o.idleStations, "idle-stations", 10000, "idle: stations that connect and stay idle")
	fs.IntVar(&o.beforeStations, "before-stations", 20, "before: stations")
	fs.IntVar(&o.beforeCalls, "before-calls", 20, "before: lock-step Heartbeat calls per station")
	fs.Float64Var(&o.beforeScale, "before-scale", 0.01, "before: the backend's latencies for the second pair of runs (0.01: a Heartbeat waits 10ms), beside a first pair at 0")
	fs.IntVar(&o.crashStations, "crash-stations", 200, "crash: stations running their sessions when the final server is killed")
	fs.IntVar(&o.stormStations, "storm-stations", 2000, "storm: stations that reconnect in a loop")
	fs.IntVar(&o.clusterStations, "cluster-stations", 3000, "cluster: chargers spread over the three nodes")
	fs.IntVar(&o.workers, "workers", link.DefaultServeWorkers, "the final server's Config.Workers")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: the bench takes flags only", fs.Arg(0))
	}
	o.set = make(map[string]string)
	fs.Visit(func(f *flag.Flag) { o.set[f.Name] = f.Value.String() })
	var err error
	if o.phases, err = parsePhases(*phase); err != nil {
		return err
	}
	for _, n := range []struct {
		name string
		v    int
	}{{"stations", o.stations}, {"calls", o.calls}, {"pairs", o.pairs}, {"session-stations", o.sessionStations},
		{"idle-stations", o.idleStations}, {"before-stations", o.beforeStations}, {"before-calls", o.beforeCalls}, {"crash-stations", o.crashStations}, {"storm-stations", o.stormStations}, {"cluster-stations", o.clusterStations}, {"workers", o.workers}} {
		if n.v < 1 {
			return fmt.Errorf("-%s %d: want 1 or more", n.name, n.v)
		}
	}
	if !(o.beforeScale >= 0) || o.beforeScale > 1 {
		return fmt.Errorf("-before-scale %v: want a factor from 0 to 1 on the workshop's latencies", o.beforeScale)
	}

	r, err := step.FindRepo()
	if err != nil {
		return err
	}
	steps, err := step.Load(r)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b := &bench{opts: o, root: r.Root, final: steps[len(steps)-1], first: steps[0], st: term.StyleFor(os.Stderr), start: time.Now()}
	return b.run(ctx)
}

// parsePhases reads -phase.
func parsePhases(s string) ([]string, error) {
	if s == "all" || s == "" {
		return benchPhases, nil
	}
	var out []string
	for name := range strings.SplitSeq(s, ",") {
		name = strings.TrimSpace(name)
		if !slices.Contains(benchPhases, name) {
			return nil, fmt.Errorf("-phase %q: unknown phase %q (want %s, or all)", s, name, strings.Join(benchPhases, ", "))
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	// Run them in the bench's order whatever order they were given in.
	slices.SortFunc(out, func(a, b string) int { return slices.Index(benchPhases, a) - slices.Index(benchPhases, b) })
	return out, nil
}

// bench is one run of make bench.
type bench struct {
	opts         benchOptions
	root         string
	final, first step.Step
	st           term.Style
	start        time.Time
	tmp          string
	finalBin     string // harness/cmd/run with the final step's solution
	starterBin   string // harness/cmd/run with step 01's starter
	self         string // this program, which is also the ceiling
	rows         []benchRow
	fileLimit    uint64

	mu       sync.Mutex
	children []*benchChild
	status   string // what the progress line says
	answered atomic.Int64
}

func (b *bench) run(ctx context.Context) (err error) {
	limit, limitErr := raiseFileLimit()
	b.fileLimit = limit
	if b.tmp, err = os.MkdirTemp("", "kata-bench-"); err != nil {
		return fmt.Errorf("make a temporary directory: %w", err)
	}
	defer os.RemoveAll(b.tmp)
	defer b.stopChildren()
	if b.self, err = os.Executable(); err != nil {
		return fmt.Errorf("find the bench's own program for the ceiling: %w", err)
	}
	stopProgress := b.progress()
	defer stopProgress()

	b.say("building", "the final server, "+b.final.SolutionDir())
	b.st.Clear(os.Stderr) // the build has a status line of its own
	if b.finalBin, err = link.BuildLinked(b.final, false, true, b.tmp, "final", "bench"); err != nil {
		return err
	}
	if slices.Contains(b.opts.phases, "before") {
		b.say("building", "step 01's starter, "+b.first.Dir())
		b.st.Clear(os.Stderr)
		if b.starterBin, err = link.BuildLinked(b.first, true, false, b.tmp, "starter", "bench"); err != nil {
			return err
		}
	}
	if limitErr != nil {
		b.add(benchRow{phase: "setup", what: "open-files limit", result: limitErr.Error(), failed: true})
	}
	for _, p := range b.opts.phases {
		if ctx.Err() != nil {
			break
		}
		switch p {
		case "throughput":
			b.throughput(ctx)
		case "session":
			b.session(ctx)
		case "idle":
			b.idle(ctx)
		case "before":
			b.before(ctx)
		case "crash":
			b.crash(ctx)
		case "storm":
			b.storm(ctx)
		case "cluster":
			b.cluster(ctx)
		}
		b.stopChildren()
	}
	stopProgress()

	title := fmt.Sprintf("make bench: %s (%s) on %s, %s, %d CPUs, %s; %s UTC; took %v",
		b.final.SolutionDir(), b.final.Meta.Title, machine(), runtime.GOOS+"/"+runtime.GOARCH, runtime.NumCPU(),
		runtime.Version(), b.start.UTC().Format("2006-01-02 15:04"), time.Since(b.start).Round(time.Second))
	table := formatTable(title, b.rows)
	fmt.Print("\n" + table)
	out := filepath.Join(b.root, ".kata", "bench.txt")
	// An interrupted run keeps the last whole table.
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err == nil && ctx.Err() == nil {
		if err := os.WriteFile(out, []byte(table), 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "could not write %s: %v\n", out, err)
		} else {
			fmt.Printf("\nwritten to %s\n", filepath.Join(".kata", "bench.txt"))
		}
	}
	failed := 0
	for _, r := range b.rows {
		if r.failed {
			failed++
		}
	}
	switch {
	case ctx.Err() != nil:
		fmt.Fprintln(os.Stderr, b.st.Red("make bench: interrupted; the table holds what was measured before"))
		return base.ErrFailed
	case failed > 0:
		fmt.Fprintln(os.Stderr, b.st.Red(fmt.Sprintf("make bench: %s failed (marked FAILED above)", term.Plural(failed, "row"))))
		return base.ErrFailed
	}
	return nil
}

// add appends a row to the table.
func (b *bench) add(r benchRow) {
	if r.failed {
		r.result = "FAILED: " + r.result
	}
	b.mu.Lock()
	b.rows = append(b.rows, r)
	b.mu.Unlock()
}

// repro is the command line that measures a phase again: make bench with
// that phase, and the flags given that change it.
func (b *bench) repro(phase string) string {
	cmd := "make bench PHASE=" + phase
	var flags []string
	for name, v := range b.opts.set {
		if benchFlagPhase[name] == phase || name == "workers" {
			flags = append(flags, "-"+name+" "+v)
		}
	}
	slices.Sort(flags)
	if len(flags) > 0 {
		cmd += " BENCH='" + strings.Join(flags, " ") + "'"
	}
	return cmd
}

// say sets the progress line: the phase, and what it is doing.
func (b *bench) say(phase, what string) {
	b.mu.Lock()
	b.status = phase + " · " + what
	b.mu.Unlock()
	b.answered.Store(0)
	b.printStatus()
}

func (b *bench) printStatus() {
	b.mu.Lock()
	msg := b.status
	b.mu.Unlock()
	msg += " · " + time.Since(b.start).Round(time.Second).String()
	if n := b.answered.Load(); n > 0 && b.st.TTY {
		msg += fmt.Sprintf(" · %s calls answered", term.Thousands(n))
	}
	b.st.Status(os.Stderr, msg)
}

// progress redraws the progress line every second on a terminal; in a log
// each say is a line of its own. It returns the function that stops it.
func (b *bench) progress() (stop func()) {
	if !b.st.TTY {
		return func() {}
	}
	quit, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				b.printStatus()
			case <-quit:
				b.st.Clear(os.Stderr)
				return
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(quit); <-exited }) }
}

// machine is the processor's model, where the system says it.
func machine() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOOS
	}
	for line := range strings.Lines(string(data)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.Join(strings.Fields(v), " ")
		}
	}
	return runtime.GOOS
}

// A benchChild is a process the bench started: a server or the ceiling.
type benchChild struct {
	name   string
	cmd    *exec.Cmd
	addr   string
	log    string        // its stderr and stdout
	stdin  io.Closer     // open while the child should run
	exited chan struct{} // closed when it has ended
	err    error         // how it ended, once exited is closed
}

// freeAddr finds a free port on the loopback interface.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startServer starts a linked server, bin, on a free port with a fresh
// SQLite file and waits until it answers /metrics.
func (b *bench) startServer(ctx context.Context, name, bin, variant string, workers int, scale float64) (*benchChild, error) {
	db := filepath.Join(b.tmp, fmt.Sprintf("%s-%d.db", name, time.Now().UnixNano()))
	return b.startServerOn(ctx, name, bin, variant, workers, scale, db)
}

// startServerOn is startServer on the SQLite file db, with serve's flags
// extra besides.
func (b *bench) startServerOn(ctx context.Context, name, bin, variant string, workers int, scale float64, db string, extra ...string) (*benchChild, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	args := []string{"serve", "-variant", variant, "-addr", addr, "-workers", fmt.Sprint(workers),
		"-scale", fmt.Sprint(scale), "-db", db, "-log", "json"}
	args = append(args, extra...)
	c, err := b.startChild(name, addr, bin, args...)
	if err != nil {
		return nil, err
	}
	return c, c.ready(ctx, "http://"+addr+"/metrics")
}

// startCeiling starts the ceiling: this program again, as bench-ceiling.
func (b *bench) startCeiling(ctx context.Context) (*benchChild, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	c, err := b.startChild("ceiling", addr, b.self, "bench-ceiling", "-addr", addr)
	if err != nil {
		return nil, err
	}
	return c, c.ready(ctx, "http://"+addr+"/")
}

func (b *bench) startChild(name, addr, bin string, args ...string) (*benchChild, error) {
	logPath := filepath.Join(b.tmp, fmt.Sprintf("%s-%d.log", name, time.Now().UnixNano()))
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("start the %s: %w", name, err)
	}
	defer logFile.Close()
	cmd := exec.Command(bin, args...)
	cmd.Dir = b.root
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// The ceiling ends when its stdin closes: when the bench ends, however.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("start the %s: %w", name, err)
	}
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the %s: %w", name, err)
	}
	c := &benchChild{name: name, cmd: cmd, addr: addr, log: logPath, stdin: stdin, exited: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		close(c.exited)
	}()
	b.mu.Lock()
	b.children = append(b.children, c)
	b.mu.Unlock()
	return c, nil
}

// ready waits until url answers 200, the child ends, or a minute passes.
func (c *benchChild) ready(ctx context.Context, url string) error {
	deadline := time.Now().Add(time.Minute)
	// A child that accepts and then hangs is asked again, not waited for.
	probe := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := probe.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-c.exited:
			return fmt.Errorf("the %s did not start (%s); it said:\n%s", c.name, exitWords(c.err), c.tail(10))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the %s did not answer %s within a minute; it said:\n%s", c.name, url, c.tail(10))
		}
	}
}

// exitWords says how a child ended.
func exitWords(err error) string {
	if err == nil {
		return "it exited"
	}
	return err.Error()
}

// tail is the last n lines the child wrote, indented.
func (c *benchChild) tail(n int) string {
	data, _ := os.ReadFile(c.log)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	return term.Indent(strings.Join(lines[max(0, len(lines)-n):], "\n"), "  ")
}

// alive reports an error if the child has ended.
func (c *benchChild) alive() error {
	select {
	case <-c.exited:
		return fmt.Errorf("the %s ended during the run (%s); it said:\n%s", c.name, exitWords(c.err), c.tail(10))
	default:
		return nil
	}
}

// stop kills the child and waits for it.
func (c *benchChild) stop() {
	_ = c.cmd.Process.Kill()
	<-c.exited
	c.stdin.Close()
}

// stopChildren kills every child still running.
func (b *bench) stopChildren() {
	b.mu.Lock()
	children := b.children
	b.children = nil
	b.mu.Unlock()
	for _, c := range children {
		c.stop()
	}
}

// stationsURL is where a child serves its stations.
func stationsURL(c *benchChild) string { return "ws://" + c.addr + "/ocpp" }

// failRow records that a phase could not run.
func (b *bench) failRow(phase, what string, err error) {
	b.add(benchRow{phase: phase, what: what, result: oneLine(err), repro: b.repro(phase), failed: true})
	fmt.Fprintf(os.Stderr, "\n%s %s: %v\n", b.st.Red(phase+":"), what, err)
}

// oneLine is the first line of err's message.
func oneLine(err error) string {
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return msg
}

// heartbeatRow runs a Heartbeat load on c and adds its row.
func (b *bench) heartbeatRow(ctx context.Context, phase, what string, c *benchChild, prefix string, n, m int) (loadResult, bool) {
	b.say(phase, what)
	res := heartbeats(ctx, stationsURL(c), prefix, n, m, &b.answered)
	if res.err == nil {
		res.err = c.alive()
	}
	if res.err != nil {
		if ctx.Err() == nil {
			b.failRow(phase, what, res.err)
		}
		return res, false
	}
	b.add(benchRow{phase: phase, what: what, repro: b.repro(phase),
		result: fmt.Sprintf("%s calls/s · p50 %s · p99 %s", term.Thousands(int64(res.callsPerSecond())), latency(res.p50), latency(res.p99))})
	return res, true
}

// throughput alternates the final server and the ceiling under the same
// lock-step Heartbeat load, pair after pair, and reports the server's share
// of the ceiling: its median and interquartile range over the pairs, since
// one pair on a shared machine says little. Beside it, each side's CPU per
// call, a steadier figure than calls/s when other work shares the cores.
func (b *bench) throughput(ctx context.Context) {
	const phase = "throughput"
	o := b.opts
	b.say(phase, "starting the final server and the ceiling")
	srv, err := b.startServer(ctx, "final", b.finalBin, "solution", o.workers, 0)
	if err != nil {
		b.failRow(phase, "the final server", err)
		return
	}
	ceil, err := b.startCeiling(ctx)
	if err != nil {
		b.failRow(phase, "the ceiling", err)
		return
	}
	load := fmt.Sprintf("%d stations × %d Heartbeats", o.stations, o.calls)
	rssBefore, rssErr := measure(ctx, srv)
	var served int
	var shares, serverRates, serverCPU, ceilingCPU []float64
	var cpuErr error
	run := func(c *benchChild, what, prefix string) (loadResult, float64, bool) {
		b.say(phase, what)
		before, errBefore := readCPU(c.cmd.Process.Pid)
		res := heartbeats(ctx, stationsURL(c), prefix, o.stations, o.calls, &b.answered)
		after, errAfter := readCPU(c.cmd.Process.Pid)
		if res.err == nil {
			res.err = c.alive()
		}
		if res.err != nil {
			if ctx.Err() == nil {
				b.failRow(phase, what, res.err)
			}
			return res, 0, false
		}
		if err := errors.Join(errBefore, errAfter); err != nil {
			cpuErr = err
			return res, 0, true
		}
		return res, float64(after-before) / float64(time.Microsecond) / float64(max(res.answered, 1)), true
	}
	for pair := 1; pair <= o.pairs && ctx.Err() == nil; pair++ {
		rs, cs, ok := run(srv, fmt.Sprintf("final server, %s, pair %d of %d", load, pair, o.pairs), fmt.Sprintf("TP%dS", pair))
		if !ok {
			return
		}
		rc, cc, ok := run(ceil, fmt.Sprintf("ceiling, %s, pair %d of %d", load, pair, o.pairs), fmt.Sprintf("TP%dC", pair))
		if !ok {
			return
		}
		served += rs.answered
		serverRates = append(serverRates, rs.callsPerSecond())
		shares = append(shares, rs.callsPerSecond()/rc.callsPerSecond())
		serverCPU, ceilingCPU = append(serverCPU, cs), append(ceilingCPU, cc)
	}
	if len(shares) != o.pairs {
		return
	}
	q1, q3 := quartiles(shares)
	result := fmt.Sprintf("median %.0f%% (IQR %.0f–%.0f%%, %d pairs) · median %s calls/s",
		100*median(shares), 100*q1, 100*q3, len(shares), term.Thousands(int64(median(serverRates))))
	if cpuErr == nil {
		result += fmt.Sprintf(" · CPU per call: server %.1f µs, ceiling %.1f µs (medians)", median(serverCPU), median(ceilingCPU))
	}
	b.add(benchRow{phase: phase, what: "final server's share of the ceiling, " + load, repro: b.repro(phase), result: result})
	// Whether the server grows with the calls it answers.
	rssAfter, err := measure(ctx, srv)
	if err = errors.Join(rssErr, err); err != nil {
		b.failRow(phase, "final server's memory under load", err)
		return
	}
	b.add(benchRow{phase: phase, what: "final server's memory under load", repro: b.repro(phase),
		result: fmt.Sprintf("RSS %.0f MiB before, %.0f MiB after %s calls (%+.0f MiB) · from %s",
			mib(rssBefore.rss), mib(rssAfter.rss), term.Thousands(int64(served)), mib(rssAfter.rss-rssBefore.rss), procSource)})
}

// session has every station run the 14-call charging session on the final
// server, then checks through its operator API that the store holds every
// transaction and meter value the stations sent.
func (b *bench) session(ctx context.Context) {
	const phase = "session"
	n := b.opts.sessionStations
	what := fmt.Sprintf("final server, %s stations × 14-call session", term.Thousands(int64(n)))
	b.say(phase, "starting the final server")
	srv, err := b.startServer(ctx, "final", b.finalBin, "solution", b.opts.workers, 0)
	if err != nil {
		b.failRow(phase, what, err)
		return
	}
	b.say(phase, what)
	rep, err := station.RunFleet(ctx, station.FleetOptions{
		Options: station.Options{URL: stationsURL(srv)}, Stations: n, Mode: station.LockStep,
		Progress:      func(p station.Progress) { b.answered.Store(int64(p.Answered)) },
		ProgressEvery: time.Second,
	})
	if err == nil {
		err = srv.alive()
	}
	if err == nil && (rep.Failed > 0 || rep.Connected < n || len(rep.Failures()) > 0) {
		err = fmt.Errorf("%d of %d stations connected, %d of %d calls failed: %v", rep.Connected, n, rep.Failed, rep.Calls, firstStationErr(rep))
	}
	if err != nil {
		if ctx.Err() == nil {
			b.failRow(phase, what, err)
		}
		return
	}
	rate := float64(rep.Answered) / rep.Wall.Seconds()
	b.add(benchRow{phase: phase, what: what, repro: b.repro(phase),
		result: fmt.Sprintf("%s calls/s · p50 %s · p99 %s (%s calls, connecting included) · slowest: %s", term.Thousands(int64(rate)), latency(rep.P50), latency(rep.P99), term.Thousands(int64(rep.Answered)), slowestAction(rep))})

	want := expectedStore(rep)
	check := "its SQLite store afterwards, by the API"
	b.say(phase, check)
	got, err := waitForStore(ctx, "http://"+srv.addr, want)
	if err != nil {
		b.failRow(phase, check, err)
		return
	}
	b.add(benchRow{phase: phase, what: check, repro: b.repro(phase),
		result: fmt.Sprintf("%s of %s transactions (all stopped) · %s of %s meter values", term.Thousands(int64(got.transactions)), term.Thousands(int64(want.transactions)),
			term.Thousands(int64(got.samples)), term.Thousands(int64(want.samples)))})
}

// slowestAction names the action whose answered calls have the highest
// p99, and that p99: where a session's tail comes from.
func slowestAction(r *station.Report) string {
	byAction := make(map[string][]time.Duration)
	for _, st := range r.Stations {
		for _, c := range st.Calls {
			if c.Err == nil {
				byAction[c.Action] = append(byAction[c.Action], c.Latency())
			}
		}
	}
	var name string
	var worst time.Duration
	for _, action := range slices.Sorted(maps.Keys(byAction)) {
		lat := byAction[action]
		slices.Sort(lat)
		if p := station.Percentile(lat, 99); name == "" || p > worst {
			name, worst = action, p
		}
	}
	if name == "" {
		return "none answered"
	}
	return fmt.Sprintf("%s, p99 %s", name, latency(worst))
}

// firstStationErr is the first station's failure in a fleet's report.
func firstStationErr(r *station.Report) error {
	for _, st := range r.Failures() {
		return st.Err
	}
	return errors.New("no station says why")
}

// storeCount is what the store should hold after a session run, or holds.
type storeCount struct {
	transactions, stopped, samples int
}

// samplesPerMeterValues is how many sampled values a session's MeterValues
// call carries: energy and power.
const samplesPerMeterValues = 2

// expectedStore counts what the stations' answered calls put in the store.
func expectedStore(r *station.Report) storeCount {
	var c storeCount
	for _, st := range r.Stations {
		for _, call := range st.Calls {
			if call.Err != nil {
				continue
			}
			switch call.Action {
			case ocpp.ActionStartTransaction:
				c.transactions++
			case ocpp.ActionStopTransaction:
				c.stopped++
			case ocpp.ActionMeterValues:
				c.samples += samplesPerMeterValues
			}
		}
	}
	return c
}

// waitForStore reads the store through the operator API until it holds
// what was expected, or 30 seconds pass: status notifications are written
// in the background, after their answer.
func waitForStore(ctx context.Context, base string, want storeCount) (storeCount, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err := countStore(ctx, base)
		if err == nil && got == want {
			return got, nil
		}
		if err == nil {
			err = fmt.Errorf("the store holds %d transactions (%d stopped) and %d meter values; the stations had %d (%d stopped) and %d answered",
				got.transactions, got.stopped, got.samples, want.transactions, want.stopped, want.samples)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return got, err
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// countStore counts the transactions and meter values the API lists.
func countStore(ctx context.Context, base string) (storeCount, error) {
	txs, err := storedTransactions(ctx, base)
	c := storeCount{transactions: len(txs)}
	for _, tx := range txs {
		if tx.stopped {
			c.stopped++
		}
		c.samples += tx.samples
	}
	return c, err
}

// storedTransaction is what the API shows of a transaction: its station,
// whether it stopped, and how many sampled values it holds.
type storedTransaction struct {
	station string
	stopped bool
	samples int
}

// storedTransactions lists the transactions the API shows, with the count
// of their sampled values.
func storedTransactions(ctx context.Context, base string) ([]storedTransaction, error) {
	var txs []struct {
		ID        int    `json:"id"`
		Station   string `json:"station"`
		MeterStop *int   `json:"meterStop"`
	}
	if err := getJSON(ctx, base+"/api/transactions", &txs); err != nil {
		return nil, err
	}
	out := make([]storedTransaction, 0, len(txs))
	for _, tx := range txs {
		var samples []json.RawMessage
		if err := getJSON(ctx, fmt.Sprintf("%s/api/transactions/%d/meter-values", base, tx.ID), &samples); err != nil {
			return out, err
		}
		out = append(out, storedTransaction{station: tx.Station, stopped: tx.MeterStop != nil, samples: len(samples)})
	}
	return out, nil
}

// getJSON GETs url and decodes its JSON body into v.
func getJSON(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	return nil
}

// serverFigures are a server process's threads, memory and goroutines.
type serverFigures struct {
	threads    int
	rss        int64
	goroutines int
	heap       int64 // the Go heap's spans in use (go_memstats_heap_inuse_bytes)
	live       int64 // the Go heap's objects, garbage included until it is collected (go_memstats_heap_alloc_bytes)
	stacks     int64 // goroutine stacks (go_memstats_stack_inuse_bytes)
	// Where the rest of the RSS goes, for the idle row's breakdown.
	kept    int64 // free pages the runtime has not given back yet (heap idle - heap released)
	runtime int64 // the runtime's own records, outside the heap (go_memstats_other_sys_bytes): one per socket for Go's poller among them
	meta    int64 // the collector's and the spans' metadata (gc_sys, mspan_sys, mcache_sys, buck_hash_sys)
	files   int64 // the RSS's pages of files: the program's code, read in as it runs (Linux only, else 0)
}

// measure reads the server's figures: threads and RSS from /proc on Linux,
// from its /metrics elsewhere; goroutines from its /metrics.
func measure(ctx context.Context, c *benchChild) (serverFigures, error) {
	var f serverFigures
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.addr+"/metrics", nil)
	if err != nil {
		return f, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return f, fmt.Errorf("GET /metrics: %w", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return f, fmt.Errorf("GET /metrics: %w", err)
	}
	text := string(body)
	g, err := parseMetric(text, "go_goroutines")
	if err != nil {
		return f, err
	}
	f.goroutines = int(g)
	// The memory's parts: a metric the server lacks counts nothing.
	sum := func(names ...string) int64 {
		var n float64
		for _, name := range names {
			v, _ := parseMetric(text, name)
			n += v
		}
		return int64(n)
	}
	f.heap = sum("go_memstats_heap_inuse_bytes")
	f.live = sum("go_memstats_heap_alloc_bytes")
	f.stacks = sum("go_memstats_stack_inuse_bytes")
	f.kept = sum("go_memstats_heap_idle_bytes") - sum("go_memstats_heap_released_bytes")
	f.runtime = sum("go_memstats_other_sys_bytes")
	f.meta = sum("go_memstats_gc_sys_bytes", "go_memstats_mspan_sys_bytes", "go_memstats_mcache_sys_bytes", "go_memstats_buck_hash_sys_bytes")
	if st, err := readProcStatus(c.cmd.Process.Pid); err == nil {
		f.threads, f.rss, f.files = st.threads, st.rss, st.rssFile
		return f, nil
	} else if !errors.Is(err, errors.ErrUnsupported) {
		return f, err
	}
	threads, err := parseMetric(text, "go_threads")
	if err != nil {
		return f, err
	}
	rss, err := parseMetric(text, "process_resident_memory_bytes")
	if err != nil {
		return f, err
	}
	f.threads, f.rss = int(threads), int64(rss)
	return f, nil
}

// idleSettle is how long the idle phase waits for its stations to connect
// and boot: 10,000 take a few seconds on 2 cores.
const idleSettle = 3 * time.Minute

// mib is bytes in MiB.
func mib(bytes int64) float64 { return float64(bytes) / (1 << 20) }

// idle connects stations that stay idle, and measures what each costs the
// final server.
func (b *bench) idle(ctx context.Context) {
	const phase = "idle"
	n := b.opts.idleStations
	note := ""
	// Each station is a socket in this process and one in the server's.
	if margin := 200; b.fileLimit > 0 && uint64(n+margin) > b.fileLimit {
		n = int(b.fileLimit) - margin
		note = fmt.Sprintf(" (the open-files limit, %s, leaves room for %s of %s)", term.Thousands(int64(b.fileLimit)), term.Thousands(int64(n)), term.Thousands(int64(b.opts.idleStations)))
	}
	what := fmt.Sprintf("final server, %s stations connected and idle%s", term.Thousands(int64(n)), note)
	b.say(phase, "starting the final server")
	// -pprof: settle asks it for a garbage collection.
	db := filepath.Join(b.tmp, fmt.Sprintf("idle-%d.db", time.Now().UnixNano()))
	srv, err := b.startServerOn(ctx, "final", b.finalBin, "solution", b.opts.workers, 0, db, "-pprof")
	if err != nil {
		b.failRow(phase, what, err)
		return
	}
	time.Sleep(time.Second) // let the new server settle before the baseline
	before, err := measure(ctx, srv)
	if err != nil {
		b.failRow(phase, what, err)
		return
	}
	b.say(phase, what)
	fleetCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	allBooted := make(chan struct{})
	var once sync.Once
	type fleetResult struct {
		rep *station.Report
		err error
	}
	done := make(chan fleetResult, 1)
	go func() {
		rep, err := station.RunFleet(fleetCtx, station.FleetOptions{
			Options: station.Options{URL: stationsURL(srv)}, Stations: n, Mode: station.Idle,
			ProgressEvery: 250 * time.Millisecond,
			Progress: func(p station.Progress) {
				b.answered.Store(int64(p.Answered))
				// A station is settled once its boot is answered or it
				// is done (it could not connect, or failed): one that did
				// both failed, and counting it twice only ends the wait
				// sooner for a run that failed anyway.
				if p.Answered+p.Done >= n {
					once.Do(func() { close(allBooted) })
				}
			},
		})
		done <- fleetResult{rep, err}
	}()
	var after, settled serverFigures
	timeout := time.NewTimer(idleSettle)
	defer timeout.Stop()
	select {
	case <-timeout.C:
		err = fmt.Errorf("the %s stations had not all connected and booted after %v", term.Thousands(int64(n)), idleSettle)
		cancel()
	case <-allBooted:
		time.Sleep(time.Second) // let the connections settle: the figures are the idle ones
		after, err = measure(ctx, srv)
		if err == nil {
			b.say(phase, "collecting the garbage of the handshakes, and waiting for the memory to settle")
			settled, err = settle(ctx, srv)
		}
		if err == nil {
			err = srv.alive()
		}
		cancel()
	case <-ctx.Done():
	}
	res := <-done
	switch {
	case ctx.Err() != nil:
		return
	case err != nil:
	case res.err != nil:
		err = res.err
	case res.rep.Connected < n || res.rep.Failed > 0 || len(res.rep.Failures()) > 0:
		err = fmt.Errorf("%d of %d stations connected, %d of %d BootNotifications failed: %v", res.rep.Connected, n, res.rep.Failed, res.rep.Calls, firstStationErr(res.rep))
	}
	if err != nil {
		b.failRow(phase, what, err)
		return
	}
	kib := func(settled, before int64) float64 { return float64(settled-before) / float64(n) / 1024 }
	code := "" // the RSS's pages of the program's file, where the system says
	if settled.files > 0 {
		code = fmt.Sprintf(", %.1f of the program's code read in (once, not per station)", kib(settled.files, before.files))
	}
	b.add(benchRow{phase: phase, what: what, repro: b.repro(phase),
		result: fmt.Sprintf("%d OS threads · RSS %.1f KiB per station once settled, %.1f at once (%.0f → %.0f → %.0f MiB); of it, after a collection, %.1f KiB of Go heap objects, %.1f of free room in the heap's spans, %.1f of free pages not given back yet, %.1f of the runtime's own (its poller's record of each socket among it), %.1f of stack, %.1f of metadata%s · %.2f goroutines per station (%s → %s) · from %s",
			max(after.threads, settled.threads), kib(settled.rss, before.rss), kib(after.rss, before.rss), mib(before.rss), mib(after.rss), mib(settled.rss),
			kib(settled.live, before.live), kib(settled.heap-settled.live, before.heap-before.live), kib(settled.kept, before.kept),
			kib(settled.runtime, before.runtime), kib(settled.stacks, before.stacks), kib(settled.meta, before.meta), code,
			float64(max(0, after.goroutines-before.goroutines))/float64(n), term.Thousands(int64(before.goroutines)), term.Thousands(int64(after.goroutines)), procSource)})
}

// settle asks the server for a garbage collection and returns its figures
// once its RSS has stopped falling: what its idle stations cost it for as
// long as they stay idle. Right after ten thousand handshakes, the heap
// still holds their garbage (net/http's requests and buffers), until the
// next collection; an idle server has one within two minutes (the runtime
// forces one), after which the runtime gives the free memory back to the
// system, a little at a time. Asking for the collection (pprof's gc=1)
// spares the bench those two minutes.
func settle(ctx context.Context, c *benchChild) (serverFigures, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.addr+"/debug/pprof/heap?gc=1", nil)
	if err != nil {
		return serverFigures{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return serverFigures{}, fmt.Errorf("GET /debug/pprof/heap?gc=1: %w", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return serverFigures{}, fmt.Errorf("GET /debug/pprof/heap?gc=1: %s (is the server's -pprof on?)", resp.Status)
	}
	last, err := measure(ctx, c)
	if err != nil {
		return last, err
	}
	// Settled: no fall of more than 1% for settleQuiet seconds in a row
	// (the runtime starts giving memory back a second or two after the
	// collection), or settleWait passed.
	quiet := 0
	for range int(settleWait / time.Second) {
		select {
		case <-time.After(time.Second):
		case <-ctx.Done():
			return last, ctx.Err()
		}
		f, err := measure(ctx, c)
		if err != nil {
			return last, err
		}
		if f.rss < last.rss-last.rss/100 {
			quiet = 0
		} else if quiet++; quiet == settleQuiet {
			return f, nil
		}
		last = f
	}
	return last, nil
}

// How long settle waits for the RSS to stop falling: settleQuiet seconds
// in a row without a fall, and settleWait at most.
const (
	settleQuiet = 3
	settleWait  = 20 * time.Second
)

// before runs step 01's starter, as the learner's exercises/01-workers has
// it, beside the final server on the same small load: with no backend
// latency, then with a little, which is what step 01 is about.
func (b *bench) before(ctx context.Context) {
	const phase = "before"
	o := b.opts
	load := fmt.Sprintf("%d stations × %d Heartbeats", o.beforeStations, o.beforeCalls)
	starter := "step 01's starter, one worker"
	if !b.first.Unchanged() {
		starter = "step 01 as you have changed it"
	}
	for _, scale := range []float64{0, o.beforeScale} {
		if ctx.Err() != nil {
			return
		}
		lat := fmt.Sprintf("SCALE=%g", scale)
		for _, s := range []struct {
			name, bin, variant, what string
			workers                  int
		}{
			{"starter", b.starterBin, "starter", starter, 1},
			{"final", b.finalBin, "solution", "final server", o.workers},
		} {
			what := fmt.Sprintf("%s, %s, %s", s.what, load, lat)
			b.say(phase, "starting "+s.what)
			c, err := b.startServer(ctx, s.name, s.bin, s.variant, s.workers, scale)
			if err != nil {
				b.failRow(phase, what, err)
				continue
			}
			b.heartbeatRow(ctx, phase, what, c, "BA"+s.name[:1], o.beforeStations, o.beforeCalls)
			c.stop()
		}
		if scale == o.beforeScale {
			break // -before-scale 0: one pair
		}
	}
}
