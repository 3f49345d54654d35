package harness

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tinit-dev/tinit/internal/workload"
	"github.com/tinit-dev/tinit/signals"
	"golang.org/x/sys/unix"
)

// Env is what every launch needs: true(1) for the startup scenario,
// /dev/null for stdin, and the environment.
type Env struct {
	True    string // true(1), the startup scenario's command
	devnull *os.File
	environ []string
}

// NewEnv finds true(1) and opens /dev/null.
func NewEnv() (*Env, error) {
	truePath, err := exec.LookPath("true")
	if err != nil {
		return nil, fmt.Errorf("find true(1): %w", err)
	}
	dn, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", os.DevNull, err)
	}
	return &Env{True: truePath, devnull: dn, environ: os.Environ()}, nil
}

// DevNull is the descriptor of /dev/null, for a child's stdio.
func (e *Env) DevNull() uintptr { return e.devnull.Fd() }

// Environ is the environment every init gets, plus extra.
func (e *Env) Environ(extra ...string) []string {
	return append(append([]string{}, e.environ...), extra...)
}

// Run is one started init (or baseline workload) with its plumbing: its
// stdout, where the workload says its lines (see workload.Say), a memfd
// holding its stderr, and a goroutine that notices its exit without
// reaping it.
type Run struct {
	Pid     int
	lines   chan string   // stdout, one line each; closed at EOF
	exited  chan struct{} // closed once the process has exited (a zombie)
	exitNs  int64         // CLOCK_MONOTONIC when waitid saw the exit
	waitErr error
	pipe    *os.File
	stderr  *os.File
	reaped  bool
	status  unix.WaitStatus
	prepCPU time.Duration // CPU used before the init's exec, in PID-1 mode
}

// prepTimeout bounds the start of the PID-1 preparation, up to its execve.
const prepTimeout = 10 * time.Second

