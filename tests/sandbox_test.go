package tests

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tinit-dev/tinit/internal/procfs"
	"github.com/tinit-dev/tinit/internal/testenv"
	"github.com/tinit-dev/tinit/internal/workload"
	"golang.org/x/sys/unix"
)

// The tests in this file run `tinit sandbox`, as root (no user namespace)
// and as an unprivileged user (nobody, through a user namespace that maps
// its own uid). The sandbox's /tmp is its own, and the test binary lives in
// the host's /tmp: every run binds a copy of it, in a directory any user
// can read, into the sandbox read-only.

func init() {
	workload.Register("sbxprobe", helperSbxProbe)
	workload.Register("sbxwrite", helperSbxWrite)
	workload.Register("sbxleak", helperSbxLeak)
	workload.Register("sbxread", helperSbxRead)
	workload.Register("sbxrofs", helperSbxROFS)
	workload.Register("spawnwait", helperSpawnWait)
	workload.Register("spawnthread", helperSpawnThread)
	workload.Register("nouserns", helperNoUserNS)
	workload.Register("fgjob", helperFgJob)
}

// sbxUser is who runs tinit sandbox.
type sbxUser struct {
	name string
	uid  int
}

const nobody = 65534

var sbxUsers = []sbxUser{{"root", 0}, {"user", nobody}}

// forEachSbxUser runs f as root and as nobody.
func forEachSbxUser(t *testing.T, f func(t *testing.T, u sbxUser)) {
	for _, u := range sbxUsers {
		t.Run(u.name, func(t *testing.T) {
			if u.uid != 0 {
				needUserNS(t)
			}
			f(t, u)
		})
	}
}

// needUserNS checks that an unprivileged user may make a user namespace
// here (the sandbox then may too).
func needUserNS(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.Need(t, "root", errors.New("the sandbox tests switch to nobody, which needs root"))
	}
	unshare, err := exec.LookPath("unshare")
	testenv.Need(t, "unshare", err)
	cmd := exec.Command(unshare, "--user", "/bin/true")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	if out, err := cmd.CombinedOutput(); err != nil {
		testenv.Need(t, "userns", fmt.Errorf("nobody cannot make a user namespace: %v: %s", err, out))
	}
}

// sbxFiles is the copy of the test binary every user can run.
var sbxFiles struct {
	once     sync.Once
	dir, bin string
	err      error
}

func sbxBin(t *testing.T) (bin, dir string) {
	t.Helper()
	sbxFiles.once.Do(func() {
		f := &sbxFiles
		f.dir = filepath.Join(workDir, "sbx")
		if f.err = os.Chmod(workDir, 0o755); f.err != nil {
			return
		}
		if f.err = os.Mkdir(f.dir, 0o755); f.err != nil {
			return
		}
		f.bin = filepath.Join(f.dir, "tests.test")
		f.err = linkOrCopy(os.Args[0], f.bin)
	})
	if sbxFiles.err != nil {
		t.Fatalf("copy the test binary for the sandbox: %v", sbxFiles.err)
	}
	return sbxFiles.bin, sbxFiles.dir
}

// sbxHelper is the argv of a helper inside the sandbox.
func sbxHelper(t *testing.T, name string, args ...string) []string {
	bin, _ := sbxBin(t)
	return workload.Of(bin, name, args...)
}

// sbxSpec says what to run in a sandbox.
type sbxSpec struct {
	user  sbxUser
	flags []string // tinit sandbox flags, beside the bind of the test binary
	argv  []string
	dir   string // working directory; "" for the test binary's
	stdin *os.File
	ctty  bool
	// direct leaves tinit's parent out: the test starts tinit itself.
	expect []string
}

// sandboxArgv is tinit sandbox with the test binary bound in.
func sandboxArgv(t *testing.T, flags, argv []string) []string {
	_, dir := sbxBin(t)
	a := append([]string{tinitBin, "sandbox", "--ro-bind", dir}, flags...)
	return append(append(a, "--"), argv...)
}

func startSandbox(t *testing.T, s sbxSpec) *run {
	t.Helper()
	argv := sandboxArgv(t, s.flags, s.argv)
	cmd := exec.Command(argv[0], argv[1:]...)
	_, cmd.Dir = sbxBin(t)
	if s.dir != "" {
		cmd.Dir = s.dir
	}
	cmd.Stdin = s.stdin
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: s.ctty, Setctty: s.ctty}
	if s.user.uid != 0 {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(s.user.uid), Gid: uint32(s.user.uid)}
	}
	r := launch(t, mode{name: "sandbox"}, cmd, false)
	t.Cleanup(func() { r.checkLog(s.expect) })
	return r
}

