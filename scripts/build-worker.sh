#!/usr/bin/env bash
# The wrangler.toml build command: compiles the worker to WASM with the pinned, local
# wasm-bindgen, wasm-opt and esbuild (worker-build would otherwise download them).
# Skips the work when build/ is newer than every input, so restarting `wrangler dev`
# (tests do it often) costs nothing.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
for bin in "$WASM_BINDGEN_BIN" "$WASM_OPT_BIN" "$ESBUILD_BIN"; do
  [ -x "$bin" ] || { echo "missing $bin: run scripts/install-tools.sh" >&2; exit 1; }
done
if [ -f build/index.js ] && [ -f build/index_bg.wasm ] \
  && [ -z "$(find src core/src core/Cargo.toml proto/src proto/Cargo.toml Cargo.toml Cargo.lock wrangler.toml -newer build/index_bg.wasm -print -quit)" ]; then
  echo "worker build is up to date"
  exit 0
fi
exec worker-build --release
