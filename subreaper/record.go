package subreaper

import (
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/tinit-dev/tinit/internal/diagnose"
	"github.com/tinit-dev/tinit/internal/escape"
	"github.com/tinit-dev/tinit/internal/procfs"
	"github.com/tinit-dev/tinit/signals"
	"golang.org/x/sys/unix"
)

// Record is what happened in one run, kept as it happens: the main child's
// start and end, every signal tinit received and what it did with it, the
// leftovers and how each ended, the fallbacks taken. tinit's log lines are
// written from it as it grows, and the JSON report is this value.
type Record struct {
	Command   []string      `json:"command"`
	Mode      Mode          `json:"mode"`
	Start     time.Time     `json:"start"`
	End       time.Time     `json:"end"`
	Child     ChildRecord   `json:"child"`
	Signals   []SignalEvent `json:"signals"`
	Leftovers []Leftover    `json:"leftovers"`
	Fallbacks []Fallback    `json:"fallbacks"`
	// Timeout is set when Config.Timeout fired.
	Timeout *TimeoutEvent `json:"timeout,omitempty"`
	// Stall is set when Config.Stall fired.
	Stall *StallEvent `json:"stall,omitempty"`
	// Diagnoses are the diagnoses written during the run (timeout, stop
	// signal, stall).
	Diagnoses []*diagnose.Diagnosis `json:"diagnoses"`
	// KillPasses counts the SIGKILL passes over what was left.
	KillPasses int `json:"kill_passes"`
	// GaveUp is set when processes were still there after the SIGKILL
	// passes and tinit exited without them.
	GaveUp bool   `json:"gave_up"`
	Counts Counts `json:"counts"`
	// TinitMaxRSS is tinit's own peak resident memory, in KiB (VmHWM).
	TinitMaxRSS int `json:"tinit_max_rss_kib,omitempty"`
	// ExitCode is the code tinit exits with.
	ExitCode int `json:"exit_code"`
	// Exit says how ExitCode was reached: "exited" (the main child's
	// status), "killed" (128+n, the main child died of signal n),
	// "timeout" (124), "leaked" (Config.FailOnLeak), "status lost" and
	// "survived SIGKILL" (125), "not started" (the command could not be
	// started; Error says why).
	Exit  string `json:"exit"`
	Error string `json:"error,omitempty"`
}

// Counts are the run's numbers.
type Counts struct {
	// Reaped counts every child tinit reaped, the main child included.
	Reaped uint64 `json:"reaped"`
	// PeakLive is the most descendants tinit saw alive at once, at the
	// moments it looked (diagnoses, the stall watch, the leftovers):
	// a floor of the true peak, not a sample of every moment.
	PeakLive int `json:"peak_live"`
	// Leftovers, and how they ended (see Leftover.Ended).
	Leftovers          int `json:"leftovers"`
	ExitedAfterSIGTERM int `json:"exited_after_sigterm"`
	Killed             int `json:"killed"`
	Survived           int `json:"survived"`
}

// TimeoutEvent is a timeout that fired.
type TimeoutEvent struct {
	Time  time.Time `json:"time"`
	After float64   `json:"after_s"`
	// Signal is the signal the tree got first: "SIGQUIT" (to Go programs,
	// then SIGTERM to all), or Config.TimeoutSignal.
	Signal string `json:"signal"`
}

// StallEvent is a stall that was seen.
type StallEvent struct {
	Time time.Time `json:"time"`
	Idle float64   `json:"idle_s"`
}

// Mode is how the run was set up, decided once at its start.
type Mode struct {
	Pid1  bool `json:"pid1"`  // PID 1 of a pid namespace, else a child subreaper
	Pidfd bool `json:"pidfd"` // signals go through pidfds, else by pid
	// Cgroup is the run's own cgroup v2 directory, "" without one.
	Cgroup string `json:"cgroup,omitempty"`
	// Killer is how leftovers are found and signalled: "kill(-1)" as
	// PID 1, "cgroup" (the run's group, then a /proc walk for what left
	// it), "walk" (/proc alone), "group" (the main child's process group
	// alone, without a usable /proc or cgroup).
	Killer string `json:"killer"`
	// Proc is false when /proc does not show tinit's pid namespace.
	Proc bool `json:"proc"`
}

