// Package podman runs podman offline with a configuration, storage and
// state of its own, all in one directory, so that nothing in
// /etc/containers or /var/lib/containers takes part and nothing is left
// behind: images are imported FROM scratch from local files, containers
// run with runc (crun refuses this machine's hybrid cgroups) and without a
// network. The tests of tinit as podman's init and the benchmark's
// container start use it.
//
// It does not decide what to run in a container.
package podman

import (
	"archive/tar"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

//go:embed containers.conf
var containersConf []byte

//go:embed storage.conf
var storageConf []byte

// Podman is podman with its own configuration and storage.
type Podman struct {
	bin     string
	dir     string
	args    []string // global flags
	env     []string
	runroot string
}

// New sets podman up in dir, which the caller removes after Close. It
// fails when podman or runc is missing.
func New(dir string) (*Podman, error) {
	bin, err := exec.LookPath("podman")
	if err != nil {
		return nil, err
	}
	if _, err := exec.LookPath("runc"); err != nil {
		return nil, fmt.Errorf("podman runs containers with runc here (see containers.conf): %w", err)
	}
	conf, storage := filepath.Join(dir, "containers.conf"), filepath.Join(dir, "storage.conf")
	if err := os.WriteFile(conf, containersConf, 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(storage, storageConf, 0o644); err != nil {
		return nil, err
	}
	// podman wants its runroot at most 50 characters long.
	runroot, err := os.MkdirTemp("/tmp", "tinit-pm-")
	if err != nil {
		return nil, err
	}
	return &Podman{
		bin: bin, dir: dir, runroot: runroot,
		args: []string{
			"--root", filepath.Join(dir, "root"),
			"--runroot", runroot,
			"--tmpdir", filepath.Join(dir, "libpod"),
			"--network-config-dir", filepath.Join(dir, "net"),
		},
		env: append(os.Environ(),
			"CONTAINERS_CONF="+conf,
			"CONTAINERS_STORAGE_CONF="+storage,
			"TMPDIR="+dir, // podman import stages images in TMPDIR
		),
	}, nil
}

// Close removes the runroot, which lives outside dir.
func (p *Podman) Close() error { return os.RemoveAll(p.runroot) }

// Command is podman with the global flags and the environment that make
// it this one.
func (p *Podman) Command(args ...string) *exec.Cmd {
	cmd := exec.Command(p.bin, append(append([]string{}, p.args...), args...)...)
	cmd.Env = p.env
	return cmd
}

// Import makes image from executables: name in the image's root to file
// on disk, and nothing else (FROM scratch).
func (p *Podman) Import(image string, files map[string]string) error {
	tarball := filepath.Join(p.dir, "rootfs.tar")
	if err := tarFiles(tarball, files); err != nil {
		return err
	}
	defer os.Remove(tarball)
	if out, err := p.Command("import", tarball, image).CombinedOutput(); err != nil {
		return fmt.Errorf("podman import: %v\n%s", err, out)
	}
	return nil
}

// RunArgs are the arguments of `podman run` for a container called name
// whose cgroups sit below a parent of their own (see RemoveCgroup), with
// init as its --init-path, without a network; the caller adds its own
// flags, the image and the command.
func RunArgs(name, init string) []string {
	return []string{"run", "--rm", "--name", name, "--network", "none",
		"--cgroup-parent", "/" + name, "--init", "--init-path", init}
}

// Remove ends container name whatever its state.
func (p *Podman) Remove(name string) error {
	out, err := p.Command("rm", "--force", "--ignore", "--time", "0", name).CombinedOutput()
	if err != nil {
		return fmt.Errorf("podman rm -f %s: %v: %s", name, err, out)
	}
	return nil
}

// RemoveCgroup removes the cgroup parent of container name (see RunArgs)
// in every hierarchy, v1 and v2, and everything below, once empty:
// podman's cgroupfs manager leaves the parent, and conmon's cgroup in it,
// behind. It tries for up to within.
func RemoveCgroup(name string, within time.Duration) error {
	roots, _ := filepath.Glob("/sys/fs/cgroup/*")
	roots = append(roots, "/sys/fs/cgroup")
	deadline := time.Now().Add(within)
	for _, root := range roots {
		dir := filepath.Join(root, name)
		if _, err := os.Stat(dir); err != nil {
			continue
		}
		for rmdirTree(dir) != nil {
			if time.Now().After(deadline) {
				return fmt.Errorf("cgroup %s did not empty within %v", dir, within)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return nil
}

// rmdirTree removes a cgroup directory and its children, deepest first.
func rmdirTree(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.IsDir() {
			if err := rmdirTree(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return unix.Rmdir(dir)
}

// tarFiles writes a tar archive of executables: name in the archive to
// file on disk.
func tarFiles(tarball string, files map[string]string) error {
	out, err := os.Create(tarball)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(out)
	for name, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			out.Close()
			return err
		}
		hdr := &tar.Header{Name: name, Mode: 0o755, Size: int64(len(b)), ModTime: time.Now(), Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			out.Close()
			return err
		}
		if _, err := tw.Write(b); err != nil {
			out.Close()
			return err
		}
	}
	return errors.Join(tw.Close(), out.Close())
}

// Dir is the directory podman was set up in; its containers.conf is there.
func (p *Podman) Dir() string { return p.dir }

// StorageFlags are the global flags that name this podman's storage, for
// another tool on the same storage (buildah).
func (p *Podman) StorageFlags() []string {
	var flags []string
	for i := 0; i+1 < len(p.args); i++ {
		if p.args[i] == "--root" || p.args[i] == "--runroot" {
			flags = append(flags, p.args[i], p.args[i+1])
		}
	}
	return flags
}

// Env is the environment podman runs with.
func (p *Podman) Env() []string { return p.env }
