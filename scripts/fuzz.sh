#!/usr/bin/env bash
# Fuzzes every parser of strangers' bytes (webhook signature headers, beacon bodies, Product
# Hunt API answers, cache-key queries, origin ingest batches) for a bounded time; exits
# non-zero on a crash.
#
#   scripts/fuzz.sh                 # every target, 30 s each
#   FUZZ_SECONDS=300 scripts/fuzz.sh stripe_signature_header
#
# cargo-fuzz needs nightly compiler features (sanitizers, -Z flags); this machine has
# stable Rust only, so RUSTC_BOOTSTRAP=1 unlocks them on the stable compiler. Crashing
# inputs land in fuzz/artifacts/<target>/; reproduce with `cargo fuzz run <target> <file>`.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CARGO_FUZZ_VERSION="0.13.2"
FUZZ_SECONDS="${FUZZ_SECONDS:-30}"

if ! cargo fuzz --version >/dev/null 2>&1; then
  log "installing cargo-fuzz $CARGO_FUZZ_VERSION"
  cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION"
fi

export RUSTC_BOOTSTRAP=1
cd "$ROOT/fuzz"

if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list)
fi

for target in "${targets[@]}"; do
  log "fuzzing $target for ${FUZZ_SECONDS}s"
  mkdir -p "corpus/$target"
  # The first directory collects new inputs (ignored by git); seeds/ holds a few
  # well-formed headers so the fuzzer starts past the first parse errors.
  cargo fuzz run "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$FUZZ_SECONDS" -max_len=4096
done
log "no crash in ${#targets[@]} target(s)"
