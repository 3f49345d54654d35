package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tinit-dev/tinit/internal/testenv"
	"github.com/tinit-dev/tinit/internal/workload"
	"golang.org/x/sys/unix"
)

// ids reads what the ids helper printed.
func ids(t *testing.T, out string) (pid, pgid, sid, fg int) {
	t.Helper()
	if _, err := fmt.Sscan(out, &pid, &pgid, &sid, &fg); err != nil {
		t.Fatalf("ids helper printed %q: %v", out, err)
	}
	return
}

// TestCommandOwnsProcessGroup: the command leads a process group of its
// own, in tinit's session.
func TestCommandOwnsProcessGroup(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		r := start(t, m, spec{argv: helper("ids")})
		if code := r.wait(10 * time.Second); code != 0 {
			t.Fatalf("exit code %d", code)
		}
		pid, pgid, _, fg := ids(t, r.stdout.String())
		if pgid != pid {
			t.Errorf("the command's process group is %d, want its own (%d)", pgid, pid)
		}
		if fg != -1 {
			t.Errorf("without a terminal the command saw foreground group %d", fg)
		}
	})
}

// openPty opens a new pseudo-terminal and returns its two ends.
func openPty(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	testenv.Need(t, "pty", err)
	// Through SyscallConn: Fd would put the master in blocking mode, and
	// read deadlines would stop working.
	rc, err := m.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	var ierr error
	rc.Control(func(fd uintptr) {
		if ierr = unix.IoctlSetPointerInt(int(fd), unix.TIOCSPTLCK, 0); ierr == nil {
			n, ierr = unix.IoctlGetInt(int(fd), unix.TIOCGPTN)
		}
	})
	if ierr != nil {
		t.Fatalf("set up the pty: %v", ierr)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pty slave: %v", err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

// TestCommandGetsTerminalForeground starts tinit as the session leader of
// a pseudo-terminal, as a shell's job or `docker run -t` would: the
// command's process group must become the terminal's foreground group.
func TestCommandGetsTerminalForeground(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		master, slave := openPty(t)
		out := filepath.Join(t.TempDir(), "ids")
		r := start(t, m, spec{argv: helper("ids", out), stdin: slave, ctty: true})
		if code := r.wait(10 * time.Second); code != 0 {
			t.Fatalf("exit code %d; stderr %s", code, r.stderr.String())
		}
		master.Close()
		b, _ := os.ReadFile(out)
		pid, pgid, _, fg := ids(t, string(b))
		if pgid != pid || fg != pgid {
			t.Errorf("command pid %d pgid %d, terminal foreground %d: want its own group in the foreground", pid, pgid, fg)
		}
	})
}

// TestClosedStdioBecomesDevNull starts tinit with 0, 1 and 2 closed: the
// command must find /dev/null there, not a descriptor of tinit's.
func TestClosedStdioBecomesDevNull(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		// sleep, a C program, does not reopen closed descriptors: its
		// show what tinit handed it.
		r := start(t, m, spec{argv: []string{"sleep", "3600"}, launch: []string{"close=0,1,2"}})
		child := childOf(t, r.tinitPid())
		waitFor(t, 10*time.Second, "the command to exec sleep", func() bool {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", child))
			return strings.TrimSpace(string(b)) == "sleep"
		})
		for fd := 0; fd <= 2; fd++ {
			if got, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", child, fd)); got != "/dev/null" {
				t.Errorf("the command's descriptor %d leads to %q (%v), want /dev/null", fd, got, err)
			}
		}
		r.signal(syscall.SIGTERM)
		if code := r.wait(10 * time.Second); code != 143 {
			t.Errorf("exit code %d, want 143", code)
		}
	})
}

// TestParentDeathKillsCommand SIGKILLs tinit itself: its command must not
// run on unsupervised (the parent-death signal).
func TestParentDeathKillsCommand(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		marker := newMarker(t)
		r := start(t, m, spec{argv: helper("stubborn", marker, "leaf")})
		r.waitOutput("ready", 10*time.Second)
		if len(r.marked(marker)) != 1 {
			t.Fatalf("want the command running, found %v", r.marked(marker))
		}
		r.signal(syscall.SIGKILL)
		if code := r.wait(10 * time.Second); code != 137 {
			t.Errorf("exit code %d, want 137 (tinit killed)", code)
		}
		waitFor(t, 10*time.Second, "the command to die with tinit", func() bool { return len(marked(marker)) == 0 })
	})
}

