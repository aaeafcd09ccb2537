//go:build !linux

package main

import "os/exec"

// dieWithParent does nothing where the kernel cannot stop a child with its
// parent: Ctrl-C reaches the nodes all the same, through their process
// group.
func dieWithParent(cmd *exec.Cmd) {}
