package kit

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

const isolatedEnv = "KATA_ISOLATED_TEST"

// Isolated runs body in a fresh process: the test binary runs again with
// only this test selected, and its verdict and log become this test's.
//
// Use it for measurements that a process cannot take back. Go never gives OS
// threads back, so a thread count is a high-water mark of everything the
// process did before; in a fresh process it measures this test alone, every
// time, however often the suite runs. Only top-level tests can be isolated.
func Isolated(t *testing.T, body func(t *testing.T)) {
	t.Helper()
	if os.Getenv(isolatedEnv) == t.Name() {
		body(t)
		return
	}
	cmd := exec.CommandContext(t.Context(), os.Args[0],
		"-test.run=^"+regexp.QuoteMeta(t.Name())+"$", "-test.count=1", "-test.v", "-test.timeout=3m")
	// The race detector makes a process sleep a second on exit by default,
	// to let reports out; the child's report is read from its output anyway.
	cmd.Env = append(os.Environ(), isolatedEnv+"="+t.Name(), "GORACE=atexit_sleep_ms=0 "+os.Getenv("GORACE"))
	out, err := cmd.CombinedOutput()
	text := childLog(out)
	if err != nil {
		if text == "" {
			text = string(out)
		}
		t.Errorf("%s", text)
		return
	}
	if text != "" {
		t.Logf("%s", text)
	}
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
