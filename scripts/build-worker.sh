#!/usr/bin/env bash
# The wrangler.toml build command: compiles the worker to WASM with the pinned, local
# wasm-bindgen, wasm-opt and esbuild (worker-build would otherwise download them).
# Skips the work when build/ is newer than every input, so restarting `wrangler dev`
# (tests do it often) costs nothing.
#
# The deployed module, build/index_bg.wasm, has no names section (64 KiB of its 589 KiB
# gzip when it was kept): build/index_bg.debug.wasm is the same module with its
# names, never uploaded (index.js imports only index_bg.wasm), and names the functions of
# a stack trace or profile: `node scripts/wasm-names.mjs symbolize
# build/index_bg.debug.wasm build/index_bg.wasm < log` (docs/benchmarks.md).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
for bin in "$WASM_BINDGEN_BIN" "$WASM_OPT_BIN" "$ESBUILD_BIN"; do
  [ -x "$bin" ] || { echo "missing $bin: run scripts/install-tools.sh" >&2; exit 1; }
done
if [ -f build/index.js ] && [ -f build/index_bg.wasm ] && [ -f build/index_bg.debug.wasm ] \
  && [ -z "$(find src core/src core/Cargo.toml proto/src proto/Cargo.toml Cargo.toml Cargo.lock wrangler.toml \
    scripts/build-worker.sh scripts/wasm-names.mjs -newer build/index_bg.wasm -print -quit)" ]; then
  echo "worker build is up to date"
  exit 0
fi
worker-build --release
# worker-build keeps the names section (it passes --debuginfo to wasm-opt): move that
# module aside as the debug artefact and deploy it stripped by wasm-opt (same functions,
# same indices).
mv build/index_bg.wasm build/index_bg.debug.wasm
node scripts/wasm-names.mjs strip build/index_bg.debug.wasm build/index_bg.wasm
