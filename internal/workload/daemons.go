package workload

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"github.com/tinit-dev/tinit/internal/orphan"
	"github.com/tinit-dev/tinit/internal/procfs"
	"golang.org/x/sys/unix"
)

func init() {
	Register("daemons", daemons)
	Register("middle", middle)
	Register("sleeper", sleeper)
	Register("leave", leave)
	Register("stay", stay)
	Register("stubborn", stubborn)
	Register("holdout", holdout)
	Register("leader", leader)
	Register("frozen", frozen)
	Register("escaper", escaper)
	Register("keepers", keepers)
	Register("keeper", keeper)
	Register("private", private)
}

// daemons N MARKER [CODE]: start N daemons the classic way (a middle
// process in a new session starts the daemon and exits), each ignoring
// SIGTERM and carrying MARKER in its command line, then say "exit NS" and
// exit CODE (default 0) once all are up: an init's SIGTERM cannot arrive
// before they ignore it.
func daemons(args []string) int {
	if !needArgs("daemons", args, 2, "N MARKER [CODE]") {
		return ExitUsage
	}
	n, marker, code := atoi(args[0]), args[1], atoi(arg(args, 2, "0"))
	for i := 0; i < n; i++ {
		mid := Cmd("middle", marker)
		mid.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if out, err := mid.CombinedOutput(); err != nil {
			return fail("daemons", fmt.Errorf("middle %d: %v %s", i, err, out))
		}
	}
	if err := SayExit(); err != nil {
		return fail("daemons", err)
	}
	return code
}

