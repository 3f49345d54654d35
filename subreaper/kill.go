package subreaper

import (
	"errors"

	"github.com/tinit-dev/tinit/internal/cgroup"
	"github.com/tinit-dev/tinit/internal/procfs"
	"golang.org/x/sys/unix"
)

// A killer finds the processes left below tinit and signals them. Which
// one a run uses is decided at its start (see setup); the lifecycle decides
// when and with what. Every killer reaches the main child too while it
// lives.
type killer interface {
	// list returns what is left, without signalling it, where the killer
	// can tell (nil otherwise).
	list() ([]procfs.Stat, error)
	// term sends sig (SIGTERM, or a timeout's signal), then SIGCONT (a
	// stopped process acts on a signal only once continued), to
	// everything left. found, called first, gets the processes about to
	// be signalled where they can be listed.
	term(sig unix.Signal, found func([]procfs.Stat)) error
	// kill sends SIGKILL to everything left, in one pass.
	kill() error
}

// broadcast is the killer of PID 1 in a pid namespace: kill(-1, sig)
// reaches every other process of the namespace in one call. The kernel
// holds the task list lock for the whole walk, so nothing forks its way
// out of it, and it signals thread groups, so a group whose leader has
// exited is reached through that leader.
type broadcast struct {
	proc *procfs.FS // for names; nil without a /proc of the namespace
	self int
}

func (b broadcast) list() ([]procfs.Stat, error) {
	if b.proc == nil {
		return nil, nil
	}
	procs, err := b.proc.Descendants(b.self)
	return live(procs), err
}

func (b broadcast) term(sig unix.Signal, found func([]procfs.Stat)) error {
	if procs, err := b.list(); err == nil {
		found(procs)
	}
	return errors.Join(unix.Kill(-1, sig), unix.Kill(-1, unix.SIGCONT))
}

func (b broadcast) kill() error { return ignoreESRCH(unix.Kill(-1, unix.SIGKILL)) }

func live(procs []procfs.Stat) []procfs.Stat {
	out := procs[:0]
	for _, p := range procs {
		if p.Live() {
			out = append(out, p)
		}
	}
	return out
}

func ignoreESRCH(err error) error {
	if errors.Is(err, unix.ESRCH) {
		return nil
	}
	return err
}

// groupKiller is the killer of a subreaper that has neither a /proc of
// its pid namespace nor a cgroup: the main child's process group is all
// it can reach.
type groupKiller struct{ to target }

func (g groupKiller) list() ([]procfs.Stat, error) { return nil, nil }

func (g groupKiller) term(sig unix.Signal, _ func([]procfs.Stat)) error {
	return errors.Join(ignoreESRCH(g.to.leftoverGroup(sig)), ignoreESRCH(g.to.leftoverGroup(unix.SIGCONT)))
}

func (g groupKiller) kill() error { return ignoreESRCH(g.to.leftoverGroup(unix.SIGKILL)) }

// cgroupKiller is the killer of a subreaper whose run has a cgroup of its
// own: everything the main child started is in it from its first
// instruction, cgroup.kill ends all of it atomically, forks in flight
// included, and cgroup.procs lists it even where /proc does not show
// tinit's pid namespace. A walk of /proc, where there is one, follows for
// what moved itself out of the group.
type cgroupKiller struct {
	cg   *cgroup.Run
	send *sender
	walk *walker // nil without a /proc of tinit's namespace
}

func (k cgroupKiller) list() ([]procfs.Stat, error) {
	members, escaped, err := k.split()
	return append(members, escaped...), err
}

// split lists the group's members, as bare pids (the one who records them
// reads /proc for those it does not know yet), and, where /proc allows,
// the descendants that left the group.
func (k cgroupKiller) split() (members, escaped []procfs.Stat, err error) {
	pids, err := k.cg.Procs()
	if err != nil {
		return nil, nil, err
	}
	in := make(map[int]bool, len(pids))
	for _, pid := range pids {
		in[pid] = true
		members = append(members, procfs.Stat{Pid: pid})
	}
	if k.walk == nil {
		return members, nil, nil
	}
	procs, err := k.walk.list()
	for _, p := range procs {
		if !in[p.Pid] {
			escaped = append(escaped, p)
		}
	}
	return members, escaped, err
}

func (k cgroupKiller) term(sig unix.Signal, found func([]procfs.Stat)) error {
	members, escaped, err := k.split()
	found(append(append([]procfs.Stat{}, members...), escaped...))
	for _, p := range members {
		if _, serr := k.send.member(p.Pid, k.cg.ID(), sig, unix.SIGCONT); serr != nil && err == nil {
			err = serr
		}
	}
	for _, p := range escaped {
		k.send.listed(p, sig, unix.SIGCONT)
	}
	return err
}

// kill writes cgroup.kill, then signals each pid cgroup.procs still lists:
// cgroup.kill misses a process whose leader thread has exited while its
// other threads run, and a signal to its pid does not. Then the walk, for
// what left the group: it passes through the members, killed already,
// without signalling them again (with a thousand of them dying, that took
// the walk 150 ms a pass, against the kernel for the CPU).
func (k cgroupKiller) kill() error {
	before := procfs.BootTicks()
	err := k.cg.Kill()
	pids, perr := k.cg.Procs()
	killed := &killedSet{pids: make(map[int]bool, len(pids)), before: before}
	for _, pid := range pids {
		if ok, _ := k.send.member(pid, k.cg.ID(), unix.SIGKILL); ok {
			killed.pids[pid] = true
		}
	}
	var werr error
	if k.walk != nil {
		werr = k.walk.killAll(killed)
	}
	return errors.Join(err, perr, werr)
}
