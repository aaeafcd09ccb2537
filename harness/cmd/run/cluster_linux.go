package main

import (
	"os/exec"
	"syscall"
)

// ownGroup puts a node in a process group of its own, so that a Ctrl-C
// reaches it once, from cluster, rather than twice (the second would force
// it); and has the kernel stop it if cluster dies without stopping it
// (killed with -9, say): a node left behind would hold its port and its
// stations.
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
