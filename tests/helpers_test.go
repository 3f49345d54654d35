package tests

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"github.com/tinit-dev/tinit/internal/orphan"
	"github.com/tinit-dev/tinit/internal/procfs"
	"golang.org/x/sys/unix"
)

// The test binary re-executed with an argument -helper=NAME runs that
// helper instead of the tests, with the arguments that follow as its own.
const helperArg = "-helper="

var helpers = map[string]func(args []string) int{
	"exit":     helperExit,
	"killself": helperKillSelf,
	"record":   helperRecord,
	"storm":    helperStorm,
	"churn":    helperChurn,
	"daemons":  helperDaemons,
	"middle":   helperMiddle,
	"sleeper":  helperSleeper,
	"stubborn": helperStubborn,
	"fds":      helperFds,
	"closefd3": helperCloseFd3,
	"launch":   helperLaunch,
	"sleepfor": helperSleepFor,
	"leave":    helperLeave,
	"pid1":     helperPid1,
	"regroup":  helperRegroup,
	"stay":     helperStay,
	"chain":    helperChain,
	"frozen":   helperFrozen,
	"ids":      helperIDs,
	"holdout":  helperHoldout,
	"leader":   helperLeader,
	"private":  helperPrivate,
}

// The leader helper must end its main thread, which only the main
// goroutine, locked to it from init, can do.
func init() {
	if name, _, ok := helperCall(os.Args[1:]); ok && name == "leader" {
		runtime.LockOSThread()
	}
}

// helperCall finds -helper=NAME in the arguments of the test binary.
func helperCall(argv []string) (name string, args []string, ok bool) {
	for i, a := range argv {
		if name, ok := strings.CutPrefix(a, helperArg); ok {
			return name, argv[i+1:], true
		}
	}
	return "", nil, false
}

func runHelper(name string, args []string) int {
	f, ok := helpers[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown helper %q\n", name)
		return 2
	}
	return f(args)
}

// reexec builds a command that runs another helper of this binary.
func reexec(name string, args ...string) *exec.Cmd {
	return exec.Command(os.Args[0], helper(name, args...)[1:]...)
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// blockForever parks the helper without tripping the Go runtime's deadlock
// detector.
func blockForever() {
	for {
		time.Sleep(time.Hour)
	}
}

// exit CODE
func helperExit(args []string) int { return atoi(args[0]) }

// killself SIGNUM: die of a signal, whatever the Go runtime would do with
// it: the disposition is set to SIG_DFL behind the runtime's back first.
func helperKillSelf(args []string) int {
	sig := syscall.Signal(atoi(args[0]))
	var sa [4]uint64 // struct sigaction as rt_sigaction takes it; all zero is SIG_DFL
	unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&sa)), 0, 8, 0, 0)
	unix.Kill(os.Getpid(), sig)
	time.Sleep(5 * time.Second)
	return 1
}

// record FILE [child]: append the name of every signal received to FILE,
// say "ready" on stdout, and exit 0 after SIGINT or SIGTERM. With "child",
// first start a second recorder in the same process group writing to
// FILE.child, so group delivery can be checked.
func helperRecord(args []string) int {
	file := args[0]
	ch := make(chan os.Signal, 64)
	signal.Notify(ch, recordedSignals...)
	if len(args) > 1 && args[1] == "child" {
		sub := reexec("record", file+".child")
		out, _ := sub.StdoutPipe()
		if err := sub.Start(); err != nil {
			return 3
		}
		var b [6]byte
		out.Read(b[:]) // its "ready"
	}
	f, err := os.OpenFile(file, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 3
	}
	os.Stdout.WriteString("ready\n")
	for s := range ch {
		fmt.Fprintf(f, "%d\n", s.(syscall.Signal))
		if s == syscall.SIGINT || s == syscall.SIGTERM {
			return 0
		}
	}
	return 1
}

// recordedSignals are the signals the record helper catches: every one
// tinit forwards, and some it must not (tinit's own business). SIGURG, 32
// and 34 the Go runtime keeps for itself; the C recorder (sigrec) sees them.
var recordedSignals = func() []os.Signal {
	sigs := []os.Signal{
		syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGUSR1,
		syscall.SIGUSR2, syscall.SIGALRM, syscall.SIGTERM, syscall.SIGWINCH,
		syscall.SIGCONT, syscall.SIGTSTP, syscall.SIGXCPU, syscall.SIGXFSZ,
		syscall.SIGVTALRM, syscall.SIGIO, syscall.SIGPWR,
		syscall.SIGABRT, syscall.SIGPIPE, syscall.SIGTTIN, syscall.SIGTTOU,
		syscall.SIGSEGV, syscall.SIGBUS, syscall.SIGFPE, syscall.SIGILL,
		syscall.SIGTRAP, syscall.SIGSYS,
	}
	for s := 35; s <= 64; s++ {
		sigs = append(sigs, syscall.Signal(s))
	}
	return sigs
}()

