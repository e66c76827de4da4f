#!/usr/bin/env bash
# Where a request's CPU goes: the local stack as scripts/bench.sh starts it, one
# wrk mode for 8 s under V8's sampling profiler in the worker's isolate; prints the top
# functions by self and inclusive samples. Loopback only, bounded by `timeout`.
#
#   bash scripts/profile.sh            # the cached page
#   bash scripts/profile.sh click      # page | uncounted | floor | view | click | beacon
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

# An assignment on its own line, so a failed preparation stops the script (set -e).
BENCH_ADMIN_DATABASE_URL="$(bash scripts/bench-prepare.sh)"
export BENCH_ADMIN_DATABASE_URL
# The deployed wasm has no names section: its frames print as wasm-function[N], named here
# from the debug artefact the same build wrote beside it.
timeout -s TERM 300 node bench/profile.mjs "${1:-page}" \
  | node scripts/wasm-names.mjs symbolize build/index_bg.debug.wasm build/index_bg.wasm
