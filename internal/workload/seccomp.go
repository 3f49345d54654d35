package workload

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A denial makes one system call fail with an errno, as an old kernel, a
// seccomp profile or an exhausted machine would: the launch workload installs
// a seccomp filter of denials before it execs tinit, so tinit meets the
// failure on the host, in any mode.
type denial struct {
	nr uint32
	// With mask set, only calls whose first argument ANDed with mask
	// equals value are denied.
	mask, value uint32
}

// denials are the failures a test can ask for by name.
var denials = map[string]denial{
	"clone3":            {nr: unix.SYS_CLONE3},
	"pidfd_open":        {nr: unix.SYS_PIDFD_OPEN},
	"pidfd_send_signal": {nr: unix.SYS_PIDFD_SEND_SIGNAL},
	// fork: clone(2) of a process, not of a thread, so that the Go
	// runtime can still start threads (with clone3 denied too).
	"fork": {nr: unix.SYS_CLONE, mask: unix.CLONE_THREAD, value: 0},
	// subreaper: prctl(PR_SET_CHILD_SUBREAPER, ...).
	"subreaper": {nr: unix.SYS_PRCTL, mask: ^uint32(0), value: unix.PR_SET_CHILD_SUBREAPER},
	// newuser: clone(2) or unshare(2) of a new user namespace (clone3
	// takes its flags through a pointer, which a filter cannot read:
	// deny it too, and the Go runtime falls back to clone).
	"newuser": {nr: unix.SYS_CLONE, mask: unix.CLONE_NEWUSER, value: unix.CLONE_NEWUSER},
}

// auditArch is the seccomp architecture of this build; the filter lets
// through, unfiltered, calls made with another one.
func auditArch() (uint32, error) {
	switch runtime.GOARCH {
	case "amd64":
		return unix.AUDIT_ARCH_X86_64, nil
	case "arm64":
		return unix.AUDIT_ARCH_AARCH64, nil
	}
	return 0, fmt.Errorf("no seccomp architecture known for %s", runtime.GOARCH)
}

// Offsets into struct seccomp_data: nr, arch, then the arguments (the low
// 32 bits of the first one on a little-endian machine).
const (
	seccompNr   = 0
	seccompArch = 4
	seccompArg0 = 16
)

// filterProgram builds a classic BPF program from rules NAME=ERRNO.
func filterProgram(rules []string) ([]unix.SockFilter, error) {
	arch, err := auditArch()
	if err != nil {
		return nil, err
	}
	stmt := func(code uint16, k uint32) unix.SockFilter { return unix.SockFilter{Code: code, K: k} }
	jeq := func(k uint32, jt, jf uint8) unix.SockFilter {
		return unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: jt, Jf: jf, K: k}
	}
	const (
		ld    = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		ret   = unix.BPF_RET | unix.BPF_K
		and   = unix.BPF_ALU | unix.BPF_AND | unix.BPF_K
		allow = unix.SECCOMP_RET_ALLOW
	)
	var body []unix.SockFilter
	for _, r := range rules {
		name, errname, ok := strings.Cut(r, "=")
		d, known := denials[name]
		errno := errnoNamed(errname)
		if !ok || !known || errno == 0 {
			return nil, fmt.Errorf("bad denial %q: want NAME=ERRNO, NAME one of the known denials", r)
		}
		deny := stmt(ret, unix.SECCOMP_RET_ERRNO|uint32(errno))
		if d.mask == 0 {
			body = append(body, jeq(d.nr, 0, 1), deny)
			continue
		}
		// A no longer holds the number after the argument test:
		// reload it for the next rule.
		body = append(body, jeq(d.nr, 0, 5), stmt(ld, seccompArg0), stmt(and, d.mask),
			jeq(d.value, 0, 1), deny, stmt(ld, seccompNr))
	}
	prog := []unix.SockFilter{stmt(ld, seccompArch), jeq(arch, 1, 0), stmt(ret, allow), stmt(ld, seccompNr)}
	prog = append(prog, body...)
	return append(prog, stmt(ret, allow)), nil
}

// installFilter applies rules to the calling thread, which the caller has
// locked and will exec from: the filter survives execve(2) in that thread.
func installFilter(rules []string) error {
	prog, err := filterProgram(rules)
	if err != nil {
		return err
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("no_new_privs: %w", err)
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if err := unix.Prctl(unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&fprog)), 0, 0); err != nil {
		return fmt.Errorf("install seccomp filter: %w", err)
	}
	runtime.KeepAlive(prog)
	return nil
}

// SeccompSupported says why the filter cannot be made for this build, if
// it cannot.
func SeccompSupported() error {
	if _, err := auditArch(); err != nil {
		return errors.Join(errors.New("seccomp filters for tests"), err)
	}
	return nil
}

// errnoNamed returns the errno called name ("EPERM"), or 0.
func errnoNamed(name string) syscall.Errno {
	for e := syscall.Errno(1); e < 4096; e++ {
		if unix.ErrnoName(e) == name {
			return e
		}
	}
	return 0
}
