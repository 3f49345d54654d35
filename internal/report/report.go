// Package report writes a run's record as the files CI systems read: a
// JSON document (the record itself, with the schema's version and tinit's,
// described by report.schema.json at the top of the repository) and a
// JUnit XML file whose test cases are the command's exit, each leaked
// process and the timeout, so that a leak or a hang shows in the CI's own
// test report even where the runner called the run a success.
//
// Both are written atomically (a temporary file in the same directory,
// then a rename), so a reader never sees half a report. The package does
// not decide what a run was: the record says it.
package report

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tinit-dev/tinit/internal/escape"
	"github.com/tinit-dev/tinit/internal/sandbox"
	"github.com/tinit-dev/tinit/subreaper"
)

// SchemaVersion is the version of report.schema.json the JSON document
// follows; it changes when a field changes meaning or goes away.
const SchemaVersion = 1

// Document is the JSON report: the record with what the reader needs to
// interpret it.
type Document struct {
	Schema   int     `json:"schema"`
	Tinit    string  `json:"tinit"`
	Duration float64 `json:"duration_s"`
	// Sandbox is set for a run of `tinit sandbox`.
	Sandbox *Sandbox `json:"sandbox,omitempty"`
	*subreaper.Record
}

// Sandbox is what a sandboxed run adds to its report. The record's pids
// are those the sandbox's pid namespace gave.
type Sandbox struct {
	UserNS  bool                 `json:"userns"`
	NetNone bool                 `json:"net_none"`
	Binds   int                  `json:"binds"`
	Cgroup  sandbox.CgroupReport `json:"cgroup"`
}

// WriteJSON writes rec as a JSON document to path.
func WriteJSON(path string, rec *subreaper.Record, version string) error {
	return WriteSandboxJSON(path, rec, nil, version)
}

// WriteSandboxJSON writes rec as a JSON document to path, with sb, the
// sandbox's part, when it is not nil.
func WriteSandboxJSON(path string, rec *subreaper.Record, sb *Sandbox, version string) error {
	doc := Document{Schema: SchemaVersion, Tinit: version, Duration: rec.End.Sub(rec.Start).Seconds(), Sandbox: sb, Record: rec}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("encode the report: %w", err)
	}
	return writeAtomic(path, append(b, '\n'))
}

// writeAtomic writes b to a temporary file next to path and renames it.
func writeAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	_, werr := f.Write(b)
	if err := f.Close(); werr == nil {
		werr = err
	}
	if werr == nil {
		werr = os.Chmod(tmp, 0o644)
	}
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, werr)
	}
	return nil
}

// testCase is one <testcase> of the JUnit file.
type testCase struct {
	class, name string
	seconds     float64
	failure     string // message; "" for a pass
	detail      string
}

