package workload

import (
	"debug/elf"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tinit-dev/tinit/internal/procfs"
	"golang.org/x/sys/unix"
)

// markers makes markers unique within a process.
var markers atomic.Int64

// NewMarker returns a word unique on this machine for as long as it runs,
// for the command lines of the daemons and sleepers of one test or one
// benchmark run: Marked finds them by it, whoever their parent is.
func NewMarker() string {
	return fmt.Sprintf("tinit-marker-%d-%d-%d", os.Getpid(), time.Now().UnixNano(), markers.Add(1))
}

// Marked lists the live processes of the machine (see procfs.Stat.Live)
// whose command line contains marker.
func Marked(marker string) []int {
	fs := procfs.New(nil)
	var pids []int
	fs.Scan(func(st procfs.Stat) {
		if st.Live() && strings.Contains(fs.Cmdline(st.Pid), marker) {
			pids = append(pids, st.Pid)
		}
	})
	return pids
}

// Named lists the live processes of the machine whose command name is
// comm.
func Named(comm string) []int {
	fs := procfs.New(nil)
	var pids []int
	fs.Scan(func(st procfs.Stat) {
		if !st.Live() {
			return
		}
		if full, err := fs.Stat(st.Pid); err == nil && full.Comm == comm {
			pids = append(pids, st.Pid)
		}
	})
	return pids
}

// KillMarked SIGKILLs whatever carries marker, again and again for up to
// within, until nothing does, and returns what was still there at the
// end. Killed daemons are reparented to the machine's init, which reaps
// them.
func KillMarked(marker string, within time.Duration) []int {
	deadline := time.Now().Add(within)
	for {
		left := Marked(marker)
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		for _, pid := range left {
			unix.Kill(pid, unix.SIGKILL)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// IsStatic reports whether the ELF executable at path asks for no dynamic
// loader (it has no PT_INTERP program header): what a container without
// a C library, or podman's --init-path, needs.
func IsStatic(path string) (bool, error) {
	f, err := elf.Open(path)
	if err != nil {
		return false, fmt.Errorf("read ELF %s: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false, nil
		}
	}
	return true, nil
}
