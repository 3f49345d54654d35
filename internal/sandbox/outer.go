package sandbox

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/rs/zerolog"
	"github.com/tinit-dev/tinit/fdtrack"
	"github.com/tinit-dev/tinit/internal/cgroup"
	"github.com/tinit-dev/tinit/internal/procfs"
	"github.com/tinit-dev/tinit/signals"
	"golang.org/x/sys/unix"
)

// Outer says how the outer tinit runs a sandbox.
type Outer struct {
	Spec Spec
	// Path, Argv and Env start the inner tinit; Argv gets the number of
	// its end of the channel appended.
	Path string
	Argv []string
	Env  []string
	// Config is what the inner one reads from the channel first.
	Config []byte
	// NoCgroup keeps the sandbox out of a cgroup of its own.
	NoCgroup bool
	Log      zerolog.Logger
	// Early is the claim of the stop signals begun by the caller
	// (signals.StartEarly), whose channel holds what arrived meanwhile;
	// nil, Run begins it.
	Early *signals.Early
}

// Result is how a sandbox ended, as the outer tinit saw it.
type Result struct {
	// Status is the inner tinit's wait status.
	Status unix.WaitStatus
	// Record is what the inner tinit sent at the end of its run; nil when
	// it sent nothing (it was killed, or failed before its run).
	Record []byte
	Cgroup CgroupReport
}

// CgroupReport is what the sandbox's own cgroup saw.
type CgroupReport struct {
	// Path is its directory, "" without one.
	Path string `json:"path,omitempty"`
	// PeakPids and PeakMemory are the most processes, and bytes of
	// memory, the run used at once; nil where the controller is missing.
	PeakPids   *int64 `json:"peak_pids,omitempty"`
	PeakMemory *int64 `json:"peak_memory_bytes,omitempty"`
	// Missing says why the cgroup or a peak is missing.
	Missing []string `json:"missing,omitempty"`
}

// recordWait bounds the wait for the inner tinit's record once it has
// exited: its end of the channel closes with it.
const recordWait = time.Second

// Run starts the inner tinit and stays its parent until it exits: it
// forwards every signal tinit forwards, kills the inner one (and with it
// the whole sandbox) if the outer's own parent dies, and then ends and
// removes the sandbox's cgroup. It is the only code that waits for the
// inner tinit. An error means the inner one never ran (a *NamespaceError
// when the kernel refused the namespaces).
func (o Outer) Run() (Result, error) {
	var res Result
	o.Early = o.Early.OrStart()
	// Claimed before anything needs undoing: from here on a stop signal
	// is held until the inner tinit is ready, then passed on, and the
	// sandbox ends as a run does (its cgroup removed, its report written).
	o.Early.Wait()
	parentGone, err := o.prepare()
	if err != nil {
		return res, err
	}
	outerEnd, innerEnd, err := Pair()
	if err != nil {
		return res, err
	}
	defer unix.Close(outerEnd)
	st := Start{Spec: o.Spec, Path: o.Path, Argv: append(o.Argv, fmt.Sprint(innerEnd)), Env: o.Env,
		Keep: innerEnd, CgroupFd: -1, Foreground: ownsTerminal()}
	in, cg, err := o.clone(st, &res.Cgroup)
	unix.Close(innerEnd)
	if err != nil {
		return res, err
	}
	if in.Pidfd >= 0 {
		defer unix.Close(in.Pidfd)
	}
	sigs := o.Early.C()
	if err := Send(outerEnd, o.Config); err != nil {
		o.Log.Warn().Err(err).Msg("cannot send the sandbox its configuration")
	}
	go signals.ClaimLate(sigs, nil)
	if err := signals.AfterSpawn(nil); err != nil {
		o.Log.Warn().Err(err).Msg("cannot ignore signals tinit does not forward")
	}
	res.Status, res.Record = supervise(in, outerEnd, sigs, parentGone, o.Log)
	if st.Foreground {
		// The shell that started tinit expects its group in the
		// foreground again (SIGTTOU is ignored by now).
		unix.IoctlSetPointerInt(0, unix.TIOCSPGRP, unix.Getpgrp())
	}
	if cg != nil {
		o.endCgroup(cg, &res.Cgroup)
	}
	return res, nil
}

