package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tinit-dev/tinit/internal/procfs"
	"github.com/tinit-dev/tinit/internal/testenv"
	"golang.org/x/sys/unix"
)

// recorded reads the signal numbers a record helper wrote to file.
func recorded(file string) []syscall.Signal {
	b, _ := os.ReadFile(file)
	var out []syscall.Signal
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, syscall.Signal(n))
		}
	}
	return out
}

func waitRecorded(t *testing.T, file string, sig syscall.Signal) {
	t.Helper()
	waitFor(t, 10*time.Second, "the child to record "+sig.String(), func() bool {
		return slices.Contains(recorded(file), sig)
	})
}

// waitClaimed waits for tinit (run with -vv) to say that it claimed every
// forwarded signal: SIGHUP, SIGINT, SIGTERM and SIGQUIT are claimed before
// the child starts, the others while it starts (see the README).
func (r *run) waitClaimed() {
	r.t.Helper()
	waitFor(r.t, 10*time.Second, "tinit to claim every forwarded signal", func() bool {
		return strings.Contains(r.stderr.String(), "all forwarded signals claimed")
	})
}

// forwarded are the signals the README says tinit forwards, in the order
// the tests send them (SIGINT and SIGTERM, which end the recorder, aside).
var forwarded = func() []syscall.Signal {
	sigs := []syscall.Signal{
		syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2,
		syscall.SIGALRM, syscall.SIGCONT, syscall.SIGTSTP, syscall.SIGXCPU,
		syscall.SIGXFSZ, syscall.SIGVTALRM, syscall.SIGWINCH, syscall.SIGIO,
		syscall.SIGPWR,
	}
	for s := 35; s <= 64; s++ { // SIGRTMIN+1 to SIGRTMAX, as the C library counts
		sigs = append(sigs, syscall.Signal(s))
	}
	return sigs
}()

// TestForwardedSignalsReachChild sends tinit every signal the README says
// it forwards and checks that the child, and by default the rest of its
// process group, records each one.
func TestForwardedSignalsReachChild(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		for _, stop := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
			t.Run("then "+stop.String(), func(t *testing.T) {
				file := filepath.Join(t.TempDir(), "signals")
				r := start(t, m, spec{flags: []string{"-vv"}, argv: helper("record", file, "child")})
				r.waitOutput("ready", 10*time.Second)
				r.waitClaimed()
				for _, sig := range append(forwarded, stop) {
					r.signal(sig)
					waitRecorded(t, file, sig)
					waitRecorded(t, file+".child", sig)
				}
				if code := r.wait(10 * time.Second); code != 0 {
					t.Errorf("exit code %d, want 0 (the child exits 0 on %v)", code, stop)
				}
			})
		}
	})
}

// TestSingleChild checks that -c reaches the child but not the rest of its
// group. The child's child must be seen to record signals all the same: it
// gets SIGTERM as a leftover once the child has exited.
func TestSingleChild(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		file := filepath.Join(t.TempDir(), "signals")
		r := start(t, m, spec{flags: []string{"-c", "-vv"}, argv: helper("record", file, "child")})
		r.waitOutput("ready", 10*time.Second)
		r.waitClaimed()
		r.signal(syscall.SIGUSR1)
		waitRecorded(t, file, syscall.SIGUSR1)
		r.waitLog("forwarded", 10*time.Second) // logged after the send
		if fw := r.logs("forwarded"); len(fw) != 1 || fw[0].str("signal") != "SIGUSR1" {
			t.Errorf("want one forwarded line for SIGUSR1, got %v", fw)
		} else if group, _ := fw[0].flag("group"); group {
			t.Errorf("with -c, SIGUSR1 was forwarded to the group: %v", fw[0])
		}
		r.signal(syscall.SIGTERM)
		if code := r.wait(10 * time.Second); code != 0 {
			t.Errorf("exit code %d, want 0 (the child exits 0 on SIGTERM)", code)
		}
		got := recorded(file + ".child")
		if !slices.Contains(got, syscall.SIGTERM) {
			t.Fatalf("the child's own child recorded %v, want SIGTERM (sent to leftovers): it cannot show what it missed", got)
		}
		if slices.Contains(got, syscall.SIGUSR1) {
			t.Errorf("the child's own child received %v; with -c SIGUSR1 should reach the child alone", got)
		}
	})
}

