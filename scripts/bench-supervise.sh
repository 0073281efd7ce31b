#!/bin/sh
# bench-supervise.sh: keeper's daemon against Debian's supervisord, in one
# run, side by side on the same generated programs (50 "sleep infinity",
# startsecs=1): status command wall time, raw XML-RPC server time of
# getAllProcessInfo and getAPIVersion, crash-to-respawn latency, time to
# start all programs, daemon memory. Prints each figure, the ratio
# supervisord/keeper and the issues' targets. Exits non-zero only when the
# benchmark could not run, never for a missed target.
#
# Environment: SUPERVISORD (default /usr/bin/supervisord), SUPERVISORCTL
# (default /usr/bin/supervisorctl), PROGRAMS (default 50), STATUS (status
# commands per daemon, default 30), CALLS (calls per method, default 200),
# RESPAWNS (default 12), STARTS (default 5), EVENTS (events timed one by one,
# default 300), BURST (events sent back to back, default 2000), REEXECS
# (keeper reexec under 50 programs and 200 sessions, default 30), GO (default
# go), BENCH_ARGS (more keeper-bench supervise flags, e.g. -strace). Then the
# remote faces: getAllProcessInfo over [inet_http_server] with basic auth,
# and an event listener's latency and rate.
set -eu

cd "$(dirname "$0")/.."
GO=${GO:-go}
SUPERVISORD=${SUPERVISORD:-/usr/bin/supervisord}
SUPERVISORCTL=${SUPERVISORCTL:-/usr/bin/supervisorctl}

for f in "$SUPERVISORD" "$SUPERVISORCTL"; do
	if [ ! -x "$f" ]; then
		echo "bench-supervise: $f not found: install Debian's supervisor (apt-get install supervisor) or set SUPERVISORD and SUPERVISORCTL" >&2
		exit 1
	fi
done

# Under "make bench-supervise" the build target has just run.
[ -n "${MAKELEVEL:-}" ] || make --no-print-directory build GO="$GO"
"$GO" build -o bin/keeper-bench ./internal/cmd/keeper-bench

# shellcheck disable=SC2086 # BENCH_ARGS is a list of flags
bin/keeper-bench supervise -keeper bin/keeper -supervisord "$SUPERVISORD" -supervisorctl "$SUPERVISORCTL" \
	-programs "${PROGRAMS:-50}" -status "${STATUS:-30}" -calls "${CALLS:-200}" \
	-respawns "${RESPAWNS:-12}" -starts "${STARTS:-5}" ${BENCH_ARGS:-}
echo
# A dependency tree started cold, and the CPU of health checks.
bin/keeper-bench deps -keeper bin/keeper -supervisord "$SUPERVISORD"
echo
# keeper reexec under load: 50 programs, 200 sessions (issue 16).
bin/keeper-bench reexec -keeper bin/keeper -programs "${PROGRAMS:-50}" -n "${REEXECS:-30}"
echo
# The remote faces: [inet_http_server] with auth, and an event listener
# (supervisor.childutils under python3).
exec bin/keeper-bench remote -keeper bin/keeper -supervisord "$SUPERVISORD" \
	-programs "${PROGRAMS:-50}" -calls "${CALLS:-200}" -events "${EVENTS:-300}" -burst "${BURST:-2000}"
