package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tinit-dev/tinit/internal/procfs"
)

// want says what a mode is, as tinit reports it and as the kernel shows it.
func (m mode) want() (pid1, pidfd, cgroup bool, killer string) {
	switch {
	case m.pid1:
		return true, !m.noPidfd, false, "kill(-1)"
	case m.noCgroup:
		return false, !m.noPidfd, false, "walk"
	}
	return false, !m.noPidfd, true, "cgroup"
}

// TestModeIsWhatItsNameSays checks that every mode the other tests run in
// is the one its name says, from tinit's log and from the kernel: PID 1 of
// a pid namespace or not, a pidfd held for the command or not, the command
// in a cgroup of the run's own or not.
func TestModeIsWhatItsNameSays(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		pid1, pidfd, cgroup, killer := m.want()
		if cgroup {
			writableCgroup(t)
		}
		file := filepath.Join(t.TempDir(), "signals")
		r := start(t, m, spec{flags: []string{"-v"}, argv: helper("record", file)})
		r.waitOutput("ready", 10*time.Second)
		st := r.waitLog("main child started", 10*time.Second)
		for key, want := range map[string]bool{"pid1": pid1, "pidfd": pidfd, "cgroup": cgroup} {
			if got, ok := st.flag(key); !ok || got != want {
				t.Errorf("main child started: %s = %v (present %v), want %v", key, got, ok, want)
			}
		}
		if got := st.str("killer"); got != killer {
			t.Errorf("main child started: killer %q, want %q", got, killer)
		}

		tinit := r.tinitPid()
		child := childOf(t, tinit)
		if got := nsPid(t, tinit) == 1; got != pid1 {
			t.Errorf("tinit is PID 1 of its namespace: %v, want %v", got, pid1)
		}
		if got := holdsPidfd(t, tinit); got != pidfd {
			t.Errorf("tinit holds a pidfd: %v, want %v", got, pidfd)
		}
		if got := inRunCgroup(t, child); got != cgroup {
			t.Errorf("the command is in a cgroup of the run's own: %v, want %v", got, cgroup)
		}
		// SIGCHLD at its default: children still become zombies for the
		// reaper, and no handler runs per child.
		if caught, ignored := sigState(t, tinit, "SigCgt"), sigState(t, tinit, "SigIgn"); (caught|ignored)&sigBit(syscall.SIGCHLD) != 0 {
			t.Errorf("tinit catches (%#x) or ignores (%#x) SIGCHLD; want its default disposition", caught, ignored)
		}
		r.signal(syscall.SIGTERM)
		if code := r.wait(10 * time.Second); code != 0 {
			t.Errorf("exit code %d, want 0", code)
		}
	})
}

// nsPid returns pid's number in its innermost pid namespace.
func nsPid(t *testing.T, pid int) int {
	t.Helper()
	v, err := procfs.New(nil).StatusField(pid, "NSpid")
	f := strings.Fields(v)
	if err != nil || len(f) == 0 {
		t.Fatalf("NSpid of %d: %q, %v", pid, v, err)
	}
	n, _ := strconv.Atoi(f[len(f)-1])
	return n
}

// holdsPidfd reports whether pid has a pidfd open.
func holdsPidfd(t *testing.T, pid int) bool {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if target, _ := os.Readlink(filepath.Join(dir, e.Name())); target == "anon_inode:[pidfd]" {
			return true
		}
	}
	return false
}

// inRunCgroup reports whether pid's cgroup v2 group is one tinit made.
func inRunCgroup(t *testing.T, pid int) bool {
	return strings.HasPrefix(ownCgroup(t, pid), "tinit-")
}