// sbxProbe is what the sbxprobe helper sees inside.
type sbxProbe struct {
	Pid, PPid     int
	Init          string // /proc/1/cmdline, spaces for NULs
	Procs         []int  // the pids /proc lists
	UID, GID      int
	Cwd           string
	Tmp           []string // what /tmp holds
	TmpWritable   bool
	CapEff        string
	NetNS         string
	Interfaces    []string // NAME:up|down
	HostTmpMarker bool     // the file named by the argument is there
	Env           []string
}

// sbxprobe MARKERFILE: print an sbxProbe as JSON.
func helperSbxProbe(args []string) int {
	var p sbxProbe
	p.Pid, p.PPid, p.UID, p.GID = os.Getpid(), os.Getppid(), os.Getuid(), os.Getgid()
	b, _ := os.ReadFile("/proc/1/cmdline")
	p.Init = strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if n, err := strconv.Atoi(e.Name()); err == nil {
			p.Procs = append(p.Procs, n)
		}
	}
	p.Cwd, _ = os.Getwd()
	tmp, _ := os.ReadDir("/tmp")
	for _, e := range tmp {
		p.Tmp = append(p.Tmp, e.Name())
	}
	p.TmpWritable = os.WriteFile("/tmp/probe", []byte("x"), 0o644) == nil
	status, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "CapEff:"); ok {
			p.CapEff = strings.TrimSpace(v)
		}
	}
	p.NetNS, _ = os.Readlink("/proc/self/ns/net")
	ifs, _ := net.Interfaces()
	for _, i := range ifs {
		state := "down"
		if i.Flags&net.FlagUp != 0 {
			state = "up"
		}
		p.Interfaces = append(p.Interfaces, i.Name+":"+state)
	}
	if len(args) > 0 {
		_, err := os.Stat(args[0])
		p.HostTmpMarker = err == nil
	}
	p.Env = os.Environ()
	out, _ := json.Marshal(p)
	fmt.Println(string(out))
	return 0
}

// sbxwrite FILE: write FILE; exit 0, or 30 on a read-only file system, 31
// on another error.
func helperSbxWrite(args []string) int {
	err := os.WriteFile(args[0], []byte("written in the sandbox\n"), 0o644)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, syscall.EROFS):
		return 30
	}
	fmt.Println(err)
	return 31
}

// sbxleak MARKER: start a daemon in a session of its own and a stopped
// child, both carrying MARKER, say "ready", block forever.
func helperSbxLeak(args []string) int {
	d := workload.Cmd("sleeper", args[0])
	d.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	s := workload.Cmd("sleeper", args[0], "stop")
	for _, c := range []*exec.Cmd{d, s} {
		out, _ := c.StdoutPipe()
		if err := c.Start(); err != nil {
			return 3
		}
		var b [2]byte
		out.Read(b[:])
	}
	for st, err := procfs.New(nil).Stat(s.Process.Pid); err == nil && st.State != 'T'; st, err = procfs.New(nil).Stat(s.Process.Pid) {
		time.Sleep(time.Millisecond)
	}
	fmt.Println("ready")
	for {
		time.Sleep(time.Hour)
	}
}

// sbxrofs PATH: exit 0 when PATH is on a read-only mount, 1 when not, 3
// when statfs fails.
func helperSbxROFS(args []string) int {
	var st unix.Statfs_t
	if err := unix.Statfs(args[0], &st); err != nil {
		fmt.Println(err)
		return 3
	}
	if st.Flags&unix.ST_RDONLY == 0 {
		return 1
	}
	return 0
}

// sbxread FILE: read a line from stdin, write it to FILE.
func helperSbxRead(args []string) int {
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil {
		fmt.Println("read:", err)
		return 3
	}
	if os.WriteFile(args[0], []byte(line), 0o644) != nil {
		return 4
	}
	return 0
}

// spawnwait ARGV...: start ARGV with this process's stdout and stderr,
// print its pid, block forever (a parent that can be killed).
func helperSpawnWait(args []string) int {
	c := exec.Command(args[0], args[1:]...)
	c.Stdout, c.Stderr = os.Stdout, os.Stderr
	if err := c.Start(); err != nil {
		return 3
	}
	fmt.Println("child", c.Process.Pid)
	for {
		time.Sleep(time.Hour)
	}
}

// spawnthread ARGV...: start ARGV from a thread that then exits, while
// this process lives on; exit with ARGV's code (125 if it was killed).
func helperSpawnThread(args []string) int {
	// This goroutine keeps the main thread, which the runtime never ends,
	// so that the one below runs on another.
	runtime.LockOSThread()
	started := make(chan *exec.Cmd)
	go func() {
		// A goroutine that ends locked to its thread ends the thread.
		runtime.LockOSThread()
		c := exec.Command(args[0], args[1:]...)
		c.Stdout, c.Stderr = os.Stdout, os.Stderr
		if err := c.Start(); err != nil {
			started <- nil
			return
		}
		time.Sleep(100 * time.Millisecond) // tinit is running by now
		started <- c
	}()
	c := <-started
	if c == nil {
		return 3
	}
	c.Wait()
	if c.ProcessState.ExitCode() < 0 {
		fmt.Println("killed:", c.ProcessState)
		return 125
	}
	return c.ProcessState.ExitCode()
}

