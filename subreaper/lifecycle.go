package subreaper

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/tinit-dev/tinit/internal/diagnose"
	"github.com/tinit-dev/tinit/internal/procfs"

	"github.com/tinit-dev/tinit/signals"
	"golang.org/x/sys/unix"
)

// phase is where a run is. The loop moves between phases on these events:
// a signal tinit received; the main child's exit (reported by the reaper,
// or recovered by the pidfd watch); the phase's timer; the run's timeout;
// idle, the reaper's report that no child is left. "Stop signal" is SIGINT
// or SIGTERM.
//
//	phase     event                    next      actions
//	running   other signal             running   forward it
//	running   stop signal              stopping  diagnose (with DiagnoseOnStop), forward it
//	stopping  other signal             stopping  forward it
//	stopping  stop signal              killing   escalate: SIGKILL pass, pass timer
//	running,  exit, children left      draining  SIGTERM and SIGCONT to what is left,
//	stopping                                     grace timer (grace 0: on to killing)
//	running,  exit, no child left      draining  none: idle follows at once
//	stopping
//	running,  timeout                  quitting  diagnose; SIGQUIT to each Go program,
//	stopping                                     quit timer (none: on to draining)
//	running,  timeout, TimeoutSignal   draining  diagnose; TimeoutSignal and SIGCONT to
//	stopping                                     the whole tree, grace timer
//	quitting  timer                    draining  SIGTERM and SIGCONT to the whole tree,
//	                                             grace timer
//	quitting  stop signal              killing   escalate
//	draining  timer                    killing   SIGKILL pass, pass timer
//	draining  stop signal              killing   escalate: SIGKILL pass, pass timer
//	draining, other signal, exit       same      none (a signal is not forwarded)
//	quitting
//	killing   timer, before killWait   killing   SIGKILL pass, pass timer
//	killing   timer, after killWait    done      give up on what is left
//	killing   signal, exit             killing   none
//	any       idle                     done      none
//
// A timeout drains with the main child alive: the signals, the grace
// period and the SIGKILL passes cover it as they cover any leftover, and
// its exit is recorded when it comes.
type phase int

const (
	running  phase = iota // main child alive, nothing asked to stop
	stopping              // a stop signal was forwarded; the next one escalates
	quitting              // timed out: Go programs dump their goroutines
	draining              // leftovers asked to stop; the grace period runs
	killing               // SIGKILL sent; passes until no child is left
	done                  // the run is over
)

var phaseNames = [...]string{"running", "stopping", "quitting", "draining", "killing", "done"}

func (p phase) String() string { return phaseNames[p] }

// After SIGKILL, what is left is killed again every killPassEvery (to catch
// processes forked or reparented meanwhile); after killWait tinit gives
// up: a process in uninterruptible sleep, or frozen, cannot die, and tinit
// must not hang on it.
const (
	killPassEvery = 20 * time.Millisecond
	killWait      = time.Second
)

// quitWait is how long Go programs get to dump their goroutines after a
// timeout's SIGQUIT before the tree gets SIGTERM (a SIGTERM in the middle
// of a dump would cut it short).
const quitWait = time.Second

// enter moves the run to p and sets that phase's timer, or clears it.
func (s *supervisor) enter(p phase) {
	s.phase, s.timer = p, nil
	switch p {
	case quitting:
		s.timer = s.clock.After(quitWait)
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
		case <-s.deadline:
			s.onTimeout()
		case <-s.stall.c:
			s.onStallTick()
		case n := <-s.ev.idle:
			s.onIdle(n)
		case <-s.poll:
			s.onPoll()
		case sig := <-s.ev.stopped:
			s.onStopped(sig)
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
	case s.handoffSignal(sig):
		s.rec.signal(sig, "dropped", false, nil)
	case s.phase == killing:
		s.rec.signal(sig, "dropped", false, nil)
	case isStop(sig) && s.phase != running:
		s.rec.signal(sig, "escalated", false, nil)
		s.settleTerm()
		s.killNow()
	case s.child.ended || s.phase == draining || s.phase == quitting:
		s.rec.signal(sig, "dropped", false, nil)
	case s.keyToCommand(sig):
	default:
		if isStop(sig) && s.cfg.DiagnoseOnStop {
			s.diagnose("stop signal " + unix.SignalName(sig))
		}
		if sig == unix.SIGCONT {
			s.resumed()
		}
		s.forward(sig)
		if isStop(sig) {
			s.enter(stopping)
		}
		if s.cfg.SuspendOnJobSignals && isJobSignal(sig) {
			// As dumb-init: the job signal is passed on (as SIGSTOP in
			// its setsid mode), then tinit stops until continued.
			s.log.Debug().Str("signal", signals.Name(sig)).Msg("suspending tinit after a job-control signal")
			unix.Kill(unix.Getpid(), unix.SIGSTOP)
		}
	}
}

