package diagnose

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tinit-dev/tinit/internal/procfs"
	"golang.org/x/sys/unix"
)

// start runs a command whose descriptors the test sets up, killed at the
// end.
func start(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd.Process.Pid
}

func pipe(t *testing.T) (r, w *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	return r, w
}

// waitWchan waits until pid's main thread sleeps in a wait channel that
// contains part.
func waitWchan(t *testing.T, pid int, part string) {
	t.Helper()
	fs := procfs.New(nil)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if w, _ := fs.Wchan(pid, pid); strings.Contains(w, part) {
			return
		}
		if time.Now().After(deadline) {
			w, _ := fs.Wchan(pid, pid)
			t.Fatalf("process %d sleeps in %q, not in %s", pid, w, part)
		}
		time.Sleep(time.Millisecond)
	}
}

// finding returns the finding about pid.
func finding(d *Diagnosis, prefix string) string {
	for _, f := range d.Findings {
		if strings.HasPrefix(f, prefix) {
			return f
		}
	}
	return ""
}

func TestDiagnosis(t *testing.T) {
	// A writer blocked on a full pipe whose reader sleeps.
	r1, w1 := pipe(t)
	reader := exec.Command("sleep", "300")
	reader.Stdin = r1
	readerPid := start(t, reader)
	writer := exec.Command("yes")
	writer.Stdout = w1
	writerPid := start(t, writer)
	r1.Close()
	w1.Close()

	// A reader waiting for EOF that the holder of the write end keeps off.
	r2, w2 := pipe(t)
	cat := exec.Command("cat")
	cat.Stdin = r2
	catPid := start(t, cat)
	holder := exec.Command("sleep", "301")
	holder.Stdout = w2
	holderPid := start(t, holder)
	r2.Close()
	w2.Close()

	// A "main child" whose stdout is a pipe, and a leftover holding it.
	r3, w3 := pipe(t)
	defer r3.Close()
	main := exec.Command("sleep", "302")
	main.Stdout = w3
	mainPid := start(t, main)
	leak := exec.Command("sh", "-c", "sleep 303; true")
	leak.Stdout = w3
	leakPid := start(t, leak)
	w3.Close()

	// A reader of a unix socket whose peer a sleeper holds.
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	sa, sb := os.NewFile(uintptr(pair[0]), "a"), os.NewFile(uintptr(pair[1]), "b")
	sockReader := exec.Command("cat")
	sockReader.Stdin = sa
	sockReaderPid := start(t, sockReader)
	peerHolder := exec.Command("sleep", "305")
	peerHolder.Stdout = sb
	peerHolderPid := start(t, peerHolder)
	sa.Close()
	sb.Close()

	// A stopped process, with a test's identity in its environment.
	stopped := exec.Command("sleep", "304")
	stopped.Env = []string{"NEXTEST_BINARY_ID=crate::bin", "NEXTEST_TEST_NAME=tests::leaks"}
	stoppedPid := start(t, stopped)
	syscall.Kill(stoppedPid, syscall.SIGSTOP)

	waitWchan(t, writerPid, "pipe_write")
	waitWchan(t, catPid, "pipe_read")
	waitWchan(t, leakPid, "wait")
	waitWchan(t, sockReaderPid, "unix_")
	for {
		st, _ := procfs.New(nil).Stat(stoppedPid)
		if st.State == 'T' {
			break
		}
		time.Sleep(time.Millisecond)
	}

	d := Run(procfs.New(nil), Input{Root: os.Getpid(), Main: mainPid, Reason: "test", Now: time.Now()})
	tests := []struct {
		name, prefix, want string
	}{
		{"full pipe", fmt.Sprintf("pid %d (`yes`): ", writerPid), fmt.Sprintf("blocked writing a full pipe:[%%d]; its reader pid %d (`sleep 300`) is sleeping in", readerPid)},
		{"waiting for EOF", fmt.Sprintf("pid %d (`cat`): ", catPid), fmt.Sprintf("the write end is held by pid %d (`sleep 301`) is sleeping", holderPid)},
		{"waiting for a child", fmt.Sprintf("pid %d (`sh -c sleep 303; true`): ", leakPid), "waiting for its child to exit pid "},
		{"stopped", fmt.Sprintf("pid %d (`sleep 304`): ", stoppedPid), "stopped"},
		{"unix socket peer", fmt.Sprintf("pid %d (`cat`): ", sockReaderPid), fmt.Sprintf("whose peer is held by pid %d (`sleep 305`) is sleeping", peerHolderPid)},
		{"holder of the main child's stdout", fmt.Sprintf("pid %d (`sh -c sleep 303; true`", leakPid), "still holds the write end of the main child's stdout"},
	}
	for _, tt := range tests {
		f := finding(d, tt.prefix)
		want := tt.want
		if strings.Contains(want, "%d") {
			// The inode is not known up front.
			want = want[strings.Index(want, "]")+1:]
		}
		if f == "" || !strings.Contains(f, want) {
			t.Errorf("%s: finding %q, want it to contain %q; all:\n%s", tt.name, f, want, strings.Join(d.Findings, "\n"))
		}
	}
	for _, p := range d.Processes {
		if p.Pid == stoppedPid && p.Test != "crate::bin tests::leaks" {
			t.Errorf("the stopped process's test is %q, want the nextest identity", p.Test)
		}
		if p.Pid == writerPid && (len(p.Threads) != 1 || p.Threads[0].Syscall != "write") {
			t.Errorf("the writer's threads: %+v, want one in write", p.Threads)
		}
	}
	if len(d.Unreadable) != 0 {
		t.Errorf("unreadable: %v (the test reads its own children)", d.Unreadable)
	}

	// The leak report's brief diagnosis of the same tree: the same
	// processes, their tests and the holder of the main child's output,
	// and nothing of threads or reasons.
	b := Run(procfs.New(nil), Input{Root: os.Getpid(), Main: mainPid, Reason: "leftovers", Now: time.Now(), Brief: true})
	if len(b.Processes) != len(d.Processes) {
		t.Errorf("brief: %d processes, the full diagnosis %d", len(b.Processes), len(d.Processes))
	}
	holds := fmt.Sprintf("pid %d (`sh -c sleep 303; true`", leakPid)
	if f := finding(b, holds); !strings.Contains(f, "still holds the write end of the main child's stdout") {
		t.Errorf("brief findings %q, want the holder of the main child's stdout", b.Findings)
	}
	for _, f := range b.Findings {
		if !strings.Contains(f, "still holds the write end of") {
			t.Errorf("brief finding %q: only holders of tinit's or the main child's output belong there", f)
		}
	}
	for _, p := range b.Processes {
		if len(p.Threads) != 0 || p.Why != "" || p.Go {
			t.Errorf("brief: pid %d has threads %v, why %q, go %v", p.Pid, p.Threads, p.Why, p.Go)
		}
		if p.Pid == stoppedPid && p.Test != "crate::bin tests::leaks" {
			t.Errorf("brief: the stopped process's test is %q, want the nextest identity", p.Test)
		}
	}
	syscall.Kill(stoppedPid, syscall.SIGKILL)
}

func TestGoTest(t *testing.T) {
	tests := []struct{ cmdline, want string }{
		{"/tmp/go-build1/b001/leaky.test -test.run=TestHang -test.v", "leaky.test -test.run=TestHang"},
		{"./pkg.test -test.timeout=10m0s -test.run TestA", "pkg.test -test.run=TestA"},
		{"./pkg.test", "pkg.test"},
		{"sleep 100", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := goTest(tt.cmdline); got != tt.want {
			t.Errorf("goTest(%q) = %q, want %q", tt.cmdline, got, tt.want)
		}
	}
}
