package tests

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tinit-dev/tinit/internal/orphan"
	"github.com/tinit-dev/tinit/internal/testenv"
)

// TestStoppedLeftoverActsOnSIGTERM leaves a stopped daemon that exits on
// SIGTERM, but only once continued: tinit's SIGCONT must follow its
// SIGTERM, and the daemon must be gone long before the grace period ends.
func TestStoppedLeftoverActsOnSIGTERM(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		marker := newMarker(t)
		file := filepath.Join(t.TempDir(), "term")
		r := start(t, m, spec{flags: []string{"-v", "--grace", "60s"}, argv: helper("leave", marker, "stop-term", file)})
		if code := r.wait(30 * time.Second); code != 0 {
			t.Errorf("exit code %d, want 0", code)
		}
		if b, _ := os.ReadFile(file); string(b) != "SIGTERM\n" {
			t.Errorf("the stopped leftover wrote %q, want it to have handled SIGTERM", b)
		}
		if len(r.logs("grace period over; sending SIGKILL")) != 0 {
			t.Error("tinit had to SIGKILL a leftover that exits on SIGTERM once continued")
		}
		if left := marked(marker); len(left) != 0 {
			t.Errorf("survivors: %v", left)
		}
	})
}

// TestGraceZero: with --grace 0 leftovers get SIGKILL at once and no
// SIGTERM; the same leftover records SIGTERM with a grace period (the
// positive control).
func TestGraceZero(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		for _, grace := range []string{"0", "300ms"} {
			t.Run("grace "+grace, func(t *testing.T) {
				marker := newMarker(t)
				file := filepath.Join(t.TempDir(), "term")
				r := start(t, m, spec{flags: []string{"-v", "--grace", grace}, argv: helper("leave", marker, "term", file)})
				if code := r.wait(30 * time.Second); code != 0 {
					t.Errorf("exit code %d, want 0", code)
				}
				_, err := os.Stat(file)
				termed, killed := len(r.logs("sent SIGTERM to leftovers")), r.logs("grace period over; sending SIGKILL")
				switch {
				case len(killed) != 1:
					t.Errorf("want one line saying leftovers got SIGKILL, got %v", killed)
				case grace == "0" && (err == nil || termed != 0 || killed[0].num("grace") != 0):
					t.Errorf("--grace 0: SIGTERM recorded (%v), %d SIGTERM lines, kill line %v; want SIGKILL alone", err == nil, termed, killed[0])
				case grace != "0" && (err != nil || termed != 1):
					t.Errorf("--grace %s: the leftover did not record SIGTERM (%v), %d SIGTERM lines", grace, err, termed)
				}
				if left := marked(marker); len(left) != 0 {
					t.Errorf("survivors: %v", left)
				}
			})
		}
	})
}

// TestForkChainIsEnded leaves a fork-and-exit chain: one live process at a
// time, each living a few hundred microseconds, SIGTERM blocked. Every
// mode must end it; with a cgroup of the run's own, cgroup.kill does.
func TestForkChainIsEnded(t *testing.T) {
	if _, err := orphan.Chain(1); errors.Is(err, orphan.ErrUnsupported) {
		testenv.Need(t, "orphans", err)
	}
	forEachMode(t, func(t *testing.T, m mode) {
		runChain(t, m)
	})
}

// chainLinks bounds a chain that escapes, so that a failing test does not
// leave it running for ever: about 30 seconds of links.
const chainLinks = 300000

