//go:build unix && !linux

package proc

import (
	"os/exec"
	"strconv"
	"strings"
)

// listProcesses reads the process table from ps, which every BSD and macOS
// has.
func listProcesses() []process {
	out, err := exec.Command("ps", "-A", "-o", "pid=", "-o", "pgid=").Output()
	if err != nil {
		return nil
	}
	var procs []process
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		pid, err1 := strconv.Atoi(f[0])
		pgid, err2 := strconv.Atoi(f[1])
		if err1 == nil && err2 == nil {
			procs = append(procs, process{pid: pid, pgid: pgid})
		}
	}
	return procs
}
