// Package leaky is a small test suite with the bad habits real suites have:
// a test starts a server and never stops it, another starts workers and
// never waits for them, a third leaves orphans behind. Run it under tinit
// to see tinit name and end what it leaves behind (make demo).
package leaky

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as the processes the tests start.
func TestMain(m *testing.M) {
	switch os.Getenv("LEAKY_ROLE") {
	case "server":
		// A "database" that shrugs off SIGTERM, as a badly written one might.
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("listening")
		os.Stdout.Close()
		for {
			time.Sleep(time.Hour)
		}
	case "launcher":
		// Daemonize the server: new session, parent exits.
		server := role("server")
		server.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		out, _ := server.StdoutPipe()
		if err := server.Start(); err != nil {
			os.Exit(1)
		}
		out.Read(make([]byte, 16))
		os.Exit(0)
	case "worker":
		time.Sleep(50 * time.Millisecond)
		os.Exit(0)
	case "spawner":
		// Start a grandchild and exit without waiting: an orphan.
		role("worker").Start()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func role(name string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$", "leaky-demo-"+name)
	cmd.Env = append(os.Environ(), "LEAKY_ROLE="+name)
	return cmd
}

// TestWithServer starts a daemonized server for its checks and forgets to
// stop it.
func TestWithServer(t *testing.T) {
	if err := role("launcher").Run(); err != nil {
		t.Fatal(err)
	}
	t.Log("server started (and never stopped)")
}

// TestWorkers starts workers and never waits for them: each becomes a
// zombie of the test binary when it exits.
func TestWorkers(t *testing.T) {
	for i := 0; i < 5; i++ {
		if err := role("worker").Start(); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(100 * time.Millisecond)
	t.Log("5 workers started (never waited for)")
}

// TestOrphans leaves grandchildren whose parent is gone.
func TestOrphans(t *testing.T) {
	for i := 0; i < 3; i++ {
		if err := role("spawner").Run(); err != nil {
			t.Fatal(err)
		}
	}
	t.Log("3 orphans left behind")
}

// TestHang waits for the output of a command that put a helper in the
// background: the helper keeps the pipe's write end, so EOF never comes and
// the test hangs, as many a real suite does. It runs only with LEAKY_HANG=1
// (make demo shows tinit's --timeout on it).
func TestHang(t *testing.T) {
	if os.Getenv("LEAKY_HANG") != "1" {
		t.Skip("set LEAKY_HANG=1 to hang")
	}
	out, err := exec.Command("sh", "-c", "sleep 300 & echo started").Output()
	t.Logf("never reached: %q, %v", out, err)
}

// TestPass passes and leaves nothing behind.
func TestPass(t *testing.T) {
	if err := exec.Command("true").Run(); err != nil {
		t.Fatal(err)
	}
}
