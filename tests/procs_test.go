// Finding the processes a test started, on the whole machine, and ending
// them after a failure.

package tests

import (
	"fmt"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/tinit-dev/tinit/internal/procfs"
	"github.com/tinit-dev/tinit/internal/workload"
)

// childOf waits for pid to have exactly one child and returns it.
func childOf(t *testing.T, pid int) int {
	t.Helper()
	var child int
	waitFor(t, 10*time.Second, fmt.Sprintf("process %d to have a child", pid), func() bool {
		c := childrenOf(pid)
		if len(c) != 1 {
			return false
		}
		child = c[0]
		return true
	})
	return child
}

// childrenOf lists the live children of pid, found by their parent pid
// (a process's task/*/children lists only what each thread forked).
func childrenOf(pid int) []int {
	var out []int
	for p, pp := range parents() {
		if pp == pid {
			out = append(out, p)
		}
	}
	return out
}

// parents maps every live process of the machine to its parent.
func parents() map[int]int {
	parent := map[int]int{}
	procfs.New(nil).Scan(func(st procfs.Stat) {
		if st.Live() {
			parent[st.Pid] = st.PPid
		}
	})
	return parent
}

// killTree SIGKILLs pid and everything below it, after a failed test.
func killTree(pid int) {
	parent := parents()
	doomed := map[int]bool{pid: true}
	for changed := true; changed; {
		changed = false
		for p, pp := range parent {
			if doomed[pp] && !doomed[p] {
				doomed[p], changed = true, true
			}
		}
	}
	for p := range doomed {
		syscall.Kill(p, syscall.SIGKILL)
	}
}

// marked lists the live processes of the machine whose command line
// contains marker.
func marked(marker string) []int { return workload.Marked(marker) }

// byName lists the live processes whose command name is name.
func byName(name string) []int { return workload.Named(name) }

// liveProcs lists the live processes of the machine (a zombie leader whose
// threads run on is live) whose /proc directory satisfies match.
func liveProcs(match func(dir string) bool) []int {
	var pids []int
	procfs.New(nil).Scan(func(st procfs.Stat) {
		if st.Live() && match("/proc/"+strconv.Itoa(st.Pid)) {
			pids = append(pids, st.Pid)
		}
	})
	return pids
}

// newMarker returns a marker for the processes of one test, and kills
// whatever carries it when the test ends, so nothing it started survives
// a failure.
func newMarker(t *testing.T) string {
	marker := workload.NewMarker()
	t.Cleanup(func() { workload.KillMarked(marker, 2*time.Second) })
	return marker
}