func isJobSignal(sig unix.Signal) bool {
	return sig == unix.SIGTSTP || sig == unix.SIGTTIN || sig == unix.SIGTTOU
}

// forward passes sig on, or what Config.Rewrite makes of it, to the main
// child's process group, or to the child alone with Config.SingleChild.
func (s *supervisor) forward(sig unix.Signal) {
	group := !s.cfg.SingleChild
	as, rewritten := s.cfg.Rewrite[sig]
	if !rewritten {
		as = sig
	}
	if as == 0 {
		s.rec.signal(sig, "dropped", group, nil)
		return
	}
	switch err := s.child.to.signal(as, group); {
	case err == nil:
		s.rec.rewritten(sig, as, "forwarded", group, nil)
	case errors.Is(err, unix.ESRCH):
		s.rec.rewritten(sig, as, "dropped", group, nil)
	default:
		s.rec.rewritten(sig, as, "failed", group, err)
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
	s.deadline = nil
	if ex.known {
		s.rec.exited(&s.child, ex.from, ex.leftovers)
	}
	switch {
	case (s.phase == running || s.phase == stopping) && s.cfg.LeaveLeftovers:
		s.leave()
	case s.phase == running || s.phase == stopping:
		s.drain(ex.leftovers)
	case s.phase == quitting:
		// Timed out, and the main child is done dumping or dying: on
		// to the tree's SIGTERM without waiting for the rest of quitWait.
		s.drainWith(unix.SIGTERM)
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
	s.drainWith(s.drainSignal())
}

// drainSignal is SIGTERM, or what Config.Rewrite makes of it: dumb-init
// sends what SIGTERM is rewritten to when its child exits.
func (s *supervisor) drainSignal() unix.Signal {
	if as := s.cfg.Rewrite[unix.SIGTERM]; as != 0 {
		return as
	}
	return unix.SIGTERM
}

// leave ends the run at the main child's exit, leaving what is left alone
// (Config.LeaveLeftovers) but for Config.ExitSignal.
func (s *supervisor) leave() {
	if sig := s.cfg.ExitSignal; sig != 0 {
		var err error
		if s.cfg.SingleChild {
			err = s.child.to.signal(sig, false)
		} else {
			err = s.child.to.leftoverGroup(sig)
		}
		if err != nil && !errors.Is(err, unix.ESRCH) {
			s.log.Warn().Err(err).Str("signal", signals.Name(sig)).Msg("signalling leftovers failed")
		}
	}
	s.log.Info().Msg("leaving what the command left behind, as asked")
	s.phase, s.timer = done, nil
}

// drainWith enters draining with sig (see term). The grace period begins
// once the signals are sent: describing a thousand leftovers first takes
// about 0.1 s (measured), which must not come off the time they get.
func (s *supervisor) drainWith(sig unix.Signal) {
	s.term(sig)
	s.enter(draining)
}

// term describes what is left, then sends it sig and SIGCONT.
func (s *supervisor) term(sig unix.Signal) {
	s.describeLeftovers()
	s.termSent = true
	if err := s.kill.term(sig, s.found); err != nil {
		s.log.Warn().Err(err).Str("signal", signals.Name(sig)).Msg("signalling leftovers failed")
	}
	e := s.log.Info().Dur("grace", s.cfg.Grace)
	if n := len(s.rec.rec.Leftovers); !s.setup.pid1 || n > 0 {
		e = e.Int("count", n)
	}
	switch {
	case s.rec.rec.Timeout != nil && sig != unix.SIGTERM:
		e.Str("signal", signals.Name(sig)).Msg("sent the timeout signal to every process")
	case sig != unix.SIGTERM:
		e.Str("signal", signals.Name(sig)).Msg("sent SIGTERM, as rewritten, to leftovers")
	default:
		e.Msg("sent SIGTERM to leftovers")
	}
}

// list names what is left without signalling it (for --grace 0).
func (s *supervisor) list() {
	s.describeLeftovers()
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
//
// killWait and the pass timer run from the end of the first pass: one that
// takes longer (a fork bomb's walk) still gets the passes after it, which
// find what it could not.
func (s *supervisor) killNow() {
	s.killPass()
	s.enter(killing)
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
	case s.phase == quitting:
		s.drainWith(unix.SIGTERM)
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
	if s.strangersLeft() {
		return
	}
	s.over()
}

// over ends the run: nothing of it is left.
func (s *supervisor) over() {
	s.phase, s.timer, s.poll = done, nil, nil
	s.log.Info().Uint64("reaped", s.reaped).Msg("no descendants left")
}

// onTimeout ends a run whose main child ran past Config.Timeout: a
// diagnosis, then by default SIGQUIT to every Go program in the tree, so
// that a hanging test binary prints its goroutines before anything dies,
// and after quitWait (or at once, with no Go program) the drain, the main
// child included. With Config.TimeoutSignal the tree gets that signal
// instead, and the grace period runs from it.
func (s *supervisor) onTimeout() {
	s.deadline = nil
	if s.phase != running && s.phase != stopping {
		return
	}
	d := s.diagnose(fmt.Sprintf("timeout after %v", s.cfg.Timeout))
	s.rec.timedOut(s.cfg.Timeout, s.cfg.TimeoutSignal)
	if s.cfg.TimeoutSignal != 0 {
		s.drainWith(s.cfg.TimeoutSignal)
		return
	}
	if n := s.quitGoPrograms(d); n > 0 {
		s.enter(quitting)
		return
	}
	s.drainWith(unix.SIGTERM)
}

// quitGoPrograms sends SIGQUIT to the Go programs of a diagnosis that
// should dump their goroutines, and returns how many it reached: Go test
// binaries, and Go programs that start no other Go program. A Go program
// that runs others (cmd/go running a test binary, gotestsum running cmd/go)
// is left alone: it would exit on SIGQUIT, or stop reading its children's
// output, and the dump of the test binary would be lost with it.
func (s *supervisor) quitGoPrograms(d *diagnose.Diagnosis) int {
	if d == nil || s.send == nil {
		return 0
	}
	n := 0
	for _, p := range quitTargets(d.Processes) {
		if _, ok := s.send.listed(procfs.Stat{Pid: p.Pid, Start: p.Start()}, unix.SIGQUIT); ok {
			n++
		}
	}
	if n > 0 {
		s.log.Info().Int("count", n).Msg("sent SIGQUIT to Go programs for their goroutine dumps")
	}
	return n
}

// quitTargets picks, from a tree, the Go programs to SIGQUIT (see
// quitGoPrograms).
func quitTargets(procs []diagnose.Process) []diagnose.Process {
	runsGo := map[int]bool{} // Go programs with a Go program below them
	byPid := map[int]diagnose.Process{}
	for _, p := range procs {
		byPid[p.Pid] = p
	}
	for _, p := range procs {
		if !p.Go {
			continue
		}
		seen := map[int]bool{p.Pid: true}
		for a, ok := byPid[p.PPid]; ok && !seen[a.Pid]; a, ok = byPid[a.PPid] {
			seen[a.Pid] = true
			if a.Go {
				runsGo[a.Pid] = true
			}
		}
	}
	var out []diagnose.Process
	for _, p := range procs {
		if p.Go && p.State != "Z" && (p.GoTest || !runsGo[p.Pid]) {
			out = append(out, p)
		}
	}
	return out
}