// WriteJUnit writes rec as a JUnit XML file to path: the command's exit,
// one case per leaked process (or one passing case saying none was left),
// and the timeout when one fired, its diagnosis as the failure's text.
func WriteJUnit(path string, rec *subreaper.Record, version string) error {
	cmd := escape.Printable(strings.Join(rec.Command, " "))
	took := rec.End.Sub(rec.Start).Seconds()
	cases := []testCase{exitCase(rec, cmd, took)}
	if len(rec.Leftovers) == 0 {
		cases = append(cases, testCase{class: "tinit.leaks", name: "no process left behind"})
	}
	for _, l := range rec.Leftovers {
		name := fmt.Sprintf("leaked pid %d: %s", l.Pid, orComm(l.Cmdline, l.Comm))
		msg := fmt.Sprintf("left running when the command exited (%s)", orUnknown(l.Ended))
		detail := fmt.Sprintf("pid %d, parent %d, state %s, age %.1fs", l.Pid, l.PPid, l.State, l.Age)
		if l.Test != "" {
			detail += ", test " + l.Test
		}
		if len(l.Holds) > 0 {
			detail += ", holds the write end of " + strings.Join(l.Holds, " and ")
		}
		cases = append(cases, testCase{class: "tinit.leaks", name: name, failure: msg, detail: detail})
	}
	if t := rec.Timeout; t != nil {
		cases = append(cases, testCase{class: "tinit", name: "timeout", seconds: t.After,
			failure: fmt.Sprintf("timed out after %v", time.Duration(t.After*float64(time.Second))), detail: diagnosisText(rec)})
	}
	failures := 0
	for _, c := range cases {
		if c.failure != "" {
			failures++
		}
	}
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	fmt.Fprintf(&b, `<testsuites name="tinit" tests="%d" failures="%d" time="%.3f">`+"\n", len(cases), failures, took)
	fmt.Fprintf(&b, `  <testsuite name="tinit %s" tests="%d" failures="%d" errors="0" skipped="0" time="%.3f" timestamp="%s">`+"\n",
		attr(version), len(cases), failures, took, rec.Start.UTC().Format("2006-01-02T15:04:05"))
	for _, c := range cases {
		fmt.Fprintf(&b, `    <testcase classname="%s" name="%s" time="%.3f"`, attr(c.class), attr(c.name), c.seconds)
		if c.failure == "" {
			b.WriteString("/>\n")
			continue
		}
		fmt.Fprintf(&b, ">\n      <failure message=\"%s\" type=\"tinit\">%s</failure>\n    </testcase>\n", attr(c.failure), text(c.detail))
	}
	b.WriteString("  </testsuite>\n</testsuites>\n")
	return writeAtomic(path, []byte(b.String()))
}

// exitCase is the command's own outcome: leaks and the timeout have cases
// of their own.
func exitCase(rec *subreaper.Record, cmd string, took float64) testCase {
	c := testCase{class: "tinit", name: "command: " + cmd, seconds: took}
	switch rec.Exit {
	case "not started":
		c.failure, c.detail = "could not start: "+rec.Error, rec.Error
	case "timeout":
		c.failure = "ended by the timeout"
	case "status lost", "survived SIGKILL":
		c.failure = fmt.Sprintf("exit code %d (%s)", rec.ExitCode, rec.Exit)
	default:
		if rec.Child.Code != 0 {
			c.failure = fmt.Sprintf("exit code %d", rec.Child.Code)
			if rec.Child.Signal != "" {
				c.detail = "killed by " + rec.Child.Signal
			}
		}
	}
	return c
}

// diagnosisText renders the run's diagnoses for a failure's text.
func diagnosisText(rec *subreaper.Record) string {
	var b strings.Builder
	for _, d := range rec.Diagnoses {
		fmt.Fprintf(&b, "diagnosis (%s), %d processes\n", d.Reason, len(d.Processes))
		for _, u := range d.Unreadable {
			b.WriteString("could not read: " + u + "\n")
		}
		for _, f := range d.Findings {
			b.WriteString(f + "\n")
		}
		for _, p := range d.Processes {
			fmt.Fprintf(&b, "  pid %d ppid %d pgid %d sid %d state %s age %.1fs cpu %.2fs %s: %s\n",
				p.Pid, p.PPid, p.Pgid, p.Sid, p.State, p.Age, p.CPU, p.Cmdline, p.Why)
		}
	}
	return b.String()
}

func orComm(cmdline, comm string) string {
	if cmdline != "" {
		return cmdline
	}
	return comm
}

func orUnknown(s string) string {
	if s == "" {
		return "how it ended is unknown"
	}
	return s
}

// attr escapes s for an XML attribute; text for element content. Both
// escape what XML 1.0 cannot carry at all (control characters) as Go
// escapes, newlines and tabs of text aside.
func attr(s string) string {
	return xmlEscape(escape.Printable(s), true)
}

func text(s string) string {
	var parts []string
	for _, line := range strings.Split(s, "\n") {
		parts = append(parts, escape.Printable(line))
	}
	return xmlEscape(strings.Join(parts, "\n"), false)
}

func xmlEscape(s string, quote bool) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '&':
			b.WriteString("&amp;")
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '"' && quote:
			b.WriteString("&quot;")
		case r == '\n' && quote:
			b.WriteString("&#10;")
		case r == 0xFFFE || r == 0xFFFF:
			b.WriteString(strconv.QuoteRune(r))
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