// middle MARKER [KIND...]: start a sleeper with the same arguments, wait
// until it has said "ok" (and, for the stop kinds, until it has stopped),
// exit 0.
func middle(args []string) int {
	s := Cmd("sleeper", args...)
	out, _ := s.StdoutPipe()
	if err := s.Start(); err != nil {
		return fail("middle", err)
	}
	var b [2]byte
	if _, err := io.ReadFull(out, b[:]); err != nil {
		return fail("middle", fmt.Errorf("sleeper said nothing: %w", err))
	}
	if strings.HasPrefix(arg(args, 1, ""), "stop") {
		fs := procfs.New(nil)
		for {
			if st, err := fs.Stat(s.Process.Pid); err == nil && st.State == 'T' {
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
	return 0
}

// EvilName is a command name that would retitle a terminal, ring its bell
// and start control sequences, bare and as UTF-8 (U+009B), if written raw;
// and it is not valid UTF-8 (a comm holds 15 bytes).
const EvilName = "\x1b]0;pwn\x07\x9b\xff\xc2\x9b1m"

// sleeper MARKER [KIND [FILE]]: say "ok", then block forever ignoring
// SIGTERM; with KIND
//
//	busy       keep making orphans instead of blocking
//	stop       stop itself with SIGSTOP
//	stop-term  stop itself, but do not ignore SIGTERM: once continued,
//	           write "SIGTERM" to FILE and exit 0
//	term       on SIGTERM, write "SIGTERM" to FILE and go on blocking
//	evil       name itself EvilName
//	out        move into the cgroup v2 group FILE first
func sleeper(args []string) int {
	kind := arg(args, 1, "")
	if kind == "out" {
		if err := os.WriteFile(args[2]+"/cgroup.procs", []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
			return fail("sleeper", fmt.Errorf("leave the run's cgroup: %w", err))
		}
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
			if mid, err := orphan.Spawn(); err == nil {
				waitFor(mid, false)
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
		name := []byte(EvilName + "\x00")
		unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&name[0])), 0, 0, 0)
	case "term":
		<-terms
		os.WriteFile(args[2], []byte("SIGTERM\n"), 0o644)
	}
	block()
	return 0
}

// leave MARKER KIND [FILE]: leave one daemon (see sleeper for KIND and
// FILE), then exit 0.
func leave(args []string) int {
	mid := Cmd("middle", args...)
	mid.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	return exitOf(mid.Run())
}

// stay MARKER KIND [FILE]: like leave, but the daemon stays in this
// process's group and session.
func stay(args []string) int { return exitOf(Cmd("middle", args...).Run()) }

// stubborn MARKER [leaf]: ignore SIGTERM and SIGINT, start a stubborn
// grandchild in the same group (with the marker too, so that a test can
// see the whole tree gone), say "ready", block forever.
func stubborn(args []string) int {
	signal.Ignore(syscall.SIGTERM, syscall.SIGINT)
	if arg(args, 1, "") != "leaf" {
		leaf := Cmd("stubborn", args[0], "leaf")
		out, _ := leaf.StdoutPipe()
		if err := leaf.Start(); err != nil {
			return fail("stubborn", err)
		}
		var b [6]byte
		if _, err := io.ReadFull(out, b[:]); err != nil {
			return fail("stubborn", err)
		}
	}
	os.Stdout.WriteString("ready\n")
	block()
	return 0
}

// holdout MARKER: leave a daemon (in a session of its own) that holds
// this process's stdout and stderr, and whose main thread has exited while
// its other threads run (see leader), then exit 0. A reader of the run's
// output reaches EOF only once the daemon is gone.
func holdout(args []string) int {
	rd, wr, err := os.Pipe()
	if err != nil {
		return fail("holdout", err)
	}
	d := Cmd("leader", args...)
	d.Stdout, d.Stderr, d.ExtraFiles = os.Stdout, os.Stderr, []*os.File{wr}
	d.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := d.Start(); err != nil {
		return fail("holdout", err)
	}
	wr.Close()
	if b, _ := io.ReadAll(rd); string(b) != "ok" {
		return fail("holdout", fmt.Errorf("leader said %q", b))
	}
	// The leader thread is gone once /proc shows the process a zombie
	// with threads.
	fs := procfs.New(nil)
	for {
		if st, err := fs.Stat(d.Process.Pid); err == nil && st.State == 'Z' && st.Threads > 1 {
			return 0
		}
		time.Sleep(time.Millisecond)
	}
}

// leader MARKER: write "ok" to descriptor 3 and close it, then end the
// main thread alone (exit(2), not exit_group): the process goes on in its
// other threads, shown by /proc as a zombie, and ignores SIGTERM.
func leader(args []string) int {
	signal.Ignore(syscall.SIGTERM)
	go block()
	ready := os.NewFile(3, "ready")
	ready.WriteString("ok")
	ready.Close()
	unix.RawSyscall(unix.SYS_EXIT, 0, 0, 0)
	return 0 // not reached
}

// frozen MARKER DIR: leave a daemon (as leave does) in the cgroup v1
// freezer group DIR, freeze the group and exit 0 once it is frozen. A
// frozen task cannot act on SIGKILL until thawed: an unkillable leftover.
func frozen(args []string) int {
	if !needArgs("frozen", args, 2, "MARKER DIR") {
		return ExitUsage
	}
	dir := args[1]
	join := func(group string) error {
		return os.WriteFile(group+"/cgroup.procs", []byte(strconv.Itoa(os.Getpid())), 0o644)
	}
	if err := join(dir); err != nil {
		return fail("frozen", fmt.Errorf("join freezer group: %w", err))
	}
	mid := Cmd("middle", args[0])
	mid.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := mid.Run(); err != nil {
		return fail("frozen", err)
	}
	if err := join(filepath.Dir(dir)); err != nil {
		return fail("frozen", fmt.Errorf("leave freezer group: %w", err))
	}
	if err := os.WriteFile(dir+"/freezer.state", []byte("FROZEN"), 0o644); err != nil {
		return fail("frozen", fmt.Errorf("freeze: %w", err))
	}
	for {
		b, _ := os.ReadFile(dir + "/freezer.state")
		if strings.TrimSpace(string(b)) == "FROZEN" {
			return 0
		}
		time.Sleep(time.Millisecond)
	}
}

// escaper MARKER DIR: move into the cgroup v2 group DIR, out of the run's
// own, start a SIGTERM-ignoring daemon there as "daemons" does, exit 0.
// The daemon is a leftover that a cgroup.kill of the run's group misses.
func escaper(args []string) int {
	if !needArgs("escaper", args, 2, "MARKER DIR") {
		return ExitUsage
	}
	if err := os.WriteFile(args[1]+"/cgroup.procs", []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return fail("escaper", fmt.Errorf("leave the run's cgroup: %w", err))
	}
	mid := Cmd("middle", args[0])
	mid.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := mid.Run(); err != nil {
		return fail("escaper", err)
	}
	return 0
}

// keepers N MARKER DIR: start N keepers, each in a session of its own,
// wait until each has said "ok", exit 0.
func keepers(args []string) int {
	if !needArgs("keepers", args, 3, "N MARKER DIR") {
		return ExitUsage
	}
	for range atoi(args[0]) {
		k := Cmd("keeper", args[1:]...)
		k.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := startSaying(k, "ok"); err != nil {
			return fail("keepers", err)
		}
	}
	return 0
}

// keeper MARKER DIR: ignoring SIGTERM, in the run's cgroup, keep a child
// that has moved itself into the cgroup v2 group DIR (a sleeper, "out");
// say "ok" once the child has, then block.
func keeper(args []string) int {
	if !needArgs("keeper", args, 2, "MARKER DIR") {
		return ExitUsage
	}
	signal.Ignore(syscall.SIGTERM)
	if err := startSaying(Cmd("sleeper", args[0], "out", args[1]), "ok"); err != nil {
		return fail("keeper", err)
	}
	os.Stdout.WriteString("ok")
	os.Stdout.Close()
	block()
	return 0
}

// startSaying starts cmd and waits until it has written want on its
// standard output.
func startSaying(cmd *exec.Cmd, want string) error {
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	b := make([]byte, len(want))
	if _, err := io.ReadFull(out, b); err != nil || string(b) != want {
		return fmt.Errorf("%s said %q (%v), want %q", cmd.Args[0], b, err, want)
	}
	return nil
}

// private: start a dumpable child (sleepfor 1h), then make this process
// undumpable, which hides its descriptors, environment and wait channel
// from other processes of the same user, say "ready" and block.
func private(args []string) int {
	if err := Cmd("sleepfor", "1h").Start(); err != nil {
		return fail("private", err)
	}
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fail("private", err)
	}
	os.Stdout.WriteString("ready\n")
	block()
	return 0
}
