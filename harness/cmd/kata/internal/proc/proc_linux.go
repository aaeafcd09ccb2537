package proc

import (
	"os"
	"strconv"
	"strings"
)

// listProcesses reads the process table from /proc.
func listProcesses() []process {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []process
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid pgrp …: comm may hold spaces and parentheses.
		i := strings.LastIndex(string(data), ") ")
		if i < 0 {
			continue
		}
		fields := strings.Fields(string(data)[i+2:])
		if len(fields) < 3 {
			continue
		}
		pgid, err := strconv.Atoi(fields[2])
		if err != nil {
			continue
		}
		out = append(out, process{pid: pid, pgid: pgid})
	}
	return out
}
