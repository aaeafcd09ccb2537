//go:build !unix

package main

import (
	"os"
	"os/exec"
)

// ownGroup does nothing where there are no process groups: the kata's suites
// hold fully on Linux and macOS; elsewhere the runner only has to compile.
func ownGroup(cmd *exec.Cmd) {}

// quit ends the process: without SIGQUIT, a Go process cannot be asked for
// its stacks from outside.
func quit(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}

// canQuit reports whether quit makes a Go process dump its stacks.
const canQuit = false

// killGroup ends the leader; its children are its own business here.
func killGroup(leader int) {
	if p, err := os.FindProcess(leader); err == nil {
		_ = p.Kill()
	}
}

// groupMembers knows no groups here.
func groupMembers(leader int) []int { return nil }

// signalGroup passes sig on to the leader. Ctrl-C reaches every process of
// the console by itself here, and an interrupt cannot be sent to one.
func signalGroup(leader int, sig os.Signal) {
	if sig == os.Interrupt {
		return
	}
	if p, err := os.FindProcess(leader); err == nil {
		_ = p.Signal(sig)
	}
}
