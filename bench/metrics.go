package main

import (
	"strconv"
	"time"
)

// targetKind says how a metric's target is judged on tinit's samples.
type targetKind int

const (
	noTarget     targetKind = iota
	atMostBest              // median <= Factor x the best peer's median
	atMostPeer              // median <= the median of peer Peer
	atMostValue             // median <= Limit
	atLeastValue            // median >= Limit
	allAtMost               // every sample (the max) <= Limit
)

// target is one of the goals for tinit.
type target struct {
	Kind   targetKind
	Factor float64
	Peer   string
	Limit  float64
}

// String is the target as the table shows it.
func (t target) String() string {
	num := func(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
	switch t.Kind {
	case atMostBest:
		if t.Factor == 1 {
			return "<= best peer"
		}
		return "<= " + num(t.Factor) + "x best peer"
	case atMostPeer:
		return "<= " + t.Peer
	case atMostValue:
		return "<= " + num(t.Limit)
	case atLeastValue:
		return ">= " + num(t.Limit)
	case allAtMost:
		return "max <= " + num(t.Limit)
	}
	return ""
}

// metric is one measured quantity. Every metric here is a cost: lower is
// better, and the best peer is the one with the lowest median.
type metric struct {
	Key      string
	Scenario string
	Label    string
	Unit     string
	Digits   int  // decimals shown
	Ratio    bool // a ratio to the best peer means something
	Baseline bool // the no-init baseline takes part
	Target   target
}

// metricsFor lists every metric in report order. The PID-1 exit target
// depends on the grace given to tinit.
func metricsFor(grace time.Duration) []metric {
	graceMs := float64(grace.Milliseconds())
	exitLabel := "workload exit -> init exit (tinit --grace " + grace.String() + ")"
	return []metric{
		{"startup.wall", "startup", "INIT -- true, wall", "ms", 3, true, true, target{}},
		{"startup.overhead", "startup", "startup overhead vs baseline", "ms", 3, true, false, target{Kind: atMostPeer, Peer: nameTiniStatic}},
		{"storm.cpu_per_orphan", "storm", "init CPU per orphan", "µs", 2, true, false, target{Kind: atMostBest, Factor: 1}},
		{"storm.wall", "storm", "storm wall time", "s", 2, true, true, target{}},
		{"storm.zombies_peak", "storm", "zombies awaiting init, peak", "count", 1, true, true, target{Kind: atMostBest, Factor: 1}},
		{"storm.zombies_mean", "storm", "zombies awaiting init, mean", "count", 2, true, true, target{}},
		{"storm.reap_lag", "storm", "reap lag (Little's law)", "µs", 1, true, true, target{}},
		{"subreaper.survivors", "subreaper", "sleepers surviving the init", "count", 0, false, true, target{Kind: allAtMost, Limit: 0}},
		{"subreaper.exit", "subreaper", exitLabel, "ms", 1, true, true, target{}},
		{"pid1.exit", "pid1", exitLabel, "ms", 1, true, true, target{Kind: atMostValue, Limit: graceMs + 50}},
		{"signal.latency", "signal", "SIGTERM -> init exit", "ms", 3, true, false, target{Kind: atMostBest, Factor: 1.2}},
		{"signal.code", "signal", "init exit code after SIGTERM", "code", 0, false, false, target{}},
		{"rss.vmrss", "rss", "idle VmRSS", "MiB", 2, true, false, target{Kind: atMostValue, Limit: 3}},
		{"rss.vmhwm", "rss", "idle VmHWM (peak RSS)", "MiB", 2, true, false, target{}},
		{"rss.anon", "rss", "idle anonymous memory (RssAnon)", "MiB", 2, true, false, target{Kind: atMostValue, Limit: 1}},
		{"rss.vmrss_gomaxprocs1", "rss", "idle VmRSS, GOMAXPROCS=1 in the environment", "MiB", 2, true, false, target{Kind: atMostValue, Limit: 3}},
		{"rss.anon_gomaxprocs1", "rss", "idle RssAnon, GOMAXPROCS=1", "MiB", 2, true, false, target{Kind: atMostValue, Limit: 1}},
		{"rss.vmrss_gomaxprocs8", "rss", "idle VmRSS, GOMAXPROCS=8", "MiB", 2, true, false, target{Kind: atMostValue, Limit: 3}},
		{"rss.anon_gomaxprocs8", "rss", "idle RssAnon, GOMAXPROCS=8", "MiB", 2, true, false, target{Kind: atMostValue, Limit: 1}},
		{"rss.vmrss_gomaxprocs64", "rss", "idle VmRSS, GOMAXPROCS=64", "MiB", 2, true, false, target{Kind: atMostValue, Limit: 3}},
		{"rss.anon_gomaxprocs64", "rss", "idle RssAnon, GOMAXPROCS=64", "MiB", 2, true, false, target{Kind: atMostValue, Limit: 1}},
		{"size.mib", "size", "binary size", "MiB", 2, true, false, target{Kind: atMostValue, Limit: 3}},
		{"size.static", "size", "static ELF (1 yes, 0 no)", "bool", 0, false, false, target{Kind: atLeastValue, Limit: 1}},
		{"churn.cpu_per_child", "churn", "init CPU per piped child", "µs", 3, true, false, target{}},
		{"diagnosis.took", "diagnosis", "diagnosis of 1,000 processes with 10 fds each", "ms", 1, true, false, target{Kind: atMostValue, Limit: 250}},
		{"diagnosis.tinit_rss", "diagnosis", "tinit's peak RSS over that run (VmHWM)", "MiB", 2, true, false, target{}},
		{"sandbox.wall", "sandbox", "tinit sandbox -- true, wall", "ms", 3, false, false, target{}},
		{"sandbox.bwrap", "sandbox", "bwrap --unshare-pid --unshare-user --dev-bind / / --proc /proc true, same batch", "ms", 3, false, false, target{}},
		{"sandbox.ratio", "sandbox", "tinit sandbox / bwrap, same batch", "x", 2, false, false, target{Kind: atMostValue, Limit: 1}},
		{"churn.init_cpu_total", "churn", "init CPU, whole run", "ms", 2, true, false, target{}},
		{"churn.wall_per_child", "churn", "wall per piped child", "ms", 3, true, true, target{}},
	}
}
