package main

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
)

// A repo is the kata's checkout: its root directory and module path.
type repo struct {
	root   string
	module string
}

// findRepo finds the kata's module root from the working directory up.
func findRepo() (repo, error) {
	dir, err := os.Getwd()
	if err != nil {
		return repo{}, fmt.Errorf("find the kata: %w", err)
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil {
			if mod := modulePath(data); mod != "" {
				if _, err := os.Stat(filepath.Join(dir, "exercises")); err == nil {
					return repo{root: dir, module: mod}, nil
				}
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return repo{}, errors.New("no kata here: run it from the kata's directory (the one with the Makefile)")
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

// A step is one exercise of the kata and its reference solution.
type step struct {
	num  int
	name string // "01-workers"
	meta stepMeta
	// metaErr is why the step's step.json could not be read, or nil.
	metaErr error
	repo    repo
}

// stepMeta is the content of a step's step.json.
type stepMeta struct {
	Title string `json:"title"`
	// LessonTests are the top-level tests the starter must fail.
	LessonTests []string `json:"lesson_tests"`
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
func (m *stepMeta) UnmarshalJSON(data []byte) error {
	type plain stepMeta
	var raw struct {
		plain
		Hints       json.RawMessage `json:"hints"`
		TestTimeout string          `json:"test_timeout"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	*m = stepMeta(raw.plain)
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

// hintsFor returns the hints for a top-level test, or nil.
func (m stepMeta) hintsFor(test string) []string { return m.Hints[test] }

// firstHints returns the hints of the first lesson test that has some, and
// that test's name: what to show when no failing test says which.
func (m stepMeta) firstHints() (string, []string) {
	for _, name := range m.LessonTests {
		if h := m.Hints[name]; len(h) > 0 {
			return name, h
		}
	}
	return "", nil
}

// dir is where the learner's code and the suite live, relative to the root.
func (s step) dir() string { return filepath.Join("exercises", s.name) }

// solutionDir is where the reference solution lives, relative to the root.
func (s step) solutionDir() string { return filepath.Join("solutions", s.name) }

// pkg is the go command's pattern for the step's package.
func (s step) pkg() string { return "./" + filepath.ToSlash(s.dir()) }

// importPath is the import path of the learner's package.
func (s step) importPath() string { return s.repo.module + "/exercises/" + s.name }

// solutionImportPath is the import path of the reference solution.
func (s step) solutionImportPath() string { return s.repo.module + "/solutions/" + s.name }

// label names the step for people: "step 01 · One consumer is a bottleneck".
func (s step) label() string {
	if s.meta.Title == "" {
		return fmt.Sprintf("step %02d", s.num)
	}
	return fmt.Sprintf("step %02d · %s", s.num, s.meta.Title)
}

// loadSteps returns every step under exercises/, in order.
func loadSteps(r repo) ([]step, error) {
	entries, err := os.ReadDir(filepath.Join(r.root, "exercises"))
	if err != nil {
		return nil, fmt.Errorf("list the steps: %w", err)
	}
	var steps []step
	for _, e := range entries {
		num, ok := stepNumber(e.Name())
		if !e.IsDir() || !ok {
			continue
		}
		s := step{num: num, name: e.Name(), repo: r}
		data, err := os.ReadFile(filepath.Join(r.root, s.dir(), "step.json"))
		if err == nil {
			err = json.Unmarshal(data, &s.meta)
		}
		if err != nil {
			// One step's broken metadata must not stop work on the others.
			s.metaErr = fmt.Errorf("%s/step.json: %w", s.dir(), err)
		}
		steps = append(steps, s)
	}
	if len(steps) == 0 {
		return nil, errors.New("no steps found under exercises/")
	}
	slices.SortFunc(steps, func(a, b step) int { return a.num - b.num })
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

// findStep returns the step that arg ("1" or "01") names.
func findStep(r repo, arg string) (step, error) {
	steps, err := loadSteps(r)
	if err != nil {
		return step{}, err
	}
	if arg == "" {
		return step{}, fmt.Errorf("which step? give its number, for example -step %d", steps[0].num)
	}
	n, err := strconv.Atoi(strings.TrimSpace(arg))
	if err != nil {
		return step{}, fmt.Errorf("step %q: want a number such as 1 or 01", arg)
	}
	for _, s := range steps {
		if s.num == n {
			return s, s.metaErr
		}
	}
	names := make([]string, len(steps))
	for i, s := range steps {
		names[i] = s.name
	}
	return step{}, fmt.Errorf("there is no step %d; the steps are %s", n, strings.Join(names, ", "))
}

// goFiles returns the names of the non-test .go files in dir (relative to
// the root); a missing directory has none.
func goFiles(r repo, dir string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(r.root, dir))
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

// A code set is the non-test code of a step's package: each file's name
// ("server.go") and the absolute path of its content.
type codeSet map[string]string

// solutionCode returns the step's reference solution.
func (s step) solutionCode() (codeSet, error) {
	names, err := goFiles(s.repo, s.solutionDir())
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("step %s has no solution: %s holds no .go file", s.name, s.solutionDir())
	}
	code := make(codeSet)
	for _, name := range names {
		code[name] = filepath.Join(s.repo.root, s.solutionDir(), name)
	}
	return code, nil
}

// A wrongTurn is a plausible wrong solution of a step, shipped so that the
// kata can prove its suite rejects it and a learner can watch it fail. It
// is a patch against the step's solution (see patch.go), in
// solutions/NN-name/testdata/wrong/NAME.patch: testdata, so that go build
// never looks at it.
type wrongTurn struct {
	name string // the patch's name without .patch: "shards"
	path string // the patch, relative to the root
	// Note says what is wrong with it.
	Note string
	// CaughtBy is the top-level test of the step's suite that fails on it.
	CaughtBy string
	text     string // the patch as written
	files    []filePatch
}

// wrongDir is where a step's wrong turns live, relative to the root.
func (s step) wrongDir() string { return filepath.Join(s.solutionDir(), "testdata", "wrong") }

// wrongTurns returns the step's wrong turns, by name.
func (s step) wrongTurns() ([]wrongTurn, error) {
	entries, err := os.ReadDir(filepath.Join(s.repo.root, s.wrongDir()))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list the wrong turns of step %s: %w", s.name, err)
	}
	var turns []wrongTurn
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".patch")
		if !ok || !e.Type().IsRegular() {
			continue
		}
		w := wrongTurn{name: name, path: filepath.Join(s.wrongDir(), e.Name())}
		data, err := os.ReadFile(filepath.Join(s.repo.root, w.path))
		if err == nil {
			w.text = string(data)
			w.Note, w.CaughtBy, w.files, err = parsePatch(w.text)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.ToSlash(w.path), err)
		}
		turns = append(turns, w)
	}
	return turns, nil
}

// wrongCode returns the code of one of the step's wrong turns: the
// solution with the patch applied. The files it changes are written into
// dir, which it makes; the others are the solution's own.
func (s step) wrongCode(w wrongTurn, dir string) (codeSet, error) {
	code, err := s.solutionCode()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("wrong turn %s: %w", w.name, err)
	}
	for _, fp := range w.files {
		var old []string
		if !fp.isNew {
			path, ok := code[fp.name]
			if !ok {
				return nil, fmt.Errorf("wrong turn %s (%s) changes %s, which the solution does not have", w.name, filepath.ToSlash(w.path), fp.name)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return nil, fmt.Errorf("wrong turn %s: %w", w.name, err)
			}
			old = splitLines(string(data))
		}
		lines, err := fp.apply(old)
		if err != nil {
			return nil, fmt.Errorf("wrong turn %s (%s) no longer applies to the solution: %w", w.name, filepath.ToSlash(w.path), err)
		}
		path := filepath.Join(dir, fp.name)
		if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			return nil, fmt.Errorf("wrong turn %s: %w", w.name, err)
		}
		code[fp.name] = path
	}
	return code, nil
}

// writeOverlay writes, into tmp, a go command overlay that puts code in
// place of the learner's code: each non-test file of the exercise is
// replaced by code's file of the same name, or deleted if code has none,
// and code's other files are added. The suite itself stays where it is.
// label names the overlay's file, so several can share tmp. It returns the
// overlay file's path.
func writeOverlay(s step, code codeSet, tmp, label string) (string, error) {
	replace, err := s.overlay(code)
	if err != nil {
		return "", err
	}
	return writeReplace(replace, filepath.Join(tmp, "overlay-"+s.name+"-"+label+".json"))
}

// overlay returns the Replace map of writeOverlay's overlay: absolute paths
// of the exercise's files to those of code, or "" for a deleted file.
// Overlays of different steps can be merged, so one go command can build
// every step's variant at once.
func (s step) overlay(code codeSet) (map[string]string, error) {
	r := s.repo
	mine, err := goFiles(r, s.dir())
	if err != nil {
		return nil, err
	}
	replace := make(map[string]string)
	for _, name := range mine {
		replace[filepath.Join(r.root, s.dir(), name)] = "" // deleted unless code has it
	}
	for name, path := range code {
		replace[filepath.Join(r.root, s.dir(), name)] = path
	}
	return replace, nil
}

// writeReplace writes an overlay file with the given Replace map to path.
func writeReplace(replace map[string]string, path string) (string, error) {
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
func solutionOverlay(s step, tmp string) (string, error) {
	code, err := s.solutionCode()
	if err != nil {
		return "", err
	}
	return writeOverlay(s, code, tmp, "solution")
}

// git runs git in the kata's root and returns its standard output.
func (r repo) git(args ...string) ([]byte, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = r.root
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

// shipped reports whether the kata is a git checkout with a commit, so that
// the starters as the kata ships them are those of HEAD; if not, it says
// why the kata cannot know them.
func (r repo) shipped() error {
	if _, err := exec.LookPath("git"); err != nil {
		return errors.New("git is not installed")
	}
	if _, err := r.git("rev-parse", "--verify", "--quiet", "HEAD"); err != nil {
		return fmt.Errorf("%s is not a git checkout", r.root)
	}
	return nil
}

// shippedFiles returns the names of the non-test .go files of the step's
// exercise as committed at HEAD.
func (s step) shippedFiles() ([]string, error) { return s.shippedFilesAt("HEAD") }

// shippedFilesAt returns the names of the non-test .go files of the step's
// exercise as committed at rev.
func (s step) shippedFilesAt(rev string) ([]string, error) {
	if err := s.repo.shipped(); err != nil {
		return nil, err
	}
	// Paths are given and listed relative to the kata's root, which may
	// lie below the repository's top.
	out, err := s.repo.git("ls-tree", "--name-only", rev, "--", "./"+filepath.ToSlash(s.dir())+"/")
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
		return nil, fmt.Errorf("%s is not committed", s.dir())
	}
	return names, nil
}

// shippedFile returns the content of one of the exercise's files at HEAD.
func (s step) shippedFile(name string) ([]byte, error) { return s.shippedFileAt("HEAD", name) }

// shippedFileAt returns the content of one of the exercise's files at rev.
func (s step) shippedFileAt(rev, name string) ([]byte, error) {
	return s.repo.git("show", rev+":./"+filepath.ToSlash(filepath.Join(s.dir(), name)))
}

// asShipped returns the revision that holds the step's starter as the kata
// shipped it, and says which it is: the upstream of the learner's branch
// (a clone's origin/main), which the learner's own commits have not
// touched, if it has one and it holds the step; else HEAD.
func (s step) asShipped() (rev, about string) {
	if out, err := s.repo.git("rev-parse", "--abbrev-ref", "--symbolic-full-name", "@{upstream}"); err == nil {
		up := strings.TrimSpace(string(out))
		if _, err := s.shippedFilesAt(up); up != "" && err == nil {
			return up, up + ", the upstream of your branch"
		}
	}
	return "HEAD", "git HEAD: your branch has no upstream"
}

// unchanged reports whether the exercise's non-test .go files are the
// starter as the kata shipped it (see asShipped). It is false when that
// cannot be known.
func (s step) unchanged() bool {
	rev, _ := s.asShipped()
	shipped, err := s.shippedFilesAt(rev)
	if err != nil {
		return false
	}
	changes, err := resetChanges(s, rev, shipped)
	return err == nil && len(changes) == 0
}

// shippedStarter writes the step's starter as committed at HEAD into
// tmp/shipped/NN-name/ and returns it: the code the contract is about,
// whatever the learner has made of the files on disk.
func (s step) shippedStarter(tmp string) (codeSet, error) {
	names, err := s.shippedFiles()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(tmp, "shipped", s.name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("copy the starter of %s: %w", s.name, err)
	}
	code := make(codeSet)
	for _, name := range names {
		data, err := s.shippedFile(name)
		if err != nil {
			return nil, err
		}
		code[name] = filepath.Join(dir, name)
		if err := os.WriteFile(code[name], data, 0o644); err != nil {
			return nil, fmt.Errorf("copy the starter of %s: %w", s.name, err)
		}
	}
	return code, nil
}
