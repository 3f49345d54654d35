package sandbox

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// The outer and the inner tinit talk over one stream socket, the channel:
//
//   - outer to inner: what to run (JSON), then the outer shuts its writing
//     side, so the inner reads to EOF;
//   - inner to outer: Ready once the inner can take signals, then, when the
//     run is over, its record (JSON), then EOF when the inner exits.
//
// The inner holds its end close-on-exec: the command never sees it.

// Ready is the byte the inner sends once it has claimed the stop signals;
// the outer holds signals back until then (as PID 1, an unclaimed SIGTERM
// would make the Go runtime exit 2).
const Ready = 'R'

// Pair makes the channel: the outer's end and the inner's, both
// close-on-exec (Clone hands the inner's end on by number).
func Pair() (outer, inner int, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, -1, fmt.Errorf("socketpair: %w", err)
	}
	return fds[0], fds[1], nil
}

// Send writes b whole to the channel and ends the sender's side of it.
func Send(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("write to the sandbox channel: %w", err)
		}
		b = b[n:]
	}
	if err := unix.Shutdown(fd, unix.SHUT_WR); err != nil {
		return fmt.Errorf("shut the sandbox channel: %w", err)
	}
	return nil
}

// ReadAll reads the channel to EOF; the caller keeps the descriptor.
func ReadAll(fd int) ([]byte, error) {
	var out []byte
	buf := make([]byte, 16<<10)
	for {
		n, err := unix.Read(fd, buf)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return out, fmt.Errorf("read the sandbox channel: %w", err)
		case n == 0:
			return out, nil
		}
		out = append(out, buf[:n]...)
	}
}
