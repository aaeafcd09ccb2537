package contract

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ocppkata/kata/harness/cmd/kata/internal/gotest"
	"github.com/ocppkata/kata/harness/cmd/kata/internal/step"
	"github.com/ocppkata/kata/harness/internal/term"
)

func TestJudgeWrong(t *testing.T) {
	const pkg = "p"
	run := func(evs ...gotest.TestEvent) *gotest.TestRun { return gotest.ParseTestJSON(events(t, evs...)) }
	s := step.Step{Num: 1, Name: "01-x"}
	w := step.WrongTurn{Name: "one", Path: "solutions/01-x/testdata/wrong/one.patch", Note: "one worker", CaughtBy: "TestPeak"}
	suite := map[string]bool{"TestPeak": true, "TestOther": true}
	tests := []struct {
		name       string
		run        *gotest.TestRun
		suite      map[string]bool
		caught     bool
		passed     int
		breachWith string // "" for no breach
	}{
		{
			name:   "caught",
			run:    run(gotest.TestEvent{Action: "run", Package: pkg, Test: "TestPeak"}, gotest.TestEvent{Action: "fail", Package: pkg, Test: "TestPeak"}),
			suite:  suite,
			caught: true, passed: 1,
		},
		{
			name:       "not caught",
			run:        run(gotest.TestEvent{Action: "run", Package: pkg, Test: "TestPeak"}, gotest.TestEvent{Action: "pass", Package: pkg, Test: "TestPeak"}),
			suite:      suite,
			breachWith: "does not catch it",
		},
		{
			name:       "caught_by not in the suite",
			run:        run(gotest.TestEvent{Action: "output", Package: pkg, Output: "testing: warning: no tests to run\n"}, gotest.TestEvent{Action: "pass", Package: pkg}),
			suite:      map[string]bool{"TestOther": true},
			breachWith: "not a test of the suite",
		},
		{
			name:       "caught_by not in the suite, solution unknown",
			run:        run(gotest.TestEvent{Action: "pass", Package: pkg}),
			breachWith: "not a test of the suite",
		},
		{
			name: "crash",
			run: run(gotest.TestEvent{Action: "run", Package: pkg, Test: "TestPeak"},
				gotest.TestEvent{Action: "output", Package: pkg, Test: "TestPeak", Output: "panic: boom\n"},
				gotest.TestEvent{Action: "fail", Package: pkg, Test: "TestPeak"}),
			suite:      suite,
			breachWith: "crash",
		},
		{
			name: "does not compile",
			run: run(gotest.TestEvent{Action: "build-output", ImportPath: pkg, Output: "x.go:1:1: undefined: y\n"},
				gotest.TestEvent{Action: "fail", Package: pkg, FailedBuild: pkg}),
			suite:      suite,
			breachWith: "does not compile",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tl tally
			caught := judgeWrong(&tl, s, &variant{kind: "wrong", wrong: w, run: tt.run}, tt.suite)
			if caught != tt.caught || tl.passed != tt.passed {
				t.Errorf("caught %v, %d passed; want %v, %d", caught, tl.passed, tt.caught, tt.passed)
			}
			switch {
			case tt.breachWith == "" && len(tl.breaches) > 0:
				t.Errorf("breaches %v, want none", tl.breaches)
			case tt.breachWith != "" && (len(tl.breaches) != 1 || !strings.Contains(tl.breaches[0].what, tt.breachWith)):
				t.Errorf("breaches %v, want one saying %q", tl.breaches, tt.breachWith)
			case tt.breachWith != "" && tl.failed != 1:
				t.Errorf("%d failed, want 1: a breach counts as a failure", tl.failed)
			}
		})
	}
}