// Launch starts argv as a child of the harness, with extra in its
// environment. In PID-1 mode the child is the pid1 workload in a new pid
// and mount namespace, which then execs argv as PID 1. Pdeathsig kills it
// if the harness dies, and with it, in PID-1 mode, the whole namespace.
func (e *Env) Launch(argv []string, m Mode, extra ...string) (*Run, error) {
	path, args := argv[0], argv
	sys := &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if m == PID1 {
		args = workload.AsPID1(true, argv...)
		path = args[0]
		sys.Cloneflags = workload.PID1Cloneflags
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("stdout pipe: %w", err)
	}
	defer pw.Close()
	errFd, err := unix.MemfdCreate("bench-init-stderr", unix.MFD_CLOEXEC)
	if err != nil {
		pr.Close()
		return nil, fmt.Errorf("memfd for stderr: %w", err)
	}
	r := &Run{lines: make(chan string, 16), exited: make(chan struct{}), pipe: pr,
		stderr: os.NewFile(uintptr(errFd), "stderr")}
	attr := &syscall.ProcAttr{Env: e.Environ(extra...), Sys: sys,
		Files: []uintptr{e.DevNull(), pw.Fd(), uintptr(errFd)}}
	r.Pid, err = syscall.ForkExec(path, args, attr)
	if err != nil {
		pr.Close()
		r.stderr.Close()
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	go r.readLines()
	go r.waitExit()
	if m == PID1 {
		if err := r.readPrepCPU(); err != nil {
			r.Close()
			return nil, err
		}
	}
	return r, nil
}

// readPrepCPU takes the preparation's CPU time, which the init inherits on
// its clock through execve, so that Finish can subtract it.
func (r *Run) readPrepCPU() error {
	payload, err := r.Expect("prep", prepTimeout)
	if err != nil {
		return err
	}
	ns, err := strconv.ParseInt(payload, 10, 64)
	if err != nil {
		return fmt.Errorf("prep CPU %q: %w", payload, err)
	}
	r.prepCPU = time.Duration(ns)
	return nil
}

func (r *Run) readLines() {
	defer close(r.lines)
	sc := bufio.NewScanner(r.pipe)
	for sc.Scan() {
		r.lines <- sc.Text()
	}
}

// waitExit waits with WNOWAIT: the process stays a zombie, so its pid and
// CPU clock remain readable until Finish reaps it.
func (r *Run) waitExit() {
	defer close(r.exited)
	var info unix.Siginfo
	for {
		r.waitErr = unix.Waitid(unix.P_PID, r.Pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if r.waitErr != unix.EINTR {
			break
		}
	}
	r.exitNs = workload.MonoNow()
}

// Expect returns the payload of the next line of the given kind.
func (r *Run) Expect(kind string, timeout time.Duration) (string, error) {
	deadline := time.After(timeout)
	for {
		select {
		case line, ok := <-r.lines:
			if !ok {
				return "", fmt.Errorf("stdout closed before %q%s", kind, r.StderrTail())
			}
			if k, payload := workload.Line(line); k == kind {
				return payload, nil
			}
		case <-deadline:
			return "", fmt.Errorf("no %q within %v%s", kind, timeout, r.StderrTail())
		}
	}
}

// ExpectNs is Expect for a line whose payload is a CLOCK_MONOTONIC
// reading ("exit NS").
func (r *Run) ExpectNs(kind string, timeout time.Duration) (int64, error) {
	payload, err := r.Expect(kind, timeout)
	if err != nil {
		return 0, err
	}
	ns, err := strconv.ParseInt(payload, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s time %q: %w", kind, payload, err)
	}
	return ns, nil
}

// WaitFor reports whether the process exited within timeout.
func (r *Run) WaitFor(timeout time.Duration) bool {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-r.exited:
		return true
	case <-t.C:
		return false
	}
}

// ExitNs is the CLOCK_MONOTONIC reading when the harness saw the exit.
func (r *Run) ExitNs() int64 { return r.exitNs }

// Finish waits up to timeout for the exit, reads the process's own CPU
// time from its clock while it is a zombie (less the preparation's), and
// reaps it. On timeout it kills the process (in PID-1 mode, the whole
// namespace) and fails.
func (r *Run) Finish(timeout time.Duration) (time.Duration, error) {
	if !r.WaitFor(timeout) {
		tail := r.StderrTail()
		r.Close()
		return 0, fmt.Errorf("still running after %v; killed%s", timeout, tail)
	}
	if r.waitErr != nil {
		return 0, fmt.Errorf("waitid %d: %w", r.Pid, r.waitErr)
	}
	cpu, err := workload.ProcessCPU(r.Pid)
	if rerr := r.reap(); rerr != nil {
		return 0, rerr
	}
	return cpu - r.prepCPU, err
}

// ExitCode is the exit code of a finished run, as a shell shows it.
func (r *Run) ExitCode() int {
	code, _ := signals.ExitCode(r.status)
	return code
}

func (r *Run) reap() error {
	if r.reaped {
		return nil
	}
	for {
		_, err := unix.Wait4(r.Pid, &r.status, 0, nil)
		if err == unix.EINTR {
			continue
		}
		r.reaped = true
		if err != nil {
			return fmt.Errorf("wait4 %d: %w", r.Pid, err)
		}
		return nil
	}
}

// Close kills and reaps the process if needed and releases the plumbing.
// It is safe to call more than once.
func (r *Run) Close() {
	if !r.reaped {
		unix.Kill(r.Pid, unix.SIGKILL)
		<-r.exited
		r.reap()
	}
	r.pipe.Close()
	r.stderr.Close()
}

// StderrTail returns the end of what the process wrote to stderr, for
// error messages.
func (r *Run) StderrTail() string {
	const keep = 400
	st, err := r.stderr.Stat()
	if err != nil || st.Size() == 0 {
		return ""
	}
	off := max(0, st.Size()-keep)
	b := make([]byte, st.Size()-off)
	n, _ := r.stderr.ReadAt(b, off)
	return "; stderr: " + strings.TrimSpace(string(b[:n]))
}