// TestInheritedIgnoredSIGCHLD starts tinit with SIGCHLD ignored, which
// would make the kernel reap its children and throw their statuses away:
// tinit must undo it, pass the status on, and leave the command with the
// default disposition.
func TestInheritedIgnoredSIGCHLD(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		r := start(t, m, spec{argv: helper("exit", "7"), launch: []string{"ignore-chld"}})
		if code := r.wait(10 * time.Second); code != 7 {
			t.Errorf("exit code %d, want the command's 7; stderr:\n%s", code, r.stderr.String())
		}
		marker := newMarker(t)
		r = start(t, m, spec{flags: []string{"--grace", "100ms"}, argv: helper("daemons", "3", marker, "5"), launch: []string{"ignore-chld"}})
		if code := r.wait(30 * time.Second); code != 5 {
			t.Errorf("with leftovers: exit code %d, want 5; stderr:\n%s", code, r.stderr.String())
		}
		if left := marked(marker); len(left) != 0 {
			t.Errorf("survivors: %v", left)
		}
		r = start(t, m, spec{argv: []string{"grep", "^SigIgn", "/proc/self/status"}, launch: []string{"ignore-chld"}})
		if code := r.wait(10 * time.Second); code != 0 {
			t.Fatalf("exit code %d", code)
		}
		if got := strings.TrimSpace(r.stdout.String()); got != "SigIgn:\t0000000000000000" {
			t.Errorf("the command starts with %q, want nothing ignored", got)
		}
	})
}

// TestSpawnFailureIs125: when the fork itself fails (here: clone refused
// with EAGAIN, as on a machine out of processes), tinit exits 125 with one
// line saying why.
func TestSpawnFailureIs125(t *testing.T) {
	testenv.Need(t, "seccomp", workload.SeccompSupported())
	forEachMode(t, func(t *testing.T, m mode) {
		r := start(t, m, spec{argv: []string{"true"}, launch: []string{"deny=fork=EAGAIN", "deny=clone3=EAGAIN"}})
		if code := r.wait(10 * time.Second); code != 125 {
			t.Errorf("exit code %d, want 125", code)
		}
		msg := strings.TrimSpace(r.stderr.String())
		if !strings.HasPrefix(msg, "tinit: ") || !strings.Contains(msg, "resource temporarily unavailable") || strings.Contains(msg, "\n") {
			t.Errorf("stderr = %q, want one line 'tinit: ...resource temporarily unavailable'", msg)
		}
	})
}

// TestCannotBecomeSubreaper: where prctl(PR_SET_CHILD_SUBREAPER) is
// refused, tinit warns and still runs the command.
func TestCannotBecomeSubreaper(t *testing.T) {
	testenv.Need(t, "seccomp", workload.SeccompSupported())
	for _, m := range []mode{modeNamed("subreaper"), modeNamed("subreaper-nopidfd")} {
		t.Run(m.name, func(t *testing.T) {
			r := start(t, m, spec{argv: helper("exit", "3"), launch: []string{"deny=subreaper=EPERM"}})
			if code := r.wait(10 * time.Second); code != 3 {
				t.Errorf("exit code %d, want 3", code)
			}
			w := r.logs("cannot become a child subreaper; orphans will escape to another reaper")
			if len(w) != 1 || w[0].str("level") != "warn" || !strings.Contains(w[0].str("error"), "operation not permitted") {
				t.Errorf("want one warning with the error, got %v; stderr:\n%s", w, r.stderr.String())
			}
		})
	}
}

