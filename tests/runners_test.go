package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tinit-dev/tinit/internal/testenv"
)

// The test runners users run under tinit, for real: go test on the bundled
// examples/leaky package and cargo test on examples/leaky-rs, each with a
// test that leaks, one that hangs (with LEAKY_HANG=1) and one that passes.

// runner starts tool (go, cargo) under tinit in dir.
func runner(t *testing.T, dir string, flags []string, env []string, argv ...string) *run {
	t.Helper()
	r := start(t, modeNamed("subreaper"), spec{flags: flags, env: env, argv: argv, dir: dir})
	t.Cleanup(func() { killMatching("sleep 300") })
	return r
}

// killMatching kills what a failed test left, by command line.
func killMatching(cmdline string) {
	for _, p := range liveProcs(func(dir string) bool {
		b, _ := os.ReadFile(dir + "/cmdline")
		return strings.ReplaceAll(strings.TrimRight(string(b), "\x00"), "\x00", " ") == cmdline
	}) {
		killTree(p)
	}
}

var goWarm sync.Once

// goExample returns the go command and the example package's directory,
// its test binary built once so that timeouts do not count compiling.
func goExample(t *testing.T) (string, string) {
	t.Helper()
	goBin, err := exec.LookPath("go")
	testenv.Need(t, "go", err)
	dir, _ := filepath.Abs("../examples/leaky")
	goWarm.Do(func() { exec.Command(goBin, "-C", dir, "test", "-count=1", "-run", "TestPass", ".").Run() })
	return goBin, dir
}

func TestGoTestLeak(t *testing.T) {
	goBin, dir := goExample(t)
	for _, fail := range []bool{false, true} {
		flags, code := []string{"--grace", "200ms"}, 0
		if fail {
			flags, code = append(flags, "--fail-on-leak"), 86
		}
		r := runner(t, dir, flags, nil, goBin, "test", "-count=1", "-run", "TestWithServer", ".")
		if got := r.wait(120 * time.Second); got != code {
			t.Errorf("--fail-on-leak %v: exit code %d, want %d; stderr:\n%s", fail, got, code, r.stderr.String())
		}
		left := r.logs("leftover process")
		if len(left) != 1 || !strings.Contains(left[0].str("cmdline"), "leaky-demo-server") || !strings.HasPrefix(left[0].str("test"), "leaky.test") {
			t.Errorf("want the server named as the one leftover, of leaky.test; got %v", left)
		}
		if e := r.logs("leftover ended"); len(e) != 1 || e[0].str("ended") != "killed" {
			t.Errorf("want the server killed (it ignores SIGTERM), got %v", e)
		}
	}
}

func TestGoTestHang(t *testing.T) {
	goBin, dir := goExample(t)
	r := runner(t, dir, []string{"--timeout", "8s", "--grace", "500ms"}, []string{"LEAKY_HANG=1"}, goBin, "test", "-count=1", "-run", "TestHang", ".")
	if code := r.wait(120 * time.Second); code != 124 {
		t.Errorf("exit code %d, want 124; stderr:\n%s", code, r.stderr.String())
	}
	out := r.stdout.String() + r.stderr.String()
	if !strings.Contains(out, "SIGQUIT: quit") || !strings.Contains(out, "leaky.TestHang") {
		t.Errorf("no goroutine dump of the hanging test in the output:\n%s", strings.Join(slices.DeleteFunc(strings.Split(out, "\n"), func(l string) bool { return strings.Contains(l, "diagnosis process") }), "\n"))
	}
	holder := false
	for _, f := range r.logs("diagnosis finding") {
		holder = holder || strings.Contains(f.str("finding"), "whose write end pid ") && strings.Contains(f.str("finding"), "(`sleep 300`) holds")
	}
	if !holder {
		t.Errorf("the diagnosis does not name the holder of the pipe the test waits on:\n%s", r.stderr.String())
	}
}

