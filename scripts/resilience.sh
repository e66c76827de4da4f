#!/usr/bin/env bash
# The resilience suite: under steady load (views, clicks, beacon events) kills and
# restarts the origin, restarts Postgres and restarts `wrangler dev` with persistence, then
# checks exactly-once totals, pages served throughout with no 5xx, the cache key count
# under a random query flood, and that bad inputs are refused with nothing stored.
# Postgres here is a private cluster of its own (127.0.0.1:${RESILIENCE_PGPORT:-55440},
# .data/pg-resilience), so
# restarting it never disturbs the dev cluster. Prints what it did and found; exits
# non-zero if anything is off. A 40-second version runs in the test command
# (worker-tests/resilience.test.mjs). Then the backlog scenario (bench/resilience-backlog.mjs,
# also in the test command): a simulated two-hour outage on one shard per launch.
#
#   bash scripts/resilience.sh                          # 120 s of load at 40 requests/s
#   RESILIENCE_SECONDS=300 RESILIENCE_RATE=60 bash scripts/resilience.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

bash scripts/install-tools.sh
log "building the origin and the worker"
origin_cargo build -q
bash scripts/build-worker.sh >/dev/null

timeout -s TERM "${RESILIENCE_TIMEOUT_SECONDS:-1200}" node bench/resilience-main.mjs &
runner=$!
trap 'kill -TERM "$runner" 2>/dev/null || true; wait 2>/dev/null || true; PGPORT="${RESILIENCE_PGPORT:-55440}" PG_DIR="$ROOT/.data/pg-resilience" bash scripts/pg.sh stop' EXIT INT TERM
status=0
wait "$runner" || status=$?
exit "$status"
