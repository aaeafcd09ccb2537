//go:build unix && !linux

package main

import (
	"os/exec"
	"syscall"
)

// ownGroup puts a node in a process group of its own, so that a Ctrl-C
// reaches it once, from cluster, rather than twice (the second would force
// it).
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}
