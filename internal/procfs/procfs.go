// Package procfs reads what tinit needs to know about processes from /proc:
// a process's stat line (parent, group, session, state, threads, CPU time,
// start time), its command line, the processes of the pid namespace, and
// the descendants of a process. It is the one parser of /proc in the
// repository: the supervisor, the tests of the built binary and the
// benchmark all read /proc through it.
//
// It does not signal, stop or wait for processes, and it reads nothing that
// needs ptrace rights. An FS is not safe for concurrent use: it reads every
// file into one reusable buffer.
package procfs

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/tinit-dev/tinit/fdtrack"
	"golang.org/x/sys/unix"
)

// Root is where procfs is mounted.
const Root = "/proc"

// ErrMalformed means a /proc file could not be parsed.
var ErrMalformed = errors.New("malformed /proc file")

// bufSize is the size of FS's read buffers: a stat line is a few hundred
// bytes; longer files (a command line) are cut at this length.
const bufSize = 4096

// FS reads /proc. Every descriptor it opens goes through the fd registry it
// was given, or, with a nil registry (tests, the benchmark), through plain
// system calls; either way each is closed before the call returns.
type FS struct {
	fds  *fdtrack.Registry
	buf  []byte // file contents
	dir  []byte // directory entries, apart so that a scan can read files
	path []byte
	// pidfdInfo says whether Parents asks pidfds: 0 not known yet, 1 yes,
	// -1 no.
	pidfdInfo int8
}

// New returns an FS that opens its descriptors through fds (nil: directly).
func New(fds *fdtrack.Registry) *FS {
	return &FS{fds: fds, buf: make([]byte, bufSize), dir: make([]byte, bufSize)}
}

// file is a descriptor FS holds for the length of one call.
type file struct {
	fd  int
	tok fdtrack.Token
}

func (fs *FS) open(path string, flags int) (file, error) {
	if fs.fds != nil {
		tok, err := fs.fds.Open(path, flags)
		if err != nil {
			return file{}, err
		}
		fd, err := fs.fds.Fd(tok)
		return file{fd: fd, tok: tok}, err
	}
	fd, err := unix.Open(path, flags|unix.O_CLOEXEC, 0)
	if err != nil {
		return file{}, fmt.Errorf("open %s: %w", path, err)
	}
	return file{fd: fd}, nil
}

func (fs *FS) close(f file) error {
	if fs.fds != nil {
		return fs.fds.Close(f.tok)
	}
	return unix.Close(f.fd)
}

// Own registers fd, a descriptor the caller just made (a socket, say),
// with FS's registry, and returns the function that closes it: with a nil
// registry, a plain close.
func (fs *FS) Own(fd int, what string) (func() error, error) {
	if fs.fds == nil {
		return func() error { return unix.Close(fd) }, nil
	}
	tok, err := fs.fds.Track(fd, what)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	return func() error { return fs.fds.Close(tok) }, nil
}

// ReadFile returns the first 4096 bytes of path; the slice is valid until
// the next call on fs.
func (fs *FS) ReadFile(path string) ([]byte, error) { return fs.read(path, readFull) }

// ReadWhole returns all of path, for files that can be long (a children
// list of thousands of pids, a mount table); the slice is valid until the
// next call on fs.
func (fs *FS) ReadWhole(path string) ([]byte, error) {
	f, err := fs.open(path, unix.O_RDONLY)
	if err != nil {
		return nil, err
	}
	all, rerr := readGrowing(f.fd, fs.buf[:0])
	if err := fs.close(f); err != nil && rerr == nil {
		rerr = err
	}
	return all, rerr
}

// readGrowing appends what fd has to buf until end of file, growing it.
func readGrowing(fd int, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, max(cap(buf), 512))
		}
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		switch {
		case errors.Is(err, unix.EINTR):
		case err != nil:
			return buf, err
		case n == 0:
			return buf, nil
		default:
			buf = buf[:len(buf)+n]
		}
	}
}

// readStat reads a stat file, which the kernel writes whole in its first
// read (one seq_file record, a few hundred bytes): no second read for the
// end of the file, which a scan would pay once per process.
func (fs *FS) readStat(path string) ([]byte, error) { return fs.read(path, readOnce) }

func (fs *FS) read(path string, readAll func(fd int, buf []byte) (int, error)) ([]byte, error) {
	f, err := fs.open(path, unix.O_RDONLY)
	if err != nil {
		return nil, err
	}
	n, rerr := readAll(f.fd, fs.buf)
	if err := fs.close(f); err != nil && rerr == nil {
		rerr = err
	}
	return fs.buf[:n], rerr
}

func readOnce(fd int, buf []byte) (int, error) {
	for {
		n, err := unix.Read(fd, buf)
		if !errors.Is(err, unix.EINTR) {
			return max(n, 0), err
		}
	}
}

