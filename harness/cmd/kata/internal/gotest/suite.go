package gotest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/ocppkata/kata/harness/cmd/kata/internal/proc"
	"github.com/ocppkata/kata/harness/cmd/kata/internal/step"
)

// DefaultTestLimit is how long one top-level test of a suite may run before
// the runner calls it hung. The suites run on fake time: the slowest tests
// (step 02's thousand loopback stations in a fresh process, step 04's
// thousand stations coming and going) took 2.3s with -race on an idle
// 2-core machine and up to 4.4s on one loaded by eight other suites (load
// average 15). A test still running after 15s waits for something that will
// not come. A step's step.json may set "test_timeout" ("45s").
const DefaultTestLimit = 15 * time.Second

// afterHangLimit is the per-test limit of the tests that run after one has
// hung. A hang is nearly always the learner's code waiting for itself (a lock
// taken twice, a queue nobody reads), and every later test that starts the
// server waits the same way: the learner should hear that once, not wait a
// whole limit for each test. It is the default limit, still three times the
// slowest test on a loaded machine, and long enough for kit.Isolated's child
// (which stops itself a little earlier) to say where it hung.
const afterHangLimit = 15 * time.Second

// limitEnv tells the test binary, and the kit.Isolated processes it starts,
// the per-test limit the runner enforces, as a Go duration.
const limitEnv = "KATA_TEST_LIMIT"

// A suite runs one step's test suite the way check, progress and watch do:
// it builds the test binary once, with -race, and runs it under a watchdog
// that reports which test is running, stops a test that runs past its limit
// and has the binary print every goroutine's stack first, runs the tests that
// a crash kept from running in a fresh process, and leaves no process of
// the run behind.
type suite struct {
	s       step.Step
	Overlay string        // a go command overlay, or ""
	limit   time.Duration // per top-level test
	// SlowBuild is called once if the build is still running after a couple
	// of seconds: a cold build cache, which takes a while. May be nil.
	SlowBuild func()
	// running is called now and then while a test runs: its name and for
	// how long it has run. May be nil.
	Running func(test string, d time.Duration)
	// afterHang is the limit of the tests that run after one has hung,
	// if shorter than limit (afterHangLimit).
	afterHang time.Duration
	// after names the test whose hang shortened limit, or "".
	after string
	// Test2JSON is the test2json program that turns the binary's output
	// into events (see BuildTest2JSON). If it is "", Run builds one, and
	// RunBuilt runs go tool test2json.
	Test2JSON string
}

// BuildTest2JSON builds test2json into dir, with -race, and returns its
// path. With the standard library's race variants built, as every suite
// needs them, that takes a second; go tool test2json, by contrast, builds
// the library again without -race on a fresh machine (12s of two cores)
// and starts the go command on every run. make test runs a hundred.
func BuildTest2JSON(dir string) (string, error) {
	bin := filepath.Join(dir, "test2json")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	out, err := exec.Command("go", "build", "-race", "-o", bin, "cmd/test2json").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build cmd/test2json: %v: %s", err, bytes.TrimSpace(out))
	}
	return bin, nil
}

// NewSuite returns a suite of step s with the step's per-test limit.
func NewSuite(s step.Step) suite {
	return suite{s: s, limit: TestLimit(s), afterHang: afterHangLimit}
}

// TestLimit returns the per-test limit of a step: its step.json's
// "test_timeout" if it has one, else DefaultTestLimit.
func TestLimit(s step.Step) time.Duration {
	if s.Meta.TestTimeout > 0 {
		return s.Meta.TestTimeout
	}
	return DefaultTestLimit
}

// A Crash is one death of a test binary, or one test stopped by the
// watchdog.
type Crash struct {
	Test  string // the top-level test that was running, or ""
	first string // "panic: …", "fatal error: …", or "" for a hang
	// hung is the limit a hung test ran past; zero for a panic.
	Hung time.Duration
	// child reports that the hang was in a process the test started
	// (kit.Isolated): the test itself then failed with the child's stacks.
	child bool
	// after names the test that had hung before, for which the runner
	// waited less for this one (afterHangLimit), or "".
	after string
	dump  []string // the goroutine stacks
}

// leak reports whether the crash is synctest's: the test's function
// returned while goroutines it started were still blocked.
func (c *Crash) leak() bool {
	return strings.Contains(c.first, "main bubble goroutine has exited but blocked goroutines remain")
}

