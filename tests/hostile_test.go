package tests

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/tinit-dev/tinit/internal/orphan"
	"github.com/tinit-dev/tinit/internal/procfs"
	"github.com/tinit-dev/tinit/internal/testenv"
	"golang.org/x/sys/unix"
)

// TestLeaderGoneThreadsLive leaves a daemon whose main thread has exited
// while its other threads run, holding tinit's stdout and stderr: /proc
// shows it as a zombie, and cgroup.kill does not end it. tinit must, or a
// reader of its output never sees EOF (the hang tinit exists to prevent).
func TestLeaderGoneThreadsLive(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		marker := newMarker(t)
		r := start(t, m, spec{flags: []string{"-v", "--grace", "100ms"}, argv: helper("holdout", marker)})
		if code := r.wait(30 * time.Second); code != 0 {
			t.Errorf("exit code %d, want 0", code)
		}
		if errors.Is(r.waitErr, exec.ErrWaitDelay) {
			t.Errorf("tinit's output never reached EOF: a leftover still holds it")
		}
		if left := marked(marker); len(left) != 0 {
			t.Errorf("the daemon with a dead leader survived: %v", left)
		}
		if len(r.logs("descendants remain after SIGKILL; exiting without them")) != 0 {
			t.Errorf("tinit gave up:\n%s", r.stderr.String())
		}
	})
}

// soakRuns is how many fork chains the soak test ends per mode.
const soakRuns = 100

// TestForkChainSoak ends soakRuns fork-and-exit chains in each mode that
// has no cgroup to do it atomically: the walk must stop every one. It runs
// with TINIT_SOAK=1 (make soak, part of make test).
func TestForkChainSoak(t *testing.T) {
	if os.Getenv("TINIT_SOAK") != "1" {
		t.Skip("soak test: run with TINIT_SOAK=1 (make soak)")
	}
	if _, err := orphan.Chain(1); errors.Is(err, orphan.ErrUnsupported) {
		testenv.Need(t, "orphans", err)
	}
	for _, m := range []mode{modeNamed("subreaper-nocgroup"), modeNamed("subreaper-nopidfd")} {
		t.Run(m.name, func(t *testing.T) {
			for i := 0; i < soakRuns; i++ {
				runChain(t, m)
				if t.Failed() {
					t.Fatalf("run %d of %d: the chain survived", i+1, soakRuns)
				}
			}
		})
	}
}

// TestCgroupWithoutProc: where /proc shows another pid namespace, a run
// with a cgroup of its own still finds and ends everything through it, a
// daemon in its own session included.
func TestCgroupWithoutProc(t *testing.T) {
	unshare, err := exec.LookPath("unshare")
	testenv.Need(t, "unshare", err)
	testenv.Need(t, "pid1", pid1Err)
	writableCgroup(t)
	inGroup, inSession := newMarker(t), newMarker(t)
	r, code := runUnderUnshare(t, unshare, []string{"-v", "--grace", "100ms"}, inGroup, inSession)
	if code != "0" {
		t.Errorf("tinit exited %q, want 0; stderr:\n%s", code, r.stderr.String())
	}
	st := r.logs("main child started")
	if len(st) != 1 || st[0].str("killer") != "cgroup" {
		t.Errorf("want the run's cgroup as killer, got %v", st)
	}
	if len(r.logs("descendants remain after SIGKILL; exiting without them")) != 0 {
		t.Errorf("tinit gave up:\n%s", r.stderr.String())
	}
	if left := append(marked(inGroup), marked(inSession)...); len(left) != 0 {
		t.Errorf("leftovers survived: %v", left)
	}
}

