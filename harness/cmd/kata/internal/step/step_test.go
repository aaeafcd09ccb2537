package step

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestStepNumber(t *testing.T) {
	for name, want := range map[string]int{"01-workers": 1, "12-x": 12} {
		if n, ok := stepNumber(name); !ok || n != want {
			t.Errorf("stepNumber(%q) = %d, %v; want %d", name, n, ok, want)
		}
	}
	for _, name := range []string{"1-x", "workers", "ab-x", "001-x"} {
		if _, ok := stepNumber(name); ok {
			t.Errorf("stepNumber(%q) accepted a name that is not a step's", name)
		}
	}
}

func TestWriteOverlay(t *testing.T) {
	root := t.TempDir()
	write := func(rel string) {
		path := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("package x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"exercises/01-x/a.go", "exercises/01-x/b.go", "exercises/01-x/a_test.go",
		"solutions/01-x/a.go", "solutions/01-x/c.go"} {
		write(f)
	}
	s := Step{Num: 1, Name: "01-x", Repo: Repo{Root: root}}
	path, err := solutionOverlay(s, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got struct{ Replace map[string]string }
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	ex, sol := filepath.Join(root, "exercises", "01-x"), filepath.Join(root, "solutions", "01-x")
	want := map[string]string{
		filepath.Join(ex, "a.go"): filepath.Join(sol, "a.go"), // replaced
		filepath.Join(ex, "b.go"): "",                         // deleted: the solution has none
		filepath.Join(ex, "c.go"): filepath.Join(sol, "c.go"), // added
	}
	if len(got.Replace) != len(want) {
		t.Errorf("overlay has %d entries, want %d: %v", len(got.Replace), len(want), got.Replace)
	}
	for k, v := range want {
		if got.Replace[k] != v {
			t.Errorf("overlay maps %s to %q, want %q", k, got.Replace[k], v)
		}
	}
}