// deadlock reports whether the crash is synctest's deadlock: every
// goroutine of the bubble blocked at once.
func (c *Crash) deadlock() bool {
	return strings.Contains(c.first, "all goroutines in bubble are blocked") ||
		strings.Contains(c.first, "all goroutines are asleep")
}

// How says in a few words what happened to the test: "hung", "crashed", …
func (c *Crash) How() string {
	switch {
	case c.Hung != 0:
		return "hung"
	case c.leak():
		return "left a goroutine behind"
	case c.deadlock():
		return "deadlocked"
	}
	return "crashed"
}

// Run builds and runs the suite, and returns what it reported: one package,
// whose tests are those of every round, and whose crashes say what went
// wrong. A build failure is reported as in a go test run.
func (su suite) Run(ctx context.Context) *TestRun {
	start := time.Now()
	tmp, err := os.MkdirTemp("", "kata-suite-")
	if err != nil {
		return &TestRun{Err: fmt.Errorf("make a temporary directory: %w", err)}
	}
	defer os.RemoveAll(tmp)

	bin := filepath.Join(tmp, su.s.Name+".test")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	if tr := su.build(ctx, bin); tr != nil {
		tr.Elapsed = time.Since(start)
		return tr
	}
	if su.Test2JSON == "" {
		if t2j, err := BuildTest2JSON(tmp); err == nil {
			su.Test2JSON = t2j
		}
	}
	tr := su.RunBuilt(ctx, bin, nil)
	tr.Elapsed = time.Since(start)
	return tr
}

// RunBuilt runs the suite's test binary, already built at bin: every test,
// or only those named in only, under the watchdog; after a crash, the tests
// it kept from running each run in a fresh process. It returns what they
// reported, as run does.
func (su suite) RunBuilt(ctx context.Context, bin string, only []string) *TestRun {
	start := time.Now()
	// A run of named tests needs no list: a name the suite lacks matches
	// nothing, and the caller knows the suite's names (make test: one
	// -test.list less for each of the wrong turns).
	names := only
	if only == nil {
		var err error
		if names, err = su.list(ctx, bin); err != nil {
			return &TestRun{Err: err, Elapsed: time.Since(start)}
		}
	}
	if su.Running != nil {
		// Rounds after a crash run side by side, each calling it.
		var mu sync.Mutex
		running := su.Running
		su.Running = func(test string, d time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			running(test, d)
		}
	}
	merged := &pkgResult{Name: su.s.ImportPath(), ByName: make(map[string]*TestResult), Action: "pass"}
	tr := &TestRun{Pkgs: []*pkgResult{merged}, byPkg: map[string]*pkgResult{merged.Name: merged}}
	all := only == nil
	if !all && len(names) == 0 {
		// Nothing to run.
		tr.Elapsed = time.Since(start)
		return tr
	}
	rnd := su.round(ctx, bin, names, all)
	if rnd.err != nil {
		tr.Err = rnd.err
		return tr
	}
	merge(merged, rnd)
	if c := rnd.crash; c != nil && c.Test != "" {
		// The tests after the crash never ran: run each in a fresh process
		// of its own, a few at a time. A hung test waits without using the
		// processor, so when one test hangs and the others hang the same
		// way, the learner waits for one limit, not one per test.
		done := make(map[string]bool)
		for _, t := range rnd.p.Tests {
			if t.TopLevel() && t.Action != "" {
				done[t.Name] = true
			}
		}
		done[c.Test] = true
		var rest []string
		for _, name := range names {
			if !done[name] {
				rest = append(rest, name)
			}
		}
		again := su
		if c.Hung != 0 && su.afterHang > 0 && su.afterHang < su.limit {
			again.limit, again.after = su.afterHang, c.Test
		}
		rounds := make([]round, len(rest))
		sem := make(chan struct{}, 3)
		var wg sync.WaitGroup
		for i, name := range rest {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				rounds[i] = again.round(ctx, bin, []string{name}, false)
			})
		}
		wg.Wait()
		for _, rnd := range rounds {
			if rnd.err != nil {
				tr.Err = rnd.err
				return tr
			}
			merge(merged, rnd)
		}
	}
	tr.Elapsed = time.Since(start)
	return tr
}

