package kit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ocppkata/kata/harness/internal/stackdump"
)

const (
	// isolatedEnv names the test that the child process runs for its parent.
	isolatedEnv = "KATA_ISOLATED_TEST"
	// lifelineEnv gives the child the descriptor of its lifeline: the read
	// end of a pipe whose only write end the parent holds (see lifeline).
	lifelineEnv = "KATA_ISOLATED_LIFELINE"
	// testLimitEnv is how long the kata's runner lets one test run (a
	// time.Duration), when it runs the suite.
	testLimitEnv = "KATA_TEST_LIMIT"
)

// Isolated runs body in a fresh process: the test binary runs again with
// only this test selected, and its verdict and log become this test's (a
// child that skips makes the test skip).
//
// Use it for measurements that a process cannot take back. Go never gives OS
// threads back, so a thread count is a high-water mark of everything the
// process did before; in a fresh process it measures this test alone, every
// time, however often the suite runs. Only top-level tests can be isolated.
//
// The child does not outlive its parent: on Linux the kernel kills it when
// the parent dies, and on every Unix it watches a pipe from the parent and
// exits when the pipe closes. Its time limit ends a little before the
// parent's (see childTimeout), so that a child that hangs is stopped by its
// own test binary, which lists its goroutines; the test then fails with the
// goroutines of the child that ran code outside the runtime and testing
// packages: where it hung.
func Isolated(t *testing.T, body func(t *testing.T)) {
	t.Helper()
	if os.Getenv(isolatedEnv) == t.Name() {
		// Registered first, so it runs after every cleanup of the body.
		t.Cleanup(watchParent())
		body(t)
		return
	}
	isolate(t, orphans{pdeathsig: true, lifeline: true})
}

// orphans says how a child is kept from outliving its parent. Both ways are
// used; this package's tests check each alone.
type orphans struct{ pdeathsig, lifeline bool }

