package main

import (
	"context"
	"fmt"
	"os"
	"sync"
	"unicode/utf8"
)

// runProgress prints a table of the steps and where the learner's code
// stands on each. The suites run without -race, for speed.
func runProgress(args []string) error {
	fs := newFlags("progress", "[-parallel N]")
	parallel := fs.Int("parallel", 2, "how many suites run at once")
	r, steps, err := parseSteps(fs, args)
	if err != nil {
		return err
	}
	for i := range steps {
		if steps[i].metaErr != nil {
			steps[i].meta.Title = "(no usable step.json)"
		}
	}
	st := styleFor(os.Stdout)
	fmt.Println(st.dim(fmt.Sprintf("running the suites of %s against your code…", plural(len(steps), "step"))))

	runs := make([]*testRun, len(steps))
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(*parallel, 1))
	for i, s := range steps {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			g := goTest{pkgs: []string{s.pkg()}, timeout: suiteTimeout}
			runs[i] = g.run(context.Background(), r)
		})
	}
	wg.Wait()

	titleWidth := len("title")
	for _, s := range steps {
		titleWidth = max(titleWidth, utf8.RuneCountInString(s.meta.Title))
	}
	fmt.Printf("\n%s  %s  %s\n", st.bold("step"), st.bold(fmt.Sprintf("%-*s", titleWidth, "title")), st.bold("your code"))
	passing := 0
	for i, s := range steps {
		status, ok := standing(st, runs[i])
		if ok {
			passing++
		}
		hints := ""
		if seen := hintsSeen(s); seen > 0 {
			hints = st.dim(fmt.Sprintf("  (%d of %d hints seen)", seen, len(func() []string { _, h := s.meta.firstHints(); return h }())))
		}
		pad := titleWidth - utf8.RuneCountInString(s.meta.Title)
		fmt.Printf("%02d    %s%*s  %s%s\n", s.num, s.meta.Title, pad, "", status, hints)
	}
	fmt.Printf("\n%d of %s done.", passing, plural(len(steps), "step"))
	for i, s := range steps {
		if _, ok := standing(st, runs[i]); !ok {
			fmt.Printf(" Next: make check STEP=%d", s.num)
			break
		}
	}
	fmt.Println()
	return nil
}

// standing describes the learner's code from a run of its suite, and
// reports whether every test passed.
func standing(st style, tr *testRun) (string, bool) {
	if tr.err != nil {
		return st.red("could not run: " + tr.err.Error()), false
	}
	if tr.buildFailed() || len(tr.pkgs) == 0 {
		return st.red("does not compile"), false
	}
	p := tr.only()
	passed, total := 0, 0
	for _, t := range p.topLevel() {
		total++
		if t.action == "pass" {
			passed++
		}
	}
	switch {
	case p.timeout != "":
		return st.red(fmt.Sprintf("hangs (%d of %d tests pass before it)", passed, total)), false
	case p.crashed():
		return st.red(fmt.Sprintf("crashes in %s", firstNonEmpty(p.panicTest, "the suite"))), false
	case passed == total && p.action == "pass":
		return st.green(fmt.Sprintf("passing (%d of %d tests)", passed, total)), true
	}
	return st.yellow(fmt.Sprintf("failing (%d of %d tests pass)", passed, total)), false
}
