// tinit as PID 1 of runc containers: the checks every container variant
// must pass, and the probe of the pidfd system calls inside one.

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

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/tinit-dev/tinit/internal/workload"
	"golang.org/x/sys/unix"
)

func init() {
	workload.Register("pidfdprobe", helperPidfdProbe)
}

// The messages tinit logs when it does without pidfds.
const (
	msgFallback   = "pidfds unavailable; falling back to signalling and waiting by pid"
	msgChildStart = "main child started"
)

// ctrCheck is one thing to run under tinit in a container, and what to
// check afterwards.
type ctrCheck struct {
	name string
	argv func(marker string) []string
	code int
	// noChild: the command cannot be started, so tinit never reaches
	// its pidfd probe.
	noChild bool
	// orphans: the check makes orphans with orphan.Spawn.
	orphans bool
	// during, when set, acts on the running container (signals).
	during func(t *testing.T, c *container)
	after  func(t *testing.T, c *container)
}

// ctrChecks are the checks every container variant must pass.
func ctrChecks() []ctrCheck {
	return []ctrCheck{
		{name: "exit code", argv: func(string) []string { return ctrHelper("exit", "3") }, code: 3},
		{name: "killed by signal", argv: func(string) []string { return ctrHelper("killself", "15") }, code: 143},
		{name: "not found", argv: func(string) []string { return []string{"/nonexistent"} }, code: 127, noChild: true},
		{
			name: "orphan storm",
			// The helper exits 42 only once no zombie is left under tinit.
			argv:    func(string) []string { return ctrHelper("storm", "5000", "42") },
			code:    42,
			orphans: true,
		},
		{
			name: "daemons ignoring SIGTERM",
			argv: func(marker string) []string { return ctrHelper("daemons", "50", marker, "7") },
			code: 7,
			after: func(t *testing.T, c *container) {
				stderr := c.stderr.String()
				// As PID 1, tinit signals with kill(-1), which does not
				// say whom it reached; the leftovers are listed before.
				if l := logEntries(stderr, "leftover process"); len(l) != 50 {
					t.Errorf("want 50 leftover processes listed, got %d; log:\n%s", len(l), stderr)
				}
				if l := logEntries(stderr, "sent SIGTERM to leftovers"); len(l) != 1 {
					t.Errorf("want one line saying leftovers got SIGTERM; log:\n%s", stderr)
				}
				if l := logEntries(stderr, "grace period over; sending SIGKILL"); len(l) != 1 {
					t.Errorf("want the daemons killed when the grace period ended; log:\n%s", stderr)
				}
				// tinit, the daemons' helper and 50 sleepers: tinit reaps
				// the helper and every sleeper.
				if l := logEntries(stderr, "no descendants left"); len(l) != 1 || l[0].num("reaped") != 51 {
					t.Errorf("want 51 children reaped (the helper and 50 daemons), got %+v", l)
				}
				checkDrainTime(t, c.run, ctrGrace)
			},
		},
		{
			name: "runc kill",
			argv: func(string) []string { return ctrHelper("record", ctrShared+"/signals", "child") },
			code: 0, // the recorder exits 0 on SIGTERM
			during: func(t *testing.T, c *container) {
				file := filepath.Join(c.shared, "signals")
				c.waitOutput("ready", 20*time.Second)
				c.kill("USR1")
				waitRecorded(t, file, syscall.SIGUSR1)
				waitRecorded(t, file+".child", syscall.SIGUSR1)
				c.kill("TERM")
				waitRecorded(t, file, syscall.SIGTERM)
				waitRecorded(t, file+".child", syscall.SIGTERM)
			},
		},
	}
}

// runCtrChecks runs every check in a container with the given seccomp
// profile; fallback says whether tinit must fall back to pids there.
func runCtrChecks(t *testing.T, seccomp *specs.LinuxSeccomp, fallback bool) {
	for _, ck := range ctrChecks() {
		t.Run(ck.name, func(t *testing.T) {
			if ck.orphans {
				needOrphans(t)
			}
			marker := newMarker(t)
			c := runContainer(t, ctrConfig{argv: ck.argv(marker), seccomp: seccomp})
			if ck.during != nil {
				ck.during(t, c)
			}
			if code := c.wait(60 * time.Second); code != ck.code {
				t.Errorf("exit code %d, want %d; stdout %q; stderr:\n%s", code, ck.code, c.stdout.String(), c.stderr.String())
			}
			if left := marked(marker); len(left) != 0 {
				t.Errorf("processes survived the container: %v", left)
			}
			checkFallbackLog(t, c.stderr.String(), fallback, ck.noChild)
			if ck.after != nil {
				ck.after(t, c)
			}
		})
	}
}

