package chain

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"go/format"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// errNoPackage is the error of a directory whose package name Carry needs
// and cannot find.
var errNoPackage = errors.New("no .go file to take the package name from")

// Action is what Carry did to a file or a declaration, or why it left one
// alone.
type Action int

// The actions of Carry.
const (
	// Replaced: the previous solution's version took the place of the
	// file's.
	Replaced Action = iota
	// Added: only the previous solution had the declaration.
	Added
	// Removed: the previous solution does not have the declaration.
	Removed
	// FileAdded: only the previous solution had the file.
	FileAdded
	// FileRemoved: the previous solution does not have the file.
	FileRemoved
	// ImportAdded: the carried code uses a package the file did not
	// import; the previous solution's import of it was added.
	ImportAdded
	// ImportRemoved: the file no longer uses a package it imported.
	ImportRemoved
	// Conflict: the lesson's solution changed the declaration (or the
	// file), so Carry left it alone: the maintainer carries the fix by
	// hand.
	Conflict
	// ImportsToCheck: Carry could not settle a file's imports.
	ImportsToCheck
)

var actionNames = [...]string{"replaced", "added", "removed", "file added", "file removed", "import added", "import removed", "conflict", "imports to check"}

func (a Action) String() string {
	if a < 0 || int(a) >= len(actionNames) {
		return fmt.Sprintf("Action(%d)", int(a))
	}
	return actionNames[a]
}

// A Change is one thing Carry did, or left for the maintainer.
type Change struct {
	Action Action
	Place  Place // the file
	// Entry is the declaration as step.json's lesson names it
	// ("server.go:Server.read"), the file ("batcher.go"), or for an
	// import its path.
	Entry string
	// Why says, for Conflict and ImportsToCheck, what to look at.
	Why string
}

// String says what was done, in one line.
func (c Change) String() string {
	var what string
	switch c.Action {
	case Replaced:
		what = fmt.Sprintf("replaced %s with the previous solution's", c.Entry)
	case Added:
		what = fmt.Sprintf("added %s, from the previous solution", c.Entry)
	case Removed:
		what = fmt.Sprintf("removed %s, which the previous solution does not have", c.Entry)
	case FileAdded:
		what = "added the file, from the previous solution"
	case FileRemoved:
		what = "removed the file, which the previous solution does not have"
	case ImportAdded:
		what = fmt.Sprintf("added import %q", c.Entry)
	case ImportRemoved:
		what = fmt.Sprintf("removed import %q, no longer used", c.Entry)
	case Conflict:
		what = fmt.Sprintf("CONFLICT: left %s alone: %s; carry the fix by hand", c.Entry, c.Why)
	case ImportsToCheck:
		what = "IMPORTS: " + c.Why
	default:
		what = fmt.Sprintf("%v %s", c.Action, c.Entry)
	}
	return c.Place.String() + ": " + what
}

// A Report is what Carry did, file by file, and what it left for the
// maintainer.
type Report struct {
	// Changes are the changes made, the conflicts and the imports to
	// check, the starter's first, then the solution's, each by file.
	Changes []Change
	// Stale are the lesson entries that declare nothing; Carry leaves
	// step.json alone.
	Stale []Difference
}

// Open returns what the maintainer must look at: the conflicts and the
// imports to check.
func (r Report) Open() []Change {
	var open []Change
	for _, c := range r.Changes {
		if c.Action == Conflict || c.Action == ImportsToCheck {
			open = append(open, c)
		}
	}
	return open
}

// String lists the changes and the stale entries, a line each, or says
// that there was nothing to carry.
func (r Report) String() string {
	if len(r.Changes) == 0 && len(r.Stale) == 0 {
		return "nothing to carry: the starter is the previous solution plus its lesson\n"
	}
	var b strings.Builder
	for _, c := range r.Changes {
		b.WriteString(c.String() + "\n")
	}
	for _, d := range r.Stale {
		b.WriteString(d.String() + "\n")
	}
	return b.String()
}

