package procfs

import (
	"bytes"
	"fmt"

	"golang.org/x/sys/unix"
)

// ClockTicks is USER_HZ, the unit of /proc's times: 100 on every Linux
// architecture Go supports.
const ClockTicks = 100

// Stat is a process as /proc/PID/stat describes it.
type Stat struct {
	Pid     int
	Comm    string // the command name, as the process set it: quote before showing
	State   byte   // R, S, D, Z, T, t, X, I...
	PPid    int
	Pgrp    int
	Session int
	TTY     int    // the controlling terminal's device number, 0 for none
	UTime   uint64 // CPU time in user mode, clock ticks
	STime   uint64 // CPU time in kernel mode, clock ticks
	Threads int
	// Start is the start time in clock ticks after boot; with Pid it
	// names one process for as long as the machine runs.
	Start uint64
}

// Live reports whether the process still runs code. A zombie whose thread
// group still has threads is live: its leader called pthread_exit (or a
// Go or Rust program's main thread ended first), /proc shows the leader's
// state Z, and the other threads go on, holding its descriptors. A real
// zombie counts one thread, the dead leader.
func (s Stat) Live() bool {
	if s.State == 'Z' || s.State == 'X' {
		return s.Threads > 1
	}
	return true
}

// ParseStat parses one /proc/PID/stat line. The command name is in
// parentheses and may itself contain spaces and parentheses, so fields are
// counted from the last ')'.
func ParseStat(b []byte) (Stat, error) { return parseStat(b, true) }

// Field numbers of proc_pid_stat(5), counted from 1 (comm is 2).
const (
	fieldState   = 3
	fieldPPid    = 4
	fieldPgrp    = 5
	fieldSession = 6
	fieldTTY     = 7
	fieldUTime   = 14
	fieldSTime   = 15
	fieldThreads = 20
	fieldStart   = 22
)

func parseStat(b []byte, withComm bool) (Stat, error) {
	open := bytes.IndexByte(b, '(')
	close := bytes.LastIndexByte(b, ')')
	if open < 1 || close < open {
		return Stat{}, ErrMalformed
	}
	pid, ok := atoi(bytes.TrimSpace(b[:open]))
	if !ok {
		return Stat{}, fmt.Errorf("%w: pid %q", ErrMalformed, b[:open])
	}
	st := Stat{Pid: pid}
	if withComm {
		st.Comm = string(b[open+1 : close])
	}
	field := fieldState
	for rest := b[close+1:]; field <= fieldStart; field++ {
		var f []byte
		f, rest = nextField(rest)
		if f == nil {
			return Stat{}, fmt.Errorf("%w: %d fields after the name", ErrMalformed, field-fieldState)
		}
		if field == fieldState {
			if len(f) != 1 {
				return Stat{}, fmt.Errorf("%w: state %q", ErrMalformed, f)
			}
			st.State = f[0]
			continue
		}
		if err := st.set(field, f); err != nil {
			return Stat{}, err
		}
	}
	return st, nil
}

// set stores the numeric field number n, if Stat keeps it.
func (st *Stat) set(n int, f []byte) error {
	var dst *int
	var udst *uint64
	switch n {
	case fieldPPid:
		dst = &st.PPid
	case fieldPgrp:
		dst = &st.Pgrp
	case fieldSession:
		dst = &st.Session
	case fieldTTY:
		dst = &st.TTY
	case fieldThreads:
		dst = &st.Threads
	case fieldUTime:
		udst = &st.UTime
	case fieldSTime:
		udst = &st.STime
	case fieldStart:
		udst = &st.Start
	default:
		return nil
	}
	// A process being released shows -1 in some fields (pgrp, session).
	neg := dst != nil && len(f) > 1 && f[0] == '-'
	if neg {
		f = f[1:]
	}
	v, ok := atou(f)
	if !ok || (dst != nil && v > 1<<31) {
		return fmt.Errorf("%w: field %d %q", ErrMalformed, n, f)
	}
	switch {
	case neg:
		*dst = -int(v)
	case dst != nil:
		*dst = int(v)
	default:
		*udst = v
	}
	return nil
}

// nextField cuts the next space-separated field off b: nil at the end.
func nextField(b []byte) (f, rest []byte) {
	i := 0
	for i < len(b) && (b[i] == ' ' || b[i] == '\n') {
		i++
	}
	j := i
	for j < len(b) && b[j] != ' ' && b[j] != '\n' {
		j++
	}
	if i == j {
		return nil, nil
	}
	return b[i:j], b[j:]
}

// atou parses a decimal number that fits 63 bits.
func atou(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

// BootTicks is the time since boot in clock ticks, the unit of a Stat's
// Start: a process started after this call has a Start no lower than what
// it returns.
func BootTicks() uint64 {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts) != nil {
		return 0
	}
	return uint64(ts.Nano()) / (1e9 / ClockTicks)
}
