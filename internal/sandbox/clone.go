package sandbox

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Inner is the inner tinit as the outer one sees it: PID 1 of the
// sandbox's pid namespace, and the outer's only child.
type Inner struct {
	Pid int
	// Pidfd is its pidfd, -1 where the kernel or a seccomp profile
	// refused one; the caller owns it.
	Pidfd int
	// NoCgroup says why it was cloned without the cgroup it was to go
	// into; nil when it went in, or none was asked for.
	NoCgroup error
}

// Start says how to start the inner tinit.
type Start struct {
	Spec Spec
	// Path and Argv are what the new namespaces execute: tinit itself,
	// with the arguments that make it the inner one.
	Path string
	Argv []string
	Env  []string
	// Keep is a descriptor of the caller's that the inner one gets at
	// the same number (the channel to the outer); -1 for none. The other
	// descriptors it gets are 0, 1, 2 and those the caller inherited
	// without close-on-exec, as the command would under plain tinit.
	Keep int
	// CgroupFd is the directory of the cgroup to clone into; -1 for
	// none.
	CgroupFd int
	// Foreground makes the inner one's process group the foreground
	// group of the terminal on stdin (the caller owns that terminal).
	Foreground bool
}

// Clone starts the inner tinit in its namespaces. Its parent-death signal
// is SIGKILL: if the outer tinit dies, the inner one dies too, and with
// PID 1 gone the kernel kills every process of its pid namespace. The
// kernel sends that signal when the thread that cloned exits; the Go
// runtime ends a thread only when a goroutine locked to it exits, which
// tinit never does.
//
// Refusals are retried without what was refused, like the command's spawn:
// the cgroup (CLONE_INTO_CGROUP needs clone3), then the pidfd. An error
// that remains comes from the namespaces: see NamespaceError.
func Clone(st Start) (Inner, error) {
	in := Inner{Pidfd: -1}
	if st.Spec.UserNS {
		if err := checkBounding(st.Spec.innerCaps()); err != nil {
			return in, err
		}
	}
	pidfd := true
	for {
		pid, fd, err := forkExec(st, pidfd)
		switch {
		case err == nil:
			in.Pid, in.Pidfd = pid, fd
			return in, nil
		case st.CgroupFd >= 0 && !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.ENOMEM):
			st.CgroupFd, in.NoCgroup = -1, err
		case pidfd && (errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM) || errors.Is(err, unix.EINVAL)):
			pidfd = false
		default:
			return Inner{}, &NamespaceError{UserNS: st.Spec.UserNS, Err: err}
		}
	}
}

// innerCaps are the capabilities the inner tinit keeps across its exec
// into a user namespace (as ambient capabilities, since it is not root
// there): enough to mount and, with a network namespace, to bring loopback
// up. It drops them before the command starts (DropPrivileges).
func (s Spec) innerCaps() []uintptr {
	if s.NetNone {
		return []uintptr{unix.CAP_SYS_ADMIN, unix.CAP_NET_ADMIN}
	}
	return []uintptr{unix.CAP_SYS_ADMIN}
}

// capNames names innerCaps for messages.
var capNames = map[uintptr]string{unix.CAP_SYS_ADMIN: "CAP_SYS_ADMIN", unix.CAP_NET_ADMIN: "CAP_NET_ADMIN"}

// checkBounding refuses, before anything starts, capabilities the bounding
// set lacks. A user namespace grants every capability inside it, but the
// exec of the inner tinit keeps only those of the bounding set, which a
// container's runtime has cut down: without CAP_SYS_ADMIN there the inner
// one could mount nothing.
func checkBounding(caps []uintptr) error {
	for _, c := range caps {
		if ok, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, c, 0, 0, 0); err == nil && ok == 0 {
			return fmt.Errorf("the capability bounding set lacks %s, which the sandbox's init needs inside its user namespace "+
				"(a container's runtime drops it: give the container %s, e.g. --cap-add %s)", capNames[c], capNames[c], strings.TrimPrefix(capNames[c], "CAP_"))
		}
	}
	return nil
}

func forkExec(st Start, pidfd bool) (pid, fd int, err error) {
	fd = -1
	sys := &syscall.SysProcAttr{
		Cloneflags: unix.CLONE_NEWPID | unix.CLONE_NEWNS,
		Pdeathsig:  unix.SIGKILL,
		// A group of its own: inside, the inner tinit sees its group (1)
		// as the terminal's foreground group only when it was made so.
		Setpgid: true,
	}
	if st.Foreground {
		sys.Foreground, sys.Ctty = true, 0
	}
	if st.Spec.NetNone {
		sys.Cloneflags |= unix.CLONE_NEWNET
	}
	if st.Spec.UserNS {
		sys.Cloneflags |= unix.CLONE_NEWUSER
		sys.UidMappings = []syscall.SysProcIDMap{{ContainerID: st.Spec.UID, HostID: st.Spec.UID, Size: 1}}
		sys.GidMappings = []syscall.SysProcIDMap{{ContainerID: st.Spec.GID, HostID: st.Spec.GID, Size: 1}}
		// An unprivileged process may write gid_map only once setgroups
		// is denied, which also keeps the command from dropping a
		// supplementary group to get around a permission that denies it.
		sys.GidMappingsEnableSetgroups = false
		sys.AmbientCaps = st.Spec.innerCaps()
	}
	if pidfd {
		sys.PidFD = &fd
	}
	if st.CgroupFd >= 0 {
		sys.UseCgroupFD, sys.CgroupFD = true, st.CgroupFd
	}
	attr := &syscall.ProcAttr{Env: st.Env, Files: keepFiles(st.Keep), Sys: sys}
	pid, err = syscall.ForkExec(st.Path, st.Argv, attr)
	return pid, fd, err
}