// Carry makes the starter of a step the previous step's solution plus its
// lesson again, after a fix to that solution: every difference that the
// lesson does not declare is carried from the previous solution into the
// starter, and into the step's own solution where that solution still has
// the starter's version, word for word:
//
//   - a declaration that differs: the previous solution's version takes
//     the place of the starter's, and of the next solution's where it is
//     the starter's; where the next solution changed it (its lesson did),
//     it is a Conflict, left for the maintainer;
//   - a declaration only the previous solution has is added (after the
//     declaration it follows there), to the next solution too unless that
//     one has its own;
//   - a declaration only the starter has is removed, from the next
//     solution too where it is the starter's;
//   - a file only the previous solution has is added, under the step's
//     package name; a file only the starter has is removed, from the next
//     solution too where it is the starter's.
//
// The files it changes are gofmt'ed, and their imports follow the code: a
// package the carried code uses is imported as the previous solution
// imports it, and an import the file no longer uses is removed. What it
// cannot settle it reports as ImportsToCheck. Declared differences and
// step.json are left alone; the stale entries of the lesson are reported.
//
// Carry works out every file before it writes one: where it cannot carry
// (a file that does not parse, before or after), it writes nothing. Run
// twice, the second run changes nothing: the starter then differs from the
// previous solution by the lesson only. Run for N→N+1, then N+1→N+2, …, it
// carries a fix through the steps; a conflict in a solution stops the fix
// there until the maintainer has carried it by hand, and only the run that
// meets a conflict reports it.
func Carry(prevSolutionDir, nextStarterDir, nextSolutionDir string, l Lesson) (Report, error) {
	s, err := survey(prevSolutionDir, nextStarterDir, l)
	if err != nil {
		return Report{}, err
	}
	sol, err := loadDir(nextSolutionDir)
	if err != nil {
		return Report{}, err
	}
	starter := newEditor(nextStarterDir, s.next)
	solution := newEditor(nextSolutionDir, sol)
	for _, f := range s.findings {
		if f.declared {
			continue
		}
		if err := carryFinding(f, s, starter, solution); err != nil {
			return Report{}, err
		}
	}
	var r Report
	for _, e := range []*editor{starter, solution} {
		if err := e.finish(s.prev); err != nil {
			return Report{}, err
		}
		r.Changes = append(r.Changes, e.changes...)
	}
	for _, e := range []*editor{starter, solution} {
		if err := e.write(); err != nil {
			return r, err
		}
	}
	r.Stale = s.stale
	return r, nil
}

// carryFinding carries one undeclared difference into the starter and the
// next solution.
func carryFinding(f finding, s surveyed, starter, solution *editor) error {
	switch {
	case f.whole && f.inPrev:
		prev := s.prev[f.file]
		if err := starter.addFile(prev); err != nil {
			return err
		}
		if solution.files[f.file] != nil {
			solution.conflict(f.file, f.entry, "the next solution has a file of that name")
			return nil
		}
		return solution.addFile(prev)
	case f.whole:
		old := s.next[f.file]
		starter.removeFile(f.file)
		switch mine := solution.files[f.file]; {
		case mine == nil:
		case bytes.Equal(mine.src, old.src):
			solution.removeFile(f.file)
		default:
			solution.conflict(f.file, f.entry, "the next solution's file is not the starter's")
		}
		return nil
	}
	prevFile := s.prev[f.file]
	old, new := f.pair.old, f.pair.new
	switch {
	case old != nil && new != nil:
		starter.replace(f.file, new, old.text, f.entry)
		switch mine := solution.find(f.file, new); {
		case mine == nil:
			solution.conflict(f.file, f.entry, "the next solution does not have it")
		case mine.text == new.text:
			solution.replace(f.file, mine, old.text, f.entry)
		case mine.text != old.text:
			solution.conflict(f.file, f.entry, "the next solution changed it (it is not the starter's)")
		}
	case old != nil:
		starter.insert(f.file, prevFile, old, f.entry)
		switch mine := solution.find(f.file, old); {
		case mine == nil:
			if solution.files[f.file] == nil {
				solution.conflict(f.file, f.entry, "the next solution does not have the file")
				return nil
			}
			solution.insert(f.file, prevFile, old, f.entry)
		case mine.text != old.text:
			solution.conflict(f.file, f.entry, "the next solution has its own")
		}
	default:
		starter.remove(f.file, new, f.entry)
		switch mine := solution.find(f.file, new); {
		case mine == nil:
		case mine.text == new.text:
			solution.remove(f.file, mine, f.entry)
		default:
			solution.conflict(f.file, f.entry, "the next solution changed it (it is not the starter's)")
		}
	}
	return nil
}

// An editor gathers Carry's changes to one directory, then makes them.
type editor struct {
	dir     string
	files   map[string]*source
	edits   map[string][]edit
	added   map[string][]byte // new files: their content
	removed map[string]bool
	out     map[string][]byte // the files to write, once finished
	changes []Change
}

// An edit replaces the bytes [start, end) of a file with text; start ==
// end inserts.
type edit struct {
	start, end int
	text       string
	seq        int // inserts at one offset go in the order they were made
}

func newEditor(dir string, files map[string]*source) *editor {
	return &editor{dir: dir, files: files, edits: make(map[string][]edit), added: make(map[string][]byte), removed: make(map[string]bool)}
}

func (e *editor) note(a Action, file, entry, why string) {
	e.changes = append(e.changes, Change{Action: a, Place: Place{Dir: e.dir, File: file}, Entry: entry, Why: why})
}

func (e *editor) conflict(file, entry, why string) { e.note(Conflict, file, entry, why) }

// find returns the file's declaration that d is, by key or by a shared
// name, or nil.
func (e *editor) find(file string, d *decl) *decl {
	f := e.files[file]
	if f == nil {
		return nil
	}
	for _, mine := range f.decls {
		if mine.key == d.key {
			return mine
		}
	}
	for _, mine := range f.decls {
		if slices.ContainsFunc(d.names, mine.answers) {
			return mine
		}
	}
	return nil
}

func (e *editor) replace(file string, d *decl, text, entry string) {
	e.edits[file] = append(e.edits[file], edit{start: d.start, end: d.end, text: "\n" + text + "\n"})
	e.note(Replaced, file, entry, "")
}

