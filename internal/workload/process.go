package workload

import (
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

func init() {
	Register("exit", exit)
	Register("sleepfor", sleepFor)
	Register("fds", fds)
	Register("closefd3", closeFd3)
	Register("ids", ids)
	Register("pipes", pipes)
	Register("pipe-child", pipeChild)
	Register("pid1", pid1)
	Register("launch", launch)
}

// exit CODE
func exit(args []string) int {
	if !needArgs("exit", args, 1, "CODE") {
		return ExitUsage
	}
	return atoi(args[0])
}

// sleepfor DURATION: sleep, then exit 0.
func sleepFor(args []string) int {
	d, err := time.ParseDuration(arg(args, 0, ""))
	if err != nil {
		return fail("sleepfor", err)
	}
	time.Sleep(d)
	return 0
}

// fds: print the open descriptor numbers, sorted, on one line.
func fds(args []string) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return fail("fds", err)
	}
	var out []int
	for _, e := range ents {
		fd := atoi(e.Name())
		// ReadDir's own descriptor is close-on-exec; everything inherited
		// is not.
		if flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil && flags&unix.FD_CLOEXEC == 0 {
			out = append(out, fd)
		}
	}
	slices.Sort(out)
	fmt.Println(strings.Trim(fmt.Sprint(out), "[]"))
	return 0
}

// closefd3: close the inherited descriptor 3, say "closed", block.
func closeFd3(args []string) int {
	if err := unix.Close(3); err != nil {
		return fail("closefd3", fmt.Errorf("close 3: %w", err))
	}
	Say("closed", "")
	block()
	return 0
}

// ids [FILE]: print "PID PGID SID FOREGROUND", the last the foreground
// process group of the terminal on stdin, or -1 without one, to stdout or
// FILE.
func ids(args []string) int {
	sid, _ := unix.Getsid(0)
	fg, err := unix.IoctlGetInt(0, unix.TIOCGPGRP)
	if err != nil {
		fg = -1
	}
	line := fmt.Sprintln(os.Getpid(), syscall.Getpgrp(), sid, fg)
	if len(args) > 0 {
		return exitOf(os.WriteFile(args[0], []byte(line), 0o644))
	}
	os.Stdout.WriteString(line)
	return 0
}

// PipesResult is what the pipes workload says in its "result" line.
type PipesResult struct {
	Children int   `json:"children"`
	WallNs   int64 `json:"wall_ns"`
	// InitCPUNs is the CPU time the parent (the init) used while the
	// children ran, read from its CPU clock before and after; zero
	// without an init (HasInit false: the workload is PID 1).
	InitCPUNs int64 `json:"init_cpu_ns"`
	HasInit   bool  `json:"has_init"`
}

// pipeOutput is what each pipe child writes.
const pipeOutput = "ok\n"

// pipes K: run K children one after another the way a test runner
// captures output (stdout a pipe, read to EOF, then the child waited
// for), say "result JSON" (a PipesResult) and exit 0. The init is the
// parent of none of them, so an init that does nothing it need not do uses
// no CPU here at all.
func pipes(args []string) int {
	if !needArgs("pipes", args, 1, "K") {
		return ExitUsage
	}
	k := atoi(args[0])
	res := PipesResult{Children: k, HasInit: os.Getpid() != 1}
	initCPU := func() (time.Duration, error) { return 0, nil }
	if res.HasInit {
		parent := os.Getppid()
		initCPU = func() (time.Duration, error) { return ProcessCPU(parent) }
	}
	cpu0, err := initCPU()
	if err != nil {
		return fail("pipes", err)
	}
	start := MonoNow()
	for i := 0; i < k; i++ {
		out, err := Cmd("pipe-child").Output()
		if err != nil || string(out) != pipeOutput {
			return fail("pipes", fmt.Errorf("child %d: %q, %v", i, out, err))
		}
	}
	res.WallNs = MonoNow() - start
	cpu1, err := initCPU()
	if err != nil {
		return fail("pipes", err)
	}
	res.InitCPUNs = int64(cpu1 - cpu0)
	b, _ := json.Marshal(res)
	return exitOf(Say("result", string(b)))
}

// pipe-child: one line on stdout, exit 0.
func pipeChild([]string) int {
	_, err := os.Stdout.WriteString(pipeOutput)
	return exitOf(err)
}

// ExitPID1Failed is the pid1 workload's exit code when it could not
// prepare the namespace: what a missing capability looks like.
const ExitPID1Failed = 125

// PID1Cloneflags are the namespaces AsPID1's command must be cloned into.
const PID1Cloneflags = unix.CLONE_NEWPID | unix.CLONE_NEWNS