// runUnderUnshare runs tinit with flags as pid 2 of a fresh pid namespace
// whose /proc is the parent's, over a command that leaves one daemon in
// its process group (marker inGroup) and one in a session of its own
// (inSession). The namespace's PID 1 is a shell that notes tinit's exit
// code and stays, so that what tinit could not reach is still there to be
// seen.
func runUnderUnshare(t *testing.T, unshare string, flags []string, inGroup, inSession string) (*run, string) {
	t.Helper()
	dir := t.TempDir()
	code := filepath.Join(dir, "code")
	// The script is a file, so that no shell's command line carries the
	// markers.
	leave := filepath.Join(dir, "leave.sh")
	body := fmt.Sprintf("%s & %s; wait\n", strings.Join(helper("stay", inGroup), " "), strings.Join(helper("leave", inSession, "plain"), " "))
	if err := os.WriteFile(leave, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	outer := `"$@"; echo $? > ` + code + `; exec sleep 3600`
	args := append(append([]string{"--pid", "--fork", "sh", "-c", outer, "sh", tinitBin}, flags...), "--", "sh", leave)
	r := launch(t, modeNamed("subreaper"), exec.Command(unshare, args...), false)
	waitFor(t, 30*time.Second, "tinit to exit", func() bool {
		b, err := os.ReadFile(code)
		return err == nil && strings.HasSuffix(string(b), "\n")
	})
	b, _ := os.ReadFile(code)
	return r, strings.TrimSpace(string(b))
}

// TestCgroupNamesAcrossNamespaces runs two tinits at once, each pid 2 of a
// pid namespace of its own, in the same cgroup: each must get a cgroup of
// its own, and neither may touch the other's, nor a directory it did not
// make.
func TestCgroupNamesAcrossNamespaces(t *testing.T) {
	unshare, err := exec.LookPath("unshare")
	testenv.Need(t, "unshare", err)
	testenv.Need(t, "pid1", pid1Err)
	parent := writableCgroup(t)
	// A directory that looks like a run's, of a live owner (this test):
	// never removed.
	foreign := filepath.Join(parent, fmt.Sprintf("tinit-%d-%d-%d-0badc0de", pidNS(t), os.Getpid(), selfStart(t)))
	if err := os.Mkdir(foreign, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(foreign) })
	var runs []*run
	dirs := make([]string, 2)
	for i := range dirs {
		dirs[i] = filepath.Join(t.TempDir(), "cgroup")
		script := `sed -n 's/^0:://p' /proc/self/cgroup > ` + dirs[i] + `; ` + strings.Join(helper("sleepfor", "300ms"), " ")
		args := []string{"--pid", "--fork", "--mount-proc", "sh", "-c", `"$@"; exit $?`, "sh", tinitBin, "-v", "--", "sh", "-c", script}
		runs = append(runs, launch(t, modeNamed("subreaper"), exec.Command(unshare, args...), false))
	}
	var pids []float64
	for i, r := range runs {
		if code := r.wait(30 * time.Second); code != 0 {
			t.Errorf("run %d: exit code %d; stderr:\n%s", i, code, r.stderr.String())
		}
		st := r.logs("main child started")
		if len(st) != 1 {
			t.Fatalf("run %d: want its main child started, got %v", i, st)
		}
		if cg, _ := st[0].flag("cgroup"); !cg {
			t.Errorf("run %d: no cgroup of its own:\n%s", i, r.stderr.String())
		}
		pids = append(pids, st[0].num("pid"))
	}
	// Same pids in both namespaces: a name made of the pid alone would
	// collide.
	if pids[0] != pids[1] {
		t.Logf("the two namespaces gave the commands pids %v", pids)
	}
	a, _ := os.ReadFile(dirs[0])
	b, _ := os.ReadFile(dirs[1])
	if string(a) == string(b) || !strings.Contains(string(a), "/tinit-") {
		t.Errorf("the two runs' cgroups: %q and %q, want two of tinit's", a, b)
	}
	if _, err := os.Stat(foreign); err != nil {
		t.Errorf("a directory tinit did not make was removed: %v", err)
	}
}

