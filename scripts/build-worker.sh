#!/usr/bin/env bash
# The wrangler.toml build command: compiles the worker to WASM with the pinned, local
# wasm-bindgen, wasm-opt and esbuild (worker-build would otherwise download them).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
for bin in "$WASM_BINDGEN_BIN" "$WASM_OPT_BIN" "$ESBUILD_BIN"; do
  [ -x "$bin" ] || { echo "missing $bin: run scripts/install-tools.sh" >&2; exit 1; }
done
exec worker-build --release
