//go:build !linux

package kit

import "os/exec"

// dieWithParent does nothing here: the child's lifeline (see lifeline) is
// what stops it when its parent dies.
func dieWithParent(*exec.Cmd) {}
