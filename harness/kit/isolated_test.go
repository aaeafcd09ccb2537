package kit

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestChildTimeout(t *testing.T) {
	tests := []struct {
		left, want time.Duration
	}{
		{10 * time.Minute, 9 * time.Minute},             // a tenth to spare
		{time.Minute, 50 * time.Second},                 // 10s: a tenth is too little to report thousands of goroutines
		{40 * time.Second, 30 * time.Second},            // a quarter, up to 10s
		{30 * time.Second, 22500 * time.Millisecond},    // a quarter
		{15 * time.Second, 10 * time.Second},            // at least 5s
		{6 * time.Second, 3 * time.Second},              // at most half
		{6100 * time.Millisecond, 3 * time.Second},      // in tenths of a second
		{100 * time.Millisecond, 50 * time.Millisecond}, // at most half
		{-time.Second, time.Millisecond},                // already late: fail at once
		{0, time.Millisecond},                           // the same
		{3 * time.Hour, 3*time.Hour - 18*time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.left.String(), func(t *testing.T) {
			got := childTimeout(tt.left)
			require.Equal(t, tt.want, got)
			if tt.left > 0 {
				require.Less(t, got, tt.left, "the child must time out before its parent")
			}
		})
	}
}

// A traceback as a test binary prints it when it times out (Go 1.26).
const hangReport = `panic: test timed out after 3s
	running tests:
		TestX (3s)

goroutine 34 [running]:
panic({0x6a1a20?, 0xc0001a2010?})
	/usr/local/go/src/runtime/panic.go:806 +0x168
testing.(*M).startAlarm.func1()
	/usr/local/go/src/testing/testing.go:2802 +0x345
created by time.goFunc
	/usr/local/go/src/time/sleep.go:215 +0x2d

goroutine 1 [chan receive]:
testing.(*T).Run(0xc000003340, {0x70c4e5?, 0xc000117b30?}, 0x7227c8)
	/usr/local/go/src/testing/testing.go:2005 +0x485
testing.runTests.func1(0xc000003340)
	/usr/local/go/src/testing/testing.go:2477 +0x37
testing.tRunner(0xc000003340, 0xc000117c70)
	/usr/local/go/src/testing/testing.go:1934 +0xea
testing.runTests(0xc0000b4018, {0x9a0c00, 0x3, 0x3}, {0xc000117d10?, 0x0?, 0x9c5f60?})
	/usr/local/go/src/testing/testing.go:2475 +0x4b4
testing.(*M).Run(0xc0000c6000)
	/usr/local/go/src/testing/testing.go:2337 +0x63a
main.main()
	_testmain.go:49 +0x9b

goroutine 7 [select]:
github.com/ocppkata/kata/exercises/01-workers.(*Server).work(0xc0000c8000, {0x70a123, 0x8})
	/work/exercises/01-workers/server.go:93 +0x1a5
sync.(*WaitGroup).Go.func1()
	/usr/local/go/src/sync/waitgroup.go:239 +0x4a
created by sync.(*WaitGroup).Go in goroutine 6
	/usr/local/go/src/sync/waitgroup.go:237 +0x73

goroutine 9 [IO wait]:
internal/poll.runtime_pollWait(0x7f30e8d2c0e8, 0x72)
	/usr/local/go/src/runtime/netpoll.go:351 +0x85
internal/poll.(*pollDesc).wait(0xc0000ce0a0?, 0x0?, 0x0)
	/usr/local/go/src/internal/poll/fd_poll_runtime.go:84 +0x27
os.(*File).Read(0xc0000a6038, {0xc0000c1f47, 0x1, 0x1})
	/usr/local/go/src/os/file.go:144 +0x4f
github.com/ocppkata/kata/harness/kit.(*lifelineWatch).run(0xc0000a8020)
	/work/harness/kit/lifeline_unix.go:70 +0x65
created by github.com/ocppkata/kata/harness/kit.watchParent in goroutine 6
	/work/harness/kit/lifeline_unix.go:56 +0x1b4

goroutine 6 [sync.WaitGroup.Wait]:
sync.runtime_SemacquireWaitGroup(0xc0000c8040?, 0x0?)
	/usr/local/go/src/runtime/sema.go:114 +0x2e
sync.(*WaitGroup).Wait(0xc0000c8038)
	/usr/local/go/src/sync/waitgroup.go:206 +0x85
github.com/ocppkata/kata/exercises/01-workers_test.TestX(0xc000003500)
	/work/exercises/01-workers/workers_test.go:40 +0x9b
testing.tRunner(0xc000003500, 0x7227c8)
	/usr/local/go/src/testing/testing.go:1934 +0xea
created by testing.(*T).Run in goroutine 1
	/usr/local/go/src/testing/testing.go:1997 +0x465

goroutine 10 [chan receive, synctest bubble 1]:
testing.tRunner.func1()
	/usr/local/go/src/testing/testing.go:1890 +0x3a5
testing.tRunner(0xc000003880, 0xc0000d4000)
	/usr/local/go/src/testing/testing.go:1940 +0x12a
created by testing.testingSynctestTest in goroutine 6
	/usr/local/go/src/testing/testing.go:2150 +0x1f1
`

