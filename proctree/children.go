package proctree

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ChildrenOf lists the children of one live process without a snapshot,
// from /proc/PID/task/*/children: a walk down from a few processes reads
// far fewer files than a snapshot of the whole table.
func ChildrenOf(pid int) ([]int, error) {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	if err != nil {
		return nil, err
	}
	var kids []int
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				kids = append(kids, n)
			}
		}
	}
	return kids, nil
}

// Stat reads one process's stat, for checks that need no snapshot.
func Stat(pid int) (Process, error) { return readStat(pid) }
