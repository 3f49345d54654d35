package subreaper

import (
	"errors"
	"runtime"
	"strconv"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

// yieldEvery bounds how long the reaper goroutine runs without passing
// through the Go scheduler. The runtime's monitor thread treats a goroutine
// that has not been rescheduled for 10ms as hogging its processor and, when
// that goroutine is in a system call, takes the processor away on every
// tick; each wait4 return then costs a slow re-acquire. Measured on orphan
// storms: about 36 µs of CPU per orphan without the yield, against 11 to
// 14 µs for tini-static. Each yield wakes a second thread for a moment, so
// it should be rare but safely under 10ms: every 5 ms cost 11.5 µs per
// orphan in a dense storm and 16 to 18 µs in a sparse one (an orphan every
// 1.4 ms), every 8 ms 11.1 and 15 to 16 µs.
const yieldEvery = 8 * time.Millisecond

// mainExit is the main child's end, as the reaper reports it (or the pidfd
// watch recovers it).
type mainExit struct {
	status unix.WaitStatus
	known  bool   // false: the status was lost
	from   string // "reaper" or "pidfd"
	// leftovers is true when tinit may still have children after the main
	// child and the zombies ready at that moment (up to drainMax) were
	// reaped; false means it had none left.
	leftovers bool
}

// reaper is the only code in tinit that reaps children: nothing else may
// call wait4, waitid without WNOWAIT, or os.Process.Wait, or it would steal
// exit statuses (syscall.ForkExec waits for a child whose exec failed, but
// spawning is over before the reaper starts; the loop's waitid peeks use
// WNOWAIT and reap nothing).
//
// It blocks in wait4(-1) on its own goroutine instead of draining on each
// SIGCHLD: a blocked wait4 is woken by the kernel for every child that
// exits, so no notification can be lost or coalesced, and with SIGCHLD at
// SIG_DFL no signal handler runs per child. It owns nothing and shares
// nothing: it reports two events to the supervisor, the main child's
// status, and, as its last act, how many children it reaped once none is
// left.
type reaper struct {
	main   int
	exited chan<- mainExit
	idle   chan<- uint64
	// stopped hears of the main child's stops (for job control); a stop
	// that finds it full is dropped, as one is pending already.
	stopped chan<- unix.Signal
	// logReaped: log every child reaped other than the main one, at
	// warning level (tini's -w).
	logReaped bool
	log       zerolog.Logger
	reaped    uint64
}

func (r *reaper) run() {
	var ws unix.WaitStatus
	lastYield := time.Now()
	for {
		pid, err := unix.Wait4(-1, &ws, unix.WALL|unix.WUNTRACED, nil)
		switch {
		case err == nil:
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.ECHILD):
			// No children at all: no descendants either, since an orphan
			// is reparented to us only from one of our descendants.
			r.idle <- r.reaped
			return
		default:
			r.log.Error().Err(err).Msg("wait4 failed")
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if ws.Stopped() {
			if pid == r.main {
				select {
				case r.stopped <- ws.StopSignal():
				default:
				}
			}
			continue
		}
		r.reaped++
		switch {
		case pid == r.main:
			r.exited <- mainExit{status: ws, known: true, from: "reaper", leftovers: r.drain()}
		case r.logReaped:
			// tini's words, which scripts grep for.
			r.log.Warn().Msg("Reaped zombie process with pid=" + strconv.Itoa(pid))
		default:
			if e := r.log.Debug(); e.Enabled() {
				e.Int("pid", pid).Int("status", int(ws)).Msg("reaped")
			}
		}
		if now := time.Now(); now.Sub(lastYield) > yieldEvery {
			runtime.Gosched()
			lastYield = now
		}
	}
}

// drainMax bounds drain: in an orphan storm zombies may keep coming, and
// the main child's status must not wait for the storm to end.
const drainMax = 64

// drain reaps the zombies that are ready without blocking, up to drainMax,
// and reports whether children may remain afterwards.
func (r *reaper) drain() bool {
	var ws unix.WaitStatus
	for range drainMax {
		pid, err := unix.Wait4(-1, &ws, unix.WALL|unix.WNOHANG, nil)
		switch {
		case errors.Is(err, unix.EINTR):
		case errors.Is(err, unix.ECHILD):
			return false
		case err != nil:
			r.log.Error().Err(err).Msg("wait4 failed")
			return true
		case pid == 0:
			return true
		default:
			r.reaped++
			if r.logReaped {
				r.log.Warn().Msg("Reaped zombie process with pid=" + strconv.Itoa(pid))
			}
		}
	}
	return true
}
