package tests

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/tinit-dev/tinit/internal/testenv"
	"golang.org/x/sys/unix"
)

// The tests in this file run tinit as PID 1 of real containers: runc with a
// bundle made here (with and without a seccomp profile that takes pidfds
// away, as old runtimes do), and podman's --init-path. Inside a container
// the children are a static build of this test binary (/testbin), so the
// same helpers run there as on the host.

func init() {
	helpers["pidfdprobe"] = helperPidfdProbe
}

// Where the test binary and tinit are inside a container, and where the
// host directory for files the helpers write (signal records) is mounted.
const (
	ctrTinit   = "/tinit"
	ctrTestbin = "/testbin"
	ctrShared  = "/shared"
)

// ctrGrace is tinit's grace period in containers: long enough to measure,
// short enough for 50 daemons in every variant.
const ctrGrace = 300 * time.Millisecond

// ctrHelper is the argv that runs a helper of the static test binary
// inside a container.
func ctrHelper(name string, args ...string) []string {
	return append([]string{ctrTestbin, "-test.run=^$", helperArg + name}, args...)
}

// staticBins are tinit and this test binary, both static, built once per
// test run for every container test.
var staticBins struct {
	once           sync.Once
	dir            string
	tinit, testbin string
	err            error
}

// containerBinaries returns static copies of tinit and of this test
// binary. The test binary running now may not be static (make test may
// use -race, which needs cgo), so a static one is built for the purpose.
func containerBinaries(t *testing.T) (tinit, testbin string) {
	t.Helper()
	// A container has no dynamic loader, and podman --init-path wants a
	// static init: a release build of tinit must be one.
	if !isStatic(tinitBin) {
		t.Fatalf("%s is not a static executable (build it with CGO_ENABLED=0)", tinitBin)
	}
	staticBins.once.Do(buildStaticBins)
	if staticBins.err != nil {
		t.Fatalf("cannot build the static test binary for containers: %v", staticBins.err)
	}
	return staticBins.tinit, staticBins.testbin
}

// buildStaticBins fills staticBins. Nothing runs after the last test to
// remove the directory, so the directories of earlier runs whose process is
// gone are removed instead: at most one is ever left behind.
func buildStaticBins() {
	b := &staticBins
	prefix := fmt.Sprintf("tinit-container-bins-%d-", os.Getpid())
	removeStaleBins()
	b.dir, b.err = os.MkdirTemp("", prefix)
	if b.err != nil {
		return
	}
	b.tinit, b.testbin = filepath.Join(b.dir, "tinit"), filepath.Join(b.dir, "testbin")
	// A copy of tinit next to the test binary, so that bundles can
	// hard-link both.
	if err := copyFile(tinitBin, b.tinit); err != nil {
		b.err = err
		return
	}
	cmd := exec.Command("go", "test", "-c", "-o", b.testbin, "./tests")
	cmd.Dir = ".." // the module root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS="+withoutRace(os.Getenv("GOFLAGS")))
	if out, err := cmd.CombinedOutput(); err != nil {
		b.err = fmt.Errorf("CGO_ENABLED=0 go test -c ./tests: %v\n%s", err, out)
		return
	}
	if !isStatic(b.testbin) {
		b.err = errors.New("CGO_ENABLED=0 go test -c built a dynamic binary")
	}
}

func removeStaleBins() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "tinit-container-bins-*-*"))
	for _, d := range dirs {
		f := strings.Split(filepath.Base(d), "-")
		pid, err := strconv.Atoi(f[len(f)-2])
		if err != nil || pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); os.IsNotExist(err) {
			os.RemoveAll(d)
		}
	}
}

func withoutRace(goflags string) string {
	var keep []string
	for _, f := range strings.Fields(goflags) {
		if f != "-race" && f != "--race" {
			keep = append(keep, f)
		}
	}
	return strings.Join(keep, " ")
}

// isStatic reports whether an ELF executable asks for no dynamic loader.
func isStatic(path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false
		}
	}
	return true
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// linkOrCopy hard-links from to to, or copies where it cannot.
func linkOrCopy(from, to string) error {
	if os.Link(from, to) == nil {
		return nil
	}
	return copyFile(from, to)
}

// makeRootfs lays out a minimal root filesystem in dir: the two static
// binaries and the mount points the container needs.
func makeRootfs(t *testing.T, dir string) {
	t.Helper()
	tinit, testbin := containerBinaries(t)
	for _, d := range []string{"proc", "dev", "sys", "tmp", ctrShared[1:]} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Join(dir, "tmp"), 0o1777)
	for from, to := range map[string]string{tinit: ctrTinit, testbin: ctrTestbin} {
		if err := linkOrCopy(from, filepath.Join(dir, to)); err != nil {
			t.Fatal(err)
		}
	}
}

