package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// runCheck runs a step's suite with -race against the learner's code, the
// reference solution or one of the step's wrong turns, and summarizes it.
func runCheck(args []string) error {
	fs := newFlags("check", "-step N [-solution | -wrong NAME] [-v]")
	num := fs.String("step", "", "the step to check: 1 or 01")
	solution := fs.Bool("solution", false, "check the reference solution instead of your code")
	wrong := fs.String("wrong", "", "check one of the step's wrong turns instead of your code (a demonstration)")
	verbose := fs.Bool("v", false, "show what passing tests measured too (their t.Log lines)")
	s, err := parseStep(fs, num, args)
	if err != nil {
		return err
	}
	// The test binary runs in a process group of its own, which Ctrl-C
	// does not reach: the runner ends it.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c := checker{ctx: ctx, s: s, st: styleFor(os.Stdout), w: os.Stdout, verbose: *verbose}
	switch {
	case *wrong != "":
		return c.checkWrong(*wrong)
	case *solution:
		return c.checkSolution()
	}
	if ok, err := c.checkMine(); err != nil || !ok {
		return firstErr(err, errFailed)
	}
	return nil
}

// errInterrupted reports a run ended by Ctrl-C.
var errInterrupted = errors.New("interrupted")

// firstErr returns the first of errs that is not nil.
func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// A checker runs and reports one step's suite for make check and make watch.
type checker struct {
	ctx     context.Context // ends the run: Ctrl-C
	s       step
	st      style
	w       io.Writer
	verbose bool
}

// runSuite runs the step's suite with the overlay (or the learner's code),
// showing on the way what it is doing.
func (c checker) runSuite(overlay string) *testRun {
	su := newSuite(c.s)
	su.overlay = overlay
	su.slowBuild = func() {
		c.st.clear(c.w)
		fmt.Fprintln(c.w, c.st.dim("compiling the suite with the race detector: the first build takes a minute or more (later ones, seconds)…"))
	}
	reported := make(map[string]time.Duration)
	su.running = func(test string, d time.Duration) {
		if c.st.tty {
			c.st.status(c.w, fmt.Sprintf("  running %s… %s", test, durationWords(d)))
			return
		}
		// In a log, a line now and then for a test that takes a while.
		if d >= 5*time.Second && d-reported[test] >= 10*time.Second {
			reported[test] = d
			fmt.Fprintf(c.w, "  %s is still running (%s)…\n", test, durationWords(d))
		}
	}
	tr := su.run(c.ctx)
	c.st.clear(c.w)
	if c.ctx.Err() != nil {
		tr.err = errInterrupted
	}
	return tr
}

// checkMine checks the learner's code: it prints the verdicts, a hint that
// answers the first failing test, and what to do next. It reports whether
// every test passed.
func (c checker) checkMine() (bool, error) {
	s, st := c.s, c.st
	fmt.Fprintf(c.w, "%s\n%s\n\n", st.bold(s.label()), st.dim("running the suite against your code in "+s.dir()+", with the race detector…"))
	key, keyErr := suiteKey(s)
	tr := c.runSuite("")
	if tr.err != nil {
		return false, tr.err
	}
	ok, failing := report(c.w, st, s, "your code", tr, c.verbose)
	if keyErr == nil {
		_ = rememberVerdict(s.repo, s, key, verdictOf(tr))
	}
	state := loadHintState(s)
	if ok {
		if state.LastFailed != "" {
			state.LastFailed = ""
			_ = state.save(s)
		}
		fmt.Fprintf(c.w, "%s Compare with the reference solution: make diff STEP=%d\n", st.green("Well done!"), s.num)
		printReview(c.w, st, s)
		steps, err := loadSteps(s.repo)
		if err != nil {
			return true, nil
		}
		if i := slices.IndexFunc(steps, func(x step) bool { return x.num == s.num }); i >= 0 && i+1 < len(steps) {
			next := steps[i+1]
			fmt.Fprintf(c.w, "Next: %s (make check STEP=%d)\n", filepath.ToSlash(next.dir())+"/README.md", next.num)
		} else {
			fmt.Fprintf(c.w, "That was the last step: your server is a whole central system. Serve it (make serve STEP=%d), "+
				"and in other terminals run stations against it (make stations N=100) and attack its edge (make edge).\n", s.num)
		}
		return true, nil
	}
	if len(failing) == 0 {
		return false, nil // it did not build: the compiler's lines say what to fix
	}
	c.hintFor(&state, failing, crashedTests(tr), raceOnlyTests(tr))
	return false, nil
}