func readFull(fd int, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := unix.Read(fd, buf[n:])
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return n, err
		}
		if m == 0 {
			break
		}
		n += m
	}
	return n, nil
}

// pidPath returns Root/PID/name in fs.path, without allocating.
func (fs *FS) pidPath(pid int, name string) string {
	fs.path = append(fs.path[:0], Root+"/"...)
	fs.path = strconv.AppendInt(fs.path, int64(pid), 10)
	fs.path = append(fs.path, '/')
	fs.path = append(fs.path, name...)
	return string(fs.path)
}

// Stat reads /proc/PID/stat. A process that is gone yields an error
// wrapping unix.ENOENT or unix.ESRCH.
func (fs *FS) Stat(pid int) (Stat, error) {
	b, err := fs.readStat(fs.pidPath(pid, "stat"))
	if err != nil {
		return Stat{}, err
	}
	return ParseStat(b)
}

// Cmdline returns the command line of pid with spaces between arguments,
// cut at 4096 bytes; "" for a kernel thread, a zombie or a process gone.
// The bytes are the process's own: quote them before showing them.
func (fs *FS) Cmdline(pid int) string {
	b, err := fs.ReadFile(fs.pidPath(pid, "cmdline"))
	if err != nil {
		return ""
	}
	return string(bytes.TrimRight(bytes.ReplaceAll(b, []byte{0}, []byte{' '}), " "))
}

// Names lists the entries of a directory, "." and ".." aside.
func (fs *FS) Names(dir string) ([]string, error) {
	var out []string
	err := fs.eachName(dir, func(name []byte) { out = append(out, string(name)) })
	return out, err
}

// Numbers lists the numeric entries of a /proc directory: of /proc itself,
// every process (thread group) of the pid namespace procfs was mounted
// for; of /proc/PID/fd, the open descriptors; of /proc/PID/task, threads.
func (fs *FS) Numbers(dir string) ([]int, error) {
	var out []int
	err := fs.eachName(dir, func(name []byte) {
		if n, ok := atoi(name); ok {
			out = append(out, n)
		}
	})
	return out, err
}

// eachName calls fn with each entry of dir as the kernel lists it, batch
// by batch: fn may read files meanwhile, and entries created during the
// listing past its position are still seen (in /proc, processes are listed
// in pid order, so a child forked with a higher pid meanwhile shows up).
func (fs *FS) eachName(dir string, fn func(name []byte)) error {
	return fs.eachBatch(dir, func(b []byte) {
		for len(b) > 0 {
			var name []byte
			name, b = nextDirent(b)
			if name != nil {
				fn(name)
			}
		}
	})
}

// eachBatch calls fn with each batch of directory entries getdents(2)
// returns for dir (see eachName).
func (fs *FS) eachBatch(dir string, fn func(batch []byte)) error {
	f, err := fs.open(dir, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return err
	}
	defer fs.close(f)
	for {
		n, err := unix.ReadDirent(f.fd, fs.dir)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", dir, err)
		}
		if n == 0 {
			return nil
		}
		fn(fs.dir[:n])
	}
}

// nextDirent cuts the first linux_dirent64 off b and returns its name
// (nil for "." and ".." or a malformed record) and the rest.
func nextDirent(b []byte) (name, rest []byte) {
	const nameOff = 19 // d_ino 8, d_off 8, d_reclen 2, d_type 1
	if len(b) < nameOff {
		return nil, nil
	}
	reclen := int(b[16]) | int(b[17])<<8
	if reclen < nameOff || reclen > len(b) {
		return nil, nil
	}
	name = b[nameOff:reclen]
	if i := bytes.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	if string(name) == "." || string(name) == ".." {
		name = nil
	}
	return name, b[reclen:]
}

