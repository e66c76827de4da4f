#!/usr/bin/env bash
# Runs every test: formatting, clippy (native and wasm32), unit tests, the origin's
# integration tests on a private Postgres, the WASM build, and the end-to-end tests of
# the built worker in workerd. `.ci/run` calls exactly this.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

INSTALL_TEST_TOOLS=1 bash scripts/install-tools.sh
bash scripts/pg.sh start
export TEST_DATABASE_URL="$(bash scripts/pg.sh url postgres)"
# Databases left by earlier runs of the tests.
psql "$TEST_DATABASE_URL" -qAtc "SELECT datname FROM pg_database WHERE datname ~ '^(test|e2e)_'" \
  | while read -r db; do psql "$TEST_DATABASE_URL" -qc "DROP DATABASE IF EXISTS \"$db\"" >/dev/null; done

log "cargo fmt --check (the worker's workspace, then the origin's)"
cargo fmt --all -- --check
cargo fmt --manifest-path origin/Cargo.toml --all -- --check
log "launch-edge-core stays pure (no worker crate in its dependency tree)"
if cargo tree -p launch-edge-core --edges normal,build,dev --prefix none | grep -Eq '^(worker|worker-macros|wasm-bindgen) '; then
  echo "launch-edge-core depends on worker or wasm-bindgen: move that code to the worker crate (src/)" >&2
  exit 1
fi
log "the worker's lockfile keeps idna_adapter 1.0 (no Unicode tables in the WASM)"
# A plain `cargo update` would bring back 1.2 (ICU4X, 46 KiB of the WASM's gzip); Cargo.toml
# says why the worker does without it.
if [ "$(cargo tree -p launch-edge --target wasm32-unknown-unknown -i idna_adapter --depth 0 --prefix none 2>/dev/null)" != "idna_adapter v1.0.0" ]; then
  echo "Cargo.lock: idna_adapter is not 1.0.0; run: cargo update -p idna_adapter --precise 1.0.0" >&2
  exit 1
fi
log "cargo clippy (native)"
cargo clippy --workspace --all-targets -- -D warnings
origin_cargo clippy --all-targets -- -D warnings
log "cargo clippy (wasm32)"
cargo clippy -p launch-edge --target wasm32-unknown-unknown --all-targets -- -D warnings
log "cargo test (unit and origin integration tests)"
cargo test --workspace
origin_cargo test
log "alert rules (promtool check rules, promtool test rules)"
command -v promtool >/dev/null 2>&1 || { echo "promtool missing: INSTALL_TEST_TOOLS=1 bash scripts/install-tools.sh installs Debian's prometheus" >&2; exit 1; }
promtool check rules ops/alerts.yml
(cd ops && promtool test rules alerts.test.yml)
log "worker build (wasm32, release)"
origin_cargo build
bash scripts/build-worker.sh
log "origin release build (the Dockerfile's step)"
bash scripts/origin-release.sh build
log "end-to-end tests in workerd"
node --test --test-concurrency=1 "worker-tests/*.test.mjs"