func TestGoTestPass(t *testing.T) {
	goBin, dir := goExample(t)
	r := runner(t, dir, nil, nil, goBin, "test", "-count=1", "-run", "TestPass", ".")
	if code := r.wait(120 * time.Second); code != 0 {
		t.Errorf("exit code %d, want 0; stderr:\n%s", code, r.stderr.String())
	}
	if r.stderr.String() != "" {
		t.Errorf("tinit said something about a clean run:\n%s", r.stderr.String())
	}
	if !strings.HasPrefix(r.stdout.String(), "ok") {
		t.Errorf("go test said %q", r.stdout.String())
	}
}

// cargoExample returns cargo and the crate's directory, with a target
// directory of the test run's own, the tests built once.
var cargoWarm sync.Once

func cargoExample(t *testing.T) (string, string, []string) {
	t.Helper()
	cargo, err := exec.LookPath("cargo")
	testenv.Need(t, "cargo", err)
	dir, _ := filepath.Abs("../examples/leaky-rs")
	env := []string{"CARGO_TARGET_DIR=" + filepath.Join(workDir, "cargo-target"), "CARGO_NET_OFFLINE=true"}
	var buildErr error
	cargoWarm.Do(func() {
		cmd := exec.Command(cargo, "test", "--offline", "--no-run")
		cmd.Dir, cmd.Env = dir, append(os.Environ(), env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = err
			t.Logf("cargo test --no-run: %s", out)
		}
	})
	if buildErr != nil {
		t.Fatalf("cannot build the crate offline: %v", buildErr)
	}
	return cargo, dir, env
}

func TestCargoTest(t *testing.T) {
	cargo, dir, env := cargoExample(t)
	t.Run("leak", func(t *testing.T) {
		r := runner(t, dir, []string{"--grace", "200ms", "--fail-on-leak"}, env, cargo, "test", "--offline", "-q", "leaks_a_helper")
		if code := r.wait(120 * time.Second); code != 86 {
			t.Errorf("exit code %d, want 86; stderr:\n%s", code, r.stderr.String())
		}
		left := r.logs("leftover process")
		if len(left) != 1 || left[0].str("cmdline") != "sleep 300" {
			t.Errorf("want the helper named, got %v", left)
		}
	})
	t.Run("hang", func(t *testing.T) {
		r := runner(t, dir, []string{"--timeout", "4s", "--grace", "300ms"}, append(env, "LEAKY_HANG=1"), cargo, "test", "--offline", "-q", "hangs_on_output")
		if code := r.wait(120 * time.Second); code != 124 {
			t.Errorf("exit code %d, want 124; stderr:\n%s", code, r.stderr.String())
		}
		holder := false
		for _, f := range r.logs("diagnosis finding") {
			holder = holder || strings.Contains(f.str("finding"), "(`sleep 300`)")
		}
		if !holder {
			t.Errorf("the diagnosis does not name the sleep that keeps the pipe open:\n%s", r.stderr.String())
		}
	})
	t.Run("pass", func(t *testing.T) {
		r := runner(t, dir, nil, env, cargo, "test", "--offline", "-q", "passes")
		if code := r.wait(120 * time.Second); code != 0 {
			t.Errorf("exit code %d; stderr:\n%s", code, r.stderr.String())
		}
		if r.stderr.String() != "" && len(r.logs("")) != 0 {
			t.Errorf("tinit said something about a clean run:\n%s", r.stderr.String())
		}
	})
}

// TestNextestIdentity: nextest marks every test process and its children
// with NEXTEST_BINARY_ID and NEXTEST_TEST_NAME; a leftover carrying them is
// named with its test.
func TestNextestIdentity(t *testing.T) {
	marker := newMarker(t)
	env := []string{"NEXTEST_BINARY_ID=leaky::integration", "NEXTEST_TEST_NAME=tests::starts_a_server", "NEXTEST_RUN_ID=0b1c"}
	r := start(t, modeNamed("subreaper"), spec{flags: []string{"--grace", "100ms"}, env: env, argv: helper("daemons", "1", marker, "0")})
	if code := r.wait(30 * time.Second); code != 0 {
		t.Errorf("exit code %d", code)
	}
	left := r.logs("leftover process")
	if len(left) != 1 || left[0].str("test") != "leaky::integration tests::starts_a_server" {
		t.Errorf("want the leftover named with its nextest test, got %v", left)
	}
}
