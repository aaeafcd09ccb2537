package bench

import (
	"fmt"
	"os/exec"
	"strconv"
	"time"
)

// readProcStatus asks ps for a process's resident memory and OS threads:
// macOS has no /proc, and the Prometheus process collector reports no RSS
// there when built without cgo.
func readProcStatus(pid int) (procStatus, error) {
	p := strconv.Itoa(pid)
	out, err := exec.Command("ps", "-o", "rss=", "-p", p).Output()
	if err != nil {
		return procStatus{}, fmt.Errorf("ps -o rss= -p %s: %w", p, err)
	}
	rss, err := parsePsRSS(string(out))
	if err != nil {
		return procStatus{}, err
	}
	out, err = exec.Command("ps", "-M", "-p", p).Output()
	if err != nil {
		return procStatus{}, fmt.Errorf("ps -M -p %s: %w", p, err)
	}
	return procStatus{threads: psThreads(string(out)), rss: rss}, nil
}

// readCPU asks ps for the CPU time a process has used, user and system:
// "MM:SS.ss".
func readCPU(pid int) (time.Duration, error) {
	p := strconv.Itoa(pid)
	out, err := exec.Command("ps", "-o", "time=", "-p", p).Output()
	if err != nil {
		return 0, fmt.Errorf("ps -o time= -p %s: %w", p, err)
	}
	return parsePsTime(string(out))
}

// procSource names where readProcStatus gets its figures.
const procSource = "ps"

// dieWithParent does nothing here: the bench kills its children on the way
// out, and the ceiling also ends when its stdin closes.
func dieWithParent(cmd *exec.Cmd) {}
