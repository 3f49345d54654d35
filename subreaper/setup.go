package subreaper

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/tinit-dev/tinit/fdtrack"
	"github.com/tinit-dev/tinit/internal/cgroup"
	"golang.org/x/sys/unix"
)

// setup is what is decided once at the start of a run and fixed after:
// where tinit runs, which features it has, and how it kills leftovers.
type setup struct {
	pid1 bool // PID 1 of a pid namespace
	// pidfds: the main child has a pidfd and pidfds work here; false in
	// the fallback, where everything is signalled by pid.
	pidfds bool
	// groupByFd: pidfd_send_signal can signal a process group (Linux 6.9).
	groupByFd bool
	// proc: /proc shows tinit's own pid namespace.
	proc bool
	// cg is the run's own cgroup; nil without one.
	cg *cgroup.Run
	// killer names the killer chosen (see Mode.Killer).
	killer string
	// fewFiles: RLIMIT_NOFILE is below minFiles (see checkFileLimit).
	fewFiles bool
}

func (su *setup) mode() Mode {
	m := Mode{Pid1: su.pid1, Pidfd: su.pidfds, Killer: su.killer, Proc: su.proc}
	if su.cg != nil {
		m.Cgroup = su.cg.Path()
	}
	return m
}

// minFiles is the descriptor limit below which tinit does without the
// descriptors it can go without. Beside 0, 1 and 2, a spawn needs two for
// the exec-error pipe (so 5 is the least that can run anything), the Go
// runtime two for its poller once the first timer is set, a walk of /proc
// two or three at a time (the directory, a stat file, a pidfd), a pidfd
// the main child's, a cgroup two.
const minFiles = 16

// checkFileLimit degrades to pids and no cgroup where RLIMIT_NOFILE leaves
// too few descriptors for them, rather than failing the spawn. (The Go
// runtime has raised the soft limit to the hard one already.)
func (s *supervisor) checkFileLimit() {
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &rl) != nil || rl.Cur >= minFiles {
		return
	}
	err := fmt.Errorf("RLIMIT_NOFILE is %d", rl.Cur)
	s.rec.fallback("descriptors", err)
	s.log.Warn().Err(err).Msg("few descriptors allowed; running without pidfds and without a cgroup")
	s.setup.pidfds, s.setup.fewFiles = false, true
	s.cfg.NoCgroup = true
}

// freeStdio closes, where descriptors are scarce, tinit's own copies of
// stdin (unless a terminal, which job control needs) and stdout once the
// child holds its copies: tinit writes its log to stderr only, and the two
// numbers are what a walk of /proc needs under a limit of 5 or 6.
func (s *supervisor) freeStdio() {
	if !s.setup.fewFiles {
		return
	}
	fds := []int{1}
	if _, err := unix.IoctlGetTermios(0, unix.TCGETS); err != nil {
		fds = append(fds, 0)
	}
	for _, fd := range fds {
		if err := s.fds.Close(s.fds.Adopt(fd, "tinit's own copy of fd "+strconv.Itoa(fd))); err != nil {
			s.log.Debug().Err(err).Int("fd", fd).Msg("closing tinit's copy")
		}
	}
}

// makeCgroup gives a subreaper's run a cgroup of its own where a writable
// cgroup v2 directory allows, and returns its descriptor for the spawn
// (-1 for none). As PID 1, kill(-1) already reaches everything, so no
// cgroup is made.
func (s *supervisor) makeCgroup() (fd int) {
	if s.setup.pid1 || s.cfg.NoCgroup || s.cfg.LeaveLeftovers {
		return -1
	}
	cg, err := s.newCgroup()
	if err != nil {
		s.rec.fallback("cgroup", err)
		s.log.Info().Err(err).Msg("no cgroup for this run; leftovers are found by walking /proc")
		return -1
	}
	fd, err = cg.Fd()
	if err != nil {
		cg.Remove()
		return -1
	}
	s.setup.cg = cg
	return fd
}

func (s *supervisor) newCgroup() (*cgroup.Run, error) {
	parent, err := cgroup.Parent(s.proc)
	if err != nil {
		return nil, err
	}
	owner, err := cgroup.Self(s.proc)
	if err != nil {
		return nil, err
	}
	return cgroup.Create(s.fds, parent, owner)
}

// dropCgroup removes the run's cgroup when the child could not be cloned
// into it (why is nil when the spawn failed altogether).
func (s *supervisor) dropCgroup(why error) {
	cg := s.setup.cg
	if cg == nil {
		return
	}
	if why != nil {
		s.rec.fallback("cgroup", why)
		s.log.Warn().Err(why).Msg("cannot clone into a cgroup; leftovers are found by walking /proc")
	}
	if err := cg.Remove(); err != nil {
		s.log.Warn().Err(err).Str("dir", cg.Path()).Msg("removing the run's cgroup")
	}
	s.setup.cg = nil
}