// TestChildLeftItsGroup: a child that moves to another process group still
// gets what tinit forwards.
func TestChildLeftItsGroup(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		file := filepath.Join(t.TempDir(), "signals")
		r := start(t, m, spec{flags: []string{"-vv", "--grace", "100ms"}, argv: helper("regroup", file)})
		r.waitOutput("ready", 10*time.Second)
		r.waitClaimed()
		r.signal(syscall.SIGUSR1)
		waitRecorded(t, file, syscall.SIGUSR1)
		r.signal(syscall.SIGTERM)
		if code := r.wait(10 * time.Second); code != 0 {
			t.Errorf("exit code %d, want 0", code)
		}
	})
}

// TestSecondStopSignalEscalates: a child that ignores SIGTERM gets it
// forwarded (it records it, and so does its own child); a second SIGTERM
// or SIGINT kills the whole tree at once, without waiting for the grace
// period.
func TestSecondStopSignalEscalates(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		for _, second := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
			t.Run("second "+second.String(), func(t *testing.T) {
				marker := newMarker(t)
				file := filepath.Join(t.TempDir(), "signals")
				r := start(t, m, spec{flags: []string{"-vv", "--grace", "60s"}, argv: sigrec(t, file, "child", "keep", marker)})
				r.waitOutput("ready", 10*time.Second)
				r.signal(syscall.SIGTERM)
				waitRecorded(t, file, syscall.SIGTERM)
				waitRecorded(t, file+".child", syscall.SIGTERM)
				if r.exited() {
					t.Fatal("tinit exited after one SIGTERM although the child ignores it")
				}
				if left := r.marked(marker); len(left) != 2 {
					t.Fatalf("want the child and its child running after one SIGTERM, found %v", left)
				}
				r.signal(second)
				if code := r.wait(10 * time.Second); code != 137 {
					t.Errorf("exit code %d, want 137 (main child killed by SIGKILL)", code)
				}
				if esc := r.logs("second stop signal; killing every process"); len(esc) != 1 || esc[0].str("signal") != unixName(second) {
					t.Errorf("want one escalation line for %v, got %v", second, esc)
				}
				if len(r.logs("grace period over; sending SIGKILL")) != 0 {
					t.Error("tinit waited for the grace period instead of escalating")
				}
				if left := marked(marker); len(left) != 0 {
					t.Errorf("processes survived: %v", left)
				}
			})
		}
	})
}

// unixName is a signal's name as tinit logs it ("SIGTERM").
func unixName(sig syscall.Signal) string { return unix.SignalName(sig) }

// TestStopSignalDuringGraceEscalates: once the main child is gone and
// leftovers are in their grace period, SIGTERM or SIGINT ends the wait at
// once.
func TestStopSignalDuringGraceEscalates(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
			t.Run(sig.String(), func(t *testing.T) {
				marker := newMarker(t)
				r := start(t, m, spec{flags: []string{"-v", "--grace", "60s"}, argv: helper("daemons", "3", marker, "5")})
				r.waitLog("sent SIGTERM to leftovers", 20*time.Second)
				r.signal(sig)
				if code := r.wait(10 * time.Second); code != 5 {
					t.Errorf("exit code %d, want the main child's 5", code)
				}
				if esc := r.logs("second stop signal; killing every process"); len(esc) != 1 || esc[0].str("signal") != unixName(sig) {
					t.Errorf("want one escalation line for %v, got %v", sig, esc)
				}
				if len(r.logs("grace period over; sending SIGKILL")) != 0 {
					t.Error("tinit waited for the grace period instead of escalating")
				}
				if left := marked(marker); len(left) != 0 {
					t.Errorf("processes survived: %v", left)
				}
			})
		}
	})
}

