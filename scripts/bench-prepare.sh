#!/usr/bin/env bash
# What scripts/bench.sh and scripts/profile.sh need before they start the stack: the
# toolchain, wrk (Debian), the private Postgres, the origin and the worker built. Prints
# the admin database URL the runners create their `bench_*` databases from.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

bash scripts/install-tools.sh >&2
if ! command -v wrk >/dev/null 2>&1; then
  log "apt-get install wrk" >&2
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
bash scripts/pg.sh start >&2
log "building the origin and the worker" >&2
origin_cargo build -q >&2
bash scripts/build-worker.sh >/dev/null
bash scripts/pg.sh url postgres
