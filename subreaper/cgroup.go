package subreaper

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tinit-dev/tinit/fdtrack"
	"golang.org/x/sys/unix"
)

// cgroupMounts are where a cgroup v2 hierarchy is found: the unified
// layout, and the hybrid one (v1 controllers, v2 under unified/).
var cgroupMounts = []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"}

// errNoCgroup means no writable cgroup v2 directory is available; tinit
// then kills leftovers by walking /proc alone.
var errNoCgroup = errors.New("no cgroup v2 hierarchy")

// runCgroup is a cgroup v2 directory made for one run, below tinit's own
// cgroup. The main child is cloned straight into it (CLONE_INTO_CGROUP),
// so everything it starts is inside from its first instruction, and
// cgroup.kill ends all of it at once, forks in flight included. tinit
// itself stays outside.
type runCgroup struct {
	dir  string
	fds  *fdtrack.Registry
	proc *procfs
}

// newRunCgroup creates the run's cgroup and returns it with an open
// descriptor of its directory for clone3. It fails where cgroup v2 is not
// mounted, tinit's cgroup is not writable, or the kernel lacks cgroup.kill
// (before Linux 5.14).
func newRunCgroup(fds *fdtrack.Registry, proc *procfs) (*runCgroup, fdtrack.Token, error) {
	parent, err := ownCgroupDir(proc)
	if err != nil {
		return nil, fdtrack.Token{}, err
	}
	c := &runCgroup{dir: parent + "/tinit-" + strconv.Itoa(unix.Getpid()), fds: fds, proc: proc}
	err = unix.Mkdir(c.dir, 0o755)
	if errors.Is(err, unix.EEXIST) {
		// Left by an earlier tinit with the same pid that was killed: it
		// is empty if nothing lives in it, and rmdir fails otherwise.
		if err = unix.Rmdir(c.dir); err == nil {
			err = unix.Mkdir(c.dir, 0o755)
		}
	}
	if err != nil {
		return nil, fdtrack.Token{}, fmt.Errorf("mkdir %s: %w", c.dir, err)
	}
	if err := unix.Access(c.dir+"/cgroup.kill", unix.F_OK); err != nil {
		c.remove()
		return nil, fdtrack.Token{}, fmt.Errorf("%s has no cgroup.kill: %w", c.dir, err)
	}
	tok, err := fds.Open(c.dir, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		c.remove()
		return nil, fdtrack.Token{}, fmt.Errorf("open %s: %w", c.dir, err)
	}
	return c, tok, nil
}

// ownCgroupDir finds the directory of tinit's own cgroup v2 group.
func ownCgroupDir(proc *procfs) (string, error) {
	b, err := proc.readFile(procRoot + "/self/cgroup")
	if err != nil {
		return "", fmt.Errorf("read /proc/self/cgroup: %w", err)
	}
	rel, ok := "", false
	for _, line := range bytes.Split(b, []byte{'\n'}) {
		if r, found := bytes.CutPrefix(line, []byte("0::")); found {
			rel, ok = string(r), true
		}
	}
	// "/.." means tinit sits outside its cgroup namespace's root.
	if !ok || !strings.HasPrefix(rel, "/") || strings.HasPrefix(rel, "/..") {
		return "", errNoCgroup
	}
	for _, m := range cgroupMounts {
		var st unix.Statfs_t
		if unix.Statfs(m, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
			return strings.TrimSuffix(m+rel, "/"), nil
		}
	}
	return "", errNoCgroup
}

// kill sends SIGKILL to every process in the cgroup, atomically with
// respect to forks.
func (c *runCgroup) kill() error {
	tok, err := c.fds.Open(c.dir+"/cgroup.kill", unix.O_WRONLY)
	if err != nil {
		return err
	}
	defer c.fds.Close(tok)
	fd, err := c.fds.Fd(tok)
	if err != nil {
		return err
	}
	_, err = unix.Write(fd, []byte("1"))
	return err
}

// remove deletes the cgroup once it is empty, with any cgroups the run
// made below it. The kernel may report a cgroup busy for a moment after
// its last process was reaped, so remove retries briefly.
func (c *runCgroup) remove() error {
	var err error
	for i := 0; i < 50; i++ {
		if err = c.removeTree(c.dir, 0); err == nil || !errors.Is(err, unix.EBUSY) {
			return err
		}
		time.Sleep(2 * time.Millisecond)
	}
	return err
}

// maxCgroupDepth bounds the cgroups below the run's that remove descends.
const maxCgroupDepth = 32

// removeTree removes dir after the cgroups below it. The interface files in
// a cgroup directory cannot be removed and need not be: rmdir of a cgroup
// takes them with it, and rmdir of a file fails with ENOTDIR.
func (c *runCgroup) removeTree(dir string, depth int) error {
	err := unix.Rmdir(dir)
	if !errors.Is(err, unix.EBUSY) || depth >= maxCgroupDepth {
		return err
	}
	names, lerr := c.proc.names(dir)
	if lerr != nil {
		return err
	}
	for _, name := range names {
		c.removeTree(dir+"/"+name, depth+1) // a file fails with ENOTDIR
	}
	return unix.Rmdir(dir)
}

// cgroupTree is the subreaper's killer when the run has its own cgroup:
// SIGKILL goes through cgroup.kill first, and the /proc walk follows for
// anything that moved itself out of the cgroup.
type cgroupTree struct {
	cg   *runCgroup
	tree *tree
}

func (k cgroupTree) signal(sigs ...unix.Signal) ([]proc, error) {
	var err error
	if slices.Contains(sigs, unix.SIGKILL) {
		err = k.cg.kill()
	}
	reached, werr := k.tree.signal(sigs...)
	return reached, errors.Join(err, werr)
}
