package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
	"unicode/utf8"
)

// runProgress prints a table of the steps and where the learner's code
// stands on each. Each suite runs as make check runs it, with -race, so the
// two agree; a step whose code, suite and harness have not changed since it
// last ran is not run again (its verdict is kept in .kata/).
func runProgress(args []string) error {
	fs := newFlags("progress", "[-fresh]")
	fresh := fs.Bool("fresh", false, "run every suite, even those whose verdict is remembered")
	r, steps, err := parseSteps(fs, args)
	if err != nil {
		return err
	}
	for i := range steps {
		if steps[i].metaErr != nil {
			steps[i].meta.Title = "(no usable step.json)"
		}
	}
	st := styleFor(os.Stdout)
	cache := loadVerdicts(r)
	verdicts := make([]verdict, len(steps))
	ran := 0
	saidCold := false
	for i, s := range steps {
		key, err := suiteKey(s)
		if err == nil && !*fresh {
			if v, ok := cache.Steps[s.name]; ok && v.Key == key {
				verdicts[i] = v
				continue
			}
		}
		if ran == 0 {
			fmt.Println(st.dim("running the suites that changed since they last ran, with the race detector…"))
		}
		ran++
		su := newSuite(s)
		su.slowBuild = func() {
			if saidCold {
				return
			}
			saidCold = true
			st.clear(os.Stdout)
			fmt.Println(st.dim("compiling the suites with the race detector: the first build takes a minute or more (later ones, seconds)…"))
		}
		su.running = func(test string, d time.Duration) {
			if st.tty {
				st.status(os.Stdout, fmt.Sprintf("  %s: running %s… %s", s.name, test, durationWords(d)))
			}
		}
		if !st.tty {
			fmt.Printf("  %s…\n", s.name)
		}
		tr := su.run(context.Background())
		st.clear(os.Stdout)
		verdicts[i] = verdictOf(tr)
		if err == nil && tr.err == nil {
			verdicts[i].Key = key
			cache.Steps[s.name] = verdicts[i]
		}
	}
	if ran == 0 {
		fmt.Println(st.dim("nothing changed since the suites last ran (with make check or make progress): their verdicts stand."))
	}
	if ran > 0 {
		if err := cache.save(r); err != nil {
			fmt.Fprintln(os.Stderr, "kata progress:", err)
		}
	}

	titleWidth := len("title")
	for _, s := range steps {
		titleWidth = max(titleWidth, utf8.RuneCountInString(s.meta.Title))
	}
	fmt.Printf("\n%s  %s  %s\n", st.bold("step"), st.bold(fmt.Sprintf("%-*s", titleWidth, "title")), st.bold("your code"))
	passing := 0
	next := 0
	for i, s := range steps {
		status, ok := standing(st, verdicts[i])
		if ok {
			passing++
		} else if next == 0 {
			next = s.num
		}
		hints := ""
		if seen := loadHintState(s).total(); seen > 0 {
			hints = st.dim(fmt.Sprintf("  (%s seen)", plural(seen, "hint")))
		}
		pad := titleWidth - utf8.RuneCountInString(s.meta.Title)
		fmt.Printf("%02d    %s%*s  %s%s\n", s.num, s.meta.Title, pad, "", status, hints)
	}
	fmt.Printf("\n%d of %s done.", passing, plural(len(steps), "step"))
	if next != 0 {
		fmt.Printf(" Next: make check STEP=%d", next)
	}
	fmt.Println()
	return nil
}

// A verdict is what a run of a step's suite said of the learner's code, as
// progress shows it and .kata/ remembers it.
type verdict struct {
	Key    string `json:"key"`  // suiteKey of what was run
	Kind   string `json:"kind"` // passing, failing, compile, vet, crash, hang, error
	Passed int    `json:"passed"`
	Total  int    `json:"total"`
	Test   string `json:"test,omitempty"`  // the test that crashed or hung
	Error  string `json:"error,omitempty"` // why it could not run
}

