// The container checks again under seccomp profiles that take pidfds
// away, as old runtimes do: tinit must fall back to pids.

package tests

import (
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// seccompVariants reproduce runtimes and kernels without pidfds. Each
// lists what the pidfdprobe helper must see inside the container.
func seccompVariants() []struct {
	name    string
	profile *specs.LinuxSeccomp
	probe   map[string]string
} {
	errno := func(e syscall.Errno) *uint { n := uint(e); return &n }
	deny := func(e syscall.Errno, names ...string) specs.LinuxSyscall {
		return specs.LinuxSyscall{Names: names, Action: specs.ActErrno, ErrnoRet: errno(e)}
	}
	pidfdCalls := []string{"pidfd_open", "pidfd_send_signal", "pidfd_getfd", "clone3"}
	return []struct {
		name    string
		profile *specs.LinuxSeccomp
		probe   map[string]string
	}{
		{
			// A runtime whose seccomp library predates pidfds: the
			// calls are unknown to it and answer ENOSYS.
			name:    "ENOSYS",
			profile: &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{deny(unix.ENOSYS, pidfdCalls...)}},
			probe: map[string]string{
				"pidfd_open": "ENOSYS", "pidfd_send_signal": "ENOSYS", "pidfd_getfd": "ENOSYS", "clone3": "ENOSYS",
				"clone_pidfd": "ok",
			},
		},
		{
			// A profile that denies what it does not know with EPERM.
			name:    "EPERM",
			profile: &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{deny(unix.EPERM, pidfdCalls...)}},
			probe: map[string]string{
				"pidfd_open": "EPERM", "pidfd_send_signal": "EPERM", "pidfd_getfd": "EPERM", "clone3": "EPERM",
				"clone_pidfd": "ok",
			},
		},
		{
			// clone(2) with CLONE_PIDFD refused with EINVAL, as filters
			// on the clone flags do, and clone3 unknown.
			name: "clone CLONE_PIDFD EINVAL",
			profile: &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
				deny(unix.ENOSYS, "clone3"),
				{
					Names: []string{"clone"}, Action: specs.ActErrno, ErrnoRet: errno(unix.EINVAL),
					Args: []specs.LinuxSeccompArg{{Index: 0, Value: unix.CLONE_PIDFD, ValueTwo: unix.CLONE_PIDFD, Op: specs.OpMaskedEqual}},
				},
			}},
			// The pidfd calls themselves are allowed: tinit falls back
			// only because the main child came without a pidfd.
			probe: map[string]string{
				"pidfd_open": "ok", "pidfd_send_signal": "EBADF", "pidfd_getfd": "EBADF", "clone3": "ENOSYS",
				"clone_pidfd": "EINVAL",
			},
		},
	}
}

// TestRuncSeccompFallback runs the container checks under seccomp profiles
// that take pidfds away. tinit must notice once, say so once, and work as
// well by pid.
func TestRuncSeccompFallback(t *testing.T) {
	needRunc(t)
	for _, v := range seccompVariants() {
		t.Run(v.name, func(t *testing.T) {
			t.Run("profile applies", func(t *testing.T) {
				checkProbe(t, probeContainer(t, v.profile), v.probe)
			})
			runCtrChecks(t, v.profile, true)
		})
	}
}
