package procfs

import (
	"bytes"
	"fmt"
	"strconv"

	"golang.org/x/sys/unix"
)

// The readers below tell what a process is doing; some need more than
// reading stat does. wchan, the fd directory and fdinfo need the rights of
// a ptrace read (the same user and a dumpable process, or CAP_SYS_PTRACE);
// syscall needs those of a ptrace attach. A refusal comes back as an error
// wrapping EACCES or EPERM (ENOENT: the process or thread is gone).

// taskPath returns Root/PID/task/TID/name in fs.path.
func (fs *FS) taskPath(pid, tid int, name string) string {
	fs.path = append(fs.path[:0], Root+"/"...)
	fs.path = strconv.AppendInt(fs.path, int64(pid), 10)
	fs.path = append(fs.path, "/task/"...)
	fs.path = strconv.AppendInt(fs.path, int64(tid), 10)
	fs.path = append(fs.path, '/')
	fs.path = append(fs.path, name...)
	return string(fs.path)
}

// Tasks lists the threads of pid.
func (fs *FS) Tasks(pid int) ([]int, error) { return fs.Numbers(fs.pidPath(pid, "task")) }

// TaskStat reads the stat line of thread tid of pid: its own state.
func (fs *FS) TaskStat(pid, tid int) (Stat, error) {
	b, err := fs.readStat(fs.taskPath(pid, tid, "stat"))
	if err != nil {
		return Stat{}, err
	}
	return parseStat(b, false)
}

// Wchan returns the kernel function thread tid of pid sleeps in, "" when
// it runs or sleeps nowhere the kernel names.
func (fs *FS) Wchan(pid, tid int) (string, error) {
	b, err := fs.ReadFile(fs.taskPath(pid, tid, "wchan"))
	if err != nil {
		return "", err
	}
	if w := string(bytes.TrimSpace(b)); w != "0" {
		return w, nil
	}
	return "", nil
}

// Syscall is what /proc/PID/task/TID/syscall says of a thread.
type Syscall struct {
	// Nr is the system call the thread is blocked in; -1 when it is
	// blocked outside one, or runs (Running).
	Nr      int
	Args    [6]uint64
	Running bool
}

// Syscall reads the system call thread tid of pid is in.
func (fs *FS) Syscall(pid, tid int) (Syscall, error) {
	b, err := fs.ReadFile(fs.taskPath(pid, tid, "syscall"))
	if err != nil {
		return Syscall{}, err
	}
	return parseSyscall(b)
}

func parseSyscall(b []byte) (Syscall, error) {
	f := bytes.Fields(b)
	switch {
	case len(f) == 1 && string(f[0]) == "running":
		return Syscall{Nr: -1, Running: true}, nil
	case len(f) == 0:
		return Syscall{}, fmt.Errorf("%w: empty syscall", ErrMalformed)
	}
	nr, err := strconv.Atoi(string(f[0]))
	if err != nil {
		return Syscall{}, fmt.Errorf("%w: syscall %q", ErrMalformed, f[0])
	}
	sc := Syscall{Nr: nr}
	if nr < 0 {
		return sc, nil
	}
	for i := 0; i < 6 && i+1 < len(f); i++ {
		v, err := strconv.ParseUint(string(bytes.TrimPrefix(f[i+1], []byte("0x"))), 16, 64)
		if err != nil {
			return Syscall{}, fmt.Errorf("%w: syscall argument %q", ErrMalformed, f[i+1])
		}
		sc.Args[i] = v
	}
	return sc, nil
}

// FD is one open descriptor of a process.
type FD struct {
	Num int
	// Target is what the descriptor names: a path, "pipe:[INODE]",
	// "socket:[INODE]", "anon_inode:[eventpoll]"... The bytes of a path
	// are the process's own: quote them before showing them.
	Target string
	// Flags are the open flags from fdinfo (O_ACCMODE tells the end of a
	// pipe: O_RDONLY read, O_WRONLY write), read for pipes and sockets
	// only; -1 otherwise or when unreadable.
	Flags int
}

// Writes reports whether the descriptor was opened for writing.
func (f FD) Writes() bool { return f.Flags >= 0 && f.Flags&unix.O_ACCMODE != unix.O_RDONLY }

// Reads reports whether the descriptor was opened for reading.
func (f FD) Reads() bool { return f.Flags >= 0 && f.Flags&unix.O_ACCMODE != unix.O_WRONLY }

// Inode returns the inode of a pipe or socket target ("pipe:[42]" -> 42),
// and its kind ("pipe", "socket"), or 0 and "" for anything else.
func (f FD) Inode() (uint64, string) {
	kind, rest, ok := bytes.Cut([]byte(f.Target), []byte(":["))
	if !ok || len(rest) < 2 || rest[len(rest)-1] != ']' {
		return 0, ""
	}
	n, err := strconv.ParseUint(string(rest[:len(rest)-1]), 10, 64)
	if err != nil {
		return 0, ""
	}
	return n, string(kind)
}

// FDs lists the open descriptors of pid with their targets and flags. A
// descriptor closed while being read is left out.
func (fs *FS) FDs(pid int) ([]FD, error) {
	nums, err := fs.Numbers(fs.pidPath(pid, "fd"))
	if err != nil {
		return nil, err
	}
	link := make([]byte, unix.PathMax)
	out := make([]FD, 0, len(nums))
	for _, n := range nums {
		fs.path = append(fs.path[:0], Root+"/"...)
		fs.path = strconv.AppendInt(fs.path, int64(pid), 10)
		fs.path = append(fs.path, "/fd/"...)
		fs.path = strconv.AppendInt(fs.path, int64(n), 10)
		m, err := unix.Readlink(string(fs.path), link)
		if err != nil {
			continue
		}
		fd := FD{Num: n, Target: string(link[:m]), Flags: -1}
		if !flagsMatter(link[:m]) {
			out = append(out, fd)
			continue
		}
		fs.path = append(fs.path[:0], Root+"/"...)
		fs.path = strconv.AppendInt(fs.path, int64(pid), 10)
		fs.path = append(fs.path, "/fdinfo/"...)
		fs.path = strconv.AppendInt(fs.path, int64(n), 10)
		if b, err := fs.ReadFile(string(fs.path)); err == nil {
			fd.Flags = fdinfoFlags(b)
		}
		out = append(out, fd)
	}
	return out, nil
}

// flagsMatter reports whether a descriptor's flags are worth an fdinfo
// read: for a pipe they tell the end; for files and devices they say
// little a diagnosis needs, and reading them doubles its cost.
func flagsMatter(target []byte) bool {
	return bytes.HasPrefix(target, []byte("pipe:")) || bytes.HasPrefix(target, []byte("socket:"))
}

// fdinfoFlags reads the octal "flags:" line of an fdinfo file; -1 without
// one.
func fdinfoFlags(b []byte) int {
	for line := range bytes.SplitSeq(b, []byte{'\n'}) {
		if v, ok := bytes.CutPrefix(line, []byte("flags:")); ok {
			n, err := strconv.ParseUint(string(bytes.TrimSpace(v)), 8, 32)
			if err == nil {
				return int(n)
			}
		}
	}
	return -1
}

// Readlink returns the target of a link in /proc (fd/N, exe, cwd).
func (fs *FS) Readlink(path string) (string, error) {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlink(path, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}
