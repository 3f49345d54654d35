package subreaper

import (
	"slices"

	"github.com/tinit-dev/tinit/signals"
	"golang.org/x/sys/unix"
)

// Terminal job control. A shell runs `tinit -- go test ./...` as a job: the
// job's process group, tinit's, has the terminal's foreground. tinit hands
// the foreground on to the main child's group (spawn's foreground), so that
// the keys reach the command: Ctrl-C's SIGINT goes to the command directly.
// Ctrl-Z's SIGTSTP goes there too, and stops the command alone; the shell,
// which waits for its job, tinit, would never get the terminal back. So
// when the main child stops, tinit takes the foreground back and stops its
// own process group, the shell's job, with SIGSTOP; the shell sees its job
// stopped and prints its prompt. `fg` gives tinit's group the foreground and
// sends it SIGCONT, which tinit forwards after handing the foreground to the
// child again; `bg` sends SIGCONT alone, and the command goes on in the
// background (and stops again, with tinit after it, if it reads the
// terminal).
//
// A job is suspended only when someone can continue it: a parent in
// another process group of the same session, a job-control shell. Without
// one (tinit leads the session, as `docker run -it` makes PID 1, or its
// parent is outside it, as with script(1)) the kernel would have dropped
// the terminal's SIGTSTP to tinit's orphaned group; tinit drops it the same
// way, continuing the command, so that Ctrl-Z cannot hang the run. A
// command stopped by SIGSTOP, which no terminal sends, stays stopped.
//
// Under dumb-init's personality (Setsid) none of this applies: the child
// leads a session of its own and tinit does what dumb-init does (see
// onSignal).
type terminal struct {
	// foreground: the main child's group was given the terminal's
	// foreground when it was spawned.
	foreground bool
	// ctty: the child, leader of a new session, takes stdin as its
	// controlling terminal (tinit gave it up, see handOff).
	ctty bool
	// suspended: tinit stopped its job after the command stopped; the
	// SIGCONT that continues tinit continues the command's whole group.
	suspended bool
	// ignoreHup and ignoreCont swallow the SIGHUP and SIGCONT the kernel
	// sends when a session leader gives up its terminal.
	ignoreHup, ignoreCont bool
}

// prepareTerminal decides, before the spawn, who gets the terminal.
func (s *supervisor) prepareTerminal() {
	if !s.cfg.Setsid {
		s.tty.foreground = ownsTerminal()
		return
	}
	s.handOff()
}

// handOff gives up tinit's controlling terminal for a child in a session
// of its own, as dumb-init does: TIOCNOTTY detaches tinit from it, and when
// tinit led the terminal's session (`docker run -t`) the terminal is free
// for the child to take, and the kernel sends the foreground group a SIGHUP
// and a SIGCONT that are not for the command.
func (s *supervisor) handOff() {
	if _, err := unix.IoctlGetTermios(0, unix.TCGETS); err != nil {
		return
	}
	sid, err := unix.Getsid(0)
	leader := err == nil && sid == unix.Getpid()
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, 0, unix.TIOCNOTTY, 0); errno != 0 {
		s.log.Debug().Err(errno).Msg("cannot give up the controlling terminal")
		return
	}
	if leader {
		s.tty.ctty, s.tty.ignoreHup, s.tty.ignoreCont = true, true, true
	}
}

// handoffSignal reports whether sig is the kernel's SIGHUP or SIGCONT of
// the hand-off, the first of each, which is dropped.
func (s *supervisor) handoffSignal(sig unix.Signal) bool {
	switch {
	case sig == unix.SIGHUP && s.tty.ignoreHup:
		s.tty.ignoreHup = false
		return true
	case sig == unix.SIGCONT && s.tty.ignoreCont:
		s.tty.ignoreCont = false
		return true
	}
	return false
}

