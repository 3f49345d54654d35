package subreaper

import (
	"errors"
	"time"

	"github.com/tinit-dev/tinit/fdtrack"
	"github.com/tinit-dev/tinit/internal/procfs"
	"golang.org/x/sys/unix"
)

// walker is the killer of a subreaper without a cgroup of its own, where
// no broadcast exists: it walks /proc for tinit's descendants.
//
// A walk that lists first and signals afterwards misses a fork-and-exit
// chain (one live process at a time, each living a few hundred
// microseconds) about one time in eight: by the time the signal goes out,
// the process listed is gone and its child was never listed. So a pass
// signals each descendant the moment the listing reaches it, and /proc
// lists processes in pid order as they are at that moment, so a child
// forked meanwhile, with a higher pid, is reached later in the same pass.
// What a pass still misses (a child listed before its parent, after the
// pids wrapped around), the next finds. For SIGTERM the walk first stops
// everything with SIGSTOP, pass after pass until a pass finds nothing new
// (a stopped process cannot fork), then sends SIGTERM and SIGCONT to the
// set, which no longer changes. For SIGKILL it passes the same way (a
// process with SIGKILL pending cannot fork either).
//
// What this guarantees: every process that descends from tinit when the
// walk starts, and every one forked from them during it, is signalled,
// unless more than maxPasses passes each see something new (a fork bomb
// outrunning the walk); the SIGKILL passes of the lifecycle then go on.
type walker struct {
	proc *procfs.FS
	send *sender
	self int
}

// maxPasses bounds one stop or kill of the walk.
const maxPasses = 50

// procKey names one process for as long as the machine runs.
type procKey struct {
	pid   int
	start uint64
}

// walkState is what the passes of one stop or kill have learnt: the
// processes signalled, and every descendant seen, live or dead.
type walkState struct {
	done, seen map[procKey]bool
	// killed are processes signalled already by other means (the members
	// of the run's cgroup, killed by cgroup.kill): the walk goes through
	// them to their children but signals them no more.
	killed *killedSet
}

func newWalkState(killed *killedSet) *walkState {
	return &walkState{done: map[procKey]bool{}, seen: map[procKey]bool{}, killed: killed}
}

// killedSet names processes killed by other means by pid, and tells a pid
// reused since by its start: a process started at or after before (clock
// ticks after boot, /proc's unit, read before the pids were listed) is
// not the one killed. One started in the same tick as the listing counts
// as new too, and is merely signalled again.
type killedSet struct {
	pids   map[int]bool
	before uint64
}

func (k *killedSet) has(st procfs.Stat) bool {
	return k != nil && k.pids[st.Pid] && st.Start < k.before
}

// pass walks once, sends sigs to every live descendant not in done as soon
// as it is found, adds it to done and returns the ones it reached, and
// whether it saw any descendant, live or dead, that no earlier pass saw
// (seen keeps them): a pass that sees nothing new proves the set of
// processes settled. (A pass can reach nothing and still see new ones: a
// fork-and-exit chain it keeps arriving too late for.) A pass sweeps down
// the tree of children files from tinit, which is quick and sees an orphan
// the moment it is reparented to tinit (where a chain's live link is
// almost always); a full pass then also scans all of /proc, which misses
// nothing that stays put. A scan asks every process of the machine for
// its parent (procfs.Parents; measured on a 2-CPU VM: about 6 µs each
// through a pidfd, 59 ms with 10,000 processes; 7 to 13 µs through a stat
// file where the kernel cannot say), where the tree costs only tinit's
// descendants, so
// passes are tree-only until one sees nothing new, and the pass that must
// prove the set settled is a full one (see settled).
func (w *walker) pass(ws *walkState, full bool, sigs ...unix.Signal) (reached []procfs.Stat, fresh bool, err error) {
	reach := func(st procfs.Stat) {
		k := procKey{st.Pid, st.Start}
		if !ws.seen[k] {
			ws.seen[k], fresh = true, true
		}
		if st.Live() && !ws.done[k] && !ws.killed.has(st) {
			if full, ok := w.send.listed(st, sigs...); ok {
				ws.done[k] = true
				reached = append(reached, full)
			}
		}
	}
	w.sweepTree(reach)
	if full {
		var vanished bool
		vanished, err = w.sweepScan(reach)
		fresh = fresh || vanished
	}
	return reached, fresh, err
}

