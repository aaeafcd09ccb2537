package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
)

// minWrongTurns is how many wrong turns the contract asks of every step
// (it says 3 to 5): fewer is a breach.
const minWrongTurns = 3

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

// A phase is a part of make test and how long it took.
type phase struct {
	name string
	took time.Duration
}

// runContract proves the kata contract for every step, on the starters as
// the kata ships them, then vets, formats and tests the rest of the kata.
func runContract(args []string) error {
	fs := newFlags("test", "[-parallel N] [-step N]")
	parallel := fs.Int("parallel", max(runtime.NumCPU(), 2), "how many test binaries run at once")
	only := fs.String("step", "", "prove one step's contract only (no vet, no harness tests)")
	r, steps, err := parseSteps(fs, args)
	if err != nil {
		return err
	}
	if *only != "" {
		s, err := findStep(r, *only)
		if err != nil {
			return err
		}
		steps = []step{s}
	}
	tmp, err := os.MkdirTemp("", "kata-test-")
	if err != nil {
		return fmt.Errorf("make a temporary directory: %w", err)
	}
	defer os.RemoveAll(tmp)

	st := styleFor(os.Stdout)
	start := time.Now()
	starters, shippedErr := shippedStarters(steps, tmp)
	if shippedErr == nil {
		fmt.Printf("%s the kata's contract, on the starters as committed (git HEAD), with -race\n", st.bold("kata test:"))
		fmt.Println(st.dim("your own work is not judged here: make check STEP=N and make progress judge it"))
	} else {
		fmt.Printf("%s the kata's contract, with -race\n", st.bold("kata test:"))
		fmt.Println(st.yellow(shippedErr.Error() + ": the starters are checked as they are on disk, your edits included"))
	}
	width := len("harness, stations")
	for _, s := range steps {
		width = max(width, len(s.name))
	}
	var total tally
	// Vet, the type-check for other platforms and gofmt start once the
	// last test binary is built, beside the last ones running: the go
	// command's share of the two cores is free by then.
	overlay := ""
	var vet func() vetResults
	afterBuilds := func() {}
	if *only == "" {
		if overlay, err = startersOverlay(steps, starters, tmp); err != nil {
			return err
		}
		started := make(chan func() vetResults, 1)
		afterBuilds = func() { started <- startVet(r, steps, starters, overlay) }
		vet = func() vetResults { return (<-started)() }
	}
	t, phases := checkSteps(r, st, steps, starters, shippedErr == nil, tmp, *parallel, width, afterBuilds)
	total.add(t)
	if *only == "" {
		st.status(os.Stdout, "go vet, a type-check for darwin and windows, gofmt…")
		waitStart := time.Now()
		res := vet()
		t, vetPhases := reportVet(st, res, width)
		total.add(t)
		phases = append(phases, vetPhases...)
		// Vet overlaps the steps' last runs: the phase line says what
		// it added beyond them too, so the phases' sum is the whole.
		phases = append(phases, phase{"vet's wait after the steps", time.Since(waitStart)})
		harnessStart := time.Now()
		total.add(checkHarness(r, st, width))
		phases = append(phases, phase{"harness", time.Since(harnessStart)})
	}

	fmt.Println()
	var took []string
	for _, p := range phases {
		took = append(took, p.name+" "+seconds(p.took.Seconds()))
	}
	fmt.Println(st.dim(fmt.Sprintf("time: %s; in all %s", strings.Join(took, " · "), seconds(time.Since(start).Seconds()))))
	if len(total.breaches) == 0 {
		fmt.Printf("%s %s the contract; %s passed\n", st.green("kata:"), holds(len(steps)), plural(total.passed, "check"))
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

// shippedStarters copies every step's starter as committed at HEAD into tmp
// and returns them, by step; nil stands for the files on disk, for a step
// not committed yet. The error says why no starter is known as shipped at
// all: the kata is not a git checkout.
func shippedStarters(steps []step, tmp string) ([]codeSet, error) {
	code := make([]codeSet, len(steps))
	if len(steps) == 0 {
		return code, nil
	}
	if err := steps[0].repo.shipped(); err != nil {
		return code, err
	}
	for i, s := range steps {
		code[i], _ = s.shippedStarter(tmp) // uncommitted: checked on disk
	}
	return code, nil
}

// startersOverlay writes one overlay that puts every step's shipped starter
// in place of the files on disk, and returns its path ("" if every step is
// checked on disk).
func startersOverlay(steps []step, starters []codeSet, tmp string) (string, error) {
	replace := make(map[string]string)
	for i, s := range steps {
		if starters[i] == nil {
			continue
		}
		entries, err := s.overlay(starters[i])
		if err != nil {
			return "", err
		}
		maps.Copy(replace, entries)
	}
	if len(replace) == 0 {
		return "", nil
	}
	return writeReplace(replace, filepath.Join(tmp, "overlay-shipped.json"))
}

// A variant is one version of a step's code that its suite runs against:
// the starter, the solution or a wrong turn.
type variant struct {
	step  int    // the index of its step
	kind  string // "starter", "solution" or "wrong"
	wrong wrongTurn
	code  codeSet // nil: the exercise's files on disk
	// bin is its test binary, once built; buildOut is the go command's
	// JSON about its build, and buildErr what it said on standard error.
	bin      string
	buildOut []byte
	buildErr string
	run      *testRun
	err      error // the suite could not be built or run at all
}

// checkSteps proves the contract of every step: its starter fails its
// lesson tests, its solution passes the suite, and the suite fails each of
// its wrong turns on the test that the wrong turn names. Each version of
// the code is built into a test binary; one go command builds a version
// of every step at once (starters, solutions, then each step's first wrong
// turn, its second, …), which shares their dependencies, and parallel
// binaries run while the next ones build. It prints a line per step in
// order, its name padded to width, and returns how long the steps and
// their wrong turns took. It calls afterBuilds once every binary is built
// (or could not be), while the last ones may still run.
func checkSteps(r repo, st style, steps []step, starters []codeSet, gitKnown bool, tmp string, parallel, width int, afterBuilds func()) (tally, []phase) {
	start := time.Now()
	var total tally
	turns := make([][]wrongTurn, len(steps))
	turnsErr := make([]error, len(steps))
	var rounds [][]*variant
	var starterRound, solutionRound []*variant
	for i, s := range steps {
		if s.metaErr != nil {
			continue
		}
		starterRound = append(starterRound, &variant{step: i, kind: "starter", code: starters[i]})
		v := &variant{step: i, kind: "solution"}
		v.code, v.err = s.solutionCode()
		solutionRound = append(solutionRound, v)
		turns[i], turnsErr[i] = s.wrongTurns()
	}
	rounds = append(rounds, starterRound, solutionRound)
	for k := 0; ; k++ {
		var round []*variant
		for i, s := range steps {
			if k >= len(turns[i]) {
				continue
			}
			v := &variant{step: i, kind: "wrong", wrong: turns[i][k]}
			v.code, v.err = s.wrongCode(turns[i][k], filepath.Join(tmp, "wrong", s.name, turns[i][k].name))
			round = append(round, v)
		}
		if len(round) == 0 {
			break
		}
		rounds = append(rounds, round)
	}

	// Each step is done when all its variants have run.
	var mu sync.Mutex
	left := make([]int, len(steps))
	done := make([]chan struct{}, len(steps))
	byStep := make([][]*variant, len(steps))
	for i := range steps {
		done[i] = make(chan struct{})
	}
	all := 0
	for _, round := range rounds {
		for _, v := range round {
			left[v.step]++
			byStep[v.step] = append(byStep[v.step], v)
			all++
		}
	}
	for i := range steps {
		if left[i] == 0 {
			close(done[i])
		}
	}
	var stepsEnd, wrongEnd time.Time

	queue := make(chan *variant, all)
	go func() {
		defer close(queue)
		defer afterBuilds()
		for k, round := range rounds {
			buildRound(r, steps, round, tmp, fmt.Sprint("round", k))
			for _, v := range round {
				queue <- v
			}
		}
	}()
	var runners sync.WaitGroup
	defer runners.Wait()
	for range max(parallel, 1) {
		runners.Go(func() {
			for v := range queue {
				runVariant(steps[v.step], v)
				mu.Lock()
				if v.kind == "wrong" {
					wrongEnd = time.Now()
				} else {
					stepsEnd = time.Now()
				}
				if left[v.step]--; left[v.step] == 0 {
					close(done[v.step])
				}
				mu.Unlock()
			}
		})
	}
	if !st.tty {
		fmt.Printf("building and running %d test binaries, %d at a time…\n", all, max(parallel, 1))
	}
	for i, s := range steps {
		if st.tty {
			st.status(os.Stdout, s.name+": building and running its suite on the starter, the solution and the wrong turns…")
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
		total.add(judgeStep(st, s, byStep[i], turns[i], turnsErr[i], width, gitKnown))
	}
	runners.Wait()
	if stepsEnd.IsZero() {
		stepsEnd = time.Now()
	}
	phases := []phase{{"steps", stepsEnd.Sub(start)}}
	if !wrongEnd.IsZero() {
		phases = append(phases, phase{"wrong turns", max(wrongEnd.Sub(stepsEnd), 0)})
	}
	return total, phases
}

// judgeStep holds a step's variants to the contract and prints the step's
// line; gitKnown says whether starters are known as committed, so that a
// step checked on disk is worth a word.
func judgeStep(st style, s step, vs []*variant, turns []wrongTurn, turnsErr error, width int, gitKnown bool) tally {
	var t tally
	var said []string
	var suite map[string]bool // the suite's top-level tests, as the solution ran them
	caught, wrongs := 0, 0
	onDisk := false
	for _, v := range vs {
		switch v.kind {
		case "starter":
			onDisk = v.code == nil
			if v.err != nil {
				t.breach(false, fmt.Sprintf("%s: could not run the suite on the starter: %v", s.name, v.err), "fix the go command's complaint above")
				said = append(said, st.red("starter could not run"))
				continue
			}
			said = append(said, judgeStarter(&t, st, s, v.run))
		case "solution":
			if v.err != nil {
				t.breach(false, fmt.Sprintf("%s: could not run the suite on the solution: %v", s.name, v.err), "fix the go command's complaint above")
				said = append(said, st.red("solution could not run"))
				continue
			}
			said = append(said, judgeSolution(&t, st, s, v.run))
			if p := v.run.only(); !v.run.buildFailed() && !p.crashed() {
				suite = make(map[string]bool)
				for _, test := range p.topLevel() {
					suite[test.name] = true
				}
			}
		case "wrong":
			wrongs++
			if judgeWrong(&t, s, v, suite) {
				caught++
			}
		}
	}
	switch {
	case turnsErr != nil:
		t.breach(false, s.name+": "+turnsErr.Error(), "fix the wrong turn's patch: '# what is wrong' lines, '# caught by: TestThatFailsOnIt', then diff -u of the solution's file and the mistaken one")
		said = append(said, st.red("wrong turns unreadable"))
	case wrongs < minWrongTurns:
		t.breach(false, fmt.Sprintf("%s ships %s; the contract asks for %d to 5", s.name, plural(wrongs, "wrong turn"), minWrongTurns),
			fmt.Sprintf("add wrong turns: %s/NAME.patch, '# what is wrong' lines, '# caught by: TestThatFailsOnIt', then diff -u of the solution's file and the mistaken one", s.wrongDir()))
		if caught == wrongs {
			said = append(said, st.red(fmt.Sprintf("%s (want %d)", plural(wrongs, "wrong turn"), minWrongTurns)))
		} else {
			said = append(said, st.red(fmt.Sprintf("%d of %s caught (want %d)", caught, plural(wrongs, "wrong turn"), minWrongTurns)))
		}
	case caught == wrongs:
		said = append(said, plural(wrongs, "wrong turn")+" caught")
	default:
		said = append(said, st.red(fmt.Sprintf("%d of %s caught", caught, plural(wrongs, "wrong turn"))))
	}
	if problem := reviewProblem(s, gitKnown); problem != "" {
		t.breach(false, s.name+": "+problem, "give step.json a \"review\" list, one line per mistake no test can see, "+
			"and the README a section \"## What no test can see\" with a bullet of each line, word for word")
		said = append(said, st.red("review list"))
	}
	line := strings.Join(said, " · ")
	if onDisk && gitKnown {
		line += st.dim(" (not committed: starter as on disk)")
	}
	fmt.Printf("%-*s  %s\n", width, s.name, line)
	return t
}

// reviewHeading is the README section that carries a step's review list.
const reviewHeading = "## What no test can see"

// reviewProblem says what is wrong with a step's review list, or "": the
// step must have one (the contract's seventh clause), and its README must
// carry every line of it, word for word, under reviewHeading, so that what
// a green check shows and what the lesson says are one list. Either the
// README as committed (where git knows it) or as on disk will do: a
// learner's notes in it never break make test, and a maintainer's edit of
// both files holds before it is committed.
func reviewProblem(s step, gitKnown bool) string {
	if len(s.meta.Review) == 0 {
		return "step.json has no review list (\"review\")"
	}
	onDisk, err := os.ReadFile(filepath.Join(s.repo.root, s.dir(), "README.md"))
	if err != nil {
		return "cannot read its README: " + err.Error()
	}
	problem := readmeProblem(s, onDisk)
	if problem != "" && gitKnown {
		if shipped, err := s.shippedFile("README.md"); err == nil && readmeProblem(s, shipped) == "" {
			return ""
		}
	}
	return problem
}

// readmeProblem says which review line the README lacks, or "".
func readmeProblem(s step, readme []byte) string {
	_, section, found := strings.Cut(string(readme), "\n"+reviewHeading+"\n")
	if !found {
		return "its README has no section \"" + reviewHeading + "\""
	}
	if next := strings.Index(section, "\n## "); next >= 0 {
		section = section[:next]
	}
	words := strings.Join(strings.Fields(section), " ")
	for _, line := range s.meta.Review {
		if !strings.Contains(words, "- "+strings.Join(strings.Fields(line), " ")) {
			return fmt.Sprintf("its README's %q does not carry the review line %q", reviewHeading, line)
		}
	}
	return ""
}

// judgeWrong holds a wrong turn's run to the contract: it compiles and
// fails its caught_by test by that test's assertions. suite holds the
// suite's top-level tests, or is nil if the solution could not tell them.
// It reports whether the wrong turn was caught.
func judgeWrong(t *tally, s step, v *variant, suite map[string]bool) bool {
	w := v.wrong
	who := fmt.Sprintf("%s wrong turn %s (%s)", s.name, w.name, w.Note)
	watch := fmt.Sprintf("make check STEP=%d WRONG=%s shows it", s.num, w.name)
	if v.err != nil {
		t.breach(false, fmt.Sprintf("%s: could not run the suite: %v", who, v.err),
			"remake the patch against the solution as it is now (diff -u), or fix what the go command says")
		return false
	}
	tr := v.run
	if tr.buildFailed() || len(tr.pkgs) == 0 {
		t.breach(false, who+" does not compile:\n"+strings.Join(compilerLines(tr), "\n"),
			"a wrong turn must compile: fix "+filepath.ToSlash(w.path))
		return false
	}
	p := tr.only()
	test := p.byName[w.CaughtBy]
	if (suite != nil && !suite[w.CaughtBy]) || (test == nil && !p.crashed()) {
		t.breach(false, fmt.Sprintf("%s: caught_by names %s, which is not a test of the suite", who, w.CaughtBy),
			"set '# caught by:' in "+filepath.ToSlash(w.path)+" to the top-level test that fails on it")
		return false
	}
	if p.crashed() {
		t.breach(false, who+": "+strings.Join(crashReport(s.repo, s, p), "\n"),
			fmt.Sprintf("a wrong turn must fail %s by its assertions, not crash the test binary; %s", w.CaughtBy, watch))
		return false
	}
	if test.action == "fail" {
		t.passed++
		return true
	}
	t.failed++
	t.breaches = append(t.breaches, breach{
		what: fmt.Sprintf("%s passes %s: the suite does not catch it", who, w.CaughtBy),
		todo: fmt.Sprintf("make %s fail on this mistake, or correct '# caught by:' in %s; %s",
			w.CaughtBy, filepath.ToSlash(w.path), watch),
	})
	return false
}

// buildRound builds, with one go command, the test binaries of a round of
// variants, one per step, each put in place of its exercise's code by one
// overlay. A variant whose code does not build gets the go command's
// account of it instead of a binary. Every variant is built with the race
// detector, wrong turns too: without it, a fresh machine compiles the
// standard library and every dependency a second time, which costs more
// than the race detector saves on the wrong turns (fresh CI, measured:
// 5m46s with it, 6m09s without).
func buildRound(r repo, steps []step, round []*variant, tmp, label string) {
	replace := make(map[string]string)
	var pkgs []string
	var built []*variant
	for _, v := range round {
		if v.err != nil {
			continue
		}
		s := steps[v.step]
		if v.code != nil {
			entries, err := s.overlay(v.code)
			if err != nil {
				v.err = err
				continue
			}
			maps.Copy(replace, entries)
		}
		pkgs = append(pkgs, s.pkg())
		built = append(built, v)
	}
	if len(built) == 0 {
		return
	}
	dir := filepath.Join(tmp, label)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		for _, v := range built {
			v.err = fmt.Errorf("make a directory for the test binaries: %w", err)
		}
		return
	}
	args := []string{"test", "-c", "-race", "-json", "-o", dir + string(filepath.Separator)}
	if len(replace) > 0 {
		overlay, err := writeReplace(replace, filepath.Join(tmp, "overlay-"+label+".json"))
		if err != nil {
			for _, v := range built {
				v.err = err
			}
			return
		}
		args = append(args, "-overlay="+overlay)
	}
	cmd := exec.Command("go", append(args, pkgs...)...)
	cmd.Dir = r.root
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		for _, v := range built {
			v.err = fmt.Errorf("go %s: %w", strings.Join(args, " "), err)
		}
		return
	}
	// Sort the go command's JSON lines by the package they are about; what
	// is about another package (the harness, say) concerns every step.
	lines := make(map[string][]byte)
	var shared []byte
	sc := bufio.NewScanner(bytes.NewReader(stdout.Bytes()))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var ev struct{ ImportPath, Package string }
		line := append(sc.Bytes(), '\n')
		if json.Unmarshal(sc.Bytes(), &ev) != nil {
			shared = append(shared, line...)
			continue
		}
		pkg := ev.Package
		if pkg == "" {
			pkg, _, _ = strings.Cut(ev.ImportPath, " ")
			pkg = strings.TrimSuffix(pkg, "_test")
		}
		lines[pkg] = append(lines[pkg], line...)
	}
	mine := make(map[string]bool)
	for _, v := range built {
		mine[steps[v.step].importPath()] = true
	}
	for pkg, l := range lines {
		if !mine[pkg] {
			shared = append(shared, l...)
		}
	}
	for _, v := range built {
		s := steps[v.step]
		bin := filepath.Join(dir, filepath.Base(s.dir())+".test")
		if runtime.GOOS == "windows" {
			bin += ".exe"
		}
		v.buildOut = lines[s.importPath()]
		if _, err := os.Stat(bin); err == nil {
			v.bin = bin
			continue
		}
		if !bytes.Contains(v.buildOut, []byte(`"build-output"`)) {
			v.buildOut = append(slices.Clip(v.buildOut), shared...)
		}
		if !bytes.Contains(v.buildOut, []byte(`"FailedBuild"`)) {
			fail, _ := json.Marshal(testEvent{Action: "fail", Package: s.importPath(), FailedBuild: s.importPath()})
			v.buildOut = append(slices.Clip(v.buildOut), append(fail, '\n')...)
		}
		v.buildErr = strings.TrimSpace(stderr.String())
	}
}