// storm N CODE: make N orphans, wait until tinit has reaped every one of
// them (no zombie left under tinit), then exit CODE. If zombies remain after
// 10 seconds, exit 99 and print how many.
func helperStorm(args []string) int {
	n, code := atoi(args[0]), atoi(args[1])
	for i := 0; i < n; i++ {
		middle, err := orphan.Spawn()
		if err != nil {
			fmt.Println("spawn:", err)
			return 98
		}
		var ws unix.WaitStatus
		unix.Wait4(middle, &ws, 0, nil)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		z := zombiesOf(os.Getppid())
		if z == 0 {
			return code
		}
		if time.Now().After(deadline) {
			fmt.Println("zombies left:", z)
			return 99
		}
		time.Sleep(time.Millisecond)
	}
}

// zombiesOf counts zombie children of ppid.
func zombiesOf(ppid int) int {
	n := 0
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		f := strings.Fields(string(b[i+1:]))
		if len(f) > 1 && f[0] == "Z" && atoi(f[1]) == ppid {
			n++
		}
	}
	return n
}

// churn K CODE: leave K orphans being reaped (middles not waited for either)
// and exit CODE at once, racing tinit's reaping of the orphans.
func helperChurn(args []string) int {
	for i := 0; i < atoi(args[0]); i++ {
		orphan.Spawn()
	}
	return atoi(args[1])
}

// daemons N MARKER [CODE]: start N daemons the classic way (a middle
// process in a new session starts the daemon and exits), each ignoring
// SIGTERM, and exit CODE once all are up.
func helperDaemons(args []string) int {
	n, marker := atoi(args[0]), args[1]
	code := 0
	if len(args) > 2 {
		code = atoi(args[2])
	}
	for i := 0; i < n; i++ {
		mid := reexec("middle", marker)
		mid.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if out, err := mid.CombinedOutput(); err != nil {
			fmt.Printf("middle: %v %s\n", err, out)
			return 3
		}
	}
	fmt.Println("daemons up")
	return code
}

// middle MARKER [KIND...]: start a sleeper with the same arguments, wait
// until it has said "ok" (and, for the stop kinds, until it has stopped),
// exit.
func helperMiddle(args []string) int {
	s := reexec("sleeper", args...)
	out, _ := s.StdoutPipe()
	if err := s.Start(); err != nil {
		return 3
	}
	var b [2]byte
	if n, _ := out.Read(b[:]); n != 2 {
		return 4
	}
	if len(args) > 1 && strings.HasPrefix(args[1], "stop") {
		for procState(s.Process.Pid) != "T" {
			time.Sleep(time.Millisecond)
		}
	}
	return 0
}

// evilName is a command name that would retitle a terminal, ring its bell
// and start control sequences, bare and as UTF-8 (U+009B), if written raw;
// and it is not valid UTF-8 (a comm holds 15 bytes).
const evilName = "\x1b]0;pwn\x07\x9b\xff\xc2\x9b1m"

// sleeper MARKER [KIND [FILE]]: say "ok", then block forever ignoring
// SIGTERM; with KIND
//
//	busy       keep making orphans instead of blocking
//	stop       stop itself with SIGSTOP
//	stop-term  stop itself, but do not ignore SIGTERM: once continued,
//	           write "SIGTERM" to FILE and exit 0
//	term       on SIGTERM, write "SIGTERM" to FILE and go on blocking
//	evil       name itself with terminal escapes and invalid UTF-8
func helperSleeper(args []string) int {
	kind := ""
	if len(args) > 1 {
		kind = args[1]
	}
	terms := make(chan os.Signal, 1)
	if kind == "stop-term" || kind == "term" {
		signal.Notify(terms, syscall.SIGTERM)
	} else {
		signal.Ignore(syscall.SIGTERM)
	}
	os.Stdout.WriteString("ok")
	os.Stdout.Close()
	switch kind {
	case "busy":
		for {
			if middle, err := orphan.Spawn(); err == nil {
				var ws unix.WaitStatus
				unix.Wait4(middle, &ws, 0, nil)
			}
			time.Sleep(time.Millisecond)
		}
	case "stop":
		syscall.Kill(os.Getpid(), syscall.SIGSTOP)
	case "stop-term":
		syscall.Kill(os.Getpid(), syscall.SIGSTOP)
		<-terms
		os.WriteFile(args[2], []byte("SIGTERM\n"), 0o644)
		return 0
	case "evil":
		name := []byte(evilName + "\x00")
		unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&name[0])), 0, 0, 0)
	case "term":
		<-terms
		os.WriteFile(args[2], []byte("SIGTERM\n"), 0o644)
	}
	blockForever()
	return 0
}

