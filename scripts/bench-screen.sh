#!/bin/sh
# bench-screen.sh: what keeper's screen emulator (detach/vt, on in every
# keeper session master by default) costs. Three parts:
#   1. parse speed on one core (GOMAXPROCS=1) on the project's recordings
#      and on cat of plain text, with allocations per run (detach/vt's own
#      benchmarks through go test -bench; target at least 50 MB/s, and no
#      allocation per byte in the ground state: TestWriteNoAllocs checks it);
#   2. master memory: idle at 80x24 with empty scrollback (target at most
#      3.5 MB) and after 2,000 lines of 200x50 scrollback, each against
#      KEEPER_SCREEN=off (keeper-bench screen);
#   3. the detach benchmark against Debian's dtach with the emulator on
#      (throughput still at least 1.2x dtach; keeper-bench detach).
# Exits non-zero only when a benchmark could not run, never for a missed
# target.
#
# Environment: DTACH (default /usr/bin/dtach), ROUNDS (default 5), MB
# (default 64), SESSIONS (default 20), BENCHTIME (default 2s), GO (default go).
set -eu

cd "$(dirname "$0")/.."
GO=${GO:-go}
DTACH=${DTACH:-/usr/bin/dtach}

[ -n "${MAKELEVEL:-}" ] || make --no-print-directory build GO="$GO"
"$GO" build -o bin/keeper-bench ./internal/cmd/keeper-bench

echo "== 1. parse speed on one core (go test -bench, GOMAXPROCS=1)"
"$GO" test -run 'TestWriteNoAllocs' -bench 'Write' -benchmem -cpu 1 -benchtime "${BENCHTIME:-2s}" ./detach/vt/
echo
echo "== 2. master memory"
bin/keeper-bench screen -keeper bin/keeper -rounds "${ROUNDS:-5}"
echo
echo "== 3. detach benchmark with the emulator on"
if [ ! -x "$DTACH" ]; then
	echo "bench-screen: $DTACH not found: install Debian's dtach (apt-get install dtach) or set DTACH" >&2
	exit 1
fi
exec bin/keeper-bench detach -keeper bin/keeper -dtach "$DTACH" \
	-rounds "${ROUNDS:-5}" -mb "${MB:-64}" -sessions "${SESSIONS:-20}"
