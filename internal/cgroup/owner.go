package cgroup

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/tinit-dev/tinit/fdtrack"
	"github.com/tinit-dev/tinit/internal/procfs"
	"golang.org/x/sys/unix"
)

// Owner identifies the tinit that made a run's group, in the group's name:
//
//	tinit-PIDNS-PID-START-RANDOM
//
// PIDNS is the inode of its pid namespace, PID its pid there, START its
// start time in clock ticks after boot, RANDOM eight hex digits. A tinit
// killed by SIGKILL cannot remove its group; a later run in the same pid
// namespace proves it dead when PID no longer names a process started at
// START, and removes the group if it is empty. The namespace makes names
// unique across containers (tinit is pid 2 in many at once), the random
// part across everything else.
type Owner struct {
	PidNS uint64
	Pid   int
	Start uint64
}

// Self returns the calling process's Owner, also where /proc shows another
// pid namespace (its own pid comes from getpid, its start time and
// namespace from /proc/self, which is the caller whatever its number).
func Self(proc *procfs.FS) (Owner, error) {
	var st unix.Stat_t
	if err := unix.Stat(procfs.Root+"/self/ns/pid", &st); err != nil {
		return Owner{}, fmt.Errorf("stat /proc/self/ns/pid: %w", err)
	}
	b, err := proc.ReadFile(procfs.Root + "/self/stat")
	if err != nil {
		return Owner{}, err
	}
	self, err := procfs.ParseStat(b)
	if err != nil {
		return Owner{}, err
	}
	return Owner{PidNS: st.Ino, Pid: unix.Getpid(), Start: self.Start}, nil
}

func (o Owner) name(random string) string {
	return fmt.Sprintf("%s%d-%d-%d-%s", namePrefix, o.PidNS, o.Pid, o.Start, random)
}

// parseName reads the Owner from a group's name.
func parseName(name string) (Owner, bool) {
	rest, ok := strings.CutPrefix(name, namePrefix)
	f := strings.Split(rest, "-")
	if !ok || len(f) != 4 || len(f[3]) != 8 {
		return Owner{}, false
	}
	ns, err1 := strconv.ParseUint(f[0], 10, 64)
	pid, err2 := strconv.Atoi(f[1])
	start, err3 := strconv.ParseUint(f[2], 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil || pid <= 0 {
		return Owner{}, false
	}
	return Owner{PidNS: ns, Pid: pid, Start: start}, true
}

// dead reports whether o is proven gone: it lived in self's pid namespace
// and its pid no longer names a process started when it was.
func (o Owner) dead(self Owner, proc *procfs.FS) bool {
	if o.PidNS != self.PidNS || o == self {
		return false
	}
	st, err := proc.Stat(o.Pid)
	if err != nil {
		return errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH)
	}
	return st.Start != o.Start
}

// MadeByDead reports whether name is a group this package made for a run
// whose tinit is proven dead (see Owner).
func MadeByDead(name string, self Owner, proc *procfs.FS) bool {
	o, ok := parseName(name)
	return ok && o.dead(self, proc)
}

// CleanStale removes, below the run's parent group, at most max groups
// whose makers are proven dead (see Owner), with the groups below them. A
// group that still holds a process is left alone (rmdir fails). It
// returns the names removed; errors are those of groups it tried.
func (r *Run) CleanStale(proc *procfs.FS, max int) ([]string, error) {
	pfd, err := r.fds.Fd(r.parent)
	if err != nil {
		return nil, err
	}
	names, err := subdirs(pfd)
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, name := range names {
		if len(removed) == max {
			break
		}
		if name == r.name || !MadeByDead(name, r.owner, proc) {
			continue
		}
		if err := removeGroup(r.fds, r.parent, name); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, name)
	}
	return removed, errors.Join(errs...)
}

// removeGroup removes the group name below parent and the groups below it.
func removeGroup(fds *fdtrack.Registry, parent fdtrack.Token, name string) error {
	dir, err := fds.OpenAt(parent, name, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return err
	}
	err = removeBelow(fds, dir, 0)
	fds.Close(dir)
	if err != nil {
		return err
	}
	pfd, err := fds.Fd(parent)
	if err != nil {
		return err
	}
	return unlinkDir(pfd, name)
}
