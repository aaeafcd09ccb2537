//go:build unix

package kit

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
)

// watcherFunc is the function of the goroutine that watches the lifeline,
// for the checks that must not count it (NoLeaks, the report of a hang).
const watcherFunc = "github.com/ocppkata/kata/harness/kit.(*lifelineWatch).run"

// lifeline gives the child the read end of a pipe whose write end only this
// process holds. When this process ends, however it ends, the kernel closes
// the write end and the child reads end-of-file: that is how a child knows
// that its parent has gone, on every Unix. started closes the parent's copy
// of the read end once the child has its own; done closes the write end once
// the child has exited.
func lifeline(cmd *exec.Cmd) (started, done func(), err error) {
	r, w, err := os.Pipe() // both ends close-on-exec: no other child inherits them
	if err != nil {
		return nil, nil, fmt.Errorf("lifeline: %w", err)
	}
	cmd.ExtraFiles = append(cmd.ExtraFiles, r)
	fd := 3 + len(cmd.ExtraFiles) - 1 // ExtraFiles start at descriptor 3
	cmd.Env = append(cmd.Env, lifelineEnv+"="+strconv.Itoa(fd))
	return func() { r.Close() }, func() { r.Close(); w.Close() }, nil
}

type lifelineWatch struct {
	f     *os.File
	ended chan struct{}
}

// watchParent starts watching the lifeline from the parent, if this process
// has one, and exits the process when the parent has gone. It returns the
// function that stops watching.
func watchParent() (stop func()) {
	fd, err := strconv.Atoi(os.Getenv(lifelineEnv))
	if err != nil {
		return func() {}
	}
	syscall.CloseOnExec(fd) // not the business of this process's own children
	// Non-blocking, the descriptor is read through the netpoller: the
	// watcher holds no OS thread, and closing the file stops it.
	if err := syscall.SetNonblock(fd, true); err != nil {
		fmt.Fprintf(os.Stderr, "kit.Isolated: cannot watch the parent process: %v\n", err)
		return func() {}
	}
	w := &lifelineWatch{f: os.NewFile(uintptr(fd), "lifeline"), ended: make(chan struct{})}
	go w.run()
	return func() {
		w.f.Close()
		<-w.ended
	}
}

func (w *lifelineWatch) run() {
	defer close(w.ended)
	var buf [1]byte
	for {
		_, err := w.f.Read(buf[:]) // the parent never writes: this waits for the end
		if errors.Is(err, os.ErrClosed) {
			return // stopped: the test is over
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "kit.Isolated: the parent process has gone (%v); this test process stops too\n", err)
			os.Exit(3)
		}
	}
}