// verdictOf sums up a suite's run.
func verdictOf(tr *testRun) verdict {
	if tr.err != nil {
		return verdict{Kind: "error", Error: tr.err.Error()}
	}
	if tr.buildFailed() || len(tr.pkgs) == 0 {
		if _, vet := buildComplaint(tr); vet {
			return verdict{Kind: "vet"}
		}
		return verdict{Kind: "compile"}
	}
	p := tr.only()
	v := verdict{}
	for _, t := range p.topLevel() {
		switch t.action {
		case "pass":
			v.Passed++
			v.Total++
		case "skip":
		default:
			v.Total++
		}
	}
	all := append(append([]*crash(nil), p.crashes...), p.hangs...)
	switch {
	case len(all) > 0 && all[0].hung != 0:
		v.Kind, v.Test = "hang", all[0].test
	case len(all) > 0:
		v.Kind, v.Test = "crash", all[0].test
	case v.Passed == v.Total && p.action == "pass":
		v.Kind = "passing"
	default:
		v.Kind = "failing"
	}
	return v
}

// standing describes a verdict in the progress table, and reports whether
// every test passed.
func standing(st style, v verdict) (string, bool) {
	switch v.Kind {
	case "error":
		return st.red("could not run: " + v.Error), false
	case "compile":
		return st.red("does not compile"), false
	case "vet":
		return st.red("go vet complains"), false
	case "hang":
		return st.red(fmt.Sprintf("%s hangs (%d of %d tests pass)", firstNonEmpty(v.Test, "a test"), v.Passed, v.Total)), false
	case "crash":
		return st.red(fmt.Sprintf("crashes in %s (%d of %d tests pass)", firstNonEmpty(v.Test, "the suite"), v.Passed, v.Total)), false
	case "passing":
		return st.green(fmt.Sprintf("passing (%d of %d tests)", v.Passed, v.Total)), true
	}
	return st.yellow(fmt.Sprintf("failing (%d of %d tests pass)", v.Passed, v.Total)), false
}

// verdicts is the content of .kata/progress.json.
type verdicts struct {
	Steps map[string]verdict `json:"steps"`
}

// progressFile is where kata remembers the verdicts of the steps' suites.
func progressFile(r repo) string { return filepath.Join(r.root, ".kata", "progress.json") }

// loadVerdicts reads the remembered verdicts; none if there are none.
func loadVerdicts(r repo) verdicts {
	v := verdicts{Steps: make(map[string]verdict)}
	data, err := os.ReadFile(progressFile(r))
	if err != nil || json.Unmarshal(data, &v) != nil || v.Steps == nil {
		return verdicts{Steps: make(map[string]verdict)}
	}
	return v
}

// save writes the verdicts to .kata/.
func (v verdicts) save(r repo) error {
	path := progressFile(r)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("remember the verdicts: %w", err)
	}
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("remember the verdicts: %w", err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("remember the verdicts: %w", err)
	}
	return nil
}

// rememberVerdict records the verdict of a run of the learner's code, so
// that progress need not run it again.
func rememberVerdict(r repo, s step, key string, v verdict) error {
	if v.Kind == "error" {
		return nil
	}
	cache := loadVerdicts(r)
	v.Key = key
	cache.Steps[s.name] = v
	return cache.save(r)
}

// suiteKey returns a hash of everything a step's verdict depends on: the
// exercise directory (the learner's code, the suite, step.json), the
// harness and the simulator, go.mod and go.sum, the Go toolchain and the
// runner's per-test limit.
func suiteKey(s step) (string, error) {
	r := s.repo
	h := sha256.New()
	fmt.Fprintf(h, "kata suite key 1\n%s\n%s/%s\n%v\n", runtime.Version(), runtime.GOOS, runtime.GOARCH, testLimit(s))
	add := func(rel string) error {
		f, err := os.Open(filepath.Join(r.root, rel))
		if err != nil {
			return err
		}
		defer f.Close()
		fmt.Fprintf(h, "\x00%s\x00", filepath.ToSlash(rel))
		_, err = io.Copy(h, f)
		return err
	}
	for _, dir := range []string{s.dir(), "harness", "stations"} {
		err := filepath.WalkDir(filepath.Join(r.root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || !d.Type().IsRegular() {
				return nil
			}
			rel, err := filepath.Rel(r.root, path)
			if err != nil {
				return err
			}
			if dir != s.dir() && !strings.HasSuffix(rel, ".go") && !strings.Contains(rel, "testdata") {
				return nil // documentation of the harness changes no verdict
			}
			return add(rel)
		})
		if err != nil && !(errors.Is(err, fs.ErrNotExist) && dir != s.dir()) {
			return "", fmt.Errorf("hash %s: %w", dir, err)
		}
	}
	for _, f := range []string{"go.mod", "go.sum"} {
		if err := add(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("hash %s: %w", f, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
