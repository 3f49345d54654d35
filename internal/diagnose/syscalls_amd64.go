package diagnose

import "golang.org/x/sys/unix"

// archSyscallName names the system calls amd64 has beside the generic ones.
func archSyscallName(nr int) string {
	switch nr {
	case unix.SYS_POLL:
		return "poll"
	case unix.SYS_SELECT:
		return "select"
	case unix.SYS_EPOLL_WAIT:
		return "epoll_wait"
	case unix.SYS_PAUSE:
		return "pause"
	case unix.SYS_ACCEPT:
		return "accept"
	}
	return ""
}
