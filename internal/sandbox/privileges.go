package sandbox

import (
	"fmt"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// DropPrivileges gives up, in every thread of the inner tinit, the
// capabilities it held for the setup (see Spec.innerCaps): the ambient set is
// cleared, and the effective, permitted and inheritable sets are emptied.
// The command then starts as the user it runs as, without a capability even
// inside the sandbox's user namespace, as under `unshare -r` it would not.
//
// Capabilities belong to threads, not to the process, and the Go runtime
// forks from whichever thread it likes: AllThreadsSyscall applies each
// change to every thread at once (it needs a binary without cgo, as
// tinit's release build is).
func DropPrivileges() error {
	if _, _, e := syscall.AllThreadsSyscall(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0); e != 0 {
		return fmt.Errorf("clear ambient capabilities: %w", e)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData // all zero: no capability in any set
	if _, _, e := syscall.AllThreadsSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); e != 0 {
		return fmt.Errorf("drop capabilities: %w", e)
	}
	return nil
}