// AsPID1 returns the command line that, started with PID1Cloneflags,
// prepares fresh pid and mount namespaces and execs argv as their PID 1,
// as `unshare --pid --fork --mount-proc` would, except that no unshare
// process stays in between: the starter is argv's direct parent, holds no
// copy of descriptors it passes, and signals reach argv itself. With cpu,
// the preparation first says "prep NS", the CPU time it used: the clock
// belongs to the process and goes on through execve, so whoever reads
// argv's CPU clock at its exit subtracts that.
func AsPID1(cpu bool, argv ...string) []string {
	if cpu {
		return Command("pid1", append([]string{"-cpu"}, argv...)...)
	}
	return Command("pid1", argv...)
}

// pid1 [-cpu] ARGV...: as PID 1 of new pid and mount namespaces, make
// every mount private (nothing propagates back to the host), mount a /proc
// for the namespace and exec ARGV, which becomes PID 1. The mounts vanish
// with the namespace.
func pid1(args []string) int {
	// Only ever in the namespaces AsPID1 is for: mounting /proc anywhere
	// else would stack a mount on the host's /proc.
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "workload pid1: must run as PID 1 of fresh namespaces (AsPID1)")
		return ExitPID1Failed
	}
	cpu := len(args) > 0 && args[0] == "-cpu"
	if cpu {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "workload pid1: usage: pid1 [-cpu] ARGV...")
		return ExitPID1Failed
	}
	if err := unix.Mount("", "/", "", unix.MS_PRIVATE|unix.MS_REC, ""); err != nil {
		fmt.Fprintln(os.Stderr, "workload pid1: make mounts private:", err)
		return ExitPID1Failed
	}
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		fmt.Fprintln(os.Stderr, "workload pid1: mount /proc:", err)
		return ExitPID1Failed
	}
	if cpu {
		if err := Say("prep", strconv.FormatInt(int64(OwnCPU()), 10)); err != nil {
			return ExitPID1Failed
		}
	}
	err := unix.Exec(args[0], args, os.Environ())
	fmt.Fprintln(os.Stderr, "workload pid1: exec:", err)
	return ExitPID1Failed
}

// launch OPTION... -- ARGV...: exec ARGV (tinit, usually) the way a
// careless or hostile parent might start it. Options:
//
//	careless        SIGTERM and SIGUSR1 blocked; SIGINT, SIGQUIT, SIGPIPE,
//	                SIGUSR2 and SIGTTOU ignored
//	ignore-chld     SIGCHLD ignored
//	deny=NAME=ERRNO the system call NAME fails with ERRNO (see denials)
//	close=FD,...    these descriptors closed
//	nofile=N        RLIMIT_NOFILE soft and hard limit N
func launch(args []string) int {
	i := slices.Index(args, "--")
	if i < 0 || i == len(args)-1 {
		fmt.Fprintln(os.Stderr, "workload launch: usage: launch OPTIONS -- ARGV")
		return ExitUsage
	}
	opts, argv := args[:i], args[i+1:]
	runtime.LockOSThread()
	var rules []string
	var closing []int
	for _, o := range opts {
		name, value, _ := strings.Cut(o, "=")
		switch name {
		case "careless":
			signal.Ignore(syscall.SIGINT, syscall.SIGQUIT, syscall.SIGPIPE, syscall.SIGUSR2, syscall.SIGTTOU)
			var set unix.Sigset_t
			set.Val[0] = 1<<(unix.SIGTERM-1) | 1<<(unix.SIGUSR1-1)
			if err := unix.PthreadSigmask(unix.SIG_BLOCK, &set, nil); err != nil {
				return fail("launch", err)
			}
		case "ignore-chld":
			signal.Ignore(syscall.SIGCHLD)
		case "deny":
			rules = append(rules, value)
		case "close":
			for _, f := range strings.Split(value, ",") {
				closing = append(closing, atoi(f))
			}
		case "nofile":
			n := uint64(atoi(value))
			if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: n, Max: n}); err != nil {
				return fail("launch", fmt.Errorf("setrlimit: %w", err))
			}
		default:
			fmt.Fprintf(os.Stderr, "workload launch: unknown option %q\n", o)
			return ExitUsage
		}
	}
	if len(rules) > 0 {
		if err := installFilter(rules); err != nil {
			return fail("launch", err)
		}
	}
	for _, fd := range closing {
		unix.Close(fd)
	}
	err := unix.Exec(argv[0], argv, os.Environ())
	fmt.Fprintln(os.Stderr, "workload launch: exec:", err)
	return 4
}
