// Package step reads the kata's repository: its steps and their step.json,
// the wrong turns (patches to a step's solution), the overlays that put the
// solution or a wrong turn under a step's unchanged suite, and what git
// shipped of a starter.
package step

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ocppkata/kata/harness/chain"
	"github.com/ocppkata/kata/harness/cmd/kata/internal/udiff"
)

// A Repo is the kata's checkout: its root directory and module path.
type Repo struct {
	Root   string
	Module string
}

// FindRepo finds the kata's module root from the working directory up.
func FindRepo() (Repo, error) {
	dir, err := os.Getwd()
	if err != nil {
		return Repo{}, fmt.Errorf("find the kata: %w", err)
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil {
			if mod := modulePath(data); mod != "" {
				if _, err := os.Stat(filepath.Join(dir, "exercises")); err == nil {
					return Repo{Root: dir, Module: mod}, nil
				}
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return Repo{}, errors.New("no kata here: run it from the kata's directory (the one with the Makefile)")
		}
		dir = parent
	}
}

// modulePath returns the module path declared in a go.mod file, or "".
func modulePath(gomod []byte) string {
	for line := range strings.Lines(string(gomod)) {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "module"); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}

// A Step is one exercise of the kata and its reference solution.
type Step struct {
	Num  int
	Name string // "01-workers"
	Meta Meta
	// MetaErr is why the step's step.json could not be read, or nil.
	MetaErr error
	Repo    Repo
}

// Meta is the content of a step's step.json.
type Meta struct {
	Title string `json:"title"`
	// LessonTests are the top-level tests the starter must fail.
	LessonTests []string `json:"lesson_tests"`
	// Lesson is what the starter adds to the previous step's solution
	// (harness/chain); step 01 has none.
	Lesson chain.Lesson `json:"lesson"`
	// Hints maps a top-level test to its hints, tiered: a nudge, a
	// direction, a near-solution. Every lesson test has hints; another test
	// may. In step.json it is an object of test name to tiers.
	Hints map[string][]string `json:"-"`
	// Review lists the mistakes the step's tests cannot prove absent, one
	// line each: what the mistake is, why no test sees it, what to look for.
	// A green check shows it; the step's README carries the same lines under
	// "What no test can see".
	Review []string `json:"review"`
	// TestTimeout is how long one of the step's tests may run before the
	// runner calls it hung, when the default does not fit the suite;
	// "test_timeout" in step.json, a Go duration ("40s").
	TestTimeout time.Duration `json:"-"`
}

// UnmarshalJSON reads step.json.
func (m *Meta) UnmarshalJSON(data []byte) error {
	type plain Meta
	var raw struct {
		plain
		Hints       json.RawMessage `json:"hints"`
		TestTimeout string          `json:"test_timeout"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	*m = Meta(raw.plain)
	if raw.TestTimeout != "" {
		d, err := time.ParseDuration(raw.TestTimeout)
		if err != nil || d <= 0 {
			return fmt.Errorf("test_timeout %q: want a duration such as \"40s\"", raw.TestTimeout)
		}
		m.TestTimeout = d
	}
	if len(raw.Hints) == 0 || string(raw.Hints) == "null" {
		return nil
	}
	if err := json.Unmarshal(raw.Hints, &m.Hints); err != nil {
		return fmt.Errorf("hints: want an object of test name to a list of hints: %w", err)
	}
	return nil
}

// HintsFor returns the hints for a top-level test, or nil.
func (m Meta) HintsFor(test string) []string { return m.Hints[test] }

// FirstHints returns the hints of the first lesson test that has some, and
// that test's name: what to show when no failing test says which.
func (m Meta) FirstHints() (string, []string) {
	for _, name := range m.LessonTests {
		if h := m.Hints[name]; len(h) > 0 {
			return name, h
		}
	}
	return "", nil
}

// Dir is where the learner's code and the suite live, relative to the root.
func (s Step) Dir() string { return filepath.Join("exercises", s.Name) }

// SolutionDir is where the reference solution lives, relative to the root.
func (s Step) SolutionDir() string { return filepath.Join("solutions", s.Name) }

// Pkg is the go command's pattern for the step's package.
func (s Step) Pkg() string { return "./" + filepath.ToSlash(s.Dir()) }

// ImportPath is the import path of the learner's package.
func (s Step) ImportPath() string { return s.Repo.Module + "/exercises/" + s.Name }

// SolutionImportPath is the import path of the reference solution.
func (s Step) SolutionImportPath() string { return s.Repo.Module + "/solutions/" + s.Name }

// Label names the step for people: "step 01 · One consumer is a bottleneck".
func (s Step) Label() string {
	if s.Meta.Title == "" {
		return fmt.Sprintf("step %02d", s.Num)
	}
	return fmt.Sprintf("step %02d · %s", s.Num, s.Meta.Title)
}

// Load returns every step under exercises/, in order.
func Load(r Repo) ([]Step, error) {
	entries, err := os.ReadDir(filepath.Join(r.Root, "exercises"))
	if err != nil {
		return nil, fmt.Errorf("list the steps: %w", err)
	}
	var steps []Step
	for _, e := range entries {
		num, ok := stepNumber(e.Name())
		if !e.IsDir() || !ok {
			continue
		}
		s := Step{Num: num, Name: e.Name(), Repo: r}
		data, err := os.ReadFile(filepath.Join(r.Root, s.Dir(), "step.json"))
		if err == nil {
			err = json.Unmarshal(data, &s.Meta)
		}
		if err != nil {
			// One step's broken metadata must not stop work on the others.
			s.MetaErr = fmt.Errorf("%s/step.json: %w", s.Dir(), err)
		}
		steps = append(steps, s)
	}
	if len(steps) == 0 {
		return nil, errors.New("no steps found under exercises/")
	}
	slices.SortFunc(steps, func(a, b Step) int { return a.Num - b.Num })
	return steps, nil
}

// stepNumber parses the NN of a step directory named "NN-name".
func stepNumber(dirName string) (int, bool) {
	nn, _, ok := strings.Cut(dirName, "-")
	if !ok || len(nn) != 2 {
		return 0, false
	}
	n, err := strconv.Atoi(nn)
	return n, err == nil
}

// Find returns the step that arg ("1" or "01") names.
func Find(r Repo, arg string) (Step, error) {
	steps, err := Load(r)
	if err != nil {
		return Step{}, err
	}
	if arg == "" {
		return Step{}, fmt.Errorf("which step? give its number, for example -step %d", steps[0].Num)
	}
	n, err := strconv.Atoi(strings.TrimSpace(arg))
	if err != nil {
		return Step{}, fmt.Errorf("step %q: want a number such as 1 or 01", arg)
	}
	for _, s := range steps {
		if s.Num == n {
			return s, s.MetaErr
		}
	}
	names := make([]string, len(steps))
	for i, s := range steps {
		names[i] = s.Name
	}
	return Step{}, fmt.Errorf("there is no step %d; the steps are %s", n, strings.Join(names, ", "))
}

// GoFiles returns the names of the non-test .go files in dir (relative to
// the root); a missing directory has none.
func GoFiles(r Repo, dir string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(r.Root, dir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	var names []string
	for _, e := range entries {
		name := e.Name()
		if e.Type().IsRegular() && strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go") {
			names = append(names, name)
		}
	}
	return names, nil
}

// A CodeSet is the non-test code of a step's package: each file's name
// ("server.go") and the absolute path of its content.
type CodeSet map[string]string

// SolutionCode returns the step's reference solution.
func (s Step) SolutionCode() (CodeSet, error) {
	names, err := GoFiles(s.Repo, s.SolutionDir())
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("step %s has no solution: %s holds no .go file", s.Name, s.SolutionDir())
	}
	code := make(CodeSet)
	for _, name := range names {
		code[name] = filepath.Join(s.Repo.Root, s.SolutionDir(), name)
	}
	return code, nil
}

// A WrongTurn is a plausible wrong solution of a step, shipped so that the
// kata can prove its suite rejects it and a learner can watch it fail. It
// is a patch against the step's solution (see patch.go), in
// solutions/NN-name/testdata/wrong/NAME.patch: testdata, so that go build
// never looks at it.
type WrongTurn struct {
	Name string // the patch's name without .patch: "shards"
	Path string // the patch, relative to the root
	// Note says what is wrong with it.
	Note string
	// CaughtBy is the top-level test of the step's suite that fails on it.
	CaughtBy string
	text     string // the patch as written
	Files    []udiff.FilePatch
}

// WrongDir is where a step's wrong turns live, relative to the root.
func (s Step) WrongDir() string { return filepath.Join(s.SolutionDir(), "testdata", "wrong") }

// WrongTurns returns the step's wrong turns, by name.
func (s Step) WrongTurns() ([]WrongTurn, error) {
	entries, err := os.ReadDir(filepath.Join(s.Repo.Root, s.WrongDir()))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list the wrong turns of step %s: %w", s.Name, err)
	}
	var turns []WrongTurn
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".patch")
		if !ok || !e.Type().IsRegular() {
			continue
		}
		w := WrongTurn{Name: name, Path: filepath.Join(s.WrongDir(), e.Name())}
		data, err := os.ReadFile(filepath.Join(s.Repo.Root, w.Path))
		if err == nil {
			w.text = string(data)
			w.Note, w.CaughtBy, w.Files, err = udiff.ParsePatch(w.text)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.ToSlash(w.Path), err)
		}
		turns = append(turns, w)
	}
	return turns, nil
}

// WrongCode returns the code of one of the step's wrong turns: the
// solution with the patch applied. The files it changes are written into
// dir, which it makes; the others are the solution's own.
func (s Step) WrongCode(w WrongTurn, dir string) (CodeSet, error) {
	code, err := s.SolutionCode()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("wrong turn %s: %w", w.Name, err)
	}
	for _, fp := range w.Files {
		var old []string
		if !fp.IsNew {
			path, ok := code[fp.Name]
			if !ok {
				return nil, fmt.Errorf("wrong turn %s (%s) changes %s, which the solution does not have", w.Name, filepath.ToSlash(w.Path), fp.Name)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return nil, fmt.Errorf("wrong turn %s: %w", w.Name, err)
			}
			old = udiff.SplitLines(string(data))
		}
		lines, err := fp.Apply(old)
		if err != nil {
			return nil, fmt.Errorf("wrong turn %s (%s) no longer applies to the solution: %w", w.Name, filepath.ToSlash(w.Path), err)
		}
		path := filepath.Join(dir, fp.Name)
		if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			return nil, fmt.Errorf("wrong turn %s: %w", w.Name, err)
		}
		code[fp.Name] = path
	}
	return code, nil
}

// WriteOverlay writes, into tmp, a go command overlay that puts code in
// place of the learner's code: each non-test file of the exercise is
// replaced by code's file of the same name, or deleted if code has none,
// and code's other files are added. The suite itself stays where it is.
// label names the overlay's file, so several can share tmp. It returns the
// overlay file's path.
func WriteOverlay(s Step, code CodeSet, tmp, label string) (string, error) {
	replace, err := s.Overlay(code)
	if err != nil {
		return "", err
	}
	return WriteReplace(replace, filepath.Join(tmp, "overlay-"+s.Name+"-"+label+".json"))
}

// Overlay returns the Replace map of WriteOverlay's overlay: absolute paths
// of the exercise's files to those of code, or "" for a deleted file.
// Overlays of different steps can be merged, so one go command can build
// every step's variant at once.
func (s Step) Overlay(code CodeSet) (map[string]string, error) {
	r := s.Repo
	mine, err := GoFiles(r, s.Dir())
	if err != nil {
		return nil, err
	}
	replace := make(map[string]string)
	for _, name := range mine {
		replace[filepath.Join(r.Root, s.Dir(), name)] = "" // deleted unless code has it
	}
	for name, path := range code {
		replace[filepath.Join(r.Root, s.Dir(), name)] = path
	}
	return replace, nil
}

// WriteReplace writes an overlay file with the given Replace map to path.
func WriteReplace(replace map[string]string, path string) (string, error) {
	data, err := json.Marshal(struct{ Replace map[string]string }{replace})
	if err != nil {
		return "", fmt.Errorf("write the overlay: %w", err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return "", fmt.Errorf("write the overlay: %w", err)
	}
	return path, nil
}

// solutionOverlay writes an overlay that puts the step's solution in place
// of the learner's code, and returns its path.
func solutionOverlay(s Step, tmp string) (string, error) {
	code, err := s.SolutionCode()
	if err != nil {
		return "", err
	}
	return WriteOverlay(s, code, tmp, "solution")
}

// git runs git in the kata's root and returns its standard output.
func (r Repo) git(args ...string) ([]byte, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = r.Root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return nil, fmt.Errorf("git %s: %s", strings.Join(args, " "), msg)
	}
	return out, nil
}

// Shipped reports whether the kata is a git checkout with a commit, so that
// the starters as the kata ships them are those of HEAD; if not, it says
// why the kata cannot know them.
func (r Repo) Shipped() error {
	if _, err := exec.LookPath("git"); err != nil {
		return errors.New("git is not installed")
	}
	if _, err := r.git("rev-parse", "--verify", "--quiet", "HEAD"); err != nil {
		return fmt.Errorf("%s is not a git checkout", r.Root)
	}
	return nil
}

// shippedFiles returns the names of the non-test .go files of the step's
// exercise as committed at HEAD.
func (s Step) shippedFiles() ([]string, error) { return s.ShippedFilesAt("HEAD") }

// ShippedFilesAt returns the names of the non-test .go files of the step's
// exercise as committed at rev.
func (s Step) ShippedFilesAt(rev string) ([]string, error) {
	if err := s.Repo.Shipped(); err != nil {
		return nil, err
	}
	// Paths are given and listed relative to the kata's root, which may
	// lie below the repository's top.
	out, err := s.Repo.git("ls-tree", "--name-only", rev, "--", "./"+filepath.ToSlash(s.Dir())+"/")
	if err != nil {
		return nil, err
	}
	var names []string
	for line := range strings.Lines(string(out)) {
		name := path.Base(strings.TrimSpace(line))
		if strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go") {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s is not committed", s.Dir())
	}
	return names, nil
}

// ShippedFile returns the content of one of the exercise's files at HEAD.
func (s Step) ShippedFile(name string) ([]byte, error) { return s.shippedFileAt("HEAD", name) }

// shippedFileAt returns the content of one of the exercise's files at rev.
func (s Step) shippedFileAt(rev, name string) ([]byte, error) {
	return s.Repo.git("show", rev+":./"+filepath.ToSlash(filepath.Join(s.Dir(), name)))
}

// AsShipped returns the revision that holds the step's starter as the kata
// shipped it, and says which it is: the upstream of the learner's branch
// (a clone's origin/main), which the learner's own commits have not
// touched, if it has one and it holds the step; else HEAD.
func (s Step) AsShipped() (rev, about string) {
	if out, err := s.Repo.git("rev-parse", "--abbrev-ref", "--symbolic-full-name", "@{upstream}"); err == nil {
		up := strings.TrimSpace(string(out))
		if _, err := s.ShippedFilesAt(up); up != "" && err == nil {
			return up, up + ", the upstream of your branch"
		}
	}
	return "HEAD", "git HEAD: your branch has no upstream"
}

// Unchanged reports whether the exercise's non-test .go files are the
// starter as the kata shipped it (see AsShipped). It is false when that
// cannot be known.
func (s Step) Unchanged() bool {
	rev, _ := s.AsShipped()
	shipped, err := s.ShippedFilesAt(rev)
	if err != nil {
		return false
	}
	changes, err := ResetChanges(s, rev, shipped)
	return err == nil && len(changes) == 0
}

// ShippedStarter writes the step's starter as committed at HEAD into
// tmp/shipped/NN-name/ and returns it: the code the contract is about,
// whatever the learner has made of the files on disk.
func (s Step) ShippedStarter(tmp string) (CodeSet, error) {
	names, err := s.shippedFiles()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(tmp, "shipped", s.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("copy the starter of %s: %w", s.Name, err)
	}
	code := make(CodeSet)
	for _, name := range names {
		data, err := s.ShippedFile(name)
		if err != nil {
			return nil, err
		}
		code[name] = filepath.Join(dir, name)
		if err := os.WriteFile(code[name], data, 0o644); err != nil {
			return nil, fmt.Errorf("copy the starter of %s: %w", s.Name, err)
		}
	}
	return code, nil
}