// needRunc skips when runc is missing.
func needRunc(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("runc")
	testenv.Need(t, "runc", err)
	if os.Geteuid() != 0 {
		testenv.Need(t, "root", errors.New("runc containers need root here (rootless runc is not set up by these tests)"))
	}
	return path
}

// ctrConfig says what to run in a runc container.
type ctrConfig struct {
	argv    []string            // the command under tinit
	seccomp *specs.LinuxSeccomp // nil: none
	// caps are capabilities beyond runc's defaults.
	caps []string
	// unmasked leaves /proc whole: no masked or read-only paths.
	unmasked bool
	// uid runs tinit as this user instead of root.
	uid uint32
}

// ctrSpec is the config.json of a bundle, close to what `runc spec` writes
// (same capabilities, mounts, masked and read-only paths), but with a
// writable root, no terminal, no cgroup mount, and tinit as the process.
func ctrSpec(c ctrConfig, shared string) *specs.Spec {
	caps := append([]string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}, c.caps...)
	args := append([]string{ctrTinit, "-v", "--grace", ctrGrace.String(), "--"}, c.argv...)
	s := &specs.Spec{
		Version: "1.0.2", // runc wants an ociVersion
		Process: &specs.Process{
			Args: args,
			Env:  []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			Cwd:  "/",
			User: specs.User{UID: c.uid, GID: c.uid},
			Capabilities: &specs.LinuxCapabilities{
				Bounding: caps, Effective: caps, Permitted: caps, Ambient: caps,
			},
			Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
			NoNewPrivileges: true,
		},
		Root:     &specs.Root{Path: "rootfs", Readonly: false},
		Hostname: "tinit-test",
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
			{Destination: ctrShared, Type: "bind", Source: shared, Options: []string{"rbind", "rw"}},
		},
		Linux: &specs.Linux{
			Resources: &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}},
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace}, {Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace}, {Type: specs.MountNamespace},
			},
			MaskedPaths: []string{
				"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
				"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
			},
			ReadonlyPaths: []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"},
			Seccomp:       c.seccomp,
		},
	}
	if c.unmasked {
		s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = nil, nil
	}
	return s
}

// ctrIDs makes container names unique within and across test runs.
var ctrIDs atomic.Int64

func ctrName() string {
	return fmt.Sprintf("tinit-test-%d-%d", os.Getpid(), ctrIDs.Add(1))
}

// container is one `runc run` of a bundle. Its run (see main_test.go)
// holds runc's process, whose stdout and stderr are those of tinit and its
// children, and whose exit code is tinit's.
type container struct {
	*run
	id     string
	runc   string
	state  string // runc --root, private to this container
	shared string // host side of /shared
}

// runContainer writes a bundle for c in a temporary directory and starts
// `runc run` on it. Cleanup deletes the container whatever happened.
func runContainer(t *testing.T, c ctrConfig) *container {
	t.Helper()
	runc := needRunc(t)
	dir := t.TempDir()
	ctr := &container{
		id:     ctrName(),
		runc:   runc,
		state:  filepath.Join(dir, "state"),
		shared: filepath.Join(dir, "shared"),
	}
	makeRootfs(t, filepath.Join(dir, "rootfs"))
	if err := os.Mkdir(ctr.shared, 0o777); err != nil {
		t.Fatal(err)
	}
	b, err := json.MarshalIndent(ctrSpec(c, ctr.shared), "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	ctr.run = startEngine(t, exec.Command(runc, "--root", ctr.state, "run", "--bundle", dir, ctr.id), func() error {
		// Whatever state the container is in, this ends it, its
		// processes and its cgroups; runc run then returns.
		out, err := exec.Command(runc, "--root", ctr.state, "delete", "-f", ctr.id).CombinedOutput()
		if err != nil {
			return fmt.Errorf("runc delete -f %s: %v: %s", ctr.id, err, bytes.TrimSpace(out))
		}
		return nil
	})
	return ctr
}

