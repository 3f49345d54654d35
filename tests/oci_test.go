package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/tinit-dev/tinit/internal/workload"
	"golang.org/x/sys/unix"
)

func init() {
	workload.Register("ociprobe", helperOCIProbe)
}

// ociProbe is what the ociprobe helper reports of itself.
type ociProbe struct {
	UID, GID   int
	Groups     []int
	Cwd        string
	Umask      string
	NoFile     [2]uint64
	NoNewPrivs string
	Env        []string
}

// ociprobe FILE: write an ociProbe of this process to FILE as JSON.
func helperOCIProbe(args []string) int {
	var p ociProbe
	p.UID, p.GID = os.Getuid(), os.Getgid()
	p.Groups, _ = os.Getgroups()
	p.Cwd, _ = os.Getwd()
	// The Go runtime raises its own soft RLIMIT_NOFILE at start, and
	// restores the one it was given in its children: a shell says it.
	var rl unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_NOFILE, &rl)
	soft, err := exec.Command("/bin/sh", "-c", "ulimit -Sn").Output()
	if err != nil {
		fmt.Println("ulimit:", err)
		return 3
	}
	p.NoFile[0], _ = strconv.ParseUint(strings.TrimSpace(string(soft)), 10, 64)
	p.NoFile[1] = rl.Max
	status, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(status), "\n") {
		k, v, _ := strings.Cut(l, ":")
		switch k {
		case "Umask":
			p.Umask = strings.TrimSpace(v)
		case "NoNewPrivs":
			p.NoNewPrivs = strings.TrimSpace(v)
		}
	}
	p.Env = os.Environ()
	b, _ := json.Marshal(p)
	if err := os.WriteFile(args[0], b, 0o666); err != nil {
		fmt.Println(err)
		return 3
	}
	return 0
}

