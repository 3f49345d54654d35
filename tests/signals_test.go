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
)

// recorded reads the signal numbers a record helper wrote to file.
func recorded(file string) []syscall.Signal {
	b, _ := os.ReadFile(file)
	var out []syscall.Signal
	for _, f := range strings.Fields(string(b)) {
		out = append(out, syscall.Signal(atoi(f)))
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

// TestForwardedSignalsReachChild sends tinit every signal a user would
// send and checks that the child, and by default the rest of its process
// group, records each one.
func TestForwardedSignalsReachChild(t *testing.T) {
	sent := []syscall.Signal{
		syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2,
		syscall.SIGWINCH, syscall.SIGCONT, syscall.SIGALRM, syscall.SIGTSTP,
		syscall.Signal(37), // SIGRTMIN+3
	}
	forEachMode(t, func(t *testing.T, m mode) {
		for _, stop := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
			t.Run("then "+stop.String(), func(t *testing.T) {
				file := filepath.Join(t.TempDir(), "signals")
				r := start(t, m, spec{flags: []string{"-vv"}, argv: helper("record", file, "child")})
				r.waitOutput("ready", 10*time.Second)
				r.waitClaimed()
				for _, sig := range append(sent, stop) {
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
// group.
func TestSingleChild(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		file := filepath.Join(t.TempDir(), "signals")
		r := start(t, m, spec{flags: []string{"-c", "-vv"}, argv: helper("record", file, "child")})
		r.waitOutput("ready", 10*time.Second)
		r.waitClaimed()
		r.signal(syscall.SIGUSR1)
		waitRecorded(t, file, syscall.SIGUSR1)
		r.signal(syscall.SIGTERM)
		r.wait(10 * time.Second)
		// The child's child is a leftover once the child exits, and gets
		// SIGTERM then; it must never have seen SIGUSR1.
		if got := recorded(file + ".child"); slices.Contains(got, syscall.SIGUSR1) {
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
// forwarded; a second SIGTERM kills the whole tree at once, without waiting
// for the grace period.
func TestSecondStopSignalEscalates(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		for _, second := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
			t.Run("second "+second.String(), func(t *testing.T) {
				marker := newMarker(t)
				r := start(t, m, spec{flags: []string{"--grace", "60s"}, argv: helper("stubborn", marker)})
				r.waitOutput("ready", 10*time.Second)
				r.signal(syscall.SIGTERM)
				time.Sleep(200 * time.Millisecond) // long enough for a forwarded signal to act
				if r.exited() {
					t.Fatal("tinit exited after one SIGTERM although the child ignores it")
				}
				began := time.Now()
				r.signal(second)
				if code := r.wait(5 * time.Second); code != 137 {
					t.Errorf("exit code %d, want 137 (main child killed by SIGKILL)", code)
				}
				if d := time.Since(began); d > 3*time.Second {
					t.Errorf("escalation took %v", d)
				}
				if left := marked(marker); len(left) != 0 {
					t.Errorf("processes survived: %v", left)
				}
			})
		}
	})
}

// TestStopSignalDuringGraceEscalates: once the main child is gone and
// leftovers are in their grace period, SIGTERM ends the wait at once.
func TestStopSignalDuringGraceEscalates(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		marker := newMarker(t)
		r := start(t, m, spec{flags: []string{"-v", "--grace", "60s"}, argv: helper("daemons", "3", marker, "5")})
		waitFor(t, 20*time.Second, "tinit to report the main child's exit", func() bool {
			return strings.Contains(r.stderr.String(), "main child exited")
		})
		began := time.Now()
		r.signal(syscall.SIGTERM)
		if code := r.wait(5 * time.Second); code != 5 {
			t.Errorf("exit code %d, want the main child's 5", code)
		}
		if d := time.Since(began); d > 3*time.Second {
			t.Errorf("took %v after SIGTERM", d)
		}
		if left := marked(marker); len(left) != 0 {
			t.Errorf("processes survived: %v", left)
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
	if err != nil {
		t.Skip("no go command on PATH")
	}
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
				if m.pid1 && pid1Err != nil {
					t.Skipf("PID 1 mode unavailable: %v", pid1Err)
				}
				os.Remove(started)
				r := startInBackground(t, m, single, dir, goBin, started)
				waitFor(t, 120*time.Second, "the test binary to start", func() bool {
					_, err := os.Stat(started)
					return err == nil
				})
				r.signal(syscall.SIGINT)
				if single {
					time.Sleep(3 * time.Second)
					if r.exited() {
						t.Fatal("with -c, SIGINT to tinit stopped go test; expected cmd/go to ignore it")
					}
					r.signal(syscall.SIGTERM) // forwarded; escalates to SIGKILL of the tree
					r.wait(10 * time.Second)
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
		flags = append(flags, "-c")
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

// TestUnforwardedSignalsAreHarmless sends tinit the signals it does not
// forward: none may end or stop it, and none may reach the child.
func TestUnforwardedSignalsAreHarmless(t *testing.T) {
	harmless := []syscall.Signal{
		syscall.SIGABRT, syscall.SIGPIPE, syscall.SIGSTKFLT, syscall.SIGTTIN,
		syscall.SIGTTOU, syscall.Signal(32), syscall.Signal(34), syscall.SIGURG,
		syscall.SIGSEGV, syscall.SIGBUS, syscall.SIGFPE, syscall.SIGILL,
		syscall.SIGTRAP, syscall.SIGSYS,
	}
	forEachMode(t, func(t *testing.T, m mode) {
		file := filepath.Join(t.TempDir(), "signals")
		r := start(t, m, spec{flags: []string{"-vv"}, argv: helper("record", file)})
		r.waitOutput("ready", 10*time.Second)
		r.waitClaimed()
		for _, sig := range harmless {
			r.signal(sig)
		}
		time.Sleep(200 * time.Millisecond) // time for a signal to act
		if r.exited() {
			t.Fatalf("tinit exited (code %d) after signals it should ignore; stderr:\n%s", r.code, r.stderr.String())
		}
		if st := procState(r.tinitPid()); st != "S" && st != "R" {
			t.Errorf("tinit is in state %q after the signals, want running or sleeping", st)
		}
		r.signal(syscall.SIGUSR1) // still forwarding
		waitRecorded(t, file, syscall.SIGUSR1)
		r.signal(syscall.SIGTERM)
		if code := r.wait(10 * time.Second); code != 0 {
			t.Errorf("exit code %d, want 0", code)
		}
		for _, sig := range recorded(file) {
			if slices.Contains(harmless, sig) {
				t.Errorf("the child received %v", sig)
			}
		}
	})
}

// procState returns the one-letter state of pid from /proc.
func procState(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	i := strings.LastIndexByte(string(b), ')')
	if err != nil || i < 0 || i+2 >= len(b) {
		return ""
	}
	return string(b[i+2])
}