// nouserns UID ARGV...: in a user namespace of its own, as its root, set
// user.max_user_namespaces to 0 (for this namespace and those below it
// only), become UID and exec ARGV: ARGV may make no user namespace.
func helperNoUserNS(args []string) int {
	if err := os.WriteFile("/proc/sys/user/max_user_namespaces", []byte("0"), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "nouserns:", err)
		return 3
	}
	uid, _ := strconv.Atoi(args[0])
	if err := syscall.Setgroups(nil); err != nil {
		fmt.Fprintln(os.Stderr, "nouserns: setgroups:", err)
		return 3
	}
	if err := syscall.Setresgid(uid, uid, uid); err != nil {
		return 3
	}
	if err := syscall.Setresuid(uid, uid, uid); err != nil {
		return 3
	}
	err := unix.Exec(args[1], args[1:], os.Environ())
	fmt.Fprintln(os.Stderr, "nouserns: exec:", err)
	return 4
}

func probe(t *testing.T, r *run) sbxProbe {
	t.Helper()
	if code := r.wait(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d; stdout %q; stderr:\n%s", code, r.stdout.String(), r.stderr.String())
	}
	var p sbxProbe
	if err := json.Unmarshal([]byte(r.stdout.String()), &p); err != nil {
		t.Fatalf("probe output %q: %v", r.stdout.String(), err)
	}
	return p
}

// TestSandboxIsolation checks what the command sees: tinit as PID 1 and
// its parent, only the sandbox's processes in /proc, its own user (without
// a capability when unprivileged), the working directory, an empty private
// /tmp, and with --net none a network of loopback alone, up.
func TestSandboxIsolation(t *testing.T) {
	hostNet, _ := os.Readlink("/proc/self/ns/net")
	forEachSbxUser(t, func(t *testing.T, u sbxUser) {
		marker, err := os.CreateTemp("/tmp", "tinit-host-tmp-")
		if err != nil {
			t.Fatal(err)
		}
		marker.Close()
		defer os.Remove(marker.Name())
		for _, net := range []string{"host", "none"} {
			t.Run("net-"+net, func(t *testing.T) {
				var flags []string
				if net == "none" {
					flags = []string{"--net", "none"}
				}
				r := startSandbox(t, sbxSpec{user: u, flags: flags, argv: sbxHelper(t, "sbxprobe", marker.Name())})
				p := probe(t, r)
				_, dir := sbxBin(t)
				if p.PPid != 1 || !strings.HasPrefix(p.Init, tinitBin+" sandbox-init") {
					t.Errorf("ppid %d, PID 1 %q; want tinit's inner init as PID 1 and the parent", p.PPid, p.Init)
				}
				if len(p.Procs) != 2 || p.Procs[0] != 1 || p.Procs[1] != p.Pid {
					t.Errorf("/proc lists %v; want PID 1 and the command (%d) alone", p.Procs, p.Pid)
				}
				if p.UID != u.uid || p.GID != u.uid {
					t.Errorf("uid %d gid %d, want %d", p.UID, p.GID, u.uid)
				}
				wantCaps := u.uid == 0
				if hasCaps := p.CapEff != "0000000000000000"; hasCaps != wantCaps {
					t.Errorf("CapEff %s; want capabilities %v", p.CapEff, wantCaps)
				}
				// os/exec sets PWD to the directory it starts tinit in.
				env, inside := dedupEnv(append(os.Environ(), "PWD="+dir)), dedupEnv(p.Env)
				slices.Sort(env)
				slices.Sort(inside)
				if !slices.Equal(env, inside) {
					t.Errorf("environment inside %v, want the caller's %v", p.Env, env)
				}
				if p.Cwd != dir {
					t.Errorf("working directory %q, want %q", p.Cwd, dir)
				}
				if p.HostTmpMarker || !p.TmpWritable {
					t.Errorf("/tmp holds %v, the host's file seen %v, writable %v; want a private, empty, writable /tmp",
						p.Tmp, p.HostTmpMarker, p.TmpWritable)
				}
				if _, err := os.Stat("/tmp/probe"); err == nil {
					os.Remove("/tmp/probe")
					t.Errorf("the sandbox's /tmp/probe reached the host")
				}
				switch {
				case net == "none" && (p.NetNS == hostNet || strings.Join(p.Interfaces, ",") != "lo:up"):
					t.Errorf("--net none: network %s (host %s), interfaces %v; want a new one with lo up alone", p.NetNS, hostNet, p.Interfaces)
				case net == "host" && p.NetNS != hostNet:
					t.Errorf("network %s, want the host's %s", p.NetNS, hostNet)
				}
			})
		}
	})
}

