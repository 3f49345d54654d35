package subreaper

import (
	"errors"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// phase is where a run is. The loop moves between phases on four events:
// a signal tinit received; the main child's exit (reported by the reaper,
// or recovered by the pidfd watch); the phase's timer; idle, the reaper's
// report that no child is left. "Stop signal" is SIGINT or SIGTERM.
//
//	phase     event                    next      actions
//	running   other signal             running   forward it
//	running   stop signal              stopping  forward it
//	stopping  other signal             stopping  forward it
//	stopping  stop signal              killing   escalate: SIGKILL pass, pass timer
//	running,  exit, children left      draining  SIGTERM and SIGCONT to what is left,
//	stopping                                     grace timer (grace 0: on to killing)
//	running,  exit, no child left      draining  none: idle follows at once
//	stopping
//	draining  timer                    killing   SIGKILL pass, pass timer
//	draining  stop signal              killing   escalate: SIGKILL pass, pass timer
//	draining  other signal, exit       draining  none (a signal is not forwarded)
//	killing   timer, before killWait   killing   SIGKILL pass, pass timer
//	killing   timer, after killWait    done      give up on what is left
//	killing   signal, exit             killing   none
//	any       idle                     done      none
//
// A run that has to end while the main child still runs (a timeout) enters
// draining with the child alive: the SIGTERM, the grace period and the
// SIGKILL passes then cover it as they cover any leftover, and its exit is
// recorded when it comes.
type phase int

const (
	running  phase = iota // main child alive, nothing asked to stop
	stopping              // a stop signal was forwarded; the next one escalates
	draining              // leftovers asked to stop; the grace period runs
	killing               // SIGKILL sent; passes until no child is left
	done                  // the run is over
)

var phaseNames = [...]string{"running", "stopping", "draining", "killing", "done"}

func (p phase) String() string { return phaseNames[p] }

// After SIGKILL, what is left is killed again every killPassEvery (to catch
// processes forked or reparented meanwhile); after killWait tinit gives
// up: a process in uninterruptible sleep, or frozen, cannot die, and tinit
// must not hang on it.
const (
	killPassEvery = 20 * time.Millisecond
	killWait      = time.Second
)

// enter moves the run to p and sets that phase's timer, or clears it.
func (s *supervisor) enter(p phase) {
	s.phase, s.timer = p, nil
	switch p {
	case draining:
		s.timer = s.clock.After(s.cfg.Grace)
	case killing:
		s.killUntil = s.clock.Now().Add(killWait)
		s.timer = s.clock.After(killPassEvery)
	}
}

// loop runs the supervisor until the run is done. Nothing in it exits the
// process: every error is logged and the run goes on to a clean end.
func (s *supervisor) loop() {
	for s.phase != done {
		select {
		case sig := <-s.ev.sigs:
			s.onSignal(sig)
		case ex := <-s.ev.exited:
			s.onExit(ex)
		case <-s.timer:
			s.onTimer()
		case <-s.watch.c:
			s.onWatch()
		case n := <-s.ev.idle:
			s.onIdle(n)
		case <-s.ev.claimed:
			s.log.Debug().Msg("all forwarded signals claimed")
		}
	}
}

func isStop(sig unix.Signal) bool { return sig == unix.SIGINT || sig == unix.SIGTERM }

// onSignal acts on one signal tinit received; every claimed signal is one
// tinit forwards while the main child runs.
func (s *supervisor) onSignal(osig os.Signal) {
	sig, _ := osig.(unix.Signal)
	switch {
	case s.phase == killing:
		s.rec.signal(sig, "dropped", false, nil)
	case isStop(sig) && s.phase != running:
		s.rec.signal(sig, "escalated", false, nil)
		s.settleTerm()
		s.killNow()
	case s.child.ended || s.phase == draining:
		s.rec.signal(sig, "dropped", false, nil)
	default:
		s.forward(sig)
		if isStop(sig) {
			s.enter(stopping)
		}
	}
}

// forward passes sig on to the main child's process group, or to the child
// alone with Config.SingleChild.
func (s *supervisor) forward(sig unix.Signal) {
	group := !s.cfg.SingleChild
	switch err := s.child.to.signal(sig, group); {
	case err == nil:
		s.rec.signal(sig, "forwarded", group, nil)
	case errors.Is(err, unix.ESRCH):
		s.rec.signal(sig, "dropped", group, nil)
	default:
		s.rec.signal(sig, "failed", group, err)
	}
}

// onExit records the main child's end and, unless every process is being
// killed already, asks what is left to stop.
func (s *supervisor) onExit(ex mainExit) {
	if s.child.ended {
		return
	}
	s.child.end(ex.status, ex.known)
	s.watch.stop()
	if ex.known {
		s.rec.exited(&s.child, ex.from, ex.leftovers)
	}
	if s.phase == running || s.phase == stopping {
		s.drain(ex.leftovers)
	}
}

// drain enters draining: SIGTERM and SIGCONT for what is left (a stopped
// process acts on SIGTERM only once continued), the grace period, then
// SIGKILL. With no child left there is nothing to do but wait for the
// reaper's idle.
func (s *supervisor) drain(leftovers bool) {
	if !leftovers {
		s.phase = draining // no timer: idle is on its way
		return
	}
	if s.cfg.Grace <= 0 {
		s.list()
		s.graceOver()
		return
	}
	s.enter(draining)
	if err := s.kill.term(s.found); err != nil {
		s.log.Warn().Err(err).Str("signal", "SIGTERM").Msg("signalling leftovers failed")
	}
	e := s.log.Info().Dur("grace", s.cfg.Grace)
	if n := len(s.rec.rec.Leftovers); !s.setup.pid1 || n > 0 {
		e = e.Int("count", n)
	}
	e.Msg("sent SIGTERM to leftovers")
}

// list names what is left without signalling it (for --grace 0).
func (s *supervisor) list() {
	if procs, err := s.kill.list(); err == nil {
		s.found(procs)
	}
}

// graceOver ends the grace period (at once with --grace 0) with SIGKILL.
func (s *supervisor) graceOver() {
	s.settleTerm()
	s.log.Info().Dur("grace", s.cfg.Grace).Msg("grace period over; sending SIGKILL")
	s.killNow()
}

// settleTerm marks the leftovers that ended during the grace period.
func (s *supervisor) settleTerm() {
	if s.phase == draining {
		s.rec.settle(s.alive, "", "exited after SIGTERM")
	}
}

// killNow enters killing: SIGKILL for every process below tinit now, and
// again every pass until none is left or killWait is over.
func (s *supervisor) killNow() {
	s.enter(killing)
	s.killPass()
}

func (s *supervisor) killPass() {
	s.rec.killPass()
	if err := s.kill.kill(); err != nil {
		s.log.Warn().Err(err).Str("signal", "SIGKILL").Msg("signalling leftovers failed")
	}
}

// onTimer ends the grace period, or runs the next SIGKILL pass, or gives
// up.
func (s *supervisor) onTimer() {
	switch {
	case s.phase == draining:
		s.graceOver()
	case s.phase == killing && s.clock.Now().Before(s.killUntil):
		s.timer = s.clock.After(killPassEvery)
		s.killPass()
	case s.phase == killing:
		s.rec.gaveUp(s.rec.rec.Mode)
		s.phase, s.timer = done, nil
	}
}

// onIdle ends the run: the reaper has no child left, so no descendant is
// left either (an orphan comes to tinit only from one of them).
func (s *supervisor) onIdle(reaped uint64) {
	s.reaped, s.idle = reaped, true
	s.phase, s.timer = done, nil
	s.log.Info().Uint64("reaped", reaped).Msg("no descendants left")
}
