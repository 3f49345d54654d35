// Package fdtrack is the registry of the file descriptors tinit owns.
//
// Every descriptor tinit opens (pidfds, /proc handles, cgroup files) or adopts
// (descriptors it inherited and must close) is registered here and handed
// out as a Token: the descriptor number plus a generation that is never
// reused. Closing goes through the Registry only. A second close of the same
// token, or a close of a token whose number has meanwhile been reused by a
// newer descriptor, is refused and reported as a fault instead of closing
// somebody else's descriptor.
//
// That is the bug tinit exists to prevent: a pipe end closed twice, where the
// second close hit a freshly opened pidfd that had received the same number,
// so the exit of a child was never seen.
//
// The Registry does not poll, read or write descriptors. It is safe for
// concurrent use: the supervisor's loop owns it, and a walk of /proc on a
// busy host asks pidfds from more than one goroutine.
package fdtrack

import (
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

// ErrStaleToken reports a Token that no longer names a live descriptor of
// the Registry: it was closed already, or it was never handed out.
var ErrStaleToken = errors.New("stale descriptor token")

// ErrClosedElsewhere reports that a descriptor the Registry owned was closed
// behind its back: close(2) said EBADF, or the kernel handed the same number
// out again while the Registry still held it.
var ErrClosedElsewhere = errors.New("descriptor closed outside the registry")

// Token names one descriptor owned by a Registry. The zero Token names none
// and is always stale.
type Token struct {
	fd  int32
	gen uint32
}

// Valid reports whether t was ever handed out. A valid token may still be
// stale once closed.
func (t Token) Valid() bool { return t.gen != 0 }

// String formats t as fd/generation for logs.
func (t Token) String() string { return fmt.Sprintf("%d/%d", t.fd, t.gen) }

// Entry describes one live descriptor, for tests and reports.
type Entry struct {
	Fd   int
	Gen  uint32
	What string
}

type entry struct {
	gen  uint32
	what string
}

// Registry records which descriptors tinit owns. The zero Registry is not
// usable; call New.
type Registry struct {
	log    zerolog.Logger
	mu     sync.Mutex // guards what follows
	gen    uint32
	live   map[int32]entry
	faults []error
}

// New returns an empty Registry that reports faults on log at error level.
func New(log zerolog.Logger) *Registry {
	return &Registry{
		log:  log.With().Str("component", "fdtrack").Logger(),
		live: make(map[int32]entry),
	}
}

// Track registers fd, which the caller has just received from the kernel,
// and returns its token. what says what it is, for logs ("pidfd 42").
// Track makes sure the descriptor is close-on-exec: no descriptor of tinit's
// may leak into the child.
//
// If the number is already registered, the earlier descriptor was closed
// behind the Registry's back and the kernel reused the number; that is
// reported as a fault, and the earlier token becomes stale.
func (r *Registry) Track(fd int, what string) (Token, error) {
	if fd < 0 {
		return Token{}, fmt.Errorf("track %s: negative descriptor %d", what, fd)
	}
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	if err != nil {
		return Token{}, fmt.Errorf("track %s: fd %d: %w", what, fd, err)
	}
	if flags&unix.FD_CLOEXEC == 0 {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, flags|unix.FD_CLOEXEC); err != nil {
			return Token{}, fmt.Errorf("track %s: set close-on-exec on fd %d: %w", what, fd, err)
		}
	}
	return r.add(fd, what), nil
}

// Adopt registers fd, a descriptor tinit inherited from its parent, so that
// it can be closed through the Registry. Unlike Track it leaves the
// close-on-exec flag alone: the caller adopts inherited descriptors after
// the child has received its copies.
func (r *Registry) Adopt(fd int, what string) Token {
	return r.add(fd, what)
}

func (r *Registry) add(fd int, what string) Token {
	n := int32(fd)
	r.mu.Lock()
	old, reused := r.live[n]
	r.gen++
	r.live[n] = entry{gen: r.gen, what: what}
	t := Token{fd: n, gen: r.gen}
	r.mu.Unlock()
	if reused {
		r.fault(fmt.Errorf("fd %d (%s, generation %d) reused for %s: %w", fd, old.what, old.gen, what, ErrClosedElsewhere))
	}
	return t
}

