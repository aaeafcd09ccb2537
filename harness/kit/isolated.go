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
	cmd.Env = append(os.Environ(), isolatedEnv+"="+t.Name())
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

// childLog keeps what the child's test said, without go test's framing.
func childLog(out []byte) string {
	var kept []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "=== "), strings.HasPrefix(trimmed, "--- "),
			trimmed == "PASS", trimmed == "FAIL", strings.HasPrefix(trimmed, "ok "),
			strings.HasPrefix(trimmed, "exit status"), trimmed == "":
			continue
		}
		kept = append(kept, strings.TrimPrefix(line, "    "))
	}
	return strings.Join(kept, "\n")
}
