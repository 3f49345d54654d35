package tests

// The personalities: tinit invoked as tini, tini-static, docker-init,
// dumb-init or catatonit must do what the real peer does. Every row of the
// tables below runs twice, once against tinit under the peer's name and
// once against the peer's own binary (Debian packages), and passes only
// when both give the same exit code, output and signals. A row marked
// differs is a deliberate difference (README, "Personalities"): it checks
// the peer's behaviour and tinit's, each as documented.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tinit-dev/tinit/internal/procfs"
	"github.com/tinit-dev/tinit/internal/testenv"
	"golang.org/x/sys/unix"
)

// peerBinary names the Debian binary behind each personality.
var peerBinary = map[string]string{
	"tini":        "tini",
	"tini-static": "tini-static",
	"docker-init": "tini", // docker's name for tini
	"dumb-init":   "dumb-init",
	"catatonit":   "catatonit",
}

// tiniNames are the personalities with tini's command line.
var tiniNames = []string{"tini", "tini-static", "docker-init"}

// asInit is one of the two sides of a row.
type asInit struct {
	persona string
	peer    bool // the real peer, else tinit under its name
}

func (a asInit) String() string {
	if a.peer {
		return a.persona + " (" + peerBinary[a.persona] + ")"
	}
	return "tinit as " + a.persona
}

// personaLinks holds, per personality, a symlink to tinit and one to the
// peer, both named after the personality, as an installation has them.
var personaLinks struct {
	once sync.Once
	dir  string
	err  error
}

// path returns the binary to run for a: a symlink named after the
// personality, pointing at tinit or at the peer.
func (a asInit) path(t *testing.T) string {
	t.Helper()
	personaLinks.once.Do(func() {
		dir := filepath.Join(workDir, "personas")
		for _, side := range []string{"tinit", "peer"} {
			if err := os.MkdirAll(filepath.Join(dir, side), 0o755); err != nil {
				personaLinks.err = err
				return
			}
		}
		personaLinks.dir = dir
	})
	if personaLinks.err != nil {
		t.Fatal(personaLinks.err)
	}
	target, side := tinitBin, "tinit"
	if a.peer {
		p, err := exec.LookPath(peerBinary[a.persona])
		testenv.Need(t, "peer-"+peerBinary[a.persona], err)
		target, side = p, "peer"
	}
	link := filepath.Join(personaLinks.dir, side, a.persona)
	if dest, err := os.Readlink(link); err != nil || dest != target {
		os.Remove(link)
		if err := os.Symlink(target, link); err != nil && !os.IsExist(err) {
			t.Fatal(err)
		}
	}
	return link
}

// command builds the command that runs a with args; argv[0] is the
// personality's bare name, as a PATH lookup gives it.
func (a asInit) command(t *testing.T, args, env []string) *exec.Cmd {
	t.Helper()
	cmd := &exec.Cmd{Path: a.path(t), Args: append([]string{a.persona}, args...)}
	cmd.Env = personaEnv()
	for _, kv := range env {
		// "!NAME" removes NAME.
		if name, ok := strings.CutPrefix(kv, "!"); ok {
			cmd.Env = slices.DeleteFunc(cmd.Env, func(e string) bool { return strings.HasPrefix(e, name+"=") })
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	return cmd
}

// withDir puts the fixtures' directory in the place of {dir}.
func withDir(words []string, dir string) []string {
	var out []string
	for _, w := range words {
		out = append(out, strings.ReplaceAll(w, "{dir}", dir))
	}
	return out
}

// personaEnv is the test's environment without the variables any of the
// inits reads, so that only a row's own reach them, and with CI=true, as a
// CI job has it, wherever the tests run (tinit reads CI).
func personaEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "TINI_") || strings.HasPrefix(name, "TINIT_") ||
			strings.HasPrefix(name, "DUMB_INIT_") || strings.HasPrefix(name, "CATATONIT_") ||
			name == "POSIXLY_CORRECT" || name == "CI" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "CI=true")
}

// bothSides runs f for tinit under the personality's name and for the peer.
func bothSides(persona string) [2]asInit {
	return [2]asInit{{persona: persona, peer: true}, {persona: persona}}
}

// pidInText matches the pids the inits print in their messages.
var pidInText = regexp.MustCompile(`\((\d+)\)|catatonit:\d+|pid[= ]\d+`)

// tinitVersion matches what tinit adds to a peer's version string.
var tinitVersion = regexp.MustCompile(` - tinit [^\s)]+| \(tinit [^\s)]+\)`)

// normalize replaces pids in an init's output, and drops tinit's version
// from a peer's version string, so that two runs compare.
func normalize(s string) string {
	s = tinitVersion.ReplaceAllString(s, "")
	return pidInText.ReplaceAllStringFunc(s, func(m string) string {
		switch {
		case strings.HasPrefix(m, "("):
			return "(PID)"
		case strings.HasPrefix(m, "catatonit:"):
			return "catatonit:PID"
		default:
			return m[:4] + "N"
		}
	})
}

// cliResult is what a short run of an init printed and returned.
type cliResult struct {
	code           int
	stdout, stderr string
}

func runCLI(t *testing.T, a asInit, args, env []string, dir string) cliResult {
	t.Helper()
	cmd := a.command(t, args, env)
	cmd.Dir = dir
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.WaitDelay = 5 * time.Second
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%s %q did not exit in 20s", a, args)
	}
	return cliResult{code: exitCode(cmd.ProcessState), stdout: normalize(out.String()), stderr: normalize(errb.String())}
}

// compare says how a CLI row's two results must agree.
type compare int

const (
	sameOutput  compare = iota // exit code, stdout and stderr all equal
	sameStreams                // exit code equal, and which streams carry text
	sameVersion                // exit code, stream, and the version docker reads
	sameHead                   // exit code, stdout, and stderr up to its first empty line
)

// head is text up to its first empty line: a usage error's message and
// the usage line, without the option list that follows (tinit's own).
func head(s string) string {
	h, _, _ := strings.Cut(s, "\n\n")
	return h
}

// dockerInitVersion reads `docker-init --version` as dockerd does
// (parseInitVersion): "tini version X - git.Y".
func dockerInitVersion(out string) (version, commit string) {
	parts := strings.Split(strings.TrimSpace(out), " - ")
	if len(parts) >= 2 {
		if g := strings.Split(strings.TrimSpace(parts[1]), "."); len(g) == 2 && g[0] == "git" {
			commit = g[1]
		}
	}
	version, _ = strings.CutPrefix(strings.TrimSpace(parts[0]), "tini version ")
	if version == strings.TrimSpace(parts[0]) {
		version = ""
	}
	return version, commit
}

