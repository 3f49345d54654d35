package oci

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// Check reports what of p cannot be done by a tinit running as euid and
// egid, before anything is applied. privileged says tinit may take any
// identity (root outside a user namespace of its own): otherwise the user
// must be tinit's own, without supplementary groups (in a sandbox's user
// namespace only the caller's ids are mapped). stdinTerminal says whether
// tinit's stdin is a terminal.
func (p *Process) Check(euid, egid int, privileged, stdinTerminal bool) error {
	if p.Terminal && !stdinTerminal {
		return fieldErr(join(p.Root, "terminal"), "true, but tinit's stdin is not a terminal (tinit allocates none; run it on one)")
	}
	u := p.User
	if u == nil || privileged {
		return nil
	}
	path := join(p.Root, "user")
	switch {
	case int(u.UID) != euid:
		return fieldErr(join(path, "uid"), "%d, but tinit runs as uid %d and may not switch users (only root may)", u.UID, euid)
	case int(u.GID) != egid:
		return fieldErr(join(path, "gid"), "%d, but tinit runs as gid %d and may not switch groups (only root may)", u.GID, egid)
	case len(u.AdditionalGids) > 0:
		return fieldErr(join(path, "additionalGids"), "only root may set supplementary groups")
	}
	return nil
}

// Credential is the identity the command is started with; nil keeps
// tinit's. Without privilege (see Check) the supplementary groups are left
// as they are, since setgroups(2) would be refused.
func (p *Process) Credential(privileged bool) *syscall.Credential {
	if p.User == nil {
		return nil
	}
	return &syscall.Credential{
		Uid: p.User.UID, Gid: p.User.GID, Groups: p.User.AdditionalGids,
		NoSetGroups: !privileged && len(p.User.AdditionalGids) == 0,
	}
}

// Apply sets on tinit itself what the command inherits from it: the
// working directory, the resource limits, the umask and no_new_privs. It
// runs last, after Check, just before the command starts; a failure names
// the field, and what was set before it is undone (no_new_privs, which
// cannot be undone, comes last and does not fail on Linux 3.5 and later).
//
// The limits hold for tinit too, as for runc's init before its exec: a low
// RLIMIT_NOFILE makes tinit do without pidfds and a cgroup, as it does
// wherever it starts with few descriptors.
func (p *Process) Apply() error {
	old, err := unix.Getwd()
	if err != nil {
		return fmt.Errorf("getcwd: %w", err)
	}
	if err := unix.Chdir(p.Cwd); err != nil {
		return fieldErr(join(p.Root, "cwd"), "chdir %s: %v", p.Cwd, err)
	}
	var set []Rlimit // the limits as they were, for undoing
	undo := func() {
		for _, r := range set {
			syscall.Setrlimit(r.Resource, &syscall.Rlimit{Cur: r.Soft, Max: r.Hard})
		}
		unix.Chdir(old)
	}
	for i, r := range p.Rlimits {
		var was syscall.Rlimit
		if err := syscall.Getrlimit(r.Resource, &was); err != nil {
			undo()
			return fieldErr(fmt.Sprintf("%s[%d]", join(p.Root, "rlimits"), i), "getrlimit %s: %v", r.Type, err)
		}
		// syscall.Setrlimit, not unix's: for RLIMIT_NOFILE it also tells
		// the Go runtime not to restore its own start-up limit in children.
		if err := syscall.Setrlimit(r.Resource, &syscall.Rlimit{Cur: r.Soft, Max: r.Hard}); err != nil {
			undo()
			return fieldErr(fmt.Sprintf("%s[%d]", join(p.Root, "rlimits"), i), "setrlimit %s soft %d hard %d: %v%s",
				r.Type, r.Soft, r.Hard, err, raiseHint(err, was, r))
		}
		set = append(set, Rlimit{Resource: r.Resource, Soft: was.Cur, Hard: was.Max})
	}
	if p.Umask != nil {
		unix.Umask(int(*p.Umask))
	}
	if p.NoNewPrivileges {
		// A per-thread attribute, inherited from the thread that forks.
		if _, _, e := syscall.AllThreadsSyscall(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0); e != 0 {
			undo()
			return fieldErr(join(p.Root, "noNewPrivileges"), "prctl PR_SET_NO_NEW_PRIVS: %v", e)
		}
	}
	return nil
}

func raiseHint(err error, was syscall.Rlimit, r Rlimit) string {
	if err == unix.EPERM && r.Hard > was.Max {
		return fmt.Sprintf(" (raising the hard limit above %d needs CAP_SYS_RESOURCE)", was.Max)
	}
	return ""
}