// stubborn MARKER [leaf]: ignore SIGTERM and SIGINT, start a stubborn
// grandchild in the same group (with the marker too, so that a test can
// see the whole tree gone), say "ready", block forever.
func helperStubborn(args []string) int {
	signal.Ignore(syscall.SIGTERM, syscall.SIGINT)
	if len(args) < 2 || args[1] != "leaf" {
		leaf := reexec("stubborn", args[0], "leaf")
		out, _ := leaf.StdoutPipe()
		if err := leaf.Start(); err != nil {
			return 3
		}
		var b [6]byte
		if _, err := io.ReadFull(out, b[:]); err != nil {
			return 4
		}
	}
	os.Stdout.WriteString("ready\n")
	blockForever()
	return 0
}

// fds: print the open descriptor numbers, sorted, on one line.
func helperFds(args []string) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 3
	}
	var fds []int
	for _, e := range ents {
		fd := atoi(e.Name())
		// ReadDir's own descriptor is close-on-exec; everything inherited
		// from tinit is not.
		if flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil && flags&unix.FD_CLOEXEC == 0 {
			fds = append(fds, fd)
		}
	}
	slices.Sort(fds)
	fmt.Println(strings.Trim(fmt.Sprint(fds), "[]"))
	return 0
}

// closefd3: close the inherited descriptor 3, say "closed", block.
func helperCloseFd3(args []string) int {
	if err := unix.Close(3); err != nil {
		fmt.Println("close 3:", err)
		return 3
	}
	os.Stdout.WriteString("closed\n")
	blockForever()
	return 0
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
func helperLaunch(args []string) int {
	i := slices.Index(args, "--")
	if i < 0 || i == len(args)-1 {
		fmt.Fprintln(os.Stderr, "launch: want OPTIONS -- ARGV")
		return 2
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
				return 3
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
				fmt.Fprintln(os.Stderr, "launch: setrlimit:", err)
				return 3
			}
		default:
			fmt.Fprintf(os.Stderr, "launch: unknown option %q\n", o)
			return 2
		}
	}
	if len(rules) > 0 {
		if err := installFilter(rules); err != nil {
			fmt.Fprintln(os.Stderr, "launch:", err)
			return 3
		}
	}
	for _, fd := range closing {
		unix.Close(fd)
	}
	err := unix.Exec(argv[0], argv, os.Environ())
	fmt.Fprintln(os.Stderr, "launch: exec:", err)
	return 4
}

// sleepfor DURATION: sleep, then exit 0.
func helperSleepFor(args []string) int {
	d, _ := time.ParseDuration(args[0])
	time.Sleep(d)
	return 0
}

// leave MARKER KIND [FILE]: leave one daemon (see sleeper for KIND and
// FILE), then exit 0.
func helperLeave(args []string) int {
	mid := reexec("middle", args...)
	mid.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := mid.Run(); err != nil {
		return 3
	}
	return 0
}

// stay MARKER KIND [FILE]: like leave, but the daemon stays in this
// process's group and session.
func helperStay(args []string) int {
	if err := reexec("middle", args...).Run(); err != nil {
		return 3
	}
	return 0
}

// chain MARKER N: start a fork-and-exit chain of N links (orphan.Chain),
// wait for its first link, exit 0. The links carry the marker in their
// command line, as copies of this process.
func helperChain(args []string) int {
	first, err := orphan.Chain(atoi(args[1]))
	if err != nil {
		fmt.Println("chain:", err)
		return 3
	}
	var ws unix.WaitStatus
	unix.Wait4(first, &ws, 0, nil)
	return 0
}

