// Package chain holds the kata's steps to their chain: each step's starter
// (exercises/NN) is the previous step's solution (solutions/NN-1) plus what
// its own lesson needs, and nothing else. A fix made in one solution must
// therefore reach the next step's starter, and through it the steps after.
//
// What a lesson changes is declared in its step.json, under "lesson":
//
//	"lesson": {
//	  "files": ["batcher.go"],
//	  "decls": ["server.go:Config", "server.go:Server.read", "server.go:slotOf"]
//	}
//
// An entry of files is a whole file that belongs to the lesson: new in the
// starter, rewritten, or dropped. An entry of decls is a top-level
// declaration of another file that the lesson adds, changes or removes,
// named as file.go:Name, where Name is
//
//   - a function's, a type's, a var's or a const's name: "server.go:slotOf",
//     "server.go:Config";
//   - a method's, after its receiver's base type: "server.go:Server.read",
//     "batcher.go:Batcher.Add" for func (b *Batcher[T]) Add;
//   - any name of a group (const ( … ), var ( … )): the group is one
//     declaration, and "server.go:DefaultQueueLimit" names the group that
//     declares DefaultQueueLimit;
//   - Name#2, Name#3, … for the second and later declarations of a name a
//     file may declare more than once ("init#2", "_#2").
//
// [Compare] checks the contract: the two directories' non-test .go files,
// declaration by declaration, must be the same but for what the lesson
// declares. A declaration's text is its doc comment, the comments that
// float above it, and the declaration itself, trailing comment included
// (the last one's takes the comments that end the file too). The package
// clause (each step's package has its own name and doc), the imports (they
// follow from the code) and the test files are not compared. A lesson
// entry that declares nothing (names no declaration, or one that does not
// differ) is reported too, so that stale entries do not pile up.
//
// [Carry] makes the contract hold again after a fix: it carries every
// difference the lesson does not declare from the previous solution into
// the starter, and into the step's own solution where the lesson's
// solution left that declaration as the starter had it.
package chain

import (
	"cmp"
	"errors"
	"fmt"
	"go/token"
	"maps"
	"path/filepath"
	"slices"
	"strings"
)

// errEntry is the error of a lesson entry that is not of the form step.json
// wants.
var errEntry = errors.New(`want "file.go" in files, "file.go:Name" or "file.go:Type.Method" in decls`)

// Lesson is what a step declares as its lesson: the "lesson" field of its
// step.json.
type Lesson struct {
	// Files are whole files that belong to the lesson: "batcher.go".
	Files []string `json:"files,omitempty"`
	// Decls are top-level declarations of other files that the lesson
	// adds, changes or removes: "server.go:Server.read".
	Decls []string `json:"decls,omitempty"`
}

// check reports the first entry of l that is not of the form step.json
// wants, or that l lists twice.
func (l Lesson) check() error {
	seen := make(map[string]bool)
	for _, f := range l.Files {
		if !isGoFile(f) {
			return fmt.Errorf("file %q: %w", f, errEntry)
		}
		if seen[f] {
			return fmt.Errorf("file %q is listed twice", f)
		}
		seen[f] = true
	}
	for _, d := range l.Decls {
		file, name, ok := strings.Cut(d, ":")
		if !ok || !isGoFile(file) || !isDeclName(name) {
			return fmt.Errorf("decl %q: %w", d, errEntry)
		}
		if seen[d] {
			return fmt.Errorf("decl %q is listed twice", d)
		}
		seen[d] = true
	}
	return nil
}

// isGoFile reports whether name is a bare non-test .go file's name.
func isGoFile(name string) bool {
	return strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go") &&
		!strings.ContainsAny(name, `/\:`) && len(name) > len(".go")
}

// isDeclName reports whether name is of the form Name, Type.Method or
// Name#N.
func isDeclName(name string) bool {
	name, n, numbered := strings.Cut(name, "#")
	if numbered && (n == "" || strings.Trim(n, "0123456789") != "") {
		return false
	}
	parts := strings.Split(name, ".")
	if len(parts) > 2 {
		return false
	}
	for _, p := range parts {
		if !token.IsIdentifier(p) {
			return false
		}
	}
	return true
}

// A Place is a line of a file in one of the steps' directories.
type Place struct {
	Dir  string // the directory, as given to Compare or Carry
	File string // the file's name in it: "server.go"
	Line int    // from 1; 0 where no line applies
}

// String returns "dir/file:line", without the line where it has none.
func (p Place) String() string {
	s := filepath.ToSlash(filepath.Join(p.Dir, p.File))
	if p.Line > 0 {
		s += fmt.Sprintf(":%d", p.Line)
	}
	return s
}

// Kind is what a Difference is.
type Kind int

