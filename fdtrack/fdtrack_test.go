package fdtrack

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

// The test binary doubles as a child that lives until its stdin closes.
func TestMain(m *testing.M) {
	if os.Getenv("FDTRACK_TEST_CHILD") == "1" {
		var b [1]byte
		os.Stdin.Read(b[:])
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func newRegistry(t *testing.T) (*Registry, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	return New(zerolog.New(&logs)), &logs
}

// startChild starts a child that exits when the returned writer is closed.
func startChild(t *testing.T) (*exec.Cmd, *os.File) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "FDTRACK_TEST_CHILD=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Wait() })
	return cmd, stdin.(*os.File)
}

// trackedPipe makes a pipe and registers both ends, as a user of the
// registry would.
func trackedPipe(t *testing.T, r *Registry) (rd, wr Token) {
	t.Helper()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	rd, err := r.Track(p[0], "pipe read end")
	if err != nil {
		t.Fatal(err)
	}
	wr, err = r.Track(p[1], "pipe write end")
	if err != nil {
		t.Fatal(err)
	}
	return rd, wr
}

func isOpen(fd int) bool {
	_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	return err == nil
}

// TestSecondCloseHitsReusedPidfd reproduces the bug class tinit exists for:
// a pipe's write end is closed twice, and between the two closes a pidfd is
// opened and receives the same number. The second close must be refused and
// reported, the pidfd must stay open, and the child's exit must still be
// seen through it.
func TestSecondCloseHitsReusedPidfd(t *testing.T) {
	r, logs := newRegistry(t)
	child, stdin := startChild(t)

	rd, wr := trackedPipe(t, r)
	wrNum, _ := r.Fd(wr)
	if err := r.Close(wr); err != nil {
		t.Fatalf("first Close(write end) = %v, want nil", err)
	}
	// The kernel hands out the lowest free number: the write end's.
	pidfd, err := r.PidfdOpen(child.Process.Pid)
	if err != nil {
		t.Fatalf("PidfdOpen: %v", err)
	}
	pidfdNum, _ := r.Fd(pidfd)
	if pidfdNum != wrNum {
		t.Fatalf("pidfd got fd %d, the closed write end was %d: the reuse this test needs did not happen", pidfdNum, wrNum)
	}

	err = r.Close(wr)
	if !errors.Is(err, ErrStaleToken) {
		t.Fatalf("second Close(write end) = %v, want ErrStaleToken", err)
	}
	if !isOpen(pidfdNum) {
		t.Fatal("the second close of the pipe closed the pidfd that reused its number")
	}
	if got := len(r.Faults()); got != 1 {
		t.Errorf("Faults() has %d entries, want 1", got)
	}
	if !strings.Contains(logs.String(), `"level":"error"`) || !strings.Contains(logs.String(), "pidfd of") {
		t.Errorf("fault not logged at error level naming the pidfd; log: %s", logs.String())
	}

	// The exit of the child is still seen through the pidfd.
	stdin.Close()
	fds := []unix.PollFd{{Fd: int32(pidfdNum), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, int((10 * time.Second).Milliseconds()))
	if err != nil || n != 1 || fds[0].Revents&unix.POLLIN == 0 {
		t.Fatalf("poll(pidfd) = %d, %v, revents %#x: child exit not seen", n, err, fds[0].Revents)
	}
	for _, tok := range []Token{pidfd, rd} {
		if err := r.Close(tok); err != nil {
			t.Errorf("Close(%v) = %v", tok, err)
		}
	}
	if live := r.Live(); len(live) != 0 {
		t.Errorf("Live() = %v after closing everything, want none", live)
	}
}

func TestCloseRefusesStaleTokens(t *testing.T) {
	tests := []struct {
		name string
		tok  func(r *Registry) Token
	}{
		{"zero token", func(r *Registry) Token { return Token{} }},
		{"closed twice", func(r *Registry) Token {
			tok, _ := r.Open("/dev/null", unix.O_RDONLY)
			r.Close(tok)
			return tok
		}},
		{"never handed out", func(r *Registry) Token { return Token{fd: 0, gen: 99} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := newRegistry(t)
			tok := tt.tok(r)
			if err := r.Close(tok); !errors.Is(err, ErrStaleToken) {
				t.Errorf("Close(%v) = %v, want ErrStaleToken", tok, err)
			}
			if _, err := r.Fd(tok); !errors.Is(err, ErrStaleToken) {
				t.Errorf("Fd(%v) = %v, want ErrStaleToken", tok, err)
			}
			if len(r.Faults()) != 1 {
				t.Errorf("Faults() = %v, want one", r.Faults())
			}
			if !isOpen(0) {
				t.Fatal("a stale close closed descriptor 0")
			}
		})
	}
}

// TestClosedElsewhere covers a descriptor closed behind the registry's back:
// close(2) then reports EBADF, and a new registration of the same number
// reveals the reuse.
func TestClosedElsewhere(t *testing.T) {
	r, _ := newRegistry(t)
	tok, err := r.Open("/dev/null", unix.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	fd, _ := r.Fd(tok)
	unix.Close(fd) // the foreign close
	if err := r.Close(tok); !errors.Is(err, ErrClosedElsewhere) {
		t.Errorf("Close after a foreign close = %v, want ErrClosedElsewhere", err)
	}

	tok, _ = r.Open("/dev/null", unix.O_RDONLY)
	fd, _ = r.Fd(tok)
	unix.Close(fd)
	reused, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil || reused != fd {
		t.Fatalf("reopen got fd %d (%v), want %d", reused, err, fd)
	}
	if _, err := r.Track(reused, "reopened"); err != nil {
		t.Fatal(err)
	}
	if n := len(r.Faults()); n != 2 {
		t.Fatalf("Faults() has %d entries, want 2: %v", n, r.Faults())
	}
	if !errors.Is(r.Faults()[1], ErrClosedElsewhere) {
		t.Errorf("fault = %v, want ErrClosedElsewhere", r.Faults()[1])
	}
	if err := r.Close(tok); !errors.Is(err, ErrStaleToken) {
		t.Errorf("Close(old token) = %v, want ErrStaleToken", err)
	}
}

func TestTrackSetsCloseOnExec(t *testing.T) {
	r, _ := newRegistry(t)
	fd, err := unix.Open("/dev/null", unix.O_RDONLY, 0) // no O_CLOEXEC
	if err != nil {
		t.Fatal(err)
	}
	tok, err := r.Track(fd, "test")
	if err != nil {
		t.Fatal(err)
	}
	flags, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	if flags&unix.FD_CLOEXEC == 0 {
		t.Error("Track left the descriptor without close-on-exec")
	}
	if err := r.Close(tok); err != nil {
		t.Error(err)
	}
	if _, err := r.Track(-1, "bad"); err == nil {
		t.Error("Track(-1) = nil error")
	}
}

func TestOpenedDescriptorsAreCloseOnExec(t *testing.T) {
	r, _ := newRegistry(t)
	a, err := r.Open("/dev/null", unix.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	rd, wr := trackedPipe(t, r)
	p, err := r.PidfdOpen(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	dir, err := r.Open("/dev", unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		t.Fatal(err)
	}
	at, err := r.OpenAt(dir, "null", unix.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.OpenAt(Token{}, "null", unix.O_RDONLY); !errors.Is(err, ErrStaleToken) {
		t.Errorf("OpenAt through a stale directory token = %v, want ErrStaleToken", err)
	}
	for _, tok := range []Token{a, rd, wr, p, dir, at} {
		fd, err := r.Fd(tok)
		if err != nil {
			t.Fatal(err)
		}
		flags, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if flags&unix.FD_CLOEXEC == 0 {
			t.Errorf("fd %d (%v) is not close-on-exec", fd, tok)
		}
	}
	if got := len(r.Live()); got != 6 {
		t.Errorf("Live() has %d entries, want 6", got)
	}
	for _, tok := range []Token{a, rd, wr, p, dir, at} {
		if err := r.Close(tok); err != nil {
			t.Error(err)
		}
	}
	if len(r.Faults()) != 0 {
		t.Errorf("Faults() = %v, want none", r.Faults())
	}
}

// TestConcurrentUse: goroutines opening and closing pidfds at once, as the
// walk of a busy host does, see every number handed out and released
// exactly once: no fault, nothing left, each token usable until its own
// close. Run under the race detector by `make race`.
func TestConcurrentUse(t *testing.T) {
	r, logs := newRegistry(t)
	const workers, each = 4, 2000
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		go func() {
			for i := 0; i < each; i++ {
				tok, err := r.PidfdOpen(os.Getpid())
				if err != nil {
					errs <- err
					return
				}
				fd, err := r.Fd(tok)
				if err == nil {
					var st unix.Stat_t
					err = unix.Fstat(fd, &st)
				}
				if err == nil {
					err = r.Close(tok)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for w := 0; w < workers; w++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if f := r.Faults(); len(f) != 0 {
		t.Errorf("faults: %v\n%s", f, logs)
	}
	if live := r.Live(); len(live) != 0 {
		t.Errorf("left open: %v", live)
	}
}