func TestDescribeHang(t *testing.T) {
	log, hang := splitHang([]byte("=== RUN   TestX\n    x_test.go:12: before the hang\n" + hangReport))
	require.Equal(t, "x_test.go:12: before the hang", childLog(log))
	got := describeHang(hang)
	assert.Contains(t, got, "The test hung: its process stopped it after 3s,")
	assert.Contains(t, got, "2 of its 6 goroutines")
	assert.Contains(t, got, "goroutine 7 [select]:\ngithub.com/ocppkata/kata/exercises/01-workers.(*Server).work(",
		"a goroutine of the code under test is shown")
	assert.Contains(t, got, "created by sync.(*WaitGroup).Go in goroutine 6", "shown whole")
	assert.Contains(t, got, "goroutine 6 [sync.WaitGroup.Wait]:", "the test's own goroutine is shown")
	for _, hidden := range []string{"goroutine 34 ", "goroutine 1 ", "goroutine 9 ", "goroutine 10 "} {
		assert.NotContains(t, got, hidden, "only the runtime's, the testing framework's and the kit's")
	}

	log, hang = splitHang([]byte("=== RUN   TestX\n--- PASS: TestX\n"))
	require.Nil(t, hang, "no time limit reached")
	require.Equal(t, "=== RUN   TestX\n--- PASS: TestX\n", string(log))
}

// hung is where TestIsolatedHelperHangs's child stops, for the parent's
// report to name.
func hung(t *testing.T) { <-t.Context().Done() } // a test's context ends after the test: never

func stuck(c chan struct{}) { <-c }

func TestIsolatedHelperHangs(t *testing.T) {
	if os.Getenv(helperEnv) == "" {
		t.Skip("run by TestIsolatedReportsAHang")
	}
	Isolated(t, func(t *testing.T) {
		c := make(chan struct{})
		go stuck(c)
		t.Log("about to hang")
		hung(t)
		close(c)
	})
}

func TestIsolatedReportsAHang(t *testing.T) {
	quickExit(t)
	t.Setenv(helperEnv, "1")
	// The parent gets 8s: its child then times out after about 4, lists its
	// goroutines, and the parent reports them before its own limit.
	cmd := exec.CommandContext(t.Context(), os.Args[0],
		"-test.run=^TestIsolatedHelperHangs$", "-test.v", "-test.count=1", "-test.timeout=8s")
	out, err := cmd.CombinedOutput()
	text := string(out)
	require.Error(t, err, text)
	require.Contains(t, text, "--- FAIL: TestIsolatedHelperHangs", text)
	require.NotContains(t, text, "panic: test timed out", "the parent timed out too: it did not see the child's report first\n%s", text)
	for _, want := range []string{
		"about to hang",
		"The test hung: its process stopped it after",
		"github.com/ocppkata/kata/harness/kit.hung(",
		"github.com/ocppkata/kata/harness/kit.stuck(",
	} {
		require.Contains(t, text, want)
	}
	for _, hidden := range []string{"testing.(*M).startAlarm", "main.main()", "lifelineWatch"} {
		require.NotContains(t, text, hidden, "the report lists only goroutines of the test's own code")
	}
	require.Less(t, strings.Count(text, "\ngoroutine "), 4, text)
}
