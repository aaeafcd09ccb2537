package gotest

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/ocppkata/kata/harness/cmd/kata/internal/step"
)

// events renders go test -json lines from compact descriptions.
func events(t *testing.T, evs ...TestEvent) []byte {
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
	tr := ParseTestJSON(events(t,
		TestEvent{Action: "start", Package: pkg},
		TestEvent{Action: "run", Package: pkg, Test: "TestA"},
		TestEvent{Action: "output", Package: pkg, Test: "TestA", Output: "=== RUN   TestA\n"},
		TestEvent{Action: "pass", Package: pkg, Test: "TestA"},
		TestEvent{Action: "run", Package: pkg, Test: "TestB"},
		TestEvent{Action: "run", Package: pkg, Test: "TestB/two_workers"},
		TestEvent{Action: "output", Package: pkg, Test: "TestB/two_workers", Output: "    x_test.go:12: peak 1, want 2\n"},
		TestEvent{Action: "output", Package: pkg, Test: "TestB/two_workers", Output: "        every call waited\n"},
		TestEvent{Action: "fail", Package: pkg, Test: "TestB/two_workers"},
		TestEvent{Action: "fail", Package: pkg, Test: "TestB"},
		TestEvent{Action: "fail", Package: pkg},
	))
	p := tr.Only()
	if tr.BuildFailed() || p.Crashed() {
		t.Fatalf("build failed %v, crashed %v: want neither", tr.BuildFailed(), p.Crashed())
	}
	var top []string
	for _, test := range p.TopLevel() {
		top = append(top, test.Name+":"+test.Action)
	}
	if want := []string{"TestA:pass", "TestB:fail"}; !slices.Equal(top, want) {
		t.Errorf("top-level tests %v, want %v", top, want)
	}
	if passed, failed := tr.Counts(); passed != 1 || failed != 2 {
		t.Errorf("counts %d passed, %d failed; want 1 and 2", passed, failed)
	}
	got := FailureLines(p, "TestB")
	want := []string{"two workers:", "  peak 1, want 2", "    every call waited"}
	if !slices.Equal(got, want) {
		t.Errorf("failureLines = %q, want %q", got, want)
	}
}

func TestParseTestJSONBuildFailure(t *testing.T) {
	const pkg = "example.com/kata/exercises/01-x"
	tr := ParseTestJSON(events(t,
		TestEvent{Action: "build-output", ImportPath: pkg, Output: "# " + pkg + "\n"},
		TestEvent{Action: "build-output", ImportPath: pkg, Output: "exercises/01-x/server.go:3:2: undefined: x\n"},
		TestEvent{Action: "build-fail", ImportPath: pkg},
		TestEvent{Action: "start", Package: pkg},
		TestEvent{Action: "fail", Package: pkg, FailedBuild: pkg},
	))
	if !tr.BuildFailed() {
		t.Fatal("buildFailed = false, want true")
	}
	s := step.Step{Name: "01-x"}
	lines := CompilerLines(tr)
	if want := []string{"  exercises/01-x/server.go:3:2: undefined: x"}; !slices.Equal(lines, want) {
		t.Errorf("compilerLines = %q, want %q", lines, want)
	}
	if got := WhatBroke(s, "your code", lines); got != "your code does not compile" {
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
			tr := ParseTestJSON(events(t,
				TestEvent{Action: "run", Package: pkg, Test: "TestHang"},
				TestEvent{Action: "output", Package: pkg, Test: "TestHang", Output: tt.line + "\n"},
				TestEvent{Action: "output", Package: pkg, Test: "TestHang", Output: "goroutine 7 [chan send]:\n"},
				TestEvent{Action: "fail", Package: pkg},
			))
			p := tr.Only()
			if !p.Crashed() {
				t.Fatal("crashed = false, want true")
			}
			if got := p.timeout != ""; got != tt.wantTimeout {
				t.Errorf("timed out = %v, want %v", got, tt.wantTimeout)
			}
			if p.panicTest != "TestHang" {
				t.Errorf("panicTest = %q, want TestHang", p.panicTest)
			}
			if u := p.unfinished(); len(u) != 1 || u[0].Name != "TestHang" {
				t.Errorf("unfinished = %v, want TestHang", u)
			}
		})
	}
}