// dumbInitVersion reads dumb-init's "dumb-init vX" as its users' scripts
// do: the first two words.
func dumbInitVersionWords(out string) string {
	f := strings.Fields(out)
	if len(f) < 2 {
		return out
	}
	return f[0] + " " + f[1]
}

type cliRow struct {
	personas []string
	args     []string
	env      []string
	compare  compare
}

// execFixtures makes the files the exec-failure rows run: a directory, a
// file without the exec bit, a script with a missing interpreter, a
// symlink loop.
func execFixtures(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Mkdir(filepath.Join(dir, "adir"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "noexec"), []byte("#!/bin/sh\nexit 0\n"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "badinterp"), []byte("#!/nonexistent/interpreter\n"), 0o755))
	must(os.Symlink("loop2", filepath.Join(dir, "loop1")))
	must(os.Symlink("loop1", filepath.Join(dir, "loop2")))
	// For the PATH search: foo with a missing interpreter, foo a symlink
	// loop, and a foo that runs.
	for _, d := range []string{"pa", "pb", "pl"} {
		must(os.Mkdir(filepath.Join(dir, d), 0o755))
	}
	must(os.WriteFile(filepath.Join(dir, "pa", "foo"), []byte("#!/nonexistent/interpreter\n"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "pb", "foo"), []byte("#!/bin/sh\nexit 5\n"), 0o755))
	must(os.Symlink("foo", filepath.Join(dir, "pl", "foo")))
	return dir
}

func cliRows() []cliRow {
	var rows []cliRow
	add := func(personas []string, c compare, env []string, args ...string) {
		rows = append(rows, cliRow{personas: personas, args: args, env: env, compare: c})
	}
	tini := tiniNames
	dumb := []string{"dumb-init"}
	cata := []string{"catatonit"}
	all := append(append(append([]string{}, tini...), dumb...), cata...)

	// Versions, help and licence: the texts are tinit's own (README), so
	// only what scripts read is compared.
	add(tini, sameVersion, nil, "--version")
	add(tini, sameStreams, nil, "--version", "true")
	add(tini, sameStreams, nil, "-h")
	add(tini, sameStreams, nil, "-l")
	add(dumb, sameVersion, nil, "-V")
	add(dumb, sameVersion, nil, "--version")
	add(dumb, sameVersion, nil, "--vers")
	add(dumb, sameStreams, nil, "-h")
	add(dumb, sameStreams, nil, "--help")
	add(cata, sameVersion, nil, "-V")
	add(cata, sameVersion, nil, "--version")
	add(cata, sameStreams, nil, "-h")
	add(cata, sameStreams, nil, "-L")

	// Usage errors, word for word up to the list of options.
	add(all, sameHead, nil)
	add(all, sameHead, nil, "-x", "true")
	add(all, sameHead, nil, "--yolo", "true")
	add(all, sameHead, nil, "-\xff", "true") // the byte itself, not U+00FF in UTF-8
	// --personality is tinit's own option, not the peers': under a
	// peer's name it is the peer's usage error.
	add(all, sameHead, nil, "--personality", "tinit", "true")
	add(all, sameHead, nil, "--personality=catatonit", "true")
	add(all, sameHead, nil, "--personality")
	add(all, sameHead, nil, "-")
	add(all, sameHead, nil, "--")
	add(tini, sameHead, nil, "-e")
	add(tini, sameHead, nil, "-p")
	add(tini, sameHead, nil, "-s")
	add(tini, sameHead, nil, "-e", "256", "true")
	add(tini, sameHead, nil, "-e", "-1", "true")
	add(tini, sameHead, nil, "-e", "abc", "true")
	add(tini, sameHead, nil, "-e", "12abc", "true")
	add(tini, sameHead, nil, "-e", "", "true")
	add(tini, sameHead, nil, "-e", "0x10", "--", "sh", "-c", "exit 16")
	add(tini, sameHead, nil, "-e", "010", "--", "sh", "-c", "exit 8")
	add(tini, sameHead, nil, "-e", " 3", "--", "sh", "-c", "exit 3")
	add(tini, sameHead, nil, "-p", "KILL", "true")
	add(tini, sameHead, nil, "-p", "sigkill", "true")
	add(tini, sameHead, nil, "-p", "SIGFOO", "true")
	add(tini, sameHead, nil, "-p", "SIGKILL", "true")
	add(tini, sameHead, nil, "-p", "SIGRTMIN", "true")
	add(dumb, sameHead, nil, "--v", "true")
	add(dumb, sameHead, nil, "--rewrite")
	add(dumb, sameHead, nil, "-r")
	add(dumb, sameHead, nil, "--help=yes")
	add(dumb, sameHead, nil, "--single-child")
	for _, bad := range []string{"", "15", "15:", ":15", "0:15", "32:1", "15:32", "-1:2", "a:b", "15-10"} {
		add(dumb, sameHead, nil, "-r", bad, "true")
	}
	add(dumb, sameHead, nil, "-r", "15:0x", "true")
	add(dumb, sameHead, nil, "-r", " 15: 9junk", "true")
	// sscanf's %d saturates at LONG_MIN, whose low 32 bits are 0.
	add(dumb, sameHead, nil, "-r", "-9223372036854775808:1", "true")
	add(dumb, sameHead, nil, "-r", "-99999999999999999999:1", "true")
	add(dumb, sameHead, nil, "--rewrite=1:2", "true")
	add(cata, sameHead, nil, "--help")
	add(cata, sameHead, nil, "-P", "-x")
	add(cata, sameHead, []string{"CATATONIT_LOG=1"}, "true")
	add(cata, sameHead, []string{"CATATONIT_LOG="}, "-V")

	// Where options end: tini and catatonit permute (an option after
	// the command is theirs), dumb-init stops at the command; "--" and
	// POSIXLY_CORRECT end options everywhere.
	add(tini, sameStreams, nil, "ls", "-l", "/dev/null") // -l: the licence
	add(append(append([]string{}, dumb...), cata...), sameHead, nil, "ls", "-l", "/dev/null")
	add(all, sameHead, nil, "--", "ls", "-l", "/dev/null")
	add(all, sameHead, []string{"POSIXLY_CORRECT=1"}, "ls", "-l", "/dev/null")
	add(tini, sameHead, nil, "-s", "ls", "--", "-ld", "/")
	add(dumb, sameHead, nil, "true", "-V")
	add(cata, sameHead, nil, "true", "-V")

	// Exit codes: the command's, 128+n for a signal, tini's -e remap.
	for _, code := range []int{0, 1, 2, 32, 64, 127, 254, 255} {
		add(all, sameOutput, nil, "--", "sh", "-c", "exit "+strconv.Itoa(code))
	}
	for _, sig := range []string{"TERM", "KILL", "SEGV", "USR1"} {
		add(all, sameOutput, nil, "--", "sh", "-c", "kill -"+sig+" $$")
	}
	add(tini, sameOutput, nil, "-e", "3", "--", "sh", "-c", "exit 3")
	add(tini, sameOutput, nil, "-e", "3", "-e", "4", "--", "sh", "-c", "exit 4")
	add(tini, sameOutput, nil, "-e", "5", "--", "sh", "-c", "exit 4")
	add(tini, sameOutput, nil, "-e", "143", "--", "sh", "-c", "kill -TERM $$")
	add(tini, sameOutput, nil, "-e", "0", "--", "true")

	// The command cannot be started: the message and code of each peer.
	for _, argv := range [][]string{{"/nonexistent"}, {"nonexistent-command"}, {"./adir"}, {"./noexec"}, {"./badinterp"}, {"./loop1"}} {
		add(all, sameOutput, nil, append([]string{"--"}, argv...)...)
	}
	add(tini, sameOutput, nil, "-e", "127", "--", "/nonexistent")

	// The PATH search, as execvp(3): a missing interpreter moves it on, a
	// symlink loop ends it, an empty PATH is the working directory, no
	// PATH is /bin:/usr/bin, a name longer than NAME_MAX fails at once.
	add(all, sameOutput, []string{"PATH={dir}/pa:{dir}/pb"}, "foo")
	add(all, sameOutput, []string{"PATH={dir}/pa"}, "foo")
	add(all, sameOutput, []string{"PATH={dir}/pl:{dir}/pb"}, "foo")
	add(all, sameOutput, []string{"PATH="}, "ls")
	add(all, sameOutput, []string{"PATH=:{dir}/pb"}, "foo")
	add(all, sameOutput, []string{"!PATH"}, "nologin")
	add(all, sameOutput, []string{"!PATH"}, "--", "sh", "-c", "exit 4")
	add(all, sameOutput, nil, strings.Repeat("n", 256))

	// The variables.
	add(tini, sameOutput, []string{"TINI_SUBREAPER="}, "true")
	add(tini, sameOutput, []string{"TINI_SUBREAPER=0"}, "true")
	add(tini, sameOutput, []string{"TINI_VERBOSITY=0"}, "true")
	add(tini, sameOutput, []string{"TINI_VERBOSITY=junk"}, "true")
	// atoi(3) is strtol cut to an int: 2^32 is level 0, 2^32+1 level 1.
	add(tini, sameOutput, []string{"TINI_VERBOSITY=4294967296"}, "true")
	add(tini, sameOutput, []string{"TINI_VERBOSITY=-4294967296"}, "true")
	add(tini, sameOutput, []string{"TINI_VERBOSITY=4294967297"}, "true")
	add(tini, sameOutput, []string{"TINI_KILL_PROCESS_GROUP="}, "-s", "true")
	add(dumb, sameOutput, []string{"DUMB_INIT_SETSID=0"}, "true")
	add(dumb, sameOutput, []string{"DUMB_INIT_SETSID=1"}, "sh", "-c", "exit 3")
	return rows
}

