package procfs

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/tinit-dev/tinit/fdtrack"
	"golang.org/x/sys/unix"
)

func TestParseStat(t *testing.T) {
	// Fields 4 to 22 of a real line: ppid pgrp session tty tpgid flags
	// minflt cminflt majflt cmajflt utime stime cutime cstime priority nice
	// threads itrealvalue starttime, then more.
	tail := " 7 40 30 34816 -1 4194560 100 0 0 0 12 34 0 0 20 0 3 0 123456 1000 100"
	tests := []struct {
		name  string
		line  string
		want  Stat
		valid bool
	}{
		{"plain", "42 (sleep) S" + tail, Stat{Pid: 42, Comm: "sleep", State: 'S', PPid: 7, Pgrp: 40, Session: 30, TTY: 34816, UTime: 12, STime: 34, Threads: 3, Start: 123456}, true},
		{"spaces and parens in name", "43 (a (b) c)) Z" + tail, Stat{Pid: 43, Comm: "a (b) c)", State: 'Z', PPid: 7, Pgrp: 40, Session: 30, TTY: 34816, UTime: 12, STime: 34, Threads: 3, Start: 123456}, true},
		{"empty name, newline at the end", "44 () R" + tail + "\n", Stat{Pid: 44, State: 'R', PPid: 7, Pgrp: 40, Session: 30, TTY: 34816, UTime: 12, STime: 34, Threads: 3, Start: 123456}, true},
		{"control bytes in name", "45 (\x1b]0;x\a) S" + tail, Stat{Pid: 45, Comm: "\x1b]0;x\a", State: 'S', PPid: 7, Pgrp: 40, Session: 30, TTY: 34816, UTime: 12, STime: 34, Threads: 3, Start: 123456}, true},
		{"truncated", "45 (x) S 1 1 0", Stat{}, false},
		{"no name", "46 S 1" + tail, Stat{}, false},
		{"bad pid", "x (y) S" + tail, Stat{}, false},
		{"negative pid", "-4 (y) S" + tail, Stat{}, false},
		{"released: pgrp and session -1", "50 (y) X 0 -1 -1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 7", Stat{Pid: 50, Comm: "y", State: 'X', Pgrp: -1, Session: -1, Threads: 1, Start: 7}, true},
		{"bad ppid", "47 (y) S p 40 30 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 1", Stat{}, false},
		{"long state", "48 (y) SS" + tail, Stat{}, false},
		{"huge start", "49 (y) S 7 40 30 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99999999999999999999", Stat{}, false},
		{"empty", "", Stat{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseStat([]byte(tt.line))
			if (err == nil) != tt.valid {
				t.Fatalf("ParseStat(%q) error = %v, want valid %v", tt.line, err, tt.valid)
			}
			if tt.valid && got != tt.want {
				t.Errorf("ParseStat(%q) = %+v, want %+v", tt.line, got, tt.want)
			}
		})
	}
}

func FuzzParseStat(f *testing.F) {
	f.Add("42 (sleep) S 7 1 1 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 123456 1000 100")
	f.Add("1 ((()) R 0 " + strings.Repeat("0 ", 30))
	f.Fuzz(func(t *testing.T, line string) {
		p, err := ParseStat([]byte(line))
		if err != nil {
			return
		}
		if !strings.Contains(line, "("+p.Comm+")") {
			t.Errorf("ParseStat(%q) comm %q not found between parentheses", line, p.Comm)
		}
		if p.Pid < 0 {
			t.Errorf("ParseStat(%q) = %+v: negative numbers", line, p)
		}
	})
}

func TestLive(t *testing.T) {
	tests := []struct {
		st   Stat
		want bool
	}{
		{Stat{State: 'S', Threads: 1}, true},
		{Stat{State: 'T', Threads: 1}, true},
		{Stat{State: 'D', Threads: 4}, true},
		{Stat{State: 'Z', Threads: 1}, false},
		{Stat{State: 'Z', Threads: 2}, true}, // leader gone, a thread runs on
		{Stat{State: 'X', Threads: 1}, false},
	}
	for _, tt := range tests {
		if got := tt.st.Live(); got != tt.want {
			t.Errorf("Stat{State: %c, Threads: %d}.Live() = %v, want %v", tt.st.State, tt.st.Threads, got, tt.want)
		}
	}
}

