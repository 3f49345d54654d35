package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// Enter sets the sandbox up from the inside. It must run in the inner
// tinit, PID 1 of the new pid namespace, before the command starts:
//
//  1. every mount becomes private, so that nothing done here reaches the
//     caller's mount namespace, and nothing mounted there later reaches in;
//  2. the bind sources and the working directory are opened while the
//     caller's view still holds them (a source in /tmp is hidden later);
//  3. the binds whose destination is outside /tmp and /proc, in order;
//  4. a fresh /proc, which shows the sandbox's processes only;
//  5. the binds below /proc, in order;
//  6. a private tmpfs on /tmp;
//  7. the working directory: one in the caller's /tmp that no bind covers
//     is bound at the same path in the private one, before the binds into
//     /tmp so that it hides none of them;
//  8. the binds into /tmp, their mount points made in the tmpfs (those in
//     the kept working directory exist there, see Spec.Check);
//  9. chdir to the working directory;
//  10. with NetNone, loopback up.
func Enter(s Spec) error {
	if unix.Getpid() != 1 {
		return errors.New("the sandbox is set up by PID 1 of its own pid namespace")
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	srcs, err := openSources(s)
	if err != nil {
		return err
	}
	defer func() {
		for _, fd := range srcs {
			unix.Close(fd)
		}
	}()
	for i, b := range s.Binds {
		if !b.inTmp() && !b.inProc() {
			if err := bind(srcs[i], b); err != nil {
				return err
			}
		}
	}
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		if s.UserNS && errors.Is(err, unix.EPERM) {
			// The kernel lets a user namespace mount a proc only where
			// one is visible whole (mount_too_revealing): container
			// runtimes cover parts of theirs (masked paths).
			return fmt.Errorf("mount /proc: %w (parts of the /proc tinit runs under are covered, as container runtimes do; "+
				"a user namespace may mount a new one only where the whole of one is visible)", err)
		}
		return fmt.Errorf("mount /proc: %w", err)
	}
	for i, b := range s.Binds {
		if b.inProc() {
			if err := bind(srcs[i], b); err != nil {
				return err
			}
		}
	}
	if err := unix.Mount("tmpfs", privateTmp, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=1777"); err != nil {
		return fmt.Errorf("mount a tmpfs on %s: %w", privateTmp, err)
	}
	if err := keepDir(s, srcs[len(s.Binds)]); err != nil {
		return err
	}
	for i, b := range s.Binds {
		if b.inTmp() {
			if err := bindInTmp(srcs[i], b); err != nil {
				return err
			}
		}
	}
	if err := unix.Chdir(s.Dir); err != nil {
		return fmt.Errorf("the working directory %s is not there in the sandbox: %w", s.Dir, err)
	}
	if s.NetNone {
		if err := loopbackUp(); err != nil {
			return err
		}
	}
	return nil
}

// openSources opens each bind's source, then the working directory (the
// last descriptor), as O_PATH descriptors.
func openSources(s Spec) ([]int, error) {
	var fds []int
	for _, p := range append(bindSources(s.Binds), s.Dir) {
		fd, err := unix.Open(p, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			for _, fd := range fds {
				unix.Close(fd)
			}
			return nil, fmt.Errorf("open %s: %w", p, err)
		}
		fds = append(fds, fd)
	}
	return fds, nil
}

func bindSources(bs []Bind) []string {
	out := make([]string, 0, len(bs))
	for _, b := range bs {
		out = append(out, b.Src)
	}
	return out
}

// fdPath names a descriptor for mount(2), which takes paths only.
func fdPath(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// bind mounts the source src (a descriptor) at b.Dst, with everything
// mounted below the source, read-only with b.ReadOnly. Binding / onto /
// would stack a tree that paths from the root never reach (the root stays
// the old one): there the existing tree is made read-only instead.
func bind(src int, b Bind) error {
	if b.Src != "/" || b.Dst != "/" {
		if err := unix.Mount(fdPath(src), b.Dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("%s %s %s: %w", b.flag(), b.Src, b.Dst, err)
		}
	}
	if b.ReadOnly {
		if err := readOnly(b.Dst); err != nil {
			return fmt.Errorf("%s %s %s: %w", b.flag(), b.Src, b.Dst, err)
		}
	}
	return nil
}

// bindInTmp makes b's mount point in the private /tmp, then binds.
func bindInTmp(src int, b Bind) error {
	var st unix.Stat_t
	if err := unix.Fstat(src, &st); err != nil {
		return fmt.Errorf("%s %s %s: %w", b.flag(), b.Src, b.Dst, err)
	}
	if err := mountPoint(b.Dst, st.Mode&unix.S_IFMT == unix.S_IFDIR); err != nil {
		return fmt.Errorf("%s %s %s: %w", b.flag(), b.Src, b.Dst, err)
	}
	return bind(src, b)
}

// mountPoint makes path, a directory or an empty file, in the private
// /tmp. Whatever it creates it creates in that tmpfs only: a path that
// leads out of it (through an earlier bind) must exist already.
func mountPoint(path string, dir bool) error {
	if _, err := os.Lstat(path); err == nil {
		return nil
	}
	var tmp unix.Stat_t
	if err := unix.Stat(privateTmp, &tmp); err != nil {
		return err
	}
	parent := filepath.Dir(path)
	if parent != privateTmp {
		if err := mountPoint(parent, true); err != nil {
			return err
		}
	}
	var pst unix.Stat_t
	if err := unix.Stat(parent, &pst); err != nil {
		return err
	}
	if pst.Dev != tmp.Dev {
		return fmt.Errorf("%s does not exist, and %s is not in the private %s", path, parent, privateTmp)
	}
	if dir {
		return unix.Mkdir(path, 0o755)
	}
	fd, err := unix.Open(path, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return err
	}
	return unix.Close(fd)
}

// keepDir keeps the working directory inside. One in the caller's /tmp is
// hidden by the private tmpfs: unless a bind covers it, it is bound there
// at the same path (the caller's directory, writable as before).
func keepDir(s Spec, dir int) error {
	if !s.keepsDir() {
		return nil
	}
	if err := mountPoint(s.Dir, true); err != nil {
		return fmt.Errorf("keep the working directory %s: %w", s.Dir, err)
	}
	if err := unix.Mount(fdPath(dir), s.Dir, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("keep the working directory %s: %w", s.Dir, err)
	}
	return nil
}

// loopbackUp brings up lo, the one interface of a new network namespace
// (SIOCSIFFLAGS needs CAP_NET_ADMIN over the namespace, which the inner
// tinit holds until DropPrivileges). The kernel gives it 127.0.0.1 and ::1.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("bring loopback up: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring loopback up: SIOCGIFFLAGS: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring loopback up: SIOCSIFFLAGS: %w", err)
	}
	return nil
}
