package learn

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

	"github.com/ocppkata/kata/harness/cmd/kata/internal/base"
	"github.com/ocppkata/kata/harness/cmd/kata/internal/gotest"
	"github.com/ocppkata/kata/harness/cmd/kata/internal/step"
	"github.com/ocppkata/kata/harness/internal/term"
)

// RunProgress prints a table of the steps and where the learner's code
// stands on each. Each suite runs as make check runs it, with -race, so the
// two agree; a step whose code, suite and harness have not changed since it
// last ran is not run again (its verdict is kept in .kata/).
func RunProgress(args []string) error {
	fs := base.NewFlags("progress", "[-fresh]")
	fresh := fs.Bool("fresh", false, "run every suite, even those whose verdict is remembered")
	r, steps, err := base.ParseSteps(fs, args)
	if err != nil {
		return err
	}
	for i := range steps {
		if steps[i].MetaErr != nil {
			steps[i].Meta.Title = "(no usable step.json)"
		}
	}
	st := term.StyleFor(os.Stdout)
	cache := loadVerdicts(r)
	verdicts := make([]verdict, len(steps))
	ran := 0
	saidCold := false
	for i, s := range steps {
		key, err := suiteKey(s)
		if err == nil && !*fresh {
			if v, ok := cache.Steps[s.Name]; ok && v.Key == key {
				verdicts[i] = v
				continue
			}
		}
		if ran == 0 {
			fmt.Println(st.Dim("running the suites that changed since they last ran, with the race detector…"))
		}
		ran++
		su := gotest.NewSuite(s)
		su.SlowBuild = func() {
			if saidCold {
				return
			}
			saidCold = true
			st.Clear(os.Stdout)
			fmt.Println(st.Dim("compiling the suites with the race detector: the first build takes a minute or more (later ones, seconds)…"))
		}
		su.Running = func(test string, d time.Duration) {
			if st.TTY {
				st.Status(os.Stdout, fmt.Sprintf("  %s: running %s… %s", s.Name, test, term.DurationWords(d)))
			}
		}
		if !st.TTY {
			fmt.Printf("  %s…\n", s.Name)
		}
		tr := su.Run(context.Background())
		st.Clear(os.Stdout)
		verdicts[i] = verdictOf(tr)
		if err == nil && tr.Err == nil {
			verdicts[i].Key = key
			cache.Steps[s.Name] = verdicts[i]
		}
	}
	if ran == 0 {
		fmt.Println(st.Dim("nothing changed since the suites last ran (with make check or make progress): their verdicts stand."))
	}
	if ran > 0 {
		if err := cache.save(r); err != nil {
			fmt.Fprintln(os.Stderr, "kata progress:", err)
		}
	}

	titleWidth := len("title")
	for _, s := range steps {
		titleWidth = max(titleWidth, utf8.RuneCountInString(s.Meta.Title))
	}
	fmt.Printf("\n%s  %s  %s\n", st.Bold("step"), st.Bold(fmt.Sprintf("%-*s", titleWidth, "title")), st.Bold("your code"))
	passing := 0
	next := 0
	for i, s := range steps {
		status, ok := standing(st, verdicts[i])
		if ok {
			passing++
		} else if next == 0 {
			next = s.Num
		}
		hints := ""
		if seen := loadHintState(s).total(); seen > 0 {
			hints = st.Dim(fmt.Sprintf("  (%s seen)", term.Plural(seen, "hint")))
		}
		pad := titleWidth - utf8.RuneCountInString(s.Meta.Title)
		fmt.Printf("%02d    %s%*s  %s%s\n", s.Num, s.Meta.Title, pad, "", status, hints)
	}
	fmt.Printf("\n%d of %s done.", passing, term.Plural(len(steps), "step"))
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
func verdictOf(tr *gotest.TestRun) verdict {
	if tr.Err != nil {
		return verdict{Kind: "error", Error: tr.Err.Error()}
	}
	if tr.BuildFailed() || len(tr.Pkgs) == 0 {
		if _, vet := gotest.BuildComplaint(tr); vet {
			return verdict{Kind: "vet"}
		}
		return verdict{Kind: "compile"}
	}
	p := tr.Only()
	v := verdict{}
	for _, t := range p.TopLevel() {
		switch t.Action {
		case "pass":
			v.Passed++
			v.Total++
		case "skip":
		default:
			v.Total++
		}
	}
	all := append(append([]*gotest.Crash(nil), p.Crashes...), p.Hangs...)
	switch {
	case len(all) > 0 && all[0].Hung != 0:
		v.Kind, v.Test = "hang", all[0].Test
	case len(all) > 0:
		v.Kind, v.Test = "crash", all[0].Test
	case v.Passed == v.Total && p.Action == "pass":
		v.Kind = "passing"
	default:
		v.Kind = "failing"
	}
	return v
}

// standing describes a verdict in the progress table, and reports whether
// every test passed.
func standing(st term.Style, v verdict) (string, bool) {
	switch v.Kind {
	case "error":
		return st.Red("could not run: " + v.Error), false
	case "compile":
		return st.Red("does not compile"), false
	case "vet":
		return st.Red("go vet complains"), false
	case "hang":
		return st.Red(fmt.Sprintf("%s hangs (%d of %d tests pass)", gotest.FirstNonEmpty(v.Test, "a test"), v.Passed, v.Total)), false
	case "crash":
		return st.Red(fmt.Sprintf("crashes in %s (%d of %d tests pass)", gotest.FirstNonEmpty(v.Test, "the suite"), v.Passed, v.Total)), false
	case "passing":
		return st.Green(fmt.Sprintf("passing (%d of %d tests)", v.Passed, v.Total)), true
	}
	return st.Yellow(fmt.Sprintf("failing (%d of %d tests pass)", v.Passed, v.Total)), false
}

// verdicts is the content of .kata/progress.json.
type verdicts struct {
	Steps map[string]verdict `json:"steps"`
}

// progressFile is where kata remembers the verdicts of the steps' suites.
func progressFile(r step.Repo) string { return filepath.Join(r.Root, ".kata", "progress.json") }

// loadVerdicts reads the remembered verdicts; none if there are none.
func loadVerdicts(r step.Repo) verdicts {
	v := verdicts{Steps: make(map[string]verdict)}
	data, err := os.ReadFile(progressFile(r))
	if err != nil || json.Unmarshal(data, &v) != nil || v.Steps == nil {
		return verdicts{Steps: make(map[string]verdict)}
	}
	return v
}

// save writes the verdicts to .kata/.
func (v verdicts) save(r step.Repo) error {
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
func rememberVerdict(r step.Repo, s step.Step, key string, v verdict) error {
	if v.Kind == "error" {
		return nil
	}
	cache := loadVerdicts(r)
	v.Key = key
	cache.Steps[s.Name] = v
	return cache.save(r)
}

// suiteKey returns a hash of everything a step's verdict depends on: the
// exercise directory (the learner's code, the suite, step.json), the
// harness and the simulator, go.mod and go.sum, the Go toolchain and the
// runner's per-test limit.
func suiteKey(s step.Step) (string, error) {
	r := s.Repo
	h := sha256.New()
	fmt.Fprintf(h, "kata suite key 1\n%s\n%s/%s\n%v\n", runtime.Version(), runtime.GOOS, runtime.GOARCH, gotest.TestLimit(s))
	add := func(rel string) error {
		f, err := os.Open(filepath.Join(r.Root, rel))
		if err != nil {
			return err
		}
		defer f.Close()
		fmt.Fprintf(h, "\x00%s\x00", filepath.ToSlash(rel))
		_, err = io.Copy(h, f)
		return err
	}
	for _, dir := range []string{s.Dir(), "harness", "stations"} {
		err := filepath.WalkDir(filepath.Join(r.Root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || !d.Type().IsRegular() {
				return nil
			}
			rel, err := filepath.Rel(r.Root, path)
			if err != nil {
				return err
			}
			if dir != s.Dir() && !strings.HasSuffix(rel, ".go") && !strings.Contains(rel, "testdata") {
				return nil // documentation of the harness changes no verdict
			}
			return add(rel)
		})
		if err != nil && !(errors.Is(err, fs.ErrNotExist) && dir != s.Dir()) {
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