// ChildRecord is the main child's part of the run.
type ChildRecord struct {
	Pid     int       `json:"pid"`
	Path    string    `json:"path"`
	Started time.Time `json:"started"`
	// Exited is zero while the main child runs or when its status was
	// never known.
	Exited time.Time `json:"exited,omitzero"`
	// Code is its exit code as tinit passes it on (128+n for signal n).
	Code int `json:"code"`
	// Signal names the signal that killed it, if one did.
	Signal string `json:"signal,omitempty"`
	// From says where the status came from: "reaper", or "pidfd" when
	// the reaper's report never came.
	From string `json:"from,omitempty"`
}

// SignalEvent is one signal tinit received.
type SignalEvent struct {
	Time   time.Time `json:"time"`
	Signal string    `json:"signal"`
	// Action: "forwarded" (to the main child, or its group with
	// Group), "escalated" (a second stop signal: SIGKILL for all),
	// "dropped" (the main child is gone, or every process is being
	// killed already), "failed".
	Action string `json:"action"`
	Group  bool   `json:"group,omitempty"`
	// As is the signal forwarded in its place, when Config.Rewrite
	// rewrote it.
	As    string `json:"as,omitempty"`
	Error string `json:"error,omitempty"`
}

// Leftover is a process found below tinit once the main child was gone
// (or, after a timeout, with it).
type Leftover struct {
	Pid     int       `json:"pid"`
	PPid    int       `json:"ppid"`
	Comm    string    `json:"comm"`
	Cmdline string    `json:"cmdline"`
	State   string    `json:"state"`
	Age     float64   `json:"age_s"`
	Test    string    `json:"test,omitempty"`
	Found   time.Time `json:"found"`
	// Holds names the output pipes of tinit's (or of the main child's)
	// whose write end it holds: "tinit's stdout".
	Holds []string `json:"holds,omitempty"`
	// Ended: "exited" (before tinit signalled), "exited after SIGTERM",
	// "killed", "survived" (tinit gave up on it), or "" where tinit
	// cannot tell (no /proc of its pid namespace).
	Ended string `json:"ended,omitempty"`
	start uint64
}

// Fallback is a feature tinit did without, and why.
type Fallback struct {
	What string `json:"what"`
	Why  string `json:"why"`
}

// recorder keeps a run's Record and writes the log lines that tell it.
// It belongs to the supervisor's goroutine.
type recorder struct {
	rec   *Record
	log   zerolog.Logger
	clock clock
}

func (r *recorder) started(c *mainChild, m Mode) {
	r.rec.Mode = m
	r.rec.Child.Pid, r.rec.Child.Path, r.rec.Child.Started = c.pid, escape.Printable(c.path), r.clock.Now()
	r.log.Info().Int("pid", c.pid).Str("cmd", r.rec.Child.Path).Bool("pid1", m.Pid1).Bool("pidfd", m.Pidfd).
		Bool("cgroup", m.Cgroup != "").Str("killer", m.Killer).Msg("main child started")
}

// fallback records a feature done without; the caller logs it, with the
// message that says what it means for the run.
func (r *recorder) fallback(what string, why error) {
	msg := ""
	if why != nil {
		msg = why.Error()
	}
	r.rec.Fallbacks = append(r.rec.Fallbacks, Fallback{What: what, Why: msg})
}

func (r *recorder) signal(sig unix.Signal, action string, group bool, err error) {
	r.rewritten(sig, 0, action, group, err)
}

