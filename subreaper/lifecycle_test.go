package subreaper

import (
	"slices"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/tinit-dev/tinit/internal/diagnose"
	"github.com/tinit-dev/tinit/internal/procfs"
	"golang.org/x/sys/unix"
)

// The lifecycle's decisions, with no process anywhere: a fake clock, a
// fake killer and a fake main child record what the supervisor asks of
// them.

type fakeClock struct {
	now    time.Time
	afters []time.Duration
}

func (c *fakeClock) Now() time.Time { return c.now }
func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.afters = append(c.afters, d)
	return make(chan time.Time)
}
func (c *fakeClock) Tick(time.Duration) (<-chan time.Time, func()) {
	return make(chan time.Time), func() {}
}

type fakeKiller struct {
	terms, kills int
	termSig      unix.Signal // the signal of the last term
	left         []procfs.Stat
	clock        *fakeClock
	timersAtTerm int           // timers the clock had been asked for at the last term
	killTakes    time.Duration // how long each kill takes on the clock
}

func (k *fakeKiller) list() ([]procfs.Stat, error) { return k.left, nil }
func (k *fakeKiller) term(sig unix.Signal, found func([]procfs.Stat)) error {
	k.terms++
	k.termSig = sig
	k.timersAtTerm = len(k.clock.afters)
	found(k.left)
	return nil
}
func (k *fakeKiller) kill() error {
	k.kills++
	k.clock.now = k.clock.now.Add(k.killTakes)
	return nil
}

// fakeTarget records the signals sent to the main child ("SIGUSR1" alone,
// "SIGUSR1 group" to its group); gone makes it answer ESRCH.
type fakeTarget struct {
	sent []string
	gone bool
}

func (f *fakeTarget) signal(sig unix.Signal, group bool) error {
	if f.gone {
		return unix.ESRCH
	}
	name := unix.SignalName(sig)
	if group {
		name += " group"
	}
	f.sent = append(f.sent, name)
	return nil
}
func (f *fakeTarget) leftoverGroup(sig unix.Signal) error { return f.signal(sig, true) }

// event is one thing that happens to a run.
type event struct {
	name string
	do   func(s *supervisor)
}

func sig(n unix.Signal) event {
	return event{unix.SignalName(n), func(s *supervisor) { s.onSignal(n) }}
}

func exit(code int, leftovers bool) event {
	return event{"exit", func(s *supervisor) {
		s.onExit(mainExit{status: unix.WaitStatus(code << 8), known: true, from: "reaper", leftovers: leftovers})
	}}
}

var (
	timeout = event{"timeout", func(s *supervisor) { s.onTimeout() }}
	timer   = event{"timer", func(s *supervisor) { s.onTimer() }}
	idle    = event{"idle", func(s *supervisor) { s.onIdle(3) }}
	// late is the pass timer firing after killWait.
	late = event{"timer after killWait", func(s *supervisor) {
		s.clock.(*fakeClock).now = s.killUntil.Add(time.Millisecond)
		s.onTimer()
	}}
)

// newFakeRun returns a supervisor in phase p, its main child alive unless
// ended, with fakes for everything that touches the kernel.
func newFakeRun(p phase, ended bool, cfg Config) (*supervisor, *fakeKiller, *fakeTarget, *fakeClock) {
	c := &fakeClock{now: time.Unix(1000, 0)}
	k := &fakeKiller{left: []procfs.Stat{{Pid: 100, PPid: 1, Comm: "daemon", State: 'S', Start: 5}}, clock: c}
	to := &fakeTarget{}
	s := &supervisor{cfg: cfg, log: zerolog.Nop(), clock: c, kill: k, phase: p}
	s.child = mainChild{pid: 42, to: to}
	if ended {
		s.child.end(0, true)
	}
	if p == killing {
		s.killUntil = c.now.Add(killWait)
	}
	s.rec = recorder{rec: &Record{}, log: zerolog.Nop(), clock: c}
	return s, k, to, c
}