// runVariant runs a variant's test binary as make check does (see suite):
// in its package's directory, each test watched for its limit, and after a
// crash the tests it kept from running in fresh processes. It records what
// they reported: the whole suite for a starter or a solution, the test that
// should catch it for a wrong turn.
func runVariant(s step, v *variant) {
	if v.err != nil {
		return
	}
	if v.bin == "" {
		v.run = parseTestJSON(v.buildOut)
		v.run.stderr = v.buildErr
		return
	}
	var only []string
	if v.kind == "wrong" {
		only = []string{v.wrong.CaughtBy}
	}
	v.run = newSuite(s).runBuilt(context.Background(), v.bin, only)
	if len(v.buildOut) > 0 {
		v.run.build = append(parseTestJSON(v.buildOut).build, v.run.build...)
	}
	v.err = v.run.err
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
			todo += "\n(if you committed your own solution of this step, that is why: make test checks the starters as committed)"
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
	return "starter fails its " + plural(len(failing), "lesson test")
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
	return fmt.Sprintf("solution passes %d/%d", passed, total)
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

// A platform is one the kata must compile on: Linux and macOS run it,
// Windows compiles it.
type platform struct{ goos, goarch string }

// crossPlatforms are type-checked beside the machine's own platform, so a
// Linux CI catches what would not compile on a learner's Mac or PC.
var crossPlatforms = []platform{{"darwin", "arm64"}, {"windows", "amd64"}}

// notCrossChecked are the packages the type-check for other platforms
// leaves out (see checkVet).
var notCrossChecked = []string{"harness/store/sqlite"}

// crossPackages lists the module's packages but those of notCrossChecked,
// as patterns for go list.
func crossPackages(r repo) []string {
	var pkgs []string
	err := filepath.WalkDir(r.root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(r.root, path)
		rel = filepath.ToSlash(rel)
		name := d.Name()
		if rel != "." && (strings.HasPrefix(name, ".") || name == "testdata" || slices.Contains(notCrossChecked, rel)) {
			return filepath.SkipDir
		}
		if has, _ := filepath.Glob(filepath.Join(path, "*.go")); len(has) > 0 {
			pkgs = append(pkgs, "./"+rel)
		}
		return nil
	})
	if err != nil {
		return []string{"./..."}
	}
	return pkgs
}

