package diagnose

import (
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/tinit-dev/tinit/internal/procfs"
	"golang.org/x/sys/unix"
)

// holders writes, in plain words, who holds tinit's output.
func (b *builder) holders() {
	var inodes []uint64
	for ino := range b.stdio {
		inodes = append(inodes, ino)
	}
	sort.Slice(inodes, func(i, j int) bool { return inodes[i] < inodes[j] })
	for _, ino := range inodes {
		pp := b.pipes[ino]
		if pp == nil {
			continue
		}
		for _, w := range pp.Writers {
			if p := b.byPid[w]; p != nil && w != b.in.Main {
				b.d.Findings = append(b.d.Findings, fmt.Sprintf("%s still holds the write end of %s", b.name(p), b.stdio[ino]))
			}
		}
	}
}

// whyFindings writes, in plain words, why each process is not going on.
func (b *builder) whyFindings() {
	for i := range b.d.Processes {
		p := &b.d.Processes[i]
		p.Why = b.why(p)
		if p.Why != "running" {
			b.d.Findings = append(b.d.Findings, fmt.Sprintf("pid %d (`%s`): %s", p.Pid, short(p.Cmdline, p.Comm), p.Why))
		}
	}
}

// name is "pid 4711 (`sleep 100`, started by pid 4700 `leaky.test`, test
// X)".
func (b *builder) name(p *Process) string {
	s := fmt.Sprintf("pid %d (`%s`", p.Pid, short(p.Cmdline, p.Comm))
	if parent := b.byPid[p.PPid]; parent != nil {
		s += fmt.Sprintf(", started by pid %d `%s`", parent.Pid, short(parent.Cmdline, parent.Comm))
	}
	if p.Test != "" {
		s += ", test " + p.Test
	}
	return s + ")"
}

// short cuts a command line for a sentence.
func short(cmdline, comm string) string {
	if cmdline == "" {
		cmdline = comm
	}
	if len(cmdline) > 80 {
		return cmdline[:77] + "..."
	}
	return cmdline
}

// why explains what p waits for.
func (b *builder) why(p *Process) string {
	switch p.State {
	case "T", "t":
		return "stopped"
	case "Z+threads":
		return fmt.Sprintf("its main thread has exited; %d other threads go on", len(p.Threads)-1)
	case "Z":
		return "a zombie: exited, its parent has not reaped it"
	}
	th, ok := b.mostTelling(p)
	if !ok {
		return "state " + p.State
	}
	switch th.State {
	case "D":
		return fmt.Sprintf("in uninterruptible sleep (%s): cannot be killed until it wakes", orUnknown(th.Wchan))
	case "R":
		return "running"
	}
	switch family(th.Wchan) {
	case pipeWrite:
		return b.pipeWait(p, th, true)
	case pipeRead:
		return b.pipeWait(p, th, false)
	case child:
		return "waiting for its child to exit" + b.childList(p)
	case fifo:
		return "opening a FIFO that nobody has opened for the other end"
	case unixSocket:
		return "waiting on a unix socket" + b.socketPeer(p, th) + b.heldPipes(p)
	case netSocket:
		return "waiting on a network socket" + b.heldPipes(p)
	case sleep:
		return "sleeping" + b.heldPipes(p)
	case sigwait:
		return "waiting for a signal" + b.heldPipes(p)
	case epoll:
		return "waiting in epoll" + b.heldPipes(p)
	case poll:
		return "waiting in poll or select" + b.heldPipes(p)
	case futex:
		return "waiting on a futex (a lock or a condition)" + b.heldPipes(p)
	}
	if th.Wchan == "" {
		return "sleeping" + b.heldPipes(p)
	}
	return "sleeping in " + th.Wchan + b.heldPipes(p)
}

// wait is what a wait channel means, by family: the names change between
// kernels (6.18 says anon_pipe_write where older kernels said pipe_write,
// futex_do_wait where they said futex_wait_queue), so they are matched by
// family, not by name.
type wait int

