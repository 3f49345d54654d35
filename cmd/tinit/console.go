package main

import (
	"bytes"
	"io"
	"strconv"
	"strings"

	"github.com/tinit-dev/tinit/internal/escape"
)

// consoleWriter renders tinit's JSON log lines for a person at a terminal:
//
//	15:04:05.000 WRN pidfds unavailable; falling back ... error="..."
//
// It stands in for zerolog.ConsoleWriter, which decodes every line with
// encoding/json and pulls in a color library: a quarter of a megabyte of
// binary, and so of resident memory in every container tinit runs in. tinit
// only logs flat objects of strings, numbers and booleans, which need no
// general decoder. A line it cannot read is written as it came.
//
// With head set, a line starts with what head returns for its level
// instead of the time and a level tag: a peer's own prefix, such as
// "[WARN  tini (7)] " (see persona.go), and the component field is left
// out: a peer's lines carry none, and scripts grep for its exact words.
type consoleWriter struct {
	out  io.Writer
	head func(level string) string
}

// field is one key and its value, a string already unquoted.
type field struct{ key, value string }

func (w consoleWriter) Write(p []byte) (int, error) {
	fields, ok := parseFlat(p)
	if !ok {
		if _, err := w.out.Write(safeRaw(p)); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	var line, rest []byte
	var when, level, msg string
	for _, f := range fields {
		switch f.key {
		case "time":
			when = f.value
		case "level":
			level = f.value
		case "message":
			msg = f.value
		case "app":
		case "component":
			if w.head == nil {
				rest = append(rest, " component="...)
				rest = appendValue(rest, f.value)
			}
		default:
			rest = append(rest, ' ')
			rest = appendText(rest, f.key)
			rest = append(rest, '=')
			rest = appendValue(rest, f.value)
		}
	}
	if w.head != nil {
		line = append(line, w.head(level)...)
	} else {
		// The time field is 2006-01-02T15:04:05.000Z07:00; keep the clock.
		if len(when) >= 23 {
			when = when[11:23]
		}
		line = appendText(line, when)
		line = append(line, ' ')
		line = append(line, levelTag(level)...)
		line = append(line, ' ')
	}
	line = appendText(line, msg)
	line = append(append(line, rest...), '\n')
	if _, err := w.out.Write(line); err != nil {
		return 0, err
	}
	return len(p), nil
}

func levelTag(level string) string {
	switch level {
	case "debug":
		return "DBG"
	case "info":
		return "INF"
	case "warn":
		return "WRN"
	case "error":
		return "ERR"
	}
	return "???"
}

// appendValue quotes a value that would not read as one word, or that
// holds anything but printable characters: a process's name or command
// line may carry terminal escapes (ESC, BEL, the C1 controls) or invalid
// UTF-8, and none of it may reach the terminal raw.
func appendValue(b []byte, v string) []byte {
	if v == "" || strings.ContainsAny(v, " \"=") || !escape.Clean(v) {
		return strconv.AppendQuote(b, v)
	}
	return append(b, v...)
}

// appendText appends s as it is if printable, quoted otherwise.
func appendText(b []byte, s string) []byte {
	if escape.Clean(s) {
		return append(b, s...)
	}
	return strconv.AppendQuote(b, s)
}

// safeRaw returns a line that could not be parsed with every byte that is
// not printable, newline and tab aside, written as a Go escape.
func safeRaw(p []byte) []byte {
	if escape.Clean(strings.NewReplacer("\n", "", "\t", "").Replace(string(p))) {
		return p
	}
	var out []byte
	for _, part := range bytes.SplitAfter(p, []byte{'\n'}) {
		line, nl := bytes.CutSuffix(part, []byte{'\n'})
		q := strconv.Quote(string(line))
		out = append(out, q[1:len(q)-1]...)
		if nl {
			out = append(out, '\n')
		}
	}
	return out
}

// parseFlat reads one JSON object whose values are all scalars. It reports
// false for anything else: nested values, bad syntax, trailing bytes.
func parseFlat(p []byte) ([]field, bool) {
	p = bytes.TrimSpace(p)
	if len(p) < 2 || p[0] != '{' || p[len(p)-1] != '}' {
		return nil, false
	}
	p = bytes.TrimSpace(p[1 : len(p)-1])
	var fields []field
	for len(p) > 0 {
		key, rest, ok := cutString(p)
		if !ok {
			return nil, false
		}
		rest = bytes.TrimSpace(rest)
		if len(rest) == 0 || rest[0] != ':' {
			return nil, false
		}
		rest = bytes.TrimSpace(rest[1:])
		var value string
		if len(rest) > 0 && rest[0] == '"' {
			value, rest, ok = cutString(rest)
		} else {
			end := bytes.IndexByte(rest, ',')
			if end < 0 {
				end = len(rest)
			}
			raw := bytes.TrimSpace(rest[:end])
			value, rest, ok = string(raw), rest[end:], len(raw) > 0 && !bytes.ContainsAny(raw, "{}[]\"")
		}
		if !ok {
			return nil, false
		}
		fields = append(fields, field{key: key, value: value})
		rest = bytes.TrimSpace(rest)
		if len(rest) > 0 {
			if rest[0] != ',' {
				return nil, false
			}
			rest = bytes.TrimSpace(rest[1:])
			if len(rest) == 0 {
				return nil, false
			}
		}
		p = rest
	}
	return fields, true
}

// cutString reads a JSON string at the start of p and returns it unquoted
// with the bytes after it.
func cutString(p []byte) (string, []byte, bool) {
	if len(p) == 0 || p[0] != '"' {
		return "", nil, false
	}
	for i := 1; i < len(p); i++ {
		switch p[i] {
		case '\\':
			i++ // skip the escaped byte
		case '"':
			s, err := strconv.Unquote(string(p[:i+1]))
			if err != nil {
				// JSON allows \/, which Go does not: keep the raw text.
				s = string(p[1:i])
			}
			return s, p[i+1:], true
		}
	}
	return "", nil, false
}
