package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// A goTest is one go test -json invocation.
type goTest struct {
	pkgs    []string // patterns, relative to the root: "./exercises/01-workers"
	race    bool
	overlay string        // an overlay file, or ""
	timeout time.Duration // the test binary's -timeout
	flags   []string      // more flags: -run, -fuzz, …
}

// args returns the go command's arguments.
func (g goTest) args() []string {
	args := []string{"test", "-json", "-count=1", "-timeout=" + g.timeout.String()}
	if g.race {
		args = append(args, "-race")
	}
	if g.overlay != "" {
		args = append(args, "-overlay="+g.overlay)
	}
	args = append(args, g.flags...)
	return append(args, g.pkgs...)
}

// run runs the tests from the repository's root and parses what they reported.
func (g goTest) run(ctx context.Context, r repo) *testRun {
	// The test binary stops itself at -timeout; this only guards against a
	// go command that never returns, and leaves time for compiling.
	ctx, cancel := context.WithTimeout(ctx, g.timeout+3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", g.args()...)
	cmd.Dir = r.root
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	tr := parseTestJSON(stdout.Bytes())
	tr.elapsed = time.Since(start)
	tr.stderr = strings.TrimSpace(stderr.String())
	var exit *exec.ExitError
	switch {
	case err == nil:
	case ctx.Err() != nil:
		tr.err = fmt.Errorf("go %s did not finish within %v", strings.Join(g.args(), " "), g.timeout+3*time.Minute)
	case !errors.As(err, &exit):
		tr.err = fmt.Errorf("go %s: %w", strings.Join(g.args(), " "), err)
	case len(tr.pkgs) == 0 && len(tr.build) == 0:
		// go test failed before it could test anything: a bad flag, a
		// missing package. Its reason is on stderr.
		tr.err = fmt.Errorf("go test failed: %s", firstNonEmpty(tr.stderr, err.Error()))
	}
	return tr
}

// A testEvent is one line of go test -json (see go doc test2json).
type testEvent struct {
	Action      string
	Package     string
	Test        string
	Elapsed     float64
	Output      string
	ImportPath  string // build-output and build-fail
	FailedBuild string
}

// A testRun is what one go test -json invocation reported.
type testRun struct {
	pkgs    []*pkgResult // in the order they started
	byPkg   map[string]*pkgResult
	build   []string // compiler output, for every package that did not build
	stderr  string
	elapsed time.Duration
	err     error // the go command could not run the tests at all
	// vetFailed reports that the build failed on vet's complaint (which go
	// test runs before it builds), the code itself compiling.
	vetFailed bool
}

// A pkgResult is one package's part of a test run.
type pkgResult struct {
	name        string
	action      string // pass, fail or skip; "" if it never finished
	elapsed     float64
	failedBuild bool
	output      []string      // lines that belong to no test
	tests       []*testResult // in the order they started, subtests included
	byName      map[string]*testResult
	// panicTest is the test whose output holds a panic or a fatal runtime
	// error, and panicLines that panic and its stack.
	panicTest  string
	panicLines []string
	// timeout is the "test timed out" line, when the binary timed out.
	timeout string
	// crashes are the deaths of the test binary in a suite run (see
	// suite.run), in order; hangs, the tests that ran past their limit in
	// a process they started while the binary itself went on.
	crashes []*crash
	hangs   []*crash
}

// A testResult is one test's or subtest's part of a run.
type testResult struct {
	name    string // "TestPeakConcurrency/4_workers"
	action  string // pass, fail or skip; "" if it never finished
	elapsed float64
	output  []string
}

// topLevel reports whether the test is not a subtest.
func (t *testResult) topLevel() bool { return !strings.Contains(t.name, "/") }

// parseTestJSON reads the stream of go test -json.
func parseTestJSON(data []byte) *testRun {
	tr := &testRun{byPkg: make(map[string]*pkgResult)}
	pkg := func(name string) *pkgResult {
		p, ok := tr.byPkg[name]
		if !ok {
			p = &pkgResult{name: name, byName: make(map[string]*testResult)}
			tr.byPkg[name] = p
			tr.pkgs = append(tr.pkgs, p)
		}
		return p
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var ev testEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			tr.build = append(tr.build, sc.Text()) // not JSON: the go command speaking
			continue
		}
		switch ev.Action {
		case "build-output":
			tr.build = append(tr.build, strings.TrimRight(ev.Output, "\n"))
			continue
		case "build-fail":
			continue
		}
		p := pkg(ev.Package)
		if ev.Test == "" {
			switch ev.Action {
			case "output":
				line := strings.TrimRight(ev.Output, "\n")
				p.output = append(p.output, line)
				p.notePanic("", line)
			case "pass", "fail", "skip":
				p.action, p.elapsed = ev.Action, ev.Elapsed
				p.failedBuild = ev.FailedBuild != ""
			}
			continue
		}
		t, ok := p.byName[ev.Test]
		if !ok {
			t = &testResult{name: ev.Test}
			p.byName[ev.Test] = t
			p.tests = append(p.tests, t)
		}
		switch ev.Action {
		case "output":
			line := strings.TrimRight(ev.Output, "\n")
			t.output = append(t.output, line)
			p.notePanic(ev.Test, line)
		case "pass", "fail", "skip":
			t.action, t.elapsed = ev.Action, ev.Elapsed
		}
	}
	return tr
}

// notePanic records a panic, a fatal runtime error or the test binary's
// timeout, and the lines of stack that follow it.
func (p *pkgResult) notePanic(test, line string) {
	if p.crashed() {
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

// crashed reports whether the package's test binary died: a panic, a fatal
// error or its timeout.
func (p *pkgResult) crashed() bool { return p.timeout != "" || len(p.panicLines) > 0 }

// unfinished returns the tests that started and never ended: those the
// crash interrupted.
func (p *pkgResult) unfinished() []*testResult {
	var out []*testResult
	for _, t := range p.tests {
		if t.action == "" {
			out = append(out, t)
		}
	}
	return out
}

// topLevel returns the package's top-level tests.
func (p *pkgResult) topLevel() []*testResult {
	var out []*testResult
	for _, t := range p.tests {
		if t.topLevel() {
			out = append(out, t)
		}
	}
	return out
}

// subtests returns the subtests of the named test, at any depth.
func (p *pkgResult) subtests(name string) []*testResult {
	var out []*testResult
	for _, t := range p.tests {
		if strings.HasPrefix(t.name, name+"/") {
			out = append(out, t)
		}
	}
	return out
}

// buildFailed reports whether any package of the run failed to build.
func (tr *testRun) buildFailed() bool {
	for _, p := range tr.pkgs {
		if p.failedBuild {
			return true
		}
	}
	return false
}

// only returns the run's single package, or an empty one if it reported
// nothing.
func (tr *testRun) only() *pkgResult {
	if len(tr.pkgs) == 0 {
		return &pkgResult{byName: make(map[string]*testResult)}
	}
	return tr.pkgs[0]
}

// counts returns how many tests and subtests passed and failed.
func (tr *testRun) counts() (passed, failed int) {
	for _, p := range tr.pkgs {
		for _, t := range p.tests {
			switch t.action {
			case "pass":
				passed++
			case "fail":
				failed++
			}
		}
	}
	return passed, failed
}

// firstNonEmpty returns the first of ss that is not empty.
func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
