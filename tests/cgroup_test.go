package tests

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tinit-dev/tinit/internal/testenv"
	"golang.org/x/sys/unix"
)

// writableCgroup returns the cgroup v2 directory of this process if a
// subdirectory can be made in it, which is what tinit needs.
func writableCgroup(t *testing.T) string {
	t.Helper()
	dir, err := findWritableCgroup()
	testenv.Need(t, "cgroup2", err)
	return dir
}

func findWritableCgroup() (string, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	var rel string
	for _, line := range strings.Split(string(b), "\n") {
		if r, ok := strings.CutPrefix(line, "0::"); ok {
			rel = r
		}
	}
	for _, m := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		var st syscall.Statfs_t
		if syscall.Statfs(m, &st) != nil || st.Type != unix.CGROUP2_SUPER_MAGIC || rel == "" {
			continue
		}
		dir := filepath.Join(m, rel)
		probe := filepath.Join(dir, "tinit-test-probe")
		if err := os.Mkdir(probe, 0o755); err != nil {
			return "", fmt.Errorf("cgroup v2 directory %s is not writable: %w", dir, err)
		}
		os.Remove(probe)
		return dir, nil
	}
	return "", errors.New("no cgroup v2 hierarchy mounted")
}

// TestRunGetsOwnCgroup checks that a subreaper puts the main child in a
// cgroup of its own below tinit's, and removes it at the end.
func TestRunGetsOwnCgroup(t *testing.T) {
	parent := writableCgroup(t)
	r := start(t, modeNamed("subreaper"), spec{flags: []string{"-v"}, argv: []string{"cat", "/proc/self/cgroup"}})
	if code := r.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	// The group is named for its maker: tinit-PIDNS-PID-START-RANDOM.
	prefix := fmt.Sprintf("/tinit-%d-%d-", pidNS(t), r.cmd.Process.Pid)
	var name string
	for _, line := range strings.Split(r.stdout.String(), "\n") {
		rel, ok := strings.CutPrefix(line, "0::")
		rest, named := strings.CutPrefix(rel, prefix)
		if f := strings.Split(rest, "-"); ok && named && len(f) == 2 && len(f[1]) == 8 {
			name = filepath.Base(rel)
		}
	}
	if name == "" {
		t.Errorf("child's /proc/self/cgroup = %q, want its v2 line to start with %q", r.stdout.String(), prefix)
	}
	if !strings.Contains(r.stderr.String(), `"cgroup":true`) {
		t.Errorf("tinit did not report using a cgroup:\n%s", r.stderr.String())
	}
	if _, err := os.Stat(filepath.Join(parent, name)); name != "" && !os.IsNotExist(err) {
		t.Errorf("the run's cgroup still exists after tinit exited (stat: %v)", err)
	}

	// Cgroups the command makes below the run's are removed with it.
	script := `d=` + parent + `$(sed -n 's/^0:://p' /proc/self/cgroup) && mkdir -p "$d/a/b" && echo "$d"`
	r = start(t, modeNamed("subreaper"), spec{argv: []string{"sh", "-c", script}})
	if code := r.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit code %d; stderr %s", code, r.stderr.String())
	}
	if dir := strings.TrimSpace(r.stdout.String()); !strings.Contains(dir, "/tinit-") {
		t.Fatalf("the command saw its cgroup as %q", dir)
	} else if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the run's cgroup %s, with cgroups made below it, still exists (stat: %v)", dir, err)
	}

	r = start(t, modeNamed("subreaper-nocgroup"), spec{argv: []string{"cat", "/proc/self/cgroup"}})
	if code := r.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if bytes.Contains([]byte(r.stdout.String()), []byte("/tinit-")) {
		t.Errorf("with --no-cgroup the child is in %q", r.stdout.String())
	}
}
