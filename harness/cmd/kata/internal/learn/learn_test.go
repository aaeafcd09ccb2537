package learn

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ocppkata/kata/harness/cmd/kata/internal/step"
	"github.com/ocppkata/kata/harness/internal/term"
)

func TestHintTest(t *testing.T) {
	meta := step.Meta{
		LessonTests: []string{"TestLessonA", "TestLessonB"},
		Hints: map[string][]string{
			"TestLessonA": {"a1", "a2", "a3"},
			"TestLessonB": {"b1", "b2", "b3"},
			"TestOther":   {"o1"},
		},
	}
	tests := []struct {
		name    string
		failing []string
		want    string
	}{
		{"a lesson test", []string{"TestLessonB"}, "TestLessonB"},
		{"the first failing lesson test, in the order they ran", []string{"TestLessonB", "TestLessonA"}, "TestLessonB"},
		{"a lesson test before another test with hints", []string{"TestOther", "TestLessonA"}, "TestLessonA"},
		{"a failing test with hints of its own", []string{"TestPlain", "TestOther"}, "TestOther"},
		{"no failing test has hints", []string{"TestPlain"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := hintTest(meta, tt.failing); got != tt.want {
				t.Errorf("hintTest(%q) = %q, want %q", tt.failing, got, tt.want)
			}
		})
	}
}

// TestHintTests checks which failing tests a red check gives a hint for:
// every failing lesson test, since any of them may name the cause.
func TestHintTests(t *testing.T) {
	meta := step.Meta{
		LessonTests: []string{"TestLessonA", "TestLessonB", "TestLessonC"},
		Hints: map[string][]string{
			"TestLessonA": {"a1"}, "TestLessonB": {"b1"}, "TestLessonC": {"c1"}, "TestOther": {"o1"},
		},
	}
	tests := []struct {
		name    string
		failing []string
		crashed map[string]string
		want    []string
	}{
		{"each failing lesson test, in the order they failed", []string{"TestLessonC", "TestOther", "TestLessonA"}, nil, []string{"TestLessonC", "TestLessonA"}},
		{"not one that crashed", []string{"TestLessonA", "TestLessonB"}, map[string]string{"TestLessonB": "hung"}, []string{"TestLessonA"}},
		{"no lesson test: another with hints", []string{"TestPlain", "TestOther"}, nil, []string{"TestOther"}},
		{"none with hints", []string{"TestPlain"}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := hintTests(meta, tt.failing, tt.crashed); !slices.Equal(got, tt.want) {
				t.Errorf("hintTests(%q) = %q, want %q", tt.failing, got, tt.want)
			}
		})
	}
}

// TestReviewAfterGreen checks that a step's review list is read from
// step.json and printed, each line whole.
func TestReviewAfterGreen(t *testing.T) {
	var m step.Meta
	if err := json.Unmarshal([]byte(`{"title": "x", "lesson_tests": ["TestA"], "review": ["a lock taken twice: look for it", "a key compared with ==: use crypto/subtle"]}`), &m); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	printReview(&out, term.Style{}, step.Step{Meta: m})
	for _, want := range []string{"What no test can see", "  - a lock taken twice: look for it\n", "  - a key compared with ==: use crypto/subtle\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the review list does not say %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	printReview(&out, term.Style{}, step.Step{})
	if out.Len() != 0 {
		t.Errorf("a step without a review list printed %q", out.String())
	}
}

// TestHintFollowUp checks that what make hint promises is what the next
// make hint shows.
func TestHintFollowUp(t *testing.T) {
	const n = 3
	s := step.Step{Num: 1}
	for seen := 0; seen <= n; seen++ {
		for level := 0; level <= n; level++ {
			show := nextHint(n, seen, level)
			if show == 0 {
				t.Fatalf("nextHint(%d, %d, %d) = 0", n, seen, level)
			}
			if level != 0 && show != level {
				t.Errorf("LEVEL=%d showed hint %d", level, show)
			}
			promise := hintFollowUp(s, n, seen, show, level)
			next := nextHint(n, max(seen, show), 0)
			if strings.Contains(promise, "gives hint") && !strings.Contains(promise, fmt.Sprintf("gives hint %d:", next)) {
				t.Errorf("seen %d, LEVEL=%d: promised %q; the next make hint shows hint %d", seen, level, promise, next)
			}
			if next < n && !strings.Contains(promise, "gives hint") {
				t.Errorf("seen %d, LEVEL=%d: promised %q; the next make hint shows hint %d of %d", seen, level, promise, next, n)
			}
		}
	}
	if got := nextHint(n, 0, 4); got != 0 {
		t.Errorf("nextHint with LEVEL=4 of 3 = %d, want 0", got)
	}
}

func TestParseLevel(t *testing.T) {
	for arg, want := range map[string]int{"": 0, "nudge": 1, "direction": 2, "near-solution": 3, "Near-Solution": 3, "2": 2} {
		if got, err := parseLevel(arg); err != nil || got != want {
			t.Errorf("parseLevel(%q) = %d, %v; want %d", arg, got, err, want)
		}
	}
	if _, err := parseLevel("bogus"); err == nil {
		t.Error("parseLevel(bogus) succeeded")
	}
}

// TestRanFrom checks that paths of the exercise's files are rewritten to
// the overlaid files that ran in their place.
func TestRanFrom(t *testing.T) {
	root := t.TempDir()
	s := step.Step{Name: "01-x", Repo: step.Repo{Root: root}}
	code := step.CodeSet{"server.go": filepath.Join(root, ".kata", "wrong", "01-x", "bad", "server.go")}
	var out strings.Builder
	w := ranFrom(&out, s, code)
	fmt.Fprintf(w, "in (*Server).work at exercises/01-x/server.go:100\n")
	fmt.Fprintf(w, "\t%s:7 +0x1d\n", filepath.Join(root, "exercises", "01-x", "server.go"))
	fmt.Fprintf(w, "exercises/01-x/server_test.go:12 and exercises/01-x/README.md stay\n")
	want := "in (*Server).work at .kata/wrong/01-x/bad/server.go:100\n" +
		"\t.kata/wrong/01-x/bad/server.go:7 +0x1d\n" +
		"exercises/01-x/server_test.go:12 and exercises/01-x/README.md stay\n"
	if out.String() != want {
		t.Errorf("ranFrom wrote\n%s\nwant\n%s", out.String(), want)
	}
}

func TestYes(t *testing.T) {
	for answer, want := range map[string]bool{"y\n": true, "Yes\n": true, " y ": true, "\n": false, "": false, "n\n": false, "yep\n": false} {
		if got := Yes(strings.NewReader(answer)); got != want {
			t.Errorf("yes(%q) = %v, want %v", answer, got, want)
		}
	}
}