// The kinds of Difference.
const (
	// Changed: both have the declaration, and it differs.
	Changed Kind = iota
	// OnlyInStarter: the starter has a declaration the solution lacks.
	OnlyInStarter
	// OnlyInSolution: the solution has a declaration the starter lacks.
	OnlyInSolution
	// FileOnlyInStarter: the starter has a file the solution lacks.
	FileOnlyInStarter
	// FileOnlyInSolution: the solution has a file the starter lacks.
	FileOnlyInSolution
	// Stale: a lesson entry declares nothing: it names no declaration or
	// file of either, or one that is the same in both.
	Stale
)

var kindNames = [...]string{"changed", "only in the starter", "only in the solution", "file only in the starter", "file only in the solution", "stale lesson entry"}

func (k Kind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return fmt.Sprintf("Kind(%d)", int(k))
	}
	return kindNames[k]
}

// A Difference is one way a starter is not the previous step's solution
// plus its lesson.
type Difference struct {
	Kind Kind
	// Entry is the lesson entry that would declare it, as step.json
	// spells it ("server.go:Server.read", or "batcher.go" for a whole
	// file); for Stale, the entry that declares nothing.
	Entry string
	// What names the declaration for people: "func (s *Server) read",
	// "type Config", "const (DefaultIdleTimeout, DefaultQueueLimit, …)";
	// "" for a whole file or a stale entry.
	What string
	// Starter and Solution are where it is on each side: the first line
	// that differs, or the declaration's first line; Line is 0 on a side
	// that lacks it. For Stale, Starter is the starter's step.json.
	Starter, Solution Place
	// StarterText and SolutionText are the first line that differs, as
	// each side has it, trimmed, for Changed; "" on a side whose text ends
	// where the other's goes on.
	StarterText, SolutionText string
	// Why says, for Stale, why the entry declares nothing.
	Why string

	starterEnds, solutionEnds bool // a side's text ends where the other's goes on
}

// String says what differs, where, and what to do, in one line.
func (d Difference) String() string {
	declare := fmt.Sprintf("is not declared in step.json's lesson (%q)", d.Entry)
	switch d.Kind {
	case Changed:
		return fmt.Sprintf("%s: %s differs from %s and %s: starter has %s, solution has %s",
			d.Starter, d.What, d.Solution, declare, quote(d.StarterText, d.starterEnds), quote(d.SolutionText, d.solutionEnds))
	case OnlyInStarter:
		return fmt.Sprintf("%s: %s is only in the starter, not in %s, and %s", d.Starter, d.What, d.Solution, declare)
	case OnlyInSolution:
		return fmt.Sprintf("%s: %s of %s is missing from the starter, and %s", d.Starter, d.What, d.Solution, declare)
	case FileOnlyInStarter:
		return fmt.Sprintf("%s: the file is only in the starter, not in %s, and %s", d.Starter, d.Solution.Dir, declare)
	case FileOnlyInSolution:
		return fmt.Sprintf("%s: the file is missing from the starter, though %s has it, and %s", d.Starter, d.Solution, declare)
	case Stale:
		return fmt.Sprintf("%s: the lesson declares %q, which %s: remove it", d.Starter, d.Entry, d.Why)
	}
	return fmt.Sprintf("%s: %v %s", d.Starter, d.Kind, d.Entry)
}

// quote shows a line of code in backquotes, or says that there is none.
func quote(line string, ended bool) string {
	switch {
	case ended:
		return "nothing more (its text ends there)"
	case line == "":
		return "a blank line"
	}
	const most = 120
	if r := []rune(line); len(r) > most {
		line = string(r[:most]) + "…"
	}
	return "`" + line + "`"
}

// Compare compares the non-test .go files of a step's starter with those of
// the previous step's solution, declaration by declaration, and returns
// every difference that the lesson does not declare, and every lesson entry
// that declares nothing, in the order of the files' names and lines. No
// difference means the chain holds. The error is about reading the
// directories or the lesson, never about a difference.
func Compare(prevSolutionDir, nextStarterDir string, l Lesson) ([]Difference, error) {
	s, err := survey(prevSolutionDir, nextStarterDir, l)
	if err != nil {
		return nil, err
	}
	var diffs []Difference
	for _, f := range s.findings {
		if !f.declared {
			diffs = append(diffs, f.difference(prevSolutionDir, nextStarterDir))
		}
	}
	return append(diffs, s.stale...), nil
}

// A finding is one difference between a solution and the next starter,
// declared by the lesson or not.
type finding struct {
	file string
	// whole is set when the file is in one directory only: inPrev says
	// which.
	whole, inPrev bool
	pair          pair // the declaration, when not whole
	entry         string
	declared      bool
}