// runChain runs tinit over a fork chain once and checks that nothing of it
// is left.
func runChain(t *testing.T, m mode) {
	t.Helper()
	marker := newMarker(t)
	t.Cleanup(func() { stopMarked(marker) })
	r := start(t, m, spec{flags: []string{"-v", "--grace", "100ms"}, argv: helper("chain", marker, fmt.Sprint(chainLinks))})
	if code := r.wait(30 * time.Second); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	started := r.logs("main child started")
	if len(started) == 1 && started[0].str("killer") == "cgroup" && len(r.logs("grace period over; sending SIGKILL")) != 1 {
		t.Errorf("want the chain ended by SIGKILL through the run's cgroup:\n%s", r.stderr.String())
	}
	// One link lives at any time (it forks the next before it exits):
	// a chain still running shows in every scan.
	for i := 0; i < 3; i++ {
		if left := marked(marker); len(left) != 0 {
			t.Fatalf("the chain survived tinit: %v\n%s", left, r.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stopMarked ends marked processes that may be forking: it stops what it
// finds, scans again until nothing new appears, then kills.
func stopMarked(marker string) {
	for {
		pids := marked(marker)
		if len(pids) == 0 {
			return
		}
		for _, p := range pids {
			syscall.Kill(p, syscall.SIGSTOP)
		}
		if again := marked(marker); len(again) == len(pids) {
			for _, p := range again {
				syscall.Kill(p, syscall.SIGKILL)
			}
		}
	}
}

// freezerGroup makes a cgroup v1 freezer group for the test, removed (and
// thawed first) at cleanup.
func freezerGroup(t *testing.T) string {
	t.Helper()
	root := "/sys/fs/cgroup/freezer"
	dir := filepath.Join(root, fmt.Sprintf("tinit-test-%d-%d", os.Getpid(), time.Now().UnixNano()))
	var err error
	if _, serr := os.Stat(filepath.Join(root, "cgroup.procs")); serr != nil {
		err = fmt.Errorf("no cgroup v1 freezer hierarchy at %s: %w", root, serr)
	} else if merr := os.Mkdir(dir, 0o755); merr != nil {
		err = fmt.Errorf("cannot make a freezer group: %w", merr)
	}
	testenv.Need(t, "freezer", err)
	t.Cleanup(func() {
		thaw(dir)
		waitFor(t, 10*time.Second, "the freezer group to empty", func() bool { return os.Remove(dir) == nil })
	})
	return dir
}

func thaw(dir string) { os.WriteFile(dir+"/freezer.state", []byte("THAWED"), 0o644) }

// TestUnkillableLeftover leaves a daemon frozen by the cgroup v1 freezer,
// which cannot act on SIGKILL until thawed: tinit must keep sending
// SIGKILL for its one second, then say it gives up and exit with the main
// child's code rather than hang.
func TestUnkillableLeftover(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		dir := freezerGroup(t)
		marker := newMarker(t)
		r := start(t, m, spec{flags: []string{"-vv", "--grace", "100ms"}, argv: helper("frozen", marker, dir)})
		gaveUp := r.waitLog("descendants remain after SIGKILL; exiting without them", 30*time.Second)
		if w := gaveUp.num("waited"); w != 1000 {
			t.Errorf("gave up after %v ms, want the 1000 ms of SIGKILL passes", w)
		}
		// One pass every 20 ms: on a loaded machine fewer fit in the
		// second, but never one alone.
		if passes := len(r.logs("SIGKILL pass")); passes < 2 {
			t.Errorf("%d SIGKILL passes before giving up, want them repeated for a second", passes)
		}
		if left := r.marked(marker); len(left) != 1 {
			t.Errorf("want the frozen daemon still there when tinit gives up, found %v", left)
		}
		// As PID 1, tinit's exit waits for the namespace to empty, which
		// the frozen daemon holds up until thawed.
		thaw(dir)
		if code := r.wait(30 * time.Second); code != 0 {
			t.Errorf("exit code %d, want the main child's 0", code)
		}
		if !strings.Contains(r.stderr.String(), `"level":"warn"`) {
			t.Errorf("the give-up is not a warning:\n%s", r.stderr.String())
		}
		waitFor(t, 10*time.Second, "the thawed daemon to die of its SIGKILL", func() bool { return len(marked(marker)) == 0 })
	})
}
