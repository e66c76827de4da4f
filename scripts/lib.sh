# Shared shell helpers, sourced by the other scripts. Paths, pinned versions, PATH set-up.
# shellcheck shell=bash
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ROOT
# Pinned tool versions. WASM_BINDGEN_VERSION must equal the `wasm-bindgen = "=..."` pin in Cargo.toml.
WASM_BINDGEN_VERSION="0.2.129"
WORKER_BUILD_VERSION="0.8.7"

# Node 22, wrangler, wasm-opt and esbuild come from node_modules (package-lock.json).
export PATH="$ROOT/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export WRANGLER_SEND_METRICS=false
# worker-build must never download: point it at the pinned local binaries.
export WASM_BINDGEN_BIN="$HOME/.cargo/bin/wasm-bindgen"
export WASM_OPT_BIN="$ROOT/node_modules/.bin/wasm-opt"
export ESBUILD_BIN="$ROOT/node_modules/@esbuild/linux-x64/bin/esbuild"

DATA_DIR="$ROOT/.data"
export PGPORT="${PGPORT:-55432}"
export PGHOST="${PGHOST:-127.0.0.1}"
export PGUSER="${PGUSER:-launch_edge}"
# PG_DIR: a second, private cluster (scripts/resilience.sh restarts its own on another port).
PG_DIR="${PG_DIR:-$DATA_DIR/pg}"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
