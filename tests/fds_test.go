package tests

import (
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

// TestChildFdsAre012 checks that the child inherits descriptors 0, 1 and 2
// and nothing of tinit's own (pidfds, /proc handles, the Go runtime's).
func TestChildFdsAre012(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		r := start(t, m, spec{flags: []string{"-vv"}, argv: helper("fds")})
		if code := r.wait(10 * time.Second); code != 0 {
			t.Fatalf("exit code %d", code)
		}
		if got := strings.TrimSpace(r.stdout.String()); got != "0 1 2" {
			t.Errorf("child's descriptors = %q, want \"0 1 2\"", got)
		}
	})
}

// TestPassedFdReachesChild checks that a descriptor handed to tinit on
// purpose is passed on to the child.
func TestPassedFdReachesChild(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		rd, wr, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer rd.Close()
		r := start(t, m, spec{argv: helper("fds"), extra: []*os.File{wr}})
		wr.Close()
		if code := r.wait(10 * time.Second); code != 0 {
			t.Fatalf("exit code %d", code)
		}
		if got := strings.TrimSpace(r.stdout.String()); got != "0 1 2 3" {
			t.Errorf("child's descriptors = %q, want \"0 1 2 3\"", got)
		}
	})
}

// TestInheritedPipeReachesEOF hands tinit the write end of a pipe as
// descriptor 3. Once the child closes its copy, the reader must see EOF
// while tinit and the child still run: tinit must not hold a copy.
func TestInheritedPipeReachesEOF(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		rd, wr, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer rd.Close()
		r := start(t, m, spec{argv: helper("closefd3"), extra: []*os.File{wr}})
		wr.Close()
		r.waitOutput("closed", 10*time.Second)

		eof := make(chan error, 1)
		go func() {
			_, err := io.ReadAll(rd)
			eof <- err
		}()
		select {
		case err := <-eof:
			if err != nil {
				t.Errorf("read: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no EOF 5s after the child closed its copy: tinit still holds the write end")
		}
		if r.exited() {
			t.Fatal("tinit exited; the EOF proves nothing")
		}
		r.signal(15)
		if code := r.wait(10 * time.Second); code != 143 {
			t.Errorf("exit code %d, want 143 (the child dies of the forwarded SIGTERM)", code)
		}
	})
}

// TestChildSignalState starts tinit with signals blocked and ignored, as a
// careless parent (or a shell's background job) might. The child must start
// with an empty signal mask and nothing ignored.
func TestChildSignalState(t *testing.T) {
	// The child is a C program: a Go child would install its own handlers
	// over some inherited SIG_IGN before it could look.
	status := []string{"grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"}
	forEachMode(t, func(t *testing.T, m mode) {
		r := startCareless(t, m, status)
		if code := r.wait(10 * time.Second); code != 0 {
			t.Fatalf("exit code %d; output %q", code, r.stdout.String())
		}
		want := "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000"
		if got := strings.TrimSpace(r.stdout.String()); got != want {
			t.Errorf("child's signal state:\n%s\nwant:\n%s", got, want)
		}
		// Re-executing to clear the mask leaves no trace in the environment.
		r = startCareless(t, m, []string{"env"})
		if code := r.wait(10 * time.Second); code != 0 {
			t.Errorf("env: exit code %d", code)
		}
		if strings.Contains(r.stdout.String(), "TINIT_REEXEC") {
			t.Errorf("the child's environment has tinit's re-exec marker:\n%s", r.stdout.String())
		}
	})
}

// startCareless starts tinit from the launch helper, which blocks and
// ignores signals first, with argv as the command.
func startCareless(t *testing.T, m mode, argv []string) *run {
	t.Helper()
	return start(t, m, spec{argv: argv, launch: []string{"careless"}})
}