// difference describes f as a Difference.
func (f finding) difference(prevDir, nextDir string) Difference {
	d := Difference{
		Entry:    f.entry,
		Starter:  Place{Dir: nextDir, File: f.file},
		Solution: Place{Dir: prevDir, File: f.file},
	}
	switch {
	case f.whole && f.inPrev:
		d.Kind = FileOnlyInSolution
	case f.whole:
		d.Kind = FileOnlyInStarter
	case f.pair.old == nil:
		d.Kind, d.What, d.Starter.Line = OnlyInStarter, f.pair.new.what, f.pair.new.line
	case f.pair.new == nil:
		d.Kind, d.What, d.Solution.Line = OnlyInSolution, f.pair.old.what, f.pair.old.line
	default:
		d.Kind, d.What = Changed, f.pair.new.what
		oldLines, newLines := strings.Split(f.pair.old.text, "\n"), strings.Split(f.pair.new.text, "\n")
		i := 0
		for i < len(oldLines) && i < len(newLines) && oldLines[i] == newLines[i] {
			i++
		}
		d.Starter.Line, d.Solution.Line = f.pair.new.line+min(i, len(newLines)-1), f.pair.old.line+min(i, len(oldLines)-1)
		if i < len(newLines) {
			d.StarterText = strings.TrimSpace(newLines[i])
		} else {
			d.starterEnds = true
		}
		if i < len(oldLines) {
			d.SolutionText = strings.TrimSpace(oldLines[i])
		} else {
			d.solutionEnds = true
		}
	}
	return d
}

// A surveyed pair of directories: every difference, and the stale entries
// of the lesson.
type surveyed struct {
	prev, next map[string]*source
	findings   []finding
	stale      []Difference
}

// survey finds every difference between a solution and the next starter,
// and tells the declared ones from the others.
func survey(prevDir, nextDir string, l Lesson) (surveyed, error) {
	if err := l.check(); err != nil {
		return surveyed{}, fmt.Errorf("step.json's lesson: %w", err)
	}
	prev, err := loadDir(prevDir)
	if err != nil {
		return surveyed{}, err
	}
	next, err := loadDir(nextDir)
	if err != nil {
		return surveyed{}, err
	}
	s := surveyed{prev: prev, next: next}
	wholeFiles := make(map[string]bool)
	for _, f := range l.Files {
		wholeFiles[f] = true
	}
	used := make(map[string]bool) // lesson entries that declare a difference
	names := slices.Sorted(maps.Keys(prev))
	for name := range next {
		if prev[name] == nil {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		old, new := prev[name], next[name]
		if old == nil || new == nil {
			f := finding{file: name, whole: true, inPrev: old != nil, entry: name, declared: wholeFiles[name]}
			used[name] = f.declared
			s.findings = append(s.findings, f)
			continue
		}
		for _, p := range pairDecls(old, new) {
			if p.same() {
				continue
			}
			f := finding{file: name, pair: p, entry: name + ":" + p.entryName()}
			if wholeFiles[name] {
				f.declared, used[name] = true, true
			} else if e := entryFor(l.Decls, name, p); e != "" {
				f.declared, used[e] = true, true
			}
			s.findings = append(s.findings, f)
		}
	}
	staleDir := Place{Dir: nextDir, File: "step.json"}
	for _, f := range l.Files {
		if used[f] {
			continue
		}
		why := "is the same in both, but for its package clause and imports"
		if prev[f] == nil && next[f] == nil {
			why = "is a file of neither the starter nor the solution"
		}
		s.stale = append(s.stale, Difference{Kind: Stale, Entry: f, Starter: staleDir, Why: why})
	}
	for _, e := range l.Decls {
		if used[e] {
			continue
		}
		file, name, _ := strings.Cut(e, ":")
		why := "is the same in both"
		switch {
		case wholeFiles[file]:
			why = fmt.Sprintf("is inside %q, which the lesson declares whole", file)
		case !declares(prev[file], next[file], name):
			why = fmt.Sprintf("names no declaration of %s, in the starter or the solution", file)
		}
		s.stale = append(s.stale, Difference{Kind: Stale, Entry: e, Starter: staleDir, Why: why})
	}
	slices.SortStableFunc(s.findings, func(a, b finding) int {
		return cmp.Or(strings.Compare(a.file, b.file), cmp.Compare(a.line(), b.line()))
	})
	return s, nil
}

// line is where f is: its line in the starter, else in the solution.
func (f finding) line() int {
	switch {
	case f.whole:
		return 0
	case f.pair.new != nil:
		return f.pair.new.line
	}
	return f.pair.old.line
}

// entryFor returns the lesson entry of decls that names p in file, or "".
func entryFor(decls []string, file string, p pair) string {
	for _, e := range decls {
		f, name, _ := strings.Cut(e, ":")
		if f == file && p.answers(name) {
			return e
		}
	}
	return ""
}

// declares reports whether either file has a declaration that answers to
// name.
func declares(a, b *source, name string) bool {
	for _, s := range []*source{a, b} {
		if s != nil && slices.ContainsFunc(s.decls, func(d *decl) bool { return d.answers(name) }) {
			return true
		}
	}
	return false
}