// TestReadsThroughRegistry checks that every descriptor FS opens through a
// registry is closed again, and that the tree of this test's children
// comes out right.
func TestReadsThroughRegistry(t *testing.T) {
	fds := fdtrack.New(zerolog.Nop())
	fs := New(fds)
	sleep := exec.Command("sleep", "60")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { sleep.Process.Kill(); sleep.Wait() }()
	procs, err := fs.Descendants(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range procs {
		found = found || (p.Pid == sleep.Process.Pid && p.PPid == os.Getpid() && p.Comm == "sleep")
	}
	if !found {
		t.Errorf("Descendants(%d) = %+v, want sleep %d among them", os.Getpid(), procs, sleep.Process.Pid)
	}
	if got := fs.Cmdline(sleep.Process.Pid); got != "sleep 60" {
		t.Errorf("Cmdline = %q, want %q", got, "sleep 60")
	}
	if !fs.Ours(os.Getpid()) {
		t.Error("Ours() = false in the test's own namespace")
	}
	if live := fds.Live(); len(live) != 0 || len(fds.Faults()) != 0 {
		t.Errorf("registry after the reads: live %v, faults %v", live, fds.Faults())
	}
}

// TestIsGo tells this Go test binary from a C program.
func TestIsGo(t *testing.T) {
	fs := New(nil)
	if ok, err := fs.IsGo(os.Getpid()); !ok || err != nil {
		t.Errorf("IsGo(self) = %v, %v; want true for a Go test binary", ok, err)
	}
	sleep := exec.Command("sleep", "60")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { sleep.Process.Kill(); sleep.Wait() }()
	if ok, err := fs.IsGo(sleep.Process.Pid); ok || err != nil {
		t.Errorf("IsGo(sleep) = %v, %v; want false", ok, err)
	}
}

// TestParents: both ways Parents can learn a parent (a pidfd's answer and
// the stat file) agree with Scan for the processes that stay put, the
// test's own child among them, and every descriptor goes back.
func TestParents(t *testing.T) {
	sleep := exec.Command("sleep", "60")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { sleep.Process.Kill(); sleep.Wait() }()
	want := map[int]int{}
	if err := New(nil).Scan(func(st Stat) { want[st.Pid] = st.PPid }); err != nil {
		t.Fatal(err)
	}
	for _, way := range []struct {
		name string
		mode int8
	}{{"as the kernel allows", 0}, {"stat files", -1}} {
		t.Run(way.name, func(t *testing.T) {
			fds := fdtrack.New(zerolog.Nop())
			fs := New(fds)
			fs.pidfdInfo = way.mode
			got := map[int]int{}
			if err := fs.Parents(func(pid, ppid int) { got[pid] = ppid }); err != nil {
				t.Fatal(err)
			}
			if got[sleep.Process.Pid] != os.Getpid() {
				t.Errorf("the test's child %d: parent %d, want %d", sleep.Process.Pid, got[sleep.Process.Pid], os.Getpid())
			}
			agree := 0
			for pid, ppid := range got {
				if w, ok := want[pid]; ok && w == ppid {
					agree++
				}
			}
			if agree < len(want)*9/10 {
				t.Errorf("%d of %d processes have the parent Scan saw", agree, len(want))
			}
			if live := fds.Live(); len(live) != 0 || len(fds.Faults()) != 0 {
				t.Errorf("registry after Parents: live %v, faults %v", live, fds.Faults())
			}
		})
	}
	// On this kernel (6.13 or later, with /proc of the test's namespace)
	// the pidfd way is the one taken.
	fs := New(nil)
	fs.Parents(func(int, int) {})
	var uts unix.Utsname
	unix.Uname(&uts)
	if fs.Ours(os.Getpid()) && kernelAtLeast(uts, 6, 13) && fs.pidfdInfo != 1 {
		t.Errorf("Parents did not take pidfds on %s", unix.ByteSliceToString(uts.Release[:]))
	}
}

func kernelAtLeast(uts unix.Utsname, major, minor int) bool {
	var ma, mi int
	fmt.Sscanf(unix.ByteSliceToString(uts.Release[:]), "%d.%d", &ma, &mi)
	return ma > major || ma == major && mi >= minor
}

// TestChildrenMany: a children file longer than one read (about 680 pids
// fit in 4 KiB) is read whole. The children are forked from one thread,
// whose children file lists them all.
func TestChildrenMany(t *testing.T) {
	const n = 1000
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var kids []*exec.Cmd
	t.Cleanup(func() {
		for _, c := range kids {
			c.Process.Kill()
			c.Wait()
		}
	})
	for range n {
		c := exec.Command("sleep", "60")
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		kids = append(kids, c)
	}
	got, err := New(nil).Children(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	have := map[int]bool{}
	for _, pid := range got {
		have[pid] = true
	}
	for _, c := range kids {
		if !have[c.Process.Pid] {
			t.Fatalf("Children lists %d pids, not child %d of the %d", len(got), c.Process.Pid, n)
		}
	}
}