// sweepTree visits tinit's descendants breadth first through their
// children files.
func (w *walker) sweepTree(reach func(procfs.Stat)) {
	seen := map[int]bool{w.self: true}
	queue := []int{w.self}
	for len(queue) > 0 {
		parent := queue[0]
		queue = queue[1:]
		kids, _ := w.proc.Children(parent)
		for _, pid := range kids {
			if seen[pid] {
				continue
			}
			seen[pid] = true
			st, err := w.proc.Stat(pid)
			if err != nil || st.PPid != parent {
				continue // gone, or moved: the scan will place it
			}
			reach(st)
			queue = append(queue, pid)
		}
	}
}

// sweepScan visits every process of /proc in pid order, reaching each
// descendant the moment it is listed; a child listed before its parent is
// reached once the parent is. It learns each process's parent the cheapest
// way the kernel offers (procfs.Parents) and reads the whole stat of
// tinit's descendants alone, so that the thousands of other processes of a
// busy host cost what a pidfd's answer costs.
//
// It reports whether a descendant it listed was gone before its stat could
// be read: a process that came and went during the pass, which therefore
// proves nothing settled.
//
// The parents of a batch of the listing are all read before its first
// process is visited: a child read with a parent that is then found gone
// has been reparented meanwhile, and is visited at once to learn its new
// parent.
func (w *walker) sweepScan(reach func(procfs.Stat)) (vanished bool, err error) {
	ours := map[int]bool{w.self: true}
	gone := map[int]bool{}     // descendants found gone in this pass
	waiting := map[int][]int{} // by parent, listed before it
	var visit func(pid, ppid int)
	visit = func(pid, ppid int) {
		st, err := w.proc.Stat(pid)
		switch {
		case err != nil:
			// Gone (or unreadable, under hidepid): the children listed
			// before it have been reparented if it is gone (to tinit, or
			// to a subreaper below it), and each is judged by its parent
			// now. Only a process gone proves the pass unsettled.
			if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH) {
				vanished, gone[pid] = true, true
			}
		case gone[ppid] && st.PPid == ppid:
			// Its parent is gone, yet it names that pid as its parent:
			// the pid went to another process meanwhile, whose child
			// this is. Not ours.
			return
		case st.PPid != ppid && !ours[st.PPid]:
			// Reparented since its parent was read, to one not
			// reached yet: it waits for that one instead.
			waiting[st.PPid] = append(waiting[st.PPid], pid)
			return
		default:
			ours[pid] = true
			reach(st)
		}
		children := waiting[pid]
		delete(waiting, pid)
		for _, c := range children {
			visit(c, pid)
		}
	}
	err = w.proc.Parents(func(pid, ppid int) {
		switch {
		case pid == w.self:
		case ours[ppid] || gone[ppid]:
			visit(pid, ppid)
		default:
			waiting[ppid] = append(waiting[ppid], pid)
		}
	})
	return vanished, err
}

// stopAll stops every descendant, pass after pass until a pass sees
// nothing new, and returns what it stopped. SIGSTOP takes effect when its
// target next returns to user space: a process caught inside fork(2)
// still creates its child, and one caught between its fork and its exit
// exits instead of stopping. So a quiet pass proves the set settled only
// if it began after every process reached was seen stopped or gone: then
// nothing of the set could fork during it.
func (w *walker) stopAll() ([]procfs.Stat, error) {
	ws := newWalkState(nil)
	deadline := time.Time{} // of waiting for stops, from the first quiet pass
	var all []procfs.Stat
	confirming := false
	for range maxPasses {
		// The confirming pass, the one that may end the loop, is full.
		reached, fresh, err := w.pass(ws, confirming, unix.SIGSTOP)
		all = append(all, reached...)
		switch {
		case err != nil:
			return all, err
		case fresh:
			confirming = false
		case confirming:
			return all, nil
		default:
			if deadline.IsZero() {
				deadline = time.Now().Add(settleWait)
			}
			// Only a pass after every stop took effect confirms: a
			// process reached but not yet stopped (a loaded machine
			// may not run it for a while) can still fork, and the
			// passes go on until it stopped or they run out.
			confirming = w.awaitStops(all, deadline)
		}
	}
	return all, nil
}

// settleWait bounds how long stopAll waits for its stops to take effect: a
// process in uninterruptible sleep stops only when it wakes.
const settleWait = 100 * time.Millisecond

