// Package cgroup gives a run a cgroup v2 group of its own, below the
// caller's: it creates the directory, hands out its descriptor for
// clone3(CLONE_INTO_CGROUP), lists and kills what is inside, removes the
// directory at the end, and removes the directories of earlier runs whose
// tinit was killed before it could.
//
// Every file of a run's group is opened relative to the directory
// descriptor held since its creation, never by path after the fact, and a
// directory this package did not create is never removed unless its name
// proves its maker dead (see Owner).
//
// It does not decide when to kill, and it does not signal processes one by
// one: the supervisor does both. It is not safe for concurrent use.
package cgroup

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/tinit-dev/tinit/fdtrack"
	"github.com/tinit-dev/tinit/internal/procfs"
	"golang.org/x/sys/unix"
)

// mounts are where a cgroup v2 hierarchy is found: the unified layout, and
// the hybrid one (v1 controllers, v2 under unified/).
var mounts = []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"}

// ErrUnavailable means no cgroup v2 hierarchy shows the caller's group.
var ErrUnavailable = errors.New("no cgroup v2 hierarchy")

// Parent returns the directory of the calling process's own cgroup v2
// group, where runs make theirs.
func Parent(proc *procfs.FS) (string, error) {
	b, err := proc.ReadFile(procfs.Root + "/self/cgroup")
	if err != nil {
		return "", fmt.Errorf("read /proc/self/cgroup: %w", err)
	}
	rel, ok := "", false
	for _, line := range bytes.Split(b, []byte{'\n'}) {
		if r, found := bytes.CutPrefix(line, []byte("0::")); found {
			rel, ok = string(r), true
		}
	}
	// "/.." means the caller sits outside its cgroup namespace's root.
	if !ok || !strings.HasPrefix(rel, "/") || strings.HasPrefix(rel, "/..") {
		return "", ErrUnavailable
	}
	for _, m := range mounts {
		var st unix.Statfs_t
		if unix.Statfs(m, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
			return strings.TrimSuffix(m+rel, "/"), nil
		}
	}
	return "", ErrUnavailable
}

// Run is the cgroup v2 group of one run. The zero Run is not usable; call
// Create.
type Run struct {
	fds    *fdtrack.Registry
	parent fdtrack.Token // the caller's own group
	dir    fdtrack.Token // the run's group
	name   string
	path   string
	id     uint64
	owner  Owner // who made it
}

// namePrefix starts the name of every group this package makes.
const namePrefix = "tinit-"

// Create makes the run's group below parent, named for owner. It fails
// where the directory is not writable or the kernel lacks cgroup.kill
// (before Linux 5.14).
func Create(fds *fdtrack.Registry, parent string, owner Owner) (*Run, error) {
	ptok, err := fds.Open(parent, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return nil, err
	}
	r := &Run{fds: fds, parent: ptok, owner: owner}
	if err := r.make(owner); err != nil {
		fds.Close(ptok)
		return nil, err
	}
	r.path = parent + "/" + r.name
	return r, nil
}

// make creates the directory under a name no other run can hold: the
// owner's identity plus random bytes. A name taken already (EEXIST) is
// somebody else's: another name is tried, the taken one left alone.
func (r *Run) make(owner Owner) error {
	pfd, err := r.fds.Fd(r.parent)
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		// The runtime's generator, seeded by the kernel at exec, costs no
		// system call (getrandom(2) took 40 µs here, measured).
		r.name = owner.name(fmt.Sprintf("%08x", rand.Uint32()))
		err = unix.Mkdirat(pfd, r.name, 0o755)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EEXIST) || attempt == 3 {
			return fmt.Errorf("mkdir %s: %w", r.name, err)
		}
	}
	if r.dir, err = r.fds.OpenAt(r.parent, r.name, unix.O_RDONLY|unix.O_DIRECTORY); err != nil {
		unix.Unlinkat(pfd, r.name, unix.AT_REMOVEDIR)
		return err
	}
	dfd, _ := r.fds.Fd(r.dir)
	var st unix.Stat_t
	err = unix.Faccessat(dfd, "cgroup.kill", unix.F_OK, 0)
	if err == nil {
		err = unix.Fstat(dfd, &st)
	}
	if err != nil {
		r.fds.Close(r.dir)
		unix.Unlinkat(pfd, r.name, unix.AT_REMOVEDIR)
		return fmt.Errorf("%s has no cgroup.kill: %w", r.name, err)
	}
	r.id = st.Ino // a cgroup v2 group's id is its directory's inode
	return nil
}

// Path is the group's directory, for logs.
func (r *Run) Path() string { return r.path }

