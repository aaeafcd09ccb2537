// Package learn holds the learner's commands: check (and check of a wrong
// turn), watch, hint, diff, reset and progress. They read the learner's code
// and never change it, except reset, which asks first.
package learn

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

	"github.com/ocppkata/kata/harness/cmd/kata/internal/base"
	"github.com/ocppkata/kata/harness/cmd/kata/internal/gotest"
	"github.com/ocppkata/kata/harness/cmd/kata/internal/step"
	"github.com/ocppkata/kata/harness/internal/term"
)

// RunCheck runs a step's suite with -race against the learner's code, the
// reference solution or one of the step's wrong turns, and summarizes it.
func RunCheck(args []string) error {
	fs := base.NewFlags("check", "-step N [-solution | -wrong NAME] [-v]")
	num := fs.String("step", "", "the step to check: 1 or 01")
	solution := fs.Bool("solution", false, "check the reference solution instead of your code")
	wrong := fs.String("wrong", "", "check one of the step's wrong turns instead of your code (a demonstration)")
	verbose := fs.Bool("v", false, "show what passing tests measured too (their t.Log lines)")
	s, err := base.ParseStep(fs, num, args)
	if err != nil {
		return err
	}
	// The test binary runs in a process group of its own, which Ctrl-C
	// does not reach: the runner ends it.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c := checker{ctx: ctx, s: s, st: term.StyleFor(os.Stdout), w: os.Stdout, verbose: *verbose}
	switch {
	case *wrong != "":
		return c.checkWrong(*wrong)
	case *solution:
		return c.checkSolution()
	}
	if ok, err := c.checkMine(); err != nil || !ok {
		return base.FirstErr(err, base.ErrFailed)
	}
	return nil
}

// errInterrupted reports a run ended by Ctrl-C.
var errInterrupted = errors.New("interrupted")

// A checker runs and reports one step's suite for make check and make watch.
type checker struct {
	ctx     context.Context // ends the run: Ctrl-C
	s       step.Step
	st      term.Style
	w       io.Writer
	verbose bool
}

// runSuite runs the step's suite with the overlay (or the learner's code),
// showing on the way what it is doing.
func (c checker) runSuite(overlay string) *gotest.TestRun {
	su := gotest.NewSuite(c.s)
	su.Overlay = overlay
	su.SlowBuild = func() {
		c.st.Clear(c.w)
		fmt.Fprintln(c.w, c.st.Dim("compiling the suite with the race detector: the first build takes a minute or more (later ones, seconds)…"))
	}
	reported := make(map[string]time.Duration)
	su.Running = func(test string, d time.Duration) {
		if c.st.TTY {
			c.st.Status(c.w, fmt.Sprintf("  running %s… %s", test, term.DurationWords(d)))
			return
		}
		// In a log, a line now and then for a test that takes a while.
		if d >= 5*time.Second && d-reported[test] >= 10*time.Second {
			reported[test] = d
			fmt.Fprintf(c.w, "  %s is still running (%s)…\n", test, term.DurationWords(d))
		}
	}
	tr := su.Run(c.ctx)
	c.st.Clear(c.w)
	if c.ctx.Err() != nil {
		tr.Err = errInterrupted
	}
	return tr
}

