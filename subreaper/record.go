package subreaper

import (
	"time"

	"github.com/rs/zerolog"
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
	// KillPasses counts the SIGKILL passes over what was left.
	KillPasses int `json:"kill_passes"`
	// GaveUp is set when processes were still there after the SIGKILL
	// passes and tinit exited without them.
	GaveUp bool `json:"gave_up"`
	// Reaped counts every child tinit reaped, the main child included.
	Reaped   uint64 `json:"reaped"`
	ExitCode int    `json:"exit_code"`
	// Exit says how ExitCode was reached: "exited" (the main child's
	// status), "killed" (128+n), "status lost", "survived SIGKILL".
	Exit string `json:"exit"`
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
	Error  string `json:"error,omitempty"`
}

// Leftover is a process found below tinit once the main child was gone.
type Leftover struct {
	Pid     int       `json:"pid"`
	PPid    int       `json:"ppid"`
	Comm    string    `json:"comm"`
	Cmdline string    `json:"cmdline"`
	State   string    `json:"state"`
	Found   time.Time `json:"found"`
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
	ev := SignalEvent{Time: r.clock.Now(), Signal: signals.Name(sig), Action: action, Group: group}
	if err != nil {
		ev.Error = err.Error()
	}
	r.rec.Signals = append(r.rec.Signals, ev)
	switch action {
	case "forwarded":
		r.log.Debug().Str("signal", ev.Signal).Bool("group", group).Msg("forwarded")
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

// found records the leftovers a killer is about to signal and names each.
func (r *recorder) found(procs []procfs.Stat, cmdline func(pid int) string) {
	now := r.clock.Now()
	for _, p := range procs {
		l := Leftover{Pid: p.Pid, PPid: p.PPid, Comm: escape.Printable(p.Comm), State: string(p.State), Found: now, start: p.Start}
		if p.State == 0 {
			l.State = ""
		}
		if cmdline != nil {
			l.Cmdline = escape.Printable(cmdline(p.Pid))
		}
		r.rec.Leftovers = append(r.rec.Leftovers, l)
		r.log.Info().Int("pid", l.Pid).Int("ppid", l.PPid).Str("comm", l.Comm).Str("cmdline", l.Cmdline).Msg("leftover process")
	}
}

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
	r.rec.End, r.rec.ExitCode, r.rec.Exit, r.rec.Reaped = r.clock.Now(), code, how, reaped
}