// prepare does what must precede the clone: the watch on tinit's parent,
// and the signal dispositions the inner tinit inherits.
func (o Outer) prepare() (<-chan struct{}, error) {
	parentGone, err := watchParent()
	if err != nil {
		return nil, err
	}
	if err := signals.DefaultSIGCHLD(); err != nil {
		o.Log.Warn().Err(err).Msg("cannot set SIGCHLD to its default; a SIGCHLD handler will run per child")
	}
	if err := signals.BeforeSpawn(); err != nil {
		o.Log.Warn().Err(err).Msg("cannot reset signal dispositions for the child")
	}
	return parentGone, nil
}

// clone makes the sandbox's cgroup, where one can be made, and clones the
// inner tinit into it; the cgroup is nil when the inner one runs without.
func (o Outer) clone(st Start, rep *CgroupReport) (Inner, *cgroup.Run, error) {
	cg := o.makeCgroup(fdtrack.New(o.Log), rep)
	if cg != nil {
		fd, err := cg.Fd()
		if err == nil {
			st.CgroupFd = fd
		}
	}
	in, err := Clone(st)
	if in.NoCgroup != nil && cg != nil {
		rep.Missing = append(rep.Missing, "cgroup: "+in.NoCgroup.Error())
		o.Log.Info().Err(in.NoCgroup).Msg("cannot clone the sandbox into its cgroup; it runs without one")
		o.removeCgroup(cg)
		cg, rep.Path = nil, ""
	}
	if err != nil && cg != nil {
		o.removeCgroup(cg)
		cg = nil
	}
	return in, cg, err
}

func (o Outer) removeCgroup(cg *cgroup.Run) {
	if err := cg.Remove(); err != nil {
		o.Log.Warn().Err(err).Str("dir", cg.Path()).Msg("removing the sandbox's cgroup")
	}
}

// watchParent returns a channel closed when tinit's parent process exits:
// supervise then kills the inner tinit, and the sandbox with it. It
// watches the parent's pidfd, which is readable once the whole process has
// exited. PR_SET_PDEATHSIG would fire when the thread that started tinit
// exits, which in a multi-threaded parent (a thread pool, a Python thread)
// is no death of the parent at all. Where pidfd_open is missing, it falls
// back to that signal (SIGKILL), and the channel is nil.
func watchParent() (<-chan struct{}, error) {
	ppid := unix.Getppid()
	fd, err := unix.PidfdOpen(ppid, 0)
	if err != nil {
		return nil, dieWithParent()
	}
	if unix.Getppid() != ppid {
		unix.Close(fd)
		return nil, errors.New("tinit's parent exited while it started")
	}
	gone := make(chan struct{})
	go func() {
		defer unix.Close(fd)
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for {
			_, err := unix.Poll(fds, -1)
			if !errors.Is(err, unix.EINTR) && (err != nil || fds[0].Revents != 0) {
				break
			}
		}
		close(gone)
	}()
	return gone, nil
}

// dieWithParent makes the outer tinit die with its parent, and so the
// sandbox with it (the inner tinit dies with the outer one).
func dieWithParent() error {
	ppid := unix.Getppid()
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		return fmt.Errorf("set the parent-death signal: %w", err)
	}
	if unix.Getppid() != ppid {
		return errors.New("tinit's parent exited while it started")
	}
	return nil
}