// keepFiles maps the inner tinit's descriptors: 0, 1 and 2, keep at its
// own number, and below it every inherited descriptor (not close-on-exec)
// at its own; the caller's own descriptors below keep (all close-on-exec)
// are closed. Inherited descriptors above keep pass on their own.
func keepFiles(keep int) []uintptr {
	files := []uintptr{0, 1, 2}
	const closed = ^uintptr(0) // ForkExec closes a descriptor mapped to -1
	for fd := 3; fd <= keep; fd++ {
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if fd == keep || err == nil && flags&unix.FD_CLOEXEC == 0 {
			files = append(files, uintptr(fd))
		} else {
			files = append(files, closed)
		}
	}
	return files
}

// NamespaceError is the kernel's refusal to make the sandbox's namespaces.
type NamespaceError struct {
	UserNS bool  // a user namespace was asked for
	Err    error // what clone(2) or the setup of the new process said
	// sysctl reads a setting under /proc/sys; nil reads the real one.
	sysctl func(name string) (string, bool)
}

// Unwrap returns Err.
func (e *NamespaceError) Unwrap() error { return e.Err }

// Error says what was refused and names the setting that most likely
// refused it, in one line.
func (e *NamespaceError) Error() string {
	if !e.UserNS {
		what := "cannot create pid and mount namespaces"
		if errors.Is(e.Err, unix.EPERM) {
			return fmt.Sprintf("%s: %v (a seccomp filter or a security module refuses them)", what, e.Err)
		}
		return fmt.Sprintf("%s: %v", what, e.Err)
	}
	read := e.sysctl
	if read == nil {
		read = readSysctl
	}
	return fmt.Sprintf("cannot create a user namespace: %v (%s)", e.Err, userNSCause(e.Err, read))
}

// userNSCause names the setting that most likely made the kernel refuse a
// user namespace with err. The kernel says ENOSPC when the per-user limit
// (user.max_user_namespaces, 0 to disable them) is reached, EUSERS before
// Linux 4.9 and beyond 32 nested namespaces, EPERM when Debian's
// kernel.unprivileged_userns_clone is 0, when AppArmor restricts them
// (Ubuntu 23.10 and later: the namespace is made, but without
// capabilities, so the setup in it fails), under a seccomp filter (most
// container runtimes' default) or in a chroot, and EINVAL without
// CONFIG_USER_NS.
func userNSCause(err error, sysctl func(name string) (string, bool)) string {
	switch {
	case errors.Is(err, unix.ENOSPC), errors.Is(err, unix.EUSERS):
		v, ok := sysctl("user.max_user_namespaces")
		switch {
		case ok && v == "0":
			return "user namespaces are disabled: user.max_user_namespaces is 0"
		case ok:
			return "the limit of user namespaces is reached: user.max_user_namespaces is " + v + ", or 32 are nested"
		}
		return "the limit of user namespaces (user.max_user_namespaces) is reached"
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		if v, ok := sysctl("kernel.unprivileged_userns_clone"); ok && v == "0" {
			return "unprivileged user namespaces are disabled: kernel.unprivileged_userns_clone is 0"
		}
		if v, ok := sysctl("kernel.apparmor_restrict_unprivileged_userns"); ok && v != "0" {
			return "AppArmor restricts unprivileged user namespaces: kernel.apparmor_restrict_unprivileged_userns is " + v
		}
		return "neither kernel.unprivileged_userns_clone nor kernel.apparmor_restrict_unprivileged_userns forbids them here, " +
			"so a seccomp filter (as in most containers) or a security module does, or tinit runs in a chroot"
	case errors.Is(err, unix.EINVAL):
		return "the kernel has no user namespaces (CONFIG_USER_NS)"
	}
	return "user.max_user_namespaces, kernel.unprivileged_userns_clone and kernel.apparmor_restrict_unprivileged_userns are the settings that govern them"
}

// readSysctl reads the setting name ("user.max_user_namespaces") from
// /proc/sys; ok is false where the kernel has no such setting.
func readSysctl(name string) (string, bool) {
	b, err := os.ReadFile("/proc/sys/" + strings.ReplaceAll(name, ".", "/"))
	if err != nil {
		return "", false
	}
	return strings.TrimSpace(string(b)), true
}
