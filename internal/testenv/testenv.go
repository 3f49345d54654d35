// Package testenv decides what a test does when the machine lacks something
// it needs: skip and say why, or fail where a skip would hide a gap.
//
// A skip is allowed only outside CI and outside `make test`. With CI=true
// (the convention of GitHub Actions, GitLab CI and most others) or
// TINIT_TEST_STRICT=1 (set by `make test`), a missing capability fails the
// test, unless TINIT_TEST_ALLOW_MISSING names it (a comma-separated list of
// capability names, or "all"): then it is skipped. Every skip is appended
// to the file named by TINIT_TEST_SKIPLOG, one line each, so that `make
// test` can end with the list of what was skipped and why.
//
// It does not probe for capabilities itself: each test finds out what it
// needs and hands the outcome to Need.
package testenv

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

// The variables that set the policy.
const (
	envStrict  = "TINIT_TEST_STRICT"
	envAllow   = "TINIT_TEST_ALLOW_MISSING"
	envSkipLog = "TINIT_TEST_SKIPLOG"
)

// Need returns at once when err is nil. Otherwise the machine lacks
// capability (a short name such as "runc" or "cgroup2"), err says why, and
// the test is skipped or, where skips are not allowed, failed.
func Need(t testing.TB, capability string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	msg := fmt.Sprintf("missing capability %s: %v", capability, err)
	if Strict() && !allowed(capability) {
		t.Fatalf("%s (skips are not allowed here; set %s=%s if this machine truly lacks it)", msg, envAllow, capability)
		return
	}
	logSkip(t.Name(), msg)
	t.Skip(msg)
}

// Strict reports whether a missing capability fails the test.
func Strict() bool {
	return os.Getenv("CI") == "true" || os.Getenv(envStrict) == "1"
}

func allowed(capability string) bool {
	list := strings.Split(os.Getenv(envAllow), ",")
	return slices.Contains(list, "all") || slices.Contains(list, capability)
}

// logSkip appends one line to the skip log, if there is one. O_APPEND keeps
// the lines of concurrent test processes whole.
func logSkip(test, msg string) {
	path := os.Getenv(envSkipLog)
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "%s: %s\n", test, msg)
}
