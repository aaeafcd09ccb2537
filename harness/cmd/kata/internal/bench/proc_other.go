//go:build !linux && !darwin

package bench

import (
	"errors"
	"os/exec"
	"time"
)

// readProcStatus has no /proc to read here: the bench takes the figures
// from the server's own /metrics instead.
func readProcStatus(pid int) (procStatus, error) {
	return procStatus{}, errors.ErrUnsupported
}

// readCPU has no /proc to read here: the bench says so rather than guess.
func readCPU(pid int) (time.Duration, error) { return 0, errors.ErrUnsupported }

// procSource names where readProcStatus gets its figures.
const procSource = "/metrics"

// dieWithParent does nothing here: the bench kills its children on the way
// out, and the ceiling also ends when its stdin closes.
func dieWithParent(cmd *exec.Cmd) {}
