#!/bin/sh
# bench-detach.sh: keeper's session master against Debian's dtach, in one
# run, interleaved, on the same workloads through dtach's wire protocol
# (flood throughput, keystroke echo latency, master memory). Prints each
# figure, the ratio keeper/dtach and the issue's targets; then the flood
# with keeper's session recorded against without (-record), and their
# ratio. Exits non-zero only when the benchmark could not run, never for a
# missed target.
#
# Environment: DTACH (default /usr/bin/dtach), ROUNDS (default 7, at least
# 5), MB (MiB per flood, default 64), SESSIONS (default 100), GO (default go),
# BENCH_ARGS (more keeper-bench detach flags, e.g. -strace).
set -eu

cd "$(dirname "$0")/.."
GO=${GO:-go}
DTACH=${DTACH:-/usr/bin/dtach}

if [ ! -x "$DTACH" ]; then
	echo "bench-detach: $DTACH not found: install Debian's dtach (apt-get install dtach) or set DTACH" >&2
	exit 1
fi

# Under "make bench-detach" the build target has just run.
[ -n "${MAKELEVEL:-}" ] || make --no-print-directory build GO="$GO"
"$GO" build -o bin/keeper-bench ./internal/cmd/keeper-bench
# The runtime's floor, built as make build builds the master.
CGO_ENABLED=0 "$GO" build -trimpath -ldflags '-s -w' -o bin/gosleep ./internal/cmd/gosleep
CGO_ENABLED=0 "$GO" build -trimpath -ldflags '-s -w' -o bin/gosleep-sigterm ./internal/cmd/gosleep-sigterm

# shellcheck disable=SC2086 # BENCH_ARGS is a list of flags
bin/keeper-bench detach -keeper bin/keeper -dtach "$DTACH" -floor bin/gosleep -sigfloor bin/gosleep-sigterm \
	-rounds "${ROUNDS:-7}" -mb "${MB:-64}" -sessions "${SESSIONS:-100}" ${BENCH_ARGS:-}
echo
# What recording a session (KEEPER_SESSION_LOG) costs the flood.
exec bin/keeper-bench detach -record -keeper bin/keeper -rounds "${ROUNDS:-7}" -mb "${MB:-64}"