// TestPersonaCommandLine compares, row by row, what tinit under a peer's
// name and the peer print and return for the same command line.
func TestPersonaCommandLine(t *testing.T) {
	dir := execFixtures(t)
	for _, row := range cliRows() {
		for _, persona := range row.personas {
			name := fmt.Sprintf("%s/%s", persona, strings.Join(append(row.env, row.args...), " "))
			if len(name) > 80 {
				name = name[:80] + "..."
			}
			t.Run(name, func(t *testing.T) {
				var got [2]cliResult
				args, env := withDir(row.args, dir), withDir(row.env, dir)
				for i, side := range bothSides(persona) {
					got[i] = runCLI(t, side, args, env, dir)
				}
				peer, ours := got[0], got[1]
				if peer.code != ours.code {
					t.Errorf("exit code: peer %d, tinit %d", peer.code, ours.code)
				}
				switch row.compare {
				case sameOutput:
					if peer.stdout != ours.stdout {
						t.Errorf("stdout:\npeer:  %q\ntinit: %q", peer.stdout, ours.stdout)
					}
					if peer.stderr != ours.stderr {
						t.Errorf("stderr:\npeer:  %q\ntinit: %q", peer.stderr, ours.stderr)
					}
				case sameHead:
					if peer.stdout != ours.stdout {
						t.Errorf("stdout:\npeer:  %q\ntinit: %q", peer.stdout, ours.stdout)
					}
					if head(peer.stderr) != head(ours.stderr) {
						t.Errorf("stderr up to the option list:\npeer:  %q\ntinit: %q", head(peer.stderr), head(ours.stderr))
					}
				case sameStreams, sameVersion:
					if (peer.stdout == "") != (ours.stdout == "") || (peer.stderr == "") != (ours.stderr == "") {
						t.Errorf("streams differ:\npeer:  out %q err %q\ntinit: out %q err %q", peer.stdout, peer.stderr, ours.stdout, ours.stderr)
					}
					if row.compare == sameVersion {
						if persona == "dumb-init" {
							if p, o := dumbInitVersionWords(peer.stderr), dumbInitVersionWords(ours.stderr); p != o {
								t.Errorf("version: peer %q, tinit %q", p, o)
							}
						} else {
							pv, _ := dockerInitVersion(peer.stdout)
							ov, _ := dockerInitVersion(ours.stdout)
							if pv == "" || pv != ov {
								t.Errorf("version as docker reads it: peer %q, tinit %q", pv, ov)
							}
						}
					}
				}
			})
		}
	}
}

// TestPersonaVersionNamesTinit: each peer version string carries tinit's
// own after the peer's (a deliberate difference), in the place the peer
// puts its build.
func TestPersonaVersionNamesTinit(t *testing.T) {
	for persona, args := range map[string]string{"tini": "--version", "dumb-init": "--version", "catatonit": "--version"} {
		out, err := asInit{persona: persona}.command(t, []string{args}, nil).CombinedOutput()
		if err != nil || !tinitVersion.Match(out) {
			t.Errorf("%s %s: %q (%v) names no tinit version", persona, args, out, err)
		}
	}
}

// sortedRecord reads a signal recorder's file: the numbers, sorted,
// without SIGCHLD (the command's own child stopping and continuing, which
// the kernel may report once for several).
func sortedRecord(file string) []int {
	var sigs []int
	for _, sig := range recorded(file) {
		if sig != syscall.SIGCHLD {
			sigs = append(sigs, int(sig))
		}
	}
	slices.Sort(sigs)
	return sigs
}

