//go:build !unix

package proc

import (
	"os"
	"os/exec"
)

// OwnGroup does nothing where there are no process groups: the kata's suites
// hold fully on Linux and macOS; elsewhere the runner only has to compile.
func OwnGroup(cmd *exec.Cmd) {}

// Quit ends the process: without SIGQUIT, a Go process cannot be asked for
// its stacks from outside.
func Quit(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}

// CanQuit reports whether quit makes a Go process dump its stacks.
const CanQuit = false

// KillGroup ends the leader; its children are its own business here.
func KillGroup(leader int) {
	if p, err := os.FindProcess(leader); err == nil {
		_ = p.Kill()
	}
}

// GroupMembers knows no groups here.
func GroupMembers(leader int) []int { return nil }

// SignalGroup passes sig on to the leader. Ctrl-C reaches every process of
// the console by itself here, and an interrupt cannot be sent to one.
func SignalGroup(leader int, sig os.Signal) {
	if sig == os.Interrupt {
		return
	}
	if p, err := os.FindProcess(leader); err == nil {
		_ = p.Signal(sig)
	}
}
