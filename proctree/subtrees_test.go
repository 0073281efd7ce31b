package proctree

import (
	"slices"
	"testing"
)

func TestSubtrees(t *testing.T) {
	// 1 ─ 10 ─┬ 11 ─ 12
	//         └ 13 (pruned) ─ 14
	// 1 ─ 20 ─ 21;  1 ─ 30 (a later root, also below nothing of the others)
	s := &Snapshot{procs: []Process{
		{PID: 1}, {PID: 10, PPID: 1}, {PID: 11, PPID: 10}, {PID: 12, PPID: 11},
		{PID: 13, PPID: 10}, {PID: 14, PPID: 13}, {PID: 20, PPID: 1}, {PID: 21, PPID: 20}, {PID: 30, PPID: 1},
	}}
	s.index()
	prune := func(p Process) bool { return p.PID == 13 }
	tests := []struct {
		name  string
		roots []int
		want  []int
	}{
		{"one root", []int{10}, []int{10, 11, 12}},
		{"a root below another is listed once", []int{11, 10}, []int{11, 10, 12}},
		{"a pruned root is left out with its tree", []int{13}, nil},
		{"missing roots are ignored", []int{99, 20}, []int{20, 21}},
		{"several roots", []int{30, 20, 10}, []int{30, 20, 10, 21, 11, 12}},
	}
	for _, tt := range tests {
		if got := pids(s.Subtrees(tt.roots, prune)); !slices.Equal(got, tt.want) {
			t.Errorf("%s: Subtrees(%v) = %v, want %v", tt.name, tt.roots, got, tt.want)
		}
	}
}
