package subreaper

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/tinit-dev/tinit/fdtrack"
	"github.com/tinit-dev/tinit/internal/orphan"
	"github.com/tinit-dev/tinit/internal/procfs"
	"github.com/tinit-dev/tinit/internal/testenv"
	"github.com/tinit-dev/tinit/internal/workload"
	"golang.org/x/sys/unix"
)

// The test binary doubles as the workloads of package internal/workload.
func TestMain(m *testing.M) {
	workload.Main()
	os.Exit(m.Run())
}

func quietLog() zerolog.Logger { return zerolog.New(&bytes.Buffer{}) }

func TestLookPath(t *testing.T) {
	dir := t.TempDir()
	write := func(dir, name, body string, mode os.FileMode) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), mode); err != nil {
			t.Fatal(err)
		}
	}
	write(dir, "runme", "#!/bin/sh\n", 0o755)
	write(dir, "plain", "#!/bin/sh\n", 0o644)
	write(dir, "badinterp", "#!/nonexistent/interpreter\n", 0o755)
	os.Mkdir(filepath.Join(dir, "adir"), 0o755)
	os.Symlink("loop", filepath.Join(dir, "loop"))
	other := t.TempDir()
	write(other, "plain", "#!/bin/sh\n", 0o755)
	write(other, "badinterp", "#!/bin/sh\n", 0o755)
	write(other, "loop", "#!/bin/sh\n", 0o755)
	cwd, _ := os.Getwd()
	t.Cleanup(func() { os.Chdir(cwd) })
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, file, path string
		unset            bool
		want             string
		code             int // 0: found
		errno            unix.Errno
	}{
		{name: "found", file: "runme", path: dir, want: filepath.Join(dir, "runme")},
		{name: "not found", file: "nothere", path: dir, code: exitNotFound},
		{name: "not executable", file: "plain", path: dir, code: exitNotExecutable},
		{name: "directory", file: "adir", path: dir, code: exitNotExecutable},
		{name: "later executable wins", file: "plain", path: dir + ":" + other, want: filepath.Join(other, "plain")},
		{name: "missing interpreter: the search goes on", file: "badinterp", path: dir + ":" + other, want: filepath.Join(other, "badinterp")},
		{name: "missing interpreter alone: spawned to say so", file: "badinterp", path: dir, want: filepath.Join(dir, "badinterp")},
		{name: "symlink loop ends the search", file: "loop", path: dir + ":" + other, code: exitNotExecutable, errno: unix.ELOOP},
		{name: "PATH set but empty: the working directory", file: "runme", path: "", want: "./runme"},
		{name: "empty element: the working directory", file: "runme", path: other + "::" + other, want: "./runme"},
		{name: "PATH unset: /bin:/usr/bin", file: "sh", unset: true, want: "/bin/sh"},
		{name: "PATH unset: not /usr/sbin", file: "nothere-sbin", unset: true, code: exitNotFound},
		{name: "name too long", file: strings.Repeat("x", 256), path: dir, code: exitNotExecutable, errno: unix.ENAMETOOLONG},
		{name: "slash used as is", file: "./whatever", path: dir, want: "./whatever"},
		{name: "empty name", file: "", path: dir, code: exitNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := lookPath(tt.file, tt.path, !tt.unset)
			var ee *ExecError
			switch {
			case tt.code == 0 && (err != nil || got != tt.want):
				t.Errorf("lookPath(%q) = %q, %v, want %q", tt.file, got, err, tt.want)
			case tt.code != 0 && (!errors.As(err, &ee) || ee.Code() != tt.code):
				t.Errorf("lookPath(%q) error = %v, want exit code %d", tt.file, err, tt.code)
			case tt.errno != 0 && !errors.Is(err, tt.errno):
				t.Errorf("lookPath(%q) error = %v, want %v", tt.file, err, tt.errno)
			}
		})
	}
}

// beSubreaper makes the test process the reaper of its descendants' orphans
// for the duration of the test.
func beSubreaper(t *testing.T) {
	t.Helper()
	testenv.Need(t, "subreaper", unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0))
	t.Cleanup(func() { unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0) })
}

// startTree starts a stubborn workload, which starts a stubborn child of
// its own, and returns both.
func startTree(t *testing.T) (*exec.Cmd, int) {
	t.Helper()
	cmd := workload.Cmd("stubborn", "subreaper-test")
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var b [6]byte
	if _, err := io.ReadFull(out, b[:]); err != nil {
		t.Fatalf("stubborn workload said %q: %v", b, err)
	}
	kids, err := procfs.New(nil).Children(cmd.Process.Pid)
	if err != nil || len(kids) != 1 {
		t.Fatalf("children of the stubborn workload: %v, %v; want one", kids, err)
	}
	return cmd, kids[0]
}