// sigResult is what a signal row observed.
type sigResult struct {
	code int
	// The signals the command and its child recorded, sorted, without
	// the fences; the child's compacted, since it is not waited for
	// signal by signal and two of the same may reach it as one.
	main, child  []int
	childOutlive bool // the command's child outlived the init
	stderr       string
}

// sigRow sends signals to the init, one at a time, each followed by a
// fence signal that every side forwards; the command is the C recorder
// with a child recorder in its process group.
type sigRow struct {
	persona string
	flags   []string
	env     []string
	send    []syscall.Signal
	end     syscall.Signal // ends the run (SIGTERM if zero)
	group   bool           // the init signals the command's group: the child gets the fences too
	differs string         // why tinit does not match the peer, if it does not
	check   func(t *testing.T, peer, ours sigResult)
}

// fence is sent after each signal of a row: the highest-numbered signal,
// which every side forwards. Once the command has recorded it, every
// signal before it has been handled (pending signals are taken lowest
// first).
const fence = syscall.Signal(64)

// warmUp is sent until the init forwards it, before a row's signals; no
// row sends it otherwise.
const warmUp = syscall.Signal(62)

// runSignals runs a row's signals against one side.
func runSignals(t *testing.T, side asInit, row sigRow) sigResult {
	t.Helper()
	dir := t.TempDir()
	rec := filepath.Join(dir, "rec")
	args := append(append(append([]string{}, row.flags...), "--"), sigrec(t, rec, "child")...)
	env := row.env
	if !side.peer && row.differs == "" {
		// The peers leave the command's children behind; asked to,
		// tinit does too, so that the records compare.
		env = append(env, "TINIT_LEAVE_LEFTOVERS=1")
	}
	cmd := side.command(t, args, env)
	// Output to files: the recorders outlive some peers, and a pipe
	// would keep the run from ending.
	out, err := os.Create(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	exited := func() bool {
		select {
		case <-done:
			return true
		default:
			return false
		}
	}
	var tree []procRef
	t.Cleanup(func() {
		for _, p := range tree {
			p.kill()
		}
		cmd.Process.Kill()
		<-done
	})
	waitFor(t, 10*time.Second, "the recorders to start", func() bool {
		return strings.Contains(readText(filepath.Join(dir, "out")), "ready")
	})
	init := cmd.Process.Pid
	main := childOf(t, init)
	child := childOf(t, main)
	tree = []procRef{refOf(main), refOf(child)}
	// tinit claims most signals about a millisecond after the command
	// starts, and one sent before is lost: send the warm-up signal until
	// one goes through.
	waitFor(t, 10*time.Second, fmt.Sprintf("%s to forward a first signal", side), func() bool {
		if exited() {
			t.Fatalf("%s exited before any signal", side)
		}
		syscall.Kill(init, warmUp)
		time.Sleep(10 * time.Millisecond)
		return slices.Contains(sortedRecord(rec), int(warmUp))
	})
	conts := 0 // SIGCONTs the test sent, each forwarded by every side
	for i, sig := range row.send {
		if sig == syscall.SIGCONT {
			conts++
		}
		syscall.Kill(init, sig)
		syscall.Kill(init, fence)
		// dumb-init stops itself after a job-control signal: continue
		// it, as a shell's fg would, and wait for that SIGCONT too. The
		// Go runtime may pass on two signals sent back to back in either
		// order, so the step is over once the fence has arrived and,
		// 20ms later, nothing has changed.
		handled := func() bool {
			if exited() {
				return true // a signal ended it: the row says whether it should
			}
			if st, err := procfs.New(nil).Stat(init); err == nil && st.State == 'T' {
				// A SIGCONT discards the stop signals still pending for
				// its target: let the command take the one forwarded to
				// it first, as a person typing fg would.
				time.Sleep(30 * time.Millisecond)
				conts++
				syscall.Kill(init, syscall.SIGCONT)
				return false
			}
			got := sortedRecord(rec)
			if row.group && countOf(sortedRecord(rec+".child"), int(fence)) < i+1 {
				return false
			}
			return countOf(got, int(fence)) >= i+1 && countOf(got, int(syscall.SIGCONT)) >= conts
		}
		for settled := false; !settled; {
			waitFor(t, 10*time.Second, fmt.Sprintf("%s to forward fence %d after signal %d", side, fence, sig), handled)
			time.Sleep(20 * time.Millisecond)
			settled = handled()
		}
	}
	end := row.end
	if end == 0 {
		end = syscall.SIGTERM
	}
	syscall.Kill(init, end)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not exit within 10s of signal %d", side, end)
	}
	// The fences and warm-ups were the test's own, and how many of the
	// warm-ups went through depends on timing: they are left out.
	res := sigResult{code: exitCode(cmd.ProcessState), main: withoutFence(sortedRecord(rec)), stderr: normalize(readText(filepath.Join(dir, "out")))}
	// What reached the child by now is all it gets from the init.
	time.Sleep(20 * time.Millisecond)
	res.child = withoutFence(slices.Compact(sortedRecord(rec + ".child")))
	if st, err := procfs.New(nil).Stat(child); err == nil && st.Live() {
		res.childOutlive = true
	}
	return res
}

