package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// env is what every launch needs: the harness's own binary (re-executed
// for workloads and the prep step) and /dev/null for the init's stdio.
type env struct {
	self     string
	truePath string // true(1), the startup scenario's command
	devnull  *os.File
	environ  []string
}

func newEnv() (*env, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own binary: %w", err)
	}
	truePath, err := exec.LookPath("true")
	if err != nil {
		return nil, fmt.Errorf("find true(1): %w", err)
	}
	dn, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", os.DevNull, err)
	}
	return &env{self: self, truePath: truePath, devnull: dn, environ: os.Environ()}, nil
}

// workload is the command line of one of the harness's own workloads.
func (e *env) workload(name string, args ...string) []string {
	return append([]string{e.self, name}, args...)
}

// run is one started init (or baseline workload) with its plumbing: the
// read end of the report pipe, a memfd holding its stderr, and a goroutine
// that notices its exit without reaping it.
type run struct {
	pid     int
	lines   chan string   // report pipe, one message a line; closed at EOF
	exited  chan struct{} // closed once the process has exited (a zombie)
	exitNs  int64         // CLOCK_MONOTONIC when waitid saw the exit
	waitErr error
	pipe    *os.File
	stderr  *os.File
	reaped  bool
	status  unix.WaitStatus
	prepCPU time.Duration // CPU used before the init's exec, in pid1 mode
}

// launch starts argv as a child of the harness. In pid1 mode the child is
// the prep workload in a new pid and mount namespace, which then execs
// argv as PID 1. Pdeathsig kills it if the harness dies, and with it, in
// pid1 mode, the whole namespace.
func (e *env) launch(argv []string, m mode) (*run, error) {
	return e.launchEnv(argv, m, nil)
}

// launchEnv is launch with extra environment variables for the init.
func (e *env) launchEnv(argv []string, m mode, extra []string) (*run, error) {
	path, args := argv[0], argv
	sys := &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if m == pid1 {
		path, args = e.self, append([]string{e.self, wlPrep}, argv...)
		sys.Cloneflags = unix.CLONE_NEWPID | unix.CLONE_NEWNS
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("report pipe: %w", err)
	}
	defer pw.Close()
	errFd, err := unix.MemfdCreate("bench-init-stderr", unix.MFD_CLOEXEC)
	if err != nil {
		pr.Close()
		return nil, fmt.Errorf("memfd for stderr: %w", err)
	}
	r := &run{lines: make(chan string, 16), exited: make(chan struct{}), pipe: pr,
		stderr: os.NewFile(uintptr(errFd), "stderr")}
	dn := e.devnull.Fd()
	attr := &syscall.ProcAttr{Env: append(append([]string{}, e.environ...), extra...), Sys: sys,
		Files: []uintptr{dn, dn, uintptr(errFd), pw.Fd()}}
	r.pid, err = syscall.ForkExec(path, args, attr)
	if err != nil {
		pr.Close()
		r.stderr.Close()
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	go r.readLines()
	go r.waitExit()
	if m == pid1 {
		if err := r.readPrepCPU(); err != nil {
			r.close()
			return nil, err
		}
	}
	return r, nil
}

// readPrepCPU takes the prep step's CPU time, which the init inherits on
// its clock through execve, so that finish can subtract it.
func (r *run) readPrepCPU() error {
	payload, err := r.expect("prep", prepTimeout)
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

// prepTimeout bounds the start of the prep step, up to its execve.
const prepTimeout = 10 * time.Second

func (r *run) readLines() {
	defer close(r.lines)
	sc := bufio.NewScanner(r.pipe)
	for sc.Scan() {
		r.lines <- sc.Text()
	}
}

// waitExit waits with WNOWAIT: the process stays a zombie, so its pid and
// CPU clock remain readable until finish reaps it.
func (r *run) waitExit() {
	defer close(r.exited)
	var info unix.Siginfo
	for {
		r.waitErr = unix.Waitid(unix.P_PID, r.pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if r.waitErr != unix.EINTR {
			break
		}
	}
	r.exitNs = monoNow()
}

// expect returns the payload of the next report line of the given kind.
func (r *run) expect(kind string, timeout time.Duration) (string, error) {
	deadline := time.After(timeout)
	for {
		select {
		case line, ok := <-r.lines:
			if !ok {
				return "", fmt.Errorf("report pipe closed before %q%s", kind, r.stderrTail())
			}
			k, payload, _ := strings.Cut(line, " ")
			if k == kind {
				return payload, nil
			}
		case <-deadline:
			return "", fmt.Errorf("no %q within %v%s", kind, timeout, r.stderrTail())
		}
	}
}

// waitFor reports whether the process exited within timeout.
func (r *run) waitFor(timeout time.Duration) bool {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-r.exited:
		return true
	case <-t.C:
		return false
	}
}

// finish waits up to timeout for the exit, reads the process's own CPU
// time from its clock while it is a zombie (less the prep step's), and
// reaps it. On timeout it kills the process (in pid1 mode, the whole
// namespace) and fails.
func (r *run) finish(timeout time.Duration) (time.Duration, error) {
	if !r.waitFor(timeout) {
		tail := r.stderrTail()
		r.close()
		return 0, fmt.Errorf("still running after %v; killed%s", timeout, tail)
	}
	if r.waitErr != nil {
		return 0, fmt.Errorf("waitid %d: %w", r.pid, r.waitErr)
	}
	cpu, err := processCPU(r.pid)
	if rerr := r.reap(); rerr != nil {
		return 0, rerr
	}
	return cpu - r.prepCPU, err
}

func (r *run) reap() error {
	if r.reaped {
		return nil
	}
	for {
		_, err := unix.Wait4(r.pid, &r.status, 0, nil)
		if err == unix.EINTR {
			continue
		}
		r.reaped = true
		if err != nil {
			return fmt.Errorf("wait4 %d: %w", r.pid, err)
		}
		return nil
	}
}

// close kills and reaps the process if needed and releases the plumbing.
// It is safe to call more than once.
func (r *run) close() {
	if !r.reaped {
		unix.Kill(r.pid, unix.SIGKILL)
		<-r.exited
		r.reap()
	}
	r.pipe.Close()
	r.stderr.Close()
}

// stderrTail returns the end of what the process wrote to stderr, for
// error messages.
func (r *run) stderrTail() string {
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

// exitCode is the status as a shell shows it: n, or 128+n for signal n.
func exitCode(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}
