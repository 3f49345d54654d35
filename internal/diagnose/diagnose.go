// Package diagnose explains, from /proc alone, what the processes below
// tinit are doing when a run hangs, stalls or is told to stop: the tree,
// each thread's state and wait channel, the open descriptors, which process
// holds which end of which pipe, which test a process belongs to, and for
// each process one line that says why it does not go on ("blocked writing
// a full pipe; its reader pid 12 is sleeping").
//
// It reads only what /proc shows without ptrace, never stops or signals a
// process, and says what it could not read and why. It does not decide when
// to diagnose (the supervisor does) and writes nothing: the caller logs the
// Diagnosis and puts it in the run's report.
package diagnose

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/tinit-dev/tinit/internal/escape"
	"github.com/tinit-dev/tinit/internal/procfs"
	"golang.org/x/sys/unix"
)

// Diagnosis is what the processes below tinit were doing at one moment.
type Diagnosis struct {
	Time   time.Time `json:"time"`
	Reason string    `json:"reason"`
	// Unreadable says, a line each, what could not be read and why.
	Unreadable []string `json:"unreadable,omitempty"`
	// Findings are the explanations in plain words: who holds tinit's
	// output, then one line per process that is not running.
	Findings  []string  `json:"findings"`
	Processes []Process `json:"processes"`
	Pipes     []Pipe    `json:"pipes"`
	// Took is how long the diagnosis took to read.
	Took float64 `json:"took_s"`
}

// Process is one process below tinit, parents before their children.
type Process struct {
	Pid     int     `json:"pid"`
	PPid    int     `json:"ppid"`
	Pgid    int     `json:"pgid"`
	Sid     int     `json:"sid"`
	State   string  `json:"state"`
	Age     float64 `json:"age_s"`
	CPU     float64 `json:"cpu_s"`
	Comm    string  `json:"comm"`
	Cmdline string  `json:"cmdline"`
	// Test names the test the process belongs to, where it can be known:
	// nextest's NEXTEST_BINARY_ID and NEXTEST_TEST_NAME in its
	// environment, or a Go test binary it is or descends from.
	Test string `json:"test,omitempty"`
	// Go is set for a Go program (which dumps its goroutines on SIGQUIT),
	// GoTest for a Go test binary.
	Go      bool     `json:"go,omitempty"`
	GoTest  bool     `json:"go_test,omitempty"`
	Threads []Thread `json:"threads"`
	FDs     []FD     `json:"fds"`
	Why     string   `json:"why"`
	start   uint64
}

// Start is the process's start time in clock ticks after boot: with Pid
// it names the process for as long as the machine runs.
func (p Process) Start() uint64 { return p.start }

// Thread is one thread of a process.
type Thread struct {
	Tid   int    `json:"tid"`
	State string `json:"state"`
	// Wchan is the kernel function it waits in ("" running, or
	// unreadable).
	Wchan string `json:"wchan,omitempty"`
	// Syscall is the system call it is in, where readable and asked for.
	Syscall string `json:"syscall,omitempty"`
}

// FD is one open descriptor.
type FD struct {
	Num    int    `json:"fd"`
	Target string `json:"target"`
	Mode   string `json:"mode,omitempty"` // "r", "w", "rw"
	// Peer is the inode of the other end of a connected unix socket,
	// where the kernel tells it (sock_diag); 0 otherwise.
	Peer uint64 `json:"peer,omitempty"`
}

// Pipe is a pipe held by processes below tinit (or by tinit itself: pid
// of Input.Root), with the holders of each end.
type Pipe struct {
	Inode   uint64 `json:"inode"`
	Readers []int  `json:"readers"`
	Writers []int  `json:"writers"`
}

// Input says what to diagnose.
type Input struct {
	Root   int    // tinit's pid: the processes below it are diagnosed
	Main   int    // the main child's pid, 0 when it is gone
	Reason string // "timeout", "stop signal", "stall"
	Now    time.Time
	// Brief is the leak report's diagnosis: the processes, their tests
	// and who holds tinit's output, without threads, reasons, Go programs
	// or socket peers. With a thousand leftovers it costs half the full
	// one, read while they wait for their SIGTERM.
	Brief bool
}

// maxFDs bounds the descriptors listed per process in a Diagnosis; all are
// still used to place pipes.
const maxFDs = 64

// Run diagnoses the tree below in.Root, reading /proc through proc.
func Run(proc *procfs.FS, in Input) *Diagnosis {
	d := &Diagnosis{Time: in.Now, Reason: in.Reason, Findings: []string{}, Processes: []Process{}, Pipes: []Pipe{}}
	b := builder{proc: proc, in: in, d: d, byPid: map[int]*Process{}, pipes: map[uint64]*Pipe{}, refused: map[string]int{}}
	began := time.Now()
	b.tree()
	b.details()
	b.holders()
	if !in.Brief {
		b.whyFindings()
	}
	b.unreadable()
	d.Took = time.Since(began).Seconds()
	return d
}