// rewritten records sig, forwarded as as (0: as itself).
func (r *recorder) rewritten(sig, as unix.Signal, action string, group bool, err error) {
	ev := SignalEvent{Time: r.clock.Now(), Signal: signals.Name(sig), Action: action, Group: group}
	if as != 0 && as != sig {
		ev.As = signals.Name(as)
	}
	if err != nil {
		ev.Error = err.Error()
	}
	r.rec.Signals = append(r.rec.Signals, ev)
	switch action {
	case "forwarded":
		e := r.log.Debug().Str("signal", ev.Signal).Bool("group", group)
		if ev.As != "" {
			e = e.Str("as", ev.As)
		}
		e.Msg("forwarded")
	case "escalated":
		r.log.Info().Str("signal", ev.Signal).Msg("second stop signal; killing every process")
	case "failed":
		r.log.Warn().Err(err).Str("signal", ev.Signal).Msg("forward failed")
	default:
		r.log.Debug().Str("signal", ev.Signal).Msg("signal not forwarded")
	}
}

func (r *recorder) exited(c *mainChild, from string, leftovers bool) {
	ch := &r.rec.Child
	ch.Exited, ch.Code, ch.From = r.clock.Now(), c.code, from
	if c.status.Signaled() {
		ch.Signal = signals.Name(c.status.Signal())
	}
	r.log.Info().Int("pid", c.pid).Int("code", c.code).Bool("leftovers", leftovers).Msg("main child exited")
}

// leftovers records and names, at warn level, the processes left below
// tinit, before anything is signalled.
func (r *recorder) leftovers(procs []diagnose.Process, findings []string) {
	now := r.clock.Now()
	for _, p := range procs {
		l := Leftover{Pid: p.Pid, PPid: p.PPid, Comm: p.Comm, Cmdline: p.Cmdline, State: p.State,
			Age: p.Age, Test: p.Test, Found: now, Holds: holdsOutput(findings, p.Pid), start: p.Start()}
		r.add(l)
	}
}

// foundMore records processes a killer listed, none of them recorded yet
// (see unrecorded): as described where /proc could, by their stat alone
// otherwise.
func (r *recorder) foundMore(procs []procfs.Stat, described []diagnose.Process) {
	r.leftovers(described, nil)
	known := make(map[int]bool, len(described))
	for _, p := range described {
		known[p.Pid] = true
	}
	for _, p := range procs {
		if known[p.Pid] {
			continue
		}
		l := Leftover{Pid: p.Pid, PPid: p.PPid, Comm: escape.Printable(p.Comm), State: string(p.State), Found: r.clock.Now(), start: p.Start}
		if p.State == 0 {
			l.State = ""
		}
		r.add(l)
	}
}

// unrecorded returns the processes of procs not recorded yet, so that
// only those are read again.
func (r *recorder) unrecorded(procs []procfs.Stat) []procfs.Stat {
	known := make(map[int]bool, len(r.rec.Leftovers))
	for _, l := range r.rec.Leftovers {
		known[l.Pid] = true
	}
	var out []procfs.Stat
	for _, p := range procs {
		if !known[p.Pid] {
			out = append(out, p)
		}
	}
	return out
}

func (r *recorder) add(l Leftover) {
	r.rec.Leftovers = append(r.rec.Leftovers, l)
	r.rec.Counts.Leftovers++
	e := r.log.Warn().Int("pid", l.Pid).Int("ppid", l.PPid).Str("comm", l.Comm).Str("cmdline", l.Cmdline).
		Str("state", l.State).Float64("age", l.Age)
	if l.Test != "" {
		e = e.Str("test", l.Test)
	}
	if len(l.Holds) > 0 {
		e = e.Str("holds", strings.Join(l.Holds, ", "))
	}
	e.Msg("leftover process")
}

// ended logs, once the run is over, how each leftover ended.
func (r *recorder) ended() {
	for _, l := range r.rec.Leftovers {
		switch l.Ended {
		case "exited after SIGTERM":
			r.rec.Counts.ExitedAfterSIGTERM++
		case "killed":
			r.rec.Counts.Killed++
		case "survived":
			r.rec.Counts.Survived++
		}
		how := l.Ended
		if how == "" {
			how = "unknown"
		}
		r.log.Warn().Int("pid", l.Pid).Str("cmdline", l.Cmdline).Str("ended", how).Msg("leftover ended")
	}
}

