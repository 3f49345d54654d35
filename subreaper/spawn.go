package subreaper

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"

	"github.com/tinit-dev/tinit/internal/escape"
	"golang.org/x/sys/unix"
)

// Exit codes for a command that could not be started, as shells use them
// (and tini does).
const (
	exitNotExecutable = 126
	exitNotFound      = 127
)

// defaultPath is searched when the environment has no PATH, as execvp(3)
// of the GNU C library does (its confstr _CS_PATH).
const defaultPath = "/bin:/usr/bin"

// ExecError reports that the command could not be started.
type ExecError struct {
	Cmd string // the command as given, before the PATH lookup
	Err error  // what execve(2), or the lookup, said
	// Interp is the interpreter a script's #! line names, when that is
	// what execve(2) could not find; "the program's loader" for a binary
	// whose dynamic loader is missing.
	Interp string
}

// Error says "CMD: command not found", "CMD: bad interpreter: INTERP:
// REASON" or "CMD: cannot execute: REASON".
func (e *ExecError) Error() string {
	switch {
	case e.Interp != "":
		return fmt.Sprintf("%s: bad interpreter: %s: %v", e.Cmd, e.Interp, e.Err)
	case e.notFound():
		return fmt.Sprintf("%s: command not found", e.Cmd)
	}
	return fmt.Sprintf("%s: cannot execute: %v", e.Cmd, e.Err)
}

// Unwrap returns Err.
func (e *ExecError) Unwrap() error { return e.Err }

// Code returns tinit's exit status for the failure: 127 when the command
// was not found, 126 when it exists but cannot be executed.
func (e *ExecError) Code() int {
	if e.notFound() {
		return exitNotFound
	}
	return exitNotExecutable
}

func (e *ExecError) notFound() bool {
	return errors.Is(e.Err, unix.ENOENT) || errors.Is(e.Err, unix.ENOTDIR)
}

// lookPath finds file as execvp(3) of the C library does, predicting
// what execve(2) would say of each candidate: a name with a slash is used
// as is; a name longer than NAME_MAX fails with ENAMETOOLONG; otherwise
// each directory of PATH (an empty element is the working directory; PATH
// unset is /bin:/usr/bin, PATH set but empty the working directory alone)
// is tried in turn. A candidate that is missing (ENOENT, ENOTDIR), or a
// script whose #! interpreter is missing, moves the search on; one that
// exists but cannot be executed (EACCES) is remembered and the search goes
// on; any other error (ELOOP, ENAMETOOLONG) ends it. At the end, a
// remembered EACCES wins over "not found" (126 rather than 127), and a
// script with a missing interpreter is returned so that spawning it says
// which interpreter is missing.
func lookPath(file, path string, pathSet bool) (string, error) {
	if file == "" {
		return "", &ExecError{Cmd: file, Err: unix.ENOENT}
	}
	if strings.Contains(file, "/") {
		return file, nil
	}
	if len(file) > unix.NAME_MAX {
		return "", &ExecError{Cmd: file, Err: unix.ENAMETOOLONG}
	}
	if !pathSet {
		path = defaultPath
	}
	denied, badInterp := false, ""
	for dir := range strings.SplitSeq(path, ":") {
		if dir == "" {
			dir = "."
		}
		cand := dir + "/" + file
		switch err := execErrno(cand); {
		case err == nil:
			return cand, nil
		case errors.Is(err, unix.EACCES):
			denied = true
		case errors.Is(err, errMissingInterpreter):
			if badInterp == "" {
				badInterp = cand
			}
		case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENOTDIR), errors.Is(err, unix.ESTALE),
			errors.Is(err, unix.ENODEV), errors.Is(err, unix.ETIMEDOUT):
		default:
			return "", &ExecError{Cmd: file, Err: err}
		}
	}
	switch {
	case denied:
		return "", &ExecError{Cmd: file, Err: unix.EACCES}
	case badInterp != "":
		return badInterp, nil
	}
	return "", &ExecError{Cmd: file, Err: unix.ENOENT}
}

// errMissingInterpreter stands for execve's ENOENT of a script that exists
// but whose #! interpreter does not.
var errMissingInterpreter = errors.New("missing interpreter")

// execErrno predicts what execve(2) of path would fail with, or nil.
func execErrno(path string) error {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return unix.EACCES
	}
	if err := unix.Faccessat(unix.AT_FDCWD, path, unix.X_OK, unix.AT_EACCESS); err != nil {
		return unix.EACCES
	}
	if interp := shebang(path); interp != "" {
		var ist unix.Stat_t
		if unix.Stat(interp, &ist) != nil {
			return errMissingInterpreter
		}
	}
	return nil
}

// shebang returns the interpreter path's #! line names, or "".
func shebang(path string) string {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return ""
	}
	defer unix.Close(fd)
	var buf [256]byte
	n, _ := unix.Read(fd, buf[:])
	line, ok := strings.CutPrefix(string(buf[:max(n, 0)]), "#!")
	if !ok {
		return ""
	}
	line, _, _ = strings.Cut(line, "\n")
	if f := strings.Fields(line); len(f) > 0 {
		return f[0]
	}
	return ""
}