type builder struct {
	proc    *procfs.FS
	in      Input
	d       *Diagnosis
	byPid   map[int]*Process
	fds     map[int][]procfs.FD // every descriptor of every process
	pipes   map[uint64]*Pipe
	sockets map[uint64][]int  // unix socket inode -> holders
	peers   map[uint64]uint64 // unix socket inode -> its peer's
	stdio   map[uint64]string // inode of tinit's or the main child's stdout/stderr -> name
	refused map[string]int    // what could not be read -> how many processes
	errKind map[string]error
}

// tree lists the processes below in.Root, parents before children.
func (b *builder) tree() {
	// Descendants lists each parent's children in /proc's order, by pid.
	procs, _ := b.proc.Descendants(b.in.Root)
	now := bootTime()
	for _, st := range procs {
		b.d.Processes = append(b.d.Processes, describe(b.proc, st, now))
	}
	for i := range b.d.Processes {
		b.byPid[b.d.Processes[i].Pid] = &b.d.Processes[i]
	}
}

// Describe is what a diagnosis says of one process, found by other means
// (a cgroup's list), without its threads and descriptors.
func Describe(proc *procfs.FS, st procfs.Stat) Process {
	return describe(proc, st, bootTime())
}

// describe fills a Process from st; now is bootTime's.
func describe(proc *procfs.FS, st procfs.Stat, now float64) Process {
	p := Process{
		Threads: []Thread{}, FDs: []FD{},
		Pid: st.Pid, PPid: st.PPid, Pgid: st.Pgrp, Sid: st.Session, State: stateName(st),
		CPU: float64(st.UTime+st.STime) / procfs.ClockTicks, Comm: escape.Printable(st.Comm),
		Cmdline: escape.Printable(proc.Cmdline(st.Pid)), start: st.Start,
	}
	if now > 0 {
		p.Age = math.Round(max(0, now-float64(st.Start)/procfs.ClockTicks)*1000) / 1000
	}
	return p
}

// bootTime returns the seconds since boot, 0 where unknown.
func bootTime() float64 {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts) != nil {
		return 0
	}
	return float64(ts.Sec) + float64(ts.Nsec)/1e9
}

func stateName(st procfs.Stat) string {
	if st.State == 'Z' && st.Threads > 1 {
		return "Z+threads"
	}
	return string(st.State)
}

// details reads threads, descriptors and test identity of each process.
func (b *builder) details() {
	b.fds = map[int][]procfs.FD{}
	b.errKind = map[string]error{}
	b.stdio = map[uint64]string{}
	for _, pid := range []int{b.in.Root, b.in.Main} {
		if pid == 0 {
			continue
		}
		who := "tinit's"
		if pid == b.in.Main {
			who = "the main child's"
		}
		for fd, name := range map[int]string{1: "stdout", 2: "stderr"} {
			if t, err := b.proc.Readlink(fmt.Sprintf("%s/%d/fd/%d", procfs.Root, pid, fd)); err == nil {
				if ino, kind := (procfs.FD{Target: t}).Inode(); kind == "pipe" {
					if _, ok := b.stdio[ino]; !ok {
						b.stdio[ino] = who + " " + name
					}
				}
			}
		}
	}
	if fds, err := b.proc.FDs(b.in.Root); err == nil {
		b.fds[b.in.Root] = fds
	}
	for i := range b.d.Processes {
		p := &b.d.Processes[i]
		fds, err := b.proc.FDs(p.Pid)
		if err != nil {
			b.refuse("descriptors", err)
		}
		b.fds[p.Pid] = fds
		for _, fd := range fds {
			if len(p.FDs) < maxFDs {
				p.FDs = append(p.FDs, FD{Num: fd.Num, Target: escape.Printable(fd.Target), Mode: mode(fd)})
			}
		}
		p.Test = b.testOf(p)
		if b.in.Brief {
			continue
		}
		b.threads(p)
		isGo, err := b.proc.IsGo(p.Pid)
		if err != nil {
			b.refuse("executables", err)
		}
		p.Go = isGo
		p.GoTest = isGo && goTest(p.Cmdline) != ""
	}
	for pid, fds := range b.fds {
		for _, fd := range fds {
			ino, kind := fd.Inode()
			if kind != "pipe" {
				continue
			}
			pp := b.pipes[ino]
			if pp == nil {
				pp = &Pipe{Inode: ino, Readers: []int{}, Writers: []int{}}
				b.pipes[ino] = pp
			}
			if fd.Reads() && !slices.Contains(pp.Readers, pid) {
				pp.Readers = append(pp.Readers, pid)
			}
			if fd.Writes() && !slices.Contains(pp.Writers, pid) {
				pp.Writers = append(pp.Writers, pid)
			}
		}
	}
	if !b.in.Brief {
		b.unixSockets()
	}
	for _, pp := range b.pipes {
		slices.Sort(pp.Readers)
		slices.Sort(pp.Writers)
		b.d.Pipes = append(b.d.Pipes, *pp)
	}
	sort.Slice(b.d.Pipes, func(i, j int) bool { return b.d.Pipes[i].Inode < b.d.Pipes[j].Inode })
}

