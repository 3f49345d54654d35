// The harness of these tests: the ways of running tinit (modes), starting
// a run of it with a spec, and waiting on what it does.

package tests

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tinit-dev/tinit/internal/testenv"
	"github.com/tinit-dev/tinit/internal/workload"
	"github.com/tinit-dev/tinit/signals"
	"golang.org/x/sys/unix"
)

// mode is one way of running tinit.
type mode struct {
	name     string
	pid1     bool // PID 1 of a fresh pid namespace, else subreaper
	noPidfd  bool // the fallback, forced with --no-pidfd
	noCgroup bool // no cgroup of the run's own (--no-cgroup)
}

// modes: a subreaper uses a cgroup of its own where it can make one (it can
// on the test machines); the others cover the /proc walk alone, with and
// without pidfds, and PID 1.
var modes = []mode{
	{name: "subreaper"},
	{name: "subreaper-nocgroup", noCgroup: true},
	{name: "subreaper-nopidfd", noPidfd: true, noCgroup: true},
	{name: "pid1", pid1: true},
	{name: "pid1-nopidfd", pid1: true, noPidfd: true},
}

func modeNamed(name string) mode {
	for _, m := range modes {
		if m.name == name {
			return m
		}
	}
	panic("no mode " + name)
}

// forEachMode runs f once per mode, as subtests.
func forEachMode(t *testing.T, f func(t *testing.T, m mode)) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			if m.pid1 {
				testenv.Need(t, "pid1", pid1Err)
			}
			f(t, m)
		})
	}
}

// syncBuffer collects a child's output while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// run is one tinit process under test.
type run struct {
	t      *testing.T
	m      mode
	cmd    *exec.Cmd
	stdout syncBuffer
	stderr syncBuffer
	done   chan struct{}
	code   int
	// waitErr is what cmd.Wait said: exec.ErrWaitDelay when tinit
	// exited but its output did not reach EOF within WaitDelay (a
	// leftover still held it).
	waitErr error
	bg      bool // started by a shell as a background job
}

// spec says what to run under tinit.
type spec struct {
	flags  []string // tinit flags
	argv   []string // the command; see helper() for the test binary's helpers
	env    []string // extra environment for tinit and so for the child
	extra  []*os.File
	stdin  *os.File
	expect []string // substrings allowed at error level in stderr
	// launch, when set, starts tinit through the launch helper with these
	// options (signals blocked or ignored, system calls denied, ...).
	launch []string
	// ctty makes tinit the leader of a new session with stdin, a
	// terminal, as its controlling terminal.
	ctty bool
	// stderr, when set, is tinit's stderr instead of the run's buffer.
	stderr *os.File
	// dir is the working directory ("" for the test's).
	dir string
}

// helper returns the argv that runs the named workload (see package
// internal/workload) of this test binary.
func helper(name string, args ...string) []string { return workload.Command(name, args...) }