func atoi(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 10 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// Scan calls fn with the stat of every process of the namespace, each read
// the moment the listing reaches it (see eachName). Processes that vanish
// while being read, or whose stat cannot be parsed, are skipped. The Comm of what fn gets is empty: Scan
// reads no name, so that a host of thousands of processes costs no
// allocation per process; Stat(pid) has it.
func (fs *FS) Scan(fn func(Stat)) error {
	return fs.eachName(Root, func(name []byte) {
		pid, ok := atoi(name)
		if !ok {
			return
		}
		b, err := fs.readStat(fs.pidPath(pid, "stat"))
		if err != nil {
			return // exited meanwhile
		}
		if st, err := parseStat(b, false); err == nil {
			fn(st)
		}
	})
}

// Parents calls fn with the pid and the parent's pid of every process of
// the namespace, in the listing's order, the parents of each batch of the
// listing read just before fn gets that batch (see eachName and
// parentsOf): a parent may have exited by the time fn sees its child. A
// process gone meanwhile is skipped. Where the kernel tells a
// process's parent through a pidfd (PIDFD_GET_INFO, Linux 6.13) and /proc
// shows the caller's own pid namespace (pidfd_open takes the caller's
// pids), that is asked instead of the stat file, which costs the kernel a
// whole line of text: measured here, 4 µs a process against 7 to 9.5.
// Elsewhere it reads the stat files as Scan does.
func (fs *FS) Parents(fn func(pid, ppid int)) error {
	if fs.pidfdInfo == 0 {
		fs.pidfdInfo = -1
		if fs.Ours(unix.Getpid()) && fs.parentByPidfd(unix.Getpid()) == unix.Getppid() {
			fs.pidfdInfo = 1
		}
	}
	if fs.pidfdInfo < 0 {
		return fs.Scan(func(st Stat) { fn(st.Pid, st.PPid) })
	}
	var pids, ppids []int
	return fs.eachBatch(Root, func(b []byte) {
		pids = pids[:0]
		for len(b) > 0 {
			var name []byte
			name, b = nextDirent(b)
			if pid, ok := atoi(name); ok {
				pids = append(pids, pid)
			}
		}
		ppids = slices.Grow(ppids[:0], len(pids))[:len(pids)]
		fs.parentsOf(pids, ppids)
		for i, pid := range pids {
			if ppids[i] >= 0 {
				fn(pid, ppids[i])
			}
		}
	})
}

// parentsOf sets ppids[i] to the parent of pids[i] (-1 when gone), the
// batch shared among up to parentWorkers goroutines: the kernel's work
// per pidfd runs on as many processors, and on a host of ten thousand
// processes a pass takes about 35 ms on two instead of 55 on one (measured
// here). Each goroutine only opens, asks and closes pidfds through the
// registry, which is safe for that.
func (fs *FS) parentsOf(pids, ppids []int) {
	workers := min(runtime.GOMAXPROCS(0), parentWorkers, len(pids)/minParentShare)
	if workers < 2 {
		for i, pid := range pids {
			ppids[i] = fs.parentByPidfd(pid)
		}
		return
	}
	share := func(w int) {
		for i := w; i < len(pids); i += workers {
			ppids[i] = fs.parentByPidfd(pids[i])
		}
	}
	var wg sync.WaitGroup
	for w := 1; w < workers; w++ {
		wg.Go(func() { share(w) })
	}
	share(0)
	wg.Wait()
}

// parentWorkers bounds the goroutines of a pass; minParentShare is the
// fewest processes worth one more goroutine.
const (
	parentWorkers  = 4
	minParentShare = 32
)

// parentByPidfd returns pid's parent as its pidfd tells, -1 when pid is
// gone or the kernel cannot say.
func (fs *FS) parentByPidfd(pid int) int {
	var fd int
	var tok fdtrack.Token
	var err error
	if fs.fds != nil {
		if tok, err = fs.fds.PidfdOpen(pid); err == nil {
			defer fs.fds.Close(tok)
			fd, err = fs.fds.Fd(tok)
		}
	} else if fd, err = unix.PidfdOpen(pid, 0); err == nil {
		defer unix.Close(fd)
	}
	if err != nil {
		return -1
	}
	info := unix.PidfdInfo{Mask: unix.PIDFD_INFO_PID}
	if unix.IoctlPidfdInfo(fd, &info) != nil || info.Mask&unix.PIDFD_INFO_PID == 0 {
		return -1
	}
	return int(info.Ppid)
}

// StatusField returns the value of the field key ("Threads", "SigCgt",
// "NSpid") of /proc/PID/status, spaces trimmed.
func (fs *FS) StatusField(pid int, key string) (string, error) {
	b, err := fs.ReadFile(fs.pidPath(pid, "status"))
	if err != nil {
		return "", err
	}
	for line := range bytes.SplitSeq(b, []byte{'\n'}) {
		if v, ok := bytes.CutPrefix(line, []byte(key+":")); ok {
			return string(bytes.TrimSpace(v)), nil
		}
	}
	return "", fmt.Errorf("%w: no %s in the status of %d", ErrMalformed, key, pid)
}

// SignalMask returns a signal set field of /proc/PID/status ("SigPnd",
// "ShdPnd", "SigBlk", "SigIgn", "SigCgt"), bit n-1 for signal n.
func (fs *FS) SignalMask(pid int, key string) (uint64, error) {
	v, err := fs.StatusField(pid, key)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(v, 16, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %s %q", ErrMalformed, key, v)
	}
	return n, nil
}

// StatusKiB returns a size field of /proc/PID/status ("VmRSS", "VmHWM",
// "RssAnon"), which the kernel writes in kB (KiB).
func (fs *FS) StatusKiB(pid int, key string) (int64, error) {
	v, err := fs.StatusField(pid, key)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(v, "kB")), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %s %q", ErrMalformed, key, v)
	}
	return n, nil
}