func readText(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// withoutFence drops the fences and warm-up signals from a record.
func withoutFence(sigs []int) []int {
	return slices.DeleteFunc(sigs, func(s int) bool { return s == int(fence) || s == int(warmUp) })
}

func countOf(list []int, v int) int {
	n := 0
	for _, x := range list {
		if x == v {
			n++
		}
	}
	return n
}

func sigList(names ...syscall.Signal) []syscall.Signal { return names }

// forwardedByAll lists the signals every peer forwards.
var forwardedByAll = sigList(syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2,
	syscall.SIGPIPE, syscall.SIGALRM, syscall.SIGCONT, syscall.SIGWINCH, syscall.SIGXCPU,
	syscall.SIGXFSZ, syscall.SIGVTALRM, syscall.SIGIO)

func sigRows() []sigRow {
	var rows []sigRow
	rt := sigList(35, 40, 50, 63)
	for _, p := range tiniNames {
		send := append(append(append([]syscall.Signal{}, forwardedByAll...), syscall.SIGTSTP, syscall.SIGTTIN, syscall.SIGTTOU), rt...)
		rows = append(rows,
			sigRow{persona: p, send: send},
			sigRow{group: true, persona: p, flags: []string{"-g"}, send: send},
			sigRow{group: true, persona: p, env: []string{"TINI_KILL_PROCESS_GROUP=1"}, send: sigList(syscall.SIGUSR1)},
			sigRow{persona: p, flags: []string{"-s"}, send: sigList(syscall.SIGUSR1), end: syscall.SIGINT},
		)
	}
	rows = append(rows,
		sigRow{group: true, persona: "dumb-init", send: append(append(append([]syscall.Signal{}, forwardedByAll...), syscall.SIGABRT, syscall.SIGTSTP, syscall.SIGTTIN, syscall.SIGTTOU), rt...)},
		sigRow{persona: "dumb-init", flags: []string{"-c"}, send: append(append([]syscall.Signal{}, forwardedByAll...), syscall.SIGABRT, syscall.SIGTSTP, syscall.SIGTTIN, syscall.SIGTTOU)},
		sigRow{persona: "dumb-init", env: []string{"DUMB_INIT_SETSID=0"}, send: sigList(syscall.SIGUSR1, syscall.SIGTSTP)},
		sigRow{group: true, persona: "dumb-init", flags: []string{"-r", "10:12", "-r", "12:0"}, send: sigList(syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGHUP)},
		sigRow{group: true, persona: "dumb-init", flags: []string{"--rewrite", "15:2"}, send: sigList(syscall.SIGUSR1)},
		sigRow{persona: "dumb-init", flags: []string{"-r", "2:15", "-c"}, send: sigList(syscall.SIGUSR1), end: syscall.SIGINT},
		sigRow{group: true, persona: "dumb-init", flags: []string{"-r", "20:10"}, send: sigList(syscall.SIGTSTP)},
		sigRow{persona: "catatonit", send: append(append(append([]syscall.Signal{}, forwardedByAll...), syscall.SIGTSTP, syscall.SIGTTIN, syscall.SIGTTOU), rt...)},
		sigRow{group: true, persona: "catatonit", flags: []string{"-g"}, send: append([]syscall.Signal{}, forwardedByAll...)},
	)

	// Deliberate differences. The fault signals (and SIGABRT for tini and
	// catatonit) end the peer: sent by kill(1) they are not faults, and
	// tinit keeps running and forwards nothing. dumb-init forwards them;
	// tinit under its name ignores them too. 32 and 33 are the C
	// library's own: not in the set the peers wait on, they end each
	// peer; tinit ignores them. SIGURG, SIGPROF, SIGSTKFLT and 34 belong
	// to the Go runtime and are not forwarded.
	faults := sigList(syscall.SIGSEGV, syscall.SIGBUS, syscall.SIGFPE, syscall.SIGILL, syscall.SIGTRAP, syscall.SIGSYS)
	differ := func(p string, group bool, why string, check func(syscall.Signal) func(*testing.T, sigResult, sigResult), sigs ...syscall.Signal) {
		for _, sig := range sigs {
			rows = append(rows, sigRow{group: group, persona: p, send: sigList(sig), differs: why, check: check(sig)})
		}
	}
	for _, p := range []string{"tini", "catatonit"} {
		differ(p, false, "a fault signal sent by kill ends the peer; tinit ignores it", peerDiesTinitIgnores, append(faults, syscall.SIGABRT)...)
	}
	differ("dumb-init", true, "dumb-init forwards a fault signal sent by kill; tinit ignores it", peerForwardsTinitNot, faults...)
	for _, p := range []string{"tini", "dumb-init", "catatonit"} {
		differ(p, false, "signals 32 and 33 end the peer; tinit ignores them", peerDiesTinitIgnores, 32, 33)
		differ(p, false, "the Go runtime keeps the signal; tinit does not forward it", peerForwardsTinitNot,
			syscall.SIGURG, syscall.SIGPROF, syscall.SIGSTKFLT, 34)
	}
	// Leftovers: each peer leaves the command's child running when the
	// command exits; tinit ends it unless TINIT_LEAVE_LEFTOVERS is set.
	for _, p := range []string{"tini", "catatonit"} {
		rows = append(rows, sigRow{persona: p, send: sigList(syscall.SIGUSR1), differs: "tinit ends what the command leaves behind",
			check: func(t *testing.T, peer, ours sigResult) {
				if !peer.childOutlive {
					t.Errorf("peer: the command's child did not outlive it")
				}
				if ours.childOutlive || !slices.Contains(ours.child, int(syscall.SIGTERM)) {
					t.Errorf("tinit: child outlived tinit (%v) or got no SIGTERM (%v)", ours.childOutlive, ours.child)
				}
				// Named in the leak report with its command line, also
				// when only the cgroup found it (tini without -s).
				if !strings.Contains(ours.stderr, "leftover process") || !strings.Contains(ours.stderr, "rec child") {
					t.Errorf("tinit: the leftover is not reported with its command line:\n%s", ours.stderr)
				}
			}})
	}
	return rows
}

// peerDiesTinitIgnores checks a row where sig ends the peer (unless the
// test inherited it ignored, which the peer inherits too) and tinit
// ignores it, forwarding the final SIGTERM.
func peerDiesTinitIgnores(sig syscall.Signal) func(*testing.T, sigResult, sigResult) {
	return func(t *testing.T, peer, ours sigResult) {
		ignored := sigState(t, os.Getpid(), "SigIgn")&sigBit(sig) != 0
		switch {
		case ignored && peer.code != 0:
			t.Errorf("peer, with %d ignored from the start: exit %d, expected to live on", sig, peer.code)
		case !ignored && peer.code != 128+int(sig):
			t.Errorf("peer: exit %d, expected death by the signal (%d)", peer.code, 128+int(sig))
		}
		if ours.code != 0 || slices.Contains(ours.main, int(sig)) {
			t.Errorf("tinit: exit %d and the command recorded %v; expected it to ignore %d and forward the final SIGTERM", ours.code, ours.main, sig)
		}
	}
}

// peerForwardsTinitNot checks a row where the peer forwards sig and tinit
// does not.
func peerForwardsTinitNot(sig syscall.Signal) func(*testing.T, sigResult, sigResult) {
	return func(t *testing.T, peer, ours sigResult) {
		if !slices.Contains(peer.main, int(sig)) {
			t.Errorf("peer did not forward %d: %v", sig, peer.main)
		}
		if slices.Contains(ours.main, int(sig)) {
			t.Errorf("tinit forwarded %d: %v", sig, ours.main)
		}
	}
}

// TestPersonaSignals compares what the command and its child receive from
// tinit under each peer's name and from the peer.
func TestPersonaSignals(t *testing.T) {
	for _, row := range sigRows() {
		var nums []string
		for _, sig := range row.send {
			nums = append(nums, strconv.Itoa(int(sig)))
		}
		name := fmt.Sprintf("%s/%s/%s", row.persona, strings.Join(append(row.env, row.flags...), " "), strings.Join(nums, ","))
		if row.differs != "" {
			name += "/differs"
		}
		t.Run(name, func(t *testing.T) {
			var got [2]sigResult
			for i, side := range bothSides(row.persona) {
				got[i] = runSignals(t, side, row)
			}
			peer, ours := got[0], got[1]
			if row.differs != "" {
				t.Logf("differs on purpose: %s", row.differs)
				row.check(t, peer, ours)
				return
			}
			if peer.code != ours.code {
				t.Errorf("exit code: peer %d, tinit %d", peer.code, ours.code)
			}
			if !slices.Equal(peer.main, ours.main) {
				t.Errorf("signals of the command:\npeer:  %v\ntinit: %v", peer.main, ours.main)
			}
			if !slices.Equal(peer.child, ours.child) {
				t.Errorf("signals of the command's child:\npeer:  %v\ntinit: %v", peer.child, ours.child)
			}
			if peer.childOutlive != ours.childOutlive {
				t.Errorf("the child outlived the init: peer %v, tinit %v", peer.childOutlive, ours.childOutlive)
			}
			if peer.stderr != ours.stderr {
				t.Errorf("stderr:\npeer:  %q\ntinit: %q", peer.stderr, ours.stderr)
			}
		})
	}
}

// startSide starts a side with output to a file, and returns a wait that
// gives its exit code (-1 if it has not exited within the timeout).
func startSide(t *testing.T, cmd *exec.Cmd) (out string, wait func(time.Duration) int) {
	t.Helper()
	out = filepath.Join(t.TempDir(), "out")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		select {
		case <-done: // reaped: its pid may name another process now
		default:
			killTree(cmd.Process.Pid)
		}
		<-done
	})
	return out, func(d time.Duration) int {
		select {
		case <-done:
			return exitCode(cmd.ProcessState)
		case <-time.After(d):
			return -1
		}
	}
}