// build compiles the suite's test binary; go test -c runs vet too. It
// returns nil once the binary is built, or the run that says why not.
func (su suite) build(ctx context.Context, bin string) *TestRun {
	args := []string{"test", "-c", "-json", "-race", LinkFlags, "-o", bin}
	if su.Overlay != "" {
		args = append(args, "-overlay="+su.Overlay)
	}
	args = append(args, su.s.Pkg())
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = su.s.Repo.Root
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		return &TestRun{Err: fmt.Errorf("go %s: %w", strings.Join(args, " "), err)}
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	cold := make(chan bool, 1)
	go func() { cold <- su.coldCache(ctx) }()
	var err error
	select {
	case err = <-done:
	case isCold := <-cold:
		if isCold && su.SlowBuild != nil {
			su.SlowBuild()
		}
		err = <-done
	}
	if err == nil {
		return nil
	}
	tr := ParseTestJSON(stdout.Bytes())
	tr.Stderr = strings.TrimSpace(stderr.String())
	if len(tr.Build) == 0 {
		tr.Err = fmt.Errorf("go test failed: %s", FirstNonEmpty(tr.Stderr, err.Error()))
		return tr
	}
	// go test -c runs vet before it builds: if the suite builds without
	// vet, the complaint was vet's.
	novet := exec.CommandContext(ctx, "go", append([]string{"test", "-c", "-vet=off"}, args[2:]...)...)
	novet.Dir = su.s.Repo.Root
	tr.vetFailed = novet.Run() == nil
	p := &pkgResult{Name: su.s.ImportPath(), ByName: make(map[string]*TestResult), Action: "fail", failedBuild: true}
	tr.Pkgs, tr.byPkg = []*pkgResult{p}, map[string]*pkgResult{p.Name: p}
	return tr
}

// coldCache reports whether the build cache lacks most of what the suite
// needs (a fresh clone, a new Go): the build then takes a minute, not
// seconds. It asks go list which of the suite's dependencies are stale.
func (su suite) coldCache(ctx context.Context) bool {
	args := []string{"list", "-race", "-test", "-deps", "-f", "{{if .Stale}}stale{{end}}"}
	if su.Overlay != "" {
		args = append(args, "-overlay="+su.Overlay)
	}
	cmd := exec.CommandContext(ctx, "go", append(args, su.s.Pkg())...)
	cmd.Dir = su.s.Repo.Root
	out, err := cmd.Output()
	// The learner's package, its test variants and the test's main package
	// are stale after every edit; a cold cache has the standard library's
	// race variants to build too.
	return err == nil && strings.Count(string(out), "stale") > 20
}

// list returns the top-level tests of the binary, in the order they run.
func (su suite) list(ctx context.Context, bin string) ([]string, error) {
	cmd := exec.CommandContext(ctx, bin, "-test.list", ".")
	cmd.Dir = filepath.Join(su.s.Repo.Root, su.s.Dir())
	cmd.Env = raceEnv()
	proc.OwnGroup(cmd)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.Output()
	if cmd.Process != nil {
		proc.KillGroup(cmd.Process.Pid)
	}
	if err != nil {
		return nil, fmt.Errorf("list the tests of %s: %w", su.s.Dir(), err)
	}
	var names []string
	for line := range strings.Lines(string(out)) {
		name := strings.TrimSpace(line)
		if strings.HasPrefix(name, "Test") || strings.HasPrefix(name, "Example") || strings.HasPrefix(name, "Fuzz") {
			names = append(names, name)
		}
	}
	return names, nil
}

// A round is one run of the test binary.
type round struct {
	p     *pkgResult
	crash *Crash // how the binary died, or nil
	err   error  // it could not run at all
}