// ociProcess is a process that runs the ociprobe helper (of the binary
// bin) writing to out, with every field tinit supports set.
func ociProcess(bin, out, cwd string, uid uint32) *specs.Process {
	umask := uint32(0o027)
	return &specs.Process{
		Args: workload.Of(bin, "ociprobe", out),
		Env:  []string{"PATH=/usr/bin:/bin", "OCI_TEST=yes"},
		Cwd:  cwd,
		User: specs.User{UID: uid, GID: uid, Umask: &umask},
		Rlimits: []specs.POSIXRlimit{
			{Type: "RLIMIT_NOFILE", Soft: 100, Hard: 200},
		},
		NoNewPrivileges: true,
	}
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readProbe(t *testing.T, path string) ociProbe {
	t.Helper()
	var p ociProbe
	if err := json.Unmarshal([]byte(readFile(t, path)), &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func checkProbeFields(t *testing.T, p ociProbe, cwd string, uid int, groups []int) {
	t.Helper()
	slices.Sort(p.Env)
	if p.UID != uid || p.GID != uid || !slices.Equal(p.Groups, groups) && len(p.Groups)+len(groups) > 0 {
		t.Errorf("uid %d gid %d groups %v, want %d, %d, %v", p.UID, p.GID, p.Groups, uid, uid, groups)
	}
	if p.Cwd != cwd || p.Umask != "0027" || p.NoFile != [2]uint64{100, 200} || p.NoNewPrivs != "1" {
		t.Errorf("cwd %q umask %s nofile %v no_new_privs %s; want %q, 0027, [100 200], 1", p.Cwd, p.Umask, p.NoFile, p.NoNewPrivs, cwd)
	}
	if !slices.Equal(p.Env, []string{"OCI_TEST=yes", "PATH=/usr/bin:/bin"}) {
		t.Errorf("environment %v, want the process's alone", p.Env)
	}
}

// TestOCIProcess runs a runtime-spec process, from a process object and
// from a bundle's config.json: the command gets its args, env, cwd, user,
// supplementary groups, umask, rlimits and no_new_privs.
func TestOCIProcess(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("switching users needs root")
	}
	bin, _ := sbxBin(t)
	for _, kind := range []string{"--oci-process", "--oci-config"} {
		t.Run(kind, func(t *testing.T) {
			dir, cwd := sharedDir(t), sharedDir(t)
			out := filepath.Join(dir, "probe")
			proc := ociProcess(bin, out, cwd, nobody)
			proc.User.AdditionalGids = []uint32{5, 7}
			file := filepath.Join(dir, "in.json")
			if kind == "--oci-process" {
				writeJSON(t, file, proc)
			} else {
				writeJSON(t, file, &specs.Spec{Version: "1.0.2", Process: proc, Root: &specs.Root{Path: "rootfs"}})
			}
			report := filepath.Join(t.TempDir(), "report.json")
			r := start(t, modeNamed("subreaper"), spec{flags: []string{kind, file, "--report", "report.json"}, dir: filepath.Dir(report)})
			if code := r.wait(30 * time.Second); code != 0 {
				t.Fatalf("exit code %d; stderr:\n%s", code, r.stderr.String())
			}
			checkProbeFields(t, readProbe(t, out), cwd, nobody, []int{5, 7})
			// A relative report path is the caller's, not the process's cwd.
			if _, err := os.Stat(report); err != nil {
				t.Errorf("report not written where asked: %v", err)
			}
		})
	}
}

// TestOCIProcessInSandbox runs a process in a sandbox as nobody: its own
// ids are the only ones mapped, so another uid is refused before anything
// starts.
func TestOCIProcessInSandbox(t *testing.T) {
	needUserNS(t)
	bin, _ := sbxBin(t)
	dir, cwd := sharedDir(t), sharedDir(t)
	out := filepath.Join(dir, "probe")
	file := filepath.Join(dir, "proc.json")
	writeJSON(t, file, ociProcess(bin, out, cwd, nobody))
	r := startSandbox(t, sbxSpec{user: sbxUser{"user", nobody}, flags: []string{"--bind", dir, "--bind", cwd, "--oci-process", file}})
	if code := r.wait(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d; stderr:\n%s", code, r.stderr.String())
	}
	checkProbeFields(t, readProbe(t, out), cwd, nobody, nil)

	// Without a bind of its own, the process's cwd in the caller's /tmp is
	// kept as the caller's working directory would be (it was missing in
	// the private /tmp: exit 125).
	os.Remove(out)
	r = startSandbox(t, sbxSpec{user: sbxUser{"user", nobody}, flags: []string{"--bind", dir, "--oci-process", file}})
	if code := r.wait(30 * time.Second); code != 0 {
		t.Fatalf("cwd not bound: exit code %d; stderr:\n%s", code, r.stderr.String())
	}
	checkProbeFields(t, readProbe(t, out), cwd, nobody, nil)

	os.Remove(out)
	writeJSON(t, file, ociProcess(bin, out, cwd, 0))
	r = startSandbox(t, sbxSpec{user: sbxUser{"user", nobody}, flags: []string{"--bind", dir, "--oci-process", file}})
	code := r.wait(30 * time.Second)
	if want := "user.uid: 0, but tinit runs as uid 65534"; code != 2 || !strings.Contains(r.stderr.String(), want) {
		t.Errorf("exit code %d, stderr %q; want 2 and %q", code, r.stderr.String(), want)
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("the command ran although its user was refused")
	}
}

// TestOCIBadInput: a field tinit does not support, of the wrong type or
// with a wrong value gets one line naming the field, exit 2 (125 when the
// kernel refuses a valid value), and the command never starts.
func TestOCIBadInput(t *testing.T) {
	bin, _ := sbxBin(t)
	for _, tc := range []struct {
		name, change, path string
		code               int
	}{
		{"unsupported field", `"capabilities":{"bounding":["CAP_KILL"]}`, "process.capabilities: not supported by tinit", 2},
		{"unknown field", `"argv":["x"]`, "process.argv: unknown field", 2},
		{"wrong type", `"noNewPrivileges":"yes"`, "process.noNewPrivileges: want true or false, got a string", 2},
		{"negative uid", `"user":{"uid":-1,"gid":0}`, "process.user.uid: want an integer from 0 to 4294967295", 2},
		{"soft above hard", `"rlimits":[{"type":"RLIMIT_NOFILE","soft":10,"hard":5}]`, "process.rlimits[0].soft: 10 is above the hard limit 5", 2},
		{"terminal without one", `"terminal":true`, "process.terminal: true, but tinit's stdin is not a terminal", 2},
		{"limit refused", `"rlimits":[{"type":"RLIMIT_CORE","soft":0,"hard":0},{"type":"RLIMIT_NOFILE","soft":9223372036854775807,"hard":9223372036854775807}]`, "process.rlimits[1]: setrlimit RLIMIT_NOFILE", 125},
		{"missing cwd", `"cwd":null`, "process.cwd: missing", 2},
		// encoding/json would turn the bad byte into U+FFFD.
		{"env not UTF-8", "\"env\":[\"A=\xff\"]", "process.env[0]: not valid UTF-8", 2},
		{"NUL in an argument", `"args":["/bin/true","a\u0000b"]`, "process.args[1]: a NUL byte", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "probe")
			proc, _ := json.Marshal(&specs.Process{Args: workload.Of(bin, "ociprobe", out), Cwd: "/"})
			obj := strings.TrimSuffix(string(proc), "}") + "," + tc.change + "}"
			file := filepath.Join(dir, "config.json")
			if err := os.WriteFile(file, []byte(`{"ociVersion":"1.0.2","process":`+obj+`}`), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, pre := range [][]string{nil, {"sandbox"}} {
				stderr, code := runTinit(t, append(pre, "--oci-config", file)...)
				want := "tinit: --oci-config " + file + ": " + tc.path
				if code != tc.code || strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, want) {
					t.Errorf("%v: exit %d, stderr %q; want %d and one line naming %s", pre, code, stderr, tc.code, tc.path)
				}
				if _, err := os.Stat(out); err == nil {
					t.Errorf("%v: the command ran", pre)
					os.Remove(out)
				}
			}
		})
	}
}