// TestSandboxExitCodes checks that the command's code passes through both
// tinits unchanged, 128+n included, and that a failure to start is said
// once.
func TestSandboxExitCodes(t *testing.T) {
	forEachSbxUser(t, func(t *testing.T, u sbxUser) {
		for _, tc := range []struct {
			name string
			argv []string
			code int
			line string
		}{
			{"exit 3", sbxHelper(t, "exit", "3"), 3, ""},
			{"exit 0", sbxHelper(t, "exit", "0"), 0, ""},
			{"SIGTERM", sbxHelper(t, "killself", "15"), 143, ""},
			{"SIGKILL", sbxHelper(t, "killself", "9"), 137, ""},
			{"not found", []string{"/nonexistent"}, 127, "tinit: /nonexistent: command not found"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := startSandbox(t, sbxSpec{user: u, argv: tc.argv})
				if code := r.wait(30 * time.Second); code != tc.code {
					t.Errorf("exit code %d, want %d; stderr:\n%s", code, tc.code, r.stderr.String())
				}
				if tc.line != "" && strings.Count(r.stderr.String(), tc.line) != 1 {
					t.Errorf("want %q once on stderr, got:\n%s", tc.line, r.stderr.String())
				}
			})
		}
	})
}

// TestSandboxUsageErrors checks the sandbox's own flags: one line, exit 2,
// nothing started.
func TestSandboxUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags []string
		want  string
	}{
		{"missing bind source", []string{"--bind", "/nonexistent-tinit"}, "--bind /nonexistent-tinit /nonexistent-tinit: source: /nonexistent-tinit: no such file or directory"},
		{"bind file on directory", []string{"--ro-bind", "/etc/hostname:/etc"}, "must both be directories or both files"},
		{"bad net", []string{"--net", "bridge"}, `--net: want none or host, got "bridge"`},
		{"bind without value", []string{"--bind"}, "--bind needs a value"},
		// A mount on / is never seen (paths start from the root below
		// it); one on /proc would replace the sandbox's own.
		{"bind on the root", []string{"--bind", "/etc:/"}, "--bind /etc /: destination / is the sandbox's root"},
		{"bind on proc", []string{"--ro-bind", "/etc:/proc"}, "--ro-bind /etc /proc: destination /proc is the sandbox's fresh /proc"},
		{"pause without a command", []string{"-P"}, "no command given"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			argv := append([]string{"sandbox"}, tc.flags...)
			if tc.name != "bind without value" && tc.name != "pause without a command" {
				argv = append(argv, "--", "/bin/true")
			}
			out, code := runTinit(t, argv...)
			if code != 2 || strings.Count(out, "\n") != 1 || !strings.Contains(out, tc.want) {
				t.Errorf("tinit %v: exit %d, output %q; want exit 2 and one line with %q", argv, code, out, tc.want)
			}
		})
	}
}

// TestSandboxAfterAFlag: `sandbox` after one of tinit's flags is read as
// the command; when no such command exists, the line says where it goes.
func TestSandboxAfterAFlag(t *testing.T) {
	out, code := runTinit(t, "--grace", "1s", "sandbox", "--", "/bin/true")
	want := "tinit: sandbox: command not found (tinit sandbox must come first: tinit sandbox [flags] -- COMMAND)\n"
	if code != 127 || out != want {
		t.Errorf("exit %d, stderr %q; want 127 and %q", code, out, want)
	}
}

// TestSandboxInitByHand: the inner tinit's hidden command, run by hand,
// is a usage error that writes nothing to the descriptor it names (it
// wrote its ready byte to any).
func TestSandboxInitByHand(t *testing.T) {
	file := filepath.Join(t.TempDir(), "fd3")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(tinitBin, "sandbox-init", "3")
	cmd.ExtraFiles = []*os.File{f}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	cmd.Run()
	if code := exitCode(cmd.ProcessState); code != 2 || !strings.Contains(stderr.String(), "sandbox-init is started by tinit sandbox only") {
		t.Errorf("exit %d, stderr %q; want 2 and a usage error", code, stderr.String())
	}
	if b := readFile(t, file); b != "" {
		t.Errorf("fd 3 got %q, want nothing", b)
	}
}

// runTinit runs tinit with args to its end and returns what it wrote to
// stderr and its exit code.
func runTinit(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(tinitBin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("run tinit: %v", err)
	}
	return stderr.String(), exitCode(cmd.ProcessState)
}

