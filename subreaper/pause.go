package subreaper

import (
	"errors"
	"os/signal"

	"github.com/rs/zerolog"
	"github.com/tinit-dev/tinit/signals"
	"golang.org/x/sys/unix"
)

// Pause runs no command: it reaps whatever comes to tinit until SIGINT or
// SIGTERM, then returns. It is catatonit's pause mode (-P), which podman
// runs as the infra container of a pod: PID 1 of the pod's shared pid
// namespace, holding the namespaces open and reaping the orphans of the
// pod's other containers. Every other signal is ignored. Outside PID 1 it
// becomes a child subreaper first.
//
// Here, with no main child to wait for, the reaper would find no child and
// stop; so tinit takes SIGCHLD instead and reaps what is ready on each.
//
// early is the claim of the early signals begun by the caller, whose
// channel holds what arrived meanwhile; nil, Pause begins it.
func Pause(log zerolog.Logger, early *signals.Early) error {
	log = log.With().Str("component", "subreaper").Logger()
	early = early.OrStart()
	early.Wait()
	sigs := early.C()
	signals.ClaimLate(sigs, nil)
	signal.Notify(sigs, unix.SIGCHLD)
	if err := signals.AfterSpawn(nil); err != nil {
		log.Warn().Err(err).Msg("cannot ignore signals tinit does not forward")
	}
	if unix.Getpid() != 1 {
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			return err
		}
	}
	log.Info().Msg("pausing until SIGINT or SIGTERM")
	reapReady(log)
	for sig := range sigs {
		switch sig {
		case unix.SIGINT, unix.SIGTERM:
			log.Info().Str("signal", signals.Name(sig.(unix.Signal))).Msg("pause over")
			return nil
		case unix.SIGCHLD:
			reapReady(log)
		default:
			log.Debug().Str("signal", signals.Name(sig.(unix.Signal))).Msg("signal ignored in pause mode")
		}
	}
	return nil
}

// reapReady reaps every child that has exited, without waiting.
func reapReady(log zerolog.Logger) {
	var ws unix.WaitStatus
	for {
		pid, err := unix.Wait4(-1, &ws, unix.WALL|unix.WNOHANG, nil)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil || pid <= 0:
			return
		}
		log.Debug().Int("pid", pid).Int("status", int(ws)).Msg("reaped")
	}
}