// TestOCIUsage: the process gives the command; one given as well is a
// usage error.
func TestOCIUsage(t *testing.T) {
	file := filepath.Join(t.TempDir(), "p.json")
	writeJSON(t, file, &specs.Process{Args: []string{"/bin/true"}, Cwd: "/"})
	stderr, code := runTinit(t, "--oci-process", file, "--", "/bin/false")
	if code != 2 || !strings.Contains(stderr, "--oci-process gives the command") {
		t.Errorf("exit %d, stderr %q; want 2 and a hint", code, stderr)
	}
	if _, code := runTinit(t, "--oci-process", file); code != 0 {
		t.Errorf("tinit --oci-process with /bin/true: exit %d", code)
	}
}

// TestOCIFileTooLarge: tinit reads no more of the file than any process it
// could start takes (/dev/zero was read until memory ran out). A sparse
// file just above the bound stands for it, which a tinit without the bound
// reads whole, quickly, and refuses as invalid JSON.
func TestOCIFileTooLarge(t *testing.T) {
	file := filepath.Join(t.TempDir(), "huge.json")
	f, err := os.Create(file)
	if err == nil {
		err = f.Truncate(64<<20 + 1)
		f.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, pre := range [][]string{nil, {"sandbox"}} {
		stderr, code := runTinit(t, append(pre, "--oci-process", file)...)
		if code != 2 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, file+": larger than 64 MiB") {
			t.Errorf("%v: exit %d, stderr %q; want 2 and one line saying the file is too large", pre, code, stderr)
		}
	}
}