func mode(fd procfs.FD) string {
	switch {
	case fd.Reads() && fd.Writes():
		return "rw"
	case fd.Writes():
		return "w"
	case fd.Reads():
		return "r"
	}
	return ""
}

// maxThreads bounds the threads read per process (a Go test binary has a
// dozen; a process with thousands is summarised by its first ones).
const maxThreads = 64

func (b *builder) threads(p *Process) {
	tids, err := b.proc.Tasks(p.Pid)
	if err != nil {
		return
	}
	for _, tid := range tids[:min(len(tids), maxThreads)] {
		st, err := b.proc.TaskStat(p.Pid, tid)
		if err != nil {
			continue
		}
		th := Thread{Tid: tid, State: string(st.State)}
		w, err := b.proc.Wchan(p.Pid, tid)
		if err != nil {
			b.refuse("wait channels", err)
		}
		th.Wchan = w
		// The system call of the main thread only: reading it waits for
		// the thread to be off a CPU, which costs more than the rest of
		// the thread's reads together (threads blocked on a pipe or a
		// socket have theirs read when explained).
		if st.State != 'R' && tid == p.Pid {
			switch sc, err := b.proc.Syscall(p.Pid, tid); {
			case err != nil:
				b.refuse("system calls", err)
			case sc.Nr >= 0:
				th.Syscall = syscallName(sc.Nr)
			}
		}
		p.Threads = append(p.Threads, th)
	}
}

// refuse notes one thing that could not be read (a process gone meanwhile
// is not a refusal).
func (b *builder) refuse(what string, err error) {
	if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
		b.refused[what]++
		b.errKind[what] = err
	}
}

// testOf names the test p belongs to.
func (b *builder) testOf(p *Process) string {
	if env, err := b.proc.Environ(p.Pid); err == nil {
		var bin, name string
		for _, kv := range env {
			if v, ok := strings.CutPrefix(kv, "NEXTEST_BINARY_ID="); ok {
				bin = v
			}
			if v, ok := strings.CutPrefix(kv, "NEXTEST_TEST_NAME="); ok {
				name = v
			}
		}
		if name != "" {
			return escape.Printable(strings.TrimSpace(bin + " " + name))
		}
	} else {
		b.refuse("environments", err)
	}
	if t := goTest(p.Cmdline); t != "" {
		return t
	}
	// A child of a test is that test's.
	if parent := b.byPid[p.PPid]; parent != nil && parent.Test != "" {
		return parent.Test
	}
	return ""
}

// goTest names a Go test binary from its command line: "pkg.test" and its
// -test.run pattern.
func goTest(cmdline string) string {
	f := strings.Fields(cmdline)
	if len(f) == 0 || !strings.HasSuffix(filepath.Base(f[0]), ".test") {
		return ""
	}
	name := filepath.Base(f[0])
	for i, a := range f {
		a = strings.TrimPrefix(a, "-")
		if v, ok := strings.CutPrefix(a, "-test.run="); ok {
			return name + " -test.run=" + v
		}
		if v, ok := strings.CutPrefix(a, "test.run="); ok {
			return name + " -test.run=" + v
		}
		if (a == "test.run" || a == "-test.run") && i+1 < len(f) {
			return name + " -test.run=" + f[i+1]
		}
	}
	return name
}

// unixSockets finds the peers of the unix sockets the tree holds.
func (b *builder) unixSockets() {
	b.sockets = map[uint64][]int{}
	for pid, fds := range b.fds {
		for _, fd := range fds {
			if ino, kind := fd.Inode(); kind == "socket" && !slices.Contains(b.sockets[ino], pid) {
				b.sockets[ino] = append(b.sockets[ino], pid)
			}
		}
	}
	if len(b.sockets) == 0 {
		return
	}
	peers, err := unixPeers(b.proc)
	if err != nil {
		b.refused["unix socket peers"]++
		b.errKind["unix socket peers"] = err
	}
	b.peers = peers
	for i := range b.d.Processes {
		p := &b.d.Processes[i]
		for j := range p.FDs {
			if ino, kind := (procfs.FD{Target: p.FDs[j].Target}).Inode(); kind == "socket" {
				p.FDs[j].Peer = peers[ino]
			}
		}
	}
}