// TestSandboxBinds checks --bind (writable, seen by the host), --ro-bind
// (EROFS inside) and a destination in the private /tmp that tinit makes.
func TestSandboxBinds(t *testing.T) {
	forEachSbxUser(t, func(t *testing.T, u sbxUser) {
		for _, tc := range []struct {
			name  string
			flag  string
			dst   string // "" for the source's own path
			code  int
			wrote bool
		}{
			{"bind", "--bind", "", 0, true},
			{"ro-bind", "--ro-bind", "", 30, false},
			{"bind into tmp", "--bind", "/tmp/made/by/tinit", 0, true},
			{"ro-bind into tmp", "--ro-bind", "/tmp/ro", 30, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				host := sharedDir(t)
				arg, inside := host, host
				if tc.dst != "" {
					arg, inside = host+":"+tc.dst, tc.dst
				}
				r := startSandbox(t, sbxSpec{user: u, flags: []string{tc.flag, arg},
					argv: sbxHelper(t, "sbxwrite", filepath.Join(inside, "out"))})
				if code := r.wait(30 * time.Second); code != tc.code {
					t.Errorf("exit code %d, want %d; stdout %q stderr:\n%s", code, tc.code, r.stdout.String(), r.stderr.String())
				}
				_, err := os.Stat(filepath.Join(host, "out"))
				if wrote := err == nil; wrote != tc.wrote {
					t.Errorf("file written through the bind: %v, want %v", wrote, tc.wrote)
				}
			})
		}
	})
}

// TestSandboxBindsNotHidden checks binds that the sandbox's own mounts
// could cover: one below /proc (it must come after the fresh /proc, as
// `--ro-bind /proc/sys /proc/sys` expects), and one in the working
// directory kept from the caller's /tmp (it must come after that
// directory's own bind).
func TestSandboxBindsNotHidden(t *testing.T) {
	forEachSbxUser(t, func(t *testing.T, u sbxUser) {
		t.Run("below proc", func(t *testing.T) {
			r := startSandbox(t, sbxSpec{user: u, flags: []string{"--ro-bind", "/proc/sys"}, argv: sbxHelper(t, "sbxrofs", "/proc/sys")})
			if code := r.wait(30 * time.Second); code != 0 {
				t.Errorf("exit code %d, want 0 (/proc/sys read-only); stdout %q stderr:\n%s", code, r.stdout.String(), r.stderr.String())
			}
		})
		t.Run("in the kept working directory", func(t *testing.T) {
			cwd, src := sharedDir(t), sharedDir(t)
			if !strings.HasPrefix(cwd, "/tmp/") {
				t.Skipf("the temporary directory %s is not in /tmp", cwd)
			}
			sub := filepath.Join(cwd, "sub")
			if err := os.Mkdir(sub, 0o777); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(sub, 0o777); err != nil {
				t.Fatal(err)
			}
			r := startSandbox(t, sbxSpec{user: u, dir: cwd, flags: []string{"--bind", src + ":" + sub},
				argv: sbxHelper(t, "sbxwrite", filepath.Join(sub, "out"))})
			if code := r.wait(30 * time.Second); code != 0 {
				t.Errorf("exit code %d, want 0; stdout %q stderr:\n%s", code, r.stdout.String(), r.stderr.String())
			}
			if _, err := os.Stat(filepath.Join(src, "out")); err != nil {
				t.Errorf("the file written at %s did not reach the bind's source: %v", sub, err)
			}
			if _, err := os.Stat(filepath.Join(sub, "out")); err == nil {
				t.Errorf("the file was written in the working directory's own %s, which the bind should cover", sub)
			}
		})
	})
}

// TestSandboxExitZeroFlag checks -e inside the sandbox as plain tinit
// applies it: the codes named become 0, others pass through.
func TestSandboxExitZeroFlag(t *testing.T) {
	forEachSbxUser(t, func(t *testing.T, u sbxUser) {
		for _, tc := range []struct {
			name  string
			flags []string
			argv  []string
			code  int
		}{
			{"exit 3 with -e 3", []string{"-e", "3"}, sbxHelper(t, "exit", "3"), 0},
			{"SIGTERM with -e 143", []string{"-e", "143"}, sbxHelper(t, "killself", "15"), 0},
			{"exit 3 with -e 4", []string{"-e", "4"}, sbxHelper(t, "exit", "3"), 3},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := startSandbox(t, sbxSpec{user: u, flags: tc.flags, argv: tc.argv})
				if code := r.wait(30 * time.Second); code != tc.code {
					t.Errorf("exit code %d, want %d; stderr:\n%s", code, tc.code, r.stderr.String())
				}
			})
		}
	})
}

