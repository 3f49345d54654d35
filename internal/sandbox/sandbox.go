// Package sandbox makes the namespaces of a sandboxed run and sets them up
// from the inside. The outer tinit clones the inner one (itself, executed
// again) into new pid and mount namespaces, with a user namespace that maps
// the caller's own uid and gid when the caller is not root, and with a
// network namespace of its own on request; then it supervises it thinly:
// it forwards signals, kills it when tinit's parent dies, and returns its
// status. The inner tinit, PID 1 there, makes every mount private, mounts a
// fresh /proc and a private /tmp, binds what was asked, brings loopback up
// and, in a user namespace, gives up every privilege before the command
// starts.
//
// It does not supervise the command (package subreaper does, in the inner
// tinit), parse command lines, make cgroups (internal/cgroup) or write
// reports (internal/report).
package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Spec says what a sandbox isolates. The outer tinit makes it, the inner
// one receives it; both read it the same way.
type Spec struct {
	// UserNS puts the sandbox in a user namespace of its own that maps
	// UID and GID to themselves: the command runs as the caller, without
	// privileges. Without it (the caller is root) the command runs as
	// root.
	UserNS bool `json:"userns"`
	UID    int  `json:"uid"`
	GID    int  `json:"gid"`
	// NetNone gives the sandbox a network namespace of its own in which
	// only loopback is up.
	NetNone bool `json:"net_none"`
	// Binds are mounted in order, after the fresh /proc and private /tmp
	// for those below /tmp, before them for the others.
	Binds []Bind `json:"binds"`
	// Dir is the working directory, kept inside: an absolute path.
	Dir string `json:"dir"`
}

// Bind mounts Src at Dst, both absolute paths as the caller sees them.
type Bind struct {
	Src      string `json:"src"`
	Dst      string `json:"dst"`
	ReadOnly bool   `json:"ro"`
}

// privateTmp is where the sandbox mounts its own tmpfs. Mount points for
// binds below it are made in that tmpfs, which is the sandbox's own; every
// other destination must exist.
const privateTmp = "/tmp"

// freshProc is where the sandbox mounts its own proc. Binds below it are
// mounted after it (a bind mounted before would be hidden); one on it is
// refused, since the inner tinit reads the sandbox's processes there.
const freshProc = "/proc"

// below reports whether path is dir or inside it.
func below(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, strings.TrimSuffix(dir, "/")+"/")
}

// inTmp reports whether a bind's destination lies in the private /tmp.
func (b Bind) inTmp() bool { return below(b.Dst, privateTmp) }

// inProc reports whether a bind's destination lies in the fresh /proc.
func (b Bind) inProc() bool { return below(b.Dst, freshProc) }

// Check reports what is wrong with a bind before anything starts: both
// paths absolute and clean, the source there, the destination there (or
// below /tmp, where tinit makes it) and of the same kind, a directory on a
// directory or a file on a file.
func (b Bind) Check() error { return b.check("") }

// check is Check where kept is the working directory bound from the
// caller's /tmp into the private one (see keepDir), "" for none: a
// destination below it is in the caller's directory, which tinit does not
// write to, so it must exist there.
func (b Bind) check(kept string) error {
	for _, p := range []string{b.Src, b.Dst} {
		if !filepath.IsAbs(p) || filepath.Clean(p) != p {
			return fmt.Errorf("%q is not an absolute clean path", p)
		}
	}
	switch {
	case b.Dst == "/" && b.Src != "/":
		// A mount on / would cover the root that the sandbox's paths
		// start from without replacing it: nothing would see it.
		return fmt.Errorf("destination / is the sandbox's root, which tinit does not replace; bind below it")
	case b.Dst == freshProc:
		return fmt.Errorf("destination %s is the sandbox's fresh %s, which its init needs; bind below it", b.Dst, freshProc)
	}
	made := b.inTmp() && (kept == "" || !below(b.Dst, kept))
	src, err := os.Stat(b.Src)
	if err != nil {
		return fmt.Errorf("source: %w", unwrapPath(err))
	}
	dst, err := os.Stat(b.Dst)
	switch {
	case err != nil && made && errors.Is(err, os.ErrNotExist):
		return nil // made in the private /tmp
	case err != nil && b.inTmp() && errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("destination: %w (it is in the working directory %s, which the sandbox keeps from the caller's /tmp, "+
			"and tinit makes nothing there)", unwrapPath(err), kept)
	case err != nil:
		return fmt.Errorf("destination: %w", unwrapPath(err))
	case b.Dst == privateTmp && !src.IsDir():
		return fmt.Errorf("destination %s is the private /tmp, a directory; source %s is not one", b.Dst, b.Src)
	case made:
		return nil // the private /tmp will not hold what is there now
	case src.IsDir() != dst.IsDir():
		return fmt.Errorf("source %s and destination %s must both be directories or both files", b.Src, b.Dst)
	}
	return nil
}

// unwrapPath turns "stat /x: no such file or directory" into "/x: no such
// file or directory".
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Path, pe.Err)
	}
	return err
}

// Check reports what is wrong with the spec before anything starts.
func (s Spec) Check() error {
	kept := ""
	if s.keepsDir() {
		kept = s.Dir
	}
	for _, b := range s.Binds {
		if err := b.check(kept); err != nil {
			return fmt.Errorf("%s %s %s: %w", b.flag(), b.Src, b.Dst, err)
		}
	}
	if !filepath.IsAbs(s.Dir) {
		return fmt.Errorf("working directory %q is not absolute", s.Dir)
	}
	return nil
}

// keepsDir reports whether the working directory is one in the caller's
// /tmp that the sandbox binds into its own (see keepDir): below /tmp (the
// private /tmp itself is there already), and no bind into /tmp holds it.
func (s Spec) keepsDir() bool {
	if s.Dir == privateTmp || !below(s.Dir, privateTmp) {
		return false
	}
	for _, b := range s.Binds {
		if b.inTmp() && below(s.Dir, b.Dst) {
			return false
		}
	}
	return true
}

func (b Bind) flag() string {
	if b.ReadOnly {
		return "--ro-bind"
	}
	return "--bind"
}