// vetResults is what go vet, the type-check for other platforms and gofmt
// found (see startVet).
type vetResults struct {
	vet, fmtErr error
	vetOut      string
	vetTook     time.Duration
	cross       []checkResult // by crossPlatforms
	unformatted []string
	fmtTook     time.Duration
}

// A checkResult is what one check printed, whether it failed, and how long
// it took.
type checkResult struct {
	out  string
	err  error
	took time.Duration
}

// startVet starts go vet over the whole module for this platform, a
// type-check of it for those of crossPlatforms, and gofmt, all at once;
// the exercises are those the kata ships (overlay), not the learner's. It
// returns a function that waits for them and returns what they found.
func startVet(r repo, steps []step, starters []codeSet, overlay string) func() vetResults {
	var res vetResults
	var wg sync.WaitGroup
	wg.Go(func() {
		// Vet needs its dependencies compiled: -race reuses what the
		// suites compiled.
		start := time.Now()
		args := []string{"vet", "-race"}
		if overlay != "" {
			args = append(args, "-overlay="+overlay)
		}
		cmd := exec.Command("go", append(args, "./...")...)
		cmd.Dir = r.root
		out, err := cmd.CombinedOutput()
		res.vetOut, res.vet, res.vetTook = strings.TrimSpace(string(out)), err, time.Since(start)
	})
	res.cross = make([]checkResult, len(crossPlatforms))
	for i, p := range crossPlatforms {
		wg.Go(func() {
			// A type-check from source (see typeCheck), not go vet:
			// vet would compile the standard library and every
			// dependency for the platform first. The SQLite driver's
			// generated package holds nothing of ours: tag kata_cross
			// leaves it out of make serve's command, and the list
			// leaves out our store on it (pure Go, vetted for this
			// platform).
			start := time.Now()
			problems, err := typeCheck(r.root, p, "kata_cross", overlay, crossPackages(r))
			if err == nil && len(problems) > 0 {
				err = errors.New("type errors")
			}
			out := strings.Join(problems, "\n")
			if len(problems) == 0 && err != nil {
				out = err.Error()
			}
			res.cross[i] = checkResult{out, err, time.Since(start)}
		})
	}
	wg.Go(func() {
		start := time.Now()
		res.unformatted, res.fmtErr = unformattedFiles(r, steps, starters)
		res.fmtTook = time.Since(start)
	})
	return func() vetResults {
		wg.Wait()
		return res
	}
}