// supervise forwards signals to the inner tinit until it exits, and
// returns its status and its record.
func supervise(in Inner, channel int, sigs <-chan os.Signal, parentGone <-chan struct{}, log zerolog.Logger) (unix.WaitStatus, []byte) {
	exited := make(chan unix.WaitStatus, 1)
	go func() {
		var ws unix.WaitStatus
		for {
			_, err := unix.Wait4(in.Pid, &ws, unix.WALL, nil)
			if !errors.Is(err, unix.EINTR) {
				break
			}
		}
		exited <- ws
	}()
	ready, record := make(chan struct{}), make(chan []byte, 1)
	go func() {
		var b [1]byte
		n, _ := unix.Read(channel, b[:])
		if n == 1 && b[0] == Ready {
			close(ready)
		}
		rest, _ := ReadAll(channel)
		record <- rest
	}()
	var held []unix.Signal
	readyCh := (<-chan struct{})(ready)
	for {
		select {
		case s := <-sigs:
			sig := s.(unix.Signal)
			if readyCh != nil {
				held = append(held, sig)
				continue
			}
			forward(in, sig, log)
		case <-parentGone:
			parentGone = nil
			log.Warn().Msg("tinit's parent exited; killing the sandbox")
			forward(in, unix.SIGKILL, log)
		case <-readyCh:
			readyCh = nil
			for _, sig := range held {
				forward(in, sig, log)
			}
			held = nil
		case ws := <-exited:
			select {
			case b := <-record:
				return ws, b
			case <-time.After(recordWait):
				return ws, nil
			}
		}
	}
}

// forward passes sig on to the inner tinit, by pidfd where there is one.
// The inner one is the outer's child, reaped only by supervise: its pid
// cannot name another process before that.
func forward(in Inner, sig unix.Signal, log zerolog.Logger) {
	var err error
	if in.Pidfd >= 0 {
		err = unix.PidfdSendSignal(in.Pidfd, sig, nil, 0)
	} else {
		err = unix.Kill(in.Pid, sig)
	}
	if err != nil && !errors.Is(err, unix.ESRCH) {
		log.Warn().Err(err).Str("signal", signals.Name(sig)).Msg("forward failed")
		return
	}
	log.Debug().Str("signal", signals.Name(sig)).Msg("forwarded to the sandbox")
}

// makeCgroup gives the sandbox a cgroup v2 group of its own where one can
// be made; else it says why, once, at info level.
func (o Outer) makeCgroup(fds *fdtrack.Registry, rep *CgroupReport) *cgroup.Run {
	if o.NoCgroup {
		return nil
	}
	proc := procfs.New(fds)
	cg, err := func() (*cgroup.Run, error) {
		parent, err := cgroup.Parent(proc)
		if err != nil {
			return nil, err
		}
		owner, err := cgroup.Self(proc)
		if err != nil {
			return nil, err
		}
		return cgroup.Create(fds, parent, owner)
	}()
	if err != nil {
		rep.Missing = append(rep.Missing, "cgroup: "+err.Error())
		o.Log.Info().Err(err).Msg("no cgroup for the sandbox; its report has no peak pids or memory")
		return nil
	}
	rep.Path = cg.Path()
	return cg
}

// endCgroup reads the peaks, kills whatever is left in the group (nothing
// should be: the inner tinit was PID 1, and the kernel kills a pid
// namespace with it) and removes it.
func (o Outer) endCgroup(cg *cgroup.Run, rep *CgroupReport) {
	var missing []string
	for _, c := range []struct {
		name string
		dst  **int64
	}{{"pids", &rep.PeakPids}, {"memory", &rep.PeakMemory}} {
		n, err := cg.Peak(c.name)
		if err != nil {
			missing = append(missing, err.Error())
			continue
		}
		*c.dst = &n
	}
	if len(missing) > 0 {
		rep.Missing = append(rep.Missing, missing...)
		o.Log.Info().Strs("missing", missing).Str("dir", cg.Path()).Msg("the sandbox's cgroup lacks controllers; its report has no peak for them")
	}
	if procs, err := cg.Procs(); err == nil && len(procs) > 0 {
		cg.Kill()
	}
	o.removeCgroup(cg)
}

// ownsTerminal reports whether stdin is tinit's controlling terminal with
// tinit's process group in the foreground.
func ownsTerminal() bool {
	fg, err := unix.IoctlGetInt(0, unix.TIOCGPGRP)
	return err == nil && fg == unix.Getpgrp()
}