// TestPersonaSessions: where each init puts the command. dumb-init makes
// it the leader of a session of its own (not with -c or
// DUMB_INIT_SETSID=0); tini and catatonit give it a process group of its
// own in the init's session.
func TestPersonaSessions(t *testing.T) {
	rows := []struct {
		persona string
		args    []string
		env     []string
		differs string // the peer's answer, where tinit's is "own group" on purpose
	}{
		{persona: "tini"}, {persona: "tini", args: []string{"-g"}}, {persona: "tini-static"}, {persona: "docker-init"},
		{persona: "dumb-init"},
		// dumb-init -c leaves the command in its own group; tinit always
		// gives it one of its own, so that a signal to the command's group
		// never reaches tinit or whatever started it.
		{persona: "dumb-init", args: []string{"-c"}, differs: "the caller's group, the caller's session"},
		{persona: "dumb-init", env: []string{"DUMB_INIT_SETSID=0"}, differs: "the caller's group, the caller's session"},
		{persona: "catatonit"}, {persona: "catatonit", args: []string{"-g"}},
	}
	where := func(t *testing.T, side asInit, args, env []string, tty bool) string {
		file := filepath.Join(t.TempDir(), "ids")
		cmd := side.command(t, append(append(append([]string{}, args...), "--"), helper("ids", file)...), env)
		if tty {
			// The init leads a session with a terminal, as PID 1 of
			// `docker run -t`: the command must get the terminal, as its
			// controlling terminal (dumb-init) or its foreground.
			_, slave := openPty(t)
			cmd.Stdin = slave
			cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
		}
		_, wait := startSide(t, cmd)
		if code := wait(10 * time.Second); code != 0 {
			t.Fatalf("%s: exit %d", side, code)
		}
		f := strings.Fields(readText(file))
		if len(f) != 4 {
			t.Fatalf("%s: ids printed %q", side, f)
		}
		var n [4]int
		for i := range n {
			n[i], _ = strconv.Atoi(f[i])
		}
		pid, pgid, sid, fg := n[0], n[1], n[2], n[3]
		mySid, _ := unix.Getsid(0)
		var group, session string
		switch pgid {
		case pid:
			group = "own group"
		case cmd.Process.Pid:
			group = "init's group"
		case syscall.Getpgrp():
			group = "the caller's group"
		default:
			group = fmt.Sprintf("group %d", pgid)
		}
		switch sid {
		case pid:
			session = "own session"
		case mySid:
			session = "the caller's session"
		case cmd.Process.Pid:
			session = "init's session"
		default:
			session = fmt.Sprintf("session %d", sid)
		}
		terminal := "no terminal"
		switch {
		case fg == pgid:
			terminal = "the terminal's foreground"
		case fg > 0:
			terminal = "in the background"
		}
		if !tty {
			return group + ", " + session
		}
		return group + ", " + session + ", " + terminal
	}
	for _, row := range rows {
		t.Run(row.persona+"/"+strings.Join(append(row.env, row.args...), " "), func(t *testing.T) {
			peer := where(t, asInit{persona: row.persona, peer: true}, row.args, row.env, false)
			ours := where(t, asInit{persona: row.persona}, row.args, row.env, false)
			if row.differs == "" {
				tpeer := where(t, asInit{persona: row.persona, peer: true}, row.args, row.env, true)
				tours := where(t, asInit{persona: row.persona}, row.args, row.env, true)
				if tpeer != tours {
					t.Errorf("on a terminal, the command ran in: peer %s, tinit %s", tpeer, tours)
				}
			}
			if row.differs != "" {
				if peer != row.differs || ours != "own group, the caller's session" {
					t.Errorf("differs on purpose: want peer %q and tinit in a group of its own, got peer %q, tinit %q", row.differs, peer, ours)
				}
				return
			}
			if peer != ours {
				t.Errorf("the command ran in: peer %s, tinit %s", peer, ours)
			}
		})
	}
}

// TestPersonaReaping: orphans are reaped by tini with -s or
// TINI_SUBREAPER, and by every peer as PID 1; tini -w says so in its
// words. The command leaves orphans that exit while it runs.
func TestPersonaReaping(t *testing.T) {
	orphans := []string{"sh", "-c", "for i in 1 2 3; do (sleep 0.05 &); done; sleep 0.5"}
	rows := []struct {
		persona string
		args    []string
		env     []string
		pid1    bool
	}{
		{persona: "tini", args: []string{"-s"}},
		{persona: "tini", args: []string{"-s", "-w"}},
		{persona: "tini", env: []string{"TINI_SUBREAPER=1"}},
		{persona: "docker-init", pid1: true},
		{persona: "tini", args: []string{"-w"}, pid1: true},
		{persona: "dumb-init", pid1: true},
		{persona: "catatonit", pid1: true},
	}
	for _, row := range rows {
		name := row.persona + "/" + strings.Join(append(row.env, row.args...), " ")
		if row.pid1 {
			name += "/pid1"
		}
		t.Run(name, func(t *testing.T) {
			if row.pid1 {
				testenv.Need(t, "pid1", pid1Err)
			}
			var got [2]cliResult
			for i, side := range bothSides(row.persona) {
				args := append(append(append([]string{}, row.args...), "--"), orphans...)
				cmd := side.command(t, args, row.env)
				if row.pid1 {
					p := pid1Command(cmd.Path, args...)
					p.Env = cmd.Env
					cmd = p
				}
				out, wait := startSide(t, cmd)
				init := cmd.Process.Pid
				if row.pid1 {
					init = childOf(t, init)
				}
				// While the command sleeps, its orphans have exited: none
				// may be left a zombie of the init.
				time.Sleep(300 * time.Millisecond)
				if z := zombiesOf(init); len(z) != 0 {
					t.Errorf("%s: %d zombies left unreaped", side, z)
				}
				got[i] = cliResult{code: wait(10 * time.Second), stderr: normalize(readText(out))}
			}
			if got[0] != got[1] {
				t.Errorf("peer: %+v\ntinit: %+v", got[0], got[1])
			}
		})
	}
}

