package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"
)

// A breach is one way the kata breaks its contract: what is wrong and what
// to do about it.
type breach struct {
	what, todo string
}

// A tally counts test results against what the contract expects of them.
type tally struct {
	passed, failed int
	breaches       []breach
}

// add adds another tally to t.
func (t *tally) add(o tally) {
	t.passed += o.passed
	t.failed += o.failed
	t.breaches = append(t.breaches, o.breaches...)
}

// breach records a breach; a breach that no failing test result stands for
// (a build failure, a crash, vet) counts as one failure of its own.
func (t *tally) breach(counted bool, what, todo string) {
	t.breaches = append(t.breaches, breach{what: what, todo: todo})
	if !counted {
		t.failed++
	}
}

// runContract proves the kata contract for every step, then vets, formats
// and tests the rest of the kata.
func runContract(args []string) error {
	fs := newFlags("test", "[-parallel N] [-fuzztime D]")
	parallel := fs.Int("parallel", 2, "how many suites run at once")
	fuzztime := fs.Duration("fuzztime", 10*time.Second, "how long to fuzz the OCPP decoder")
	r, steps, err := parseSteps(fs, args)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "kata-test-")
	if err != nil {
		return fmt.Errorf("make a temporary directory: %w", err)
	}
	defer os.RemoveAll(tmp)

	st := styleFor(os.Stdout)
	start := time.Now()
	fmt.Printf("%s every step's starter must fail its lesson and its solution pass, with -race\n",
		st.bold("kata test:"))
	width := len("harness, stations")
	for _, s := range steps {
		width = max(width, len(s.name))
	}
	var total tally
	total.add(checkSteps(r, st, steps, tmp, *parallel, width))
	total.add(checkVet(r, st, width))
	total.add(checkHarness(r, st, width))
	total.add(checkFuzz(r, st, *fuzztime, width))

	fmt.Println()
	if len(total.breaches) == 0 {
		fmt.Printf("%s %s the contract; %s passed (%s)\n", st.green("kata:"),
			holds(len(steps)), plural(total.passed, "test"), seconds(time.Since(start).Seconds()))
		fmt.Printf("%d passed, %d failed\n", total.passed, total.failed)
		return nil
	}
	fmt.Printf("%s the contract is broken in %s:\n", st.red("kata:"), plural(len(total.breaches), "place"))
	for _, b := range total.breaches {
		fmt.Printf("  %s %s\n", st.red("✗"), indentAfterFirst(b.what, "    "))
		fmt.Printf("    %s %s\n", st.dim("what to do:"), indentAfterFirst(b.todo, "      "))
	}
	fmt.Printf("%d passed, %d failed\n", total.passed, total.failed)
	return errFailed
}

// holds says "1 step holds" or "9 steps hold".
func holds(n int) string {
	if n == 1 {
		return "1 step holds"
	}
	return fmt.Sprintf("%d steps hold", n)
}

// checkSteps runs every step's suite against its starter and its solution,
// at most parallel suites at a time, and prints a line per step in order,
// its name padded to width.
func checkSteps(r repo, st style, steps []step, tmp string, parallel, width int) tally {
	type job struct {
		step     int
		solution bool
	}
	type outcome struct {
		run   *testRun
		err   error
		start time.Time
	}
	results := make([][2]outcome, len(steps))
	done := make([]chan struct{}, len(steps))
	var jobs []job
	for i, s := range steps {
		done[i] = make(chan struct{})
		if s.metaErr == nil {
			jobs = append(jobs, job{i, false}, job{i, true})
		} else {
			close(done[i])
		}
	}
	// parallel runners take the jobs in order, so the first steps' lines
	// come first.
	queue := make(chan job)
	go func() {
		defer close(queue)
		for _, j := range jobs {
			queue <- j
		}
	}()
	var mu sync.Mutex
	finished := make([]int, len(steps))
	var runners sync.WaitGroup
	defer runners.Wait()
	for range max(parallel, 1) {
		runners.Go(func() {
			for j := range queue {
				s := steps[j.step]
				g := goTest{pkgs: []string{s.pkg()}, race: true, timeout: suiteTimeout}
				o := outcome{start: time.Now()}
				if j.solution {
					g.overlay, o.err = solutionOverlay(s, tmp)
				}
				if o.err == nil {
					o.run = g.run(context.Background(), r)
					o.err = o.run.err
				}
				mu.Lock()
				results[j.step][btoi(j.solution)] = o
				finished[j.step]++
				if finished[j.step] == 2 {
					close(done[j.step])
				}
				mu.Unlock()
			}
		})
	}
	if !st.tty {
		fmt.Printf("running %s, %d at a time…\n", plural(len(jobs), "suite"), max(parallel, 1))
	}
	var total tally
	for i, s := range steps {
		if st.tty {
			st.status(os.Stdout, fmt.Sprintf("%s: running its suite on the starter and on the solution…", s.name))
		}
		<-done[i]
		st.clear(os.Stdout)
		if s.metaErr != nil {
			var t tally
			t.breach(false, s.name+": "+s.metaErr.Error(), "every step needs a step.json with its title, lesson_tests and hints")
			fmt.Printf("%-*s  %s\n", width, s.name, st.red("no usable step.json"))
			total.add(t)
			continue
		}
		starter, solution := results[i][0], results[i][1]
		var t tally
		var said []string
		if starter.err != nil {
			t.breach(false, fmt.Sprintf("%s: could not run the suite on the starter: %v", s.name, starter.err), "fix the go command's complaint above")
			said = append(said, st.red("starter could not run"))
		} else {
			said = append(said, judgeStarter(&t, st, s, starter.run))
		}
		if solution.err != nil {
			t.breach(false, fmt.Sprintf("%s: could not run the suite on the solution: %v", s.name, solution.err), "fix the go command's complaint above")
			said = append(said, st.red("solution could not run"))
		} else {
			said = append(said, judgeSolution(&t, st, s, solution.run))
		}
		took := span(starter.start, elapsedOf(starter.run), solution.start, elapsedOf(solution.run))
		fmt.Printf("%-*s  %s  %s\n", width, s.name, strings.Join(said, " · "), st.dim("("+seconds(took.Seconds())+")"))
		total.add(t)
	}
	return total
}

