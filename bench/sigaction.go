package main

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Handler values of the kernel's struct sigaction.
const (
	sigDFL = 0
	sigIGN = 1
)

// kernelSigaction is the kernel's struct sigaction with a handler of
// SIG_DFL or SIG_IGN: every other field stays zero, so the differences
// between architectures' layouts (sa_restorer or not) do not matter.
type kernelSigaction struct {
	handler uintptr
	rest    [3]uint64
}

// setDisposition sets sig to SIG_DFL or SIG_IGN with rt_sigaction(2)
// itself. os/signal cannot do either for SIGTERM: signal.Reset puts back
// the Go runtime's handler (which exits "as if" killed, one step later than
// the kernel would), and workloads must behave like plain processes.
func setDisposition(sig unix.Signal, handler uintptr) error {
	act := kernelSigaction{handler: handler}
	_, _, errno := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig),
		uintptr(unsafe.Pointer(&act)), 0, 8, 0, 0)
	if errno != 0 {
		return fmt.Errorf("rt_sigaction(%v): %w", sig, errno)
	}
	return nil
}
