package cgroup

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/rs/zerolog"
	"github.com/tinit-dev/tinit/fdtrack"
	"github.com/tinit-dev/tinit/internal/procfs"
	"github.com/tinit-dev/tinit/internal/testenv"
)

// setup returns a registry, a procfs reader, this process's Owner and the
// parent directory for runs, or skips (fails under make test) where no
// writable cgroup v2 directory exists.
func setup(t *testing.T) (*fdtrack.Registry, *procfs.FS, Owner, string) {
	t.Helper()
	fds := fdtrack.New(zerolog.Nop())
	proc := procfs.New(fds)
	parent, err := Parent(proc)
	if err == nil {
		probe := filepath.Join(parent, "tinit-test-probe")
		if err = os.Mkdir(probe, 0o755); err == nil {
			os.Remove(probe)
		}
	}
	testenv.Need(t, "cgroup2", err)
	self, err := Self(proc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if live := fds.Live(); len(live) != 0 || len(fds.Faults()) != 0 {
			t.Errorf("registry at the end: live %v, faults %v", live, fds.Faults())
		}
	})
	return fds, proc, self, parent
}

func TestRunLifecycle(t *testing.T) {
	fds, _, self, parent := setup(t)
	r, err := Create(fds, parent, self)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := parseName(filepath.Base(r.Path())); !ok {
		t.Errorf("the group's name %q does not carry its owner", filepath.Base(r.Path()))
	}
	fd, err := r.Fd()
	if err != nil {
		t.Fatal(err)
	}
	sleep := exec.Command("sleep", "60")
	sleep.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	procs, err := r.Procs()
	if err != nil || !slices.Equal(procs, []int{sleep.Process.Pid}) {
		t.Errorf("Procs() = %v, %v; want [%d]", procs, err, sleep.Process.Pid)
	}
	// A group made below the run's, as a command may, goes with it.
	if err := os.MkdirAll(filepath.Join(r.Path(), "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := r.Kill(); err != nil {
		t.Fatal(err)
	}
	sleep.Wait()
	if ws := sleep.ProcessState.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Errorf("sleep ended with %v, want SIGKILL", ws)
	}
	if err := r.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(r.Path()); !os.IsNotExist(err) {
		t.Errorf("%s still exists after Remove (%v)", r.Path(), err)
	}
}

// TestNamesNeverCollide: two runs of the same owner get two groups, and a
// directory that is in the way is left alone.
func TestNamesNeverCollide(t *testing.T) {
	fds, _, self, parent := setup(t)
	a, err := Create(fds, parent, self)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Remove()
	b, err := Create(fds, parent, self)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Remove()
	if a.Path() == b.Path() {
		t.Fatalf("two runs share %s", a.Path())
	}
	if err := b.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(a.Path()); err != nil {
		t.Errorf("removing one run's group touched the other's: %v", err)
	}
}

func TestParseName(t *testing.T) {
	tests := []struct {
		name string
		want Owner
		ok   bool
	}{
		{"tinit-4026531836-42-123456-0a1b2c3d", Owner{PidNS: 4026531836, Pid: 42, Start: 123456}, true},
		{"tinit-42", Owner{}, false}, // an old tinit's name proves nothing
		{"tinit-1-2-3-short", Owner{}, false},
		{"tinit-x-2-3-0a1b2c3d", Owner{}, false},
		{"tinit-1-0-3-0a1b2c3d", Owner{}, false},
		{"tinit-1--2-3-0a1b2c3d", Owner{}, false},
		{"other-1-2-3-0a1b2c3d", Owner{}, false},
	}
	for _, tt := range tests {
		got, ok := parseName(tt.name)
		if ok != tt.ok || got != tt.want {
			t.Errorf("parseName(%q) = %+v, %v; want %+v, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

// TestCleanStale leaves behind what killed runs would, and checks that
// only the empty groups of makers proven dead are removed.
func TestCleanStale(t *testing.T) {
	fds, proc, self, parent := setup(t)
	r, err := Create(fds, parent, self)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Remove()
	// A process that has come and gone: its pid names nobody now.
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	dead := Owner{PidNS: self.PidNS, Pid: gone.Process.Pid, Start: 1}
	reused := Owner{PidNS: self.PidNS, Pid: self.Pid, Start: self.Start - 1} // same pid, another process
	foreign := Owner{PidNS: self.PidNS + 1, Pid: gone.Process.Pid, Start: 1}
	dirs := map[string]bool{ // name -> want removed
		dead.name("00000001"):    true,
		reused.name("00000002"):  true,
		self.name("00000003"):    false, // alive: this very process
		foreign.name("0000004"):  false, // malformed random part
		foreign.name("00000005"): false, // another namespace cannot be judged
		"tinit-12345":            false,
		"not-ours":               false,
	}
	for name := range dirs {
		if err := os.Mkdir(filepath.Join(parent, name), 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove(filepath.Join(parent, name, "sub")); os.Remove(filepath.Join(parent, name)) })
	}
	if err := os.Mkdir(filepath.Join(parent, dead.name("00000001"), "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A dead maker's group that still holds a process stays.
	busy := dead.name("00000006")
	if err := os.Mkdir(filepath.Join(parent, busy), 0o755); err != nil {
		t.Fatal(err)
	}
	sleep := exec.Command("sleep", "60")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(parent, busy, "cgroup.procs"), []byte(strconv.Itoa(sleep.Process.Pid)), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sleep.Process.Kill()
		sleep.Wait()
		os.Remove(filepath.Join(parent, busy))
	})
	removed, err := r.CleanStale(proc, 100)
	if err == nil || !strings.Contains(err.Error(), busy) {
		t.Errorf("CleanStale error = %v, want it to name the busy group", err)
	}
	for name, want := range dirs {
		_, serr := os.Stat(filepath.Join(parent, name))
		if got := os.IsNotExist(serr); got != want {
			t.Errorf("%s removed: %v, want %v", name, got, want)
		}
		if slices.Contains(removed, name) != want {
			t.Errorf("CleanStale returned %v; %s in it should be %v", removed, name, want)
		}
	}
	if _, err := os.Stat(filepath.Join(parent, busy)); err != nil {
		t.Errorf("the busy group was removed: %v", err)
	}
	if _, err := os.Stat(r.Path()); err != nil {
		t.Errorf("the cleaner's own group was removed: %v", err)
	}
	// The cap holds.
	for _, suffix := range []string{"00000010", "00000011"} {
		os.Mkdir(filepath.Join(parent, dead.name(suffix)), 0o755)
		t.Cleanup(func() { os.Remove(filepath.Join(parent, dead.name(suffix))) })
	}
	if removed, _ := r.CleanStale(proc, 1); len(removed) != 1 {
		t.Errorf("CleanStale(max 1) removed %v", removed)
	}
}
