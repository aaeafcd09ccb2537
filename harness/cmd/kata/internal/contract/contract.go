// Package contract proves the kata sound (make test): every starter fails
// exactly its lesson tests, every solution passes its whole suite with -race
// and leaves no goroutine behind, every wrong turn is caught on the test its
// patch names, every review list matches its README, and the module is
// gofmt'ed, vetted and type-checks for the other platforms. It also fuzzes
// the OCPP decoder (make fuzz).
package contract

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
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ocppkata/kata/harness/cmd/kata/internal/base"
	"github.com/ocppkata/kata/harness/cmd/kata/internal/gotest"
	"github.com/ocppkata/kata/harness/cmd/kata/internal/step"
	"github.com/ocppkata/kata/harness/internal/term"
)

// minWrongTurns and maxWrongTurns bound how many wrong turns the contract
// asks of every step: fewer proves too little of the suite, and more costs
// every run of make test a build and a run each (CI's budget).
const (
	minWrongTurns = 3
	maxWrongTurns = 5
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
	// unvetted counts the starters and solutions that go vet complained
	// of (their breaches say what it said).
	unvetted int
}

// add adds another tally to t.
func (t *tally) add(o tally) {
	t.passed += o.passed
	t.failed += o.failed
	t.breaches = append(t.breaches, o.breaches...)
	t.unvetted += o.unvetted
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

// RunContract proves the kata contract for every step, on the starters as
// the kata ships them, then vets, formats and tests the rest of the kata.
func RunContract(args []string) error {
	fs := base.NewFlags("test", "[-parallel N] [-step N]")
	parallel := fs.Int("parallel", max(runtime.NumCPU(), 2), "how many test binaries run at once")
	only := fs.String("step", "", "prove one step's contract only (no gofmt, no other platforms, no harness tests)")
	r, steps, err := base.ParseSteps(fs, args)
	if err != nil {
		return err
	}
	all := steps
	if *only != "" {
		s, err := step.Find(r, *only)
		if err != nil {
			return err
		}
		steps = []step.Step{s}
	}
	tmp, err := os.MkdirTemp("", "kata-test-")
	if err != nil {
		return fmt.Errorf("make a temporary directory: %w", err)
	}
	defer os.RemoveAll(tmp)

	st := term.StyleFor(os.Stdout)
	start := time.Now()
	starters, shippedErr := shippedStarters(steps, tmp)
	if shippedErr == nil {
		fmt.Printf("%s the kata's contract, on the starters as committed (git HEAD), with -race\n", st.Bold("kata test:"))
		fmt.Println(st.Dim("your own work is not judged here: make check STEP=N and make progress judge it"))
	} else {
		fmt.Printf("%s the kata's contract, with -race\n", st.Bold("kata test:"))
		fmt.Println(st.Yellow(shippedErr.Error() + ": the starters are checked as they are on disk, your edits included"))
	}
	width := len("harness, stations")
	for _, s := range steps {
		width = max(width, len(s.Name))
	}
	var total tally
	// The harness's tests start once the starters are built, beside the
	// solutions' and the wrong turns' builds and the steps' runs: by then
	// every package the steps import is compiled (the solutions and the
	// wrong turns import no other), so that no two go commands compile one
	// at once, and the harness's compiling fills the later rounds, each of
	// which compiles a dozen small packages and leaves a core idle. The
	// type-check for other platforms and gofmt start once the last test
	// binary is built, when the go command's share is free again. go vet
	// runs in the builds: the steps' (see buildRound), the harness's.
	overlay := ""
	var vet func() vetResults
	var harness func() *gotest.TestRun
	afterBuilds, afterStarters := func() {}, func() {}
	if *only == "" {
		if overlay, err = startersOverlay(steps, starters, tmp); err != nil {
			return err
		}
		started := make(chan func() vetResults, 1)
		tested := make(chan *gotest.TestRun, 1)
		afterStarters = func() { go func() { tested <- testHarness(r) }() }
		afterBuilds = func() { started <- startVet(r, steps, starters, overlay) }
		vet = func() vetResults { return (<-started)() }
		harness = func() *gotest.TestRun { return <-tested }
	}
	t, phases := checkSteps(r, st, all, steps, starters, shippedErr == nil, tmp, *parallel, width, afterStarters, afterBuilds)
	total.add(t)
	if *only == "" {
		st.Status(os.Stdout, "a type-check for darwin and windows, gofmt, the harness's tests…")
		waitStart := time.Now()
		res := vet()
		tr := harness()
		res.harnessUnbuilt = tr.Err == nil && tr.BuildFailed()
		res.stepsUnvetted = total.unvetted
		t, vetPhases := reportVet(st, res, width)
		total.add(t)
		total.add(reportHarness(r, st, tr, width))
		phases = append(phases, vetPhases...)
		phases = append(phases, phase{"harness (from the starters' build)", tr.Elapsed})
		// The rest overlaps the steps' last runs: the phase line says
		// what it added beyond them too, so that steps, wrong turns and
		// this wait sum to the whole.
		phases = append(phases, phase{"wait after the steps", time.Since(waitStart)})
	}

	fmt.Println()
	var took []string
	for _, p := range phases {
		took = append(took, p.name+" "+term.Seconds(p.took.Seconds()))
	}
	fmt.Println(st.Dim(fmt.Sprintf("time: %s; in all %s", strings.Join(took, " · "), term.Seconds(time.Since(start).Seconds()))))
	if len(total.breaches) == 0 {
		fmt.Printf("%s %s the contract; %s passed\n", st.Green("kata:"), holds(len(steps)), term.Plural(total.passed, "check"))
		fmt.Printf("%d passed, %d failed\n", total.passed, total.failed)
		return nil
	}
	fmt.Printf("%s the contract is broken in %s:\n", st.Red("kata:"), term.Plural(len(total.breaches), "place"))
	for _, b := range total.breaches {
		fmt.Printf("  %s %s\n", st.Red("✗"), term.IndentAfterFirst(b.what, "    "))
		fmt.Printf("    %s %s\n", st.Dim("what to do:"), term.IndentAfterFirst(b.todo, "      "))
	}
	fmt.Printf("%d passed, %d failed\n", total.passed, total.failed)
	return base.ErrFailed
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
func shippedStarters(steps []step.Step, tmp string) ([]step.CodeSet, error) {
	code := make([]step.CodeSet, len(steps))
	if len(steps) == 0 {
		return code, nil
	}
	if err := steps[0].Repo.Shipped(); err != nil {
		return code, err
	}
	for i, s := range steps {
		code[i], _ = s.ShippedStarter(tmp) // uncommitted: checked on disk
	}
	return code, nil
}

// startersOverlay writes one overlay that puts every step's shipped starter
// in place of the files on disk, and returns its path ("" if every step is
// checked on disk).
func startersOverlay(steps []step.Step, starters []step.CodeSet, tmp string) (string, error) {
	replace := make(map[string]string)
	for i, s := range steps {
		if starters[i] == nil {
			continue
		}
		entries, err := s.Overlay(starters[i])
		if err != nil {
			return "", err
		}
		maps.Copy(replace, entries)
	}
	if len(replace) == 0 {
		return "", nil
	}
	return step.WriteReplace(replace, filepath.Join(tmp, "overlay-shipped.json"))
}

// A variant is one version of a step's code that its suite runs against:
// the starter, the solution or a wrong turn.
type variant struct {
	step  int    // the index of its step
	kind  string // "starter", "solution" or "wrong"
	wrong step.WrongTurn
	code  step.CodeSet // nil: the exercise's files on disk
	// bin is its test binary, once built; buildOut is the go command's
	// JSON about its build, and buildErr what it said on standard error.
	bin      string
	buildOut []byte
	buildErr string
	// vetFailed says that it did not build on vet's complaint alone.
	vetFailed bool
	run       *gotest.TestRun
	err       error // the suite could not be built or run at all
}

// checkSteps proves the contract of every step: its starter fails its
// lesson tests, its solution passes the suite, and the suite fails each of
// its wrong turns on the test that the wrong turn names. Each version of
// the code is built into a test binary; one go command builds a version
// of every step at once (starters, solutions, then each step's first wrong
// turn, its second, …), which shares their dependencies, and parallel
// binaries run while the next ones build. It prints a line per step in
// order, its name padded to width, and returns how long the steps and
// their wrong turns took. It calls afterStarters once the starters are
// built, and afterBuilds once every binary is built (or could not be),
// while the last ones may still run.
func checkSteps(r step.Repo, st term.Style, kata, steps []step.Step, starters []step.CodeSet, gitKnown bool, tmp string, parallel, width int, afterStarters, afterBuilds func()) (tally, []phase) {
	start := time.Now()
	var total tally
	turns := make([][]step.WrongTurn, len(steps))
	turnsErr := make([]error, len(steps))
	var rounds [][]*variant
	var starterRound, solutionRound []*variant
	for i, s := range steps {
		if s.MetaErr != nil {
			continue
		}
		starterRound = append(starterRound, &variant{step: i, kind: "starter", code: starters[i]})
		v := &variant{step: i, kind: "solution"}
		v.code, v.err = s.SolutionCode()
		solutionRound = append(solutionRound, v)
		turns[i], turnsErr[i] = s.WrongTurns()
	}
	rounds = append(rounds, starterRound, solutionRound)
	for k := 0; ; k++ {
		var round []*variant
		for i, s := range steps {
			if k >= len(turns[i]) {
				continue
			}
			v := &variant{step: i, kind: "wrong", wrong: turns[i][k]}
			v.code, v.err = s.WrongCode(turns[i][k], filepath.Join(tmp, "wrong", s.Name, turns[i][k].Name))
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
	test2json := "" // go tool test2json, unless one is built (see gotest.BuildTest2JSON)
	go func() {
		defer close(queue)
		defer afterBuilds()
		for k, round := range rounds {
			buildRound(r, steps, round, tmp, fmt.Sprint("round", k))
			if k == 0 {
				// The starters' round built the race variants it needs.
				if bin, err := gotest.BuildTest2JSON(tmp); err == nil {
					test2json = bin
				}
				afterStarters()
			}
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
				runVariant(steps[v.step], v, test2json)
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
	if !st.TTY {
		fmt.Printf("building and running %d test binaries, %d at a time…\n", all, max(parallel, 1))
	}
	for i, s := range steps {
		if st.TTY {
			st.Status(os.Stdout, s.Name+": building and running its suite on the starter, the solution and the wrong turns…")
		}
		<-done[i]
		st.Clear(os.Stdout)
		if s.MetaErr != nil {
			var t tally
			t.breach(false, s.Name+": "+s.MetaErr.Error(), "every step needs a step.json with its title, lesson_tests and hints")
			fmt.Printf("%-*s  %s\n", width, s.Name, st.Red("no usable step.json"))
			total.add(t)
			continue
		}
		var ct tally
		chainSaid := judgeChain(&ct, st, kata, s, starters[i])
		total.add(ct)
		total.add(judgeStep(st, s, byStep[i], turns[i], turnsErr[i], width, gitKnown, chainSaid))
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
func judgeStep(st term.Style, s step.Step, vs []*variant, turns []step.WrongTurn, turnsErr error, width int, gitKnown bool, chainSaid string) tally {
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
				t.breach(false, fmt.Sprintf("%s: could not run the suite on the starter: %v", s.Name, v.err), "fix the go command's complaint above")
				said = append(said, st.Red("starter could not run"))
				continue
			}
			said = append(said, judgeStarter(&t, st, s, v.run))
		case "solution":
			if v.err != nil {
				t.breach(false, fmt.Sprintf("%s: could not run the suite on the solution: %v", s.Name, v.err), "fix the go command's complaint above")
				said = append(said, st.Red("solution could not run"))
				continue
			}
			said = append(said, judgeSolution(&t, st, s, v.run))
			if p := v.run.Only(); !v.run.BuildFailed() && !p.Crashed() {
				suite = make(map[string]bool)
				for _, test := range p.TopLevel() {
					suite[test.Name] = true
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
		t.breach(false, s.Name+": "+turnsErr.Error(), "fix the wrong turn's patch: '# what is wrong' lines, '# caught by: TestThatFailsOnIt', then diff -u of the solution's file and the mistaken one")
		said = append(said, st.Red("wrong turns unreadable"))
	case wrongs > maxWrongTurns:
		t.breach(false, fmt.Sprintf("%s ships %s; the contract asks for %d to %d", s.Name, term.Plural(wrongs, "wrong turn"), minWrongTurns, maxWrongTurns),
			fmt.Sprintf("keep the %d that catch the most distinct mistakes, and remove the others from %s and the README's table", maxWrongTurns, s.WrongDir()))
		said = append(said, st.Red(fmt.Sprintf("%s (want at most %d)", term.Plural(wrongs, "wrong turn"), maxWrongTurns)))
	case wrongs < minWrongTurns:
		t.breach(false, fmt.Sprintf("%s ships %s; the contract asks for %d to %d", s.Name, term.Plural(wrongs, "wrong turn"), minWrongTurns, maxWrongTurns),
			fmt.Sprintf("add wrong turns: %s/NAME.patch, '# what is wrong' lines, '# caught by: TestThatFailsOnIt', then diff -u of the solution's file and the mistaken one", s.WrongDir()))
		if caught == wrongs {
			said = append(said, st.Red(fmt.Sprintf("%s (want %d)", term.Plural(wrongs, "wrong turn"), minWrongTurns)))
		} else {
			said = append(said, st.Red(fmt.Sprintf("%d of %s caught (want %d)", caught, term.Plural(wrongs, "wrong turn"), minWrongTurns)))
		}
	case caught == wrongs:
		said = append(said, term.Plural(wrongs, "wrong turn")+" caught")
	default:
		said = append(said, st.Red(fmt.Sprintf("%d of %s caught", caught, term.Plural(wrongs, "wrong turn"))))
	}
	if problem := reviewProblem(s, gitKnown); problem != "" {
		t.breach(false, s.Name+": "+problem, "give step.json a \"review\" list, one line per mistake no test can see, "+
			"and the README a section \"## What no test can see\" with a bullet of each line, word for word")
		said = append(said, st.Red("review list"))
	}
	if turnsErr == nil {
		if problem := wrongTableProblem(s, turns); problem != "" {
			t.breach(false, s.Name+": "+problem, "keep the README's table of wrong turns to testdata/wrong: a row | `name` | `TestX` | … for each patch, and no other")
			said = append(said, st.Red("wrong-turn table"))
		}
	}
	if chainSaid != "" {
		said = append(said, chainSaid)
	}
	line := strings.Join(said, " · ")
	if onDisk && gitKnown {
		line += st.Dim(" (not committed: starter as on disk)")
	}
	fmt.Printf("%-*s  %s\n", width, s.Name, line)
	return t
}

// wrongRow is a row of a README's table of wrong turns: | `name` | `TestX` | why |
var wrongRow = regexp.MustCompile("(?m)^\\| `([a-z0-9-]+)` \\| `(Test\\w+)` \\|")

// wrongTableProblem says what the README's table of wrong turns gets wrong
// of the patches in testdata/wrong: a patch without a row, a row without a
// patch, or a row that names another test than the patch's header.
func wrongTableProblem(s step.Step, turns []step.WrongTurn) string {
	readme, err := os.ReadFile(filepath.Join(s.Repo.Root, s.Dir(), "README.md"))
	if err != nil {
		return "cannot read its README: " + err.Error()
	}
	rows := make(map[string]string)
	for _, m := range wrongRow.FindAllStringSubmatch(string(readme), -1) {
		rows[m[1]] = m[2]
	}
	for _, w := range turns {
		test, ok := rows[w.Name]
		switch {
		case !ok:
			return fmt.Sprintf("its README's table of wrong turns has no row for %s", w.Name)
		case test != w.CaughtBy:
			return fmt.Sprintf("its README says %s is caught by %s, and the patch's header says %s", w.Name, test, w.CaughtBy)
		}
		delete(rows, w.Name)
	}
	for name := range rows {
		return fmt.Sprintf("its README's table of wrong turns has a row for %s, and testdata/wrong has no %s.patch", name, name)
	}
	return ""
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
func reviewProblem(s step.Step, gitKnown bool) string {
	if len(s.Meta.Review) == 0 {
		return "step.json has no review list (\"review\")"
	}
	onDisk, err := os.ReadFile(filepath.Join(s.Repo.Root, s.Dir(), "README.md"))
	if err != nil {
		return "cannot read its README: " + err.Error()
	}
	problem := readmeProblem(s, onDisk)
	if problem != "" && gitKnown {
		if shipped, err := s.ShippedFile("README.md"); err == nil && readmeProblem(s, shipped) == "" {
			return ""
		}
	}
	return problem
}

// readmeProblem says which review line the README lacks, or "".
func readmeProblem(s step.Step, readme []byte) string {
	_, section, found := strings.Cut(string(readme), "\n"+reviewHeading+"\n")
	if !found {
		return "its README has no section \"" + reviewHeading + "\""
	}
	if next := strings.Index(section, "\n## "); next >= 0 {
		section = section[:next]
	}
	words := strings.Join(strings.Fields(section), " ")
	for _, line := range s.Meta.Review {
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
func judgeWrong(t *tally, s step.Step, v *variant, suite map[string]bool) bool {
	w := v.wrong
	who := fmt.Sprintf("%s wrong turn %s (%s)", s.Name, w.Name, w.Note)
	watch := fmt.Sprintf("make check STEP=%d WRONG=%s shows it", s.Num, w.Name)
	if v.err != nil {
		t.breach(false, fmt.Sprintf("%s: could not run the suite: %v", who, v.err),
			"remake the patch against the solution as it is now (diff -u), or fix what the go command says")
		return false
	}
	tr := v.run
	if tr.BuildFailed() || len(tr.Pkgs) == 0 {
		t.breach(false, who+" does not compile:\n"+strings.Join(gotest.CompilerLines(tr), "\n"),
			"a wrong turn must compile: fix "+filepath.ToSlash(w.Path))
		return false
	}
	p := tr.Only()
	test := p.ByName[w.CaughtBy]
	if (suite != nil && !suite[w.CaughtBy]) || (test == nil && !p.Crashed()) {
		t.breach(false, fmt.Sprintf("%s: caught_by names %s, which is not a test of the suite", who, w.CaughtBy),
			"set '# caught by:' in "+filepath.ToSlash(w.Path)+" to the top-level test that fails on it")
		return false
	}
	if p.Crashed() {
		t.breach(false, who+": "+strings.Join(gotest.CrashReport(s.Repo, s, p), "\n"),
			fmt.Sprintf("a wrong turn must fail %s by its assertions, not crash the test binary; %s", w.CaughtBy, watch))
		return false
	}
	if test.Action == "fail" {
		t.passed++
		return true
	}
	t.failed++
	t.breaches = append(t.breaches, breach{
		what: fmt.Sprintf("%s passes %s: the suite does not catch it", who, w.CaughtBy),
		todo: fmt.Sprintf("make %s fail on this mistake, or correct '# caught by:' in %s; %s",
			w.CaughtBy, filepath.ToSlash(w.Path), watch),
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
//
// The starters and the solutions are built with every one of go vet's
// checks (-vet=all): that is make test's go vet of the exercises and the
// solutions, the suites' test files included. go test's default checks
// are another set, whose analyses of the standard library and every
// dependency -vet=all cannot reuse: with the starters built that way, a go
// vet of its own (24 CPU-seconds fresh) and the harness's go test (21
// more) analysed them again. -vet=all's analyses are the harness's too.
// Wrong turns are built without vet, which would take a fifth of a second
// of each, and is the starters' and the solutions' to pass: a wrong turn
// is judged by the test it names, even one that make check would stop at
// vet, which catches it too.
func buildRound(r step.Repo, steps []step.Step, round []*variant, tmp, label string) {
	replace := make(map[string]string)
	var pkgs []string
	var built []*variant
	vet := true
	for _, v := range round {
		if v.kind == "wrong" {
			vet = false
		}
		if v.err != nil {
			continue
		}
		s := steps[v.step]
		if v.code != nil {
			entries, err := s.Overlay(v.code)
			if err != nil {
				v.err = err
				continue
			}
			maps.Copy(replace, entries)
		}
		pkgs = append(pkgs, s.Pkg())
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
	args := []string{"test", "-c", "-race", gotest.LinkFlags, "-json", "-o", dir + string(filepath.Separator), "-vet=all"}
	if !vet {
		args[len(args)-1] = "-vet=off"
	}
	if len(replace) > 0 {
		overlay, err := step.WriteReplace(replace, filepath.Join(tmp, "overlay-"+label+".json"))
		if err != nil {
			for _, v := range built {
				v.err = err
			}
			return
		}
		args = append(args, "-overlay="+overlay)
	}
	cmd := exec.Command("go", append(args, pkgs...)...)
	cmd.Dir = r.Root
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
		mine[steps[v.step].ImportPath()] = true
	}
	for pkg, l := range lines {
		if !mine[pkg] {
			shared = append(shared, l...)
		}
	}
	for _, v := range built {
		s := steps[v.step]
		bin := filepath.Join(dir, filepath.Base(s.Dir())+".test")
		if runtime.GOOS == "windows" {
			bin += ".exe"
		}
		v.buildOut = lines[s.ImportPath()]
		if _, err := os.Stat(bin); err == nil {
			v.bin = bin
			continue
		}
		if !bytes.Contains(v.buildOut, []byte(`"build-output"`)) {
			v.buildOut = append(slices.Clip(v.buildOut), shared...)
		}
		if !bytes.Contains(v.buildOut, []byte(`"FailedBuild"`)) {
			fail, _ := json.Marshal(gotest.TestEvent{Action: "fail", Package: s.ImportPath(), FailedBuild: s.ImportPath()})
			v.buildOut = append(slices.Clip(v.buildOut), append(fail, '\n')...)
		}
		v.buildErr = strings.TrimSpace(stderr.String())
		if vet {
			v.vetFailed = buildsWithoutVet(r, s, args, dir)
		}
	}
}

// buildsWithoutVet reports whether a step's test binary that did not build
// with args (buildRound's, its overlay too) builds without vet: if it does,
// the complaint was vet's. It is asked only of a build that failed.
func buildsWithoutVet(r step.Repo, s step.Step, args []string, dir string) bool {
	out := filepath.Join(dir, "without-vet") + string(filepath.Separator)
	novet := []string{"test", "-c", "-race", gotest.LinkFlags, "-vet=off", "-o", out}
	for _, a := range args {
		if strings.HasPrefix(a, "-overlay=") {
			novet = append(novet, a)
		}
	}
	cmd := exec.Command("go", append(novet, s.Pkg())...)
	cmd.Dir = r.Root
	return cmd.Run() == nil
}

// runVariant runs a variant's test binary as make check does (see suite):
// in its package's directory, each test watched for its limit, and after a
// crash the tests it kept from running in fresh processes. It records what
// they reported: the whole suite for a starter or a solution, the test that
// should catch it for a wrong turn.
func runVariant(s step.Step, v *variant, test2json string) {
	if v.err != nil {
		return
	}
	if v.bin == "" {
		v.run = gotest.ParseTestJSON(v.buildOut)
		v.run.Stderr = v.buildErr
		if v.vetFailed {
			v.run.MarkVetFailed()
		}
		return
	}
	var only []string
	if v.kind == "wrong" {
		only = []string{v.wrong.CaughtBy}
	}
	su := gotest.NewSuite(s)
	su.Test2JSON = test2json
	v.run = su.RunBuilt(context.Background(), v.bin, only)
	if len(v.buildOut) > 0 {
		v.run.Build = append(gotest.ParseTestJSON(v.buildOut).Build, v.run.Build...)
	}
	v.err = v.run.Err
}

// judgeStarter holds a starter's run to the contract: it compiles, does not
// crash, and fails exactly the step's lesson tests. It returns the step
// line's words about the starter.
func judgeStarter(t *tally, st term.Style, s step.Step, tr *gotest.TestRun) string {
	who := s.Name + " starter"
	checkHint := fmt.Sprintf("make check STEP=%d shows what happens", s.Num)
	if vetComplains(tr) {
		t.unvetted++
		t.breach(false, who+" does not pass go vet:\n"+strings.Join(gotest.CompilerLines(tr), "\n"),
			"fix what go vet says in "+s.Dir()+" (a deliberate flaw of the lesson included: the suite must see it, not vet)")
		return st.Red("go vet complains of the starter")
	}
	if tr.BuildFailed() || len(tr.Pkgs) == 0 {
		t.breach(false, who+" does not compile:\n"+strings.Join(gotest.CompilerLines(tr), "\n"),
			"every starter must compile: fix "+s.Dir())
		return st.Red("starter does not compile")
	}
	p := tr.Only()
	lesson := make(map[string]bool)
	for _, name := range s.Meta.LessonTests {
		lesson[name] = true
	}
	var failing []string
	for _, test := range p.Tests {
		top, _, _ := strings.Cut(test.Name, "/")
		want := "pass"
		if lesson[top] {
			want = "fail"
			if !test.TopLevel() {
				want = test.Action // a lesson's subtests may go either way
			}
		}
		switch {
		case test.Action == "":
		case test.Action == "skip":
		case test.Action == want:
			t.passed++
		default:
			t.failed++
		}
		if test.TopLevel() && test.Action == "fail" {
			failing = append(failing, test.Name)
		}
	}
	if p.Crashed() {
		t.breach(false, who+": "+strings.Join(gotest.CrashReport(s.Repo, s, p), "\n"),
			"a starter must fail by its assertions, not crash or hang; "+checkHint)
		return st.Red("starter crashes")
	}
	want := slices.Clone(s.Meta.LessonTests)
	slices.Sort(want)
	got := slices.Clone(failing)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		what := fmt.Sprintf("%s fails %s; step.json says its lesson is %s", who, orNone(failing), orNone(s.Meta.LessonTests))
		for _, name := range s.Meta.LessonTests {
			if p.ByName[name] == nil {
				what += fmt.Sprintf("\n%s is not in the suite", name)
			}
		}
		todo := "make the starter fail exactly its lesson tests, or correct lesson_tests in " + s.Dir() + "/step.json; " + checkHint
		if len(failing) == 0 {
			todo += "\n(if you committed your own solution of this step, that is why: make test checks the starters as committed)"
		}
		t.breach(true, what, todo)
		if p.Action == "pass" || len(failing) == 0 {
			return st.Red("starter passes: it should fail " + strings.Join(s.Meta.LessonTests, ", "))
		}
		return st.Red("starter fails " + strings.Join(failing, ", ") + ", not its lesson")
	}
	if len(failing) == 0 {
		return st.Yellow("starter passes (step.json names no lesson test)")
	}
	return "starter fails its " + term.Plural(len(failing), "lesson test")
}

// judgeSolution holds a solution's run to the contract: every test passes
// with -race. It returns the step line's words about the solution.
func judgeSolution(t *tally, st term.Style, s step.Step, tr *gotest.TestRun) string {
	who := s.Name + " solution"
	todo := fmt.Sprintf("make check STEP=%d SOLUTION=1 shows the details; fix %s", s.Num, s.SolutionDir())
	if vetComplains(tr) {
		t.unvetted++
		t.breach(false, who+" does not pass go vet:\n"+strings.Join(gotest.CompilerLines(tr), "\n"), todo)
		return st.Red("go vet complains of the solution")
	}
	if tr.BuildFailed() || len(tr.Pkgs) == 0 {
		t.breach(false, who+" does not compile:\n"+strings.Join(gotest.CompilerLines(tr), "\n"), todo)
		return st.Red("solution does not compile")
	}
	p := tr.Only()
	passed, total := 0, 0
	var failing []string
	for _, test := range p.Tests {
		switch test.Action {
		case "pass":
			t.passed++
		case "fail":
			t.failed++
		}
		if test.TopLevel() {
			total++
			if test.Action == "pass" {
				passed++
			} else if test.Action == "fail" {
				failing = append(failing, test.Name)
			}
		}
	}
	for _, name := range s.Meta.LessonTests {
		if p.ByName[name] == nil && !p.Crashed() {
			t.breach(false, fmt.Sprintf("%s: lesson test %s is not in the suite", s.Name, name),
				"correct lesson_tests in "+s.Dir()+"/step.json")
		}
	}
	switch {
	case p.Crashed():
		t.breach(false, who+": "+strings.Join(gotest.CrashReport(s.Repo, s, p), "\n"), todo)
		return st.Red("solution crashes")
	case len(failing) > 0:
		what := fmt.Sprintf("%s fails %s:", who, strings.Join(failing, ", "))
		for _, name := range failing {
			lines, _ := gotest.CondenseRaces(s.Repo, gotest.FailureLines(p, name))
			what += "\n" + term.Indent(strings.Join(term.LimitLines(lines, 12, "make check shows them all"), "\n"), "  ")
		}
		t.breach(true, what, todo)
		return st.Red(fmt.Sprintf("solution fails %s", strings.Join(failing, ", ")))
	case p.Action != "pass":
		t.breach(false, who+": every test passed but the test binary failed:\n"+strings.Join(p.Output, "\n"), todo)
		return st.Red("solution's test binary fails")
	}
	return fmt.Sprintf("solution passes %d/%d", passed, total)
}

// vetComplains reports whether a starter's or a solution's build stopped at
// go vet (see buildRound) rather than at the compiler.
func vetComplains(tr *gotest.TestRun) bool {
	_, vet := gotest.BuildComplaint(tr)
	return vet
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
func crossPackages(r step.Repo) []string {
	var pkgs []string
	err := filepath.WalkDir(r.Root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(r.Root, path)
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
	// harnessUnbuilt says that the harness's tests did not build or vet,
	// which reportHarness reports; stepsUnvetted counts the starters and
	// solutions that go vet complained of, which their steps' lines report.
	harnessUnbuilt bool
	stepsUnvetted  int
	fmtErr         error
	cross          []checkResult // by crossPlatforms
	unformatted    []string
	fmtTook        time.Duration
}

// A checkResult is what one check printed, whether it failed, and how long
// it took.
type checkResult struct {
	out  string
	err  error
	took time.Duration
}

// startVet starts a type-check of the module for the platforms of
// crossPlatforms, and gofmt, all at once; the exercises are those the kata
// ships (overlay), not the learner's. It returns a function that waits for
// them and returns what they found. go vet for this platform runs in the
// builds: the starters' and the solutions' (see buildRound), and the
// harness's and the simulator's (see testHarness).
func startVet(r step.Repo, steps []step.Step, starters []step.CodeSet, overlay string) func() vetResults {
	var res vetResults
	var wg sync.WaitGroup
	res.cross = make([]checkResult, len(crossPlatforms))
	src, srcErr := newSources(overlay) // parsed once for every platform
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
			if srcErr != nil {
				res.cross[i] = checkResult{srcErr.Error(), srcErr, time.Since(start)}
				return
			}
			problems, err := typeCheck(src, r.Root, p, "kata_cross", crossPackages(r))
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
func reportVet(st term.Style, res vetResults, width int) (tally, []phase) {
	var t tally
	st.Clear(os.Stdout)

	var said []string
	switch {
	case res.stepsUnvetted > 0:
		said = append(said, st.Red(fmt.Sprintf("go vet complains of %s (above)", term.Plural(res.stepsUnvetted, "starter or solution"))))
	case res.harnessUnbuilt:
		said = append(said, st.Red("go vet or the compiler complains of the harness (below)"))
	default:
		said = append(said, "go vet is clean")
	}
	switch {
	case res.fmtErr != nil:
		t.breach(false, "gofmt failed: "+res.fmtErr.Error(), "fix what gofmt reports")
		said = append(said, st.Red("gofmt failed"))
	case len(res.unformatted) > 0:
		t.breach(false, "gofmt would change:\n"+term.Indent(strings.Join(term.LimitLines(res.unformatted, 10, "gofmt -l . lists them all"), "\n"), "  "),
			"run gofmt -w on them")
		said = append(said, st.Red("gofmt would change "+term.Plural(len(res.unformatted), "file")))
	default:
		said = append(said, "gofmt has nothing to change")
	}
	fmt.Printf("%-*s  %s  %s\n", width, "vet, gofmt", strings.Join(said, " · "),
		st.Dim("("+term.Seconds(res.fmtTook.Seconds())+")"))

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
			name, p.goos, p.goarch, term.Indent(strings.Join(term.LimitLines(strings.Split(res.out, "\n"), 12, "the command shows them all"), "\n"), "  ")),
			"learners use it there: keep platform-specific code behind build tags, with a version for every platform")
	}
	line := strings.Join(ok, " and ") + " type-check"
	if len(broken) > 0 {
		line = st.Red("does not type-check for " + strings.Join(broken, ", "))
		if len(ok) > 0 {
			line += " · " + strings.Join(ok, ", ") + " type-checks"
		}
	}
	fmt.Printf("%-*s  %s  %s\n", width, "other platforms", line, st.Dim("("+term.Seconds(crossTook.Seconds())+")"))
	return t, []phase{{"cross type-check and gofmt (after the builds)", max(crossTook, res.fmtTook)}}
}

// unformattedFiles returns the module's .go files that gofmt would change,
// with the exercises' code as the kata ships it rather than the learner's.
func unformattedFiles(r step.Repo, steps []step.Step, starters []step.CodeSet) ([]string, error) {
	names := make(map[string]string) // the file gofmt reads: the name to report
	skip := make(map[string]bool)
	for i, s := range steps {
		if starters[i] == nil {
			continue
		}
		for name, path := range starters[i] {
			names[path] = filepath.Join(s.Dir(), name)
		}
		mine, err := step.GoFiles(r, s.Dir())
		if err != nil {
			return nil, err
		}
		for _, name := range mine {
			skip[filepath.Join(r.Root, s.Dir(), name)] = true
		}
	}
	err := filepath.WalkDir(r.Root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != r.Root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "vendor") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".go") && !skip[path] {
			rel, err := filepath.Rel(r.Root, path)
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
	cmd.Dir = r.Root
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

// testHarness runs the unit tests of harness/ and stations/ with -race,
// and every one of go vet's checks on them (-vet=all): in one go command,
// vet fills the time that the tests spend waiting. At least four packages
// build or run at once, not one a core: the tests wait on sockets,
// processes and a browser more than they compute. Beside the steps it
// takes longer than alone (3 minutes and more from a fresh cache on 2
// cores), so its limits are generous: a test binary is stopped after 5
// minutes, the go command after 8.
//
// harness/cmd/run comes first: the go command builds the packages in the
// order they are named, and starts a package's tests only once every
// package named before it is built. The interoperability check's test
// builds make serve's command itself (go build -race): after run's test
// binary, it finds every package that command needs compiled, where before
// it compiled SQLite's driver and more a second time, beside this go
// command compiling them.
func testHarness(r step.Repo) *gotest.TestRun {
	g := gotest.GoTest{Pkgs: []string{"./harness/cmd/run", "./harness/...", "./stations/..."}, Race: true, Timeout: 5 * time.Minute,
		Flags: []string{"-vet=all", fmt.Sprintf("-p=%d", max(4, runtime.NumCPU()))}}
	return g.Run(context.Background(), r)
}

// reportHarness holds the harness's tests (see testHarness) to the
// contract and prints their line.
func reportHarness(r step.Repo, st term.Style, tr *gotest.TestRun, width int) tally {
	var t tally
	st.Clear(os.Stdout)
	if tr.Err != nil {
		t.breach(false, "harness and stations tests could not run: "+tr.Err.Error(), "fix the go command's complaint")
		fmt.Printf("%-*s  %s\n", width, "harness, stations", st.Red("could not run"))
		return t
	}
	// A package that does not build, or that vet complains of, is a
	// breach; the others' tests ran, and count.
	pkgs := 0
	var failing []string
	if tr.BuildFailed() {
		t.breach(false, "harness or stations do not compile, or go vet complains of them:\n"+strings.Join(gotest.CompilerLines(tr), "\n"),
			"fix what the compiler or go vet says (go vet -race ./harness/... ./stations/...)")
		failing = append(failing, "does not compile or vet")
	}
	for _, p := range tr.Pkgs {
		if len(p.Tests) > 0 {
			pkgs++
		}
		for _, test := range p.Tests {
			switch test.Action {
			case "pass":
				t.passed++
			case "fail":
				t.failed++
				if test.TopLevel() {
					failing = append(failing, strings.TrimPrefix(p.Name, r.Module+"/")+" "+test.Name)
					t.breaches = append(t.breaches, breach{
						what: fmt.Sprintf("%s: %s fails:\n%s", strings.TrimPrefix(p.Name, r.Module+"/"), test.Name,
							term.Indent(strings.Join(term.LimitLines(failureMessages(p.Tests, test), 12, "go test -race shows them all"), "\n"), "  ")),
						todo: fmt.Sprintf("go test -race -run '^%s$' ./%s", test.Name, strings.TrimPrefix(p.Name, r.Module+"/")),
					})
				}
			}
		}
		if p.Crashed() {
			s := step.Step{Repo: r, Name: "-"}
			t.breach(false, strings.TrimPrefix(p.Name, r.Module+"/")+": "+strings.Join(gotest.CrashReport(r, s, p), "\n"),
				"go test -race ./"+strings.TrimPrefix(p.Name, r.Module+"/"))
			failing = append(failing, strings.TrimPrefix(p.Name, r.Module+"/")+" crashed")
		}
	}
	passed, _ := tr.Counts()
	line := fmt.Sprintf("%s in %s pass with -race", term.Plural(passed, "test"), term.Plural(pkgs, "package"))
	if len(failing) > 0 {
		line = st.Red("failing: " + strings.Join(failing, ", "))
	}
	fmt.Printf("%-*s  %s  %s\n", width, "harness, stations", line, st.Dim("("+term.Seconds(tr.Elapsed.Seconds())+")"))
	return t
}

// failureMessages are what a failed top-level test said, followed by what
// each of its failed subtests said, under the subtest's name: a test that
// fails only through its subtests says nothing itself.
func failureMessages(tests []*gotest.TestResult, test *gotest.TestResult) []string {
	out := gotest.Messages(test)
	for _, sub := range tests {
		if sub.Action != "fail" || !strings.HasPrefix(sub.Name, test.Name+"/") {
			continue
		}
		if msgs := gotest.Messages(sub); len(msgs) > 0 {
			out = append(out, sub.Name+":")
			for _, m := range msgs {
				out = append(out, "  "+m)
			}
		}
	}
	return out
}
