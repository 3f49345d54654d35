package report

import "time"

// fixtureReport is a small but complete report: a few metrics with every
// kind of target, an exit-code table, notes, errors, and a label that
// needs escaping in XML and Markdown.
func fixtureReport() Report {
	res := NewResults()
	res.Add(Tinit, Sample{"storm.cpu_per_orphan": 15, "rss.vmrss": 2.5, "subreaper.survivors": 0})
	res.Add(Tinit, Sample{"storm.cpu_per_orphan": 17, "rss.vmrss": 2.6, "subreaper.survivors": 0})
	res.Add(nameTini, Sample{"storm.cpu_per_orphan": 14, "rss.vmrss": 1.2, "subreaper.survivors": 50})
	res.Add(nameTini, Sample{"storm.cpu_per_orphan": 14.5, "rss.vmrss": 1.3, "subreaper.survivors": 50})
	res.Add(Baseline, Sample{"subreaper.survivors": 50})
	res.AddCode(Tinit, "exit 3", "3")
	res.AddCode(nameTini, "exit 3", "3")
	res.AddCode(nameTini, "exit 3", "1")
	res.Note("a note with <angle> & \"quotes\"")
	res.Fail("storm", nameTini, 0, errTest)
	rep := Build(Input{
		Config: fixtureConfig(), Params: "rounds 2 (quick true)",
		Inits:   []InitInfo{{Name: Tinit}, {Name: nameTini}, {Name: Baseline}},
		Missing: []string{nameCatatonit}, Metrics: fixtureMetrics, ExitCases: []string{"exit 3"},
		Results: res, Took: 90 * time.Second,
		Machine: Machine{Kernel: "6.1 <test>", CPU: "cpu & co", NProc: 2, GoVersion: "go1.26", Date: "2026-01-01T00:00:00Z"},
	})
	rep.Metrics[0].Label = `odd | label <&>`
	return rep
}

// fixtureMetrics has one metric of each kind of target.
var fixtureMetrics = []Metric{
	{"storm.cpu_per_orphan", "storm", "init CPU per orphan", "µs", 2, true, false, Target{Kind: AtMostBest, Factor: 1}},
	{"storm.wall", "storm", "storm wall time", "s", 2, true, true, Target{}},
	{"subreaper.survivors", "subreaper", "sleepers surviving the init", "count", 0, false, true, Target{Kind: AllAtMost, Limit: 0}},
	{"rss.vmrss", "rss", "idle VmRSS", "MiB", 2, true, false, Target{Kind: AtMostValue, Limit: 3}},
}

// fixtureConfig stands for a run's configuration, which a report records
// as it is.
func fixtureConfig() map[string]any { return map[string]any{"quick": true, "tinit": "/x/bin/tinit"} }

// The peers' names, as the benchmark calls them.
const (
	nameTini       = "tini"
	nameTiniStatic = "tini-static"
	nameDumbInit   = "dumb-init"
	nameCatatonit  = "catatonit"
)

type testError string

func (e testError) Error() string { return string(e) }

const errTest = testError("boom")