// startEngine starts a container engine's command that runs tinit in the
// foreground (runc run, podman run): its stdout and stderr are tinit's and
// its children's, and its exit code is tinit's. At cleanup, remove ends
// the container whatever happened (it may fail once the container is
// gone), and tinit's log must hold no error.
func startEngine(t *testing.T, cmd *exec.Cmd, remove func() error) *run {
	t.Helper()
	r := startRun(t, cmd)
	t.Cleanup(func() {
		if err := remove(); err != nil && !r.exited() {
			t.Error(err)
		}
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
			t.Errorf("%s still running after the container was removed; killing it", cmd.Path)
			cmd.Process.Kill()
			<-r.done
		}
		r.checkLog(nil)
	})
	return r
}

// kill sends sig to the container's init, tinit, as `runc kill` does.
func (c *container) kill(sig string) {
	c.t.Helper()
	if out, err := exec.Command(c.runc, "--root", c.state, "kill", c.id, sig).CombinedOutput(); err != nil {
		c.t.Fatalf("runc kill %s %s: %v: %s", c.id, sig, err, out)
	}
}

// tinitLog is one JSON line of tinit's log, the fields these tests read.
type tinitLog struct {
	Level    string `json:"level"`
	Message  string `json:"message"`
	Pid1     *bool  `json:"pid1"`
	Pidfd    *bool  `json:"pidfd"`
	Reaped   *int   `json:"reaped"`
	original string
}

// logged returns tinit's log lines with message msg (everything on stderr
// that is not JSON, runc's own output included, is ignored).
func logged(stderr, msg string) []tinitLog {
	var out []tinitLog
	for _, line := range strings.Split(stderr, "\n") {
		var l tinitLog
		if json.Unmarshal([]byte(line), &l) == nil && l.Message == msg {
			l.original = line
			out = append(out, l)
		}
	}
	return out
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
				if l := logged(stderr, "leftover process"); len(l) != 50 {
					t.Errorf("want 50 leftover processes listed, got %d; log:\n%s", len(l), stderr)
				}
				if l := logged(stderr, "sent SIGTERM to leftovers"); len(l) != 1 {
					t.Errorf("want one line saying leftovers got SIGTERM; log:\n%s", stderr)
				}
				if l := logged(stderr, "grace period over; sending SIGKILL"); len(l) != 1 {
					t.Errorf("want the daemons killed when the grace period ended; log:\n%s", stderr)
				}
				// tinit, the daemons' helper and 50 sleepers: tinit reaps
				// the helper and every sleeper.
				if l := logged(stderr, "no descendants left"); len(l) != 1 || l[0].Reaped == nil || *l[0].Reaped != 51 {
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
	warned := logged(stderr, msgFallback)
	started := logged(stderr, msgChildStart)
	if noChild {
		if len(warned)+len(started) != 0 {
			t.Errorf("tinit reports a child although none could start:\n%s", stderr)
		}
		return
	}
	if len(started) != 1 || started[0].Pid1 == nil || !*started[0].Pid1 || started[0].Pidfd == nil {
		t.Fatalf("want one %q line with pid1 true and a pidfd field, got %+v; stderr:\n%s", msgChildStart, started, stderr)
	}
	switch {
	case !fallback && (len(warned) != 0 || !*started[0].Pidfd):
		t.Errorf("tinit did without pidfds in a container that allows them:\n%s", stderr)
	case fallback && len(warned) != 1:
		t.Errorf("want exactly one fallback warning, got %d:\n%s", len(warned), stderr)
	case fallback && (warned[0].Level != "warn" || *started[0].Pidfd):
		t.Errorf("want the fallback logged at warn and pidfd false, got %s and %s", warned[0].original, started[0].original)
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

// seccompVariants reproduce runtimes and kernels without pidfds. Each
// lists what the pidfdprobe helper must see inside the container.
func seccompVariants() []struct {
	name    string
	profile *specs.LinuxSeccomp
	probe   map[string]string
} {
	errno := func(e syscall.Errno) *uint { n := uint(e); return &n }
	deny := func(e syscall.Errno, names ...string) specs.LinuxSyscall {
		return specs.LinuxSyscall{Names: names, Action: specs.ActErrno, ErrnoRet: errno(e)}
	}
	pidfdCalls := []string{"pidfd_open", "pidfd_send_signal", "pidfd_getfd", "clone3"}
	return []struct {
		name    string
		profile *specs.LinuxSeccomp
		probe   map[string]string
	}{
		{
			// A runtime whose seccomp library predates pidfds: the
			// calls are unknown to it and answer ENOSYS.
			name:    "ENOSYS",
			profile: &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{deny(unix.ENOSYS, pidfdCalls...)}},
			probe: map[string]string{
				"pidfd_open": "ENOSYS", "pidfd_send_signal": "ENOSYS", "pidfd_getfd": "ENOSYS", "clone3": "ENOSYS",
				"clone_pidfd": "ok",
			},
		},
		{
			// A profile that denies what it does not know with EPERM.
			name:    "EPERM",
			profile: &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{deny(unix.EPERM, pidfdCalls...)}},
			probe: map[string]string{
				"pidfd_open": "EPERM", "pidfd_send_signal": "EPERM", "pidfd_getfd": "EPERM", "clone3": "EPERM",
				"clone_pidfd": "ok",
			},
		},
		{
			// clone(2) with CLONE_PIDFD refused with EINVAL, as filters
			// on the clone flags do, and clone3 unknown.
			name: "clone CLONE_PIDFD EINVAL",
			profile: &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
				deny(unix.ENOSYS, "clone3"),
				{
					Names: []string{"clone"}, Action: specs.ActErrno, ErrnoRet: errno(unix.EINVAL),
					Args: []specs.LinuxSeccompArg{{Index: 0, Value: unix.CLONE_PIDFD, ValueTwo: unix.CLONE_PIDFD, Op: specs.OpMaskedEqual}},
				},
			}},
			// The pidfd calls themselves are allowed: tinit falls back
			// only because the main child came without a pidfd.
			probe: map[string]string{
				"pidfd_open": "ok", "pidfd_send_signal": "EBADF", "pidfd_getfd": "EBADF", "clone3": "ENOSYS",
				"clone_pidfd": "EINVAL",
			},
		},
	}
}