// reportVet holds what startVet found to the contract. It prints a line
// for vet and gofmt and one for the other platforms, and returns how long
// each took.
func reportVet(st style, res vetResults, width int) (tally, []phase) {
	var t tally
	st.clear(os.Stdout)

	var said []string
	if res.vet != nil {
		t.breach(false, "go vet ./... complains:\n"+indent(res.vetOut, "  "), "fix what go vet reports")
		said = append(said, st.red("go vet complains"))
	} else {
		said = append(said, "go vet is clean")
	}
	switch {
	case res.fmtErr != nil:
		t.breach(false, "gofmt failed: "+res.fmtErr.Error(), "fix what gofmt reports")
		said = append(said, st.red("gofmt failed"))
	case len(res.unformatted) > 0:
		t.breach(false, "gofmt would change:\n"+indent(strings.Join(limitLines(res.unformatted, 10, "gofmt -l . lists them all"), "\n"), "  "),
			"run gofmt -w on them")
		said = append(said, st.red("gofmt would change "+plural(len(res.unformatted), "file")))
	default:
		said = append(said, "gofmt has nothing to change")
	}
	fmt.Printf("%-*s  %s  %s\n", width, "vet, gofmt", strings.Join(said, " · "),
		st.dim("("+seconds(max(res.vetTook, res.fmtTook).Seconds())+")"))

	var ok, broken []string
	var crossTook time.Duration
	for i, p := range crossPlatforms {
		res := res.cross[i]
		crossTook = max(crossTook, res.took)
		name := p.goos + "/" + p.goarch
		if res.err == nil {
			ok = append(ok, name)
			t.passed++
			continue
		}
		broken = append(broken, name)
		t.breach(false, fmt.Sprintf("the kata does not type-check for %s (GOOS=%s GOARCH=%s go vet -tags=kata_cross ./... shows it too):\n%s",
			name, p.goos, p.goarch, indent(strings.Join(limitLines(strings.Split(res.out, "\n"), 12, "the command shows them all"), "\n"), "  ")),
			"learners use it there: keep platform-specific code behind build tags, with a version for every platform")
	}
	line := strings.Join(ok, " and ") + " type-check"
	if len(broken) > 0 {
		line = st.red("does not type-check for " + strings.Join(broken, ", "))
		if len(ok) > 0 {
			line += " · " + strings.Join(ok, ", ") + " type-checks"
		}
	}
	fmt.Printf("%-*s  %s  %s\n", width, "other platforms", line, st.dim("("+seconds(crossTook.Seconds())+")"))
	return t, []phase{{"vet (from the last build)", res.vetTook}, {"cross type-check (beside vet)", crossTook}}
}

