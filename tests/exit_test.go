package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tinit-dev/tinit/internal/testenv"
)

// notExecutable writes a file that exists but cannot be executed.
func notExecutable(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "plain-file")
	if err := os.WriteFile(p, []byte("#!/bin/sh\nexit 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// noShebang writes an executable script without a #! line, which
// execve(2) rejects and execvp(3) hands to /bin/sh.
func noShebang(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "script")
	if err := os.WriteFile(p, []byte("exit 4\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// badInterpreter writes a script whose #! interpreter does not exist.
func badInterpreter(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "script")
	if err := os.WriteFile(p, []byte("#!/no/such/interpreter -x\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// exitCases are the exit statuses every init is judged on.
func exitCases(t *testing.T) []struct {
	name    string
	argv    []string
	code    int
	message string // the one line tinit prints on stderr, if any
} {
	return []struct {
		name    string
		argv    []string
		code    int
		message string
	}{
		{"exit 0", helper("exit", "0"), 0, ""},
		{"exit 3", helper("exit", "3"), 3, ""},
		{"exit 255", helper("exit", "255"), 255, ""},
		{"killed by SIGKILL", helper("killself", strconv.Itoa(int(syscall.SIGKILL))), 137, ""},
		{"killed by SIGTERM", helper("killself", strconv.Itoa(int(syscall.SIGTERM))), 143, ""},
		{"killed by SIGUSR1", helper("killself", strconv.Itoa(int(syscall.SIGUSR1))), 138, ""},
		{"killed by SIGSEGV", helper("killself", strconv.Itoa(int(syscall.SIGSEGV))), 139, ""},
		{"not found", []string{"no-such-command-anywhere"}, 127, "tinit: no-such-command-anywhere: command not found"},
		{"not found by path", []string{"/no/such/file"}, 127, "tinit: /no/such/file: command not found"},
		{"not executable", []string{notExecutable(t)}, 126, "cannot execute: permission denied"},
		{"script without #!", []string{noShebang(t)}, 4, ""},
		{"a directory", []string{t.TempDir()}, 126, "cannot execute"},
		{"interpreter missing", []string{badInterpreter(t)}, 127, "bad interpreter: /no/such/interpreter: no such file or directory"},
	}
}

func TestExitCodes(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		for _, tt := range exitCases(t) {
			t.Run(tt.name, func(t *testing.T) {
				r := start(t, m, spec{argv: tt.argv})
				if got := r.wait(30 * time.Second); got != tt.code {
					t.Errorf("exit code %d, want %d; stderr:\n%s", got, tt.code, r.stderr.String())
				}
				stderr := strings.TrimSpace(r.stderr.String())
				if tt.message == "" && stderr != "" {
					t.Errorf("stderr = %q, want nothing at the default log level", stderr)
				}
				if tt.message != "" && (!strings.Contains(stderr, tt.message) || strings.Count(stderr, "\n") != 0) {
					t.Errorf("stderr = %q, want one line containing %q", stderr, tt.message)
				}
				if out := r.stdout.String(); out != "" {
					t.Errorf("stdout = %q, want nothing: stdout belongs to the child", out)
				}
			})
		}
	})
}

// TestExitCodesMatchTini runs the same cases under the real tini and checks
// that tinit's exit codes are the ones users of tini rely on.
func TestExitCodesMatchTini(t *testing.T) {
	tini, err := exec.LookPath("tini")
	testenv.Need(t, "tini", err)
	for _, tt := range exitCases(t) {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(tini, append([]string{"-s", "--"}, tt.argv...)...)
			cmd.Run()
			want := exitCode(cmd.ProcessState)
			r := start(t, modeNamed("subreaper"), spec{argv: tt.argv})
			if got := r.wait(30 * time.Second); got != want {
				t.Errorf("tinit exit code %d, tini's %d", got, want)
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "no command given"},
		{"unknown flag", []string{"--frobnicate", "true"}, "did you forget --"},
		{"bad grace", []string{"--grace", "later", "true"}, "invalid duration"},
		{"grace in hexadecimal", []string{"--grace", "0x1p2", "true"}, "invalid duration"},
		{"grace with digit separators", []string{"--grace", "1_000", "true"}, "invalid duration"},
		{"grace negative", []string{"--grace=-0.0000000001", "true"}, "invalid duration"},
		{"grace needs a value", []string{"--grace"}, "--grace needs a value"},
		{"bad timeout", []string{"--timeout", "soon", "true"}, "invalid duration"},
		{"zero timeout", []string{"--timeout", "0", "true"}, "would end the run at once"},
		{"bad timeout signal", []string{"--timeout-signal", "SIGNOPE", "true"}, "unknown signal"},
		{"bad stall", []string{"--stall", "-1s", "true"}, "invalid duration"},
		{"bad log format", []string{"--log-format", "xml", "true"}, "want json, console or auto"},
		{"report in a missing directory", []string{"--report", "/no/such/dir/r.json", "true"}, "no such directory"},
		{"junit needs a file", []string{"--junit"}, "--junit needs a value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			cmd := exec.Command(tinitBin, tt.args...)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			cmd.Run()
			if got := cmd.ProcessState.ExitCode(); got != 2 {
				t.Errorf("exit code %d, want 2", got)
			}
			msg := strings.TrimSuffix(stderr.String(), "\n")
			if !strings.HasPrefix(msg, "tinit: ") || !strings.Contains(msg, tt.want) || strings.Contains(msg, "\n") {
				t.Errorf("stderr = %q, want one line 'tinit: ...%s...'", stderr.String(), tt.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout = %q, want nothing", stdout.String())
			}
		})
	}
	cmd := exec.Command(tinitBin, "--version")
	out, err := cmd.Output()
	if err != nil || !strings.HasPrefix(string(out), "tinit ") {
		t.Errorf("tinit --version = %q, %v", out, err)
	}
}

// TestBadEnvironment checks that a malformed TINIT_ variable is a usage
// error too, not silently ignored, unless its flag is given (a flag wins
// over its variable, which is then not read) or tinit is only asked for
// its help or version.
func TestBadEnvironment(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		env    string
		code   int
		stdout string // a prefix
		stderr string // a substring, "" for none at all
	}{
		{"bad variable", []string{"--", "true"}, "TINIT_GRACE=forever", 2, "", "TINIT_GRACE"},
		{"bad boolean", []string{"--", "true"}, "TINIT_NO_PIDFD=maybe", 2, "", "TINIT_NO_PIDFD"},
		{"flag beats a bad variable", []string{"--grace", "1s", "--", "true"}, "TINIT_GRACE=forever", 0, "", ""},
		{"-c beats a bad variable", []string{"-c", "--", "true"}, "TINIT_SINGLE_CHILD=maybe", 0, "", ""},
		{"--help reads no variable", []string{"--help"}, "TINIT_GRACE=forever", 0, "Usage: tinit", ""},
		{"--version reads no variable", []string{"--version"}, "TINIT_NO_CGROUP=maybe", 0, "tinit ", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			cmd := exec.Command(tinitBin, tt.args...)
			cmd.Env = append(os.Environ(), tt.env)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			cmd.Run()
			if got := cmd.ProcessState.ExitCode(); got != tt.code {
				t.Errorf("exit %d, want %d; stderr %q", got, tt.code, stderr.String())
			}
			if !strings.HasPrefix(stdout.String(), tt.stdout) {
				t.Errorf("stdout = %q, want it to start with %q", stdout.String(), tt.stdout)
			}
			switch msg := strings.TrimSuffix(stderr.String(), "\n"); {
			case tt.stderr == "" && msg != "":
				t.Errorf("stderr = %q, want nothing", msg)
			case tt.stderr != "" && (!strings.HasPrefix(msg, "tinit: ") || !strings.Contains(msg, tt.stderr) || strings.Contains(msg, "\n")):
				t.Errorf("stderr = %q, want one line naming %s", msg, tt.stderr)
			}
		})
	}
}

// TestFastChildIsQuiet runs a child that exits before tinit has finished
// starting (its pidfd probes then meet a process already reaped): tinit
// must not mistake that for missing pidfd support, nor say anything else.
func TestFastChildIsQuiet(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		for i := 0; i < 100; i++ {
			r := start(t, m, spec{argv: []string{"/bin/true"}})
			if code := r.wait(10 * time.Second); code != 0 {
				t.Fatalf("run %d: exit code %d", i, code)
			}
			if msg := r.stderr.String(); msg != "" {
				t.Fatalf("run %d: tinit said %q", i, msg)
			}
		}
	})
}
