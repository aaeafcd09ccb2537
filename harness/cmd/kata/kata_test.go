package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
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

func TestHintTest(t *testing.T) {
	meta := stepMeta{
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
	meta := stepMeta{
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
	var m stepMeta
	if err := json.Unmarshal([]byte(`{"title": "x", "lesson_tests": ["TestA"], "review": ["a lock taken twice: look for it", "a key compared with ==: use crypto/subtle"]}`), &m); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	printReview(&out, style{}, step{meta: m})
	for _, want := range []string{"What no test can see", "  - a lock taken twice: look for it\n", "  - a key compared with ==: use crypto/subtle\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the review list does not say %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	printReview(&out, style{}, step{})
	if out.Len() != 0 {
		t.Errorf("a step without a review list printed %q", out.String())
	}
}

// TestHintFollowUp checks that what make hint promises is what the next
// make hint shows.
func TestHintFollowUp(t *testing.T) {
	const n = 3
	s := step{num: 1}
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

func TestCondenseRepeats(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		want  []string
	}{
		{
			name: "station ids",
			lines: []string{
				"call CS0001-7: no answer within 30s",
				"call CS0002-7: no answer within 30s",
				"call CS0003-7: no answer within 30s",
				"call CS0004-7: no answer within 30s",
				"call CS0005-7: no answer within 30s",
				"3 of 5 calls were not answered",
			},
			want: []string{
				"call CS0001-7: no answer within 30s (and 4 more like it: CS0002, CS0003, CS0004, …)",
				"3 of 5 calls were not answered",
			},
		},
		{
			name: "messages with continuation lines",
			lines: []string{
				"CS0001 got 3 answers, want 14",
				"  the first missing: StatusNotification",
				"CS0002 got 3 answers, want 14",
				"  the first missing: StatusNotification",
				"CS0003 got 4 answers, want 14",
				"  the first missing: StatusNotification",
			},
			want: []string{
				"CS0001 got 3 answers, want 14",
				"  the first missing: StatusNotification (and 2 more like it: CS0002, CS0003)",
			},
		},
		{
			name:  "two alike lines stay",
			lines: []string{"peak 1, want 4", "peak 1, want 8"},
			want:  []string{"peak 1, want 4", "peak 1, want 8"},
		},
		{
			name:  "numbers only",
			lines: []string{"item 1 late", "item 2 late", "item 3 late"},
			want:  []string{"item 1 late (and 2 more like it)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := condenseRepeats(tt.lines); !slices.Equal(got, tt.want) {
				t.Errorf("condenseRepeats =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// A dump of a suite frozen by a mutex inside a synctest bubble, as SIGQUIT
// prints it; kit.Isolated indents its child's output.
const mutexDump = `SIGQUIT: quit
PC=0x48c221 m=0 sigcode=0

goroutine 21 gp=0x7f742880780 m=nil [sync.WaitGroup.Wait (durable), synctest bubble 1]:
sync.(*WaitGroup).Wait(0x7f7428860d0)
	/usr/local/go/src/sync/waitgroup.go:206 +0x85 fp=0x7f742823f38 sp=0x7f742823f10 pc=0x490645
example.com/kata/exercises/03-x_test.TestB.func1(0x7f74289c6c8?)
	/src/kata/exercises/03-x/x_test.go:6 +0x9d fp=0x7f742823f70 sp=0x7f742823f38 pc=0x52f8bd

goroutine 22 gp=0x7f742880960 m=nil [sync.Mutex.Lock, synctest bubble 1]:
internal/sync.(*Mutex).lockSlow(0x7f7428860c8)
	/usr/local/go/src/internal/sync/mutex.go:149 +0x15d fp=0x7f742824758 sp=0x7f742824708 pc=0x48efdd
example.com/kata/exercises/03-x.(*P).process(0x0?)
	/src/kata/exercises/03-x/background.go:40 +0x74
created by example.com/kata/exercises/03-x.(*P).start in goroutine 21
	/src/kata/exercises/03-x/background.go:30 +0x5f

goroutine 23 gp=0x7f742880b40 m=nil [sync.Mutex.Lock, synctest bubble 1]:
internal/sync.(*Mutex).lockSlow(0x7f7428860c8)
	/usr/local/go/src/internal/sync/mutex.go:149 +0x15d
example.com/kata/exercises/03-x.(*P).process(0x0?)
	/src/kata/exercises/03-x/background.go:40 +0x74

goroutine 24 gp=0x7f742880d20 m=nil [sleep (durable), synctest bubble 1]:
time.Sleep(0x3b9aca00)
	/usr/local/go/src/runtime/time.go:361 +0x145
example.com/kata/exercises/03-x.(*P).process(0x0?)
	/src/kata/exercises/03-x/background.go:42 +0x74

goroutine 5 gp=0x7f742880d21 m=nil [sync.Mutex.Lock]:
example.com/kata/harness/x.f()
	/src/kata/harness/x/x.go:1 +0x74
`

func TestParseStacksMutexInBubble(t *testing.T) {
	for _, indent := range []string{"", "        "} {
		lines := strings.Split(mutexDump, "\n")
		for i := range lines {
			lines[i] = indent + lines[i]
		}
		gs := parseStacks(lines)
		if len(gs) != 5 {
			t.Fatalf("indent %q: parsed %d goroutines, want 5", indent, len(gs))
		}
		if g := gs[1]; g.state != "sync.Mutex.Lock" || g.durable || !g.bubble || len(g.frames) != 2 {
			t.Errorf("goroutine 22 = %+v, want a non-durable sync.Mutex.Lock in a bubble with 2 frames", g)
		}
		if g := gs[0]; g.state != "sync.WaitGroup.Wait" || !g.durable {
			t.Errorf("goroutine 21 = %+v, want a durable sync.WaitGroup.Wait", g)
		}
		if m := mutexInBubble(gs); len(m) != 2 {
			t.Errorf("mutexInBubble found %d goroutines, want 2 (goroutine 5 is outside any bubble)", len(m))
		}
		s := step{name: "03-x", repo: repo{root: "/src/kata"}}
		places := waitPlaces(s.repo, s, gs)
		want := "(*P).process at exercises/03-x/background.go:40"
		if len(places) == 0 || !strings.HasSuffix(places[0].where, want) || places[0].n != 2 || places[0].state != "sync.Mutex.Lock" {
			t.Errorf("first place = %+v, want 2 goroutines locking in %s", places, want)
		}
		c := &crash{test: "TestB", hung: 15 * time.Second, dump: lines}
		text := strings.Join(explainCrash(s.repo, s, c), "\n")
		for _, want := range []string{"TestB was still running after 15s", "2 goroutines inside the test's synctest bubble wait for a sync.Mutex", "fake clock"} {
			if !strings.Contains(text, want) {
				t.Errorf("explainCrash does not say %q:\n%s", want, text)
			}
		}
	}
}

func TestExplainLeak(t *testing.T) {
	s := step{name: "01-x", repo: repo{root: "/src/kata"}}
	c := &crash{test: "TestClose", first: "panic: deadlock: main bubble goroutine has exited but blocked goroutines remain [recovered, repanicked]",
		dump: strings.Split(`goroutine 7 [running]:
testing.tRunner.func1()
	/usr/local/go/src/testing/testing.go:1977 +0x349
example.com/kata/exercises/01-x_test.TestClose(0x2e5fda12a6c8?)
	/src/kata/exercises/01-x/x_test.go:3 +0x1a

goroutine 10 [chan receive (durable), synctest bubble 1]:
example.com/kata/exercises/01-x.(*Server).work(...)
	/src/kata/exercises/01-x/server.go:90 +0x19
created by example.com/kata/exercises/01-x.New in goroutine 9
	/src/kata/exercises/01-x/server.go:50 +0x5f`, "\n")}
	text := strings.Join(explainCrash(s.repo, s, c), "\n")
	for _, want := range []string{"a goroutine the server started was still blocked", "waiting (chan receive) in 01-x.(*Server).work at exercises/01-x/server.go:90"} {
		if !strings.Contains(text, want) {
			t.Errorf("explainCrash does not say %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "x_test.go") {
		t.Errorf("explainCrash shows the test's own goroutine for a leak:\n%s", text)
	}
}

func TestBuildComplaint(t *testing.T) {
	const pkg = "example.com/kata/exercises/01-x"
	tests := []struct {
		name    string
		output  []string
		wantVet bool
	}{
		{"compiler", []string{"# " + pkg, "exercises/01-x/server.go:3:2: undefined: x"}, false},
		{"vet", []string{"# " + pkg, "# [" + pkg + "]", "exercises/01-x/server.go:3:39: fmt.Sprintf format %d has arg \"x\" of wrong type string"}, true},
		{"vet on a type error", []string{"# [" + pkg + "]", "vet: exercises/01-x/server.go:3:2: undefined: x"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var evs []testEvent
			for _, line := range tt.output {
				evs = append(evs, testEvent{Action: "build-output", ImportPath: pkg, Output: line + "\n"})
			}
			lines, vet := buildComplaint(parseTestJSON(events(t, evs...)))
			if vet != tt.wantVet {
				t.Errorf("vet = %v, want %v", vet, tt.wantVet)
			}
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "  exercises/01-x/server.go:3:") {
				t.Errorf("lines = %q, want the one complaint", lines)
			}
		})
	}
}

// TestDumpedIn checks that a test that failed with a child process's stack
// dump (kit.Isolated, its child timed out) is explained as a hang.
func TestDumpedIn(t *testing.T) {
	test := &testResult{name: "TestIsolated", action: "fail", output: []string{
		"=== RUN   TestIsolated",
		"    isolated.go:39: threads before: 12",
		"        panic: test timed out after 12s",
		"        \trunning tests:",
		"        \t\tTestIsolated (12s)",
		"        ",
		"        goroutine 9 [sync.Mutex.Lock]:",
		"        example.com/kata/exercises/02-x.(*Server).handle(0x1)",
		"        \t/src/kata/exercises/02-x/server.go:113 +0x1d",
		"--- FAIL: TestIsolated (12.50s)",
	}}
	p := &pkgResult{tests: []*testResult{test}, byName: map[string]*testResult{test.name: test}}
	c := dumpedIn(p, test)
	if c == nil {
		t.Fatal("dumpedIn = nil, want the child's hang")
	}
	if c.hung != 12*time.Second || !c.child {
		t.Errorf("hung %v, child %v; want 12s and true", c.hung, c.child)
	}
	s := step{name: "02-x", repo: repo{root: "/src/kata"}}
	text := strings.Join(explainCrash(s.repo, s, c), "\n")
	if !strings.Contains(text, "waiting (sync.Mutex.Lock) in 02-x.(*Server).handle at exercises/02-x/server.go:113") {
		t.Errorf("explainCrash does not say where the child waited:\n%s", text)
	}
	if got := untilDump(failureLines(p, test.name)); !slices.Equal(got, []string{"threads before: 12"}) {
		t.Errorf("the test's own lines = %q, want only what it said before the dump", got)
	}
	plain := &testResult{name: "TestPlain", action: "fail", output: []string{"    x_test.go:3: goroutines were still running after Close:"}}
	if c := dumpedIn(p, plain); c != nil {
		t.Errorf("dumpedIn found a dump in a plain failure: %+v", c)
	}
	// kit.Isolated's own report of a child that hung.
	isolated := &testResult{name: "TestIsolated", action: "fail", output: []string{
		"    isolated.go:95: The test hung: its process stopped it after 12s, short of this test's own deadline, so that it could say where it was.",
		"        1 of its 5 goroutines were in code outside the runtime and testing packages:",
		"        ",
		"        goroutine 9 [sync.Mutex.Lock]:",
		"        example.com/kata/exercises/02-x.(*Server).handle(0x1)",
		"        \t/src/kata/exercises/02-x/server.go:113 +0x1d",
	}}
	if c := dumpedIn(p, isolated); c == nil || c.hung != 12*time.Second || c.how() != "hung" {
		t.Errorf("dumpedIn of kit.Isolated's report = %+v, want a hang past 12s", c)
	}
	// A failure message that lists goroutines is a failure, not a crash.
	listed := &testResult{name: "TestCloseWaits", action: "fail", output: []string{
		"    kit.go:101: Close returned while 4 calls were held:",
		"        goroutine 383 [chan receive (durable), synctest bubble 9]:",
		"        example.com/kata/exercises/01-x.(*Server).work(0x1)",
		"        \t/src/kata/exercises/01-x/server.go:100 +0x1d",
	}}
	if c := dumpedIn(p, listed); c != nil {
		t.Errorf("dumpedIn took a failure's goroutine listing for a crash: %+v", c)
	}
}

// TestRaceOnly checks that a failure of the race detector alone is told
// apart from one with an assertion's message.
func TestRaceOnly(t *testing.T) {
	race := []string{
		"=== RUN   TestX",
		"==================",
		"WARNING: DATA RACE",
		"Write at 0x00c000012345 by goroutine 9:",
		"  example.com/x.(*Server).work()",
		"      /src/x/server.go:100 +0x1d",
		"==================",
		"    testing.go:1617: race detected during execution of test",
		"--- FAIL: TestX (0.01s)",
	}
	tests := []struct {
		name   string
		output []string
		want   bool
	}{
		{"race only", race, true},
		{"race and an assertion", append(slices.Clone(race[:8]), "    x_test.go:12: 3 calls answered, want 4", race[8]), false},
		{"an assertion only", []string{"=== RUN   TestX", "    x_test.go:12: 3 calls answered, want 4", "--- FAIL: TestX (0.01s)"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			test := &testResult{name: "TestX", action: "fail", output: tt.output}
			p := &pkgResult{tests: []*testResult{test}, byName: map[string]*testResult{test.name: test}}
			if got := raceOnly(p, "TestX"); got != tt.want {
				t.Errorf("raceOnly = %v, want %v", got, tt.want)
			}
		})
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
	s := step{name: "01-x", repo: repo{root: root}}
	code := codeSet{"server.go": filepath.Join(root, ".kata", "wrong", "01-x", "bad", "server.go")}
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

func TestStepMetaTestTimeout(t *testing.T) {
	tests := []struct {
		json    string
		want    time.Duration
		wantErr bool
	}{
		{`{"title": "x"}`, 0, false},
		{`{"test_timeout": "40s"}`, 40 * time.Second, false},
		{`{"test_timeout": "forty"}`, 0, true},
		{`{"test_timeout": "-1s"}`, 0, true},
	}
	for _, tt := range tests {
		var m stepMeta
		err := json.Unmarshal([]byte(tt.json), &m)
		if (err != nil) != tt.wantErr || m.TestTimeout != tt.want {
			t.Errorf("%s: TestTimeout %v, err %v; want %v, error %v", tt.json, m.TestTimeout, err, tt.want, tt.wantErr)
		}
		if lim := testLimit(step{meta: m}); err == nil && tt.want == 0 && lim != defaultTestLimit {
			t.Errorf("%s: limit %v, want the default %v", tt.json, lim, defaultTestLimit)
		}
	}
}