// span returns the time from the earlier start to the later end of two runs.
func span(start1 time.Time, d1 time.Duration, start2 time.Time, d2 time.Duration) time.Duration {
	first, last := start1, start1.Add(d1)
	if start2.Before(first) {
		first = start2
	}
	if end := start2.Add(d2); end.After(last) {
		last = end
	}
	return last.Sub(first)
}

// btoi returns 1 for true and 0 for false.
func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// elapsedOf returns how long a run took, or 0 for a run that never started.
func elapsedOf(tr *testRun) time.Duration {
	if tr == nil {
		return 0
	}
	return tr.elapsed
}

// judgeStarter holds a starter's run to the contract: it compiles, does not
// crash, and fails exactly the step's lesson tests. It returns the step
// line's words about the starter.
func judgeStarter(t *tally, st style, s step, tr *testRun) string {
	who := s.name + " starter"
	checkHint := fmt.Sprintf("make check STEP=%d shows what happens", s.num)
	if tr.buildFailed() || len(tr.pkgs) == 0 {
		t.breach(false, who+" does not compile:\n"+strings.Join(compilerLines(tr), "\n"),
			"every starter must compile: fix "+s.dir())
		return st.red("starter does not compile")
	}
	p := tr.only()
	lesson := make(map[string]bool)
	for _, name := range s.meta.LessonTests {
		lesson[name] = true
	}
	var failing []string
	for _, test := range p.tests {
		top, _, _ := strings.Cut(test.name, "/")
		want := "pass"
		if lesson[top] {
			want = "fail"
			if !test.topLevel() {
				want = test.action // a lesson's subtests may go either way
			}
		}
		switch {
		case test.action == "":
		case test.action == "skip":
		case test.action == want:
			t.passed++
		default:
			t.failed++
		}
		if test.topLevel() && test.action == "fail" {
			failing = append(failing, test.name)
		}
	}
	if p.crashed() {
		t.breach(false, who+": "+strings.Join(crashReport(s.repo, s, p), "\n"),
			"a starter must fail by its assertions, not crash or hang; "+checkHint)
		return st.red("starter crashes")
	}
	want := slices.Clone(s.meta.LessonTests)
	slices.Sort(want)
	got := slices.Clone(failing)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		what := fmt.Sprintf("%s fails %s; step.json says its lesson is %s", who, orNone(failing), orNone(s.meta.LessonTests))
		for _, name := range s.meta.LessonTests {
			if p.byName[name] == nil {
				what += fmt.Sprintf("\n%s is not in the suite", name)
			}
		}
		todo := "make the starter fail exactly its lesson tests, or correct lesson_tests in " + s.dir() + "/step.json; " + checkHint
		if len(failing) == 0 {
			todo += "\n(if you solved this step yourself, that is why: make test checks the kata, make check checks your code)"
		}
		t.breach(true, what, todo)
		if p.action == "pass" || len(failing) == 0 {
			return st.red("starter passes: it should fail " + strings.Join(s.meta.LessonTests, ", "))
		}
		return st.red("starter fails " + strings.Join(failing, ", ") + ", not its lesson")
	}
	if len(failing) == 0 {
		return st.yellow("starter passes (step.json names no lesson test)")
	}
	return "starter fails " + strings.Join(failing, ", ") + " " + st.green("as it should")
}