func pidNS(t *testing.T) uint64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat("/proc/self/ns/pid", &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

func selfStart(t *testing.T) uint64 {
	t.Helper()
	st, err := procfs.New(nil).Stat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	return st.Start
}

// TestStaleCgroupRemoved SIGKILLs a tinit, which leaves its cgroup behind,
// and checks that the next run removes it: the name proves its maker dead.
func TestStaleCgroupRemoved(t *testing.T) {
	parent := writableCgroup(t)
	r := start(t, modeNamed("subreaper"), spec{flags: []string{"-v"}, argv: helper("stubborn", newMarker(t), "leaf")})
	r.waitOutput("ready", 10*time.Second)
	dir := ownCgroup(t, childOf(t, r.tinitPid()))
	r.signal(syscall.SIGKILL)
	if code := r.wait(10 * time.Second); code != 137 {
		t.Fatalf("exit code %d, want 137", code)
	}
	waitFor(t, 10*time.Second, "the killed run's cgroup to empty", func() bool {
		b, err := os.ReadFile(filepath.Join(parent, dir, "cgroup.procs"))
		return err == nil && len(b) == 0
	})
	next := start(t, modeNamed("subreaper"), spec{flags: []string{"-v"}, argv: []string{"true"}})
	if code := next.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if _, err := os.Stat(filepath.Join(parent, dir)); !os.IsNotExist(err) {
		t.Errorf("the killed run's cgroup %s is still there (%v):\n%s", dir, err, next.stderr.String())
	}
	rm := next.logs("removed cgroups of earlier runs")
	if len(rm) != 1 || !strings.Contains(fmt.Sprint(rm[0]["removed"]), dir) {
		t.Errorf("want the removal logged, got %v", rm)
	}
}

// ownCgroup returns the name of the cgroup v2 group pid is in.
func ownCgroup(t *testing.T, pid int) string {
	t.Helper()
	rel, err := procfs.New(nil).Cgroup2(pid)
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Base(rel)
}

// TestConsoleLogQuotesProcessStrings leaves a daemon named with terminal
// escapes and invalid UTF-8, and reads tinit's log on a terminal (console
// format) and as JSON: the bytes must never come through raw.
func TestConsoleLogQuotesProcessStrings(t *testing.T) {
	for _, console := range []bool{true, false} {
		t.Run(fmt.Sprintf("console=%v", console), func(t *testing.T) {
			marker := newMarker(t)
			s := spec{flags: []string{"-v", "--grace", "0"}, argv: helper("leave", marker, "evil")}
			var master *os.File
			if console {
				var slave *os.File
				master, slave = openPty(t)
				s.stderr = slave
			}
			r := start(t, modeNamed("subreaper"), s)
			if code := r.wait(30 * time.Second); code != 0 {
				t.Errorf("exit code %d", code)
			}
			out := r.stderr.String()
			if console {
				out = drainPty(t, master)
			}
			if !strings.Contains(out, "leftover process") {
				t.Fatalf("no leftover named in the log:\n%q", out)
			}
			for _, b := range []string{"\x1b", "\x07", "\x9b", "\xff"} {
				if strings.Contains(out, b) {
					t.Errorf("the log carries the byte %q raw:\n%q", b, out)
				}
			}
			if console && !strings.Contains(out, `\x1b]0;pwn\a`) {
				t.Errorf("the leftover's name is not shown quoted:\n%s", out)
			}
		})
	}
}

// drainPty reads what the terminal's other end has: tinit has exited, so
// nothing more comes once a read times out.
func drainPty(t *testing.T, master *os.File) string {
	t.Helper()
	var out []byte
	buf := make([]byte, 4096)
	for {
		master.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		n, err := master.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			return string(out)
		}
	}
}

