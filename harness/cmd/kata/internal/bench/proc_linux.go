package bench

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
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

// readCPU reads the CPU time a process has used, user and system, from
// /proc/PID/stat: fields 14 and 15, in clock ticks of 1/100 s (USER_HZ,
// which Linux fixes at 100 for every program that reads /proc).
func readCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseProcStat(string(data))
}

// procSource names where readProcStatus gets its figures.
const procSource = "/proc"

// dieWithParent has the kernel kill cmd's process when the bench dies, even
// by SIGKILL, so that no server is left behind on its port.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