// onStopped acts on the main child's stop (see above).
func (s *supervisor) onStopped(sig unix.Signal) {
	if !s.tty.foreground || s.child.ended || s.phase != running && s.phase != stopping {
		return
	}
	if !s.jobShellAbove() {
		if sig == unix.SIGSTOP {
			return
		}
		s.log.Info().Str("signal", signals.Name(sig)).Msg("the command stopped with no job-control shell above tinit; continuing it")
		s.child.to.signal(unix.SIGCONT, true)
		return
	}
	// tinit ignores SIGTTOU, so it may take the foreground back from the
	// background.
	if err := unix.IoctlSetPointerInt(0, unix.TIOCSPGRP, unix.Getpgrp()); err != nil {
		s.log.Debug().Err(err).Msg("cannot take the terminal back")
	}
	s.log.Info().Str("signal", signals.Name(sig)).Msg("the command stopped; suspending tinit's job")
	s.tty.suspended = true
	if err := unix.Kill(0, unix.SIGSTOP); err != nil {
		s.log.Warn().Err(err).Msg("cannot suspend tinit's job")
	}
}

// resumed gives the main child's group the foreground again when tinit is
// continued in the foreground (`fg`); SIGCONT is forwarded after it. The
// terminal stopped the whole group of the command, not the command alone:
// after a suspension, the whole group is continued, whatever
// Config.SingleChild says.
func (s *supervisor) resumed() {
	if !s.tty.foreground || s.child.ended {
		return
	}
	if s.tty.suspended {
		s.tty.suspended = false
		defer s.child.to.signal(unix.SIGCONT, true)
	}
	fg, err := unix.IoctlGetInt(0, unix.TIOCGPGRP)
	if err != nil || fg != unix.Getpgrp() {
		return // `bg`, or somebody else's SIGCONT
	}
	if err := unix.IoctlSetPointerInt(0, unix.TIOCSPGRP, s.child.pid); err != nil {
		s.log.Debug().Err(err).Msg("cannot give the terminal to the command")
	}
}

// jobShellAbove reports whether tinit's process group has a parent in
// another group of the same session: the group is not orphaned, and the
// parent, a job-control shell, can continue it. The ancestors in tinit's
// own group (a `sh -c` that runs tinit without job control) are passed
// through.
func (s *supervisor) jobShellAbove() bool {
	if s.setup.pid1 {
		return false
	}
	pgrp := unix.Getpgrp()
	sid, err := unix.Getsid(0)
	if err != nil {
		return false
	}
	p := unix.Getppid()
	for range 64 {
		pg, err := unix.Getpgid(p)
		if err != nil || p <= 0 {
			return false
		}
		if pg != pgrp {
			ps, err := unix.Getsid(p)
			return err == nil && ps == sid
		}
		st, err := s.proc.Stat(p) // up through tinit's own group
		if err != nil {
			return false
		}
		p = st.PPid
	}
	return false
}

// extraSignals are the signals of Config.Forward tinit can forward (see
// signals.Forwardable).
func (s *supervisor) extraSignals() []unix.Signal {
	var extra []unix.Signal
	for _, sig := range s.cfg.Forward {
		if slices.Contains(signals.Forwardable[:], sig) {
			extra = append(extra, sig)
		}
	}
	return extra
}

// keyToCommand handles a Ctrl-Z that reached tinit instead of the command:
// the shell gave tinit's group the terminal without a SIGCONT (`fg` of a
// job running in the background). The command gets the terminal back and
// its whole group the SIGTSTP, as if the key had reached it, whatever the
// personality's rewrites say; the command's stop then suspends the run as
// usual.
func (s *supervisor) keyToCommand(sig unix.Signal) bool {
	if sig != unix.SIGTSTP || !s.tty.foreground || s.child.ended {
		return false
	}
	fg, err := unix.IoctlGetInt(0, unix.TIOCGPGRP)
	if err != nil || fg != unix.Getpgrp() {
		return false
	}
	if err := unix.IoctlSetPointerInt(0, unix.TIOCSPGRP, s.child.pid); err != nil {
		return false
	}
	s.rec.signal(sig, "forwarded", true, s.child.to.signal(sig, true))
	return true
}