// unformattedFiles returns the module's .go files that gofmt would change,
// with the exercises' code as the kata ships it rather than the learner's.
func unformattedFiles(r repo, steps []step, starters []codeSet) ([]string, error) {
	names := make(map[string]string) // the file gofmt reads: the name to report
	skip := make(map[string]bool)
	for i, s := range steps {
		if starters[i] == nil {
			continue
		}
		for name, path := range starters[i] {
			names[path] = filepath.Join(s.dir(), name)
		}
		mine, err := goFiles(r, s.dir())
		if err != nil {
			return nil, err
		}
		for _, name := range mine {
			skip[filepath.Join(r.root, s.dir(), name)] = true
		}
	}
	err := filepath.WalkDir(r.root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != r.root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "vendor") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".go") && !skip[path] {
			rel, err := filepath.Rel(r.root, path)
			if err != nil {
				return err
			}
			names[path] = rel
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list the kata's Go files: %w", err)
	}
	files := slices.Sorted(maps.Keys(names))
	cmd := exec.Command("gofmt", append([]string{"-l"}, files...)...)
	cmd.Dir = r.root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("%v: %s", err, strings.TrimSpace(string(out)))
	}
	var unformatted []string
	for _, f := range strings.Fields(string(out)) {
		unformatted = append(unformatted, names[f])
	}
	return unformatted, nil
}

// checkHarness runs the unit tests of harness/ and stations/ with -race;
// go vet has been over them already.
func checkHarness(r repo, st style, width int) tally {
	var t tally
	st.status(os.Stdout, "harness, stations: testing with -race…")
	// go test would vet them again with a few of vet's checks: go vet
	// -race ./... has run every check on them already (see startVet).
	g := goTest{pkgs: []string{"./harness/...", "./stations/..."}, race: true, timeout: 3 * time.Minute, flags: []string{"-vet=off"}}
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