// Cgroup2 returns the path of pid's cgroup v2 group, relative to the
// hierarchy's root as pid's cgroup namespace shows it.
func (fs *FS) Cgroup2(pid int) (string, error) {
	b, err := fs.ReadFile(fs.pidPath(pid, "cgroup"))
	if err != nil {
		return "", err
	}
	for line := range bytes.SplitSeq(b, []byte{'\n'}) {
		if rel, ok := bytes.CutPrefix(line, []byte("0::")); ok {
			return string(rel), nil
		}
	}
	return "", fmt.Errorf("%w: no cgroup v2 line for %d", ErrMalformed, pid)
}

// Environ returns pid's environment as its process started (or changed
// it in place), whole. Reading it needs the rights ptrace would: the same
// user and a dumpable process, or CAP_SYS_PTRACE. The strings are the
// process's own: quote them before showing them.
func (fs *FS) Environ(pid int) ([]string, error) {
	path := fs.pidPath(pid, "environ")
	f, err := fs.open(path, unix.O_RDONLY)
	if err != nil {
		return nil, err
	}
	all, err := readGrowing(f.fd, fs.buf[:0])
	fs.close(f)
	if err != nil {
		return nil, fmt.Errorf("read environ of %d: %w", pid, err)
	}
	var out []string
	for kv := range bytes.SplitSeq(all, []byte{0}) {
		if len(kv) > 0 {
			out = append(out, string(kv))
		}
	}
	return out, nil
}

// Children lists the children of pid, from the children file of each of
// its threads (a child belongs to the thread that forked it, or to which
// it was reparented). Unlike a scan of /proc it costs a few reads, not one
// per process of the machine, and it shows a child the moment it is
// reparented; but a child that moves meanwhile may be missed, so it
// complements a scan rather than replacing it. Pids may repeat.
func (fs *FS) Children(pid int) ([]int, error) {
	tasks, err := fs.Numbers(fs.pidPath(pid, "task"))
	if err != nil {
		return nil, err
	}
	var out []int
	for _, tid := range tasks {
		fs.path = append(fs.path[:0], Root+"/"...)
		fs.path = strconv.AppendInt(fs.path, int64(pid), 10)
		fs.path = append(fs.path, "/task/"...)
		fs.path = strconv.AppendInt(fs.path, int64(tid), 10)
		fs.path = append(fs.path, "/children"...)
		b, err := fs.ReadWhole(string(fs.path))
		if err != nil {
			continue // the thread ended
		}
		for f := range bytes.FieldsSeq(b) {
			if n, ok := atoi(f); ok {
				out = append(out, n)
			}
		}
	}
	return out, nil
}

// Descendants lists every process below root, parents before their
// children, zombies included (see Stat.Live).
//
// The tree comes from one pass of Parents; only the processes below root
// have their stat read, so a host of thousands of other processes costs a
// pidfd's answer each (see Parents).
func (fs *FS) Descendants(root int) ([]Stat, error) {
	children := map[int][]int{}
	err := fs.Parents(func(pid, ppid int) {
		if pid != root {
			children[ppid] = append(children[ppid], pid)
		}
	})
	if err != nil {
		return nil, err
	}
	below := map[int]bool{root: true}
	moved := map[int][]int{} // by a parent not reached yet: reparented to it since the listing
	var out []Stat
	queue := []int{root}
	for len(queue) > 0 {
		parent := queue[0]
		queue = queue[1:]
		for _, pid := range children[parent] {
			if below[pid] {
				continue
			}
			st, err := fs.Stat(pid)
			switch {
			case err != nil:
				// Gone since the listing: the children listed under it
				// have been reparented, and each is judged by its parent
				// now.
				queue = append(queue, pid)
				continue
			case !below[st.PPid]:
				// Reparented to a subreaper below root not reached yet,
				// or its pid taken by a process that is not below root.
				moved[st.PPid] = append(moved[st.PPid], pid)
				continue
			}
			below[pid] = true
			out = append(out, st)
			queue = append(queue, pid)
			children[pid] = append(children[pid], moved[pid]...)
			delete(moved, pid)
		}
	}
	return out, nil
}

// Ours reports whether procfs shows the pid namespace of the calling
// process, whose pid is self: after `unshare --pid --fork` without a fresh
// /proc mount it shows the parent namespace, where pids name other
// processes.
func (fs *FS) Ours(self int) bool {
	b, err := fs.ReadFile(Root + "/self/stat")
	if err != nil {
		return false
	}
	st, err := ParseStat(b)
	return err == nil && st.Pid == self
}