// diagnosed records a diagnosis and writes it: a summary, the findings,
// then one line per process.
func (r *recorder) diagnosed(d *diagnose.Diagnosis) {
	r.rec.Diagnoses = append(r.rec.Diagnoses, d)
	e := r.log.Warn().Str("reason", d.Reason).Int("processes", len(d.Processes))
	if len(d.Unreadable) > 0 {
		e = e.Str("unreadable", strings.Join(d.Unreadable, "; "))
	}
	e.Msg("diagnosis")
	for _, f := range d.Findings {
		r.log.Warn().Str("finding", f).Msg("diagnosis finding")
	}
	for _, p := range d.Processes {
		e := r.log.Warn().Int("pid", p.Pid).Int("ppid", p.PPid).Int("pgid", p.Pgid).Int("sid", p.Sid).
			Str("state", p.State).Float64("age", p.Age).Float64("cpu", p.CPU).Str("cmdline", p.Cmdline)
		if p.Test != "" {
			e = e.Str("test", p.Test)
		}
		e.Str("threads", threadSummary(p.Threads)).Str("fds", fdSummary(p.FDs)).Str("why", p.Why).Msg("diagnosis process")
	}
}

// threadSummary is "tid:state:wchan[:syscall]" for each thread.
func threadSummary(ts []diagnose.Thread) string {
	parts := make([]string, 0, len(ts))
	for _, t := range ts {
		s := strconv.Itoa(t.Tid) + ":" + t.State
		if t.Wchan != "" {
			s += ":" + t.Wchan
		}
		if t.Syscall != "" {
			s += ":" + t.Syscall
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

// fdSummary is "fd:mode:target" for each descriptor.
func fdSummary(fds []diagnose.FD) string {
	parts := make([]string, 0, len(fds))
	for _, f := range fds {
		parts = append(parts, strconv.Itoa(f.Num)+":"+f.Mode+":"+f.Target)
	}
	return strings.Join(parts, " ")
}

func (r *recorder) timedOut(after time.Duration, sig unix.Signal) {
	name := "SIGQUIT"
	if sig != 0 {
		name = signals.Name(sig)
	}
	r.rec.Timeout = &TimeoutEvent{Time: r.clock.Now(), After: after.Seconds(), Signal: name}
	r.log.Warn().Dur("after", after).Str("signal", name).Msg("timeout: ending the run")
}

func (r *recorder) stalled(idle time.Duration) {
	r.rec.Stall = &StallEvent{Time: r.clock.Now(), Idle: idle.Seconds()}
	r.log.Warn().Dur("idle", idle).Msg("stall: the whole tree used no CPU")
}

func itoa(n int) string { return strconv.Itoa(n) }

// settle marks how the leftovers not yet marked ended: alive reports
// whether one still runs and whether that can be known at all (nil: never
// where tinit cannot tell); the live ones are marked ifLive ("" leaves
// them for later), the others ifGone.
func (r *recorder) settle(alive func(Leftover) (live, known bool), ifLive, ifGone string) {
	for i := range r.rec.Leftovers {
		l := &r.rec.Leftovers[i]
		if l.Ended != "" || alive == nil {
			continue
		}
		switch live, known := alive(*l); {
		case !known:
		case live:
			l.Ended = ifLive
		default:
			l.Ended = ifGone
		}
	}
}

func (r *recorder) killPass() {
	r.rec.KillPasses++
	r.log.Debug().Int("pass", r.rec.KillPasses).Msg("SIGKILL pass")
}

func (r *recorder) gaveUp(m Mode) {
	r.rec.GaveUp = true
	e := r.log.Warn().Dur("waited", killWait)
	if !m.Pid1 && m.Killer == "group" {
		e = e.Bool("proc", false)
	}
	e.Msg("descendants remain after SIGKILL; exiting without them")
}

func (r *recorder) finished(code int, how string, reaped uint64) {
	r.rec.End, r.rec.ExitCode, r.rec.Exit, r.rec.Counts.Reaped = r.clock.Now(), code, how, reaped
}
