package chain

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// TestChainOfSteps holds the kata's own steps to the chain: each starter,
// as committed (git HEAD; on disk where git does not know it, as make test
// does), is the previous step's solution plus the lesson its step.json
// declares.
func TestChainOfSteps(t *testing.T) {
	root := filepath.Join("..", "..")
	starters, err := filepath.Glob(filepath.Join(root, "exercises", "[0-9][0-9]-*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(starters) < 2 {
		t.Fatalf("found %d steps under %s, want the kata's", len(starters), filepath.Join(root, "exercises"))
	}
	for i := 1; i < len(starters); i++ {
		next := starters[i]
		prev := filepath.Join(root, "solutions", filepath.Base(starters[i-1]))
		t.Run(filepath.Base(next), func(t *testing.T) {
			lesson := readLesson(t, next)
			dir := committedStarter(t, root, next)
			diffs, err := Compare(prev, dir, lesson)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range diffs {
				d.Starter.Dir = next // name the starter, not its copy
				t.Error(d)
			}
		})
	}
}

// readLesson reads the lesson field of a step's step.json.
func readLesson(t *testing.T, dir string) Lesson {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "step.json"))
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		Lesson Lesson `json:"lesson"`
	}
	if err := json.Unmarshal(data, &meta); err != nil {
		t.Fatalf("%s/step.json: %v", dir, err)
	}
	return meta.Lesson
}

// committedStarter copies the non-test .go files of a starter as committed
// at HEAD into a temporary directory and returns it; where git does not
// know them (no git, not a checkout, a step not committed yet), it returns
// dir itself.
func committedStarter(t *testing.T, root, dir string) string {
	t.Helper()
	rel, err := filepath.Rel(root, dir)
	if err != nil {
		t.Fatal(err)
	}
	gitIn := func(args ...string) ([]byte, error) {
		cmd := exec.Command("git", args...)
		cmd.Dir = root
		return cmd.Output()
	}
	out, err := gitIn("ls-tree", "--name-only", "HEAD", "--", "./"+filepath.ToSlash(rel)+"/")
	var exitErr *exec.ExitError
	if errors.Is(err, exec.ErrNotFound) || errors.As(err, &exitErr) || len(out) == 0 {
		t.Logf("%s: not known to git, compared as on disk", rel)
		return dir
	}
	if err != nil {
		t.Fatal(err)
	}
	copyDir := t.TempDir()
	for line := range strings.Lines(string(out)) {
		name := path.Base(strings.TrimSpace(line))
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		data, err := gitIn("show", "HEAD:./"+filepath.ToSlash(rel)+"/"+name)
		if err != nil {
			t.Fatalf("git show %s/%s: %v", rel, name, err)
		}
		if err := os.WriteFile(filepath.Join(copyDir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return copyDir
}