// judgeSolution holds a solution's run to the contract: every test passes
// with -race. It returns the step line's words about the solution.
func judgeSolution(t *tally, st style, s step, tr *testRun) string {
	who := s.name + " solution"
	todo := fmt.Sprintf("make check STEP=%d SOLUTION=1 shows the details; fix %s", s.num, s.solutionDir())
	if tr.buildFailed() || len(tr.pkgs) == 0 {
		t.breach(false, who+" does not compile:\n"+strings.Join(compilerLines(tr), "\n"), todo)
		return st.red("solution does not compile")
	}
	p := tr.only()
	passed, total := 0, 0
	var failing []string
	for _, test := range p.tests {
		switch test.action {
		case "pass":
			t.passed++
		case "fail":
			t.failed++
		}
		if test.topLevel() {
			total++
			if test.action == "pass" {
				passed++
			} else if test.action == "fail" {
				failing = append(failing, test.name)
			}
		}
	}
	for _, name := range s.meta.LessonTests {
		if p.byName[name] == nil && !p.crashed() {
			t.breach(false, fmt.Sprintf("%s: lesson test %s is not in the suite", s.name, name),
				"correct lesson_tests in "+s.dir()+"/step.json")
		}
	}
	switch {
	case p.crashed():
		t.breach(false, who+": "+strings.Join(crashReport(s.repo, s, p), "\n"), todo)
		return st.red("solution crashes")
	case len(failing) > 0:
		what := fmt.Sprintf("%s fails %s:", who, strings.Join(failing, ", "))
		for _, name := range failing {
			lines, _ := condenseRaces(s.repo, failureLines(p, name))
			what += "\n" + indent(strings.Join(limitLines(lines, 12, "make check shows them all"), "\n"), "  ")
		}
		t.breach(true, what, todo)
		return st.red(fmt.Sprintf("solution fails %s", strings.Join(failing, ", ")))
	case p.action != "pass":
		t.breach(false, who+": every test passed but the test binary failed:\n"+strings.Join(p.output, "\n"), todo)
		return st.red("solution's test binary fails")
	}
	return fmt.Sprintf("solution passes %d/%d with -race", passed, total)
}

// compilerLines returns the compiler's complaint from a run that did not build.
func compilerLines(tr *testRun) []string {
	var out []string
	for _, line := range tr.build {
		if !strings.HasPrefix(line, "# ") {
			out = append(out, "  "+line)
		}
	}
	if len(out) == 0 && tr.stderr != "" {
		out = append(out, "  "+tr.stderr)
	}
	return out
}

// orNone lists test names, or says "no test".
func orNone(names []string) string {
	if len(names) == 0 {
		return "no test"
	}
	return strings.Join(names, ", ")
}

// checkVet runs go vet and gofmt over the whole module.
func checkVet(r repo, st style, width int) tally {
	var t tally
	start := time.Now()
	st.status(os.Stdout, "go vet, gofmt…")
	vet := exec.Command("go", "vet", "./...")
	vet.Dir = r.root
	vetOut, vetErr := vet.CombinedOutput()
	gofmt := exec.Command("gofmt", "-l", ".")
	gofmt.Dir = r.root
	fmtOut, fmtErr := gofmt.CombinedOutput()
	unformatted := strings.Fields(string(fmtOut))

	var said []string
	if vetErr != nil {
		t.breach(false, "go vet ./... complains:\n"+indent(string(vetOut), "  "), "fix what go vet reports")
		said = append(said, st.red("go vet complains"))
	} else {
		said = append(said, "go vet is clean")
	}
	switch {
	case fmtErr != nil:
		t.breach(false, "gofmt failed: "+strings.TrimSpace(string(fmtOut)), "fix what gofmt reports")
		said = append(said, st.red("gofmt failed"))
	case len(unformatted) > 0:
		t.breach(false, "gofmt would change "+strings.Join(unformatted, ", "), "run gofmt -w on them")
		said = append(said, st.red("gofmt would change "+plural(len(unformatted), "file")))
	default:
		said = append(said, "gofmt has nothing to change")
	}
	st.clear(os.Stdout)
	fmt.Printf("%-*s  %s  %s\n", width, "vet, gofmt", strings.Join(said, " · "), st.dim("("+seconds(time.Since(start).Seconds())+")"))
	return t
}

