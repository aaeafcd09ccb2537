//go:build unix

package main

import (
	"os"
	"os/exec"
	"syscall"
)

// ownGroup makes cmd start in a process group of its own, so that the
// processes it starts (kit.Isolated re-runs the test binary) can be found
// and ended with it.
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// quit asks a Go process to dump every goroutine's stack and exit.
func quit(pid int) error { return syscall.Kill(pid, syscall.SIGQUIT) }

// canQuit reports whether quit makes a Go process dump its stacks.
const canQuit = true

// killGroup ends every process of the group that leader leads.
func killGroup(leader int) { _ = syscall.Kill(-leader, syscall.SIGKILL) }

// groupMembers returns the processes of leader's group other than leader.
func groupMembers(leader int) []int {
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

// signalGroup sends sig to every process of the group that leader leads,
// as a terminal's Ctrl-C reaches its foreground group.
func signalGroup(leader int, sig os.Signal) {
	if s, ok := sig.(syscall.Signal); ok {
		_ = syscall.Kill(-leader, s)
	}
}