func TestReportVetNamesThePlatform(t *testing.T) {
	res := vetResults{cross: make([]checkResult, len(crossPlatforms))}
	broken := len(crossPlatforms) - 1
	res.cross[broken] = checkResult{out: "harness/x.go:5:9: undefined: y", err: errors.New("type errors")}
	tl, _ := reportVet(term.Style{}, res, 10)
	p := crossPlatforms[broken]
	if tl.failed != 1 || tl.passed != len(crossPlatforms)-1 || len(tl.breaches) != 1 {
		t.Fatalf("%d passed, %d failed, breaches %v; want %d passed, 1 failed in one breach", tl.passed, tl.failed, tl.breaches, len(crossPlatforms)-1)
	}
	what := tl.breaches[0].what
	for _, want := range []string{"does not type-check for " + p.goos + "/" + p.goarch, "  harness/x.go:5:9: undefined: y"} {
		if !strings.Contains(what, want) {
			t.Errorf("breach says %q; want it to say %q", what, want)
		}
	}
}

// TestReviewProblem checks the contract's hold on a step's review list: it
// must exist, and the README must carry each line, word for word.
func TestReviewProblem(t *testing.T) {
	review := []string{"a lock taken twice: no fake clock sees it; look for two Locks on one path", "a key compared with ==: its timing is the fault"}
	readme := "# Step\n\n## Wrong turns\n\n- not this one\n\n" + reviewHeading + "\n\n" +
		"- a lock taken twice: no fake clock sees it; look for\n  two Locks on one path\n- a key compared with ==: its timing is the fault\n\n## The figure\n"
	tests := []struct {
		name   string
		review []string
		readme string
		want   string // in the problem; "" for none
	}{
		{"carried word for word, wrapped", review, readme, ""},
		{"no review list", nil, readme, "no review list"},
		{"no section", review, "# Step\n\n- a lock taken twice\n", "no section"},
		{"a line missing", append(slices.Clone(review), "a third mistake"), readme, `"a third mistake"`},
		{"a line only in another section", []string{"not this one"}, readme, `"not this one"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			s := step.Step{Name: "01-x", Repo: step.Repo{Root: root}, Meta: step.Meta{Review: tt.review}}
			if err := os.MkdirAll(filepath.Join(root, s.Dir()), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, s.Dir(), "README.md"), []byte(tt.readme), 0o644); err != nil {
				t.Fatal(err)
			}
			got := reviewProblem(s, false)
			if tt.want == "" && got != "" || tt.want != "" && !strings.Contains(got, tt.want) {
				t.Errorf("reviewProblem = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestJudgeStarter(t *testing.T) {
	const pkg = "p"
	run := func(results map[string]string) *gotest.TestRun {
		var evs []gotest.TestEvent
		for _, name := range []string{"TestA", "TestLesson", "TestLesson/sub"} {
			evs = append(evs, gotest.TestEvent{Action: "run", Package: pkg, Test: name})
		}
		for _, name := range []string{"TestA", "TestLesson/sub", "TestLesson"} {
			evs = append(evs, gotest.TestEvent{Action: results[name], Package: pkg, Test: name})
		}
		return gotest.ParseTestJSON(events(t, evs...))
	}
	s := step.Step{Name: "01-x", Meta: step.Meta{LessonTests: []string{"TestLesson"}}}

	var ok tally
	judgeStarter(&ok, term.Style{}, s, run(map[string]string{"TestA": "pass", "TestLesson": "fail", "TestLesson/sub": "pass"}))
	if len(ok.breaches) != 0 || ok.passed != 3 || ok.failed != 0 {
		t.Errorf("a starter failing its lesson: %d passed, %d failed, breaches %v; want 3, 0, none", ok.passed, ok.failed, ok.breaches)
	}
	var bad tally
	judgeStarter(&bad, term.Style{}, s, run(map[string]string{"TestA": "fail", "TestLesson": "pass", "TestLesson/sub": "pass"}))
	if len(bad.breaches) != 1 || bad.failed != 2 {
		t.Errorf("a starter failing the wrong test: %d failed, breaches %v; want 2 and one breach", bad.failed, bad.breaches)
	}
}

// TestVetComplaintNamed checks that a starter or a solution whose build
// stopped at go vet (buildRound's -vet=all) is reported as vet's complaint,
// counted for the vet line, and one that does not compile as the
// compiler's.
func TestVetComplaintNamed(t *testing.T) {
	const pkg = "p"
	failed := func(lines ...string) *gotest.TestRun {
		var evs []gotest.TestEvent
		for _, l := range lines {
			evs = append(evs, gotest.TestEvent{Action: "build-output", ImportPath: pkg + " [p.test]", Output: l + "\n"})
		}
		evs = append(evs, gotest.TestEvent{Action: "fail", Package: pkg, FailedBuild: pkg})
		return gotest.ParseTestJSON(events(t, evs...))
	}
	// As go test -json -vet=all says it: with vet's own heading for the
	// test variant; for the package an external test imports, the
	// compiler's heading only, which a rebuild without vet tells apart
	// (buildsWithoutVet).
	vet := failed("# p", "# [p]", `./a.go:5:39: fmt.Sprintf format %d has arg "x" of wrong type string`)
	vetUnheaded := failed("# p", `./a.go:5:39: fmt.Sprintf format %d has arg "x" of wrong type string`)
	vetUnheaded.MarkVetFailed()
	compile := failed("# p", "./a.go:5:2: undefined: y")
	s := step.Step{Num: 1, Name: "01-x", Meta: step.Meta{LessonTests: []string{"TestLesson"}}}
	judges := map[string]func(*tally, term.Style, step.Step, *gotest.TestRun) string{"starter": judgeStarter, "solution": judgeSolution}
	tests := []struct {
		name     string
		run      *gotest.TestRun
		unvetted int
		breach   string // in the breach
		said     string // on the step's line
	}{
		{"go vet complains", vet, 1, "does not pass go vet", "go vet complains of the "},
		{"go vet complains, unheaded", vetUnheaded, 1, "does not pass go vet", "go vet complains of the "},
		{"does not compile", compile, 0, "does not compile:", " does not compile"},
	}
	for kind, judge := range judges {
		for _, tt := range tests {
			t.Run(kind+"/"+tt.name, func(t *testing.T) {
				var tl tally
				said := judge(&tl, term.Style{}, s, tt.run)
				if tl.unvetted != tt.unvetted || tl.failed != 1 || len(tl.breaches) != 1 {
					t.Fatalf("%d unvetted, %d failed, breaches %v; want %d, 1 and one breach", tl.unvetted, tl.failed, tl.breaches, tt.unvetted)
				}
				if what := tl.breaches[0].what; !strings.Contains(what, tt.breach) || !strings.Contains(what, "a.go:5:") {
					t.Errorf("the breach says %q; want %q and the line", what, tt.breach)
				}
				if !strings.Contains(said, tt.said) {
					t.Errorf("the step's line says %q; want %q", said, tt.said)
				}
			})
		}
	}
}

func events(t *testing.T, evs ...gotest.TestEvent) []byte {
	t.Helper()
	var b strings.Builder
	for _, ev := range evs {
		data, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(data)
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

func TestWrongTableProblem(t *testing.T) {
	root := t.TempDir()
	s := step.Step{Num: 1, Name: "01-x", Repo: step.Repo{Root: root}}
	if err := os.MkdirAll(filepath.Join(root, s.Dir()), 0o755); err != nil {
		t.Fatal(err)
	}
	turns := []step.WrongTurn{{Name: "one-lock", CaughtBy: "TestA"}, {Name: "no-wait", CaughtBy: "TestB"}}
	tests := []struct {
		name, table, want string
	}{
		{"in step", "| `one-lock` | `TestA` | why |\n| `no-wait` | `TestB` | why |\n", ""},
		{"a patch without a row", "| `one-lock` | `TestA` | why |\n", "no row for no-wait"},
		{"another test", "| `one-lock` | `TestA` | why |\n| `no-wait` | `TestC` | why |\n", "caught by TestC, and the patch's header says TestB"},
		{"a row without a patch", "| `one-lock` | `TestA` | why |\n| `no-wait` | `TestB` | why |\n| `gone` | `TestA` | why |\n", "testdata/wrong has no gone.patch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			readme := "# Step\n\n| wrong turn | caught by | why it is wrong |\n| --- | --- | --- |\n" + tt.table
			if err := os.WriteFile(filepath.Join(root, s.Dir(), "README.md"), []byte(readme), 0o644); err != nil {
				t.Fatal(err)
			}
			got := wrongTableProblem(s, turns)
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Errorf("wrongTableProblem = %q, want %q", got, tt.want)
			}
		})
	}
}

// A harness package that vet complains of is a breach, and the tests of
// the others still count.
func TestReportHarnessCountsPastABuildFailure(t *testing.T) {
	events := strings.Join([]string{
		`{"ImportPath":"m/a [m/a.test]","Action":"build-output","Output":"# [m/a]\n"}`,
		`{"ImportPath":"m/a [m/a.test]","Action":"build-output","Output":"a/a.go:7:8: assignment copies lock value to m2: sync.Mutex\n"}`,
		`{"ImportPath":"m/a [m/a.test]","Action":"build-fail"}`,
		`{"Action":"start","Package":"m/a"}`,
		`{"Action":"output","Package":"m/a","Output":"FAIL\tm/a [build failed]\n"}`,
		`{"Action":"fail","Package":"m/a","Elapsed":0,"FailedBuild":"m/a [m/a.test]"}`,
		`{"Action":"start","Package":"m/b"}`,
		`{"Action":"run","Package":"m/b","Test":"TestB"}`,
		`{"Action":"pass","Package":"m/b","Test":"TestB","Elapsed":0}`,
		`{"Action":"pass","Package":"m/b","Elapsed":0}`,
	}, "\n") + "\n"
	tr := gotest.ParseTestJSON([]byte(events))
	tl := reportHarness(step.Repo{Module: "m"}, term.Style{}, tr, 10)
	if tl.passed != 1 || tl.failed != 1 || len(tl.breaches) != 1 {
		t.Fatalf("%d passed, %d failed, breaches %v; want TestB's pass and one failure for the build", tl.passed, tl.failed, tl.breaches)
	}
	if what := tl.breaches[0].what; !strings.Contains(what, "assignment copies lock value") {
		t.Errorf("the breach says %q; want vet's complaint in it", what)
	}
}

// A test that fails only through a subtest says nothing itself: the
// breach shows what the subtest said.
func TestReportHarnessShowsSubtestFailures(t *testing.T) {
	events := strings.Join([]string{
		`{"Action":"start","Package":"m/a"}`,
		`{"Action":"run","Package":"m/a","Test":"TestA"}`,
		`{"Action":"run","Package":"m/a","Test":"TestA/TCP"}`,
		`{"Action":"output","Package":"m/a","Test":"TestA/TCP","Output":"    a_test.go:83: Received unexpected error: disconnected\n"}`,
		`{"Action":"fail","Package":"m/a","Test":"TestA/TCP","Elapsed":0}`,
		`{"Action":"fail","Package":"m/a","Test":"TestA","Elapsed":0}`,
		`{"Action":"fail","Package":"m/a","Elapsed":0}`,
	}, "\n") + "\n"
	tl := reportHarness(step.Repo{Module: "m"}, term.Style{}, gotest.ParseTestJSON([]byte(events)), 10)
	if len(tl.breaches) != 1 {
		t.Fatalf("breaches %v; want one, for TestA", tl.breaches)
	}
	if what := tl.breaches[0].what; !strings.Contains(what, "TestA/TCP:") || !strings.Contains(what, "unexpected error: disconnected") {
		t.Errorf("the breach says %q; want the subtest's name and message in it", what)
	}
}
