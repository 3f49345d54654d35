package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// procStat is what the harness needs from /proc/PID/stat.
type procStat struct {
	state byte // R, S, D, Z, ...
	ppid  int
}

var errBadStat = errors.New("malformed /proc/PID/stat")

// parseStat reads state and ppid from a /proc/PID/stat line. The command
// name may contain spaces and parentheses, so fields are counted from the
// last ')'.
func parseStat(b []byte) (procStat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || len(b) < i+4 {
		return procStat{}, errBadStat
	}
	rest := b[i+2:] // "S 123 ..."
	j := bytes.IndexByte(rest[2:], ' ')
	if j < 0 {
		return procStat{}, errBadStat
	}
	ppid, err := strconv.Atoi(string(rest[2 : 2+j]))
	if err != nil {
		return procStat{}, fmt.Errorf("%w: ppid: %w", errBadStat, err)
	}
	return procStat{state: rest[0], ppid: ppid}, nil
}

// statReader reads /proc/PID/stat files with one reusable buffer and no
// allocation per file: the storm's sampler reads hundreds per millisecond
// and must disturb the measured init as little as possible.
type statReader struct {
	buf  [512]byte
	path []byte
}

func (r *statReader) read(pid int) (procStat, error) {
	r.path = append(r.path[:0], "/proc/"...)
	r.path = strconv.AppendInt(r.path, int64(pid), 10)
	r.path = append(r.path, "/stat"...)
	fd, err := unix.Open(string(r.path), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return procStat{}, err
	}
	n, err := unix.Read(fd, r.buf[:])
	unix.Close(fd)
	if err != nil {
		return procStat{}, err
	}
	return parseStat(r.buf[:n])
}

// listPids returns the pids /proc shows: those of the reader's pid
// namespace (the one /proc was mounted for).
func listPids() ([]int, error) {
	d, err := os.Open("/proc")
	if err != nil {
		return nil, fmt.Errorf("list /proc: %w", err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("list /proc: %w", err)
	}
	pids := make([]int, 0, len(names))
	for _, n := range names {
		if pid, err := strconv.Atoi(n); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// cmdlineHas reports whether process pid's argv contains marker as a
// whole argument. A zombie's cmdline is empty, so only live processes match.
func cmdlineHas(pid int, marker string) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return false
	}
	for arg := range bytes.SplitSeq(b, []byte{0}) {
		if string(arg) == marker {
			return true
		}
	}
	return false
}

// findMarked lists live processes other than the caller whose argv carries
// marker.
func findMarked(marker string) ([]int, error) {
	pids, err := listPids()
	if err != nil {
		return nil, err
	}
	self := os.Getpid()
	var found []int
	for _, pid := range pids {
		if pid != self && cmdlineHas(pid, marker) {
			found = append(found, pid)
		}
	}
	return found, nil
}

// statusKiB reads a "Name:   1234 kB" field of /proc/PID/status.
func statusKiB(pid int, field string) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, fmt.Errorf("read status of %d: %w", pid, err)
	}
	return parseStatusKiB(b, field)
}

// parseStatusKiB finds field in the text of /proc/PID/status.
func parseStatusKiB(b []byte, field string) (int64, error) {
	for line := range bytes.SplitSeq(b, []byte{'\n'}) {
		name, value, ok := bytes.Cut(line, []byte{':'})
		if !ok || string(name) != field {
			continue
		}
		num := bytes.TrimSuffix(bytes.TrimSpace(value), []byte(" kB"))
		return strconv.ParseInt(string(bytes.TrimSpace(num)), 10, 64)
	}
	return 0, fmt.Errorf("no %s in /proc/PID/status", field)
}

// cloexecFrom marks every open descriptor >= min close-on-exec, so that
// nothing the process inherited by accident (a CI runner's pipe, say)
// leaks into the processes it starts: a pipe held by a leftover sleeper
// would keep whoever reads it waiting.
func cloexecFrom(min int) error {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return fmt.Errorf("list own descriptors: %w", err)
	}
	for _, e := range ents {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd >= min {
			unix.CloseOnExec(fd)
		}
	}
	return nil
}
