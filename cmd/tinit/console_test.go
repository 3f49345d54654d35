package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/tinit-dev/tinit/internal/escape"
)

func TestConsoleWriter(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", `{"level":"info","app":"tinit","component":"subreaper","pid":42,"pid1":false,"time":"2026-11-25T15:01:02.345Z","message":"main child started"}` + "\n",
			"15:01:02.345 INF main child started component=subreaper pid=42 pid1=false\n"},
		{"quoted values", `{"level":"warn","error":"pidfd_send_signal: function not implemented","time":"2026-11-25T15:01:02.345Z","message":"pidfds unavailable"}`,
			"15:01:02.345 WRN pidfds unavailable error=\"pidfd_send_signal: function not implemented\"\n"},
		{"escapes", `{"level":"error","what":"a \"b\"\\c\u00e9","message":"x"}`,
			" ERR x what=\"a \\\"b\\\"\\\\cé\"\n"},
		{"nested kept raw", `{"level":"info","obj":{"a":1},"message":"x"}`, `{"level":"info","obj":{"a":1},"message":"x"}`},
		{"not json", "hello\n", "hello\n"},
		{"not json, escapes", "a\x1b[31mb\n", "a\\x1b[31mb\n"},
		{"terminal escapes in a value", `{"level":"info","comm":"\u001b]0;x\u0007\u009b","message":"leftover process"}`,
			" INF leftover process comm=\"\\x1b]0;x\\a\\u009b\"\n"},
		{"escapes in the message", `{"level":"info","message":"a\u001bb"}`, " INF \"a\\x1bb\"\n"},
		{"trailing comma", `{"level":"info",}`, `{"level":"info",}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			n, err := consoleWriter{out: &out}.Write([]byte(tt.in))
			if err != nil || n != len(tt.in) {
				t.Fatalf("Write(%q) = %d, %v, want %d, nil", tt.in, n, err, len(tt.in))
			}
			if out.String() != tt.want {
				t.Errorf("Write(%q) wrote %q, want %q", tt.in, out.String(), tt.want)
			}
		})
	}
}

// TestConsoleWriterReadsZerolog checks the writer against what zerolog
// actually emits, so a zerolog change that breaks the format shows here.
func TestConsoleWriterReadsZerolog(t *testing.T) {
	var out bytes.Buffer
	log := zerolog.New(consoleWriter{out: &out}).With().Timestamp().Str("app", "tinit").Logger()
	log.Warn().Int("pid", 7).Str("cmd", "/bin/sleep 1").Bool("ok", true).Msg("leftover process")
	got := out.String()
	if !strings.Contains(got, ` WRN leftover process pid=7 cmd="/bin/sleep 1" ok=true`) || strings.Contains(got, "{") {
		t.Errorf("zerolog line rendered as %q", got)
	}
}

func FuzzParseFlat(f *testing.F) {
	f.Add(`{"level":"info","pid":1,"message":"x"}`)
	f.Add(`{"a":"\"","b":true}`)
	f.Add(`{}`)
	f.Fuzz(func(t *testing.T, s string) {
		fields, ok := parseFlat([]byte(s))
		if ok && len(fields) > 0 && !strings.HasPrefix(strings.TrimSpace(s), "{") {
			t.Errorf("parseFlat(%q) accepted input that is not an object", s)
		}
		var out bytes.Buffer
		if n, err := (consoleWriter{out: &out}).Write([]byte(s)); err != nil || n != len(s) {
			t.Errorf("Write(%q) = %d, %v", s, n, err)
		}
		if !escape.Clean(strings.NewReplacer("\n", "", "\t", "").Replace(out.String())) {
			t.Errorf("Write(%q) wrote %q: bytes that are not printable reach the terminal", s, out.String())
		}
	})
}
