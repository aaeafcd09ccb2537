package kit

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// procThreads reads the kernel's count of the process's threads.
func procThreads(t *testing.T) int {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Threads:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			require.NoError(t, err)
			return n
		}
	}
	t.Fatal("no Threads line in /proc/self/status")
	return 0
}

func metricThreads(t *testing.T) int {
	t.Helper()
	n, err := Threads()
	require.NoError(t, err)
	return n
}

// agree waits until Threads and /proc/self/status give the same count, and
// returns it. Threads are started and ended in steps that the two sources see
// at slightly different moments; at rest they must agree exactly. The
// deadline only bounds the wait: what is checked is the equality.
func agree(t *testing.T, when string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		m, p := metricThreads(t), procThreads(t)
		if m == p {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: runtime/metrics counts %d threads, /proc/self/status %d, and they never agreed", when, m, p)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestThreadsAgreesWithProc(t *testing.T) {
	// A fresh process, so that no other test starts or ends threads meanwhile.
	isolated(t, func(t *testing.T) {
		const n = 64
		rest := agree(t, "at rest")

		// The load: n goroutines locked to threads of their own, started
		// all at once, while this goroutine compares the two counts. The
		// runtime counts a thread a moment before the kernel has it, so a
		// count is bracketed by the kernel's before and after, give or take
		// the threads being started at that instant (at most one per P, and
		// the runtime's own).
		slack := runtime.GOMAXPROCS(0) + 2
		release := make(chan struct{})
		var started, ended sync.WaitGroup
		for range n {
			started.Add(1)
			ended.Go(func() {
				runtime.LockOSThread()
				started.Done()
				<-release
				// Exiting while locked ends the thread too, except the
				// process's main thread: the runtime wedges it instead,
				// and stops counting a thread that the kernel still has.
				if syscall.Gettid() == syscall.Getpid() {
					runtime.UnlockOSThread()
				}
			})
		}
		all := make(chan struct{})
		go func() { started.Wait(); close(all) }()
		samples := 0
		for loaded := false; !loaded; samples++ {
			select {
			case <-all:
				loaded = true
			default:
			}
			before := procThreads(t)
			m := metricThreads(t)
			after := procThreads(t)
			require.GreaterOrEqual(t, m, before-slack,
				"under load, runtime/metrics counted %d threads while the kernel had %d just before", m, before)
			require.LessOrEqual(t, m, after+slack,
				"under load, runtime/metrics counted %d threads while the kernel had %d just after", m, after)
		}
		loaded := agree(t, "with the load")
		if loaded <= n {
			t.Fatalf("threads: %d at rest, %d with %d goroutines locked to theirs, want more than %d: "+
				"each locked goroutine has a thread of its own, and this one too", rest, loaded, n, n)
		}
		t.Logf("threads: %d at rest, %d with %d goroutines locked to theirs (%d samples under load)", rest, loaded, n, samples)

		close(release)
		ended.Wait()
		gone := agree(t, "after the load")
		// The runtime may start a thread or two to take over their Ps: what
		// matters is that most of them went, so the two sources were
		// compared after threads ended too.
		if gone >= loaded-n/2 {
			t.Fatalf("threads: %d after the %d locked goroutines exited, %d with them, want fewer than %d: "+
				"the thread of a goroutine that exits locked ends with it", gone, n, loaded, loaded-n/2)
		}
		t.Logf("threads: %d after the locked goroutines exited", gone)
	})
}