func TestWalkerKillsTree(t *testing.T) {
	beSubreaper(t)
	for _, pidfds := range []bool{true, false} {
		t.Run("pidfds="+strconv.FormatBool(pidfds), func(t *testing.T) {
			fds := fdtrack.New(quietLog())
			pf := procfs.New(fds)
			parent, grand := startTree(t)

			w := &walker{proc: pf, send: &sender{fds: fds, proc: pf, pidfds: pidfds}, self: os.Getpid()}
			procs, err := w.list()
			if err != nil {
				t.Fatal(err)
			}
			found := map[int]int{}
			for _, p := range procs {
				found[p.Pid] = p.PPid
			}
			if found[parent.Process.Pid] != os.Getpid() || found[grand] != parent.Process.Pid {
				t.Fatalf("list() = %+v, want %d under us and %d under it", procs, parent.Process.Pid, grand)
			}
			if err := w.kill(); err != nil {
				t.Fatal(err)
			}
			parent.Wait()
			// The grandchild was reparented to us; reap it.
			var ws unix.WaitStatus
			if pid, err := unix.Wait4(grand, &ws, 0, nil); err != nil || !ws.Signaled() || ws.Signal() != unix.SIGKILL {
				t.Errorf("grandchild %d: wait4 = %d, %v, status %v; want killed by SIGKILL", grand, pid, err, ws)
			}
			if live := fds.Live(); len(live) != 0 || len(fds.Faults()) != 0 {
				t.Errorf("fd registry after the walk: live %v, faults %v", live, fds.Faults())
			}
		})
	}
}

// TestWalkerStopsForkChain runs the walk's SIGTERM round over a
// fork-and-exit chain (one live process at a time, a new one every ~100
// µs): it must stop the chain, whose last link is then the one process
// left, stopped.
func TestWalkerStopsForkChain(t *testing.T) {
	beSubreaper(t)
	if _, err := orphan.Chain(1); errors.Is(err, orphan.ErrUnsupported) {
		testenv.Need(t, "orphans", err)
	}
	reapAll(t)
	fds := fdtrack.New(quietLog())
	pf := procfs.New(fds)
	w := &walker{proc: pf, send: &sender{fds: fds, proc: pf, pidfds: true}, self: os.Getpid()}
	for i := 0; i < 20; i++ {
		// A bounded chain (2 s or so): a failing test leaves nothing
		// running for long, and its cleanup waits for the chain's end.
		if _, err := orphan.Chain(20000); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { reapAll(t) })
		stopped, err := w.stopAll()
		if err != nil || len(stopped) == 0 {
			t.Fatalf("run %d: stopAll() = %v, %v; want the chain stopped", i, stopped, err)
		}
		// SIGSTOP takes effect when its target next runs: once every
		// process reached is stopped, nothing of the chain may run.
		for _, p := range stopped {
			waitStopped(t, pf, p)
		}
		pf.Scan(func(st procfs.Stat) {
			if st.PPid == os.Getpid() && st.Live() && st.State != 'T' {
				t.Errorf("run %d: process %d of the chain is in state %c after stopAll", i, st.Pid, st.State)
			}
		})
		if err := w.killAll(nil); err != nil {
			t.Fatal(err)
		}
		reapAll(t)
	}
}

// reapAll reaps every child of the test until none is left.
func reapAll(t *testing.T) {
	t.Helper()
	var ws unix.WaitStatus
	for {
		if _, err := unix.Wait4(-1, &ws, 0, nil); errors.Is(err, unix.ECHILD) {
			return
		} else if err != nil && !errors.Is(err, unix.EINTR) {
			t.Fatal(err)
		}
	}
}

