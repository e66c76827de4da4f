#!/usr/bin/env bash
# The origin's production build and run steps, in one place: the Dockerfile calls this
# script, and so does the test command (worker-tests/origin-release.test.mjs), so the
# steps the image runs are the steps CI runs (the image itself cannot be built here: no
# container registry is reachable).
#
#   bash scripts/origin-release.sh build     # cargo build --profile origin-release --locked (origin/Cargo.toml)
#   bash scripts/origin-release.sh migrate   # apply migrations (DATABASE_URL straight to Postgres, not PgBouncer)
#   bash scripts/origin-release.sh serve     # the server, configured only from the environment
#
# serve reads DATABASE_URL, ORIGIN_BIND, ORIGIN_SIGNING_SECRET and the optional settings
# of `launch-edge-origin serve --help`; it stops cleanly on SIGTERM. ORIGIN_BIN overrides
# the binary (the image sets /usr/local/bin/launch-edge-origin).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${ORIGIN_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/origin-release/launch-edge-origin}"
case "${1:-}" in
  build)
    cd "$ROOT"
    # origin/ is a Cargo workspace of its own; its build goes to ./target like the rest.
    cargo build --profile origin-release --locked --manifest-path "$ROOT/origin/Cargo.toml" \
      --target-dir "${CARGO_TARGET_DIR:-$ROOT/target}"
    ;;
  migrate) exec "$BIN" migrate ;;
  serve) exec "$BIN" serve ;;
  *) echo "usage: scripts/origin-release.sh build|migrate|serve" >&2; exit 2 ;;
esac