// TestRuncSeccompFallback runs the container checks under seccomp profiles
// that take pidfds away. tinit must notice once, say so once, and work as
// well by pid.
func TestRuncSeccompFallback(t *testing.T) {
	needRunc(t)
	for _, v := range seccompVariants() {
		t.Run(v.name, func(t *testing.T) {
			t.Run("profile applies", func(t *testing.T) {
				checkProbe(t, probeContainer(t, v.profile), v.probe)
			})
			runCtrChecks(t, v.profile, true)
		})
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
	argv := append([]string{self}, helper("exit", "0")[1:]...)
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

// podman is a podman whose configuration, storage and state are all this
// test's own: files in testdata/container and a temporary directory.
type podman struct {
	bin  string
	dir  string
	args []string // global flags
	env  []string
}

// newPodman sets up podman for the test and imports an image made FROM
// scratch of the static test binary alone.
func newPodman(t *testing.T) (*podman, string) {
	t.Helper()
	bin, err := exec.LookPath("podman")
	testenv.Need(t, "podman", err)
	// podman runs containers with runc here (see containers.conf).
	needRunc(t)
	_, testbin := containerBinaries(t)
	conf, err := filepath.Abs("testdata/container")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p := &podman{
		bin: bin, dir: dir,
		args: []string{
			"--root", filepath.Join(dir, "root"),
			"--runroot", shortTempDir(t),
			"--tmpdir", filepath.Join(dir, "libpod"),
			"--network-config-dir", filepath.Join(dir, "net"),
		},
		env: append(os.Environ(),
			"CONTAINERS_CONF="+filepath.Join(conf, "containers.conf"),
			"CONTAINERS_STORAGE_CONF="+filepath.Join(conf, "storage.conf"),
			"TMPDIR="+dir, // podman import stages images in TMPDIR
		),
	}
	image := fmt.Sprintf("localhost/tinit-test:%d", os.Getpid())
	tarball := filepath.Join(dir, "rootfs.tar")
	if err := tarFiles(tarball, map[string]string{ctrTestbin[1:]: testbin}); err != nil {
		t.Fatal(err)
	}
	if out, err := p.command("import", tarball, image).CombinedOutput(); err != nil {
		t.Fatalf("podman import: %v\n%s", err, out)
	}
	return p, image
}

// shortTempDir is a temporary directory for podman's runroot, which podman
// wants at most 50 characters long (t.TempDir's names can be longer).
func shortTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "tinit-pm-")
	if err == nil && len(dir) > 50 {
		os.Remove(dir)
		dir, err = os.MkdirTemp("/tmp", "tinit-pm-")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func (p *podman) command(args ...string) *exec.Cmd {
	cmd := exec.Command(p.bin, append(append([]string{}, p.args...), args...)...)
	cmd.Env = p.env
	return cmd
}

// run starts `podman run` of argv in image with tinit as the init, in the
// foreground, with the host directory shared mounted at /shared. Every
// container gets a cgroup parent of its own, removed with the container.
func (p *podman) run(t *testing.T, name, image, shared string, argv ...string) *run {
	t.Helper()
	return p.runWith(t, name, image, shared, nil, argv...)
}

// runWith is run with further flags of podman run.
func (p *podman) runWith(t *testing.T, name, image, shared string, flags []string, argv ...string) *run {
	t.Helper()
	tinit, _ := containerBinaries(t)
	cgParent := "/" + name
	args := []string{
		"run", "--rm", "--name", name, "--network", "none",
		"--cgroup-parent", cgParent,
		"--volume", shared + ":" + ctrShared,
		// podman starts the init as INIT -- CMD ARGS...; the environment
		// is the container's, so this turns on tinit's info log.
		"--env", "TINIT_VERBOSITY=1",
		"--init", "--init-path", tinit,
	}
	args = append(append(args, flags...), image)
	t.Cleanup(func() { removeCgroup(t, cgParent) })
	return startEngine(t, p.command(append(args, argv...)...), func() error {
		out, err := p.command("rm", "--force", "--ignore", "--time", "0", name).CombinedOutput()
		if err != nil {
			return fmt.Errorf("podman rm -f %s: %v: %s", name, err, bytes.TrimSpace(out))
		}
		return nil
	})
}

// removeCgroup removes the v1 and v2 cgroup directories rel (absolute
// within each hierarchy) and everything below, once empty: podman's
// cgroupfs manager leaves the parent, and conmon's cgroup in it, behind.
func removeCgroup(t *testing.T, rel string) {
	roots, _ := filepath.Glob("/sys/fs/cgroup/*")
	roots = append(roots, "/sys/fs/cgroup")
	for _, root := range roots {
		dir := filepath.Join(root, rel)
		if _, err := os.Stat(dir); err != nil {
			continue
		}
		waitFor(t, 10*time.Second, "cgroup "+dir+" to empty", func() bool {
			return rmdirTree(dir) == nil
		})
	}
}

// rmdirTree removes a cgroup directory and its children, deepest first.
func rmdirTree(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.IsDir() {
			if err := rmdirTree(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return unix.Rmdir(dir)
}

// tarFiles writes a tar archive of executables: name in the archive to
// file on disk.
func tarFiles(tarball string, files map[string]string) error {
	out, err := os.Create(tarball)
	if err != nil {
		return err
	}
	defer out.Close()
	tw := tar.NewWriter(out)
	for name, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		hdr := &tar.Header{Name: name, Mode: 0o755, Size: int64(len(b)), ModTime: time.Now(), Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(b); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return out.Close()
}

// TestPodmanInitPath runs tinit as podman's init (podman run --init
// --init-path), as a user of podman would: tinit must be static, take
// podman's `INIT -- CMD` form, pass exit codes through, and forward the
// SIGTERM of `podman stop` to the command.
func TestPodmanInitPath(t *testing.T) {
	p, image := newPodman(t)
	for _, tc := range []struct {
		name   string
		argv   []string
		code   int
		during func(t *testing.T, ctr, shared string, r *run)
	}{
		{name: "exit code", argv: ctrHelper("exit", "3"), code: 3},
		{name: "killed by signal", argv: ctrHelper("killself", "15"), code: 143},
		{
			name: "podman stop",
			argv: ctrHelper("record", ctrShared+"/signals", "child"),
			code: 0, // the recorder exits 0 on SIGTERM
			during: func(t *testing.T, ctr, shared string, r *run) {
				r.waitOutput("ready", 20*time.Second)
				if out, err := p.command("stop", "--time", "20", ctr).CombinedOutput(); err != nil {
					t.Fatalf("podman stop: %v: %s", err, out)
				}
				file := filepath.Join(shared, "signals")
				waitRecorded(t, file, syscall.SIGTERM)
				waitRecorded(t, file+".child", syscall.SIGTERM)
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctr, shared := ctrName(), t.TempDir()
			r := p.run(t, ctr, image, shared, tc.argv...)
			if tc.during != nil {
				tc.during(t, ctr, shared, r)
			}
			if code := r.wait(60 * time.Second); code != tc.code {
				t.Errorf("exit code %d, want %d; stdout %q; stderr:\n%s", code, tc.code, r.stdout.String(), r.stderr.String())
			}
			started := logged(r.stderr.String(), msgChildStart)
			if len(started) != 1 || started[0].Pid1 == nil || !*started[0].Pid1 {
				t.Errorf("want tinit to report its child started, as PID 1; stderr:\n%s", r.stderr.String())
			}
		})
	}
}