// TestSenderSkipsReplacedProcess checks that a listed process whose pid now
// names a process with another start time is not signalled. The target is
// stopped, so that a signal sent to it stays pending where /proc shows it;
// the same send with the right start time is the positive control.
func TestSenderSkipsReplacedProcess(t *testing.T) {
	fds := fdtrack.New(quietLog())
	pf := procfs.New(fds)
	cmd := workload.Cmd("stubborn", "subreaper-test", "leaf")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	pid := cmd.Process.Pid
	if err := unix.Kill(pid, unix.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitState(t, pf, pid, 'T')
	now, err := pf.Stat(pid)
	if err != nil {
		t.Fatal(err)
	}
	for _, pidfds := range []bool{true, false} {
		send := &sender{fds: fds, proc: pf, pidfds: pidfds}
		stale := now
		stale.Start-- // as listed before the pid was reused
		if _, ok := send.listed(stale, unix.SIGUSR1); ok {
			t.Fatalf("pidfds %v: send to a replaced process reported it reached", pidfds)
		}
		if p := pending(t, pid); p&(1<<(unix.SIGUSR1-1)) != 0 {
			t.Fatalf("pidfds %v: the process behind a reused pid was signalled (pending %#x)", pidfds, p)
		}
	}
	send := &sender{fds: fds, proc: pf, pidfds: true}
	if _, ok := send.listed(now, unix.SIGUSR1); !ok {
		t.Fatal("send to the listed process did not reach it")
	}
	if p := pending(t, pid); p&(1<<(unix.SIGUSR1-1)) == 0 {
		t.Errorf("the listed process has no SIGUSR1 pending (%#x): the check above proves nothing", p)
	}
}

// waitState waits until pid is in state st.
func waitState(t *testing.T, pf *procfs.FS, pid int, st byte) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if p, err := pf.Stat(pid); err == nil && p.State == st {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d never reached state %c", pid, st)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitStopped waits until p is stopped, or gone (a link that was exiting
// when SIGSTOP came).
func waitStopped(t *testing.T, pf *procfs.FS, p procfs.Stat) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := pf.Stat(p.Pid)
		if err != nil || st.Start != p.Start || st.State == 'T' || !st.Live() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d never stopped (state %c)", p.Pid, st.State)
		}
		time.Sleep(time.Millisecond)
	}
}

// pending returns the signals pending for the process pid as a whole.
func pending(t *testing.T, pid int) uint64 {
	t.Helper()
	m, err := procfs.New(nil).SignalMask(pid, "ShdPnd")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestReaper runs the reaper over a main child and a burst of orphans: it
// must report the main child's status once, say whether children remain,
// and close idle when none does.
func TestReaper(t *testing.T) {
	beSubreaper(t)
	for _, withOrphans := range []bool{false, true} {
		t.Run("orphans="+strconv.FormatBool(withOrphans), func(t *testing.T) {
			stubborn := workload.Cmd("stubborn", "subreaper-test", "leaf")
			if withOrphans {
				if err := stubborn.Start(); err != nil {
					t.Fatal(err)
				}
				for i := 0; i < 200; i++ {
					if _, err := orphan.Spawn(); errors.Is(err, orphan.ErrUnsupported) {
						testenv.Need(t, "orphans", err)
					}
				}
			}
			main := workload.Cmd("exit", "7")
			if err := main.Start(); err != nil {
				t.Fatal(err)
			}
			exited, idle := make(chan mainExit, 1), make(chan uint64, 1)
			r := &reaper{main: main.Process.Pid, exited: exited, idle: idle, log: quietLog()}
			go r.run()

			ex := <-exited
			if !ex.status.Exited() || ex.status.ExitStatus() != 7 {
				t.Errorf("main child status %v, want exit 7", ex.status)
			}
			if ex.leftovers != withOrphans {
				t.Errorf("leftovers = %v, want %v", ex.leftovers, withOrphans)
			}
			if withOrphans {
				stubborn.Process.Kill()
			}
			var got uint64
			select {
			case got = <-idle:
			case <-time.After(10 * time.Second):
				t.Fatal("reaper never reported that no children are left")
			}
			want := uint64(1)
			if withOrphans {
				want = 1 + 1 + 400 // main, stubborn, middles and orphans
			}
			if got != want {
				t.Errorf("reaped %d children, want %d", got, want)
			}
		})
	}
}

// TestExitStatusFromPidfd checks the second channel for the main child's
// status: after somebody else reaped the child, its pidfd still tells how
// it ended.
func TestExitStatusFromPidfd(t *testing.T) {
	pidfd := -1
	cmd := workload.Cmd("exit", "7")
	pid, err := syscall.ForkExec(cmd.Path, cmd.Args, &syscall.ProcAttr{
		Env: cmd.Env, Files: []uintptr{0, 1, 2}, Sys: &syscall.SysProcAttr{PidFD: &pidfd},
	})
	if err == nil && pidfd < 0 {
		err = errors.New("clone returned no pidfd")
	}
	testenv.Need(t, "pidfd", err)
	defer unix.Close(pidfd)
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, 0, nil); err != nil { // the theft
		t.Fatal(err)
	}
	got, ok := exitStatus(pidfd)
	if !ok {
		var uts unix.Utsname
		unix.Uname(&uts)
		testenv.Need(t, "pidfd-info-exit", fmt.Errorf("kernel %s has no PIDFD_INFO_EXIT (Linux 6.15)", unix.ByteSliceToString(uts.Release[:])))
	}
	if got != ws || !got.Exited() || got.ExitStatus() != 7 {
		t.Errorf("exitStatus(pidfd) = %#x, want %#x (exit 7)", int(got), int(ws))
	}
}

