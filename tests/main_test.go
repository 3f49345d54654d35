// Package tests runs the built tinit binary as PID 1 of a fresh pid
// namespace and as a subreaper outside one, with and without pidfds, and
// checks what a user relies on: exit codes, signals, reaping, cleanup and
// inherited descriptors. Children come from this test binary re-executed as
// helper processes (see helpers_test.go).
package tests

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tinit-dev/tinit/internal/procfs"
	"github.com/tinit-dev/tinit/internal/testenv"
	"golang.org/x/sys/unix"
)

// tinitBin is the binary under test, built once by TestMain.
var tinitBin string

// pid1Err says why PID 1 mode cannot run here, if it cannot.
var pid1Err error

// workDir holds what the tests build once (tinit, the C recorder).
var workDir string

func TestMain(m *testing.M) {
	if name, args, ok := helperCall(os.Args[1:]); ok {
		os.Exit(runHelper(name, args))
	}
	// Descriptors leaked to this process by whatever started it would leak
	// into tinit and its child too; a sane parent passes 0, 1 and 2 only.
	markStraysCloseOnExec()
	dir, err := os.MkdirTemp("", "tinit-tests-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	workDir = dir
	tinitBin, err = buildTinit(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// PID 1 mode needs CLONE_NEWPID and CLONE_NEWNS (root or a user
	// namespace). A missing capability shows as a failed clone or a failed
	// mount (125); anything else is a bug in the tests, not a reason to skip.
	probe := pid1Command("/bin/true")
	if out, err := probe.CombinedOutput(); err != nil {
		pid1Err = fmt.Errorf("a fresh pid and mount namespace: %v: %s", err, bytes.TrimSpace(out))
		if probe.ProcessState != nil && probe.ProcessState.ExitCode() != 125 {
			fmt.Fprintln(os.Stderr, pid1Err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildTinit uses $TINIT_BIN when set (make test passes bin/tinit), else
// builds the command as a release would.
func buildTinit(dir string) (string, error) {
	if bin := os.Getenv("TINIT_BIN"); bin != "" {
		return filepath.Abs(bin)
	}
	bin := filepath.Join(dir, "tinit")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "../cmd/tinit")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build tinit: %v\n%s", err, out)
	}
	return bin, nil
}

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

// helper returns the argv that runs the named helper of this test binary.
func helper(name string, args ...string) []string {
	return append([]string{os.Args[0], "-test.run=^$", helperArg + name}, args...)
}

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

func exitCode(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// pid1Command runs argv as PID 1 of a fresh pid and mount namespace, with
// its own /proc, as `unshare --pid --fork --mount-proc` would, except that
// no unshare process stays in between: the test is the direct parent, holds
// no copy of descriptors it passes, and signals reach the command itself.
func pid1Command(argv0 string, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], helper("pid1", append([]string{argv0}, args...)...)[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID | syscall.CLONE_NEWNS}
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

// entry is one JSON line of tinit's log.
type entry map[string]any

// str returns the string field key, "" if absent.
func (e entry) str(key string) string { s, _ := e[key].(string); return s }

// num returns the number field key, -1 if absent.
func (e entry) num(key string) float64 {
	if n, ok := e[key].(float64); ok {
		return n
	}
	return -1
}

// flag returns the boolean field key and whether it is there.
func (e entry) flag(key string) (value, ok bool) { value, ok = e[key].(bool); return value, ok }

// logEntries returns the lines of a JSON log whose message is msg ("" for
// every line); anything that is not a JSON object is ignored.
func logEntries(stderr, msg string) []entry {
	var out []entry
	for _, line := range strings.Split(stderr, "\n") {
		var e entry
		if json.Unmarshal([]byte(line), &e) == nil && e != nil && (msg == "" || e.str("message") == msg) {
			out = append(out, e)
		}
	}
	return out
}

// logs returns tinit's log lines with message msg.
func (r *run) logs(msg string) []entry { return logEntries(r.stderr.String(), msg) }

// waitLog waits until tinit has logged msg and returns the first such line.
func (r *run) waitLog(msg string, timeout time.Duration) entry {
	r.t.Helper()
	waitFor(r.t, timeout, fmt.Sprintf("tinit to log %q", msg), func() bool { return len(r.logs(msg)) > 0 })
	return r.logs(msg)[0]
}

// checkLog fails the test for every error-level line tinit logged, unless
// it contains one of the expected substrings: an error means tinit itself
// misbehaved (a double close, a lost status).
func (r *run) checkLog(expect []string) {
	sc := bufio.NewScanner(strings.NewReader(r.stderr.String()))
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, `"level":"error"`) {
			continue
		}
		allowed := false
		for _, e := range expect {
			allowed = allowed || strings.Contains(line, e)
		}
		if !allowed {
			r.t.Errorf("tinit logged an error: %s", line)
		}
	}
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

// markStraysCloseOnExec marks every descriptor above 2 close-on-exec.
func markStraysCloseOnExec() {
	ents, _ := os.ReadDir("/proc/self/fd")
	for _, e := range ents {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC)
		}
	}
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

// marked lists the live processes whose command line contains marker, on
// the whole machine.
func marked(marker string) []int {
	return liveProcs(func(dir string) bool {
		b, err := os.ReadFile(dir + "/cmdline")
		return err == nil && bytes.Contains(b, []byte(marker))
	})
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

// byName lists the live processes whose command name is name.
func byName(name string) []int {
	return liveProcs(func(dir string) bool {
		b, err := os.ReadFile(dir + "/comm")
		return err == nil && strings.TrimSpace(string(b)) == name
	})
}

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

// killMarked cleans up after a failed test so nothing it started survives.
func killMarked(marker string) {
	for _, pid := range marked(marker) {
		unix.Kill(pid, unix.SIGKILL)
	}
}

func newMarker(t *testing.T) string {
	marker := fmt.Sprintf("tinit-marker-%d-%d", os.Getpid(), time.Now().UnixNano())
	t.Cleanup(func() { killMarked(marker) })
	return marker
}
