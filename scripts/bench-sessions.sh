#!/bin/sh
# bench-sessions.sh: keeper's session tracking with many sessions (issue 4):
# a keeper daemon whose programs start SESSIONS detached sessions across
# PROGRAMS programs (keeper dtach, and in the mixed variant the real dtach
# for half the programs), then keeper sessions wall time, the daemon's
# keeper.getSessions time, time for keeper stop all to stop the workers the
# first program started outside its group while the sessions stay (issue
# 12), time for kill-sessions to reap them all, daemon CPU while idle and
# daemon RSS. Prints each figure with the issue's targets
# and PASS/FAIL. Exits non-zero only when the benchmark could not run,
# never for a missed target.
#
# Environment: DTACH (default /usr/bin/dtach; without it only the keeper
# variant runs), PROGRAMS (default 4), SESSIONS (default 200), RUNS (keeper
# sessions commands per form, default 30), CALLS (default 100), IDLE
# (default 10s), VARIANTS (default keeper,mixed), WORKERS (default 50), GO
# (default go), BENCH_ARGS (more keeper-bench sessions flags, e.g. -strace).
set -eu

cd "$(dirname "$0")/.."
GO=${GO:-go}
DTACH=${DTACH:-/usr/bin/dtach}
VARIANTS=${VARIANTS:-keeper,mixed}

if [ ! -x "$DTACH" ] && [ "$VARIANTS" != keeper ]; then
	echo "bench-sessions: $DTACH not found (apt-get install dtach, or set DTACH): running the keeper variant only" >&2
	VARIANTS=keeper
fi

# Under "make bench-sessions" the build target has just run; it also makes
# bin/path/dtach, keeper as dtach, which the programs find first in PATH.
[ -n "${MAKELEVEL:-}" ] || make --no-print-directory build GO="$GO"
"$GO" build -o bin/keeper-bench ./internal/cmd/keeper-bench

# shellcheck disable=SC2086 # BENCH_ARGS is a list of flags
bin/keeper-bench sessions -keeper bin/keeper -dtach "$DTACH" -variants "$VARIANTS" \
	-programs "${PROGRAMS:-4}" -sessions "${SESSIONS:-200}" -runs "${RUNS:-30}" \
	-calls "${CALLS:-100}" -idle "${IDLE:-10s}" -workers "${WORKERS:-50}" ${BENCH_ARGS:-}
echo
# What the resource figures cost: /metrics and keeper.getProcessUsage with
# 50 programs and 200 sessions, and the idle CPU with nobody scraping.
exec bin/keeper-bench usage -keeper bin/keeper -idle "${IDLE:-10s}"
