package subreaper

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"

	"github.com/tinit-dev/tinit/fdtrack"
	"golang.org/x/sys/unix"
)

// procRoot is where procfs is mounted. Every handle on it is opened through
// the fd registry.
const procRoot = "/proc"

// errNoStat means a /proc/PID/stat line could not be parsed.
var errNoStat = errors.New("malformed /proc stat line")

// proc is one process as /proc/PID/stat describes it.
type proc struct {
	pid   int
	ppid  int
	state byte   // R, S, D, Z, T, ...
	start uint64 // start time in clock ticks after boot; with pid, names one process
	comm  string
}

// procfs reads /proc through the fd registry with one reusable buffer. It
// belongs to the supervisor's goroutine.
type procfs struct {
	fds *fdtrack.Registry
	buf []byte
}

func newProcfs(fds *fdtrack.Registry) *procfs {
	return &procfs{fds: fds, buf: make([]byte, 4096)}
}

// readFile returns the first len(p.buf) bytes of path; the slice is valid
// until the next call.
func (p *procfs) readFile(path string) ([]byte, error) {
	tok, err := p.fds.Open(path, unix.O_RDONLY)
	if err != nil {
		return nil, err
	}
	fd, err := p.fds.Fd(tok)
	if err != nil {
		return nil, err
	}
	n, rerr := readFull(fd, p.buf)
	if err := p.fds.Close(tok); err != nil && rerr == nil {
		rerr = err
	}
	return p.buf[:n], rerr
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

// stat reads /proc/PID/stat. A process that is gone yields unix.ENOENT or
// unix.ESRCH.
func (p *procfs) stat(pid int) (proc, error) {
	b, err := p.readFile(procRoot + "/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return proc{}, err
	}
	return parseStat(b)
}

// parseStat parses one /proc/PID/stat line. The command name is in
// parentheses and may itself contain spaces and parentheses, so fields are
// counted from the last ')'.
func parseStat(b []byte) (proc, error) {
	open := bytes.IndexByte(b, '(')
	close := bytes.LastIndexByte(b, ')')
	if open < 1 || close < open {
		return proc{}, errNoStat
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b[:open])))
	if err != nil {
		return proc{}, fmt.Errorf("%w: pid: %v", errNoStat, err)
	}
	pr := proc{pid: pid, comm: string(b[open+1 : close])}
	// Fields after the name, from field 3 (state) on: state is rest[0],
	// ppid rest[1], starttime (field 22) rest[19].
	rest := bytes.Fields(b[close+1:])
	if len(rest) < 20 || len(rest[0]) != 1 {
		return proc{}, errNoStat
	}
	pr.state = rest[0][0]
	if pr.ppid, err = strconv.Atoi(string(rest[1])); err != nil {
		return proc{}, fmt.Errorf("%w: ppid: %v", errNoStat, err)
	}
	if pr.start, err = strconv.ParseUint(string(rest[19]), 10, 64); err != nil {
		return proc{}, fmt.Errorf("%w: starttime: %v", errNoStat, err)
	}
	return pr, nil
}

// cmdline returns the command line of pid with spaces between arguments,
// cut at the buffer's length; "" for a kernel thread or a process gone.
func (p *procfs) cmdline(pid int) string {
	b, err := p.readFile(procRoot + "/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return ""
	}
	return string(bytes.TrimRight(bytes.ReplaceAll(b, []byte{0}, []byte{' '}), " "))
}

// numbers lists the numeric entries of a /proc directory: of /proc itself,
// every process (thread group) of the pid namespace procfs was mounted for;
// of /proc/self/fd, tinit's open descriptors.
func (p *procfs) numbers(dir string) ([]int, error) {
	names, err := p.names(dir)
	if err != nil {
		return nil, err
	}
	var out []int
	for _, name := range names {
		if n, err := strconv.Atoi(name); err == nil && n >= 0 {
			out = append(out, n)
		}
	}
	return out, nil
}

// names lists the entries of a directory, "." and ".." aside.
func (p *procfs) names(dir string) ([]string, error) {
	tok, err := p.fds.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return nil, err
	}
	defer p.fds.Close(tok)
	fd, err := p.fds.Fd(tok)
	if err != nil {
		return nil, err
	}
	var out []string
	for {
		n, err := unix.ReadDirent(fd, p.buf)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", dir, err)
		}
		if n == 0 {
			return out, nil
		}
		_, _, out = unix.ParseDirent(p.buf[:n], -1, out)
	}
}

// descendants lists every live process below root, parents before their
// children. Processes that vanish while being read are skipped.
func (p *procfs) descendants(root int) ([]proc, error) {
	pids, err := p.numbers(procRoot)
	if err != nil {
		return nil, err
	}
	children := make(map[int][]proc, len(pids))
	for _, pid := range pids {
		if pid == root {
			continue
		}
		pr, err := p.stat(pid)
		if err != nil {
			continue // exited meanwhile
		}
		children[pr.ppid] = append(children[pr.ppid], pr)
	}
	var out []proc
	queue := []int{root}
	for len(queue) > 0 {
		parent := queue[0]
		queue = queue[1:]
		for _, c := range children[parent] {
			out = append(out, c)
			queue = append(queue, c.pid)
		}
	}
	return out, nil
}

// ours reports whether procfs shows the pid namespace tinit lives in: after
// `unshare --pid --fork` without a fresh /proc mount it shows the parent
// namespace, and pids read there name other processes.
func (p *procfs) ours() bool {
	b, err := p.readFile(procRoot + "/self/stat")
	if err != nil {
		return false
	}
	self, err := parseStat(b)
	return err == nil && self.pid == unix.Getpid()
}