func TestLifecycle(t *testing.T) {
	const grace = 2 * time.Second
	tests := []struct {
		phase  phase
		ended  bool // the main child's status is known already
		single bool // -c
		grace  time.Duration
		ev     event
		timSig unix.Signal // Config.TimeoutSignal
		// want
		next         phase
		sent         []string // to the main child or its group
		terms, kills int
		termSig      unix.Signal   // of the SIGTERM round, when there is one
		timer        time.Duration // the phase timer set, 0 for none
		signal       string        // what the record says of the signal
	}{
		{phase: running, ev: sig(unix.SIGUSR1), next: running, sent: []string{"SIGUSR1 group"}, signal: "forwarded"},
		{phase: running, single: true, ev: sig(unix.SIGHUP), next: running, sent: []string{"SIGHUP"}, signal: "forwarded"},
		{phase: running, ev: sig(unix.SIGTERM), next: stopping, sent: []string{"SIGTERM group"}, signal: "forwarded"},
		{phase: running, ev: sig(unix.SIGINT), next: stopping, sent: []string{"SIGINT group"}, signal: "forwarded"},
		{phase: stopping, ev: sig(unix.SIGUSR2), next: stopping, sent: []string{"SIGUSR2 group"}, signal: "forwarded"},
		{phase: stopping, ev: sig(unix.SIGTERM), next: killing, kills: 1, timer: killPassEvery, signal: "escalated"},
		{phase: stopping, ev: sig(unix.SIGINT), next: killing, kills: 1, timer: killPassEvery, signal: "escalated"},
		{phase: running, ev: exit(3, true), grace: grace, next: draining, terms: 1, termSig: unix.SIGTERM, timer: grace},
		{phase: stopping, ev: exit(3, true), grace: grace, next: draining, terms: 1, termSig: unix.SIGTERM, timer: grace},
		{phase: running, ev: exit(3, false), grace: grace, next: draining},
		{phase: running, ev: exit(3, true), grace: 0, next: killing, kills: 1, timer: killPassEvery},
		{phase: draining, ended: true, ev: timer, grace: grace, next: killing, kills: 1, timer: killPassEvery},
		{phase: draining, ended: true, ev: sig(unix.SIGTERM), next: killing, kills: 1, timer: killPassEvery, signal: "escalated"},
		{phase: draining, ended: true, ev: sig(unix.SIGINT), next: killing, kills: 1, timer: killPassEvery, signal: "escalated"},
		{phase: draining, ended: true, ev: sig(unix.SIGUSR1), next: draining, signal: "dropped"},
		// A timeout drains with the main child alive: signals are not
		// forwarded then either, and its exit changes nothing.
		{phase: draining, ev: sig(unix.SIGHUP), next: draining, signal: "dropped"},
		{phase: draining, ev: exit(3, true), next: draining},
		{phase: killing, ended: true, ev: timer, next: killing, kills: 1, timer: killPassEvery},
		{phase: killing, ended: true, ev: late, next: done},
		{phase: killing, ev: exit(137, false), next: killing},
		{phase: killing, ev: sig(unix.SIGTERM), next: killing, signal: "dropped"},
		{phase: killing, ev: sig(unix.SIGUSR1), next: killing, signal: "dropped"},
		// A timeout with no Go program to dump (the fakes have no
		// /proc) drains at once, the main child included; with a
		// timeout signal, the tree gets that signal.
		{phase: running, ev: timeout, grace: grace, next: draining, terms: 1, termSig: unix.SIGTERM, timer: grace},
		{phase: stopping, ev: timeout, grace: grace, next: draining, terms: 1, termSig: unix.SIGTERM, timer: grace},
		{phase: running, ev: timeout, timSig: unix.SIGUSR1, grace: grace, next: draining, terms: 1, termSig: unix.SIGUSR1, timer: grace},
		{phase: draining, ended: true, ev: timeout, next: draining},
		{phase: quitting, ev: timer, grace: grace, next: draining, terms: 1, termSig: unix.SIGTERM, timer: grace},
		{phase: quitting, ev: sig(unix.SIGTERM), next: killing, kills: 1, timer: killPassEvery, signal: "escalated"},
		{phase: quitting, ev: sig(unix.SIGUSR1), next: quitting, signal: "dropped"},
		{phase: running, ev: idle, next: done},
		{phase: draining, ended: true, ev: idle, next: done},
		{phase: killing, ended: true, ev: idle, next: done},
	}
	for _, tt := range tests {
		name := tt.phase.String() + "/" + tt.ev.name
		t.Run(name, func(t *testing.T) {
			s, k, to, c := newFakeRun(tt.phase, tt.ended, Config{Grace: tt.grace, SingleChild: tt.single, TimeoutSignal: tt.timSig})
			tt.ev.do(s)
			if s.phase != tt.next {
				t.Errorf("(%v, %s) -> %v, want %v", tt.phase, tt.ev.name, s.phase, tt.next)
			}
			if !slices.Equal(to.sent, tt.sent) {
				t.Errorf("(%v, %s) sent %q to the main child, want %q", tt.phase, tt.ev.name, to.sent, tt.sent)
			}
			if k.terms != tt.terms || k.kills != tt.kills || k.termSig != tt.termSig {
				t.Errorf("(%v, %s): %d SIGTERM rounds (%v), %d SIGKILL passes; want %d (%v), %d", tt.phase, tt.ev.name, k.terms, k.termSig, k.kills, tt.terms, tt.termSig, tt.kills)
			}
			var set time.Duration
			if n := len(c.afters); n > 0 {
				set = c.afters[n-1]
			}
			if (s.timer != nil) != (tt.timer != 0) || set != tt.timer {
				t.Errorf("(%v, %s): timer %v (set: %v), want %v", tt.phase, tt.ev.name, set, s.timer != nil, tt.timer)
			}
			// The grace period runs from the signals, not from before the
			// leftovers were described.
			if tt.terms > 0 && tt.timer == tt.grace && k.timersAtTerm >= len(c.afters) {
				t.Errorf("(%v, %s): the grace timer was set before the signals were sent", tt.phase, tt.ev.name)
			}
			sigs := s.rec.rec.Signals
			switch {
			case tt.signal == "" && len(sigs) != 0:
				t.Errorf("(%v, %s) recorded signals %+v", tt.phase, tt.ev.name, sigs)
			case tt.signal != "" && (len(sigs) != 1 || sigs[0].Action != tt.signal):
				t.Errorf("(%v, %s) recorded %+v, want one signal %s", tt.phase, tt.ev.name, sigs, tt.signal)
			}
		})
	}
}