// TestSigqueueFaultSignals sends SIGSEGV, SIGBUS, SIGFPE and the other
// fault signals with sigqueue(2), which the Go runtime would take for real
// faults: tinit must not crash, and must go on forwarding.
func TestSigqueueFaultSignals(t *testing.T) {
	faults := []syscall.Signal{syscall.SIGSEGV, syscall.SIGBUS, syscall.SIGFPE, syscall.SIGILL, syscall.SIGTRAP, syscall.SIGSYS, syscall.SIGABRT}
	forEachMode(t, func(t *testing.T, m mode) {
		file := filepath.Join(t.TempDir(), "signals")
		r := start(t, m, spec{flags: []string{"-vv"}, argv: helper("record", file)})
		r.waitOutput("ready", 10*time.Second)
		r.waitClaimed()
		for _, sig := range faults {
			if err := sigqueue(r.tinitPid(), sig); err != nil {
				t.Fatalf("sigqueue %v: %v", sig, err)
			}
		}
		r.signal(syscall.SIGUSR1) // still alive and forwarding
		waitRecorded(t, file, syscall.SIGUSR1)
		r.signal(syscall.SIGTERM)
		if code := r.wait(10 * time.Second); code != 0 {
			t.Errorf("exit code %d, want 0; stderr:\n%s", code, r.stderr.String())
		}
	})
}

// sigqueue sends sig to pid as sigqueue(3) does: si_code SI_QUEUE.
func sigqueue(pid int, sig syscall.Signal) error {
	var info unix.Siginfo // si_signo, si_errno, si_code, then the union
	raw := (*[3]int32)(unsafe.Pointer(&info))
	raw[0], raw[2] = int32(sig), -1 // SI_QUEUE
	_, _, errno := unix.Syscall(unix.SYS_RT_SIGQUEUEINFO, uintptr(pid), uintptr(sig), uintptr(unsafe.Pointer(&info)))
	if errno != 0 {
		return errno
	}
	return nil
}

// TestFewDescriptors starts tinit with RLIMIT_NOFILE of 6 and less: it
// must run the command without pidfds and cgroup, and say so.
func TestFewDescriptors(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		for _, n := range []string{"6", "5"} {
			t.Run("nofile "+n, func(t *testing.T) {
				// The command and its leftovers are shells: a Go program
				// cannot even start with so few descriptors.
				marker := newMarker(t)
				stubborn := `trap "" TERM; while sleep 1; do :; done`
				script := fmt.Sprintf(`sh -c '%s' %s & setsid sh -c '%s' %s & exit 3`, stubborn, marker, stubborn, marker)
				r := start(t, m, spec{flags: []string{"-v", "--grace", "100ms"}, argv: []string{"sh", "-c", script}, launch: []string{"nofile=" + n}})
				if code := r.wait(30 * time.Second); code != 3 {
					t.Errorf("exit code %d, want 3; stderr:\n%s", code, r.stderr.String())
				}
				if w := r.logs("few descriptors allowed; running without pidfds and without a cgroup"); len(w) != 1 {
					t.Errorf("want one warning, got %v; stderr:\n%s", w, r.stderr.String())
				}
				if left := marked(marker); len(left) != 0 {
					t.Errorf("survivors: %v", left)
				}
			})
		}
	})
}

// TestGOMAXPROCSIsTinitsOwn: a GOMAXPROCS meant for the tests, or a host
// of many CPUs, must not size tinit: above two it re-executes itself with
// GOMAXPROCS=2 (visible in its own environment). The command gets exactly
// the environment it was given, in order, GOMAXPROCS set or not.
func TestGOMAXPROCSIsTinitsOwn(t *testing.T) {
	for _, env := range []string{"GOMAXPROCS=64", "GOMAXPROCS=1", ""} {
		t.Run("env="+env, func(t *testing.T) {
			var extra []string
			if env != "" {
				extra = []string{env}
			}
			r := start(t, modeNamed("subreaper"), spec{argv: []string{"env"}, env: extra})
			if code := r.wait(10 * time.Second); code != 0 {
				t.Fatalf("exit code %d", code)
			}
			got := strings.Split(strings.TrimSuffix(r.stdout.String(), "\n"), "\n")
			if want := dedupEnv(r.cmd.Env); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("the command's environment differs from the one given:\n got %q\nwant %q", got, want)
			}
			if env != "GOMAXPROCS=64" {
				return
			}
			r = start(t, modeNamed("subreaper"), spec{argv: helper("sleepfor", "1m"), env: extra})
			tinit := r.tinitPid()
			childOf(t, tinit)
			if got := environ(t, tinit)["GOMAXPROCS"]; got != "2" {
				t.Errorf("tinit runs with GOMAXPROCS %q in its environment, want 2 (given %q)", got, env)
			}
			r.signal(syscall.SIGTERM)
			if code := r.wait(10 * time.Second); code != 143 {
				t.Errorf("exit code %d, want 143", code)
			}
		})
	}
}

