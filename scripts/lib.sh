# Shared shell helpers, sourced by the other scripts. Paths, pinned versions, PATH set-up.
# shellcheck shell=bash
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ROOT
# Pinned tool versions. WASM_BINDGEN_VERSION must equal the `wasm-bindgen = "=..."` pin in Cargo.toml.
WASM_BINDGEN_VERSION="0.2.129"
WORKER_BUILD_VERSION="0.8.7"

# cargo-installed tools live in $CARGO_HOME/bin, which is not always ~/.cargo (the official
# Rust image uses /usr/local/cargo).
CARGO_BIN_DIR="${CARGO_HOME:-$HOME/.cargo}/bin"
export CARGO_BIN_DIR
# Node 22, wrangler, wasm-opt and esbuild come from node_modules (package-lock.json).
export PATH="$ROOT/node_modules/.bin:$CARGO_BIN_DIR:$PATH"
export WRANGLER_SEND_METRICS=false
# worker-build must never download: point it at the pinned local binaries. wasm-bindgen is
# the one in $CARGO_BIN_DIR, else the first on PATH (install-tools.sh checks its version
# and installs the pinned one into $CARGO_BIN_DIR); esbuild is the npm package's
# launcher, which runs the platform's own binary (Linux or macOS, x64 or arm64).
if [ -x "$CARGO_BIN_DIR/wasm-bindgen" ] || ! command -v wasm-bindgen >/dev/null 2>&1; then
  WASM_BINDGEN_BIN="$CARGO_BIN_DIR/wasm-bindgen"
else
  WASM_BINDGEN_BIN="$(command -v wasm-bindgen)"
fi
export WASM_BINDGEN_BIN
export WASM_OPT_BIN="$ROOT/node_modules/.bin/wasm-opt"
export ESBUILD_BIN="$ROOT/node_modules/.bin/esbuild"

DATA_DIR="$ROOT/.data"
export PGPORT="${PGPORT:-55432}"
export PGHOST="${PGHOST:-127.0.0.1}"
export PGUSER="${PGUSER:-launch_edge}"
# PG_DIR: a second, private cluster (scripts/resilience.sh restarts its own on another port).
PG_DIR="${PG_DIR:-$DATA_DIR/pg}"

# The origin is a Cargo workspace of its own (origin/Cargo.toml says why); its builds go
# to the repository's ./target like the worker's, so target/debug/launch-edge-origin is
# where every script and test finds it. Usage: origin_cargo build|test|clippy|run ARGS...
origin_cargo() {
  local subcommand="$1"
  shift
  cargo "$subcommand" --manifest-path "$ROOT/origin/Cargo.toml" \
    --target-dir "${CARGO_TARGET_DIR:-$ROOT/target}" "$@"
}

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Runs a command as root: directly when we are root, through sudo otherwise.
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else return 127
  fi
}
