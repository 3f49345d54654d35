package main

import (
	"bytes"
	"io"
	"strconv"
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
type consoleWriter struct{ out io.Writer }

// field is one key and its value, a string already unquoted.
type field struct{ key, value string }

func (w consoleWriter) Write(p []byte) (int, error) {
	fields, ok := parseFlat(p)
	if !ok {
		return w.out.Write(p)
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
		default:
			rest = append(rest, ' ')
			rest = append(rest, f.key...)
			rest = append(rest, '=')
			rest = appendValue(rest, f.value)
		}
	}
	// The time field is 2006-01-02T15:04:05.000Z07:00; keep the clock.
	if len(when) >= 23 {
		when = when[11:23]
	}
	line = append(line, when...)
	line = append(line, ' ')
	line = append(line, levelTag(level)...)
	line = append(line, ' ')
	line = append(line, msg...)
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

// appendValue quotes a value that would not read as one word.
func appendValue(b []byte, v string) []byte {
	if v == "" || bytes.ContainsAny([]byte(v), " \t\n\"=") {
		return strconv.AppendQuote(b, v)
	}
	return append(b, v...)
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
