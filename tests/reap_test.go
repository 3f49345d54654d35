package tests

import (
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tinit-dev/tinit/internal/orphan"
	"github.com/tinit-dev/tinit/internal/testenv"
)

func needOrphans(t *testing.T) {
	t.Helper()
	if _, err := orphan.Spawn(); errors.Is(err, orphan.ErrUnsupported) {
		testenv.Need(t, "orphans", err)
	}
}

// TestOrphanStorm makes 5,000 orphans under tinit. The helper itself checks
// that no zombie is left under tinit before it exits with 42, which tinit
// must pass through.
func TestOrphanStorm(t *testing.T) {
	needOrphans(t)
	forEachMode(t, func(t *testing.T, m mode) {
		r := start(t, m, spec{argv: helper("storm", "5000", "42")})
		if code := r.wait(120 * time.Second); code != 42 {
			t.Errorf("exit code %d, want 42; child said %q", code, r.stdout.String())
		}
	})
}

// TestDaemonsAreEnded leaves 50 daemonized sleepers that ignore SIGTERM;
// all must be gone when tinit exits, which must take the grace period and
// little more.
func TestDaemonsAreEnded(t *testing.T) {
	const grace = 300 * time.Millisecond
	forEachMode(t, func(t *testing.T, m mode) {
		marker := newMarker(t)
		r := start(t, m, spec{flags: []string{"-v", "--grace", grace.String()}, argv: helper("daemons", "50", marker, "7")})
		code := r.wait(60 * time.Second)
		if code != 7 {
			t.Errorf("exit code %d, want 7; stdout %q", code, r.stdout.String())
		}
		if left := marked(marker); len(left) != 0 {
			t.Errorf("%d daemons survived tinit: %v", len(left), left)
		}
		checkDrainTime(t, r, grace)
	})
}

// checkDrainTime reads tinit's own log: from the main child's exit to
// tinit's last line took at least the grace period (the leftovers ignore
// SIGTERM), the grace period ended in SIGKILL, and nothing was left when
// tinit stopped (no give-up).
func checkDrainTime(t *testing.T, r *run, grace time.Duration) {
	t.Helper()
	exited, last := logTime(r.stderr.String(), "main child exited"), logTime(r.stderr.String(), "no descendants left")
	if exited.IsZero() || last.IsZero() {
		t.Fatalf("log lines missing:\n%s", r.stderr.String())
	}
	if last.Sub(exited) < grace {
		t.Errorf("main child exit to end took %v, less than the grace period %v", last.Sub(exited), grace)
	}
	if len(logEntries(r.stderr.String(), "grace period over; sending SIGKILL")) != 1 {
		t.Errorf("want one line saying the grace period ended in SIGKILL:\n%s", r.stderr.String())
	}
	if len(logEntries(r.stderr.String(), "descendants remain after SIGKILL; exiting without them")) != 0 {
		t.Errorf("tinit gave up on leftovers:\n%s", r.stderr.String())
	}
}

// TestLeftoversThatFightBack covers leftovers that ignore SIGTERM while
// forking new children all the time, and leftovers that are stopped.
func TestLeftoversThatFightBack(t *testing.T) {
	needOrphans(t)
	const grace = 200 * time.Millisecond
	for _, kind := range []string{"busy", "stop"} {
		t.Run(kind, func(t *testing.T) {
			forEachMode(t, func(t *testing.T, m mode) {
				marker := newMarker(t)
				r := start(t, m, spec{flags: []string{"-v", "--grace", grace.String()}, argv: helper("leave", marker, kind)})
				if code := r.wait(30 * time.Second); code != 0 {
					t.Errorf("exit code %d, want 0", code)
				}
				if left := marked(marker); len(left) != 0 {
					t.Errorf("survivors: %v", left)
				}
				checkDrainTime(t, r, grace)
			})
		})
	}
}

// TestStatusNeverLost runs tinit 300 times per mode with a main child that
// exits with a varying code while the orphans it just made are being
// reaped: the code must come through every time.
func TestStatusNeverLost(t *testing.T) {
	needOrphans(t)
	runs := 300
	if testing.Short() {
		runs = 30
	}
	forEachMode(t, func(t *testing.T, m mode) {
		for i := 0; i < runs; i++ {
			want := (i*7 + 1) % 256
			r := start(t, m, spec{argv: helper("churn", "20", strconv.Itoa(want))})
			if got := r.wait(30 * time.Second); got != want {
				t.Fatalf("run %d: exit code %d, want %d; stderr:\n%s", i, got, want, r.stderr.String())
			}
		}
	})
}

// logTime returns the time of the first log line whose message is msg.
func logTime(log, msg string) time.Time {
	for _, line := range strings.Split(log, "\n") {
		var entry struct {
			Message string `json:"message"`
			Time    string `json:"time"`
		}
		if json.Unmarshal([]byte(line), &entry) != nil || entry.Message != msg {
			continue
		}
		if tm, err := time.Parse("2006-01-02T15:04:05.000Z07:00", entry.Time); err == nil {
			return tm
		}
	}
	return time.Time{}
}

// TestWithoutProc runs a subreaper where /proc is not mounted: it can
// still end what stays in the main child's process group, cannot find a
// leftover in a session of its own, and must say so and exit in bounded
// time rather than hang or signal a stale pid.
func TestWithoutProc(t *testing.T) {
	_, err := exec.LookPath("unshare")
	testenv.Need(t, "unshare", err)
	marker := newMarker(t)
	script := fmt.Sprintf(`umount -l /proc && exec %s -v --grace 200ms -- %s`, tinitBin,
		strings.Join(helper("leave", marker, "plain"), " "))
	cmd := exec.Command("unshare", "--mount", "sh", "-c", script)
	r := launch(t, modeNamed("subreaper"), cmd, false)
	if code := r.wait(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d; stderr:\n%s", code, r.stderr.String())
	}
	if !strings.Contains(r.stderr.String(), "descendants remain after SIGKILL") {
		t.Errorf("tinit did not say that it left descendants behind:\n%s", r.stderr.String())
	}
	if strings.Contains(r.stderr.String(), "no descendants left") {
		t.Errorf("tinit claimed that no descendant was left:\n%s", r.stderr.String())
	}
	if len(marked(marker)) != 1 {
		t.Errorf("want the daemon in its own session to survive (found %v): without /proc it is out of reach", marked(marker))
	}
}
