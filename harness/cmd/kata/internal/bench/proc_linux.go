package bench

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

// readProcStatus reads a process's OS threads and resident memory from
// /proc/PID/status.
func readProcStatus(pid int) (procStatus, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procStatus{}, err
	}
	return parseProcStatus(string(data))
}

// procSource names where readProcStatus gets its figures.
const procSource = "/proc"

// dieWithParent has the kernel kill cmd's process when the bench dies, even
// by SIGKILL, so that no server is left behind on its port.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
