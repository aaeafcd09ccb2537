package chain

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// solution is the previous step's solution of most fixtures: package one.
const solution = `// Package one is step one.
package one

import (
	"fmt"
	"strings"
)

// Server serves.
type Server struct {
	name string // who it is
}

// Config configures.
type Config struct{ N int }

// Limits.
const (
	A = 1
	B = 2
)

// Hello greets.
func (s *Server) Hello() string { return fmt.Sprint("hello ", s.name) }

// Hello is a function of that name too.
func Hello() string { return strings.ToUpper("hi") }

// Client is another type with a Hello.
type Client struct{}

// Hello answers for the client.
func (c *Client) Hello() string { return "client" }
`

// starter is solution as the next step's starter has it, with a package
// of its own.
var starter = rename(solution, "two")

// rename gives src the package name and doc of another step.
func rename(src, pkg string) string {
	src = strings.Replace(src, "// Package one is step one.\npackage one", "// Package "+pkg+" is another step.\npackage "+pkg, 1)
	return src
}

// replaceOnce replaces old with new in src once, and fails the test if src
// lacks old.
func replaceOnce(t *testing.T, src, old, new string) string {
	t.Helper()
	if !strings.Contains(src, old) {
		t.Fatalf("fixture lacks %q", old)
	}
	return strings.Replace(src, old, new, 1)
}

// writeDir writes files (name to content) into a new temporary directory.
func writeDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// readDir returns the files of dir, name to content.
func readDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := make(map[string]string)
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = string(data)
	}
	return files
}