// writeSleepyModule makes a Go module whose only test writes a file and
// then sleeps for two minutes.
func writeSleepyModule(t *testing.T) (dir, started string) {
	t.Helper()
	dir = t.TempDir()
	started = filepath.Join(dir, "started")
	files := map[string]string{
		"go.mod": "module sleepy\n\ngo 1.21\n",
		"sleepy_test.go": `package sleepy

import (
	"os"
	"testing"
	"time"
)

func TestSleep(t *testing.T) {
	os.WriteFile(os.Getenv("SLEEPY_STARTED"), nil, 0o644)
	time.Sleep(2 * time.Minute)
}
`,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, started
}

// TestBackgroundSIGINTStopsGoTest starts tinit as a background job of a
// non-interactive shell (which starts it with SIGINT ignored) running a
// real `go test` whose test sleeps. SIGINT sent to tinit must stop the run
// within seconds: cmd/go ignores SIGINT and counts on its test binary
// getting it too, which group forwarding provides. With -c (child only) the
// same SIGINT changes nothing, which shows why group forwarding is the
// default.
func TestBackgroundSIGINTStopsGoTest(t *testing.T) {
	goBin, err := exec.LookPath("go")
	testenv.Need(t, "go", err)
	// The premise: a non-interactive shell starts background jobs with
	// SIGINT ignored (POSIX), and tinit inherits that.
	out, err := exec.Command("sh", "-c", "grep SigIgn /proc/self/status & wait").Output()
	if ign, perr := strconv.ParseUint(strings.TrimSpace(strings.TrimPrefix(string(out), "SigIgn:")), 16, 64); err != nil || perr != nil || ign&(1<<(syscall.SIGINT-1)) == 0 {
		t.Fatalf("sh background job SigIgn = %q (%v, %v): SIGINT is not ignored, so this test would not test its premise", out, err, perr)
	}
	dir, started := writeSleepyModule(t)
	for _, m := range []mode{modeNamed("subreaper"), modeNamed("pid1")} {
		for _, single := range []bool{false, true} {
			name := m.name + "/group"
			if single {
				name = m.name + "/single-child"
			}
			t.Run(name, func(t *testing.T) {
				if m.pid1 {
					testenv.Need(t, "pid1", pid1Err)
				}
				os.Remove(started)
				r := startInBackground(t, m, single, dir, goBin, started)
				waitFor(t, 120*time.Second, "the test binary to start", func() bool {
					_, err := os.Stat(started)
					return err == nil
				})
				r.signal(syscall.SIGINT)
				if single {
					// cmd/go ignores the SIGINT; the test binary never
					// gets it. Proof: when SIGHUP (forwarded to cmd/go
					// alone, which dies of it) ends the run, the test
					// binary is still there to be named as a leftover.
					r.waitLog("forwarded", 10*time.Second)
					r.signal(syscall.SIGHUP)
					if code := r.wait(20 * time.Second); code != 129 {
						t.Errorf("exit code %d, want 129 (cmd/go killed by the forwarded SIGHUP)", code)
					}
					found := false
					for _, l := range r.logs("leftover process") {
						found = found || strings.Contains(l.str("cmdline"), "sleepy.test")
					}
					if !found {
						t.Errorf("with -c the test binary was not left running after SIGINT; leftovers: %v", r.logs("leftover process"))
					}
					return
				}
				code := r.wait(10 * time.Second)
				if code == 0 {
					t.Errorf("go test exited 0 after SIGINT; want a failure")
				}
				if left := byName("sleepy.test"); len(left) != 0 {
					t.Errorf("test binaries survived tinit: %v", left)
				}
			})
		}
	}
}

// startInBackground runs tinit as `sh -c 'tinit ... &'`, the way a CI
// script might, so that tinit inherits SIGINT ignored.
func startInBackground(t *testing.T, m mode, single bool, dir, goBin, started string) *run {
	t.Helper()
	flags := []string{"--grace", "1s"}
	if single {
		flags = append(flags, "-c", "-vv")
	}
	argv := []string{goBin, "test", "-count=1", "-run", "TestSleep", "."}
	tinit := append(append([]string{tinitBin}, flags...), "--")
	if m.pid1 {
		tinit = append([]string{"unshare", "--pid", "--fork", "--mount-proc"}, tinit...)
	}
	script := `"$@" & wait $!`
	cmd := exec.Command("sh", append([]string{"-c", script, "sh"}, append(tinit, argv...)...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SLEEPY_STARTED="+started)
	r := launch(t, m, cmd, true)
	t.Cleanup(func() { killByName("sleepy.test") })
	return r
}

func killByName(name string) {
	for _, pid := range byName(name) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// neverForwarded are the signals tinit must neither forward nor die or
// stop of (see the README).
var neverForwarded = []syscall.Signal{
	syscall.SIGABRT, syscall.SIGPIPE, syscall.SIGSTKFLT, syscall.SIGTTIN,
	syscall.SIGTTOU, syscall.Signal(32), syscall.Signal(33), syscall.Signal(34),
	syscall.SIGURG, syscall.SIGPROF, syscall.SIGCHLD, syscall.SIGSEGV,
	syscall.SIGBUS, syscall.SIGFPE, syscall.SIGILL, syscall.SIGTRAP, syscall.SIGSYS,
}

// TestUnforwardedSignalsAreHarmless sends tinit the signals it does not
// forward: none may end or stop it, and none may reach the child, a C
// recorder that sees every signal (its own child is shown to record each
// one when sent directly).
func TestUnforwardedSignalsAreHarmless(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		file := filepath.Join(t.TempDir(), "signals")
		r := start(t, m, spec{flags: []string{"-vv"}, argv: sigrec(t, file, "child")})
		r.waitOutput("ready", 10*time.Second)
		r.waitClaimed()
		var bits uint64
		for _, sig := range neverForwarded {
			r.signal(sig)
			bits |= sigBit(sig)
		}
		// Every one has been taken (handled, or dropped at once as
		// ignored) when none is pending any more.
		waitFor(t, 10*time.Second, "tinit to take the signals", func() bool {
			p, err := pendingSignals(r.tinitPid())
			return err == nil && p&bits == 0
		})
		if r.exited() {
			t.Fatalf("tinit exited (code %d) after signals it should ignore; stderr:\n%s", r.code, r.stderr.String())
		}
		if st, err := procfs.New(nil).Stat(r.tinitPid()); err != nil || (st.State != 'S' && st.State != 'R') {
			t.Errorf("tinit is in state %q (%v) after the signals, want running or sleeping", st.State, err)
		}
		grandchild := childOf(t, childOf(t, r.tinitPid()))
		for _, sig := range neverForwarded { // the recorder sees each one
			syscall.Kill(grandchild, sig)
			waitRecorded(t, file+".child", sig)
		}
		r.signal(syscall.SIGUSR1) // still forwarding
		waitRecorded(t, file, syscall.SIGUSR1)
		r.signal(syscall.SIGTERM)
		if code := r.wait(10 * time.Second); code != 0 {
			t.Errorf("exit code %d, want 0", code)
		}
		for _, sig := range recorded(file) {
			if slices.Contains(neverForwarded, sig) {
				t.Errorf("the child received %v", sig)
			}
		}
		if fw := r.logs("forwarded"); len(fw) != 2 {
			t.Errorf("want SIGUSR1 and SIGTERM forwarded, nothing else; got %v", fw)
		}
	})
}