// checkFallbackLog checks that tinit ran as PID 1 and used pidfds, or
// said exactly once, at warn level, that it could not.
func checkFallbackLog(t *testing.T, stderr string, fallback, noChild bool) {
	t.Helper()
	warned := logEntries(stderr, msgFallback)
	started := logEntries(stderr, msgChildStart)
	if noChild {
		if len(warned)+len(started) != 0 {
			t.Errorf("tinit reports a child although none could start:\n%s", stderr)
		}
		return
	}
	if len(started) != 1 {
		t.Fatalf("want one %q line, got %v; stderr:\n%s", msgChildStart, started, stderr)
	}
	pid1, _ := started[0].flag("pid1")
	pidfd, havePidfd := started[0].flag("pidfd")
	if !pid1 || !havePidfd {
		t.Fatalf("want one %q line with pid1 true and a pidfd field, got %+v; stderr:\n%s", msgChildStart, started, stderr)
	}
	switch {
	case !fallback && (len(warned) != 0 || !pidfd):
		t.Errorf("tinit did without pidfds in a container that allows them:\n%s", stderr)
	case fallback && len(warned) != 1:
		t.Errorf("want exactly one fallback warning, got %d:\n%s", len(warned), stderr)
	case fallback && (warned[0].str("level") != "warn" || pidfd):
		t.Errorf("want the fallback logged at warn and pidfd false, got %v and %v", warned[0], started[0])
	}
}

// TestRuncPID1 runs tinit as PID 1 of runc containers: exit codes pass
// through, an orphan storm leaves no zombie, daemons that ignore SIGTERM
// end after the grace period, and signals runc sends reach the child's
// process group. Where the kernel has pidfds, tinit must use them.
func TestRuncPID1(t *testing.T) {
	needRunc(t)
	kernelPidfds := true
	t.Run("probe", func(t *testing.T) {
		got := probeContainer(t, nil)
		// The kernel answers each call itself: EBADF for the bad
		// descriptors, EINVAL for clone3 without arguments.
		want := map[string]string{
			"pidfd_open": "ok", "pidfd_send_signal": "EBADF", "pidfd_getfd": "EBADF",
			"clone3": "EINVAL", "clone_pidfd": "ok",
		}
		if got["pidfd_open"] == "ENOSYS" {
			// Before Linux 5.3 (5.10 for pidfd_getfd): tinit must fall
			// back here as in TestRuncSeccompFallback.
			t.Logf("the kernel has no pidfds: %v", got)
			kernelPidfds = false
			return
		}
		checkProbe(t, got, want)
	})
	runCtrChecks(t, nil, !kernelPidfds)
}

// probeContainer runs the pidfdprobe helper under tinit in a container.
func probeContainer(t *testing.T, seccomp *specs.LinuxSeccomp) map[string]string {
	t.Helper()
	c := runContainer(t, ctrConfig{argv: ctrHelper("pidfdprobe"), seccomp: seccomp})
	if code := c.wait(30 * time.Second); code != 0 {
		t.Fatalf("probe exit code %d; stdout %q; stderr:\n%s", code, c.stdout.String(), c.stderr.String())
	}
	t.Logf("in the container: %s", strings.TrimSpace(c.stdout.String()))
	return parseProbe(c.stdout.String())
}

func checkProbe(t *testing.T, got, want map[string]string) {
	t.Helper()
	for call, w := range want {
		if got[call] != w {
			t.Errorf("%s: %s, want %s", call, got[call], w)
		}
	}
}

// pidfdprobe: try each system call the pidfd support of tinit rests on,
// and print CALL=RESULT pairs on one line: "ok", or the errno's name.
// Calls with a bad descriptor answer EBADF when the kernel gets to see them
// and whatever a seccomp filter says otherwise. clone_pidfd starts a child
// (this binary's exit helper) the way tinit does, with clone(CLONE_PIDFD).
func helperPidfdProbe(args []string) int {
	result := func(err error) string {
		var errno syscall.Errno
		switch {
		case err == nil:
			return "ok"
		case errors.As(err, &errno):
			return unix.ErrnoName(errno)
		}
		return strings.ReplaceAll(err.Error(), " ", "_")
	}
	var out []string
	fd, err := unix.PidfdOpen(os.Getpid(), 0)
	if err == nil {
		unix.Close(fd)
	}
	out = append(out, "pidfd_open="+result(err))
	out = append(out, "pidfd_send_signal="+result(unix.PidfdSendSignal(-1, 0, nil, 0)))
	_, err = unix.PidfdGetfd(-1, 0, 0)
	out = append(out, "pidfd_getfd="+result(err))
	// clone3 with no arguments: EINVAL from the kernel (size too small).
	_, _, e := unix.Syscall(unix.SYS_CLONE3, 0, 0, 0)
	out = append(out, "clone3="+result(errnoErr(e)))

	pidfd := -1
	self, _ := os.Executable()
	argv := workload.Of(self, "exit", "0")
	pid, err := syscall.ForkExec(self, argv, &syscall.ProcAttr{
		Files: []uintptr{0, 1, 2},
		Sys:   &syscall.SysProcAttr{PidFD: &pidfd},
	})
	if err == nil {
		var ws syscall.WaitStatus
		syscall.Wait4(pid, &ws, 0, nil)
		if pidfd < 0 {
			err = errors.New("no pidfd returned")
		} else {
			unix.Close(pidfd)
		}
	}
	out = append(out, "clone_pidfd="+result(err))
	fmt.Println(strings.Join(out, " "))
	return 0
}

func errnoErr(e syscall.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

// parseProbe reads pidfdprobe's output.
func parseProbe(out string) map[string]string {
	m := map[string]string{}
	for _, f := range strings.Fields(out) {
		if k, v, ok := strings.Cut(f, "="); ok {
			m[k] = v
		}
	}
	return m
}
