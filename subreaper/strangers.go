package subreaper

import "time"

// Without the subreaper attribute (Config.NoSubreaper, tini's default
// outside PID 1), what the command leaves behind is reparented elsewhere:
// tinit's reaper runs out of children while the run's cgroup may still hold
// processes. Those are the run's leftovers too; they are ended through the
// cgroup, and the run is over once the cgroup is empty.

// strangerPollEvery is how often the cgroup is read while only processes
// that are not tinit's children are left.
const strangerPollEvery = 10 * time.Millisecond

// strangersLeft reports whether processes that are not tinit's children are
// left in the run's cgroup, and if so makes sure they are being ended and
// starts polling for the cgroup to empty.
func (s *supervisor) strangersLeft() bool {
	if !s.cfg.NoSubreaper || s.cfg.LeaveLeftovers || s.setup.cg == nil || !s.child.ended {
		return false
	}
	if procs, err := s.setup.cg.Procs(); err != nil || len(procs) == 0 {
		return false
	}
	if !s.termSent && s.phase == draining && s.timer == nil {
		s.drain(true) // the main child's exit found no children to end
	}
	s.poll = s.clock.After(strangerPollEvery)
	return true
}

// onPoll ends the run once the cgroup is empty.
func (s *supervisor) onPoll() {
	s.poll = nil
	if s.phase == done || s.strangersLeft() {
		return
	}
	s.settleTerm()
	s.over()
}