// isolate runs t again in a child process and reports what it said.
func isolate(t *testing.T, o orphans) {
	t.Helper()
	limit := time.Duration(0) // none, like the parent's
	left, bounded := time.Duration(0), false
	if deadline, ok := t.Deadline(); ok {
		left, bounded = time.Until(deadline), true
	}
	// The kata's runner gives each test a limit of its own, shorter than
	// the test binary's, and says what it is here.
	if d, err := time.ParseDuration(os.Getenv(testLimitEnv)); err == nil && d > 0 && (!bounded || d < left) {
		left, bounded = d, true
	}
	if bounded {
		limit = childTimeout(left)
	}
	cmd := exec.CommandContext(t.Context(), os.Args[0],
		"-test.run=^"+regexp.QuoteMeta(t.Name())+"$", "-test.count=1", "-test.v",
		"-test.timeout="+limit.String())
	// The race detector makes a process sleep a second on exit by default,
	// to let reports out; the child's report is read from its output anyway.
	cmd.Env = append(os.Environ(), isolatedEnv+"="+t.Name(), "GORACE=atexit_sleep_ms=0 "+os.Getenv("GORACE"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out // one writer: exec writes to it from one goroutine at a time
	if o.pdeathsig {
		dieWithParent(cmd)
	}
	err := run(cmd, o.lifeline)
	if err != nil && !errors.As(err, new(*exec.ExitError)) {
		t.Errorf("run the test in a fresh process: %v\n%s", err, out.Bytes())
		return
	}
	log, hang := splitHang(out.Bytes())
	text := childLog(log)
	switch {
	case hang != nil:
		t.Errorf("%s", strings.TrimLeft(text+"\n\n"+describeHang(hang), "\n"))
	case err != nil:
		if text == "" {
			text = out.String()
		}
		t.Errorf("%s", text)
	case skipped(out.Bytes(), t.Name()):
		t.Skip(text)
	case text != "":
		t.Logf("%s", text)
	}
}

// run starts cmd, with a lifeline if asked, and waits for it.
func run(cmd *exec.Cmd, withLifeline bool) error {
	// On Linux the parent-death signal is sent when the thread that started
	// the child ends, not the process, and the runtime ends a thread when a
	// goroutine locked to it exits: keep this thread until the child is done.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	started, done := func() {}, func() {}
	if withLifeline {
		var err error
		if started, done, err = lifeline(cmd); err != nil {
			return err
		}
	}
	defer done()
	if err := cmd.Start(); err != nil {
		return err
	}
	started()
	return cmd.Wait()
}

// childTimeout is the child's time limit when its parent has left before
// its own deadline: short enough that the child times out first, lists its
// goroutines, and the parent still has the time to report them.
func childTimeout(left time.Duration) time.Duration {
	// The parent needs a few seconds to read and condense the child's
	// goroutines (thousands of them, with -race): 5s at least, up to 10s
	// where the limit is long enough to spare a quarter.
	margin := min(max(left/10, 5*time.Second, min(left/4, 10*time.Second)), left/2)
	limit := left - margin
	if limit >= time.Second {
		limit = limit.Truncate(100 * time.Millisecond) // easier to read in the report
	}
	return max(limit, time.Millisecond)
}

// framing matches the lines go test adds around a test's own output.
var framing = regexp.MustCompile(`^\s*(=== (RUN|PAUSE|CONT|NAME) |--- (PASS|FAIL|SKIP): )|^(PASS|FAIL|ok |exit status )`)

// childLog keeps what the child's test said, without go test's framing.
func childLog(out []byte) string {
	var kept []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if framing.MatchString(line) {
			continue
		}
		kept = append(kept, strings.TrimPrefix(line, "    "))
	}
	return strings.Trim(strings.Join(kept, "\n"), "\n")
}

// skipped reports whether the child's output says that the test skipped.
func skipped(out []byte, name string) bool {
	return bytes.Contains(out, []byte("--- SKIP: "+name+" ("))
}

// timedOut starts the report of a test binary that reached its time limit.
var timedOut = []byte("panic: test timed out after ")

// splitHang splits the child's output at the report of its time limit: what
// the test logged before, and the report with its goroutines (nil if the
// child did not time out).
func splitHang(out []byte) (log, hang []byte) {
	i := bytes.Index(out, timedOut)
	if i < 0 {
		return out, nil
	}
	return out[:i], out[i:]
}

// describeHang condenses the report of a child that timed out: the
// goroutines that ran code of their own, outside the runtime and the testing
// packages.
func describeHang(hang []byte) string {
	report := strings.ReplaceAll(string(hang), "\r\n", "\n")
	first, _, _ := strings.Cut(report, "\n")
	after := strings.TrimPrefix(first, string(timedOut))
	all := stackdump.Parse(report)
	var kept []string
	for _, g := range all {
		if ownCode(g) {
			kept = append(kept, g.Text)
		}
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "The test hung: its process stopped it after %s, short of this test's own deadline, "+
		"so that it could say where it was.\n", after)
	fmt.Fprintf(&sb, "%d of its %d goroutines were in code outside the runtime and testing packages:\n", len(kept), len(all))
	for _, text := range kept {
		sb.WriteString("\n")
		sb.WriteString(text)
		sb.WriteString("\n")
	}
	return strings.TrimRight(sb.String(), "\n")
}

// ownCode reports whether a goroutine has a frame in a package other than
// the runtime's and the testing framework's.
func ownCode(g stackdump.Goroutine) bool {
	if g.Calls(watcherFunc) || g.Calls("testing.(*M).Run") {
		return false // the kit's watch over the child's parent; the test binary's main
	}
	for _, f := range g.Frames {
		if f.Func != "main.main" && !infrastructure(f.Package()) {
			return true
		}
	}
	return false
}

// infrastructure reports whether a package is the runtime's or the testing
// framework's.
func infrastructure(pkg string) bool {
	for _, p := range []string{"runtime", "testing", "internal"} {
		if pkg == p || strings.HasPrefix(pkg, p+"/") {
			return true
		}
	}
	return false
}
