#!/usr/bin/env bash
# make demo: run a test suite that leaks processes and one that hangs,
# first bare, then under tinit, and show what tinit reports.
set -euo pipefail
cd "$(dirname "$0")/.."
tinit=${TINIT:-bin/tinit}
suite=examples/leaky

servers() { pgrep -f 'leaky-demo-server' || true; }
cleanup() { pkill -9 -f 'leaky-demo-server' 2>/dev/null || true; pkill -9 -x 'sleep' -f 'sleep 300' 2>/dev/null || true; }
trap cleanup EXIT
cleanup
go -C "$suite" test -count=1 -run '^$' . >/dev/null # build once, so timings below are the tests'

echo "== 1. the suite in $suite, bare: go test"
go -C "$suite" test -count=1 -v . 2>&1 | sed 's/^/   | /'
sleep 0.2
echo "   left behind: $(servers | wc -l) server process(es) still running: $(servers | tr '\n' ' ')"
cleanup

echo
echo "== 2. the same suite under tinit (a subreaper), --fail-on-leak, a JSON report"
set +e
"$tinit" --log-format console --grace 1s --fail-on-leak --report /tmp/tinit-demo-report.json \
	-- go -C "$suite" test -count=1 . 2>&1 | sed 's/^/   | /'
code=${PIPESTATUS[0]}
set -e
echo "   tinit exited with $code (86: the suite passed but leaked); left behind: $(servers | wc -l) server process(es)"
echo "   the report, /tmp/tinit-demo-report.json: exit \"$(sed -n 's/^  "exit": "\(.*\)",*$/\1/p' /tmp/tinit-demo-report.json)\", $(grep -c '"pid":' /tmp/tinit-demo-report.json) pids named"

echo
echo "== 3. a test that hangs (it waits for output a backgrounded helper keeps open), bare:"
echo "   LEAKY_HANG=1 go test -run TestHang would wait for ever; coreutils timeout kills it and says nothing."
echo "   Under tinit --timeout 5s: a diagnosis, the test binary's goroutine dump, exit 124:"
set +e
LEAKY_HANG=1 "$tinit" --log-format console --timeout 5s --grace 500ms \
	-- go -C "$suite" test -count=1 -run TestHang . 2>&1 \
	| grep -v -e '^goroutine 0 ' -e '^\s' -e '^runtime\.' -e '^$' | head -40 | sed 's/^/   | /'
code=${PIPESTATUS[0]}
set -e
echo "   tinit exited with $code"
[ "$(servers | wc -l)" = 0 ]