// checkMine checks the learner's code: it prints the verdicts, a hint that
// answers the first failing test, and what to do next. It reports whether
// every test passed.
func (c checker) checkMine() (bool, error) {
	s, st := c.s, c.st
	fmt.Fprintf(c.w, "%s\n%s\n\n", st.Bold(s.Label()), st.Dim("running the suite against your code in "+s.Dir()+", with the race detector…"))
	key, keyErr := suiteKey(s)
	tr := c.runSuite("")
	if tr.Err != nil {
		return false, tr.Err
	}
	ok, failing := report(c.w, st, s, "your code", tr, c.verbose)
	if keyErr == nil {
		_ = rememberVerdict(s.Repo, s, key, verdictOf(tr))
	}
	state := loadHintState(s)
	if ok {
		if state.LastFailed != "" {
			state.LastFailed = ""
			_ = state.save(s)
		}
		fmt.Fprintf(c.w, "%s Compare with the reference solution: make diff STEP=%d\n", st.Green("Well done!"), s.Num)
		printReview(c.w, st, s)
		steps, err := step.Load(s.Repo)
		if err != nil {
			return true, nil
		}
		if i := slices.IndexFunc(steps, func(x step.Step) bool { return x.Num == s.Num }); i >= 0 && i+1 < len(steps) {
			next := steps[i+1]
			fmt.Fprintf(c.w, "Next: %s (make check STEP=%d)\n", filepath.ToSlash(next.Dir())+"/README.md", next.Num)
		} else {
			fmt.Fprintf(c.w, "That was the last step: your server is a whole central system. Serve it (make serve STEP=%d), "+
				"and in other terminals run stations against it (make stations N=100) and attack its edge (make edge).\n", s.Num)
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
func printReview(w io.Writer, st term.Style, s step.Step) {
	if len(s.Meta.Review) == 0 {
		return
	}
	fmt.Fprintf(w, "\n%s\n", st.Bold("What no test can see: green does not rule these out, so look for them in your code."))
	for _, line := range s.Meta.Review {
		fmt.Fprintf(w, "  - %s\n", term.IndentAfterFirst(term.Wrap(line, 74), "    "))
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
	test := hintTest(s.Meta, asserted)
	state.LastFailed = gotest.FirstNonEmpty(test, hintTest(s.Meta, failing), failing[0])
	defer func() { _ = state.save(s) }()
	if len(asserted) == 0 {
		fmt.Fprintf(c.w, "\n%s\n", term.Wrap(strings.Join(failing, " and ")+" failed only on a data race: two goroutines used the same memory at once, "+
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
			test, how, s.Num)
		return
	}
	tests := hintTests(s.Meta, asserted, crashed)
	if len(tests) > 1 {
		fmt.Fprintf(c.w, "\n%s\n", term.Wrap(fmt.Sprintf("%d lesson tests failed. One mistake often fails several, and any of their messages may be the one "+
			"that names it: a hint for each.", len(tests)), 76))
	}
	for _, t := range tests {
		hints := s.Meta.HintsFor(t)
		show := min(max(state.Seen[t], 1), len(hints))
		state.see(t, show)
		fmt.Fprintf(c.w, "\n%s\n    %s\n", st.Yellow(fmt.Sprintf("hint for %s (%d of %d, %s):", t, show, len(hints), tierName(show))),
			term.IndentAfterFirst(term.Wrap(hints[show-1], 74), "    "))
	}
	hints := s.Meta.HintsFor(test)
	show := state.Seen[test]
	switch {
	case show < len(hints) && len(tests) > 1:
		fmt.Fprintf(c.w, "make hint STEP=%d gives the next for %s (%s).\n", s.Num, test, tierName(show+1))
	case show < len(hints):
		fmt.Fprintf(c.w, "make hint STEP=%d gives the next (%s).\n", s.Num, tierName(show+1))
	default:
		fmt.Fprintf(c.w, "That is the last hint for %s; make diff STEP=%d shows the solution.\n", test, s.Num)
	}
}

// hintTests returns the failing lesson tests that have hints and did not
// crash, in the order they failed; if none is a lesson test, the test that
// hintTest picks.
func hintTests(m step.Meta, failing []string, crashed map[string]string) []string {
	var out []string
	for _, name := range failing {
		if _, bad := crashed[name]; !bad && slices.Contains(m.LessonTests, name) && len(m.HintsFor(name)) > 0 {
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
func crashedTests(tr *gotest.TestRun) map[string]string {
	out := make(map[string]string)
	for _, p := range tr.Pkgs {
		for _, c := range append(slices.Clone(p.Crashes), p.Hangs...) {
			out[c.Test] = c.How()
		}
	}
	return out
}

// raceOnlyTests returns the failing top-level tests of a run whose only
// complaint was the race detector's: no assertion of theirs failed.
func raceOnlyTests(tr *gotest.TestRun) map[string]bool {
	out := make(map[string]bool)
	crashed := crashedTests(tr)
	for _, p := range tr.Pkgs {
		for _, t := range p.TopLevel() {
			if t.Action == "fail" && crashed[t.Name] == "" && gotest.RaceOnly(p, t.Name) {
				out[t.Name] = true
			}
		}
	}
	return out
}

// ranFrom returns a writer to w that names, in the file paths of what is
// written (goroutine stacks, race reports), the files of code that an
// overlay laid over the exercise's: the code that ran, not the learner's
// files of the same name.
func ranFrom(w io.Writer, s step.Step, code step.CodeSet) io.Writer {
	r := s.Repo
	var pairs []string
	for name, path := range code {
		ran := path
		if rel, ok := gotest.InRepo(r, path); ok {
			ran = filepath.ToSlash(rel)
		}
		abs := filepath.Join(r.Root, s.Dir(), name)
		pairs = append(pairs, abs, ran)
		if slashed := filepath.ToSlash(abs); slashed != abs {
			pairs = append(pairs, slashed, ran)
		}
		pairs = append(pairs, filepath.ToSlash(filepath.Join(s.Dir(), name)), ran)
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
	code, err := s.SolutionCode()
	if err != nil {
		return err
	}
	overlay, err := step.WriteOverlay(s, code, tmp, "solution")
	if err != nil {
		return err
	}
	fmt.Fprintf(c.w, "%s\n%s\n\n", st.Bold(s.Label()), st.Dim("running the suite against the reference solution in "+s.SolutionDir()+", with the race detector…"))
	tr := c.runSuite(overlay)
	if tr.Err != nil {
		return tr.Err
	}
	if ok, _ := report(ranFrom(c.w, s, code), st, s, "the reference solution", tr, c.verbose); ok {
		fmt.Fprintln(c.w, "The reference solution passes, as it should.")
		return nil
	}
	fmt.Fprintln(c.w, "\nThe reference solution should pass its suite: this is a bug in the kata, not in your code.")
	return base.ErrFailed
}

// checkWrong runs the suite against one of the step's wrong turns: a
// demonstration of a plausible mistake and of the test that catches it. It
// succeeds when that test fails on it, as the wrong turn's note says.
func (c checker) checkWrong(name string) error {
	s, st := c.s, c.st
	turns, err := s.WrongTurns()
	if err != nil {
		return err
	}
	i := slices.IndexFunc(turns, func(w step.WrongTurn) bool { return w.Name == name })
	if i < 0 {
		if len(turns) == 0 {
			fmt.Fprintf(c.w, "%s has no wrong turns to show yet.\n", s.Label())
			return base.ErrFailed
		}
		fmt.Fprintf(c.w, "%s has no wrong turn %q. Its wrong turns are:\n", s.Label(), name)
		for _, w := range turns {
			fmt.Fprintf(c.w, "  %-14s %s\n", w.Name, w.Note)
		}
		fmt.Fprintf(c.w, "Try: make check STEP=%d WRONG=%s\n", s.Num, turns[0].Name)
		return base.ErrFailed
	}
	w := turns[i]
	tmp, err := os.MkdirTemp("", "kata-check-")
	if err != nil {
		return fmt.Errorf("make a temporary directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	// The patched files stay in .kata/ after the run: the reports' file
	// and line numbers point into them.
	dir := filepath.Join(s.Repo.Root, ".kata", "wrong", s.Name, w.Name)
	code, err := s.WrongCode(w, dir)
	if err != nil {
		return err
	}
	overlay, err := step.WriteOverlay(s, code, tmp, "wrong-"+w.Name)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.w, "%s\n%s %s\n%s %s\n\n", st.Bold(s.Label()),
		st.Yellow("wrong turn "+w.Name+":"), w.Note,
		st.Dim("it should be caught by"), w.CaughtBy)
	fmt.Fprintf(c.w, "%s\n%s\n", st.Dim("what it changes in the solution ("+filepath.ToSlash(w.Path)+"):"), colorPatch(st, w))
	fmt.Fprintf(c.w, "%s\n\n", st.Dim("running the suite against the solution with this change…"))
	tr := c.runSuite(overlay)
	if tr.Err != nil {
		return tr.Err
	}
	_, failing := report(ranFrom(c.w, s, code), st, s, "the wrong turn", tr, c.verbose)
	fmt.Fprintln(c.w)
	if slices.Contains(failing, w.CaughtBy) {
		fmt.Fprintf(c.w, "%s %s failed on it, as the note says.\n", st.Green("Caught:"), w.CaughtBy)
		return nil
	}
	fmt.Fprintf(c.w, "%s %s did not fail on it: the suite misses this wrong turn, a bug in the kata.\n", st.Red("Not caught:"), w.CaughtBy)
	return base.ErrFailed
}

// colorPatch returns the diff of a wrong turn, without its header, its
// removed lines in red and its added ones in green.
func colorPatch(st term.Style, w step.WrongTurn) string {
	var b strings.Builder
	for _, fp := range w.Files {
		fmt.Fprintf(&b, "%s\n", st.Bold(fp.Name))
		for _, h := range fp.Hunks {
			fmt.Fprintf(&b, "%s\n", st.Dim(h.Header()))
			for _, line := range h.Lines {
				switch line[0] {
				case '-':
					line = st.Red(line)
				case '+':
					line = st.Green(line)
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
func report(w io.Writer, st term.Style, s step.Step, who string, tr *gotest.TestRun, verbose bool) (bool, []string) {
	r := s.Repo
	if tr.BuildFailed() || len(tr.Pkgs) == 0 {
		lines, vet := gotest.BuildComplaint(tr)
		if vet {
			fmt.Fprintln(w, st.Red("go vet, which go test runs before the tests, complains about "+who+":"))
		} else {
			fmt.Fprintln(w, st.Red(gotest.WhatBroke(s, who, lines)+":"))
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
	p := tr.Only()
	crashes := append(slices.Clone(p.Crashes), p.Hangs...)
	crashOf := make(map[string]*gotest.Crash)
	for _, c := range crashes {
		crashOf[c.Test] = c
	}
	for _, t := range p.TopLevel() {
		// A test that reports a process's stacks as its failure (a
		// kit.Isolated child that timed out) is explained like a crash.
		if c := gotest.DumpedIn(p, t); crashOf[t.Name] == nil && c != nil {
			crashes = append(crashes, c)
			crashOf[t.Name] = c
		}
	}
	passed, total := 0, 0
	var failing []string
	for _, t := range p.TopLevel() {
		total++
		c := crashOf[t.Name]
		switch {
		case t.Action == "pass":
			passed++
			fmt.Fprintf(w, "  %s  %s\n", st.Pass(), t.Name)
			if verbose {
				for _, line := range term.WrapLines(gotest.LogLines(p, t.Name), 68) {
					fmt.Fprintln(w, "          "+st.Dim(line))
				}
			}
			continue
		case t.Action == "skip":
			fmt.Fprintf(w, "  %s  %s\n", st.Dim("SKIP"), t.Name)
			total--
			continue
		case c != nil:
			fmt.Fprintf(w, "  %s  %s\n", st.Fail(), t.Name+st.Dim(" ("+c.How()+": see below)"))
		case t.Action == "":
			fmt.Fprintf(w, "  %s  %s\n", st.Fail(), t.Name+st.Dim(" (never finished)"))
		default:
			fmt.Fprintf(w, "  %s  %s\n", st.Fail(), t.Name)
		}
		failing = append(failing, t.Name)
		lines := gotest.FailureLines(p, t.Name)
		if c != nil {
			lines = gotest.UntilDump(lines) // explainCrash condenses the dump
		}
		lines, race := gotest.CondenseRaces(r, lines)
		lines = gotest.CondenseRepeats(lines)
		if len(lines) == 0 {
			if c == nil {
				lines = []string{"(the test failed without saying why)"}
			}
		}
		more := fmt.Sprintf("go test -race -run '^%s$' %s shows them all", t.Name, s.Pkg())
		if race {
			lines = append(lines, fmt.Sprintf("(go test -race -run '^%s$' %s shows the race detector's whole report)", t.Name, s.Pkg()))
		}
		for _, line := range term.LimitLines(term.WrapLines(lines, 68), 40, more) {
			fmt.Fprintln(w, "          "+line)
		}
	}
	previous := ""
	for _, c := range crashes {
		fmt.Fprintln(w)
		if sig := gotest.CrashSignature(r, s, c); sig != "" && sig == previous {
			fmt.Fprintf(w, "  %s %s the same way (%s).\n", gotest.FirstNonEmpty(c.Test, "A test"), c.How(), gotest.FirstOwnPlace(r, s, c))
			continue
		} else {
			previous = sig
		}
		lines := gotest.ExplainCrash(r, s, c)
		for i, line := range lines {
			if i == 0 || strings.HasPrefix(line, "  ") {
				fmt.Fprintln(w, "  "+line)
				continue
			}
			fmt.Fprintln(w, "  "+term.IndentAfterFirst(term.Wrap(line, 76), "  "))
		}
	}
	fmt.Fprintln(w)
	elapsed := term.Seconds(tr.Elapsed.Seconds())
	if passed == total && p.Action == "pass" && len(p.Crashes) == 0 {
		fmt.Fprintf(w, "%s with -race (%s).\n", st.Green("All "+term.Plural(total, "test")+" pass"), elapsed)
		return true, nil
	}
	verdict := fmt.Sprintf("%d of %s pass", passed, term.Plural(total, "test"))
	if passed == total && len(failing) == 0 {
		// Every test passed, yet the binary failed: a race or a leak found
		// outside any test, or a TestMain that failed.
		for _, line := range p.Output {
			if !gotest.Framing(line) && line != "PASS" && line != "FAIL" && !strings.HasPrefix(line, "FAIL\t") && !strings.HasPrefix(line, "ok ") {
				fmt.Fprintln(w, "  "+line)
			}
		}
		verdict = "every test passed, but the test binary failed"
		failing = append(failing, "")
	}
	if len(p.Crashes) > 0 && len(p.TopLevel()) > 1 {
		verdict += "; the tests after the first crash ran each in a fresh process"
	}
	fmt.Fprintf(w, "%s (%s).\n", st.Red(verdict), elapsed)
	return false, slices.DeleteFunc(failing, func(n string) bool { return n == "" })
}
