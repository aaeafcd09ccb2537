package main

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel stop a node when make cluster dies without
// stopping it (killed with -9, say): a node left behind would hold its port
// and its stations.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