func (e *editor) remove(file string, d *decl, entry string) {
	e.edits[file] = append(e.edits[file], edit{start: d.start, end: d.end})
	e.note(Removed, file, entry, "")
}

// insert adds d, a declaration of from, to the file: after the declaration
// that d follows in from, else before the one it precedes, else at the
// end.
func (e *editor) insert(file string, from *source, d *decl, entry string) {
	f := e.files[file]
	at := -1
	i := slices.Index(from.decls, d)
	for j := i - 1; j >= 0 && at < 0; j-- {
		if mine := e.find(file, from.decls[j]); mine != nil {
			at = mine.end
		}
	}
	for j := i + 1; j < len(from.decls) && at < 0; j++ {
		if mine := e.find(file, from.decls[j]); mine != nil {
			at = mine.start
		}
	}
	if at < 0 {
		at = f.body
		if len(f.decls) > 0 {
			at = f.decls[len(f.decls)-1].end
		}
	}
	e.edits[file] = append(e.edits[file], edit{start: at, end: at, text: "\n" + d.text + "\n", seq: len(e.edits[file])})
	e.note(Added, file, entry, "")
}

// addFile adds a file of the previous solution under the directory's
// package name, without the package's doc comment.
func (e *editor) addFile(from *source) error {
	pkg := ""
	for _, name := range slices.Sorted(maps.Keys(e.files)) {
		pkg = e.files[name].file.Name.Name
		break
	}
	if pkg == "" {
		return fmt.Errorf("add %s to %s: %w", from.name, filepath.ToSlash(e.dir), errNoPackage)
	}
	tf := from.fset.File(from.file.Pos())
	start := tf.Offset(from.file.Package)
	if from.file.Doc != nil {
		start = tf.Offset(from.file.Doc.Pos())
	}
	var b bytes.Buffer
	b.Write(from.src[:start])
	b.WriteString("package " + pkg)
	b.Write(from.src[tf.Offset(from.file.Name.End()):])
	e.added[from.name] = b.Bytes()
	e.note(FileAdded, from.name, from.name, "")
	return nil
}

func (e *editor) removeFile(name string) {
	e.removed[name] = true
	e.note(FileRemoved, name, name, "")
}

// finish makes the edits, settles the imports of the files they change
// (from the imports of prev, the previous solution's files) and formats
// them; nothing is written yet.
func (e *editor) finish(prev map[string]*source) error {
	e.out = make(map[string][]byte)
	after := make(map[string][]byte) // every file of the package, once edited
	for name, f := range e.files {
		if !e.removed[name] {
			after[name] = f.src
		}
	}
	for name := range e.edits {
		after[name] = applyEdits(e.files[name].src, e.edits[name])
	}
	for name, src := range e.added {
		after[name] = src
	}
	pkgNames, err := topLevelNames(e.dir, after)
	if err != nil {
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(e.edits)) {
		src, changes, err := settleImports(filepath.Join(e.dir, name), e.files[name].src, after[name], pkgNames, importSources(prev, name))
		if err != nil {
			return err
		}
		for _, c := range changes {
			e.note(c.Action, name, c.Entry, c.Why)
		}
		e.out[name] = src
	}
	for name, src := range e.added {
		e.out[name] = src
	}
	for name, src := range e.out {
		formatted, err := format.Source(src)
		if err != nil {
			return fmt.Errorf("carry into %s: the result does not parse: %w", filepath.ToSlash(filepath.Join(e.dir, name)), err)
		}
		e.out[name] = formatted
	}
	slices.SortStableFunc(e.changes, func(a, b Change) int { return strings.Compare(a.Place.File, b.Place.File) })
	return nil
}

// write writes the finished files and removes the removed ones.
func (e *editor) write() error {
	for _, name := range slices.Sorted(maps.Keys(e.out)) {
		if f := e.files[name]; f != nil && bytes.Equal(f.src, e.out[name]) {
			continue
		}
		if err := os.WriteFile(filepath.Join(e.dir, name), e.out[name], 0o644); err != nil {
			return fmt.Errorf("carry: %w", err)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(e.removed)) {
		if err := os.Remove(filepath.Join(e.dir, name)); err != nil {
			return fmt.Errorf("carry: %w", err)
		}
	}
	return nil
}

// applyEdits makes the edits to src; they do not overlap, but inserts may
// share an offset with each other or with the start of a replacement.
func applyEdits(src []byte, edits []edit) []byte {
	edits = slices.Clone(edits)
	// From the end, so that offsets hold; at one offset, the replacement
	// first and the inserts in reverse, so that they end up before it and
	// in the order they were made.
	slices.SortStableFunc(edits, func(a, b edit) int {
		return cmp.Or(
			cmp.Compare(b.start, a.start),
			cmp.Compare(b.end-b.start, a.end-a.start),
			cmp.Compare(b.seq, a.seq),
		)
	})
	out := slices.Clone(src)
	for _, ed := range edits {
		out = slices.Concat(out[:ed.start], []byte(ed.text), out[ed.end:])
	}
	return out
}