// environ reads pid's environment.
func environ(t *testing.T, pid int) map[string]string {
	t.Helper()
	env, err := procfs.New(nil).Environ(pid)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// dedupEnv keeps the last of each key, where os/exec keeps it.
func dedupEnv(env []string) []string {
	last := map[string]int{}
	for i, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		last[k] = i
	}
	var out []string
	for i, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if last[k] == i {
			out = append(out, kv)
		}
	}
	return out
}

// TestLeftoverLeavesCgroup: a leftover that moved itself out of the run's
// cgroup, into another cgroup v2 group, is out of cgroup.kill's reach; the
// walk that follows it must end the leftover all the same, and name it.
func TestLeftoverLeavesCgroup(t *testing.T) {
	marker := newMarker(t)
	dir := escapeGroup(t, marker)
	r := start(t, modeNamed("subreaper"), spec{flags: []string{"-v", "--grace", "100ms"}, argv: helper("escaper", marker, dir)})
	if code := r.wait(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d:\n%s", code, r.stderr.String())
	}
	if !strings.Contains(r.stderr.String(), `"killer":"cgroup"`) {
		t.Fatalf("the run did not use its cgroup to end leftovers:\n%s", r.stderr.String())
	}
	if left := marked(marker); len(left) != 0 {
		t.Errorf("the daemon that left the run's cgroup survived tinit: %v\n%s", left, r.stderr.String())
	}
	if named := r.logs("leftover process"); len(named) != 1 {
		t.Errorf("%d leftovers named, want the daemon:\n%s", len(named), r.stderr.String())
	}
}

// TestMembersChildrenLeftCgroup: leftovers in the run's cgroup, each with
// a child that moved itself out of it. cgroup.kill ends the members; the
// walk after it must go through them to their children, which it alone
// can reach, and end those too.
func TestMembersChildrenLeftCgroup(t *testing.T) {
	marker := newMarker(t)
	dir := escapeGroup(t, marker)
	const keepers = 20
	r := start(t, modeNamed("subreaper"), spec{flags: []string{"-v", "--grace", "100ms"}, argv: helper("keepers", strconv.Itoa(keepers), marker, dir)})
	if code := r.wait(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d:\n%s", code, r.stderr.String())
	}
	if left := marked(marker); len(left) != 0 {
		t.Errorf("%d of the %d leftovers survived tinit: %v\n%s", len(left), 2*keepers, left, r.stderr.String())
	}
	if named := r.logs("leftover process"); len(named) != 2*keepers {
		t.Errorf("%d leftovers named, want %d", len(named), 2*keepers)
	}
}

// escapeGroup makes a cgroup v2 group beside the run's, for leftovers to
// move into; at cleanup the marked processes are killed and it is removed.
func escapeGroup(t *testing.T, marker string) string {
	t.Helper()
	parent := writableCgroup(t)
	dir := filepath.Join(parent, fmt.Sprintf("tinit-test-escape-%d-%d", os.Getpid(), time.Now().UnixNano()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, p := range marked(marker) {
			syscall.Kill(p, syscall.SIGKILL)
		}
		waitFor(t, 10*time.Second, "the test's cgroup to empty", func() bool { return os.Remove(dir) == nil })
	})
	return dir
}