func TestCompare(t *testing.T) {
	// want is a difference as the test checks it: its kind and entry,
	// and a piece of its message.
	type want struct {
		kind  Kind
		entry string
		says  string
	}
	tests := []struct {
		name    string
		prev    map[string]string
		next    map[string]string
		lesson  Lesson
		want    []want
		wantErr string
	}{
		{
			name: "identical but for the package clause, imports and test files",
			prev: map[string]string{"s.go": solution},
			next: map[string]string{
				"s.go":      replaceOnce(t, starter, "\"fmt\"\n", "\"fmt\"\n\t\"os\"\n\n"),
				"s_test.go": "package two\n\nfunc helper() {}\n",
			},
		},
		{
			name: "changed declaration",
			prev: map[string]string{"s.go": solution},
			next: map[string]string{"s.go": replaceOnce(t, starter, `"hello "`, `"hi "`)},
			want: []want{{Changed, "s.go:Server.Hello", "s.go:24: func (s *Server) Hello differs from"}},
		},
		{
			name: "changed doc comment",
			prev: map[string]string{"s.go": solution},
			next: map[string]string{"s.go": replaceOnce(t, starter, "// Config configures.", "// Config configures it all.")},
			want: []want{{Changed, "s.go:Config", "starter has `// Config configures it all.`, solution has `// Config configures.`"}},
		},
		{
			name: "changed trailing comment",
			prev: map[string]string{"s.go": solution},
			next: map[string]string{"s.go": replaceOnce(t, starter, "// who it is", "// its name")},
			want: []want{{Changed, "s.go:Server", "s.go:11: type Server differs"}},
		},
		{
			name: "a comment that ends the file",
			prev: map[string]string{"s.go": solution + "\n// That is all.\n"},
			next: map[string]string{"s.go": starter + "\n// That is all there is.\n"},
			want: []want{{Changed, "s.go:Client.Hello", "starter has `// That is all there is.`"}},
		},
		{
			name:   "declared declaration",
			prev:   map[string]string{"s.go": solution},
			next:   map[string]string{"s.go": replaceOnce(t, starter, `"hello "`, `"hi "`)},
			lesson: Lesson{Decls: []string{"s.go:Server.Hello"}},
		},
		{
			name: "methods of one name on two types",
			prev: map[string]string{"s.go": solution},
			next: map[string]string{"s.go": replaceOnce(t, starter, `return "client"`, `return "the client"`)},
			// Server.Hello declares nothing: Client.Hello is what differs.
			lesson: Lesson{Decls: []string{"s.go:Server.Hello"}},
			want: []want{
				{Changed, "s.go:Client.Hello", "func (c *Client) Hello differs"},
				{Stale, "s.go:Server.Hello", "which is the same in both: remove it"},
			},
		},
		{
			name: "function of a method's name",
			prev: map[string]string{"s.go": solution},
			next: map[string]string{"s.go": replaceOnce(t, starter, `"hi"`, `"ho"`)},
			want: []want{{Changed, "s.go:Hello", "func Hello differs"}},
		},
		{
			name: "only in the starter",
			prev: map[string]string{"s.go": solution},
			next: map[string]string{"s.go": starter + "\n// Extra is new.\nfunc Extra() {}\n"},
			want: []want{{OnlyInStarter, "s.go:Extra", "s.go:35: func Extra is only in the starter"}},
		},
		{
			name: "only in the solution",
			prev: map[string]string{"s.go": solution},
			next: map[string]string{"s.go": replaceOnce(t, starter, "// Config configures.\ntype Config struct{ N int }\n", "")},
			want: []want{{OnlyInSolution, "s.go:Config", "type Config of "}},
		},
		{
			name:   "a name added to a group, declared by that name",
			prev:   map[string]string{"s.go": solution},
			next:   map[string]string{"s.go": replaceOnce(t, starter, "B = 2\n", "B = 2\n\tC = 3\n")},
			lesson: Lesson{Decls: []string{"s.go:C"}},
		},
		{
			name: "a name added to a group, undeclared",
			prev: map[string]string{"s.go": solution},
			next: map[string]string{"s.go": replaceOnce(t, starter, "B = 2\n", "B = 2\n\tC = 3\n")},
			want: []want{{Changed, "s.go:C", "const (A, B, C) differs"}},
		},
		{
			name: "new file, undeclared",
			prev: map[string]string{"s.go": solution},
			next: map[string]string{"s.go": starter, "new.go": "package two\n\nfunc New() {}\n"},
			want: []want{{FileOnlyInStarter, "new.go", "new.go: the file is only in the starter"}},
		},
		{
			name:   "new file, declared",
			prev:   map[string]string{"s.go": solution},
			next:   map[string]string{"s.go": starter, "new.go": "package two\n\nfunc New() {}\n"},
			lesson: Lesson{Files: []string{"new.go"}},
		},
		{
			name: "file missing from the starter",
			prev: map[string]string{"s.go": solution, "old.go": "package one\n\nfunc Old() {}\n"},
			next: map[string]string{"s.go": starter},
			want: []want{{FileOnlyInSolution, "old.go", "old.go: the file is missing from the starter"}},
		},
		{
			name:   "file rewritten, declared whole",
			prev:   map[string]string{"s.go": solution, "w.go": "package one\n\nfunc W() int { return 1 }\n"},
			next:   map[string]string{"s.go": starter, "w.go": "package two\n\nfunc W() int { return 2 }\n"},
			lesson: Lesson{Files: []string{"w.go"}},
		},
		{
			name: "stale entries",
			prev: map[string]string{"s.go": solution, "w.go": "package one\n\nfunc W() {}\n"},
			next: map[string]string{"s.go": starter, "w.go": "package two\n\nfunc W() {}\n"},
			lesson: Lesson{
				Files: []string{"w.go", "gone.go"},
				Decls: []string{"s.go:Nothing", "s.go:Config", "w.go:W"},
			},
			want: []want{
				{Stale, "w.go", "is the same in both, but for its package clause and imports"},
				{Stale, "gone.go", "is a file of neither the starter nor the solution"},
				{Stale, "s.go:Nothing", "names no declaration of s.go, in the starter or the solution"},
				{Stale, "s.go:Config", "is the same in both"},
				{Stale, "w.go:W", `is inside "w.go", which the lesson declares whole`},
			},
		},
		{
			name: "a method of a generic type, by its base type",
			prev: map[string]string{"g.go": "package one\n\ntype Box[T any] struct{ v T }\n\nfunc (b *Box[T]) Get() T { return b.v }\n"},
			next: map[string]string{"g.go": "package two\n\ntype Box[T any] struct{ v T }\n\nfunc (b *Box[T]) Get() (v T) { return b.v }\n"},
			want: []want{{Changed, "g.go:Box.Get", "func (b *Box[T]) Get differs"}},
		},
		{
			name: "a name declared twice",
			prev: map[string]string{"i.go": "package one\n\nfunc init() {}\n\nfunc init() { println() }\n"},
			next: map[string]string{"i.go": "package two\n\nfunc init() {}\n\nfunc init() { print() }\n"},
			want: []want{{Changed, "i.go:init#2", "func init differs"}},
		},
		{
			name:    "malformed entry",
			prev:    map[string]string{"s.go": solution},
			next:    map[string]string{"s.go": starter},
			lesson:  Lesson{Decls: []string{"s.go"}},
			wantErr: `step.json's lesson: decl "s.go": want`,
		},
		{
			name:    "entry listed twice",
			prev:    map[string]string{"s.go": solution},
			next:    map[string]string{"s.go": starter},
			lesson:  Lesson{Decls: []string{"s.go:Config", "s.go:Config"}},
			wantErr: "listed twice",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prev, next := writeDir(t, tt.prev), writeDir(t, tt.next)
			diffs, err := Compare(prev, next, tt.lesson)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Compare: error %v, want one that says %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(diffs) != len(tt.want) {
				t.Errorf("Compare found %d differences, want %d:", len(diffs), len(tt.want))
				for _, d := range diffs {
					t.Log(d)
				}
				return
			}
			for i, d := range diffs {
				w := tt.want[i]
				if d.Kind != w.kind || d.Entry != w.entry || !strings.Contains(d.String(), w.says) {
					t.Errorf("difference %d: %v %q\n%s\nwant %v %q, saying %q", i, d.Kind, d.Entry, d, w.kind, w.entry, w.says)
				}
			}
		})
	}
}

