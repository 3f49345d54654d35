package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tinit-dev/tinit/internal/podman"
	"github.com/tinit-dev/tinit/internal/testenv"
)

// The tests in this file run what users run: the image `make image` builds
// (tinit alone, FROM scratch, ENTRYPOINT ["/tinit", "--"]) under podman,
// and `tinit sandbox` inside runc containers.

// makeImage builds the image with `make image` into the test's podman
// storage and returns its name.
func makeImage(t *testing.T, p *podman.Podman) string {
	t.Helper()
	_, err := exec.LookPath("buildah")
	testenv.Need(t, "buildah", err)
	image := fmt.Sprintf("localhost/tinit-image-test:%d", os.Getpid())
	flags := append(p.StorageFlags(), "--storage-driver", "vfs")
	cmd := exec.Command("make", "--no-print-directory", "-C", "..", "image", "IMAGE="+image, "BUILDAH_FLAGS="+strings.Join(flags, " "))
	cmd.Env = p.Env()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make image: %v\n%s", err, out)
	}
	out, err := p.Command("image", "inspect", "--format", "{{json .Config.Entrypoint}} {{len .RootFS.Layers}}", image).CombinedOutput()
	if err != nil {
		t.Fatalf("podman image inspect: %v: %s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != `["/tinit","--"] 1` {
		t.Fatalf("image entrypoint and layers %s; want [\"/tinit\",\"--\"] and the one layer of tinit", got)
	}
	return image
}

// TestImage runs the image under podman, with the static test binary
// mounted for the helpers: the exit code passes, an orphan storm is
// reaped, `podman stop` reaches the command's group, and a leftover is
// ended when the command exits.
func TestImage(t *testing.T) {
	p, _ := newPodman(t)
	image := makeImage(t, p)
	_, testbin := containerBinaries(t)
	for _, tc := range []struct {
		name    string
		argv    func(marker string) []string
		code    int
		orphans bool
		during  func(t *testing.T, ctr, shared string, r *run)
		after   func(t *testing.T, r *run)
	}{
		{name: "exit code", argv: func(string) []string { return ctrHelper("exit", "3") }, code: 3},
		{name: "killed by signal", argv: func(string) []string { return ctrHelper("killself", "15") }, code: 143},
		{name: "reaping", argv: func(string) []string { return ctrHelper("storm", "2000", "42") }, code: 42, orphans: true},
		{
			name: "podman stop",
			argv: func(string) []string { return ctrHelper("record", ctrShared+"/signals", "child") },
			during: func(t *testing.T, ctr, shared string, r *run) {
				r.waitOutput("ready", 20*time.Second)
				if out, err := p.Command("stop", "--time", "20", ctr).CombinedOutput(); err != nil {
					t.Fatalf("podman stop: %v: %s", err, out)
				}
				waitRecorded(t, filepath.Join(shared, "signals"), syscall.SIGTERM)
				waitRecorded(t, filepath.Join(shared, "signals.child"), syscall.SIGTERM)
			},
		},
		{
			name: "leftover ended",
			argv: func(marker string) []string { return ctrHelper("leave", marker) },
			after: func(t *testing.T, r *run) {
				left, ended := r.logs("leftover process"), r.logs("leftover ended")
				if len(left) != 1 || len(ended) != 1 || ended[0].str("ended") != "killed" {
					t.Errorf("want one leftover named and ended by SIGKILL (it ignores SIGTERM); stderr:\n%s", r.stderr.String())
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.orphans {
				needOrphans(t)
			}
			marker := newMarker(t)
			ctr, shared := ctrName(), t.TempDir()
			args := []string{"run", "--rm", "--name", ctr, "--network", "none", "--cgroup-parent", "/" + ctr,
				"--volume", shared + ":" + ctrShared, "--volume", testbin + ":" + ctrTestbin + ":ro",
				"--env", "TINIT_VERBOSITY=1", "--env", "TINIT_GRACE=300ms", image}
			t.Cleanup(func() {
				if err := podman.RemoveCgroup(ctr, 10*time.Second); err != nil {
					t.Error(err)
				}
			})
			r := startEngine(t, p.Command(append(args, tc.argv(marker)...)...), func() error { return p.Remove(ctr) })
			if tc.during != nil {
				tc.during(t, ctr, shared, r)
			}
			checkContainerRun(t, r, tc.code)
			if tc.after != nil {
				tc.after(t, r)
			}
			if left := marked(marker); len(left) != 0 {
				t.Errorf("processes survived the container: %v", left)
			}
		})
	}
}

// TestSandboxInRunc runs `tinit sandbox --net none` inside runc
// containers: as root given CAP_SYS_ADMIN and CAP_NET_ADMIN (no user
// namespace), and as a user, through a user namespace, which needs those
// capabilities in the bounding set and a /proc that no masked path
// covers. Where either is missing, it must refuse in one line saying what.
func TestSandboxInRunc(t *testing.T) {
	needRunc(t)
	admin := []string{"CAP_SYS_ADMIN", "CAP_NET_ADMIN"}
	for _, tc := range []struct {
		name     string
		caps     []string
		unmasked bool
		uid      uint32
		code     int
		refusal  string
	}{
		{name: "root", caps: admin},
		{name: "user", caps: admin, unmasked: true, uid: 1000},
		{name: "user masked proc", caps: admin, uid: 1000, code: 125,
			refusal: "tinit: sandbox: mount /proc: operation not permitted (parts of the /proc tinit runs under are covered"},
		{name: "default capabilities", code: 125,
			refusal: "tinit: the capability bounding set lacks CAP_SYS_ADMIN, which the sandbox's init needs inside its user namespace"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			argv := append([]string{ctrTinit, "sandbox", "--net", "none", "--"}, ctrHelper("sbxprobe")...)
			c := runContainer(t, ctrConfig{argv: argv, caps: tc.caps, unmasked: tc.unmasked, uid: tc.uid})
			code := c.wait(60 * time.Second)
			if code != tc.code {
				t.Fatalf("exit code %d, want %d; stdout %q; stderr:\n%s", code, tc.code, c.stdout.String(), c.stderr.String())
			}
			if tc.code != 0 {
				if !strings.Contains(c.stderr.String(), tc.refusal) {
					t.Errorf("stderr does not say %q:\n%s", tc.refusal, c.stderr.String())
				}
				return
			}
			var p sbxProbe
			if err := json.Unmarshal([]byte(c.stdout.String()), &p); err != nil {
				t.Fatalf("probe output %q: %v", c.stdout.String(), err)
			}
			if p.PPid != 1 || !strings.HasPrefix(p.Init, ctrTinit+" sandbox-init") || len(p.Procs) != 2 {
				t.Errorf("in the sandbox: ppid %d, PID 1 %q, /proc %v; want the inner tinit as PID 1 and the only other process", p.PPid, p.Init, p.Procs)
			}
			if p.UID != int(tc.uid) || !slices.Equal(p.Interfaces, []string{"lo:up"}) {
				t.Errorf("uid %d, interfaces %v; want root and loopback alone, up", p.UID, p.Interfaces)
			}
		})
	}
}
