package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// events renders go test -json lines from compact descriptions.
func events(t *testing.T, evs ...testEvent) []byte {
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

func TestParseTestJSONResults(t *testing.T) {
	const pkg = "example.com/kata/exercises/01-x"
	tr := parseTestJSON(events(t,
		testEvent{Action: "start", Package: pkg},
		testEvent{Action: "run", Package: pkg, Test: "TestA"},
		testEvent{Action: "output", Package: pkg, Test: "TestA", Output: "=== RUN   TestA\n"},
		testEvent{Action: "pass", Package: pkg, Test: "TestA"},
		testEvent{Action: "run", Package: pkg, Test: "TestB"},
		testEvent{Action: "run", Package: pkg, Test: "TestB/two_workers"},
		testEvent{Action: "output", Package: pkg, Test: "TestB/two_workers", Output: "    x_test.go:12: peak 1, want 2\n"},
		testEvent{Action: "output", Package: pkg, Test: "TestB/two_workers", Output: "        every call waited\n"},
		testEvent{Action: "fail", Package: pkg, Test: "TestB/two_workers"},
		testEvent{Action: "fail", Package: pkg, Test: "TestB"},
		testEvent{Action: "fail", Package: pkg},
	))
	p := tr.only()
	if tr.buildFailed() || p.crashed() {
		t.Fatalf("build failed %v, crashed %v: want neither", tr.buildFailed(), p.crashed())
	}
	var top []string
	for _, test := range p.topLevel() {
		top = append(top, test.name+":"+test.action)
	}
	if want := []string{"TestA:pass", "TestB:fail"}; !slices.Equal(top, want) {
		t.Errorf("top-level tests %v, want %v", top, want)
	}
	if passed, failed := tr.counts(); passed != 1 || failed != 2 {
		t.Errorf("counts %d passed, %d failed; want 1 and 2", passed, failed)
	}
	got := failureLines(p, "TestB")
	want := []string{"two workers:", "  peak 1, want 2", "    every call waited"}
	if !slices.Equal(got, want) {
		t.Errorf("failureLines = %q, want %q", got, want)
	}
}

func TestParseTestJSONBuildFailure(t *testing.T) {
	const pkg = "example.com/kata/exercises/01-x"
	tr := parseTestJSON(events(t,
		testEvent{Action: "build-output", ImportPath: pkg, Output: "# " + pkg + "\n"},
		testEvent{Action: "build-output", ImportPath: pkg, Output: "exercises/01-x/server.go:3:2: undefined: x\n"},
		testEvent{Action: "build-fail", ImportPath: pkg},
		testEvent{Action: "start", Package: pkg},
		testEvent{Action: "fail", Package: pkg, FailedBuild: pkg},
	))
	if !tr.buildFailed() {
		t.Fatal("buildFailed = false, want true")
	}
	s := step{name: "01-x"}
	lines := compilerLines(tr)
	if want := []string{"  exercises/01-x/server.go:3:2: undefined: x"}; !slices.Equal(lines, want) {
		t.Errorf("compilerLines = %q, want %q", lines, want)
	}
	if got := whatBroke(s, "your code", lines); got != "your code does not compile" {
		t.Errorf("whatBroke = %q, want your code", got)
	}
}

func TestParseTestJSONCrashes(t *testing.T) {
	const pkg = "p"
	tests := []struct {
		name        string
		line        string
		wantTimeout bool
	}{
		{"panic", "panic: assignment to entry in nil map [recovered]", false},
		{"fatal error", "fatal error: all goroutines are asleep - deadlock!", false},
		{"timeout", "panic: test timed out after 1m30s", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := parseTestJSON(events(t,
				testEvent{Action: "run", Package: pkg, Test: "TestHang"},
				testEvent{Action: "output", Package: pkg, Test: "TestHang", Output: tt.line + "\n"},
				testEvent{Action: "output", Package: pkg, Test: "TestHang", Output: "goroutine 7 [chan send]:\n"},
				testEvent{Action: "fail", Package: pkg},
			))
			p := tr.only()
			if !p.crashed() {
				t.Fatal("crashed = false, want true")
			}
			if got := p.timeout != ""; got != tt.wantTimeout {
				t.Errorf("timed out = %v, want %v", got, tt.wantTimeout)
			}
			if p.panicTest != "TestHang" {
				t.Errorf("panicTest = %q, want TestHang", p.panicTest)
			}
			if u := p.unfinished(); len(u) != 1 || u[0].name != "TestHang" {
				t.Errorf("unfinished = %v, want TestHang", u)
			}
		})
	}
}

func TestFrames(t *testing.T) {
	r := repo{root: "/src/kata"}
	dump := []string{
		"goroutine 12 [chan send]:",
		"example.com/kata/exercises/01-x.(*Server).read(0xc000)",
		"\t/src/kata/exercises/01-x/server.go:80 +0x1d",
		"net/http.(*conn).serve(0xc001)",
		"\t/usr/local/go/src/net/http/server.go:2000 +0x5",
	}
	got := frames(r, dump)
	want := []frame{{goroutine: "goroutine 12 [chan send]", function: "example.com/kata/exercises/01-x.(*Server).read",
		file: filepath.Join("exercises", "01-x", "server.go"), line: "80"}}
	if !slices.Equal(got, want) {
		t.Errorf("frames = %+v, want %+v", got, want)
	}
}

