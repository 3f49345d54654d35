package main

import "time"

// fixtureReport is a small but complete report: a few metrics with every
// kind of target, an exit-code table, notes, errors, and a label that
// needs escaping in XML and Markdown.
func fixtureReport() report {
	res := newResults()
	res.add(nameTinit, sample{"storm.cpu_per_orphan": 15, "rss.vmrss": 2.5, "subreaper.survivors": 0})
	res.add(nameTinit, sample{"storm.cpu_per_orphan": 17, "rss.vmrss": 2.6, "subreaper.survivors": 0})
	res.add(nameTini, sample{"storm.cpu_per_orphan": 14, "rss.vmrss": 1.2, "subreaper.survivors": 50})
	res.add(nameTini, sample{"storm.cpu_per_orphan": 14.5, "rss.vmrss": 1.3, "subreaper.survivors": 50})
	res.add(nameBaseline, sample{"subreaper.survivors": 50})
	res.addCode(nameTinit, "exit 3", "3")
	res.addCode(nameTini, "exit 3", "3")
	res.addCode(nameTini, "exit 3", "1")
	res.note("a note with <angle> & \"quotes\"")
	res.fail("storm", nameTini, 0, errTest)
	inits := []initSpec{{Name: nameTinit}, {Name: nameTini}, {Name: nameBaseline}}
	rep := buildReportWith(fixtureConfig(), inits, []string{nameCatatonit}, res, 90*time.Second)
	rep.Machine = machine{Kernel: "6.1 <test>", CPU: "cpu & co", NProc: 2, GoVersion: "go1.26", Date: "2026-01-01T00:00:00Z"}
	rep.Metrics[0].Label = `odd | label <&>`
	return rep
}

func fixtureConfig() config {
	c := quickSizes
	c.Quick, c.Tinit, c.Out, c.Grace = true, "/x/bin/tinit", "out", tinitGrace
	return c
}

type testError string

func (e testError) Error() string { return string(e) }

const errTest = testError("boom")