const (
	other wait = iota
	pipeWrite
	pipeRead
	child
	fifo
	unixSocket
	netSocket
	sleep
	sigwait
	epoll
	poll
	futex
)

func family(w string) wait {
	switch {
	case w == "":
		return other
	case strings.Contains(w, "pipe_write") || strings.Contains(w, "pipe_wait_writable"):
		return pipeWrite
	case strings.Contains(w, "pipe_read") || strings.Contains(w, "pipe_wait"):
		return pipeRead
	case w == "do_wait" || strings.HasPrefix(w, "kernel_wait") || w == "wait_consider_task":
		return child
	case w == "wait_for_partner" || strings.HasPrefix(w, "fifo_"):
		return fifo
	case strings.HasPrefix(w, "unix_"):
		return unixSocket
	case w == "sk_wait_data" || w == "inet_csk_accept" || strings.HasPrefix(w, "tcp_") || strings.HasPrefix(w, "udp_"):
		return netSocket
	case strings.Contains(w, "nanosleep") || w == "common_nsleep" || strings.HasPrefix(w, "hrtimer_"):
		return sleep
	case strings.Contains(w, "sigtimedwait") || strings.Contains(w, "sigsuspend") || strings.HasSuffix(w, "sys_pause"):
		return sigwait
	case w == "ep_poll" || w == "do_epoll_wait":
		return epoll
	case w == "do_sys_poll" || w == "do_select" || w == "core_sys_select" || w == "poll_schedule_timeout":
		return poll
	case strings.HasPrefix(w, "futex_"):
		return futex
	}
	return other
}

func orUnknown(w string) string {
	if w == "" {
		return "unknown wait channel"
	}
	return w
}

// mostTelling picks the thread that best says what p waits for: one in
// uninterruptible sleep, one running, then one blocked on a pipe, a child,
// a FIFO or a socket, then a sleep or a signal, then a poller, then any.
func (b *builder) mostTelling(p *Process) (Thread, bool) {
	if len(p.Threads) == 0 {
		return Thread{}, false
	}
	rank := func(t Thread) int {
		switch {
		case t.State == "D":
			return 0
		case t.State == "R":
			return 1
		}
		switch family(t.Wchan) {
		case pipeWrite, pipeRead, child, fifo, unixSocket, netSocket:
			return 2
		case sleep, sigwait:
			return 3
		case epoll, poll:
			return 4
		}
		return 5
	}
	best := p.Threads[0]
	for _, t := range p.Threads[1:] {
		if rank(t) < rank(best) {
			best = t
		}
	}
	return best, true
}

// pipeWait explains a thread blocked writing (write) or reading a pipe: the
// pipe comes from the system call's descriptor where readable, else from
// the process's only pipe of that end.
func (b *builder) pipeWait(p *Process, th Thread, write bool) string {
	ino := b.blockedPipe(p, th, write)
	if ino == 0 {
		if write {
			return "blocked writing a full pipe"
		}
		return "waiting for data on a pipe"
	}
	pp := b.pipes[ino]
	if write {
		readers := others(pp.Readers, p.Pid)
		if len(readers) == 0 {
			return fmt.Sprintf("blocked writing a full pipe:[%d]; no other process reads it", ino)
		}
		return fmt.Sprintf("blocked writing a full pipe:[%d]; its reader %s", ino, b.doing(readers))
	}
	writers := others(pp.Writers, p.Pid)
	if len(writers) == 0 {
		return fmt.Sprintf("waiting for data on pipe:[%d]; only it holds the write end, so EOF never comes", ino)
	}
	return fmt.Sprintf("waiting for data or EOF on pipe:[%d]; the write end is held by %s", ino, b.doing(writers))
}

