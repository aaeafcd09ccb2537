package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
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
	// Hints are tiered: a nudge, a direction, a near-solution.
	Hints []string `json:"hints"`
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

// writeOverlay writes, into tmp, a go command overlay that puts the step's
// solution in place of the learner's code: each non-test file of the
// exercise is replaced by the solution's file of the same name, or deleted
// if the solution has none, and the solution's other files are added. The
// suite itself stays where it is. It returns the overlay file's path.
func writeOverlay(s step, tmp string) (string, error) {
	r := s.repo
	mine, err := goFiles(r, s.dir())
	if err != nil {
		return "", err
	}
	theirs, err := goFiles(r, s.solutionDir())
	if err != nil {
		return "", err
	}
	if len(theirs) == 0 {
		return "", fmt.Errorf("step %s has no solution: %s holds no .go file", s.name, s.solutionDir())
	}
	replace := make(map[string]string)
	for _, name := range mine {
		replace[filepath.Join(r.root, s.dir(), name)] = "" // deleted unless the solution has it
	}
	for _, name := range theirs {
		replace[filepath.Join(r.root, s.dir(), name)] = filepath.Join(r.root, s.solutionDir(), name)
	}
	data, err := json.Marshal(struct{ Replace map[string]string }{replace})
	if err != nil {
		return "", fmt.Errorf("write the overlay: %w", err)
	}
	path := filepath.Join(tmp, "overlay-"+s.name+".json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return "", fmt.Errorf("write the overlay: %w", err)
	}
	return path, nil
}