// printReview prints the step's review list: what a green suite cannot
// promise, for the learner to look for in their own code.
func printReview(w io.Writer, st style, s step) {
	if len(s.meta.Review) == 0 {
		return
	}
	fmt.Fprintf(w, "\n%s\n", st.bold("What no test can see: green does not rule these out, so look for them in your code."))
	for _, line := range s.meta.Review {
		fmt.Fprintf(w, "  - %s\n", indentAfterFirst(wrap(line, 74), "    "))
	}
	fmt.Fprintln(w)
}

// hintFor prints, for each failing lesson test that hints answer, the hint
// the learner has reached: the highest tier seen, or the nudge. One mistake
// often fails several lesson tests, and the test listed first is not always
// the one whose failure names the cause, so each gets its own. It counts
// them as seen and remembers the first for make hint; only make hint moves
// on to the next tier, so running make check again gives nothing more away.
// A test that failed only on a data race gets no lesson hint, but a word on
// races.
func (c checker) hintFor(state *hintState, failing []string, crashed map[string]string, races map[string]bool) {
	s, st := c.s, c.st
	asserted := slices.DeleteFunc(slices.Clone(failing), func(n string) bool { return races[n] })
	test := hintTest(s.meta, asserted)
	state.LastFailed = firstNonEmpty(test, hintTest(s.meta, failing), failing[0])
	defer func() { _ = state.save(s) }()
	if len(asserted) == 0 {
		fmt.Fprintf(c.w, "\n%s\n", wrap(strings.Join(failing, " and ")+" failed only on a data race: two goroutines used the same memory at once, "+
			"one of them writing, with nothing (a lock, a channel) to put one before the other. The report above shows the two places; "+
			"the lesson's hints are about something else.", 76))
		return
	}
	if test == "" {
		fmt.Fprintf(c.w, "\n%s has no lesson hint: its message above says what it measured and what it expected.\n", asserted[0])
		return
	}
	if how, ok := crashed[test]; ok {
		// A lesson hint answers the lesson's assertions, not a hang.
		fmt.Fprintf(c.w, "\nNo lesson hint this time: %s %s, and the lines above say where. (make hint STEP=%d gives its next hint all the same.)\n",
			test, how, s.num)
		return
	}
	tests := hintTests(s.meta, asserted, crashed)
	if len(tests) > 1 {
		fmt.Fprintf(c.w, "\n%s\n", wrap(fmt.Sprintf("%d lesson tests failed. One mistake often fails several, and any of their messages may be the one "+
			"that names it: a hint for each.", len(tests)), 76))
	}
	for _, t := range tests {
		hints := s.meta.hintsFor(t)
		show := min(max(state.Seen[t], 1), len(hints))
		state.see(t, show)
		fmt.Fprintf(c.w, "\n%s\n    %s\n", st.yellow(fmt.Sprintf("hint for %s (%d of %d, %s):", t, show, len(hints), tierName(show))),
			indentAfterFirst(wrap(hints[show-1], 74), "    "))
	}
	hints := s.meta.hintsFor(test)
	show := state.Seen[test]
	switch {
	case show < len(hints) && len(tests) > 1:
		fmt.Fprintf(c.w, "make hint STEP=%d gives the next for %s (%s).\n", s.num, test, tierName(show+1))
	case show < len(hints):
		fmt.Fprintf(c.w, "make hint STEP=%d gives the next (%s).\n", s.num, tierName(show+1))
	default:
		fmt.Fprintf(c.w, "That is the last hint for %s; make diff STEP=%d shows the solution.\n", test, s.num)
	}
}

