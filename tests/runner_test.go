package tests

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tinit-dev/tinit/internal/testenv"
	"github.com/tinit-dev/tinit/internal/workload"
)

// TestTimeout: a command that runs past --timeout gets a diagnosis, then a
// Go program SIGQUIT (its goroutine dump lands in the log), then the tree
// is ended; tinit exits 124.
func TestTimeout(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		r := start(t, m, spec{flags: []string{"--timeout", "500ms", "--grace", "200ms"}, argv: helper("sleepfor", "1h")})
		if code := r.wait(30 * time.Second); code != 124 {
			t.Errorf("exit code %d, want 124; stderr:\n%s", code, r.stderr.String())
		}
		out := r.stderr.String()
		if to := r.logs("timeout: ending the run"); len(to) != 1 || to[0].str("signal") != "SIGQUIT" {
			t.Errorf("want one timeout line naming SIGQUIT, got %v", to)
		}
		d := r.logs("diagnosis")
		if len(d) != 1 || !strings.HasPrefix(d[0].str("reason"), "timeout after 500ms") || d[0].num("processes") != 1 {
			t.Errorf("want one diagnosis of the one process, got %v", d)
		}
		if len(r.logs("diagnosis process")) != 1 || len(r.logs("diagnosis finding")) == 0 {
			t.Errorf("the diagnosis has no process row or no finding:\n%s", out)
		}
		if !strings.Contains(out, "SIGQUIT: quit") || !strings.Contains(out, "\ngoroutine 1 ") {
			t.Errorf("no goroutine dump in the output:\n%s", out)
		}
	})
}

// TestTimeoutOfOtherPrograms: a program that is not written in Go gets no
// SIGQUIT: SIGTERM ends it at once. With --timeout-signal the tree gets
// that signal instead, and SIGKILL once the grace period is over.
func TestTimeoutOfOtherPrograms(t *testing.T) {
	r := start(t, modeNamed("subreaper"), spec{flags: []string{"-v", "--timeout", "300ms"}, argv: []string{"sleep", "60"}})
	if code := r.wait(30 * time.Second); code != 124 {
		t.Errorf("exit code %d, want 124", code)
	}
	if len(r.logs("sent SIGQUIT to Go programs for their goroutine dumps")) != 0 {
		t.Errorf("sleep got SIGQUIT, although not a Go program")
	}
	file := filepath.Join(t.TempDir(), "signals")
	r = start(t, modeNamed("subreaper"), spec{flags: []string{"--timeout", "300ms", "--timeout-signal", "USR1", "--grace", "200ms"},
		argv: sigrec(t, file, "keep")})
	r.waitOutput("ready", 10*time.Second)
	if code := r.wait(30 * time.Second); code != 124 {
		t.Errorf("exit code %d, want 124", code)
	}
	got := recorded(file)
	if !slices.Contains(got, syscall.SIGUSR1) || slices.Contains(got, syscall.SIGQUIT) || slices.Contains(got, syscall.SIGTERM) {
		t.Errorf("the command recorded %v, want SIGUSR1 and neither SIGQUIT nor SIGTERM", got)
	}
	if to := r.logs("timeout: ending the run"); len(to) != 1 || to[0].str("signal") != "SIGUSR1" {
		t.Errorf("want the timeout line to name SIGUSR1, got %v", to)
	}
}

// TestDiagnoseOnStop: the first stop signal is diagnosed before it is
// forwarded where CI=true and no terminal is attached, or with the flag;
// not otherwise, and not when the variable turns it off.
func TestDiagnoseOnStop(t *testing.T) {
	tests := []struct {
		name  string
		flags []string
		env   []string
		want  bool
	}{
		{"CI=true", nil, []string{"CI=true"}, true},
		{"no CI", nil, []string{"CI="}, false},
		{"flag", []string{"--diagnose-on-stop"}, []string{"CI="}, true},
		{"turned off in CI", nil, []string{"CI=true", "TINIT_DIAGNOSE_ON_STOP=0"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "signals")
			r := start(t, modeNamed("subreaper"), spec{flags: append([]string{"-vv"}, tt.flags...), env: tt.env, argv: helper("record", file)})
			r.waitOutput("ready", 10*time.Second)
			r.waitClaimed()
			r.signal(syscall.SIGTERM)
			if code := r.wait(10 * time.Second); code != 0 {
				t.Errorf("exit code %d", code)
			}
			d := r.logs("diagnosis")
			if got := len(d) == 1 && d[0].str("reason") == "stop signal SIGTERM"; got != tt.want {
				t.Errorf("diagnosed: %v (%v), want %v", got, d, tt.want)
			}
			if tt.want {
				out := r.stderr.String()
				if strings.Index(out, `"message":"diagnosis"`) > strings.Index(out, `"message":"forwarded"`) {
					t.Errorf("the diagnosis came after the signal was forwarded:\n%s", out)
				}
			}
		})
	}
}

