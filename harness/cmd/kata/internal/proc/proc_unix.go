//go:build unix

// Package proc starts commands in a process group of their own and ends
// them, group and all, so that a hung test binary does not outlive the
// runner; on a Unix system it can also ask a Go process for its stacks.
package proc

import (
	"os"
	"os/exec"
	"syscall"
)

// OwnGroup makes cmd start in a process group of its own, so that the
// processes it starts (kit.Isolated re-runs the test binary) can be found
// and ended with it.
func OwnGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// Quit asks a Go process to dump every goroutine's stack and exit.
func Quit(pid int) error { return syscall.Kill(pid, syscall.SIGQUIT) }

// CanQuit reports whether quit makes a Go process dump its stacks.
const CanQuit = true

// KillGroup ends every process of the group that leader leads.
func KillGroup(leader int) { _ = syscall.Kill(-leader, syscall.SIGKILL) }

// GroupMembers returns the processes of leader's group other than leader.
func GroupMembers(leader int) []int {
	var out []int
	for _, p := range listProcesses() {
		if p.pgid == leader && p.pid != leader {
			out = append(out, p.pid)
		}
	}
	return out
}

// A process is one entry of the system's process table.
type process struct{ pid, pgid int }

// SignalGroup sends sig to every process of the group that leader leads,
// as a terminal's Ctrl-C reaches its foreground group.
func SignalGroup(leader int, sig os.Signal) {
	if s, ok := sig.(syscall.Signal); ok {
		_ = syscall.Kill(-leader, s)
	}
}
