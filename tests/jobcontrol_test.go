package tests

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tinit-dev/tinit/internal/procfs"
	"github.com/tinit-dev/tinit/internal/testenv"
	"golang.org/x/sys/unix"
)

// shellOnPty is an interactive bash on a pseudo-terminal, driven as a
// user types into it.
type shellOnPty struct {
	t      *testing.T
	master *os.File
	mu     sync.Mutex
	out    strings.Builder
	cmd    *exec.Cmd
}

func startShell(t *testing.T, env ...string) *shellOnPty {
	t.Helper()
	bash, err := exec.LookPath("bash")
	testenv.Need(t, "bash", err)
	master, slave := openPty(t)
	cmd := exec.Command(bash, "--norc", "--noprofile", "-i")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.Env = append(personaEnv(), append([]string{"PS1=PROMPT$ ", "TERM=dumb", "PATH=" + os.Getenv("PATH")}, env...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	sh := &shellOnPty{t: t, master: master, cmd: cmd}
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := master.Read(b)
			sh.mu.Lock()
			sh.out.Write(b[:n])
			sh.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		killTree(cmd.Process.Pid)
		cmd.Wait()
	})
	sh.expect("PROMPT$ ", 1)
	return sh
}

// output is everything the terminal showed so far.
func (sh *shellOnPty) output() string {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.out.String()
}

// expect waits until the terminal has shown want at least n times.
func (sh *shellOnPty) expect(want string, n int) {
	sh.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(sh.output(), want) < n {
		if time.Now().After(deadline) {
			sh.t.Fatalf("the terminal did not show %q %d times; it shows:\n%s", want, n, sh.output())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (sh *shellOnPty) typeIn(s string) {
	sh.t.Helper()
	if _, err := sh.master.WriteString(s); err != nil {
		sh.t.Fatal(err)
	}
}

// state is a process's state letter, 0 once it is gone.
func state(pid int) byte {
	st, err := procfs.New(nil).Stat(pid)
	if err != nil || !st.Live() {
		return 0
	}
	return st.State
}

func waitState(t *testing.T, who string, pid int, want string) {
	t.Helper()
	waitFor(t, 10*time.Second, fmt.Sprintf("%s (%d) in state %s", who, pid, want), func() bool {
		return strings.IndexByte(want, state(pid)) >= 0
	})
}

// foreground is the terminal's foreground process group.
func (sh *shellOnPty) foreground() int {
	rc, err := sh.master.SyscallConn()
	if err != nil {
		sh.t.Fatal(err)
	}
	var fg int
	var ierr error
	rc.Control(func(fd uintptr) { fg, ierr = unix.IoctlGetInt(int(fd), unix.TIOCGPGRP) })
	if ierr != nil {
		sh.t.Fatalf("the terminal's foreground group: %v", ierr)
	}
	return fg
}

// TestJobControlInAShell types, into an interactive shell on a
// pseudo-terminal, `tinit -- sleep`, then Ctrl-Z: the shell must get its
// prompt back with tinit and the command both stopped; `fg` continues both
// with the command in the foreground again, Ctrl-Z and `bg` continue both
// in the background, and Ctrl-C after `fg` ends the run with 130. The same
// holds under each personality's name.
func TestJobControlInAShell(t *testing.T) {
	for _, persona := range []string{"tinit", "tini", "catatonit", "dumb-init"} {
		t.Run(persona, func(t *testing.T) {
			bin := tinitBin
			if persona != "tinit" {
				bin = asInit{persona: persona}.path(t)
			}
			sh := startShell(t)
			marker := newMarker(t)
			sh.typeIn(fmt.Sprintf("%s -- sh -c 'sleep 60; :' %s\n", bin, marker))
			var init, child, sleeper int
			waitFor(t, 10*time.Second, "the run to start", func() bool {
				for _, p := range marked(marker) {
					if st, err := procfs.New(nil).Stat(p); err == nil {
						if st.PPid == sh.cmd.Process.Pid {
							init = p
						} else {
							child = p
						}
					}
				}
				if child == 0 {
					return false
				}
				kids := childrenOf(child)
				if len(kids) == 1 {
					sleeper = kids[0]
				}
				return init != 0 && sleeper != 0
			})
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("the terminal showed:\n%s", sh.output())
				}
			})
			// The command's group has the terminal, but under dumb-init:
			// its command leads a session of its own, without a terminal,
			// and the keys reach dumb-init, which passes them on.
			st, _ := procfs.New(nil).Stat(child)
			fgWant := st.Pgrp
			if persona == "dumb-init" {
				fgWant = init
			}
			waitFor(t, 10*time.Second, "the command in the terminal's foreground", func() bool { return sh.foreground() == fgWant })

			sh.typeIn("\x1a") // Ctrl-Z
			sh.expect("PROMPT$ ", 2)
			waitState(t, "tinit", init, "T")
			waitState(t, "the command", child, "T")
			if !strings.Contains(sh.output(), "Stopped") {
				t.Errorf("the shell did not report its job stopped:\n%s", sh.output())
			}
			if fg := sh.foreground(); fg != sh.cmd.Process.Pid {
				t.Errorf("after Ctrl-Z the terminal's foreground is %d, want the shell's %d", fg, sh.cmd.Process.Pid)
			}

			sh.typeIn("fg\n")
			waitState(t, "tinit", init, "SR")
			waitState(t, "the command", child, "SR")
			waitState(t, "sleep", sleeper, "SR")
			waitFor(t, 10*time.Second, "the command in the foreground after fg", func() bool { return sh.foreground() == fgWant })

			sh.typeIn("\x1a")
			sh.expect("PROMPT$ ", 3)
			waitState(t, "tinit", init, "T")
			sh.typeIn("bg\n")
			sh.expect("PROMPT$ ", 4)
			waitState(t, "tinit", init, "SR")
			waitState(t, "the command", child, "SR")
			waitState(t, "sleep", sleeper, "SR")

			// fg of a running job sends no SIGCONT: the terminal goes to
			// tinit's group, and tinit passes the keys' signals on.
			sh.typeIn("fg\n")
			waitFor(t, 10*time.Second, "tinit in the foreground after the second fg", func() bool { return sh.foreground() == init })
			// Ctrl-Z now reaches tinit, which passes it on, and the run
			// stops as before; fg hands the terminal to the command again.
			sh.typeIn("\x1a")
			sh.expect("PROMPT$ ", 5)
			waitState(t, "tinit", init, "T")
			waitState(t, "the command", child, "T")
			sh.typeIn("fg\n")
			waitState(t, "sleep", sleeper, "SR")
			waitFor(t, 10*time.Second, "the command in the foreground after the third fg", func() bool { return sh.foreground() == fgWant })
			sh.typeIn("\x03") // Ctrl-C
			sh.expect("PROMPT$ ", 6)
			sh.typeIn("echo rc=$?\n")
			sh.expect("rc=130", 1)
			waitState(t, "tinit", init, "\x00")
		})
	}
}