// round runs the named tests (all of them on the first round) in one
// process, watching each for its limit.
func (su suite) round(ctx context.Context, bin string, names []string, all bool) round {
	args := []string{"-test.v=test2json", "-test.paniconexit0", "-test.count=1",
		// A backstop only: the watchdog stops a hung test after su.limit,
		// and may wait up to 30s more for a process the test started.
		"-test.timeout=" + ((su.limit+45*time.Second)*time.Duration(max(len(names), 1)) + time.Minute).String()}
	if !all {
		quoted := make([]string, len(names))
		for i, n := range names {
			quoted[i] = regexp.QuoteMeta(n)
		}
		args = append(args, "-test.run=^("+strings.Join(quoted, "|")+")$")
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return round{err: fmt.Errorf("run the suite: %w", err)}
	}
	conv := exec.Command("go", "tool", "test2json", "-p", su.s.ImportPath())
	if su.Test2JSON != "" {
		conv = exec.Command(su.Test2JSON, "-p", su.s.ImportPath())
	}
	conv.Stdin = pr
	convOut, err := conv.StdoutPipe()
	if err != nil {
		pr.Close()
		pw.Close()
		return round{err: fmt.Errorf("run test2json: %w", err)}
	}
	var convErr bytes.Buffer
	conv.Stderr = &convErr
	proc.OwnGroup(conv) // Ctrl-C is the runner's to handle: it ends the binary, and so test2json
	if err := conv.Start(); err != nil {
		pr.Close()
		pw.Close()
		return round{err: fmt.Errorf("run go tool test2json: %w", err)}
	}
	pr.Close()

	cmd := exec.Command(bin, args...)
	cmd.Dir = filepath.Join(su.s.Repo.Root, su.s.Dir())
	cmd.Env = append(raceEnv(), limitEnv+"="+su.limit.String())
	cmd.Stdout, cmd.Stderr = pw, pw
	proc.OwnGroup(cmd)
	if err := cmd.Start(); err != nil {
		pw.Close()
		conv.Wait()
		return round{err: fmt.Errorf("run the suite: %w", err)}
	}
	pw.Close()
	pid := cmd.Process.Pid

	// Read the events as they come, to know which test runs.
	var (
		mu      sync.Mutex
		raw     bytes.Buffer
		current string
		since   time.Time
		ended   = make(map[string]bool)
	)
	read := make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(convOut)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			var ev TestEvent
			line := sc.Bytes()
			mu.Lock()
			raw.Write(line)
			raw.WriteByte('\n')
			if json.Unmarshal(line, &ev) == nil && ev.Test != "" && !strings.Contains(ev.Test, "/") {
				switch ev.Action {
				case "run":
					current, since = ev.Test, time.Now()
				case "pass", "fail", "skip":
					ended[ev.Test] = true
					if current == ev.Test {
						current = ""
					}
				}
			}
			mu.Unlock()
		}
		io.Copy(io.Discard, convOut)
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	var (
		fatal    *Crash   // the hang that the binary was stopped for
		children []*Crash // hangs in processes the tests started
		exitErr  error
	)
	handled := make(map[string]bool)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
watch:
	for {
		select {
		case exitErr = <-exited:
			break watch
		case <-ctx.Done():
			proc.KillGroup(pid)
			exitErr = <-exited
			break watch
		case <-tick.C:
		}
		mu.Lock()
		test, ran := current, time.Since(since)
		mu.Unlock()
		if test == "" {
			continue
		}
		if su.Running != nil {
			su.Running(test, ran)
		}
		if ran < su.limit || handled[test] {
			continue
		}
		handled[test] = true
		testEnded := func() bool { mu.Lock(); defer mu.Unlock(); return ended[test] }
		// A process the test started (kit.Isolated) is where the test
		// waits: ask it for its stacks first, and give the test the time
		// to report them as its failure.
		if kids := proc.GroupMembers(pid); len(kids) > 0 && proc.CanQuit {
			for _, k := range kids {
				_ = proc.Quit(k)
			}
			children = append(children, &Crash{Test: test, Hung: su.limit, child: true, after: su.after})
			var gone bool
			// A dump of thousands of goroutines takes the test a while to
			// read and report, with -race.
			if exitErr, gone = waitFor(exited, testEnded, 30*time.Second); gone {
				break watch
			}
			if testEnded() {
				continue
			}
		}
		fatal = &Crash{Test: test, Hung: su.limit, after: su.after}
		_ = proc.Quit(pid)
		select {
		case exitErr = <-exited:
		case <-time.After(10 * time.Second):
			proc.KillGroup(pid)
			exitErr = <-exited
		}
		break watch
	}
	proc.KillGroup(pid) // whatever the binary started and left behind
	<-read
	conv.Wait()

	tr := ParseTestJSON(raw.Bytes())
	p := tr.Only()
	p.Name = su.s.ImportPath()
	rnd := round{p: p}
	for _, c := range children {
		// The test failed on its own, its child's stacks in its output.
		c.dump = stackLines(p.ByName[c.Test])
		if fatal == nil || fatal.Test != c.Test {
			p.Hangs = append(p.Hangs, c)
		}
	}
	switch {
	case fatal != nil:
		fatal.dump = afterLine(allLines(p), "SIGQUIT: quit")
		if own := stackLines(p.ByName[fatal.Test]); len(own) > 0 && !strings.HasPrefix(strings.TrimSpace(own[0]), "SIGQUIT") &&
			!strings.HasPrefix(strings.TrimSpace(own[0]), "panic: ") && len(parseStacks(own)) > 0 {
			// The test waited on a process it started (kit.Isolated),
			// which stopped itself and said where it hung before the
			// runner stopped the test: that is the place.
			fatal.dump, fatal.child = own, true
		}
		rnd.crash = fatal
	case p.Crashed():
		rnd.crash = &Crash{Test: p.panicTest, first: FirstNonEmpty(p.timeout, first(p.panicLines)), dump: p.panicLines}
		if p.timeout != "" {
			rnd.crash.Hung = su.limit
		}
	case exitErr != nil && len(p.unfinished()) > 0:
		// Killed from outside, or os.Exit in a test.
		rnd.crash = &Crash{Test: p.unfinished()[0].Name, first: "the test binary exited: " + exitErr.Error()}
	}
	if rnd.crash != nil && rnd.crash.Test == "" {
		if u := p.unfinished(); len(u) > 0 {
			rnd.crash.Test = topName(u[0].Name)
		}
	}
	var exit *exec.ExitError
	switch {
	case exitErr == nil:
		if p.Action == "" {
			p.Action = "pass"
		}
	case errors.As(exitErr, &exit):
		p.Action = "fail"
	default:
		rnd.err = fmt.Errorf("run the suite: %w", exitErr)
	}
	return rnd
}