// spawnAttr says how to start the main child.
type spawnAttr struct {
	path, cmd  string
	argv, env  []string
	pidfd      bool // ask clone for a pidfd
	cgroupFd   int  // clone into this cgroup directory; -1 for none
	foreground bool // make the child's process group the terminal's foreground group
	setsid     bool // start the child in a session of its own instead of a group
	ctty       bool // with setsid: the child takes stdin as its controlling terminal
	// extra are the child's descriptors from 3 up: extra[k] becomes its
	// descriptor 3+k, and -1 leaves that number closed.
	extra []int
	cred  *syscall.Credential // nil: tinit's own user and groups
}

// spawned is a started main child.
type spawned struct {
	pid   int
	pidfd int // -1 without one
	// noCgroup and noPidfd say why the child was spawned without the
	// cgroup or the pidfd it was asked for.
	noCgroup, noPidfd error
}

// shell runs scripts that have no #! line, as execvp(3) does.
const shell = "/bin/sh"

// spawn starts the main child in its own process group, with descriptors 0,
// 1 and 2 only (tinit's own descriptors are all close-on-exec; inherited
// ones the caller closes in tinit afterwards). It must run before the
// reaper starts: syscall.ForkExec waits for a child whose exec failed.
//
// Features an old kernel or a seccomp profile may refuse are dropped one at
// a time and the spawn retried: first the cgroup (clone3 may be ENOSYS),
// then the pidfd. An exec failure fails every attempt alike and is reported
// from the last one. A file without a #! line that execve(2) rejects with
// ENOEXEC is run by /bin/sh, as execvp(3), and so tini, do.
func spawn(a spawnAttr) (spawned, error) {
	var res spawned
	for {
		pid, pidfd, err := forkExec(a)
		switch {
		case err == nil:
			res.pid, res.pidfd = pid, pidfd
			return res, nil
		case errors.Is(err, unix.ENOEXEC) && a.path != shell:
			a.argv = append([]string{shell, a.path}, a.argv[1:]...)
			a.path = shell
		case a.cgroupFd >= 0 && !resourceErrno(err):
			a.cgroupFd, res.noCgroup = -1, err
		case a.pidfd && pidfdRefused(err):
			a.pidfd, res.noPidfd = false, err
		case isExecErrno(err):
			return spawned{}, &ExecError{Cmd: a.cmd, Err: err, Interp: missingInterpreter(a.path, err)}
		default:
			return spawned{}, fmt.Errorf("spawn %q: %w", a.cmd, err)
		}
	}
}

// missingInterpreter returns the interpreter named by path's #! line when
// execve(2) said ENOENT of a file that exists: the interpreter, not the
// script, is what is missing (exit code 127 all the same, as tini). For a
// file without #! it is the loader a dynamic executable names.
func missingInterpreter(path string, err error) string {
	if !errors.Is(err, unix.ENOENT) {
		return ""
	}
	if _, serr := os.Stat(path); serr != nil {
		return ""
	}
	if interp := shebang(path); interp != "" {
		return escape.Printable(interp)
	}
	return "the program's loader" // an ELF file whose PT_INTERP is missing
}

// resourceErrno reports a failure to create a process for want of
// resources, which no retry without a feature would cure.
func resourceErrno(err error) bool {
	return errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.ENOMEM)
}

func forkExec(a spawnAttr) (pid, pidfd int, err error) {
	pidfd = -1
	// The parent-death signal kills the child if tinit dies first (to
	// SIGKILL, say), instead of leaving it to run on unsupervised. The
	// kernel sends it when the thread that forked exits (golang/go#27505),
	// and the Go runtime ends a thread only when a goroutine locked to it
	// exits, which tinit never does.
	sys := &syscall.SysProcAttr{Setpgid: !a.setsid, Setsid: a.setsid, Pdeathsig: unix.SIGKILL, Credential: a.cred}
	switch {
	case a.setsid && a.ctty:
		sys.Setctty = true
		sys.Ctty = 0
	case a.foreground && !a.setsid:
		sys.Foreground = true
		sys.Ctty = 0
	}
	if a.pidfd {
		sys.PidFD = &pidfd
	}
	if a.cgroupFd >= 0 {
		sys.UseCgroupFD = true
		sys.CgroupFD = a.cgroupFd
	}
	files := []uintptr{0, 1, 2}
	for _, fd := range a.extra {
		files = append(files, uintptr(fd)) // -1 wraps, which ForkExec reads as "close"
	}
	attr := &syscall.ProcAttr{Env: a.env, Files: files, Sys: sys}
	pid, err = syscall.ForkExec(a.path, a.argv, attr)
	return pid, pidfd, err
}

// pidfdRefused reports errors that mean "no pidfd here": ENOSYS from an old
// kernel or runtime, EPERM from a seccomp profile, EINVAL from a filter that
// masks CLONE_PIDFD.
func pidfdRefused(err error) bool {
	return errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM) || errors.Is(err, unix.EINVAL)
}

// isExecErrno reports whether err is something execve(2) says about the
// file, as opposed to a failure to create the process at all.
func isExecErrno(err error) bool {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return false
	}
	switch errno {
	case unix.ENOENT, unix.ENOTDIR, unix.EACCES, unix.ENOEXEC, unix.EISDIR,
		unix.ELOOP, unix.ENAMETOOLONG, unix.ETXTBSY, unix.EPERM, unix.ELIBBAD, unix.E2BIG:
		return true
	}
	return false
}