// hintTests returns the failing lesson tests that have hints and did not
// crash, in the order they failed; if none is a lesson test, the test that
// hintTest picks.
func hintTests(m stepMeta, failing []string, crashed map[string]string) []string {
	var out []string
	for _, name := range failing {
		if _, bad := crashed[name]; !bad && slices.Contains(m.LessonTests, name) && len(m.hintsFor(name)) > 0 {
			out = append(out, name)
		}
	}
	if len(out) == 0 {
		if t := hintTest(m, failing); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// crashedTests returns the tests of a run that crashed or hung, and which.
func crashedTests(tr *testRun) map[string]string {
	out := make(map[string]string)
	for _, p := range tr.pkgs {
		for _, c := range append(slices.Clone(p.crashes), p.hangs...) {
			out[c.test] = c.how()
		}
	}
	return out
}

// raceOnlyTests returns the failing top-level tests of a run whose only
// complaint was the race detector's: no assertion of theirs failed.
func raceOnlyTests(tr *testRun) map[string]bool {
	out := make(map[string]bool)
	crashed := crashedTests(tr)
	for _, p := range tr.pkgs {
		for _, t := range p.topLevel() {
			if t.action == "fail" && crashed[t.name] == "" && raceOnly(p, t.name) {
				out[t.name] = true
			}
		}
	}
	return out
}

// ranFrom returns a writer to w that names, in the file paths of what is
// written (goroutine stacks, race reports), the files of code that an
// overlay laid over the exercise's: the code that ran, not the learner's
// files of the same name.
func ranFrom(w io.Writer, s step, code codeSet) io.Writer {
	r := s.repo
	var pairs []string
	for name, path := range code {
		ran := path
		if rel, ok := inRepo(r, path); ok {
			ran = filepath.ToSlash(rel)
		}
		abs := filepath.Join(r.root, s.dir(), name)
		pairs = append(pairs, abs, ran)
		if slashed := filepath.ToSlash(abs); slashed != abs {
			pairs = append(pairs, slashed, ran)
		}
		pairs = append(pairs, filepath.ToSlash(filepath.Join(s.dir(), name)), ran)
	}
	return pathWriter{w, strings.NewReplacer(pairs...)}
}

// A pathWriter rewrites what it writes.
type pathWriter struct {
	w io.Writer
	r *strings.Replacer
}

func (p pathWriter) Write(b []byte) (int, error) {
	if _, err := p.r.WriteString(p.w, string(b)); err != nil {
		return 0, err
	}
	return len(b), nil
}

// checkSolution checks the reference solution.
func (c checker) checkSolution() error {
	s, st := c.s, c.st
	tmp, err := os.MkdirTemp("", "kata-check-")
	if err != nil {
		return fmt.Errorf("make a temporary directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	code, err := s.solutionCode()
	if err != nil {
		return err
	}
	overlay, err := writeOverlay(s, code, tmp, "solution")
	if err != nil {
		return err
	}
	fmt.Fprintf(c.w, "%s\n%s\n\n", st.bold(s.label()), st.dim("running the suite against the reference solution in "+s.solutionDir()+", with the race detector…"))
	tr := c.runSuite(overlay)
	if tr.err != nil {
		return tr.err
	}
	if ok, _ := report(ranFrom(c.w, s, code), st, s, "the reference solution", tr, c.verbose); ok {
		fmt.Fprintln(c.w, "The reference solution passes, as it should.")
		return nil
	}
	fmt.Fprintln(c.w, "\nThe reference solution should pass its suite: this is a bug in the kata, not in your code.")
	return errFailed
}

// checkWrong runs the suite against one of the step's wrong turns: a
// demonstration of a plausible mistake and of the test that catches it. It
// succeeds when that test fails on it, as the wrong turn's note says.
func (c checker) checkWrong(name string) error {
	s, st := c.s, c.st
	turns, err := s.wrongTurns()
	if err != nil {
		return err
	}
	i := slices.IndexFunc(turns, func(w wrongTurn) bool { return w.name == name })
	if i < 0 {
		if len(turns) == 0 {
			fmt.Fprintf(c.w, "%s has no wrong turns to show yet.\n", s.label())
			return errFailed
		}
		fmt.Fprintf(c.w, "%s has no wrong turn %q. Its wrong turns are:\n", s.label(), name)
		for _, w := range turns {
			fmt.Fprintf(c.w, "  %-14s %s\n", w.name, w.Note)
		}
		fmt.Fprintf(c.w, "Try: make check STEP=%d WRONG=%s\n", s.num, turns[0].name)
		return errFailed
	}
	w := turns[i]
	tmp, err := os.MkdirTemp("", "kata-check-")
	if err != nil {
		return fmt.Errorf("make a temporary directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	// The patched files stay in .kata/ after the run: the reports' file
	// and line numbers point into them.
	dir := filepath.Join(s.repo.root, ".kata", "wrong", s.name, w.name)
	code, err := s.wrongCode(w, dir)
	if err != nil {
		return err
	}
	overlay, err := writeOverlay(s, code, tmp, "wrong-"+w.name)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.w, "%s\n%s %s\n%s %s\n\n", st.bold(s.label()),
		st.yellow("wrong turn "+w.name+":"), w.Note,
		st.dim("it should be caught by"), w.CaughtBy)
	fmt.Fprintf(c.w, "%s\n%s\n", st.dim("what it changes in the solution ("+filepath.ToSlash(w.path)+"):"), colorPatch(st, w))
	fmt.Fprintf(c.w, "%s\n\n", st.dim("running the suite against the solution with this change…"))
	tr := c.runSuite(overlay)
	if tr.err != nil {
		return tr.err
	}
	_, failing := report(ranFrom(c.w, s, code), st, s, "the wrong turn", tr, c.verbose)
	fmt.Fprintln(c.w)
	if slices.Contains(failing, w.CaughtBy) {
		fmt.Fprintf(c.w, "%s %s failed on it, as the note says.\n", st.green("Caught:"), w.CaughtBy)
		return nil
	}
	fmt.Fprintf(c.w, "%s %s did not fail on it: the suite misses this wrong turn, a bug in the kata.\n", st.red("Not caught:"), w.CaughtBy)
	return errFailed
}

// colorPatch returns the diff of a wrong turn, without its header, its
// removed lines in red and its added ones in green.
func colorPatch(st style, w wrongTurn) string {
	var b strings.Builder
	for _, fp := range w.files {
		fmt.Fprintf(&b, "%s\n", st.bold(fp.name))
		for _, h := range fp.hunks {
			fmt.Fprintf(&b, "%s\n", st.dim(h.header()))
			for _, line := range h.lines {
				switch line[0] {
				case '-':
					line = st.red(line)
				case '+':
					line = st.green(line)
				}
				fmt.Fprintf(&b, "%s\n", line)
			}
		}
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// report prints the verdict of each top-level test of one step's run, what
// the failing ones said and why a crashed or hung one stopped; who names the
// code under test; verbose adds what the passing tests logged. It reports
// whether every test passed, and the failing top-level tests in the order
// they ran (none when the suite did not build).
func report(w io.Writer, st style, s step, who string, tr *testRun, verbose bool) (bool, []string) {
	r := s.repo
	if tr.buildFailed() || len(tr.pkgs) == 0 {
		lines, vet := buildComplaint(tr)
		if vet {
			fmt.Fprintln(w, st.red("go vet, which go test runs before the tests, complains about "+who+":"))
		} else {
			fmt.Fprintln(w, st.red(whatBroke(s, who, lines)+":"))
		}
		for _, line := range lines {
			fmt.Fprintln(w, line)
		}
		if vet {
			fmt.Fprintln(w, "\nVet's complaints are nearly always real bugs (a format verb that does not fit its argument, a copied lock): fix what it reports, and the tests run.")
		} else {
			fmt.Fprintln(w, "\nFix what the compiler reports (file:line:column), and the tests run.")
		}
		return false, nil
	}
	p := tr.only()
	crashes := append(slices.Clone(p.crashes), p.hangs...)
	crashOf := make(map[string]*crash)
	for _, c := range crashes {
		crashOf[c.test] = c
	}
	for _, t := range p.topLevel() {
		// A test that reports a process's stacks as its failure (a
		// kit.Isolated child that timed out) is explained like a crash.
		if c := dumpedIn(p, t); crashOf[t.name] == nil && c != nil {
			crashes = append(crashes, c)
			crashOf[t.name] = c
		}
	}
	passed, total := 0, 0
	var failing []string
	for _, t := range p.topLevel() {
		total++
		c := crashOf[t.name]
		switch {
		case t.action == "pass":
			passed++
			fmt.Fprintf(w, "  %s  %s\n", st.pass(), t.name)
			if verbose {
				for _, line := range wrapLines(logLines(p, t.name), 68) {
					fmt.Fprintln(w, "          "+st.dim(line))
				}
			}
			continue
		case t.action == "skip":
			fmt.Fprintf(w, "  %s  %s\n", st.dim("SKIP"), t.name)
			total--
			continue
		case c != nil:
			fmt.Fprintf(w, "  %s  %s\n", st.fail(), t.name+st.dim(" ("+c.how()+": see below)"))
		case t.action == "":
			fmt.Fprintf(w, "  %s  %s\n", st.fail(), t.name+st.dim(" (never finished)"))
		default:
			fmt.Fprintf(w, "  %s  %s\n", st.fail(), t.name)
		}
		failing = append(failing, t.name)
		lines := failureLines(p, t.name)
		if c != nil {
			lines = untilDump(lines) // explainCrash condenses the dump
		}
		lines, race := condenseRaces(r, lines)
		lines = condenseRepeats(lines)
		if len(lines) == 0 {
			if c == nil {
				lines = []string{"(the test failed without saying why)"}
			}
		}
		more := fmt.Sprintf("go test -race -run '^%s$' %s shows them all", t.name, s.pkg())
		if race {
			lines = append(lines, fmt.Sprintf("(go test -race -run '^%s$' %s shows the race detector's whole report)", t.name, s.pkg()))
		}
		for _, line := range limitLines(wrapLines(lines, 68), 40, more) {
			fmt.Fprintln(w, "          "+line)
		}
	}
	previous := ""
	for _, c := range crashes {
		fmt.Fprintln(w)
		if sig := crashSignature(r, s, c); sig != "" && sig == previous {
			fmt.Fprintf(w, "  %s %s the same way (%s).\n", firstNonEmpty(c.test, "A test"), c.how(), firstOwnPlace(r, s, c))
			continue
		} else {
			previous = sig
		}
		lines := explainCrash(r, s, c)
		for i, line := range lines {
			if i == 0 || strings.HasPrefix(line, "  ") {
				fmt.Fprintln(w, "  "+line)
				continue
			}
			fmt.Fprintln(w, "  "+indentAfterFirst(wrap(line, 76), "  "))
		}
	}
	fmt.Fprintln(w)
	elapsed := seconds(tr.elapsed.Seconds())
	if passed == total && p.action == "pass" && len(p.crashes) == 0 {
		fmt.Fprintf(w, "%s with -race (%s).\n", st.green("All "+plural(total, "test")+" pass"), elapsed)
		return true, nil
	}
	verdict := fmt.Sprintf("%d of %s pass", passed, plural(total, "test"))
	if passed == total && len(failing) == 0 {
		// Every test passed, yet the binary failed: a race or a leak found
		// outside any test, or a TestMain that failed.
		for _, line := range p.output {
			if !framing(line) && line != "PASS" && line != "FAIL" && !strings.HasPrefix(line, "FAIL\t") && !strings.HasPrefix(line, "ok ") {
				fmt.Fprintln(w, "  "+line)
			}
		}
		verdict = "every test passed, but the test binary failed"
		failing = append(failing, "")
	}
	if len(p.crashes) > 0 && len(p.topLevel()) > 1 {
		verdict += "; the tests after the first crash ran each in a fresh process"
	}
	fmt.Fprintf(w, "%s (%s).\n", st.red(verdict), elapsed)
	return false, slices.DeleteFunc(failing, func(n string) bool { return n == "" })
}

// dumpedIn returns the crash whose goroutine dump a failing test reported
// as its failure, or nil: the report of a process the test started that
// timed out (kit.Isolated) or was stopped. A failure message that merely
// lists goroutines (kit.CloseWaits, a learner's own) is no crash.
func dumpedIn(p *pkgResult, t *testResult) *crash {
	if t.action != "fail" {
		return nil
	}
	dump := stackLines(t)
	if len(dump) == 0 {
		return nil
	}
	hung, ok := childHang(t.output)
	if !ok {
		return nil
	}
	return &crash{test: t.name, first: strings.TrimSpace(dump[0]), child: true, dump: dump, hung: hung}
}

// childHang looks in a test's output for the report of a child process
// that timed out or was stopped: "panic: test timed out after 12s",
// kit.Isolated's "The test hung: its process stopped it after 12s, …", or a
// SIGQUIT. It returns the limit the child ran past, if it says, and whether
// there is such a report.
func childHang(output []string) (time.Duration, bool) {
	for _, line := range output {
		l := strings.TrimSpace(line)
		for _, marker := range []string{"panic: test timed out after ", "The test hung: its process stopped it after "} {
			if _, after, ok := strings.Cut(l, marker); ok {
				word, _, _ := strings.Cut(after, ",")
				d, _ := time.ParseDuration(strings.TrimSpace(word))
				return d, true
			}
		}
		if strings.HasPrefix(l, "SIGQUIT: quit") {
			return 0, true
		}
	}
	return 0, false
}

// untilDump cuts a crashed test's lines at its goroutine dump, which
// explainCrash condenses.
func untilDump(lines []string) []string {
	for i, line := range lines {
		l := strings.TrimSpace(line)
		if strings.HasPrefix(l, "SIGQUIT: quit") || strings.HasPrefix(l, "panic: ") || strings.HasPrefix(l, "fatal error: ") ||
			(strings.HasPrefix(l, "goroutine ") && strings.HasSuffix(l, ":")) {
			return lines[:i]
		}
	}
	return lines
}

// buildComplaint returns what go test said when the suite did not build,
// and whether it was vet (which go test runs before the tests) rather than
// the compiler. Vet's part of the output is headed "# [package]".
func buildComplaint(tr *testRun) ([]string, bool) {
	vet, compiler := false, false
	for _, line := range tr.build {
		switch {
		case strings.HasPrefix(line, "# ["):
			vet = true
		case strings.HasPrefix(line, "# "):
		case strings.HasPrefix(line, "vet: "):
			// vet stopped on a type error: that is the compiler's complaint.
			compiler = true
		default:
			if !vet {
				compiler = true
			}
		}
	}
	var out []string
	for _, line := range tr.build {
		if !strings.HasPrefix(line, "# ") {
			out = append(out, "  "+strings.TrimPrefix(line, "vet: "))
		}
	}
	if len(out) == 0 && tr.stderr != "" {
		out = append(out, "  "+tr.stderr)
	}
	return out, tr.vetFailed || vet && !compiler
}

// failureLines returns what a failing top-level test and its failing
// subtests said, up to a crash.
func failureLines(p *pkgResult, name string) []string {
	var lines []string
	if t := p.byName[name]; t != nil {
		lines = append(lines, messages(t)...)
	}
	for _, sub := range p.subtests(name) {
		if sub.action != "fail" {
			continue
		}
		said := messages(sub)
		if len(said) == 0 {
			continue // its own subtests say why
		}
		lines = append(lines, displayName(sub.name)+":")
		for _, m := range said {
			lines = append(lines, "  "+m)
		}
	}
	return lines
}

// logLines returns what a passing top-level test and its subtests logged:
// with go test -json, t.Log lines are reported for passing tests too.
func logLines(p *pkgResult, name string) []string {
	var lines []string
	if t := p.byName[name]; t != nil {
		lines = append(lines, messages(t)...)
	}
	for _, sub := range p.subtests(name) {
		for _, m := range messages(sub) {
			lines = append(lines, displayName(sub.name)+": "+m)
		}
	}
	return lines
}

// whatBroke says whose code does not compile: the code under test (who),
// the step's suite, or the kata's harness.
func whatBroke(s step, who string, compilerLines []string) string {
	dir := s.dir() + string(filepath.Separator)
	suite := false
	for _, line := range compilerLines {
		file, _, _ := strings.Cut(strings.TrimSpace(line), ":")
		file = filepath.FromSlash(strings.TrimPrefix(file, "./"))
		switch {
		case strings.HasPrefix(file, dir) && !strings.HasSuffix(file, "_test.go"):
			return who + " does not compile"
		case strings.HasPrefix(file, dir):
			suite = true
		}
	}
	if suite {
		return "the step's suite does not compile against " + who
	}
	return "the kata's harness does not compile"
}

// indentAfterFirst indents every line of text but the first.
func indentAfterFirst(text, indent string) string {
	return strings.ReplaceAll(strings.ReplaceAll(text, "\t", "    "), "\n", "\n"+indent)
}
