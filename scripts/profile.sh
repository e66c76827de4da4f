#!/usr/bin/env bash
# Where a request's CPU goes (issue 8): the local stack as scripts/bench.sh starts it, one
# wrk mode for 8 s under V8's sampling profiler in the worker's isolate; prints the top
# functions by self and inclusive samples. Loopback only, bounded by `timeout`.
#
#   bash scripts/profile.sh            # the cached page
#   bash scripts/profile.sh click      # page | uncounted | floor | view | click | beacon
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

bash scripts/install-tools.sh
if ! command -v wrk >/dev/null 2>&1; then
  log "apt-get install wrk"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
bash scripts/pg.sh start
cargo build -q -p launch-edge-origin
bash scripts/build-worker.sh >/dev/null
export BENCH_ADMIN_DATABASE_URL="$(bash scripts/pg.sh url postgres)"
exec timeout -s TERM 300 node bench/profile.mjs "${1:-page}"
