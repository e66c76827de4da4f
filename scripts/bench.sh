#!/usr/bin/env bash
# The benchmark: starts the local stack on loopback only (a fresh database in the private
# Postgres, the origin, launch-edge, a constant-response floor worker and the JavaScript peer
# doing the same work, each under its own `wrangler dev`), measures the three alternately
# with wrk and runs an open-loop spike generator, then prints one table.
# Not part of scripts/test.sh. Bounded in time; every child is stopped on exit.
#
#   bash scripts/bench.sh                       # ~17 min: rows 3 rounds x 3 sides x 10 s, spike 3 min ramp + 2 min hold
#   BENCH_QUICK=1 bash scripts/bench.sh         # ~2 min: rows 5 s, spike 20 s ramp + 30 s hold
#
# Knobs: BENCH_SECONDS, BENCH_ROUNDS, BENCH_CONNECTIONS, BENCH_RAMP_SECONDS,
# BENCH_HOLD_SECONDS, BENCH_PEAK_RPS (750 = 45,000 a minute), BENCH_SKIP_SPIKE=1, BENCH_SKIP_ROWS=1,
# BENCH_ROWS=page,uncounted,view,click,beacon (a subset of the rows), BENCH_LAUNCHES=1,10,100 (adds
# a counted-view row per count, spread over that many launches; with BENCH_SKIP_ROWS=1 the floor
# and JS peer are not started).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

# An assignment on its own line, so a failed preparation stops the script (set -e).
BENCH_ADMIN_DATABASE_URL="$(bash scripts/bench-prepare.sh)"
export BENCH_ADMIN_DATABASE_URL
# A hard bound on the whole run; the runner stops its children on SIGTERM.
timeout -s TERM "${BENCH_TIMEOUT_SECONDS:-1500}" node bench/run.mjs &
runner=$!
trap 'kill -TERM "$runner" 2>/dev/null || true; wait 2>/dev/null || true' EXIT INT TERM
status=0
wait "$runner" || status=$?
exit "$status"