// blockedPipe finds the pipe a thread blocks on.
func (b *builder) blockedPipe(p *Process, th Thread, write bool) uint64 {
	if sc, err := b.proc.Syscall(p.Pid, th.Tid); err == nil && sc.Nr >= 0 {
		for i := range p.Threads {
			if p.Threads[i].Tid == th.Tid {
				p.Threads[i].Syscall = syscallName(sc.Nr)
			}
		}
		for _, fd := range b.fds[p.Pid] {
			if uint64(fd.Num) == sc.Args[0] {
				if ino, kind := fd.Inode(); kind == "pipe" {
					return ino
				}
			}
		}
	} else if err != nil {
		b.refuse("system calls", err)
	}
	var found uint64
	for _, fd := range b.fds[p.Pid] {
		if ino, kind := fd.Inode(); kind == "pipe" && (write && fd.Writes() || !write && fd.Reads()) {
			if found != 0 && found != ino {
				return 0 // more than one: cannot tell
			}
			found = ino
		}
	}
	return found
}

func others(pids []int, self int) []int {
	var out []int
	for _, p := range pids {
		if p != self {
			out = append(out, p)
		}
	}
	return out
}

// doing describes processes briefly: "pid 12 (`cat`) is sleeping".
func (b *builder) doing(pids []int) string {
	var parts []string
	for _, pid := range pids {
		p := b.byPid[pid]
		switch {
		case pid == b.in.Root:
			parts = append(parts, fmt.Sprintf("pid %d (tinit)", pid))
		case p == nil:
			parts = append(parts, fmt.Sprintf("pid %d (not below tinit)", pid))
		default:
			th, _ := b.mostTelling(p)
			what := "is " + describeThread(p.State, th)
			parts = append(parts, fmt.Sprintf("pid %d (`%s`) %s", pid, short(p.Cmdline, p.Comm), what))
		}
	}
	return strings.Join(parts, ", ")
}

func describeThread(state string, th Thread) string {
	switch {
	case state == "T" || state == "t":
		return "stopped"
	case th.State == "R":
		return "running"
	case th.State == "D":
		return "in uninterruptible sleep"
	case th.Wchan != "":
		return "sleeping in " + th.Wchan
	}
	return "sleeping"
}

// childList names p's children: ": pid 5 (`sleep 100`)".
func (b *builder) childList(p *Process) string {
	var kids []string
	for i := range b.d.Processes {
		if c := &b.d.Processes[i]; c.PPid == p.Pid {
			kids = append(kids, fmt.Sprintf("pid %d (`%s`)", c.Pid, short(c.Cmdline, c.Comm)))
		}
	}
	if len(kids) == 0 {
		return ""
	}
	return " " + strings.Join(kids, ", ")
}

// socketPeer names who holds the other end of the unix socket a thread
// waits on: the socket of the system call's descriptor where readable,
// else the process's only unix socket with a known peer.
func (b *builder) socketPeer(p *Process, th Thread) string {
	var ino uint64
	if sc, err := b.proc.Syscall(p.Pid, th.Tid); err == nil && sc.Nr >= 0 {
		for _, fd := range b.fds[p.Pid] {
			if i, kind := fd.Inode(); kind == "socket" && uint64(fd.Num) == sc.Args[0] {
				ino = i
			}
		}
	}
	if ino == 0 {
		for _, fd := range b.fds[p.Pid] {
			if i, kind := fd.Inode(); kind == "socket" && b.peers[i] != 0 {
				if ino != 0 && ino != i {
					return "" // more than one: cannot tell
				}
				ino = i
			}
		}
	}
	peer := b.peers[ino]
	if peer == 0 {
		return ""
	}
	holders := others(b.sockets[peer], p.Pid)
	if len(holders) == 0 {
		if slices.Contains(b.sockets[peer], p.Pid) {
			return fmt.Sprintf(" socket:[%d], whose peer socket:[%d] it holds itself", ino, peer)
		}
		return fmt.Sprintf(" socket:[%d], whose peer socket:[%d] no process below tinit holds", ino, peer)
	}
	return fmt.Sprintf(" socket:[%d], whose peer is held by %s", ino, b.doing(holders))
}