// TestCannotCloneIntoCgroup: where clone3 is refused (ENOSYS, as an old
// runtime's seccomp profile answers), tinit spawns without the cgroup,
// warns once, and ends leftovers by walking /proc.
func TestCannotCloneIntoCgroup(t *testing.T) {
	testenv.Need(t, "seccomp", workload.SeccompSupported())
	writableCgroup(t)
	marker := newMarker(t)
	r := start(t, modeNamed("subreaper"), spec{flags: []string{"-v", "--grace", "100ms"}, argv: helper("daemons", "3", marker, "4"), launch: []string{"deny=clone3=ENOSYS"}})
	if code := r.wait(30 * time.Second); code != 4 {
		t.Errorf("exit code %d, want 4", code)
	}
	w := r.logs("cannot clone into a cgroup; leftovers are found by walking /proc")
	if len(w) != 1 || w[0].str("level") != "warn" {
		t.Errorf("want one warning, got %v; stderr:\n%s", w, r.stderr.String())
	}
	if st := r.logs("main child started"); len(st) != 1 || st[0].str("killer") != "walk" {
		t.Errorf("want the walk as killer, got %v", st)
	} else if cg, _ := st[0].flag("cgroup"); cg {
		t.Errorf("tinit reports a cgroup although the clone into it was refused: %v", st[0])
	}
	if left := marked(marker); len(left) != 0 {
		t.Errorf("survivors: %v", left)
	}
}

// TestProcOfAnotherNamespace runs tinit as pid 2 of a fresh pid namespace
// whose /proc is the parent's (`unshare --pid --fork` without
// --mount-proc): pids read there name other processes, so tinit cannot
// walk it. A leftover in the command's process group is still ended; one
// in a session of its own cannot be found without a cgroup, and tinit says
// so and exits rather than hang.
func TestProcOfAnotherNamespace(t *testing.T) {
	unshare, err := exec.LookPath("unshare")
	testenv.Need(t, "unshare", err)
	testenv.Need(t, "pid1", pid1Err)
	for _, m := range []mode{modeNamed("subreaper-nocgroup"), modeNamed("subreaper-nopidfd")} {
		t.Run(m.name, func(t *testing.T) {
			inGroup, inSession := newMarker(t), newMarker(t)
			code := filepath.Join(t.TempDir(), "code")
			flags := []string{"-v", "--grace", "100ms", "--no-cgroup"}
			if m.noPidfd {
				flags = append(flags, "--no-pidfd")
			}
			// The script is a file, so that no shell's command line
			// carries the markers.
			leave := filepath.Join(t.TempDir(), "leave.sh")
			body := fmt.Sprintf("%s & %s; wait\n", strings.Join(helper("stay", inGroup), " "), strings.Join(helper("leave", inSession, "plain"), " "))
			if err := os.WriteFile(leave, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			// The namespace's PID 1 is a shell that runs tinit, notes its
			// exit code and stays, so that what tinit could not reach is
			// still there to be seen.
			outer := `"$@"; echo $? > ` + code + `; exec sleep 3600`
			args := append(append([]string{"--pid", "--fork", "sh", "-c", outer, "sh", tinitBin}, flags...), "--", "sh", leave)
			r := launch(t, m, exec.Command(unshare, args...), false)
			waitFor(t, 30*time.Second, "tinit to exit", func() bool {
				b, err := os.ReadFile(code)
				return err == nil && strings.HasSuffix(string(b), "\n")
			})
			if b, _ := os.ReadFile(code); strings.TrimSpace(string(b)) != "0" {
				t.Errorf("tinit exited %q, want 0; stderr:\n%s", b, r.stderr.String())
			}
			if len(r.logs("/proc does not show tinit's pid namespace; leftovers outside the main child's process group cannot be found")) != 1 {
				t.Errorf("tinit did not warn that /proc is not its own:\n%s", r.stderr.String())
			}
			if len(r.logs("descendants remain after SIGKILL; exiting without them")) != 1 {
				t.Errorf("tinit did not say that it left a descendant behind:\n%s", r.stderr.String())
			}
			if left := marked(inGroup); len(left) != 0 {
				t.Errorf("the leftover in the command's group survived: %v", left)
			}
			if left := marked(inSession); len(left) != 1 {
				t.Errorf("want the daemon in its own session out of reach (found %v)", left)
			}
		})
	}
}
