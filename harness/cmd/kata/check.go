package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// suiteTimeout bounds one run of a step's suite: it runs on fake time and
// takes seconds, so a minute more means something hangs.
const suiteTimeout = 90 * time.Second

// runCheck runs a step's suite with -race against the learner's code or the
// reference solution, and summarizes it.
func runCheck(args []string) error {
	fs := newFlags("check", "-step N [-solution] [-v]")
	num := fs.String("step", "", "the step to check: 1 or 01")
	solution := fs.Bool("solution", false, "check the reference solution instead of your code")
	verbose := fs.Bool("v", false, "show what passing tests measured too (their t.Log lines)")
	s, err := parseStep(fs, num, args)
	if err != nil {
		return err
	}
	r := s.repo
	g := goTest{pkgs: []string{s.pkg()}, race: true, timeout: suiteTimeout}
	whose := "your code in " + s.dir()
	if *solution {
		tmp, err := os.MkdirTemp("", "kata-check-")
		if err != nil {
			return fmt.Errorf("make a temporary directory: %w", err)
		}
		defer os.RemoveAll(tmp)
		if g.overlay, err = solutionOverlay(s, tmp); err != nil {
			return err
		}
		whose = "the reference solution in " + s.solutionDir()
	}

	st := styleFor(os.Stdout)
	fmt.Printf("%s\n%s\n\n", st.bold(s.label()), st.dim("running the suite against "+whose+", with the race detector…"))
	tr := g.run(context.Background(), r)
	if tr.err != nil {
		return tr.err
	}
	who := "your code"
	if *solution {
		who = "the reference solution"
	}
	ok := report(os.Stdout, st, s, who, tr, *verbose)
	if ok {
		if *solution {
			fmt.Println("The reference solution passes, as it should.")
			return nil
		}
		fmt.Printf("%s Compare with the reference solution: make diff STEP=%d\n", st.green("Well done!"), s.num)
		if next, err := findStep(r, fmt.Sprint(s.num+1)); err == nil {
			fmt.Printf("Next: %s (make check STEP=%d)\n", next.dir()+"/README.md", next.num)
		}
		return nil
	}
	if *solution {
		fmt.Println("\nThe reference solution should pass its suite: this is a bug in the kata, not in your code.")
		return errFailed
	}
	if _, hints := s.meta.firstHints(); len(hints) > 0 {
		fmt.Printf("\n%s %s\n", st.yellow("hint:"), indentAfterFirst(wrap(hints[0], 74), "      "))
		fmt.Printf("more: make hint STEP=%d\n", s.num)
	}
	return errFailed
}

// report prints the verdict of each top-level test of one step's run and
// what the failing ones said; who names the code under test for a compile
// error; verbose adds what the passing tests logged. It reports whether
// every test passed.
func report(w *os.File, st style, s step, who string, tr *testRun, verbose bool) bool {
	r := s.repo
	if tr.buildFailed() || len(tr.pkgs) == 0 {
		lines := compilerLines(tr)
		fmt.Fprintln(w, st.red(whatBroke(s, who, lines)+":"))
		for _, line := range lines {
			fmt.Fprintln(w, line)
		}
		return false
	}
	p := tr.only()
	passed, total := 0, 0
	for _, t := range p.topLevel() {
		total++
		switch t.action {
		case "pass":
			passed++
			fmt.Fprintf(w, "  %s  %s\n", st.pass(), t.name)
			if verbose {
				for _, line := range wrapLines(logLines(p, t.name), 68) {
					fmt.Fprintln(w, "          "+st.dim(line))
				}
			}
			continue
		case "skip":
			fmt.Fprintf(w, "  %s  %s\n", st.dim("SKIP"), t.name)
			total--
			continue
		case "":
			fmt.Fprintf(w, "  %s  %s\n", st.fail(), t.name+st.dim(" (never finished: see below)"))
			continue
		}
		fmt.Fprintf(w, "  %s  %s\n", st.fail(), t.name)
		lines, race := condenseRaces(r, failureLines(p, t.name))
		if len(lines) == 0 && p.crashed() && p.panicTest == t.name {
			lines = []string{"it crashed: see below"}
		} else if len(lines) == 0 {
			lines = []string{"(the test failed without saying why)"}
		}
		more := fmt.Sprintf("go test -race -run '^%s$' %s shows them all", t.name, s.pkg())
		if race {
			lines = append(lines, fmt.Sprintf("(go test -race -run '^%s$' %s shows the race detector's whole report)", t.name, s.pkg()))
		}
		for _, line := range limitLines(wrapLines(lines, 68), 40, more) {
			fmt.Fprintln(w, "          "+line)
		}
	}
	if p.crashed() {
		fmt.Fprintln(w)
		for _, line := range crashReport(r, s, p) {
			fmt.Fprintln(w, "  "+line)
		}
	}
	fmt.Fprintln(w)
	verdict := fmt.Sprintf("%d of %s pass", passed, plural(total, "test"))
	if passed == total && p.action == "pass" {
		fmt.Fprintf(w, "%s with -race (%s).\n", st.green("All "+plural(total, "test")+" pass"), seconds(tr.elapsed.Seconds()))
		return true
	}
	if p.crashed() {
		verdict += "; the others never ran"
	} else if passed == total {
		// Every test passed, yet the binary failed: a race or a leak found
		// outside any test, or a TestMain that failed.
		for _, line := range p.output {
			if !framing(line) && line != "PASS" && line != "FAIL" && !strings.HasPrefix(line, "FAIL\t") && !strings.HasPrefix(line, "ok ") {
				fmt.Fprintln(w, "  "+line)
			}
		}
		verdict = "every test passed, but the test binary failed"
	}
	fmt.Fprintf(w, "%s (%s).\n", st.red(verdict), seconds(tr.elapsed.Seconds()))
	return false
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
