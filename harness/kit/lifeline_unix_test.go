//go:build unix

package kit

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// orphanEnv tells TestIsolatedHelperOrphan where to leave its files, and
// orphanWays how its child is kept from outliving it.
const (
	orphanEnv  = "KIT_TEST_ORPHAN_DIR"
	orphanWays = "KIT_TEST_ORPHAN_WAYS"
)

func TestIsolatedHelperOrphan(t *testing.T) {
	dir := os.Getenv(orphanEnv)
	if dir == "" {
		t.Skip("run by TestIsolatedChildDiesWithItsParent")
	}
	body := func(t *testing.T) {
		// Hold a lock for as long as this process lives, tell the test
		// which process holds it, and wait forever.
		f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
		require.NoError(t, err)
		require.NoError(t, syscall.Flock(int(f.Fd()), syscall.LOCK_EX))
		pid := filepath.Join(dir, "pid")
		require.NoError(t, os.WriteFile(pid+".tmp", []byte(strconv.Itoa(os.Getpid())), 0o600))
		require.NoError(t, os.Rename(pid+".tmp", pid))
		<-t.Context().Done() // never: a test's context ends after the test
	}
	if os.Getenv(isolatedEnv) == t.Name() {
		Isolated(t, body)
		return
	}
	switch os.Getenv(orphanWays) {
	case "pdeathsig":
		isolate(t, orphans{pdeathsig: true})
	case "lifeline":
		isolate(t, orphans{lifeline: true})
	}
}

func TestIsolatedChildDiesWithItsParent(t *testing.T) {
	for _, ways := range []string{"lifeline", "pdeathsig"} {
		t.Run(ways, func(t *testing.T) {
			if ways == "pdeathsig" && runtime.GOOS != "linux" {
				t.Skip("a parent-death signal is Linux's")
			}
			dir := t.TempDir()
			parent := exec.Command(os.Args[0], "-test.run=^TestIsolatedHelperOrphan$", "-test.count=1", "-test.timeout=5m")
			parent.Env = append(os.Environ(), orphanEnv+"="+dir, orphanWays+"="+ways, "GORACE=atexit_sleep_ms=0")
			require.NoError(t, parent.Start())
			t.Cleanup(func() { parent.Process.Kill(); parent.Wait() })

			// Wait for the child to hold its lock. Polling only decides when
			// to look; the lock is what tells the child's end.
			var pid int
			for deadline := time.Now().Add(time.Minute); pid == 0; time.Sleep(5 * time.Millisecond) {
				if b, err := os.ReadFile(filepath.Join(dir, "pid")); err == nil {
					pid, err = strconv.Atoi(string(b))
					require.NoError(t, err)
				}
				require.False(t, time.Now().After(deadline), "the isolated child never started")
			}

			require.NoError(t, parent.Process.Kill())
			parent.Wait()

			// The child's lock goes when the child does.
			f, err := os.Open(filepath.Join(dir, "lock"))
			require.NoError(t, err)
			defer f.Close()
			unlocked := make(chan error, 1)
			go func() { unlocked <- syscall.Flock(int(f.Fd()), syscall.LOCK_EX) }()
			select {
			case err := <-unlocked:
				require.NoError(t, err)
			case <-time.After(time.Minute):
				syscall.Kill(pid, syscall.SIGKILL)
				<-unlocked
				t.Fatalf("the isolated child (process %d) was still running a minute after its parent was killed", pid)
			}
		})
	}
}
