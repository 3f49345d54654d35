package subreaper

import (
	"errors"
	"strings"
	"time"

	"github.com/tinit-dev/tinit/internal/diagnose"
	"github.com/tinit-dev/tinit/internal/procfs"
	"golang.org/x/sys/unix"
)

// diagnose writes a diagnosis of the tree below tinit (see package
// diagnose) into the record and the log, and returns it; nil without a
// /proc of tinit's pid namespace, which the record then says.
func (s *supervisor) diagnose(reason string) *diagnose.Diagnosis {
	if !s.setup.proc {
		d := &diagnose.Diagnosis{Time: s.clock.Now(), Reason: reason,
			Unreadable: []string{"everything: /proc does not show tinit's pid namespace"}}
		s.rec.diagnosed(d)
		return nil
	}
	main := 0
	if !s.child.ended {
		main = s.child.pid
	}
	d := diagnose.Run(s.proc, diagnose.Input{Root: unix.Getpid(), Main: main, Reason: reason, Now: s.clock.Now()})
	s.seen(len(d.Processes))
	s.rec.diagnosed(d)
	return d
}

// seen keeps the most live descendants tinit has seen at once.
func (s *supervisor) seen(n int) {
	s.rec.rec.Counts.PeakLive = max(s.rec.rec.Counts.PeakLive, n)
}

// describeLeftovers names what the main child left behind, before anything
// is signalled: pid, command line, age, state, the test it belongs to, and
// which of tinit's output pipes it holds. Without a /proc of tinit's pid
// namespace the killer's list (found) is all there is.
func (s *supervisor) describeLeftovers() {
	if !s.setup.proc {
		return
	}
	main := 0
	if !s.child.ended {
		main = s.child.pid
	}
	d := diagnose.Run(s.proc, diagnose.Input{Root: unix.Getpid(), Main: main, Reason: "leftovers", Now: s.clock.Now(), Brief: true})
	s.seen(len(d.Processes))
	var live []diagnose.Process
	for _, p := range d.Processes {
		if p.State != "Z" {
			live = append(live, p)
		}
	}
	s.rec.leftovers(live, d.Findings)
}

// found records what a killer is about to signal that describeLeftovers did
// not see (without /proc, all of it). A bare pid (State 0) not recorded
// yet is read from /proc where there is one.
func (s *supervisor) found(procs []procfs.Stat) {
	procs = s.rec.unrecorded(procs)
	var described []diagnose.Process
	if s.setup.proc {
		for i, p := range procs {
			if p.State == 0 {
				st, err := s.proc.Stat(p.Pid)
				if err != nil {
					continue
				}
				procs[i] = st
			}
			described = append(described, diagnose.Describe(s.proc, procs[i]))
		}
	}
	s.rec.foundMore(procs, described)
}

// stallWatch samples the tree's CPU time, with Config.Stall only: when none
// was used for Stall, a diagnosis is written, once.
type stallWatch struct {
	c     <-chan time.Time // nil when not watching
	stopT func()
	cpu   uint64 // clock ticks the tree had used at the last change
	procs int
	since time.Time
}

// stallSampleEvery is the watch's period: a quarter of Stall, between
// these bounds.
const (
	minStallSample = 100 * time.Millisecond
	maxStallSample = 5 * time.Second
)

func (w *stallWatch) start(c clock, stall time.Duration) {
	w.c, w.stopT = c.Tick(min(max(stall/4, minStallSample), maxStallSample))
	w.since = c.Now()
}

func (w *stallWatch) stop() {
	if w.stopT != nil {
		w.stopT()
	}
	w.c, w.stopT = nil, nil
}

// onStallTick samples the tree; a tree unchanged for Stall is diagnosed.
func (s *supervisor) onStallTick() {
	cpu, procs, err := s.treeCPU()
	if err != nil {
		s.stall.stop()
		return
	}
	s.seen(procs)
	now := s.clock.Now()
	if cpu != s.stall.cpu || procs != s.stall.procs {
		s.stall.cpu, s.stall.procs, s.stall.since = cpu, procs, now
		return
	}
	if idle := now.Sub(s.stall.since); idle >= s.cfg.Stall {
		s.stall.stop()
		s.rec.stalled(idle)
		s.diagnose("stall: no CPU used for " + idle.Round(time.Millisecond).String())
	}
}

// treeCPU sums the CPU time of every live descendant.
func (s *supervisor) treeCPU() (uint64, int, error) {
	if !s.setup.proc {
		return 0, 0, errors.New("no /proc of tinit's pid namespace")
	}
	procs, err := s.proc.Descendants(unix.Getpid())
	var cpu uint64
	n := 0
	for _, c := range procs {
		if c.Live() {
			cpu += c.UTime + c.STime
			n++
		}
	}
	return cpu, n, err
}

// holdsOutput picks, from a diagnosis's findings, which of tinit's output
// pipes pid holds.
func holdsOutput(findings []string, pid int) []string {
	var out []string
	prefix := "pid " + itoa(pid) + " ("
	for _, f := range findings {
		if !strings.HasPrefix(f, prefix) {
			continue
		}
		if _, what, ok := strings.Cut(f, "still holds the write end of "); ok {
			out = append(out, what)
		}
	}
	return out
}