// heldPipes tells, for an idle process, the pipes it reads whose write ends
// other processes hold: what a reader waiting for EOF waits for.
func (b *builder) heldPipes(p *Process) string {
	var parts []string
	for _, fd := range b.fds[p.Pid] {
		ino, kind := fd.Inode()
		if kind != "pipe" || !fd.Reads() || fd.Writes() {
			continue
		}
		if writers := others(b.pipes[ino].Writers, p.Pid); len(writers) > 0 {
			parts = append(parts, fmt.Sprintf("; it reads pipe:[%d], whose write end %s holds", ino, b.pidList(writers)))
		}
	}
	return strings.Join(parts, "")
}

func (b *builder) pidList(pids []int) string {
	var parts []string
	for _, pid := range pids {
		if p := b.byPid[pid]; p != nil {
			parts = append(parts, fmt.Sprintf("pid %d (`%s`)", pid, short(p.Cmdline, p.Comm)))
		} else if pid == b.in.Root {
			parts = append(parts, fmt.Sprintf("pid %d (tinit)", pid))
		}
	}
	return strings.Join(parts, ", ")
}

// unreadable says what could not be read, and the likely reason.
func (b *builder) unreadable() {
	if h := hidepid(b.proc); h != "" {
		b.d.Unreadable = append(b.d.Unreadable, "/proc is mounted with hidepid="+h+": other users' processes are hidden")
	}
	if len(b.refused) == 0 {
		return
	}
	var kinds []string
	for k := range b.refused {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		b.d.Unreadable = append(b.d.Unreadable, fmt.Sprintf("%s of %d processes: %v (%s)", k, b.refused[k], b.errKind[k], reasonFor(k)))
	}
}

// hidepid returns /proc's hidepid mount option when it hides anything.
func hidepid(proc *procfs.FS) string {
	b, err := proc.ReadWhole(procfs.Root + "/self/mountinfo")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 || f[4] != procfs.Root {
			continue
		}
		for _, opt := range strings.Split(f[len(f)-1], ",") {
			if v, ok := strings.CutPrefix(opt, "hidepid="); ok && v != "0" && v != "off" {
				return v
			}
		}
	}
	return ""
}

// reasonFor says which rule keeps what unreadable.
func reasonFor(kind string) string {
	if kind == "system calls" {
		if v, err := os.ReadFile("/proc/sys/kernel/yama/ptrace_scope"); err == nil && strings.TrimSpace(string(v)) >= "2" {
			return "needs ptrace attach rights; kernel.yama.ptrace_scope=" + strings.TrimSpace(string(v))
		}
		return "needs ptrace attach rights: another user's or a non-dumpable process, or no CAP_SYS_PTRACE"
	}
	return "another user's or a non-dumpable process; needs CAP_SYS_PTRACE"
}

// syscallName names the system calls a blocked thread is commonly in (a
// switch, not a map: nothing is built when tinit starts).
func syscallName(nr int) string {
	switch nr {
	case unix.SYS_READ:
		return "read"
	case unix.SYS_WRITE:
		return "write"
	case unix.SYS_READV:
		return "readv"
	case unix.SYS_WRITEV:
		return "writev"
	case unix.SYS_WAIT4:
		return "wait4"
	case unix.SYS_WAITID:
		return "waitid"
	case unix.SYS_FUTEX:
		return "futex"
	case unix.SYS_EPOLL_PWAIT:
		return "epoll_pwait"
	case unix.SYS_PPOLL:
		return "ppoll"
	case unix.SYS_PSELECT6:
		return "pselect6"
	case unix.SYS_NANOSLEEP:
		return "nanosleep"
	case unix.SYS_CLOCK_NANOSLEEP:
		return "clock_nanosleep"
	case unix.SYS_ACCEPT4:
		return "accept4"
	case unix.SYS_RECVFROM:
		return "recvfrom"
	case unix.SYS_RECVMSG:
		return "recvmsg"
	case unix.SYS_OPENAT:
		return "openat"
	case unix.SYS_RT_SIGTIMEDWAIT:
		return "rt_sigtimedwait"
	case unix.SYS_RT_SIGSUSPEND:
		return "rt_sigsuspend"
	}
	if name := archSyscallName(nr); name != "" {
		return name
	}
	return fmt.Sprintf("syscall %d", nr)
}
