package gotest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ocppkata/kata/harness/cmd/kata/internal/step"
)

// TestSuiteHangAndCrash runs a small suite whose second test hangs on a
// mutex inside a synctest bubble and whose third panics: the runner must
// stop the hang at the limit with the goroutines' stacks, run the tests
// after each crash, and leave no process behind.
func TestSuiteHangAndCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a test binary")
	}
	if runtime.GOOS == "windows" {
		t.Skip("no SIGQUIT: a hang is stopped without stacks")
	}
	root := t.TempDir()
	files := map[string]string{
		"go.mod": "module example.com/kata\n\ngo 1.26\n",
		"exercises/01-x/x.go": `package x

import (
	"sync"
	"time"
)

type P struct{ mu sync.Mutex }

// Process holds the lock across a fake-time wait.
func (p *P) Process() {
	p.mu.Lock()
	defer p.mu.Unlock()
	time.Sleep(time.Second)
}
`,
		"exercises/01-x/x_test.go": `package x

import (
	"sync"
	"testing"
	"testing/synctest"
)

func TestFirst(t *testing.T) {}

func TestHangs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var p P
		var wg sync.WaitGroup
		for range 3 {
			wg.Go(p.Process)
		}
		wg.Wait()
	})
}

func TestHangsToo(t *testing.T) {
	TestHangs(t)
}

func TestPanics(t *testing.T) {
	var m map[string]int
	m["x"] = 1
}

func TestLast(t *testing.T) {}
`,
	}
	for name, text := range files {
		path := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := step.Step{Num: 1, Name: "01-x", Repo: step.Repo{Root: root, Module: "example.com/kata"}}
	su := suite{s: s, limit: 3 * time.Second, afterHang: 2 * time.Second}
	var saw []string
	su.Running = func(test string, d time.Duration) { saw = append(saw, test) }
	tr := su.Run(context.Background())
	if tr.Err != nil {
		t.Fatal(tr.Err)
	}
	p := tr.Only()
	verdicts := make(map[string]string)
	for _, test := range p.TopLevel() {
		verdicts[test.Name] = test.Action
	}
	want := map[string]string{"TestFirst": "pass", "TestHangs": "fail", "TestHangsToo": "fail", "TestPanics": "fail", "TestLast": "pass"}
	for name, action := range want {
		if verdicts[name] != action {
			t.Errorf("%s: %q, want %q (all: %v)", name, verdicts[name], action, verdicts)
		}
	}
	if len(p.Crashes) != 3 {
		t.Fatalf("%d crashes, want 3 (the hang, the second hang, the panic)", len(p.Crashes))
	}
	hang, panicked := p.Crashes[0], p.Crashes[2]
	if again := p.Crashes[1]; again.Test != "TestHangsToo" || again.Hung != su.afterHang || again.after != "TestHangs" {
		t.Errorf("second crash: test %q, hung %v after %q; want TestHangsToo after %v, cut short by TestHangs", again.Test, again.Hung, again.after, su.afterHang)
	} else if text := strings.Join(ExplainCrash(s.Repo, s, again), "\n"); !strings.Contains(text, "since TestHangs had hung already") {
		t.Errorf("the second hang's explanation does not say it was cut short:\n%s", text)
	}
	if hang.Test != "TestHangs" || hang.Hung != su.limit {
		t.Errorf("first crash: test %q, hung %v; want TestHangs after %v", hang.Test, hang.Hung, su.limit)
	}
	text := strings.Join(ExplainCrash(s.Repo, s, hang), "\n")
	for _, want := range []string{"waiting (sync.Mutex.Lock) in 01-x.(*P).Process at exercises/01-x/x.go:12 (2 goroutines)", "synctest bubble wait for a sync.Mutex"} {
		if !strings.Contains(text, want) {
			t.Errorf("the hang's explanation does not say %q:\n%s", want, text)
		}
	}
	if panicked.Test != "TestPanics" || !strings.Contains(panicked.first, "assignment to entry in nil map") {
		t.Errorf("second crash: test %q, %q; want TestPanics's nil map", panicked.Test, panicked.first)
	}
	if !strings.Contains(strings.Join(saw, " "), "TestHangs") {
		t.Errorf("running was never told of TestHangs: %v", saw)
	}
	if out, err := exec.Command("pgrep", "-f", "01-x.test").Output(); err == nil {
		t.Errorf("processes of the suite are still running:\n%s", out)
	}
}
