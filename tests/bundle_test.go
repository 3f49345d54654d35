package tests

import (
	"bytes"
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
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/tinit-dev/tinit/internal/testenv"
	"github.com/tinit-dev/tinit/internal/workload"
)

// What the container tests build: static copies of tinit and of this test
// binary, the root filesystem and config.json of a runc bundle, and the
// start of a container engine's run. Inside a container the children are
// the static test binary (/testbin), so the same workloads run there as on
// the host.

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
	return workload.Of(ctrTestbin, name, args...)
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
	if static, err := workload.IsStatic(tinitBin); !static {
		t.Fatalf("%s is not a static executable (build it with CGO_ENABLED=0): %v", tinitBin, err)
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
	if static, _ := workload.IsStatic(b.testbin); !static {
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

// container is one `runc run` of a bundle. Its run (see run_test.go)
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
