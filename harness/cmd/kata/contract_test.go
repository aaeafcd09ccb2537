package main

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestJudgeWrong(t *testing.T) {
	const pkg = "p"
	run := func(evs ...testEvent) *testRun { return parseTestJSON(events(t, evs...)) }
	s := step{num: 1, name: "01-x"}
	w := wrongTurn{name: "one", path: "solutions/01-x/testdata/wrong/one.patch", Note: "one worker", CaughtBy: "TestPeak"}
	suite := map[string]bool{"TestPeak": true, "TestOther": true}
	tests := []struct {
		name       string
		run        *testRun
		suite      map[string]bool
		caught     bool
		passed     int
		breachWith string // "" for no breach
	}{
		{
			name:   "caught",
			run:    run(testEvent{Action: "run", Package: pkg, Test: "TestPeak"}, testEvent{Action: "fail", Package: pkg, Test: "TestPeak"}),
			suite:  suite,
			caught: true, passed: 1,
		},
		{
			name:       "not caught",
			run:        run(testEvent{Action: "run", Package: pkg, Test: "TestPeak"}, testEvent{Action: "pass", Package: pkg, Test: "TestPeak"}),
			suite:      suite,
			breachWith: "does not catch it",
		},
		{
			name:       "caught_by not in the suite",
			run:        run(testEvent{Action: "output", Package: pkg, Output: "testing: warning: no tests to run\n"}, testEvent{Action: "pass", Package: pkg}),
			suite:      map[string]bool{"TestOther": true},
			breachWith: "not a test of the suite",
		},
		{
			name:       "caught_by not in the suite, solution unknown",
			run:        run(testEvent{Action: "pass", Package: pkg}),
			breachWith: "not a test of the suite",
		},
		{
			name: "crash",
			run: run(testEvent{Action: "run", Package: pkg, Test: "TestPeak"},
				testEvent{Action: "output", Package: pkg, Test: "TestPeak", Output: "panic: boom\n"},
				testEvent{Action: "fail", Package: pkg, Test: "TestPeak"}),
			suite:      suite,
			breachWith: "crash",
		},
		{
			name: "does not compile",
			run: run(testEvent{Action: "build-output", ImportPath: pkg, Output: "x.go:1:1: undefined: y\n"},
				testEvent{Action: "fail", Package: pkg, FailedBuild: pkg}),
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

func TestYes(t *testing.T) {
	for answer, want := range map[string]bool{"y\n": true, "Yes\n": true, " y ": true, "\n": false, "": false, "n\n": false, "yep\n": false} {
		if got := yes(strings.NewReader(answer)); got != want {
			t.Errorf("yes(%q) = %v, want %v", answer, got, want)
		}
	}
}

func TestReportVetNamesThePlatform(t *testing.T) {
	res := vetResults{cross: make([]checkResult, len(crossPlatforms))}
	broken := len(crossPlatforms) - 1
	res.cross[broken] = checkResult{out: "harness/x.go:5:9: undefined: y", err: errors.New("type errors")}
	tl, _ := reportVet(style{}, res, 10)
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
			s := step{name: "01-x", repo: repo{root: root}, meta: stepMeta{Review: tt.review}}
			if err := os.MkdirAll(filepath.Join(root, s.dir()), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, s.dir(), "README.md"), []byte(tt.readme), 0o644); err != nil {
				t.Fatal(err)
			}
			got := reviewProblem(s, false)
			if tt.want == "" && got != "" || tt.want != "" && !strings.Contains(got, tt.want) {
				t.Errorf("reviewProblem = %q, want %q", got, tt.want)
			}
		})
	}
}