// TestSandboxDiesWithOuterOrItsParent kills the outer tinit, or its
// parent, with SIGKILL: nothing of the run may survive, neither a daemon
// in its own session nor a stopped process.
func TestSandboxDiesWithOuterOrItsParent(t *testing.T) {
	forEachSbxUser(t, func(t *testing.T, u sbxUser) {
		for _, who := range []string{"outer", "parent"} {
			t.Run(who, func(t *testing.T) {
				marker := newMarker(t)
				argv := sandboxArgv(t, nil, sbxHelper(t, "sbxleak", marker))
				if who == "parent" {
					argv = append(sbxHelper(t, "spawnwait"), argv...)
				}
				cmd := exec.Command(argv[0], argv[1:]...)
				_, cmd.Dir = sbxBin(t)
				if u.uid != 0 {
					cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(u.uid), Gid: uint32(u.uid)}}
				}
				r := launch(t, mode{name: "sandbox"}, cmd, false)
				r.waitOutput("ready", 30*time.Second)
				if n := len(sleepers(marker)); n != 2 {
					t.Fatalf("%d sleepers, want the daemon and the stopped one", n)
				}
				r.signal(syscall.SIGKILL)
				waitFor(t, 10*time.Second, "every process of the sandbox to die", func() bool {
					return len(marked(marker)) == 0 && len(tinitsOf(argv)) == 0
				})
			})
		}
	})
}

// TestSandboxOutlivesTheThreadThatStartedIt: a thread of tinit's parent
// that started it and exits is no death of the parent (PR_SET_PDEATHSIG
// took it for one, and killed the run).
func TestSandboxOutlivesTheThreadThatStartedIt(t *testing.T) {
	forEachSbxUser(t, func(t *testing.T, u sbxUser) {
		argv := append(sbxHelper(t, "spawnthread"), sandboxArgv(t, nil, sbxHelper(t, "sleepfor", "500ms"))...)
		cmd := exec.Command(argv[0], argv[1:]...)
		_, cmd.Dir = sbxBin(t)
		if u.uid != 0 {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(u.uid), Gid: uint32(u.uid)}}
		}
		out, err := cmd.CombinedOutput()
		if code := exitCode(cmd.ProcessState); code != 0 {
			t.Errorf("exit %d (%v), output %q; want the sandbox's command to run to its end (0)", code, err, out)
		}
	})
}

// sleepers lists the sleeper helpers carrying marker.
func sleepers(marker string) []int {
	return liveProcs(func(dir string) bool {
		b, err := os.ReadFile(dir + "/cmdline")
		return err == nil && strings.Contains(string(b), marker) && strings.Contains(string(b), "-workload=sleeper")
	})
}

// tinitsOf lists the live tinit processes running the sandbox of argv.
func tinitsOf(argv []string) []int {
	return liveProcs(func(dir string) bool {
		b, err := os.ReadFile(dir + "/cmdline")
		return err == nil && strings.HasPrefix(string(b), tinitBin+"\x00sandbox")
	})
}

// TestSandboxSignals sends signals to the outer tinit: they reach the
// command's process group inside, SIGTERM included.
func TestSandboxSignals(t *testing.T) {
	forEachSbxUser(t, func(t *testing.T, u sbxUser) {
		dir := sharedDir(t)
		file := filepath.Join(dir, "signals")
		r := startSandbox(t, sbxSpec{user: u, flags: []string{"--bind", dir}, argv: sbxHelper(t, "record", file, "child")})
		r.waitOutput("ready", 30*time.Second)
		for _, sig := range []syscall.Signal{syscall.SIGUSR1, syscall.SIGHUP, syscall.SIGTERM} {
			r.signal(sig)
			waitRecorded(t, file, sig)
			waitRecorded(t, file+".child", sig)
		}
		if code := r.wait(30 * time.Second); code != 0 {
			t.Errorf("exit code %d, want 0 (the recorder exits 0 on SIGTERM); stderr:\n%s", code, r.stderr.String())
		}
	})
}

// TestSandboxTerminal runs an interactive command on a terminal: it must
// be the terminal's foreground group inside, and read what is typed.
func TestSandboxTerminal(t *testing.T) {
	forEachSbxUser(t, func(t *testing.T, u sbxUser) {
		master, slave := openPty(t)
		dir := sharedDir(t)
		ids, line := filepath.Join(dir, "ids"), filepath.Join(dir, "line")
		for _, tc := range []struct {
			argv  []string
			input string
		}{
			{sbxHelper(t, "ids", ids), ""},
			{sbxHelper(t, "sbxread", line), "typed in\n"},
		} {
			r := startSandbox(t, sbxSpec{user: u, flags: []string{"--bind", dir}, argv: tc.argv, stdin: slave, ctty: true})
			if tc.input != "" {
				master.WriteString(tc.input)
			}
			if code := r.wait(30 * time.Second); code != 0 {
				t.Fatalf("%v: exit code %d; stdout %q; stderr:\n%s", tc.argv, code, r.stdout.String(), r.stderr.String())
			}
		}
		f := strings.Fields(readFile(t, ids))
		if len(f) != 4 || f[1] != f[3] {
			t.Errorf("ids %v: want the command's group (2nd) to be the foreground group (4th)", f)
		}
		if got := readFile(t, line); !strings.HasPrefix(got, "typed in") {
			t.Errorf("the command read %q, want what was typed", got)
		}
	})
}