// Fd returns the descriptor number t names, for use in a system call, or
// ErrStaleToken if t was closed or never handed out. The number is valid
// until the next Close on the Registry.
func (r *Registry) Fd(t Token) (int, error) {
	r.mu.Lock()
	e, ok := r.live[t.fd]
	r.mu.Unlock()
	if !t.Valid() || !ok || e.gen != t.gen {
		return -1, fmt.Errorf("use of fd token %v: %w", t, ErrStaleToken)
	}
	return int(t.fd), nil
}

// Close closes the descriptor t names and forgets it. A stale token closes
// nothing: the number may belong to a newer descriptor by now, so closing it
// would be exactly the bug this package prevents. Stale tokens and EBADF are
// reported as faults and returned as errors.
func (r *Registry) Close(t Token) error {
	r.mu.Lock()
	e, ok := r.live[t.fd]
	if !t.Valid() || !ok || e.gen != t.gen {
		r.mu.Unlock()
		err := fmt.Errorf("close of fd token %v refused: %w", t, ErrStaleToken)
		if ok {
			err = fmt.Errorf("close of fd token %v refused, the number now belongs to %s (generation %d): %w", t, e.what, e.gen, ErrStaleToken)
		}
		r.fault(err)
		return err
	}
	// Forgotten before it is closed: the number can go to a new
	// descriptor, of another goroutine, only once close(2) has released it.
	delete(r.live, t.fd)
	r.mu.Unlock()
	// close(2) releases the number even when it fails with EINTR or EIO on
	// Linux, so it is never retried.
	if err := unix.Close(int(t.fd)); err != nil {
		if errors.Is(err, unix.EBADF) {
			err = fmt.Errorf("close fd %d (%s): %w", t.fd, e.what, ErrClosedElsewhere)
			r.fault(err)
			return err
		}
		return fmt.Errorf("close fd %d (%s): %w", t.fd, e.what, err)
	}
	return nil
}

// Open opens path with flags plus O_CLOEXEC and registers the result.
func (r *Registry) Open(path string, flags int) (Token, error) {
	fd, err := unix.Open(path, flags|unix.O_CLOEXEC, 0)
	if err != nil {
		return Token{}, fmt.Errorf("open %s: %w", path, err)
	}
	return r.add(fd, path), nil
}

// OpenAt opens name relative to the directory dir names, with flags plus
// O_CLOEXEC, and registers the result. A stale dir opens nothing.
func (r *Registry) OpenAt(dir Token, name string, flags int) (Token, error) {
	dfd, err := r.Fd(dir)
	if err != nil {
		return Token{}, err
	}
	fd, err := unix.Openat(dfd, name, flags|unix.O_CLOEXEC, 0)
	if err != nil {
		return Token{}, fmt.Errorf("open %s: %w", name, err)
	}
	return r.add(fd, name), nil
}

// PidfdOpen opens a pidfd for pid and registers it. pidfd_open(2) always
// sets close-on-exec.
func (r *Registry) PidfdOpen(pid int) (Token, error) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return Token{}, fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	return r.add(fd, "pidfd of "+strconv.Itoa(pid)), nil
}

// Live lists the descriptors the Registry owns, in no particular order.
func (r *Registry) Live() []Entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Entry, 0, len(r.live))
	for fd, e := range r.live {
		out = append(out, Entry{Fd: int(fd), Gen: e.gen, What: e.what})
	}
	return out
}

// Faults returns the ownership faults seen so far (stale closes, descriptors
// closed elsewhere). A correct tinit run has none.
func (r *Registry) Faults() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]error(nil), r.faults...)
}

// fault records and logs err; the caller must not hold r.mu.
func (r *Registry) fault(err error) {
	r.mu.Lock()
	r.faults = append(r.faults, err)
	r.mu.Unlock()
	r.log.Error().Err(err).Msg("descriptor ownership fault")
}
