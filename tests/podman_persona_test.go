package tests

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tinit-dev/tinit/internal/podman"
)

// TestPodmanInitAsCatatonit runs tinit as podman's init under catatonit's
// personality. podman starts its init as /run/podman-init, a name that
// cannot be changed, so the personality comes from TINIT_PERSONALITY in
// the container's environment: exit codes pass through, and the SIGTERM of
// `podman stop` reaches the command.
func TestPodmanInitAsCatatonit(t *testing.T) {
	p, image := newPodman(t)
	flags := []string{"--env", "TINIT_PERSONALITY=catatonit"}
	t.Run("exit code", func(t *testing.T) {
		r := podmanRunWith(t, p, ctrName(), image, t.TempDir(), flags, ctrHelper("exit", "3")...)
		if code := r.wait(60 * time.Second); code != 3 {
			t.Errorf("exit code %d, want 3; stderr:\n%s", code, r.stderr.String())
		}
	})
	t.Run("not found", func(t *testing.T) {
		r := podmanRunWith(t, p, ctrName(), image, t.TempDir(), flags, "/nonexistent")
		code := r.wait(60 * time.Second)
		msg := normalize(r.stderr.String())
		// catatonit's words and code for a command that cannot run.
		if code != 1 || !strings.Contains(msg, "ERROR (catatonit:PID): failed to exec pid1: No such file or directory") {
			t.Errorf("exit code %d, stderr %q; want 1 and catatonit's message", code, msg)
		}
	})
	t.Run("podman stop", func(t *testing.T) {
		ctr, shared := ctrName(), t.TempDir()
		r := podmanRunWith(t, p, ctr, image, shared, flags, ctrHelper("record", ctrShared+"/signals")...)
		r.waitOutput("ready", 20*time.Second)
		if out, err := p.Command("stop", "--time", "20", ctr).CombinedOutput(); err != nil {
			t.Fatalf("podman stop: %v: %s", err, out)
		}
		waitRecorded(t, filepath.Join(shared, "signals"), syscall.SIGTERM)
		if code := r.wait(60 * time.Second); code != 0 {
			t.Errorf("exit code %d, want the recorder's 0; stderr:\n%s", code, r.stderr.String())
		}
	})
}

// TestPodmanPodInfraIsTinit makes tinit the catatonit podman copies into
// its pod "pause" image (podman looks for catatonit in
// helper_binaries_dir): the infra container runs `/catatonit -P`, which is
// tinit in catatonit's pause mode. It must keep running through signals
// other than SIGINT and SIGTERM, and `podman pod stop` must end it at once
// with exit code 0.
func TestPodmanPodInfraIsTinit(t *testing.T) {
	p, _ := newPodman(t)
	tinit, _ := containerBinaries(t)
	helpers := filepath.Join(p.Dir(), "helpers")
	if err := os.MkdirAll(helpers, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(tinit, filepath.Join(helpers, "catatonit")); err != nil {
		t.Fatal(err)
	}
	// podman copies the catatonit it finds in helper_binaries_dir into
	// the pause image.
	confFile := filepath.Join(p.Dir(), "containers.conf")
	conf, err := os.ReadFile(confFile)
	if err != nil {
		t.Fatal(err)
	}
	conf = bytes.Replace(conf, []byte("[engine]\n"), []byte(fmt.Sprintf("[engine]\nhelper_binaries_dir = [%q]\n", helpers)), 1)
	if err := os.WriteFile(confFile, conf, 0o644); err != nil {
		t.Fatal(err)
	}
	pod := ctrName()
	cgParent := "/" + pod
	t.Cleanup(func() {
		p.Command("pod", "rm", "--force", pod).Run()
		if err := podman.RemoveCgroup(pod, 10*time.Second); err != nil {
			t.Error(err)
		}
	})
	podmanOut := func(args ...string) string {
		t.Helper()
		out, err := p.Command(args...).CombinedOutput()
		if err != nil {
			t.Fatalf("podman %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	podmanOut("pod", "create", "--name", pod, "--network", "none", "--cgroup-parent", cgParent)
	podmanOut("pod", "start", pod)
	infra := podmanOut("pod", "inspect", pod, "--format", "{{.InfraContainerID}}")
	pid, _ := strconv.Atoi(podmanOut("inspect", infra, "--format", "{{.State.Pid}}"))
	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if got := strings.ReplaceAll(strings.TrimRight(string(cmdline), "\x00"), "\x00", " "); got != "/catatonit -P" {
		t.Fatalf("the infra container runs %q, want /catatonit -P", got)
	}
	exe, err := os.ReadFile(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(tinit)
	if !bytes.Equal(exe, want) {
		t.Fatalf("the infra container's /catatonit (%d bytes) is not tinit (%d bytes)", len(exe), len(want))
	}
	for _, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGWINCH} {
		syscall.Kill(pid, sig)
	}
	time.Sleep(200 * time.Millisecond)
	if state(pid) == 0 {
		t.Fatal("the pause process ended on a signal it should ignore")
	}
	start := time.Now()
	podmanOut("pod", "stop", "--time", "20", pod)
	took := time.Since(start)
	if code := podmanOut("inspect", infra, "--format", "{{.State.ExitCode}}"); code != "0" {
		t.Errorf("the infra container exited %s, want 0", code)
	}
	// podman waits the full --time for an init that ignores SIGTERM.
	if took > 10*time.Second {
		t.Errorf("podman pod stop took %v: the pause process did not end on SIGTERM", took)
	}
}