// TestWatchRecoversStolenStatus steals the main child's status behind the
// reaper's back and checks that the pidfd watch notices within two periods
// and ends the child's part of the run with the right status.
func TestWatchRecoversStolenStatus(t *testing.T) {
	pidfd := -1
	cmd := workload.Cmd("exit", "9")
	pid, err := syscall.ForkExec(cmd.Path, cmd.Args, &syscall.ProcAttr{
		Env: cmd.Env, Files: []uintptr{0, 1, 2}, Sys: &syscall.SysProcAttr{PidFD: &pidfd},
	})
	if err == nil && pidfd < 0 {
		err = errors.New("clone returned no pidfd")
	}
	testenv.Need(t, "pidfd", err)
	var ws unix.WaitStatus
	unix.Wait4(pid, &ws, 0, nil) // the theft
	if _, ok := exitStatus(pidfd); !ok {
		unix.Close(pidfd)
		testenv.Need(t, "pidfd-info-exit", errors.New("the kernel has no PIDFD_INFO_EXIT (Linux 6.15)"))
	}
	var logs bytes.Buffer
	s, k, _, _ := newFakeRun(running, false, Config{Grace: time.Second})
	s.log = zerolog.New(&logs)
	s.fds = fdtrack.New(quietLog())
	tok, _ := s.fds.Track(pidfd, "pidfd of main child")
	s.child.pid, s.child.pidfd = pid, tok
	s.onWatch()
	if s.child.ended {
		t.Fatal("one period without a report already counted as lost")
	}
	s.onWatch()
	if !s.child.known || s.child.code != 9 || s.phase != draining || k.terms != 1 {
		t.Fatalf("after two periods: code %d (known %v), phase %v, %d SIGTERM rounds; want 9, known, draining, 1", s.child.code, s.child.known, s.phase, k.terms)
	}
	if s.rec.rec.Child.From != "pidfd" {
		t.Errorf("the record says the status came from %q, want pidfd", s.rec.rec.Child.From)
	}
	if !strings.Contains(logs.String(), "never reached tinit") {
		t.Errorf("the loss was not logged: %s", logs.String())
	}
	s.fds.Close(tok)
}

// TestExecErrnos: what execve(2) says of the file or its arguments is the
// command's failure (the personality's message and code), what fork says
// is tinit's.
func TestExecErrnos(t *testing.T) {
	for errno, want := range map[unix.Errno]bool{
		unix.ENOENT: true, unix.EACCES: true, unix.ENOEXEC: true, unix.ELOOP: true, unix.ENAMETOOLONG: true,
		unix.E2BIG: true, unix.ETXTBSY: true,
		unix.EAGAIN: false, unix.ENOMEM: false, unix.ENOSYS: false,
	} {
		if got := isExecErrno(errno); got != want {
			t.Errorf("isExecErrno(%v) = %v, want %v", errno, got, want)
		}
	}
}

// TestKilledSet: a pid killed by other means is passed over only while it
// names the process killed; one started since the pids were listed (a pid
// reused) is signalled.
func TestKilledSet(t *testing.T) {
	self, err := procfs.New(nil).Stat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	now := procfs.BootTicks()
	if self.Start > now {
		t.Fatalf("this process started at tick %d, after BootTicks %d", self.Start, now)
	}
	k := &killedSet{pids: map[int]bool{self.Pid: true}, before: now}
	if self.Start < now && !k.has(self) {
		t.Errorf("a killed process is not passed over")
	}
	reused := self
	reused.Start = now
	if k.has(reused) {
		t.Errorf("a process started since the listing is passed over")
	}
	if other := (procfs.Stat{Pid: self.Pid + 1, Start: 1}); k.has(other) {
		t.Errorf("a pid not killed is passed over")
	}
	var none *killedSet
	if none.has(self) {
		t.Errorf("a nil set passes over a process")
	}
}