// checkHarness runs the unit tests of harness/ and stations/ with -race.
func checkHarness(r repo, st style, width int) tally {
	var t tally
	st.status(os.Stdout, "harness, stations: testing with -race…")
	g := goTest{pkgs: []string{"./harness/...", "./stations/..."}, race: true, timeout: 3 * time.Minute}
	tr := g.run(context.Background(), r)
	st.clear(os.Stdout)
	if tr.err != nil {
		t.breach(false, "harness and stations tests could not run: "+tr.err.Error(), "fix the go command's complaint")
		fmt.Printf("%-*s  %s\n", width, "harness, stations", st.red("could not run"))
		return t
	}
	if tr.buildFailed() {
		t.breach(false, "harness or stations do not compile:\n"+strings.Join(compilerLines(tr), "\n"), "fix the compiler's complaint")
		fmt.Printf("%-*s  %s\n", width, "harness, stations", st.red("does not compile"))
		return t
	}
	pkgs := 0
	var failing []string
	for _, p := range tr.pkgs {
		if len(p.tests) > 0 {
			pkgs++
		}
		for _, test := range p.tests {
			switch test.action {
			case "pass":
				t.passed++
			case "fail":
				t.failed++
				if test.topLevel() {
					failing = append(failing, strings.TrimPrefix(p.name, r.module+"/")+" "+test.name)
					t.breaches = append(t.breaches, breach{
						what: fmt.Sprintf("%s: %s fails:\n%s", strings.TrimPrefix(p.name, r.module+"/"), test.name,
							indent(strings.Join(limitLines(messages(test), 12, "go test -race shows them all"), "\n"), "  ")),
						todo: fmt.Sprintf("go test -race -run '^%s$' ./%s", test.name, strings.TrimPrefix(p.name, r.module+"/")),
					})
				}
			}
		}
		if p.crashed() {
			s := step{repo: r, name: "-"}
			t.breach(false, strings.TrimPrefix(p.name, r.module+"/")+": "+strings.Join(crashReport(r, s, p), "\n"),
				"go test -race ./"+strings.TrimPrefix(p.name, r.module+"/"))
			failing = append(failing, strings.TrimPrefix(p.name, r.module+"/")+" crashed")
		}
	}
	passed, _ := tr.counts()
	line := fmt.Sprintf("%s in %s pass with -race", plural(passed, "test"), plural(pkgs, "package"))
	if len(failing) > 0 {
		line = st.red("failing: " + strings.Join(failing, ", "))
	}
	fmt.Printf("%-*s  %s  %s\n", width, "harness, stations", line, st.dim("("+seconds(tr.elapsed.Seconds())+")"))
	return t
}

// checkFuzz fuzzes the OCPP decoder for a short while.
func checkFuzz(r repo, st style, fuzztime time.Duration, width int) tally {
	var t tally
	st.status(os.Stdout, fmt.Sprintf("fuzzing ocpp.Decode for %v…", fuzztime))
	g := goTest{
		pkgs:    []string{"./harness/ocpp"},
		timeout: fuzztime + 2*time.Minute,
		flags:   []string{"-run=^$", "-fuzz=^FuzzDecode$", "-fuzztime=" + fuzztime.String()},
	}
	tr := g.run(context.Background(), r)
	st.clear(os.Stdout)
	p := tr.only()
	fuzz := p.byName["FuzzDecode"]
	switch {
	case tr.err != nil:
		t.breach(false, "the fuzz run could not start: "+tr.err.Error(), "go test -run='^$' -fuzz=FuzzDecode ./harness/ocpp")
	case tr.buildFailed():
		t.breach(false, "harness/ocpp does not compile for fuzzing:\n"+strings.Join(compilerLines(tr), "\n"), "fix the compiler's complaint")
	case fuzz == nil:
		t.breach(false, "harness/ocpp has no FuzzDecode to run", "add FuzzDecode to harness/ocpp")
	case fuzz.action == "pass":
		t.passed++
		fmt.Printf("%-*s  FuzzDecode found nothing in %v%s  %s\n", width, "fuzz", fuzztime, execs(fuzz),
			st.dim("("+seconds(tr.elapsed.Seconds())+")"))
		return t
	default:
		t.failed++
		t.breaches = append(t.breaches, breach{
			what: "FuzzDecode found an input that breaks ocpp.Decode:\n" +
				indent(strings.Join(limitLines(messages(fuzz), 15, "go test ./harness/ocpp shows them all"), "\n"), "  "),
			todo: "the input is saved under harness/ocpp/testdata/fuzz/FuzzDecode/; go test ./harness/ocpp replays it",
		})
	}
	fmt.Printf("%-*s  %s\n", width, "fuzz", st.red("FuzzDecode failed"))
	return t
}

// execs returns ", 1234567 inputs" from a fuzz run's last progress line.
func execs(t *testResult) string {
	for _, line := range slices.Backward(t.output) {
		_, rest, ok := strings.Cut(line, "execs: ")
		if !ok {
			continue
		}
		n, _, _ := strings.Cut(rest, " ")
		return " (" + n + " inputs)"
	}
	return ""
}

// indent indents every line of text.
func indent(text, prefix string) string {
	text = strings.TrimRight(text, "\n")
	return prefix + strings.ReplaceAll(text, "\n", "\n"+prefix)
}