// TestPersonaParentDeath: tini -p SIGNAL gets SIGNAL when its parent
// dies and forwards it, as any signal, to the command.
func TestPersonaParentDeath(t *testing.T) {
	var got [2][]int
	for i, side := range bothSides("tini") {
		rec := filepath.Join(t.TempDir(), "rec")
		init := side.command(t, append([]string{"-s", "-p", "SIGUSR1", "--"}, sigrec(t, rec)...), nil)
		// The parent: a shell that starts the init in the background,
		// prints its pid and exits once the recorder is ready.
		script := fmt.Sprintf(`exec -a %s %q "$@" >%q 2>&1 & echo $!; while ! grep -q ready %q 2>/dev/null; do sleep 0.01; done`, init.Args[0], init.Path, rec+".out", rec+".out")
		sh := exec.Command("bash", append([]string{"-c", script, "parent"}, init.Args[1:]...)...)
		sh.Env = init.Env
		out, err := sh.Output()
		if err != nil {
			t.Fatalf("%s: %v", side, err)
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(out)))
		// Not the test's child: its pid is reused once it is reaped, so
		// it and its command are killed only while still the same.
		refs := []procRef{refOf(pid)}
		for _, c := range childrenOf(pid) {
			refs = append(refs, refOf(c))
		}
		t.Cleanup(func() {
			for _, r := range refs {
				r.kill()
			}
		})
		waitFor(t, 10*time.Second, "signal 10 recorded", func() bool { return slices.Contains(sortedRecord(rec), 10) })
		syscall.Kill(pid, syscall.SIGTERM)
		waitFor(t, 10*time.Second, "the init to exit", func() bool {
			st, err := procfs.New(nil).Stat(pid)
			return err != nil || !st.Live()
		})
		got[i] = sortedRecord(rec)
	}
	if !slices.Equal(got[0], got[1]) {
		t.Errorf("signals the command got: peer %v, tinit %v", got[0], got[1])
	}
}

// TestPersonaPause: catatonit -P runs nothing and waits for SIGINT or
// SIGTERM, then exits 0; other signals change nothing.
func TestPersonaPause(t *testing.T) {
	for _, end := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(end.String(), func(t *testing.T) {
			var got [2]cliResult
			for i, side := range bothSides("catatonit") {
				cmd := side.command(t, []string{"-P"}, nil)
				out, wait := startSide(t, cmd)
				time.Sleep(100 * time.Millisecond) // let it claim its signals
				for _, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGCHLD, syscall.SIGWINCH, syscall.SIGQUIT} {
					syscall.Kill(cmd.Process.Pid, sig)
				}
				if code := wait(200 * time.Millisecond); code != -1 {
					t.Fatalf("%s: exited %d on a signal it should ignore", side, code)
				}
				syscall.Kill(cmd.Process.Pid, end)
				got[i] = cliResult{code: wait(10 * time.Second), stderr: normalize(readText(out))}
			}
			if got[0] != got[1] {
				t.Errorf("peer: %+v\ntinit: %+v", got[0], got[1])
			}
			if got[1].code != 0 {
				t.Errorf("tinit as catatonit -P: exit %d after %v, want 0", got[1].code, end)
			}
		})
	}
}

// TestPersonaPassesDescriptors: a descriptor the init inherits reaches
// the command at the same number, as every peer passes it.
func TestPersonaPassesDescriptors(t *testing.T) {
	for _, persona := range []string{"tini", "dumb-init", "catatonit"} {
		t.Run(persona, func(t *testing.T) {
			var got [2]string
			for i, side := range bothSides(persona) {
				rd, wr, err := os.Pipe()
				if err != nil {
					t.Fatal(err)
				}
				cmd := side.command(t, []string{"--", "sh", "-c", "echo through fd 3 >&3"}, nil)
				cmd.ExtraFiles = []*os.File{wr}
				_, wait := startSide(t, cmd)
				wr.Close()
				code := wait(10 * time.Second)
				b := make([]byte, 100)
				n, _ := rd.Read(b)
				rd.Close()
				got[i] = fmt.Sprintf("exit %d, fd 3 got %q", code, b[:n])
			}
			if got[0] != got[1] || !strings.Contains(got[1], "through fd 3") {
				t.Errorf("peer: %s\ntinit: %s", got[0], got[1])
			}
		})
	}
}

// TestPersonaDiffersOnPurpose checks the documented differences that are
// not signals (README, "Personalities"): tinit writes its logs to stderr
// only, where tini writes some to stdout; and the command starts with no
// signal blocked or ignored, where tini and catatonit pass on their own
// mask (catatonit adding SIGTSTP, SIGTTIN and SIGTTOU to it).
func TestPersonaDiffersOnPurpose(t *testing.T) {
	t.Run("tini -v logs on stdout", func(t *testing.T) {
		peer := runCLI(t, asInit{persona: "tini", peer: true}, []string{"-vv", "--", "true"}, nil, "")
		ours := runCLI(t, asInit{persona: "tini"}, []string{"-vv", "--", "true"}, nil, "")
		if !strings.Contains(peer.stdout, "[INFO  tini (PID)] Spawned child process 'true'") {
			t.Errorf("peer: expected its info line on stdout: %q", peer.stdout)
		}
		if ours.stdout != "" || !strings.Contains(ours.stderr, "[INFO  tini (PID)] ") || ours.code != 0 {
			t.Errorf("tinit as tini -vv: stdout %q (want none), stderr %q (want its info lines)", ours.stdout, ours.stderr)
		}
	})
	for _, persona := range []string{"tini", "catatonit", "dumb-init"} {
		t.Run(persona+" signal mask", func(t *testing.T) {
			masks := func(side asInit) string {
				path := side.path(t)
				argv := helper("launch", "careless", "--", path, "--", "sh", "-c", `exec grep -E "^Sig(Blk|Ign)" /proc/self/status`)
				cmd := exec.Command(argv[0], argv[1:]...)
				cmd.Env = personaEnv()
				b, err := cmd.Output()
				if err != nil {
					t.Fatalf("%s: %v", side, err)
				}
				return strings.Join(strings.Fields(string(b)), " ")
			}
			peer, ours := masks(asInit{persona: persona, peer: true}), masks(asInit{persona: persona})
			t.Logf("peer: %s; tinit: %s", peer, ours)
			if ours != "SigBlk: 0000000000000000 SigIgn: 0000000000000000" {
				t.Errorf("tinit as %s: the command starts with %s, want nothing blocked or ignored", persona, ours)
			}
			switch {
			case persona == "dumb-init" && !dumbInitCleared(peer):
				// dumb-init unblocks everything and resets signals 1 to
				// 31, leaving higher ones as it found them.
				t.Errorf("dumb-init clears the mask and signals 1 to 31 too, but passed on %s", peer)
			case persona != "dumb-init" && peer == ours:
				t.Errorf("peer %s passed on no mask: this row no longer differs (%s)", persona, peer)
			}
		})
	}
}