func start(t *testing.T, m mode, s spec) *run {
	t.Helper()
	argv := append([]string{tinitBin}, s.flags...)
	if m.noPidfd {
		argv = append(argv, "--no-pidfd")
	}
	if m.noCgroup {
		argv = append(argv, "--no-cgroup")
	}
	argv = append(append(argv, "--"), s.argv...)
	if s.launch != nil {
		argv = helper("launch", append(append(append([]string{}, s.launch...), "--"), argv...)...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	if m.pid1 {
		cmd = pid1Command(argv[0], argv[1:]...)
	}
	cmd.Env = append(os.Environ(), s.env...)
	cmd.Stdin, cmd.ExtraFiles, cmd.Dir = s.stdin, s.extra, s.dir
	if s.ctty {
		if cmd.SysProcAttr == nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{}
		}
		cmd.SysProcAttr.Setsid, cmd.SysProcAttr.Setctty, cmd.SysProcAttr.Ctty = true, true, 0
	}
	if s.stderr != nil {
		cmd.Stderr = s.stderr
	}
	r := launch(t, m, cmd, false)
	t.Cleanup(func() { r.checkLog(s.expect) })
	return r
}

// launch starts cmd, which runs tinit somehow, collects its output, and
// makes sure that whatever it started is gone when the test ends.
func launch(t *testing.T, m mode, cmd *exec.Cmd, bg bool) *run {
	t.Helper()
	r := startRun(t, cmd)
	r.m, r.bg = m, bg
	t.Cleanup(func() {
		if !r.exited() {
			killTree(r.tinitPid())
			cmd.Process.Kill()
			<-r.done
		}
	})
	return r
}

// startRun starts cmd with its output collected and its exit awaited.
func startRun(t *testing.T, cmd *exec.Cmd) *run {
	t.Helper()
	r := &run{t: t, cmd: cmd, done: make(chan struct{})}
	cmd.Stdout = &r.stdout
	if cmd.Stderr == nil {
		cmd.Stderr = &r.stderr
	}
	// A test that fails may leave children holding the output pipes; do
	// not let that hang the suite.
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	go func() {
		r.waitErr = cmd.Wait()
		r.code = exitCode(cmd.ProcessState)
		close(r.done)
	}()
	return r
}

// exitCode is a process's exit code as tinit or a shell reports it.
func exitCode(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok {
		if code, ok := signals.ExitCode(unix.WaitStatus(ws)); ok {
			return code
		}
	}
	return ps.ExitCode()
}

// pid1Command runs argv as PID 1 of a fresh pid and mount namespace, with
// its own /proc (see workload.AsPID1).
func pid1Command(argv0 string, args ...string) *exec.Cmd {
	argv := workload.AsPID1(false, append([]string{argv0}, args...)...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: workload.PID1Cloneflags}
	return cmd
}

// tinitPid is tinit's pid as seen from the test. A shell's background job
// is the shell's child; under unshare, unshare's child (signals must go to
// tinit itself: unshare forwards none).
func (r *run) tinitPid() int {
	pid := r.cmd.Process.Pid
	if r.bg {
		pid = r.firstChild(pid)
		if r.m.pid1 {
			pid = r.firstChild(pid)
		}
	}
	return pid
}

// firstChild waits for pid to have a child and returns it.
func (r *run) firstChild(pid int) int {
	return childOf(r.t, pid)
}

func (r *run) signal(sig syscall.Signal) {
	r.t.Helper()
	if err := syscall.Kill(r.tinitPid(), sig); err != nil {
		r.t.Fatalf("kill tinit with %v: %v", sig, err)
	}
}

// wait waits for tinit to exit and returns its exit code.
func (r *run) wait(timeout time.Duration) int {
	r.t.Helper()
	select {
	case <-r.done:
		return r.code
	case <-time.After(timeout):
		r.t.Fatalf("tinit still running after %v; stderr:\n%s", timeout, r.stderr.String())
		return -1
	}
}

func (r *run) exited() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// waitOutput waits until the child has written want to stdout.
func (r *run) waitOutput(want string, timeout time.Duration) {
	r.t.Helper()
	waitFor(r.t, timeout, fmt.Sprintf("stdout to contain %q", want), func() bool {
		return strings.Contains(r.stdout.String(), want)
	})
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// marked lists, as marked does, the processes that carry marker, tinit
// itself aside (its command line holds the command's).
func (r *run) marked(marker string) []int {
	var out []int
	for _, p := range marked(marker) {
		if p != r.tinitPid() {
			out = append(out, p)
		}
	}
	return out
}

// TestStopSignalDuringStartup: a SIGTERM sent at any moment of tinit's
// start ends the run within seconds: before tinit has claimed it, by the
// Go runtime's default (tinit dies of it before any command runs); after,
// by being passed on. It is never taken and then lost, whichever path
// tinit takes (a run, -P, the sandbox): the early claim's channel is read
// by each of them.
func TestStopSignalDuringStartup(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start func(t *testing.T, marker string) *run
	}{
		{"run", func(t *testing.T, marker string) *run {
			return start(t, modeNamed("subreaper"), spec{argv: helper("sleepfor", "100s", marker)})
		}},
		{"pause", func(t *testing.T, marker string) *run {
			return start(t, modeNamed("subreaper"), spec{flags: []string{"-P"}})
		}},
		{"sandbox", func(t *testing.T, marker string) *run {
			return startSandbox(t, sbxSpec{argv: sbxHelper(t, "sleepfor", "100s", marker)})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, d := range []time.Duration{0, 200 * time.Microsecond, 500 * time.Microsecond, time.Millisecond,
				1500 * time.Microsecond, 2 * time.Millisecond, 3 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond} {
				marker := newMarker(t)
				r := tc.start(t, marker)
				time.Sleep(d)
				r.signal(syscall.SIGTERM)
				t.Logf("SIGTERM after %v", d)
				r.wait(10 * time.Second)
				waitFor(t, 5*time.Second, "the command to end", func() bool { return len(marked(marker)) == 0 })
			}
		})
	}
}
