package subreaper

import (
	"slices"
	"strconv"

	"github.com/tinit-dev/tinit/internal/procfs"

	"golang.org/x/sys/unix"
)

// maxProbedFd caps the descriptor numbers probed one by one when /proc is
// not mounted.
const maxProbedFd = 1 << 16

// closeInherited closes tinit's own copies of the descriptors >= 3 it
// inherited, once the child holds its copies. Kept open in tinit, an
// inherited pipe end would keep the reader from ever seeing EOF after the
// child closes it.
//
// Inherited descriptors are told apart by their missing close-on-exec
// flag: everything tinit, the registry and the Go runtime open is
// close-on-exec (the runtime keeps a few descriptors of its own open), and a
// descriptor marked close-on-exec cannot survive the exec that started
// tinit.
func (s *supervisor) closeInherited() {
	closed := 0
	for _, fd := range s.openFds() {
		if fd < 3 || !inherited(fd) {
			continue
		}
		tok := s.fds.Adopt(fd, "inherited fd "+strconv.Itoa(fd))
		if err := s.fds.Close(tok); err != nil {
			s.log.Warn().Err(err).Int("fd", fd).Msg("closing inherited descriptor")
			continue
		}
		closed++
	}
	if closed > 0 {
		s.log.Debug().Int("count", closed).Msg("closed inherited descriptors")
	}
}

// passedFiles lists, with Config.PassInherited, the descriptors above 2
// that tinit inherited, for the child to get under the same numbers (see
// spawnAttr.extra); nil without.
func (s *supervisor) passedFiles() []int {
	if !s.cfg.PassInherited {
		return nil
	}
	var extra []int
	fds := s.openFds()
	slices.Sort(fds)
	for _, fd := range fds {
		if fd < 3 || !inherited(fd) {
			continue
		}
		for len(extra) < fd-3 {
			extra = append(extra, -1)
		}
		extra = append(extra, fd)
	}
	return extra
}

// inherited reports whether fd lacks the close-on-exec flag, so came from
// tinit's parent (see closeInherited).
func inherited(fd int) bool {
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	return err == nil && flags&unix.FD_CLOEXEC == 0
}

// openFds lists tinit's open descriptors from /proc/self/fd or, without
// /proc, by probing every number below the descriptor limit.
func (s *supervisor) openFds() []int {
	if fds, err := s.proc.Numbers(procfs.Root + "/self/fd"); err == nil {
		return fds
	}
	limit := maxProbedFd
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &rl) == nil && rl.Cur < uint64(limit) {
		limit = int(rl.Cur)
	}
	var fds []int
	for fd := 3; fd < limit; fd++ {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil {
			fds = append(fds, fd)
		}
	}
	return fds
}