// TestDiagnoseOnStopOffOnTerminal: CI=true, but a person at a terminal.
func TestDiagnoseOnStopOffOnTerminal(t *testing.T) {
	master, slave := openPty(t)
	defer master.Close()
	file := filepath.Join(t.TempDir(), "signals")
	r := start(t, modeNamed("subreaper"), spec{env: []string{"CI=true"}, argv: helper("record", file), stdin: slave, stderr: slave, ctty: true})
	waitFor(t, 10*time.Second, "the recorder to start", func() bool {
		_, err := os.Stat(file)
		return err == nil
	})
	r.signal(syscall.SIGTERM)
	if code := r.wait(10 * time.Second); code != 0 {
		t.Errorf("exit code %d", code)
	}
	if out := drainPty(t, master); strings.Contains(out, "diagnosis") {
		t.Errorf("diagnosed on a terminal:\n%s", out)
	}
}

// TestStall: a tree that uses no CPU for --stall is diagnosed once, and the
// run goes on; a busy one is not.
func TestStall(t *testing.T) {
	r := start(t, modeNamed("subreaper"), spec{flags: []string{"--stall", "300ms"}, argv: []string{"sleep", "1.5"}})
	if code := r.wait(30 * time.Second); code != 0 {
		t.Errorf("exit code %d, want the command's 0", code)
	}
	if d := r.logs("diagnosis"); len(d) != 1 || !strings.HasPrefix(d[0].str("reason"), "stall") {
		t.Errorf("want one stall diagnosis, got %v", d)
	}
	busy := `i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done`
	r = start(t, modeNamed("subreaper"), spec{flags: []string{"--stall", "300ms"}, argv: []string{"sh", "-c", busy}})
	if code := r.wait(60 * time.Second); code != 0 {
		t.Errorf("exit code %d", code)
	}
	if d := r.logs("diagnosis"); len(d) != 0 {
		t.Errorf("a busy tree was diagnosed as stalled: %v", d)
	}
}

// TestLeakReport: leftovers are named at warn level by default, with how
// each ended; a clean run says nothing; --fail-on-leak turns a successful
// leaky run into 86 and leaves other codes alone.
func TestLeakReport(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		marker := newMarker(t)
		r := start(t, m, spec{flags: []string{"--grace", "100ms"}, argv: helper("daemons", "2", marker, "0")})
		if code := r.wait(30 * time.Second); code != 0 {
			t.Errorf("exit code %d, want 0 without --fail-on-leak", code)
		}
		left, ended := r.logs("leftover process"), r.logs("leftover ended")
		if len(left) != 2 || len(ended) != 2 {
			t.Fatalf("want 2 leftovers named and 2 ends, got %v and %v", left, ended)
		}
		for _, l := range left {
			if l.str("level") != "warn" || !strings.Contains(l.str("cmdline"), marker) || l.str("state") == "" || l.num("age") < 0 {
				t.Errorf("leftover line %v lacks what it must say", l)
			}
		}
		for _, e := range ended {
			if e.str("ended") != "killed" { // the daemons ignore SIGTERM
				t.Errorf("ended line %v, want killed", e)
			}
		}
	})
	r := start(t, modeNamed("subreaper"), spec{argv: helper("exit", "0")})
	if code := r.wait(10 * time.Second); code != 0 || r.stderr.String() != "" {
		t.Errorf("a clean run: exit %d, stderr %q; want 0 and nothing", code, r.stderr.String())
	}
	tests := []struct {
		name string
		argv []string
		env  []string
		code int
	}{
		{"success with a leak", helper("daemons", "1", newMarker(t), "0"), nil, 86},
		{"success with a leak, variable", helper("daemons", "1", newMarker(t), "0"), []string{"TINIT_FAIL_ON_LEAK=1"}, 86},
		{"failure with a leak keeps its code", helper("daemons", "1", newMarker(t), "3"), nil, 3},
		{"success without a leak", helper("exit", "0"), nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			flags := []string{"--grace", "100ms"}
			if tt.env == nil {
				flags = append(flags, "--fail-on-leak")
			}
			r := start(t, modeNamed("subreaper"), spec{flags: flags, env: tt.env, argv: tt.argv})
			if code := r.wait(30 * time.Second); code != tt.code {
				t.Errorf("exit code %d, want %d", code, tt.code)
			}
		})
	}
}