// TestDifferenceString checks that a failure reads as the maintainer needs
// it: the starter's file and line, the solution's, the entry to declare,
// and the first line that differs on each side.
func TestDifferenceString(t *testing.T) {
	prev := writeDir(t, map[string]string{"s.go": solution})
	next := writeDir(t, map[string]string{"s.go": replaceOnce(t, starter, `"hello "`, `"hi "`)})
	diffs, err := Compare(prev, next, Lesson{})
	if err != nil || len(diffs) != 1 {
		t.Fatalf("Compare: %v, %v; want one difference", diffs, err)
	}
	want := filepath.ToSlash(next) + "/s.go:24: func (s *Server) Hello differs from " + filepath.ToSlash(prev) + "/s.go:24 and is not declared in step.json's lesson " +
		"(\"s.go:Server.Hello\"): starter has `func (s *Server) Hello() string { return fmt.Sprint(\"hi \", s.name) }`, " +
		"solution has `func (s *Server) Hello() string { return fmt.Sprint(\"hello \", s.name) }`"
	if got := diffs[0].String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestCarry(t *testing.T) {
	fixed := replaceOnce(t, solution, `"hello "`, `"hello, "`) // the fix made in the previous solution
	// The lesson adds Extra to the starter; its solution fills it in.
	lesson := Lesson{Decls: []string{"s.go:Extra"}}
	withExtra := func(src, body string) string {
		return src + "\n// Extra is the lesson.\nfunc Extra() int { " + body + " }\n"
	}
	nextStarter := withExtra(starter, "return -1")
	nextSolution := withExtra(rename(solution, "two"), "return 42")

	tests := []struct {
		name         string
		prev         map[string]string
		starter      map[string]string
		solution     map[string]string
		lesson       Lesson
		wantStarter  map[string]string
		wantSolution map[string]string
		wantReport   []string // pieces of the report's lines, in order
	}{
		{
			name:         "a fix carried into the starter and the solution",
			prev:         map[string]string{"s.go": fixed},
			starter:      map[string]string{"s.go": nextStarter},
			solution:     map[string]string{"s.go": nextSolution},
			lesson:       lesson,
			wantStarter:  map[string]string{"s.go": withExtra(rename(fixed, "two"), "return -1")},
			wantSolution: map[string]string{"s.go": withExtra(rename(fixed, "two"), "return 42")},
			wantReport: []string{
				"s.go: replaced s.go:Server.Hello with the previous solution's",
				"s.go: replaced s.go:Server.Hello with the previous solution's",
			},
		},
		{
			name:        "the lesson's solution changed it: a conflict",
			prev:        map[string]string{"s.go": fixed},
			starter:     map[string]string{"s.go": nextStarter},
			solution:    map[string]string{"s.go": replaceOnce(t, nextSolution, `"hello "`, `"hey "`)},
			lesson:      lesson,
			wantStarter: map[string]string{"s.go": withExtra(rename(fixed, "two"), "return -1")},
			// The solution is left as it was.
			wantSolution: map[string]string{"s.go": replaceOnce(t, nextSolution, `"hello "`, `"hey "`)},
			wantReport: []string{
				"s.go: replaced s.go:Server.Hello",
				"s.go: CONFLICT: left s.go:Server.Hello alone: the next solution changed it (it is not the starter's); carry the fix by hand",
			},
		},
		{
			name:         "declarations added and removed, imports with them",
			prev:         map[string]string{"s.go": shoutPrev},
			starter:      map[string]string{"s.go": shoutStarter},
			solution:     map[string]string{"s.go": shoutSolution},
			lesson:       lesson,
			wantStarter:  map[string]string{"s.go": shoutStarterCarried},
			wantSolution: map[string]string{"s.go": shoutSolutionCarried},
			wantReport: []string{
				"s.go: replaced s.go:Hello with the previous solution's",
				"s.go: removed s.go:Args, which the previous solution does not have",
				"s.go: added s.go:Shout, from the previous solution",
				`s.go: removed import "os", no longer used`,
				`s.go: added import "path"`,
				`s.go: added import "strings"`,
				"s.go: added s.go:Shout, from the previous solution",
				`s.go: added import "path"`,
			},
		},
		{
			name:         "a removal the lesson's solution changed: a conflict",
			prev:         map[string]string{"s.go": solution},
			starter:      map[string]string{"s.go": starter + "\n// N is n.\nvar N = 1\n"},
			solution:     map[string]string{"s.go": starter + "\n// N is n.\nvar N = 2\n"},
			wantStarter:  map[string]string{"s.go": starter},
			wantSolution: map[string]string{"s.go": starter + "\n// N is n.\nvar N = 2\n"},
			wantReport: []string{
				"s.go: removed s.go:N, which the previous solution does not have",
				"s.go: CONFLICT: left s.go:N alone: the next solution changed it (it is not the starter's); carry the fix by hand",
			},
		},
		{
			name:         "a file carried whole",
			prev:         map[string]string{"s.go": solution, "f.go": "// Package one is step one.\npackage one\n\n// F is f.\nfunc F() {}\n"},
			starter:      map[string]string{"s.go": starter, "g.go": "package two\n\nfunc G() {}\n"},
			solution:     map[string]string{"s.go": starter, "g.go": "package two\n\nfunc G() {}\n"},
			wantStarter:  map[string]string{"s.go": starter, "f.go": "package two\n\n// F is f.\nfunc F() {}\n"},
			wantSolution: map[string]string{"s.go": starter, "f.go": "package two\n\n// F is f.\nfunc F() {}\n"},
			wantReport:   []string{"f.go: added the file", "g.go: removed the file", "f.go: added the file", "g.go: removed the file"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prev, next, sol := writeDir(t, tt.prev), writeDir(t, tt.starter), writeDir(t, tt.solution)
			r, err := Carry(prev, next, sol, tt.lesson)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(r.String()), "\n")
			if len(lines) != len(tt.wantReport) {
				t.Errorf("report has %d lines, want %d:\n%s", len(lines), len(tt.wantReport), r)
			} else {
				for i, w := range tt.wantReport {
					if !strings.Contains(lines[i], w) {
						t.Errorf("report line %d: %s\nwant one that says %q", i+1, lines[i], w)
					}
				}
			}
			checkDir(t, "starter", next, tt.wantStarter)
			checkDir(t, "next solution", sol, tt.wantSolution)

			// Idempotent: the second run changes nothing.
			r2, err := Carry(prev, next, sol, tt.lesson)
			if err != nil {
				t.Fatal(err)
			}
			if len(r2.Changes) != 0 {
				t.Errorf("the second Carry changed something:\n%s", r2)
			}
			checkDir(t, "starter after a second run", next, tt.wantStarter)
			checkDir(t, "next solution after a second run", sol, tt.wantSolution)
			diffs, err := Compare(prev, next, tt.lesson)
			if err != nil || len(diffs) != 0 {
				t.Errorf("after Carry, Compare: %v, %v; want no difference", diffs, err)
			}
		})
	}
}