// sharedDir is a temporary directory every user may write to.
func sharedDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sandboxReport runs a sandbox as root through start, whose flags come
// right after tinit: "sandbox" first makes it `tinit sandbox`.
func sandboxReport(t *testing.T, flags, argv []string, code int) (map[string]any, junitSuites) {
	t.Helper()
	_, dir := sbxBin(t)
	return report(t, modeNamed("subreaper"), spec{flags: append([]string{"sandbox", "--ro-bind", dir}, flags...), argv: argv, dir: dir}, code)
}

// TestSandboxLeakReport: leftovers inside are named and ended, and the
// report, written by the outer tinit outside the sandbox's /tmp, says so.
func TestSandboxLeakReport(t *testing.T) {
	marker := newMarker(t)
	doc, j := sandboxReport(t, []string{"--fail-on-leak", "-v"}, sbxHelper(t, "leave", marker), 86)
	if doc["exit"] != "leaked" || len(doc["leftovers"].([]any)) != 1 {
		t.Errorf("report: exit %v, leftovers %v; want leaked and one", doc["exit"], doc["leftovers"])
	}
	if sb, ok := doc["sandbox"].(map[string]any); !ok || sb["userns"] != false {
		t.Errorf("report's sandbox part: %v", doc["sandbox"])
	}
	if mode := doc["mode"].(map[string]any); mode["pid1"] != true || mode["killer"] != "kill(-1)" {
		t.Errorf("mode %v, want the inner tinit as PID 1", mode)
	}
	if len(j.failed()) != 1 {
		t.Errorf("JUnit failures %v, want the leak", j.failed())
	}
	if left := marked(marker); len(left) != 0 {
		t.Errorf("leftover survived: %v", left)
	}
}

// TestSandboxTimeout: --timeout ends the run inside with a diagnosis, 124.
func TestSandboxTimeout(t *testing.T) {
	doc, _ := sandboxReport(t, []string{"--timeout", "1s", "--grace", "200ms"}, sbxHelper(t, "sleepfor", "1h"), 124)
	if doc["exit"] != "timeout" || len(doc["diagnoses"].([]any)) == 0 {
		t.Errorf("report: exit %v, %d diagnoses; want timeout with a diagnosis", doc["exit"], len(doc["diagnoses"].([]any)))
	}
}

// TestSandboxCgroup: where a writable cgroup v2 directory exists, the
// sandbox gets a cgroup of its own, removed at the end, and the report has
// a peak for each of the pids and memory controllers the group has, or
// says which are missing (on a hybrid host, both), logged once.
func TestSandboxCgroup(t *testing.T) {
	writableCgroup(t)
	_, dir := sbxBin(t)
	jsonFile := filepath.Join(t.TempDir(), "report.json")
	r := start(t, modeNamed("subreaper"), spec{flags: []string{"sandbox", "--ro-bind", dir, "-v", "--report", jsonFile},
		argv: sbxHelper(t, "daemons", "3", newMarker(t)), dir: dir})
	if code := r.wait(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d; stderr:\n%s", code, r.stderr.String())
	}
	var doc struct {
		Sandbox struct {
			Cgroup struct {
				Path       string
				PeakPids   *int64 `json:"peak_pids"`
				PeakMemory *int64 `json:"peak_memory_bytes"`
				Missing    []string
			}
		}
	}
	if err := json.Unmarshal([]byte(readFile(t, jsonFile)), &doc); err != nil {
		t.Fatal(err)
	}
	cg := doc.Sandbox.Cgroup
	if cg.Path == "" {
		t.Fatalf("no cgroup for the sandbox although one is writable here; report %+v", cg)
	}
	if _, err := os.Stat(cg.Path); !os.IsNotExist(err) {
		t.Errorf("the sandbox's cgroup %s is still there", cg.Path)
	}
	controllers := readFile(t, filepath.Join(filepath.Dir(cg.Path), "cgroup.subtree_control"))
	for _, c := range []struct {
		name string
		peak *int64
		min  int64
	}{{"pids", cg.PeakPids, 5}, {"memory", cg.PeakMemory, 1 << 20}} {
		has := strings.Contains(controllers, c.name)
		switch {
		case has && (c.peak == nil || *c.peak < c.min):
			t.Errorf("%s controller present, peak %v; want at least %d", c.name, c.peak, c.min)
		case !has && (c.peak != nil || !strings.Contains(strings.Join(cg.Missing, " "), c.name)):
			t.Errorf("%s controller missing, peak %v, missing %v; want no peak and the reason", c.name, c.peak, cg.Missing)
		}
	}
	said := r.logs("the sandbox's cgroup lacks controllers; its report has no peak for them")
	if want := len(cg.Missing); (want > 0) != (len(said) == 1) || len(said) > 1 {
		t.Errorf("logged the missing controllers %d times, want once where any is missing (%v)", len(said), cg.Missing)
	}
}