// cleanStale removes the cgroups of earlier runs whose tinit was killed
// before it could (at most staleMax per run, so that a host littered with
// them costs each run little). Proving a maker dead takes /proc of the pid
// namespace it ran in (see cgroup.Owner).
func (s *supervisor) cleanStale() {
	if s.setup.cg == nil || !s.setup.proc {
		return
	}
	removed, err := s.setup.cg.CleanStale(s.proc, staleMax)
	if len(removed) > 0 {
		s.log.Info().Str("removed", strings.Join(removed, " ")).Msg("removed cgroups of earlier runs")
	}
	if err != nil {
		s.log.Debug().Err(err).Msg("cgroups of earlier runs left")
	}
}

const staleMax = 64

// trackPidfd registers the main child's pidfd, the moment it exists; why
// says why there is none, when the spawn had to do without.
func (s *supervisor) trackPidfd(fd int, why error) {
	if fd < 0 {
		if s.setup.pidfds {
			if why == nil {
				why = errors.New("clone did not return a pidfd")
			}
			s.fallBack(fmt.Errorf("clone with CLONE_PIDFD: %w", why))
		}
		return
	}
	tok, err := s.fds.Track(fd, "pidfd of main child")
	if err != nil {
		s.log.Error().Err(err).Msg("cannot register the main child's pidfd")
		s.fallBack(err)
		return
	}
	s.child.pidfd = tok
}

// probePidfd finds out, once, whether pidfds can be used here; if not,
// tinit falls back as a whole to pids.
func (s *supervisor) probePidfd() {
	if !s.setup.pidfds {
		if s.cfg.NoPidfd {
			s.log.Info().Msg("pidfds disabled; signalling by pid")
		}
		return
	}
	fd, err := s.fds.Fd(s.child.pidfd)
	if err != nil {
		s.fallBack(err)
		return
	}
	// A child that has exited and been reaped already answers ESRCH: the
	// call itself works.
	if err := unix.PidfdSendSignal(fd, 0, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
		s.fallBack(fmt.Errorf("pidfd_send_signal: %w", err))
		return
	}
	probe, err := s.fds.PidfdOpen(unix.Getpid())
	if err != nil {
		s.fallBack(fmt.Errorf("pidfd_open: %w", err))
		return
	}
	s.fds.Close(probe)
	// Signalling a process group through a pidfd needs Linux 6.9 (before,
	// the flag is EINVAL); keep kill(-pgid) where it is missing.
	err = unix.PidfdSendSignal(fd, 0, nil, unix.PIDFD_SIGNAL_PROCESS_GROUP)
	s.setup.groupByFd = err == nil || errors.Is(err, unix.ESRCH)
}

func (s *supervisor) fallBack(why error) {
	s.rec.fallback("pidfd", why)
	s.log.Warn().Err(why).Msg("pidfds unavailable; falling back to signalling and waiting by pid")
	s.setup.pidfds = false
	if s.child.pidfd.Valid() {
		s.fds.Close(s.child.pidfd)
		s.child.pidfd = fdtrack.Token{}
	}
}

// chooseKiller picks how leftovers are found and signalled: kill(-1) as PID
// 1; otherwise the run's cgroup (with a /proc walk for what left it), or
// the walk alone, or, with neither a cgroup nor a /proc of tinit's pid
// namespace, the main child's process group, all that can be reached then.
func (s *supervisor) chooseKiller() {
	self := unix.Getpid()
	s.setup.proc = s.proc.Ours(self)
	send := &sender{fds: s.fds, pidfds: s.setup.pidfds}
	var walk *walker
	if s.setup.proc {
		send.proc = s.proc
		walk = &walker{proc: s.proc, send: send, self: self}
		s.send = send
	}
	switch {
	case s.setup.pid1:
		b := broadcast{self: self}
		if s.setup.proc {
			b.proc = s.proc
		}
		s.kill, s.setup.killer = b, "kill(-1)"
	case s.setup.cg != nil:
		s.kill, s.setup.killer = cgroupKiller{cg: s.setup.cg, send: send, walk: walk}, "cgroup"
		if !s.setup.proc {
			s.log.Info().Msg("/proc does not show tinit's pid namespace; leftovers are found through the run's cgroup alone")
		}
	case s.setup.proc:
		s.kill, s.setup.killer = walk, "walk"
	default:
		s.rec.fallback("proc", errors.New("/proc does not show tinit's pid namespace"))
		s.log.Warn().Msg("/proc does not show tinit's pid namespace; leftovers outside the main child's process group cannot be found")
		s.kill, s.setup.killer = groupKiller{to: s.child.to}, "group"
	}
}