func TestMessages(t *testing.T) {
	test := &testResult{output: []string{
		"=== RUN   TestX",
		"    x_test.go:30: x_test.go:45: first",
		"        second line",
		"        x_test.go:46: another message",
		"--- FAIL: TestX (0.00s)",
	}}
	want := []string{"first", "  second line", "another message"}
	if got := messages(test); !slices.Equal(got, want) {
		t.Errorf("messages = %q, want %q", got, want)
	}
}

func TestUnifiedDiff(t *testing.T) {
	a := strings.Split("a b c d e f g h i j k l m", " ")
	b := strings.Split("a b c D e f g h i j k l m n", " ")
	var got []string
	for _, h := range unifiedDiff(a, b, 3) {
		got = append(got, h.header())
		got = append(got, h.lines...)
	}
	want := []string{
		"@@ -1,7 +1,7 @@", " a", " b", " c", "-d", "+D", " e", " f", " g",
		"@@ -11,3 +11,4 @@", " k", " l", " m", "+n",
	}
	if !slices.Equal(got, want) {
		t.Errorf("diff:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if h := unifiedDiff(a, a, 3); len(h) != 0 {
		t.Errorf("diff of equal files has %d hunks, want 0", len(h))
	}
	if h := unifiedDiff(nil, []string{"x"}, 3); len(h) != 1 || h[0].header() != "@@ -0,0 +1 @@" {
		t.Errorf("diff of a new file = %+v, want one hunk @@ -0,0 +1 @@", h)
	}
}

func TestStepNumber(t *testing.T) {
	for name, want := range map[string]int{"01-workers": 1, "12-x": 12} {
		if n, ok := stepNumber(name); !ok || n != want {
			t.Errorf("stepNumber(%q) = %d, %v; want %d", name, n, ok, want)
		}
	}
	for _, name := range []string{"1-x", "workers", "ab-x", "001-x"} {
		if _, ok := stepNumber(name); ok {
			t.Errorf("stepNumber(%q) accepted a name that is not a step's", name)
		}
	}
}

func TestWriteOverlay(t *testing.T) {
	root := t.TempDir()
	write := func(rel string) {
		path := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("package x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"exercises/01-x/a.go", "exercises/01-x/b.go", "exercises/01-x/a_test.go",
		"solutions/01-x/a.go", "solutions/01-x/c.go"} {
		write(f)
	}
	s := step{num: 1, name: "01-x", repo: repo{root: root}}
	path, err := solutionOverlay(s, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got struct{ Replace map[string]string }
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	ex, sol := filepath.Join(root, "exercises", "01-x"), filepath.Join(root, "solutions", "01-x")
	want := map[string]string{
		filepath.Join(ex, "a.go"): filepath.Join(sol, "a.go"), // replaced
		filepath.Join(ex, "b.go"): "",                         // deleted: the solution has none
		filepath.Join(ex, "c.go"): filepath.Join(sol, "c.go"), // added
	}
	if len(got.Replace) != len(want) {
		t.Errorf("overlay has %d entries, want %d: %v", len(got.Replace), len(want), got.Replace)
	}
	for k, v := range want {
		if got.Replace[k] != v {
			t.Errorf("overlay maps %s to %q, want %q", k, got.Replace[k], v)
		}
	}
}

func TestJudgeStarter(t *testing.T) {
	const pkg = "p"
	run := func(results map[string]string) *testRun {
		var evs []testEvent
		for _, name := range []string{"TestA", "TestLesson", "TestLesson/sub"} {
			evs = append(evs, testEvent{Action: "run", Package: pkg, Test: name})
		}
		for _, name := range []string{"TestA", "TestLesson/sub", "TestLesson"} {
			evs = append(evs, testEvent{Action: results[name], Package: pkg, Test: name})
		}
		return parseTestJSON(events(t, evs...))
	}
	s := step{name: "01-x", meta: stepMeta{LessonTests: []string{"TestLesson"}}}

	var ok tally
	judgeStarter(&ok, style{}, s, run(map[string]string{"TestA": "pass", "TestLesson": "fail", "TestLesson/sub": "pass"}))
	if len(ok.breaches) != 0 || ok.passed != 3 || ok.failed != 0 {
		t.Errorf("a starter failing its lesson: %d passed, %d failed, breaches %v; want 3, 0, none", ok.passed, ok.failed, ok.breaches)
	}
	var bad tally
	judgeStarter(&bad, style{}, s, run(map[string]string{"TestA": "fail", "TestLesson": "pass", "TestLesson/sub": "pass"}))
	if len(bad.breaches) != 1 || bad.failed != 2 {
		t.Errorf("a starter failing the wrong test: %d failed, breaches %v; want 2 and one breach", bad.failed, bad.breaches)
	}
}
