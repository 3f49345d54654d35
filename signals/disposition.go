package signals

import "golang.org/x/sys/unix"

// Default sets sig to SIG_DFL in the kernel, behind the Go runtime's back:
// signal.Reset would put back the runtime's own handler, which exits "as
// if" killed one step later than the kernel would. The tests' and the
// benchmark's processes use it to behave as plain C processes do.
func Default(sig unix.Signal) error { return setDisposition(sig, sigDfl) }

// Ignore sets sig to SIG_IGN in the kernel, as Default does for SIG_DFL.
func Ignore(sig unix.Signal) error { return setDisposition(sig, sigIgn) }