// checkDir fails the test unless dir holds exactly the files of want.
func checkDir(t *testing.T, what, dir string, want map[string]string) {
	t.Helper()
	got := readDir(t, dir)
	for _, name := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[name]; !ok {
			t.Errorf("%s has %s, want no such file", what, name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		g, ok := got[name]
		if !ok {
			t.Errorf("%s lacks %s", what, name)
			continue
		}
		if g != want[name] {
			t.Errorf("%s's %s:\n%s\nwant:\n%s", what, name, g, want[name])
		}
	}
}

// The fixtures of a carry that adds and removes declarations, and the
// imports with them.
const (
	shoutPrev = `package one

import (
	"path"
	"strings"
)

func Hello() string { return strings.ToUpper("hi") }

type Client struct{}

func (c *Client) Hello() string { return "client" }

// Shout shouts.
func Shout(s string) string { return strings.ToUpper(s) + path.Ext(s) }
`
	shoutStarter = `package two

import "os"

func Hello() string { return "HI" }

type Client struct{}

// Args are the arguments.
var Args = os.Args

func (c *Client) Hello() string { return "client" }

// Extra is the lesson.
func Extra() int { return 0 }
`
	shoutStarterCarried = `package two

import (
	"path"
	"strings"
)

func Hello() string { return strings.ToUpper("hi") }

type Client struct{}

func (c *Client) Hello() string { return "client" }

// Shout shouts.
func Shout(s string) string { return strings.ToUpper(s) + path.Ext(s) }

// Extra is the lesson.
func Extra() int { return 0 }
`
	shoutSolution = `package two

import "strings"

func Hello() string { return strings.ToUpper("hi") }

type Client struct{}

func (c *Client) Hello() string { return "client" }

// Extra is the lesson.
func Extra() int { return 42 }
`
	shoutSolutionCarried = `package two

import (
	"path"
	"strings"
)

func Hello() string { return strings.ToUpper("hi") }

type Client struct{}

func (c *Client) Hello() string { return "client" }

// Shout shouts.
func Shout(s string) string { return strings.ToUpper(s) + path.Ext(s) }

// Extra is the lesson.
func Extra() int { return 42 }
`
)
