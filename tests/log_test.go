// Reading tinit's JSON log.

package tests

import (
	"bufio"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// entry is one JSON line of tinit's log.
type entry map[string]any

// str returns the string field key, "" if absent.
func (e entry) str(key string) string { s, _ := e[key].(string); return s }

// num returns the number field key, -1 if absent.
func (e entry) num(key string) float64 {
	if n, ok := e[key].(float64); ok {
		return n
	}
	return -1
}

// flag returns the boolean field key and whether it is there.
func (e entry) flag(key string) (value, ok bool) { value, ok = e[key].(bool); return value, ok }

// isTrue is a flag that is there and true.
func isTrue(value, ok bool) bool { return ok && value }

// logEntries returns the lines of a JSON log whose message is msg ("" for
// every line); anything that is not a JSON object is ignored.
func logEntries(stderr, msg string) []entry {
	var out []entry
	for _, line := range strings.Split(stderr, "\n") {
		var e entry
		if json.Unmarshal([]byte(line), &e) == nil && e != nil && (msg == "" || e.str("message") == msg) {
			out = append(out, e)
		}
	}
	return out
}

// logs returns tinit's log lines with message msg.
func (r *run) logs(msg string) []entry { return logEntries(r.stderr.String(), msg) }

// waitLog waits until tinit has logged msg and returns the first such line.
func (r *run) waitLog(msg string, timeout time.Duration) entry {
	r.t.Helper()
	waitFor(r.t, timeout, fmt.Sprintf("tinit to log %q", msg), func() bool { return len(r.logs(msg)) > 0 })
	return r.logs(msg)[0]
}

// checkLog fails the test for every error-level line tinit logged, unless
// it contains one of the expected substrings: an error means tinit itself
// misbehaved (a double close, a lost status).
func (r *run) checkLog(expect []string) {
	sc := bufio.NewScanner(strings.NewReader(r.stderr.String()))
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, `"level":"error"`) {
			continue
		}
		allowed := false
		for _, e := range expect {
			allowed = allowed || strings.Contains(line, e)
		}
		if !allowed {
			r.t.Errorf("tinit logged an error: %s", line)
		}
	}
}