// ID is the group's cgroup id, as PIDFD_GET_INFO reports it of a member.
func (r *Run) ID() uint64 { return r.id }

// Fd returns the group's directory descriptor, for clone3, valid until
// Remove.
func (r *Run) Fd() (int, error) { return r.fds.Fd(r.dir) }

// Kill sends SIGKILL to every process in the group, atomically with respect
// to forks (cgroup.kill). A process whose thread-group leader has exited
// while its other threads run is missed (the kernel signals the dead leader
// alone): Procs lists it, and a signal to its pid ends it.
func (r *Run) Kill() error {
	return r.write("cgroup.kill", "1")
}

// Procs lists the processes in the group, by pid in the caller's pid
// namespace, dead leaders of live threads included.
func (r *Run) Procs() ([]int, error) {
	b, err := r.read("cgroup.procs")
	if err != nil {
		return nil, err
	}
	var out []int
	for f := range bytes.FieldsSeq(b) {
		if n, err := strconv.Atoi(string(f)); err == nil {
			out = append(out, n)
		}
	}
	return out, nil
}

func (r *Run) write(name, value string) error {
	tok, err := r.fds.OpenAt(r.dir, name, unix.O_WRONLY)
	if err != nil {
		return err
	}
	defer r.fds.Close(tok)
	fd, err := r.fds.Fd(tok)
	if err != nil {
		return err
	}
	if _, err := unix.Write(fd, []byte(value)); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

// read returns the whole of one of the group's files.
func (r *Run) read(name string) ([]byte, error) {
	tok, err := r.fds.OpenAt(r.dir, name, unix.O_RDONLY)
	if err != nil {
		return nil, err
	}
	defer r.fds.Close(tok)
	fd, err := r.fds.Fd(tok)
	if err != nil {
		return nil, err
	}
	var out []byte
	buf := make([]byte, 4096)
	for {
		n, err := unix.Read(fd, buf)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		if n == 0 {
			return out, nil
		}
		out = append(out, buf[:n]...)
	}
}

// Remove deletes the group, with the groups the run made below it, once
// they are empty, and releases its descriptors. The kernel may report a
// group busy for a moment after its last process was reaped, so Remove
// retries for up to removeWait; a group still busy then (a process that
// could not be killed) is left, and the error says so.
func (r *Run) Remove() error {
	pfd, err := r.fds.Fd(r.parent)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(removeWait)
	for {
		err = removeBelow(r.fds, r.dir, 0)
		if err == nil {
			err = unlinkDir(pfd, r.name)
		}
		if err == nil || !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	r.fds.Close(r.dir)
	r.fds.Close(r.parent)
	if err != nil {
		return fmt.Errorf("remove %s: %w", r.path, err)
	}
	return nil
}

// removeWait bounds Remove's retries of a busy group.
const removeWait = 100 * time.Millisecond

func unlinkDir(dirfd int, name string) error {
	if err := unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR); err != nil {
		return fmt.Errorf("rmdir %s: %w", name, err)
	}
	return nil
}

// maxDepth bounds how deep removeBelow descends.
const maxDepth = 32

// removeBelow removes every group below the directory dir names, deepest
// first. The interface files in a group cannot be removed and need not
// be: rmdir of a group takes them with it.
func removeBelow(fds *fdtrack.Registry, dir fdtrack.Token, depth int) error {
	dfd, err := fds.Fd(dir)
	if err != nil {
		return err
	}
	subs, err := subdirs(dfd)
	if err != nil || len(subs) == 0 {
		return err
	}
	if depth >= maxDepth {
		return fmt.Errorf("groups nested deeper than %d: %w", maxDepth, unix.EBUSY)
	}
	var errs []error
	for _, name := range subs {
		sub, err := fds.OpenAt(dir, name, unix.O_RDONLY|unix.O_DIRECTORY)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		err = removeBelow(fds, sub, depth+1)
		fds.Close(sub)
		if err == nil {
			err = unlinkDir(dfd, name)
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// subdirs lists the directories in the directory fd names. It reads from
// the start of the directory whatever was read from it before.
func subdirs(fd int) ([]string, error) {
	if _, err := unix.Seek(fd, 0, 0); err != nil {
		return nil, err
	}
	var out []string
	buf := make([]byte, 4096)
	for {
		n, err := unix.ReadDirent(fd, buf)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return out, nil
		}
		for b := buf[:n]; len(b) >= 19; {
			reclen := int(b[16]) | int(b[17])<<8
			if reclen < 19 || reclen > len(b) {
				break
			}
			name := b[19:reclen]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			if b[18] == unix.DT_DIR && string(name) != "." && string(name) != ".." {
				out = append(out, string(name))
			}
			b = b[reclen:]
		}
	}
}