// waitFor waits until done reports true or the process exits, at most d.
// It returns the process's exit error and whether it exited.
func waitFor(exited <-chan error, done func() bool, d time.Duration) (error, bool) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) && !done() {
		select {
		case err := <-exited:
			return err, true
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil, false
}

// merge adds one round's results to the suite's.
func merge(into *pkgResult, rnd round) {
	p := rnd.p
	for _, t := range p.Tests {
		if old, ok := into.ByName[t.Name]; ok && old.Action != "" {
			continue
		}
		if old, ok := into.ByName[t.Name]; ok {
			*old = *t
			continue
		}
		into.ByName[t.Name] = t
		into.Tests = append(into.Tests, t)
	}
	into.Output = append(into.Output, p.Output...)
	into.elapsed += p.elapsed
	into.Hangs = append(into.Hangs, p.Hangs...)
	if p.Action != "pass" {
		into.Action = "fail"
	}
	if c := rnd.crash; c != nil {
		into.Crashes = append(into.Crashes, c)
		if len(into.Crashes) == 1 {
			// The first crash, for what reads panicTest and friends.
			into.panicTest = c.Test
			into.panicLines = append([]string{c.first}, c.dump...)
			if c.Hung != 0 {
				into.timeout = fmt.Sprintf("panic: test ran past its limit of %v", c.Hung)
			}
		}
		if t := into.ByName[c.Test]; t != nil && t.Action == "" {
			t.Action = "fail"
		}
	}
}

// stackLines returns the goroutine dump in a test's output, if any.
func stackLines(t *TestResult) []string {
	if t == nil {
		return nil
	}
	for i, line := range t.Output {
		l := strings.TrimSpace(line)
		if strings.HasPrefix(l, "SIGQUIT: quit") || strings.HasPrefix(l, "panic: test timed out") ||
			strings.HasPrefix(l, "goroutine ") && strings.Contains(l, " [") && strings.HasSuffix(l, "]:") {
			return t.Output[i:]
		}
	}
	return nil
}

// allLines returns every line a package's run printed, test by test.
func allLines(p *pkgResult) []string {
	var out []string
	for _, t := range p.Tests {
		out = append(out, t.Output...)
	}
	return append(out, p.Output...)
}

// afterLine returns lines from the first that contains marker on, or all
// of them if none does.
func afterLine(lines []string, marker string) []string {
	for i, line := range lines {
		if strings.Contains(line, marker) {
			return lines[i:]
		}
	}
	return lines
}

// first returns the first of lines, or "".
func first(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	return lines[0]
}

// topName returns the top-level test of a test or subtest name.
func topName(name string) string {
	top, _, _ := strings.Cut(name, "/")
	return top
}