// TestTinitTakesPeerFlags: under its own name tinit takes the peers' -e,
// -P, -w, -r and -p too.
func TestTinitTakesPeerFlags(t *testing.T) {
	self := asInit{persona: "tinit"}
	if r := runCLI(t, self, []string{"-e", "3", "--", "sh", "-c", "exit 3"}, nil, ""); r.code != 0 {
		t.Errorf("-e 3: exit %d, want 0", r.code)
	}
	if r := runCLI(t, self, []string{"-e", "143", "--", "sh", "-c", "kill -TERM $$"}, nil, ""); r.code != 0 {
		t.Errorf("-e 143: exit %d, want 0", r.code)
	}
	if r := runCLI(t, self, []string{"-e", "3", "--", "sh", "-c", "exit 4"}, nil, ""); r.code != 4 {
		t.Errorf("-e 3 with exit 4: exit %d, want 4", r.code)
	}
	if r := runCLI(t, self, []string{"-w", "--log-format", "console", "--", "sh", "-c", "(true &); sleep 0.2"}, nil, ""); !strings.Contains(r.stderr, "Reaped zombie process with pid=N") {
		t.Errorf("-w: stderr %q, want the reaped line", r.stderr)
	}

	cmd := self.command(t, []string{"-P"}, nil)
	_, wait := startSide(t, cmd)
	time.Sleep(100 * time.Millisecond)
	syscall.Kill(cmd.Process.Pid, syscall.SIGHUP)
	if code := wait(200 * time.Millisecond); code != -1 {
		t.Fatalf("-P: exited %d on SIGHUP", code)
	}
	syscall.Kill(cmd.Process.Pid, syscall.SIGTERM)
	if code := wait(10 * time.Second); code != 0 {
		t.Errorf("-P: exit %d after SIGTERM, want 0", code)
	}

	rec := filepath.Join(t.TempDir(), "rec")
	cmd = self.command(t, append([]string{"-r", "USR1:USR2", "-r", "HUP:0", "--"}, sigrec(t, rec)...), nil)
	_, wait = startSide(t, cmd)
	waitFor(t, 10*time.Second, "the recorder", func() bool { _, err := os.Stat(rec); return err == nil })
	time.Sleep(50 * time.Millisecond) // the late signals are claimed about a millisecond after the start
	for _, sig := range []syscall.Signal{syscall.SIGUSR1, syscall.SIGHUP, syscall.SIGWINCH} {
		syscall.Kill(cmd.Process.Pid, sig)
	}
	waitFor(t, 10*time.Second, "SIGWINCH recorded", func() bool { return slices.Contains(sortedRecord(rec), int(syscall.SIGWINCH)) })
	syscall.Kill(cmd.Process.Pid, syscall.SIGTERM)
	wait(10 * time.Second)
	if got := sortedRecord(rec); !slices.Equal(got, []int{12, 15, 28}) {
		t.Errorf("-r USR1:USR2 -r HUP:0: the command got %v, want [12 15 28]", got)
	}
}

// dumbInitCleared reports whether masks ("SigBlk: X SigIgn: Y") show
// nothing blocked and none of signals 1 to 31 ignored.
func dumbInitCleared(masks string) bool {
	f := strings.Fields(masks)
	if len(f) != 4 {
		return false
	}
	blk, err1 := strconv.ParseUint(f[1], 16, 64)
	ign, err2 := strconv.ParseUint(f[3], 16, 64)
	return err1 == nil && err2 == nil && blk == 0 && ign&0x7fffffff == 0
}

// zombiesOf lists the zombie children of pid.
func zombiesOf(pid int) []int {
	var z []int
	procfs.New(nil).Scan(func(st procfs.Stat) {
		if st.PPid == pid && st.State == 'Z' {
			z = append(z, st.Pid)
		}
	})
	return z
}

// procRef names one process for as long as the machine runs: a pid and
// its start time, so that a pid reused after the process ended is never
// signalled.
type procRef struct {
	pid   int
	start uint64
}

func refOf(pid int) procRef {
	st, err := procfs.New(nil).Stat(pid)
	if err != nil {
		return procRef{pid: pid} // gone already: kill does nothing
	}
	return procRef{pid: pid, start: st.Start}
}

// kill SIGKILLs the process if it still runs.
func (r procRef) kill() {
	if r.start == 0 {
		return
	}
	if st, err := procfs.New(nil).Stat(r.pid); err == nil && st.Start == r.start && st.Live() {
		syscall.Kill(r.pid, syscall.SIGKILL)
	}
}

// TestBrokenStderr: with stderr a pipe nobody reads any more, tinit still
// runs the command and exits with its code, under its own name (logging)
// and as tini (whose warning comes before the command starts); the Go
// runtime would otherwise end it of SIGPIPE at its first message.
func TestBrokenStderr(t *testing.T) {
	for _, tc := range []struct {
		side asInit
		args []string
	}{
		{asInit{persona: "tinit"}, []string{"-vv", "--", "sh", "-c", "exit 3"}},
		{asInit{persona: "tini"}, []string{"--", "sh", "-c", "exit 3"}},
		{asInit{persona: "dumb-init"}, []string{"-v", "--", "sh", "-c", "exit 3"}},
	} {
		t.Run(tc.side.persona, func(t *testing.T) {
			rd, wr, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			rd.Close()
			cmd := tc.side.command(t, tc.args, nil)
			cmd.Stderr = wr
			err = cmd.Run()
			wr.Close()
			if code := exitCode(cmd.ProcessState); code != 3 {
				t.Errorf("exit %d (%v), want the command's 3", code, err)
			}
		})
	}
}