// report runs tinit with --report and --junit and returns both files,
// parsed, after checking the JSON against the schema.
func report(t *testing.T, m mode, s spec, code int) (map[string]any, junitSuites) {
	t.Helper()
	dir := t.TempDir()
	jsonFile, xmlFile := filepath.Join(dir, "report.json"), filepath.Join(dir, "junit.xml")
	s.flags = append(s.flags, "--report", jsonFile, "--junit", xmlFile)
	r := start(t, m, s)
	if got := r.wait(60 * time.Second); got != code {
		t.Errorf("exit code %d, want %d; stderr:\n%s", got, code, r.stderr.String())
	}
	b, err := os.ReadFile(jsonFile)
	if err != nil {
		t.Fatalf("no report: %v", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("report is not JSON: %v\n%s", err, b)
	}
	for _, e := range validate(schema(t), doc) {
		t.Errorf("report breaks the schema: %s", e)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*tmp*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	var j junitSuites
	xb, err := os.ReadFile(xmlFile)
	if err != nil {
		t.Fatalf("no JUnit file: %v", err)
	}
	if err := xml.Unmarshal(xb, &j); err != nil {
		t.Fatalf("JUnit file is not XML: %v\n%s", err, xb)
	}
	return doc, j
}

type junitSuites struct {
	Tests    int `xml:"tests,attr"`
	Failures int `xml:"failures,attr"`
	Suites   []struct {
		Cases []struct {
			Class   string `xml:"classname,attr"`
			Name    string `xml:"name,attr"`
			Failure *struct {
				Message string `xml:"message,attr"`
				Text    string `xml:",chardata"`
			} `xml:"failure"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

// failed returns the names of the failing cases.
func (j junitSuites) failed() []string {
	var out []string
	for _, s := range j.Suites {
		for _, c := range s.Cases {
			if c.Failure != nil {
				out = append(out, c.Name)
			}
		}
	}
	return out
}

// TestReports runs the paths that end a run and checks the JSON report
// against the schema and what it says, and the JUnit file's cases.
func TestReports(t *testing.T) {
	t.Run("clean", func(t *testing.T) {
		doc, j := report(t, modeNamed("subreaper"), spec{argv: helper("exit", "0")}, 0)
		if doc["exit"] != "exited" || doc["exit_code"] != 0.0 || len(doc["leftovers"].([]any)) != 0 {
			t.Errorf("report %v", doc)
		}
		if j.Tests != 2 || j.Failures != 0 {
			t.Errorf("JUnit: %d tests, %d failures (%v), want 2 passing", j.Tests, j.Failures, j.failed())
		}
	})
	t.Run("leak", func(t *testing.T) {
		marker := newMarker(t)
		doc, j := report(t, modeNamed("subreaper"), spec{flags: []string{"--grace", "100ms", "--fail-on-leak"}, argv: helper("daemons", "2", marker, "0")}, 86)
		left := doc["leftovers"].([]any)
		if doc["exit"] != "leaked" || len(left) != 2 || left[0].(map[string]any)["ended"] != "killed" {
			t.Errorf("report: exit %v, leftovers %v", doc["exit"], left)
		}
		failed := j.failed()
		if len(failed) != 2 || !strings.HasPrefix(failed[0], "leaked pid ") || !strings.Contains(failed[0], marker) {
			t.Errorf("JUnit failures %q, want the two leaked processes named", failed)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		doc, j := report(t, modeNamed("subreaper"), spec{flags: []string{"--timeout", "300ms", "--grace", "100ms"}, argv: []string{"sleep", "60"}}, 124)
		to, _ := doc["timeout"].(map[string]any)
		if doc["exit"] != "timeout" || to == nil || len(doc["diagnoses"].([]any)) != 1 {
			t.Errorf("report: exit %v, timeout %v, diagnoses %v", doc["exit"], to, doc["diagnoses"])
		}
		failed := j.failed()
		if !slices.Contains(failed, "timeout") {
			t.Errorf("JUnit failures %q, want the timeout", failed)
		}
		for _, s := range j.Suites {
			for _, c := range s.Cases {
				if c.Name == "timeout" && !strings.Contains(c.Failure.Text, "pid ") {
					t.Errorf("the timeout case carries no diagnosis: %q", c.Failure.Text)
				}
			}
		}
	})
	t.Run("escalation", func(t *testing.T) {
		r := filepath.Join(t.TempDir(), "report.json")
		run := start(t, modeNamed("subreaper"), spec{flags: []string{"-vv", "--report", r}, argv: helper("stubborn", newMarker(t))})
		run.waitOutput("ready", 10*time.Second)
		run.signal(syscall.SIGTERM)
		run.waitLog("forwarded", 10*time.Second)
		run.signal(syscall.SIGTERM)
		if code := run.wait(10 * time.Second); code != 137 {
			t.Errorf("exit code %d, want 137", code)
		}
		b, _ := os.ReadFile(r)
		var doc map[string]any
		json.Unmarshal(b, &doc)
		for _, e := range validate(schema(t), doc) {
			t.Errorf("report breaks the schema: %s", e)
		}
		actions := ""
		for _, s := range doc["signals"].([]any) {
			actions += s.(map[string]any)["action"].(string) + " "
		}
		if !strings.Contains(actions, "escalated") {
			t.Errorf("signals %s, want an escalation", actions)
		}
	})
	t.Run("not started", func(t *testing.T) {
		doc, j := report(t, modeNamed("subreaper"), spec{argv: []string{"/no/such/command"}}, 127)
		if doc["exit"] != "not started" || !strings.Contains(doc["error"].(string), "command not found") {
			t.Errorf("report: exit %v, error %v", doc["exit"], doc["error"])
		}
		if j.Failures != 1 {
			t.Errorf("JUnit: %d failures, want the command's", j.Failures)
		}
	})
}

// TestLogFormat: console and json on request, whatever stderr is.
func TestLogFormat(t *testing.T) {
	r := start(t, modeNamed("subreaper"), spec{flags: []string{"-v", "--log-format", "console"}, argv: helper("exit", "0")})
	if code := r.wait(10 * time.Second); code != 0 {
		t.Errorf("exit code %d", code)
	}
	if out := r.stderr.String(); !strings.Contains(out, " INF main child started") || strings.Contains(out, "{") {
		t.Errorf("--log-format console wrote %q", out)
	}
	r = start(t, modeNamed("subreaper"), spec{flags: []string{"-v"}, env: []string{"TINIT_LOG_FORMAT=json"}, argv: helper("exit", "0")})
	if code := r.wait(10 * time.Second); code != 0 {
		t.Errorf("exit code %d", code)
	}
	if len(r.logs("main child started")) != 1 {
		t.Errorf("TINIT_LOG_FORMAT=json wrote %q", r.stderr.String())
	}
}

// TestDiagnosisUnprivileged runs tinit as an unprivileged user over its
// own processes: it reads all of them but the one that made itself
// undumpable, and says so in the diagnosis.
func TestDiagnosisUnprivileged(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.Need(t, "root", errors.New("switching to an unprivileged user needs root"))
	}
	tinit, testbin := containerBinaries(t)
	dir := t.TempDir()
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	for _, f := range []string{tinit, testbin} {
		if err := copyFile(f, filepath.Join(dir, filepath.Base(f))); err != nil {
			t.Fatal(err)
		}
	}
	argv := append([]string{"--timeout", "1s", "--grace", "100ms", "--"}, workload.Of(filepath.Join(dir, "testbin"), "private")...)
	cmd := exec.Command(filepath.Join(dir, "tinit"), argv...)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	r := startRun(t, cmd)
	t.Cleanup(func() { killTree(cmd.Process.Pid); <-r.done })
	if code := r.wait(30 * time.Second); code != 124 {
		t.Fatalf("exit code %d, want 124; stderr:\n%s", code, r.stderr.String())
	}
	d := r.logs("diagnosis")
	if len(d) != 1 || !strings.Contains(d[0].str("unreadable"), "descriptors of 1 processes") || !strings.Contains(d[0].str("unreadable"), "non-dumpable") {
		t.Errorf("want the diagnosis to say which process it could not read and why, got %v", d)
	}
	rows := r.logs("diagnosis process")
	if len(rows) != 2 {
		t.Fatalf("want both processes in the table, got %v", rows)
	}
	for _, row := range rows {
		private := strings.Contains(row.str("cmdline"), "private")
		if hasFds := row.str("fds") != ""; hasFds == private {
			t.Errorf("%s: descriptors %q; want them read for the user's own dumpable process only", row.str("cmdline"), row.str("fds"))
		}
	}
}