// TestRunRecord drives a whole run through the fakes and checks what the
// record keeps: the exit, the leftover found and named, the passes, the
// give-up.
func TestRunRecord(t *testing.T) {
	s, _, _, _ := newFakeRun(running, false, Config{Grace: time.Second})
	for _, ev := range []event{sig(unix.SIGUSR1), exit(7, true), timer, timer, late} {
		ev.do(s)
	}
	rec := s.rec.rec
	if s.phase != done || !rec.GaveUp || rec.KillPasses != 2 {
		t.Errorf("phase %v, gave up %v, %d passes; want done, true, 2", s.phase, rec.GaveUp, rec.KillPasses)
	}
	if rec.Child.Code != 7 || rec.Child.From != "reaper" || rec.Child.Exited.IsZero() {
		t.Errorf("child record %+v, want code 7 from the reaper", rec.Child)
	}
	if len(rec.Leftovers) != 1 || rec.Leftovers[0].Pid != 100 || rec.Leftovers[0].Comm != "daemon" {
		t.Errorf("leftovers %+v, want the daemon", rec.Leftovers)
	}
	if len(rec.Signals) != 1 || rec.Signals[0].Signal != "SIGUSR1" || !rec.Signals[0].Group {
		t.Errorf("signals %+v, want SIGUSR1 forwarded to the group", rec.Signals)
	}
}

// TestQuitTargets: at a timeout, Go test binaries and Go programs that run
// no other Go program get SIGQUIT; cmd/go (or gotestsum) above a test
// binary does not, nor anything that is not Go.
func TestQuitTargets(t *testing.T) {
	procs := []diagnose.Process{
		{Pid: 10, PPid: 1, Go: true, Cmdline: "gotestsum"},
		{Pid: 11, PPid: 10, Go: true, Cmdline: "go test ./..."},
		{Pid: 12, PPid: 11, Go: true, GoTest: true, Cmdline: "/tmp/x/pkg.test -test.run=A"},
		{Pid: 13, PPid: 12, Go: true, Cmdline: "/tmp/x/pkg.test -test.run=^$ helper"},
		{Pid: 14, PPid: 12, Cmdline: "sleep 100"},
		{Pid: 15, PPid: 1, Go: true, Cmdline: "server"},
		{Pid: 16, PPid: 1, Go: true, State: "Z", Cmdline: "dead"},
	}
	var got []int
	for _, p := range quitTargets(procs) {
		got = append(got, p.Pid)
	}
	if want := []int{12, 13, 15}; !slices.Equal(got, want) {
		t.Errorf("quitTargets = %v, want %v", got, want)
	}
}

// TestSlowFirstKillPass: a first SIGKILL pass that takes longer than
// killWait (a fork bomb's walk) is still followed by more passes, for
// killWait from its end, before tinit gives up.
func TestSlowFirstKillPass(t *testing.T) {
	s, k, _, c := newFakeRun(draining, true, Config{Grace: time.Second})
	k.killTakes = 2 * killWait
	s.onTimer() // the grace is over: the first pass, slow
	k.killTakes = 0
	s.onTimer()
	if s.phase != killing || k.kills != 2 {
		t.Fatalf("after a slow first pass: phase %v, %d passes; want killing, 2", s.phase, k.kills)
	}
	c.now = c.now.Add(killWait + time.Millisecond)
	s.onTimer()
	if s.phase != done || !s.rec.rec.GaveUp {
		t.Errorf("killWait after the first pass: phase %v, gave up %v; want done, true", s.phase, s.rec.rec.GaveUp)
	}
}
