// tinit as podman's init (podman run --init --init-path).

package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/tinit-dev/tinit/internal/podman"
	"github.com/tinit-dev/tinit/internal/testenv"
)

// newPodman sets up podman for the test and imports an image made FROM
// scratch of the static test binary alone.
func newPodman(t *testing.T) (*podman.Podman, string) {
	t.Helper()
	_, err := exec.LookPath("podman")
	testenv.Need(t, "podman", err)
	needRunc(t)
	_, testbin := containerBinaries(t)
	p, err := podman.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	image := fmt.Sprintf("localhost/tinit-test:%d", os.Getpid())
	if err := p.Import(image, map[string]string{ctrTestbin[1:]: testbin}); err != nil {
		t.Fatal(err)
	}
	return p, image
}

// podmanRun starts `podman run` of argv in image with tinit as the init,
// in the foreground, with the host directory shared mounted at /shared.
// Every container gets a cgroup parent of its own, removed with the
// container.
func podmanRun(t *testing.T, p *podman.Podman, name, image, shared string, argv ...string) *run {
	t.Helper()
	return podmanRunWith(t, p, name, image, shared, nil, argv...)
}

// podmanRunWith is podmanRun with further flags of podman run.
func podmanRunWith(t *testing.T, p *podman.Podman, name, image, shared string, flags []string, argv ...string) *run {
	t.Helper()
	tinit, _ := containerBinaries(t)
	args := append(podman.RunArgs(name, tinit),
		"--volume", shared+":"+ctrShared,
		// podman starts the init as INIT -- CMD ARGS...; the environment
		// is the container's, so this turns on tinit's info log.
		"--env", "TINIT_VERBOSITY=1")
	args = append(append(args, flags...), image)
	t.Cleanup(func() {
		if err := podman.RemoveCgroup(name, 10*time.Second); err != nil {
			t.Error(err)
		}
	})
	return startEngine(t, p.Command(append(args, argv...)...), func() error { return p.Remove(name) })
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
				if out, err := p.Command("stop", "--time", "20", ctr).CombinedOutput(); err != nil {
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
			r := podmanRun(t, p, ctr, image, shared, tc.argv...)
			if tc.during != nil {
				tc.during(t, ctr, shared, r)
			}
			checkContainerRun(t, r, tc.code)
		})
	}
}

// checkContainerRun waits for a container run by an engine to end with
// code, tinit having started the command as PID 1.
func checkContainerRun(t *testing.T, r *run, code int) {
	t.Helper()
	if got := r.wait(60 * time.Second); got != code {
		t.Errorf("exit code %d, want %d; stdout %q; stderr:\n%s", got, code, r.stdout.String(), r.stderr.String())
	}
	started := r.logs(msgChildStart)
	if len(started) != 1 || !isTrue(started[0].flag("pid1")) {
		t.Errorf("want tinit to report its child started, as PID 1; stderr:\n%s", r.stderr.String())
	}
}