// awaitStops waits until every process in procs is stopped or gone, or the
// deadline passes, and reports whether they all are.
func (w *walker) awaitStops(procs []procfs.Stat, deadline time.Time) bool {
	for _, p := range procs {
		for {
			st, err := w.proc.Stat(p.Pid)
			if err != nil || st.Start != p.Start || !st.Live() || st.State == 'T' || st.State == 't' {
				break
			}
			if !time.Now().Before(deadline) {
				return false
			}
			time.Sleep(200 * time.Microsecond)
		}
	}
	return true
}

func (w *walker) list() ([]procfs.Stat, error) {
	procs, err := w.proc.Descendants(w.self)
	return live(procs), err
}

func (w *walker) term(sig unix.Signal, found func([]procfs.Stat)) error {
	stopped, err := w.stopAll()
	found(stopped)
	for _, p := range stopped {
		// Stopped, p cannot have died and been replaced meanwhile but
		// by SIGKILL from elsewhere; the check costs one read.
		w.send.listed(p, sig, unix.SIGCONT)
	}
	return err
}

func (w *walker) kill() error { return w.killAll(nil) }

// killAll sends SIGKILL to every descendant but those killed already (nil
// for none), pass after pass until a full pass sees nothing new:
// tree-only passes until one is quiet, then a full one to confirm.
func (w *walker) killAll(killed *killedSet) error {
	ws := newWalkState(killed)
	full := false
	for range maxPasses {
		_, fresh, err := w.pass(ws, full, unix.SIGKILL)
		if err != nil || (full && !fresh) {
			return err
		}
		full = !fresh
	}
	return nil
}

// sender delivers signals to processes tinit found, after proving that the
// pid still names the process found, so that a pid reused meanwhile is
// never signalled. With pidfds, the pidfd is opened first and the proof
// made after: the pidfd pins whichever process held the pid when it was
// opened, and the proof shows that it is the one found. Without pidfds the
// same proof precedes kill(2), which leaves a window of two system calls.
type sender struct {
	fds    *fdtrack.Registry
	proc   *procfs.FS // nil without a /proc of tinit's pid namespace
	pidfds bool
}

// listed delivers sigs to p, listed from /proc, if p.Pid still names a
// process started when p was: it returns that process's stat.
func (s *sender) listed(p procfs.Stat, sigs ...unix.Signal) (procfs.Stat, bool) {
	same := func() (procfs.Stat, bool) {
		now, err := s.proc.Stat(p.Pid)
		return now, err == nil && now.Start == p.Start
	}
	if !s.pidfds {
		now, ok := same()
		return now, ok && sendAll(sigs, func(sig unix.Signal) error { return unix.Kill(p.Pid, sig) })
	}
	tok, err := s.fds.PidfdOpen(p.Pid)
	if err != nil {
		return p, false
	}
	defer s.fds.Close(tok)
	now, ok := same()
	if !ok {
		return now, false
	}
	return now, sendAll(sigs, func(sig unix.Signal) error { return s.pidfd(tok, sig) })
}

// member delivers sigs to pid, listed in the run's cgroup whose id is cg.
// Through a pidfd it is proven still a member first where the kernel says
// (PIDFD_GET_INFO, Linux 6.13); elsewhere the pid, a member a moment
// before, is signalled as is: it could name another process only if the
// kernel's pid allocator had wrapped around in between.
func (s *sender) member(pid int, cg uint64, sigs ...unix.Signal) (bool, error) {
	if !s.pidfds {
		return sendAll(sigs, func(sig unix.Signal) error { return unix.Kill(pid, sig) }), nil
	}
	tok, err := s.fds.PidfdOpen(pid)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return false, nil
		}
		return false, err
	}
	defer s.fds.Close(tok)
	fd, err := s.fds.Fd(tok)
	if err != nil {
		return false, err
	}
	info := unix.PidfdInfo{Mask: unix.PIDFD_INFO_CGROUPID}
	if unix.IoctlPidfdInfo(fd, &info) == nil && info.Mask&unix.PIDFD_INFO_CGROUPID != 0 && info.Cgroupid != cg {
		return false, nil
	}
	return sendAll(sigs, func(sig unix.Signal) error { return s.pidfd(tok, sig) }), nil
}

func (s *sender) pidfd(tok fdtrack.Token, sig unix.Signal) error {
	fd, err := s.fds.Fd(tok)
	if err != nil {
		return err
	}
	return unix.PidfdSendSignal(fd, sig, nil, 0)
}

// sendAll delivers each signal with send and reports whether the process
// was reached: a process that no longer exists is not an error.
func sendAll(sigs []unix.Signal, send func(unix.Signal) error) bool {
	for _, sig := range sigs {
		if err := send(sig); err != nil {
			return false
		}
	}
	return true
}
