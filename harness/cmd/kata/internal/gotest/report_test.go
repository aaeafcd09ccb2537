package gotest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ocppkata/kata/harness/cmd/kata/internal/step"
)

func TestGoroutines(t *testing.T) {
	s := step.Step{Name: "01-x", Repo: step.Repo{Root: "/src/kata"}}
	dump := []string{
		"goroutine 12 [chan send]:",
		"example.com/kata/exercises/01-x.(*Server).read(0xc000)",
		"\t/src/kata/exercises/01-x/server.go:80 +0x1d",
		"net/http.(*conn).serve(0xc001)",
		"\t/usr/local/go/src/net/http/server.go:2000 +0x5",
		"",
		"goroutine 13 [chan send]:",
		"example.com/kata/exercises/01-x.(*Server).read(0xc000)",
		"\t/src/kata/exercises/01-x/server.go:80 +0x1d",
		"created by example.com/kata/exercises/01-x.(*Server).Serve in goroutine 1",
		"\t/src/kata/exercises/01-x/server.go:60 +0x5",
	}
	got := goroutines(s.Repo, s, dump)
	want := []string{"  waiting (chan send) in 01-x.(*Server).read at exercises/01-x/server.go:80 (2 goroutines)"}
	if !slices.Equal(got, want) {
		t.Errorf("goroutines = %q, want %q", got, want)
	}
}

func TestMessages(t *testing.T) {
	test := &TestResult{Output: []string{
		"=== RUN   TestX",
		"    x_test.go:30: x_test.go:45: first",
		"        second line",
		"        x_test.go:46: another message",
		"--- FAIL: TestX (0.00s)",
	}}
	want := []string{"first", "  second line", "another message"}
	if got := Messages(test); !slices.Equal(got, want) {
		t.Errorf("messages = %q, want %q", got, want)
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
			if got := CondenseRepeats(tt.lines); !slices.Equal(got, tt.want) {
				t.Errorf("condenseRepeats =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
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
			var evs []TestEvent
			for _, line := range tt.output {
				evs = append(evs, TestEvent{Action: "build-output", ImportPath: pkg, Output: line + "\n"})
			}
			lines, vet := BuildComplaint(ParseTestJSON(events(t, evs...)))
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
	test := &TestResult{Name: "TestIsolated", Action: "fail", Output: []string{
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
	p := &pkgResult{Tests: []*TestResult{test}, ByName: map[string]*TestResult{test.Name: test}}
	c := DumpedIn(p, test)
	if c == nil {
		t.Fatal("dumpedIn = nil, want the child's hang")
	}
	if c.Hung != 12*time.Second || !c.child {
		t.Errorf("hung %v, child %v; want 12s and true", c.Hung, c.child)
	}
	s := step.Step{Name: "02-x", Repo: step.Repo{Root: "/src/kata"}}
	text := strings.Join(ExplainCrash(s.Repo, s, c), "\n")
	if !strings.Contains(text, "waiting (sync.Mutex.Lock) in 02-x.(*Server).handle at exercises/02-x/server.go:113") {
		t.Errorf("explainCrash does not say where the child waited:\n%s", text)
	}
	if got := UntilDump(FailureLines(p, test.Name)); !slices.Equal(got, []string{"threads before: 12"}) {
		t.Errorf("the test's own lines = %q, want only what it said before the dump", got)
	}
	plain := &TestResult{Name: "TestPlain", Action: "fail", Output: []string{"    x_test.go:3: goroutines were still running after Close:"}}
	if c := DumpedIn(p, plain); c != nil {
		t.Errorf("dumpedIn found a dump in a plain failure: %+v", c)
	}
	// kit.Isolated's own report of a child that hung.
	isolated := &TestResult{Name: "TestIsolated", Action: "fail", Output: []string{
		"    isolated.go:95: The test hung: its process stopped it after 12s, short of this test's own deadline, so that it could say where it was.",
		"        1 of its 5 goroutines were in code outside the runtime and testing packages:",
		"        ",
		"        goroutine 9 [sync.Mutex.Lock]:",
		"        example.com/kata/exercises/02-x.(*Server).handle(0x1)",
		"        \t/src/kata/exercises/02-x/server.go:113 +0x1d",
	}}
	if c := DumpedIn(p, isolated); c == nil || c.Hung != 12*time.Second || c.How() != "hung" {
		t.Errorf("dumpedIn of kit.Isolated's report = %+v, want a hang past 12s", c)
	}
	// A failure message that lists goroutines is a failure, not a crash.
	listed := &TestResult{Name: "TestCloseWaits", Action: "fail", Output: []string{
		"    kit.go:101: Close returned while 4 calls were held:",
		"        goroutine 383 [chan receive (durable), synctest bubble 9]:",
		"        example.com/kata/exercises/01-x.(*Server).work(0x1)",
		"        \t/src/kata/exercises/01-x/server.go:100 +0x1d",
	}}
	if c := DumpedIn(p, listed); c != nil {
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
			test := &TestResult{Name: "TestX", Action: "fail", Output: tt.output}
			p := &pkgResult{Tests: []*TestResult{test}, ByName: map[string]*TestResult{test.Name: test}}
			if got := RaceOnly(p, "TestX"); got != tt.want {
				t.Errorf("raceOnly = %v, want %v", got, tt.want)
			}
		})
	}
}