// frozen MARKER DIR: leave a daemon (as leave does) in the cgroup v1
// freezer group DIR, freeze the group and exit 0 once it is frozen. A
// frozen task cannot act on SIGKILL until thawed: an unkillable leftover.
func helperFrozen(args []string) int {
	dir := args[1]
	join := func(group string) error {
		return os.WriteFile(group+"/cgroup.procs", []byte(strconv.Itoa(os.Getpid())), 0o644)
	}
	if err := join(dir); err != nil {
		fmt.Println("join freezer group:", err)
		return 3
	}
	mid := reexec("middle", args[0])
	mid.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := mid.Run(); err != nil {
		return 3
	}
	if err := join(filepath.Dir(dir)); err != nil {
		fmt.Println("leave freezer group:", err)
		return 3
	}
	if err := os.WriteFile(dir+"/freezer.state", []byte("FROZEN"), 0o644); err != nil {
		fmt.Println("freeze:", err)
		return 3
	}
	for {
		b, _ := os.ReadFile(dir + "/freezer.state")
		if strings.TrimSpace(string(b)) == "FROZEN" {
			return 0
		}
		time.Sleep(time.Millisecond)
	}
}

// ids [FILE]: print "PID PGID SID FOREGROUND", the last the foreground
// process group of the terminal on stdin, or -1 without one, to stdout or
// FILE.
func helperIDs(args []string) int {
	sid, _ := unix.Getsid(0)
	fg, err := unix.IoctlGetInt(0, unix.TIOCGPGRP)
	if err != nil {
		fg = -1
	}
	line := fmt.Sprintln(os.Getpid(), syscall.Getpgrp(), sid, fg)
	if len(args) > 0 {
		if err := os.WriteFile(args[0], []byte(line), 0o644); err != nil {
			return 3
		}
		return 0
	}
	os.Stdout.WriteString(line)
	return 0
}

// holdout MARKER: leave a daemon (in a session of its own) that holds
// this process's stdout and stderr, and whose main thread has exited while
// its other threads run (see leader), then exit 0. A reader of the run's
// output reaches EOF only once the daemon is gone.
func helperHoldout(args []string) int {
	rd, wr, err := os.Pipe()
	if err != nil {
		return 3
	}
	d := reexec("leader", args...)
	d.Stdout, d.Stderr, d.ExtraFiles = os.Stdout, os.Stderr, []*os.File{wr}
	d.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := d.Start(); err != nil {
		return 3
	}
	wr.Close()
	if b, _ := io.ReadAll(rd); string(b) != "ok" {
		fmt.Fprintf(os.Stderr, "leader said %q\n", b)
		return 4
	}
	// The leader thread is gone once /proc shows the process a zombie
	// with threads.
	for {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", d.Process.Pid))
		if st, perr := procfs.ParseStat(b); err == nil && perr == nil && st.State == 'Z' && st.Threads > 1 {
			return 0
		}
		time.Sleep(time.Millisecond)
	}
}

// leader MARKER: write "ok" to descriptor 3 and close it, then end the
// main thread alone (exit(2), not exit_group): the process goes on in its
// other threads, shown by /proc as a zombie, and ignores SIGTERM.
func helperLeader(args []string) int {
	signal.Ignore(syscall.SIGTERM)
	go blockForever()
	ready := os.NewFile(3, "ready")
	ready.WriteString("ok")
	ready.Close()
	unix.RawSyscall(unix.SYS_EXIT, 0, 0, 0)
	return 0 // not reached
}

// private: start a dumpable child (sleepfor 1h), then make this process
// undumpable, which hides its descriptors, environment and wait channel
// from other processes of the same user, and block.
func helperPrivate(args []string) int {
	if err := reexec("sleepfor", "1h").Start(); err != nil {
		return 3
	}
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return 3
	}
	os.Stdout.WriteString("ready\n")
	blockForever()
	return 0
}

// pid1 ARGV...: as PID 1 of new pid and mount namespaces, mount a private
// /proc for the namespace and exec ARGV, which becomes PID 1.
func helperPid1(args []string) int {
	// Only ever in the namespaces pid1Command makes: mounting /proc
	// anywhere else would stack a mount on the host's /proc.
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "the pid1 helper must run as PID 1 of fresh namespaces (pid1Command)")
		return 125
	}
	if err := unix.Mount("", "/", "", unix.MS_PRIVATE|unix.MS_REC, ""); err != nil {
		fmt.Fprintln(os.Stderr, "make mounts private:", err)
		return 125
	}
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		fmt.Fprintln(os.Stderr, "mount /proc:", err)
		return 125
	}
	err := unix.Exec(args[0], args, os.Environ())
	fmt.Fprintln(os.Stderr, "exec:", err)
	return 125
}

// regroup FILE: leave the process group tinit made, for the group of a
// child of ours, then record signals like record.
func helperRegroup(args []string) int {
	sub := reexec("sleeper", "regroup")
	sub.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := sub.Start(); err != nil {
		return 3
	}
	if err := syscall.Setpgid(0, sub.Process.Pid); err != nil {
		fmt.Println("setpgid:", err)
		return 3
	}
	return helperRecord(args)
}