// TestSandboxUserNSRefused makes the kernel refuse the user namespace, for
// real: with user.max_user_namespaces 0 (ENOSPC), and under a seccomp
// filter (EPERM). tinit must say so in one line that names the setting,
// and exit 125.
func TestSandboxUserNSRefused(t *testing.T) {
	needUserNS(t)
	_, dir := sbxBin(t)
	for _, tc := range []struct {
		name string
		argv []string
		want string
	}{
		{
			name: "max_user_namespaces",
			argv: append(helper("nouserns", strconv.Itoa(nobody)), sandboxArgv(t, nil, []string{"/bin/true"})...),
			want: "tinit: cannot create a user namespace: no space left on device (user namespaces are disabled: user.max_user_namespaces is 0)",
		},
		{
			name: "seccomp",
			argv: sbxHelper(t, "launch", append([]string{"deny=newuser=EPERM", "deny=clone3=ENOSYS", "--"}, sandboxArgv(t, nil, []string{"/bin/true"})...)...),
			want: "tinit: cannot create a user namespace: operation not permitted (neither kernel.unprivileged_userns_clone nor kernel.apparmor_restrict_unprivileged_userns forbids them here, so a seccomp filter",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(tc.argv[0], tc.argv[1:]...)
			cmd.Dir = dir
			cmd.SysProcAttr = &syscall.SysProcAttr{}
			if tc.name == "max_user_namespaces" {
				cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWUSER
				cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: nobody + 1}}
				cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: nobody + 1}}
				cmd.SysProcAttr.GidMappingsEnableSetgroups = true
			} else {
				cmd.SysProcAttr.Credential = &syscall.Credential{Uid: nobody, Gid: nobody}
			}
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Run(); cmd.ProcessState == nil {
				t.Fatalf("start %v: %v", tc.argv, err)
			}
			code := exitCode(cmd.ProcessState)
			out := stderr.String()
			if code != 125 || strings.Count(out, "\n") != 1 || !strings.HasPrefix(out, tc.want) {
				t.Errorf("exit %d, stderr %q; want 125 and one line starting %q", code, out, tc.want)
			}
		})
	}
}

// fgjob ARGV...: as the session leader of a terminal (stdin), run ARGV as
// a foreground job, as a shell does, then print "JOB FOREGROUND": the job's
// process group and the terminal's foreground group once the job is over.
func helperFgJob(args []string) int {
	c := exec.Command(args[0], args[1:]...)
	c.Stdin, c.Stdout, c.Stderr = os.Stdin, os.Stdout, os.Stderr
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Foreground: true, Ctty: 0}
	if err := c.Run(); err != nil {
		fmt.Println("job:", err)
		return 3
	}
	fg, err := unix.IoctlGetInt(0, unix.TIOCGPGRP)
	if err != nil {
		fmt.Println("tcgetpgrp:", err)
		return 3
	}
	fmt.Println(c.Process.Pid, fg)
	return 0
}

// TestSandboxGivesTerminalBack runs tinit sandbox as a shell's foreground
// job: once the run is over, the terminal's foreground group must be the
// job's again, not the sandboxed command's.
func TestSandboxGivesTerminalBack(t *testing.T) {
	_, slave := openPty(t)
	dir := sharedDir(t)
	argv := append(helper("fgjob"), sandboxArgv(t, []string{"--bind", dir}, sbxHelper(t, "ids", filepath.Join(dir, "ids")))...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin = slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	_, cmd.Dir = sbxBin(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("fgjob: %v: %s", err, out)
	}
	f := strings.Fields(string(out))
	if len(f) != 2 || f[0] != f[1] {
		t.Errorf("job and foreground group %q: want the job's group in the foreground again", out)
	}
	if ids := strings.Fields(readFile(t, filepath.Join(dir, "ids"))); len(ids) != 4 || ids[1] != ids[3] {
		t.Errorf("ids %v: want the command in the foreground during the run", ids)
	}
}

// TestSandboxHelp: the help names the sandbox and the OCI flags.
func TestSandboxHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"sandbox", "--help"}} {
		out, err := exec.Command(tinitBin, args...).Output()
		if err != nil {
			t.Fatalf("tinit %v: %v", args, err)
		}
		for _, want := range []string{"tinit sandbox [flags]", "--net none", "--ro-bind SRC[:DST]", "--oci-process FILE", "--oci-config FILE", "--grace DURATION"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("tinit %v does not mention %q", args, want)
			}
		}
	}
}
