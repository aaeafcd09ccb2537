// Package gotest runs a step's suite and says what happened in it: it builds
// the test binary, runs the tests under a watchdog that dumps a hung test's
// goroutines, reads go test's JSON events, and turns build failures, panics,
// hangs, races and leaks into reports a learner can act on.
package gotest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/ocppkata/kata/harness/cmd/kata/internal/step"
)

// A GoTest is one go test -json invocation.
type GoTest struct {
	Pkgs    []string // patterns, relative to the root: "./exercises/01-workers"
	Race    bool
	overlay string        // an overlay file, or ""
	Timeout time.Duration // the test binary's -timeout
	Flags   []string      // more flags: -run, -fuzz, …
}

// LinkFlags links a test binary without its symbol table and DWARF (-s
// -w): a panic's stack, a hang's dump and a race report come from the Go
// runtime's own tables, which stay, and a -race binary links in half the
// time without them. make test links over a hundred binaries.
const LinkFlags = "-ldflags=-s -w"

// raceEnv is the environment of a -race test binary: the race detector
// sleeps a second before the process exits, for the races of goroutines
// still running, and the suites leave none (goleak sees to it). Without
// the sleep, make check ends a second sooner, and make test's seventy
// binaries free their place in the queue as soon as their tests end.
func raceEnv() []string {
	return append(os.Environ(), "GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
}

// args returns the go command's arguments.
func (g GoTest) args() []string {
	args := []string{"test", "-json", "-count=1", "-timeout=" + g.Timeout.String()}
	if g.Race {
		args = append(args, "-race", LinkFlags)
	}
	if g.overlay != "" {
		args = append(args, "-overlay="+g.overlay)
	}
	args = append(args, g.Flags...)
	return append(args, g.Pkgs...)
}

// Run runs the tests from the repository's root and parses what they reported.
func (g GoTest) Run(ctx context.Context, r step.Repo) *TestRun {
	// The test binary stops itself at -timeout; this only guards against a
	// go command that never returns, and leaves time for compiling.
	ctx, cancel := context.WithTimeout(ctx, g.Timeout+3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", g.args()...)
	cmd.Dir = r.Root
	cmd.Env = raceEnv()
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	tr := ParseTestJSON(stdout.Bytes())
	tr.Elapsed = time.Since(start)
	tr.Stderr = strings.TrimSpace(stderr.String())
	var exit *exec.ExitError
	switch {
	case err == nil:
	case ctx.Err() != nil:
		tr.Err = fmt.Errorf("go %s did not finish within %v", strings.Join(g.args(), " "), g.Timeout+3*time.Minute)
	case !errors.As(err, &exit):
		tr.Err = fmt.Errorf("go %s: %w", strings.Join(g.args(), " "), err)
	case len(tr.Pkgs) == 0 && len(tr.Build) == 0:
		// go test failed before it could test anything: a bad flag, a
		// missing package. Its reason is on stderr.
		tr.Err = fmt.Errorf("go test failed: %s", FirstNonEmpty(tr.Stderr, err.Error()))
	}
	return tr
}

// A TestEvent is one line of go test -json (see go doc test2json).
type TestEvent struct {
	Action      string
	Package     string
	Test        string
	Elapsed     float64
	Output      string
	ImportPath  string // build-output and build-fail
	FailedBuild string
}

// A TestRun is what one go test -json invocation reported.
type TestRun struct {
	Pkgs    []*pkgResult // in the order they started
	byPkg   map[string]*pkgResult
	Build   []string // compiler output, for every package that did not build
	Stderr  string
	Elapsed time.Duration
	Err     error // the go command could not run the tests at all
	// vetFailed reports that the build failed on vet's complaint (which go
	// test runs before it builds), the code itself compiling.
	vetFailed bool
}

// A pkgResult is one package's part of a test run.
type pkgResult struct {
	Name        string
	Action      string // pass, fail or skip; "" if it never finished
	elapsed     float64
	failedBuild bool
	Output      []string      // lines that belong to no test
	Tests       []*TestResult // in the order they started, subtests included
	ByName      map[string]*TestResult
	// panicTest is the test whose output holds a panic or a fatal runtime
	// error, and panicLines that panic and its stack.
	panicTest  string
	panicLines []string
	// timeout is the "test timed out" line, when the binary timed out.
	timeout string
	// crashes are the deaths of the test binary in a suite run (see
	// suite.run), in order; hangs, the tests that ran past their limit in
	// a process they started while the binary itself went on.
	Crashes []*Crash
	Hangs   []*Crash
}

// A TestResult is one test's or subtest's part of a run.
type TestResult struct {
	Name    string // "TestPeakConcurrency/4_workers"
	Action  string // pass, fail or skip; "" if it never finished
	elapsed float64
	Output  []string
}

// TopLevel reports whether the test is not a subtest.
func (t *TestResult) TopLevel() bool { return !strings.Contains(t.Name, "/") }

// ParseTestJSON reads the stream of go test -json.
func ParseTestJSON(data []byte) *TestRun {
	tr := &TestRun{byPkg: make(map[string]*pkgResult)}
	pkg := func(name string) *pkgResult {
		p, ok := tr.byPkg[name]
		if !ok {
			p = &pkgResult{Name: name, ByName: make(map[string]*TestResult)}
			tr.byPkg[name] = p
			tr.Pkgs = append(tr.Pkgs, p)
		}
		return p
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var ev TestEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			tr.Build = append(tr.Build, sc.Text()) // not JSON: the go command speaking
			continue
		}
		switch ev.Action {
		case "build-output":
			tr.Build = append(tr.Build, strings.TrimRight(ev.Output, "\n"))
			continue
		case "build-fail":
			continue
		}
		p := pkg(ev.Package)
		if ev.Test == "" {
			switch ev.Action {
			case "output":
				line := strings.TrimRight(ev.Output, "\n")
				p.Output = append(p.Output, line)
				p.notePanic("", line)
			case "pass", "fail", "skip":
				p.Action, p.elapsed = ev.Action, ev.Elapsed
				p.failedBuild = ev.FailedBuild != ""
			}
			continue
		}
		t, ok := p.ByName[ev.Test]
		if !ok {
			t = &TestResult{Name: ev.Test}
			p.ByName[ev.Test] = t
			p.Tests = append(p.Tests, t)
		}
		switch ev.Action {
		case "output":
			line := strings.TrimRight(ev.Output, "\n")
			t.Output = append(t.Output, line)
			p.notePanic(ev.Test, line)
		case "pass", "fail", "skip":
			t.Action, t.elapsed = ev.Action, ev.Elapsed
		}
	}
	return tr
}

// notePanic records a panic, a fatal runtime error or the test binary's
// timeout, and the lines of stack that follow it.
func (p *pkgResult) notePanic(test, line string) {
	if p.Crashed() {
		p.panicLines = append(p.panicLines, line)
		return
	}
	switch {
	case strings.HasPrefix(line, "panic: test timed out after"):
		p.timeout, p.panicTest = line, test
	case strings.HasPrefix(line, "panic: "), strings.HasPrefix(line, "fatal error: "):
		p.panicTest, p.panicLines = test, []string{line}
	}
}

// Crashed reports whether the package's test binary died: a panic, a fatal
// error or its timeout.
func (p *pkgResult) Crashed() bool { return p.timeout != "" || len(p.panicLines) > 0 }

// unfinished returns the tests that started and never ended: those the
// crash interrupted.
func (p *pkgResult) unfinished() []*TestResult {
	var out []*TestResult
	for _, t := range p.Tests {
		if t.Action == "" {
			out = append(out, t)
		}
	}
	return out
}

// TopLevel returns the package's top-level tests.
func (p *pkgResult) TopLevel() []*TestResult {
	var out []*TestResult
	for _, t := range p.Tests {
		if t.TopLevel() {
			out = append(out, t)
		}
	}
	return out
}

// subtests returns the subtests of the named test, at any depth.
func (p *pkgResult) subtests(name string) []*TestResult {
	var out []*TestResult
	for _, t := range p.Tests {
		if strings.HasPrefix(t.Name, name+"/") {
			out = append(out, t)
		}
	}
	return out
}

// BuildFailed reports whether any package of the run failed to build.
func (tr *TestRun) BuildFailed() bool {
	for _, p := range tr.Pkgs {
		if p.failedBuild {
			return true
		}
	}
	return false
}

// MarkVetFailed records that the build failed on vet's complaint alone: the
// code builds without vet (see BuildComplaint).
func (tr *TestRun) MarkVetFailed() { tr.vetFailed = true }

// Only returns the run's single package, or an empty one if it reported
// nothing.
func (tr *TestRun) Only() *pkgResult {
	if len(tr.Pkgs) == 0 {
		return &pkgResult{ByName: make(map[string]*TestResult)}
	}
	return tr.Pkgs[0]
}

// Counts returns how many tests and subtests passed and failed.
func (tr *TestRun) Counts() (passed, failed int) {
	for _, p := range tr.Pkgs {
		for _, t := range p.Tests {
			switch t.Action {
			case "pass":
				passed++
			case "fail":
				failed++
			}
		}
	}
	return passed, failed
}

// FirstNonEmpty returns the first of ss that is not empty.
func FirstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
