#!/usr/bin/env bash
# make demo: run a test suite that leaks processes, first bare, then under
# tinit, and show what each leaves behind.
set -euo pipefail
cd "$(dirname "$0")/.."
tinit=${TINIT:-bin/tinit}

servers() { pgrep -f 'leaky-demo-server' || true; }
cleanup() { pkill -9 -f 'leaky-demo-server' 2>/dev/null || true; }
trap cleanup EXIT
cleanup

echo "== 1. the suite in examples/leaky, bare: go test"
go -C examples/leaky test -count=1 -v . 2>&1 | sed 's/^/   | /'
sleep 0.2
left=$(servers | wc -l)
echo "   left behind: $left server process(es) still running: $(servers | tr '\n' ' ')"
cleanup

echo
echo "== 2. the same suite under tinit (as a subreaper, -v, --grace 1s)"
set +e
"$tinit" -v --grace 1s -- go -C examples/leaky test -count=1 -v . 2>&1 | sed 's/^/   | /'
code=${PIPESTATUS[0]}
set -e
echo "   tinit exited with $code (the suite's own status)"
left=$(servers | wc -l)
echo "   left behind: $left server process(es)"

if command -v unshare >/dev/null && [ "$(id -u)" = 0 ]; then
	echo
	echo "== 3. the same suite with tinit as PID 1 of a fresh pid namespace"
	set +e
	unshare --pid --fork --mount-proc "$tinit" -v --grace 1s -- go -C examples/leaky test -count=1 . 2>&1 | sed 's/^/   | /'
	set -e
	echo "   left behind: $(servers | wc -l) server process(es)"
fi
[ "$left" = 0 ]
