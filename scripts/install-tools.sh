#!/usr/bin/env bash
# Installs everything the build and tests need, from the package registries only.
# Idempotent: a second run finds everything in place and returns in seconds.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Debian packages: Postgres always; what only the tests use (Chromium for the browser tests,
# PgBouncer for the origin-through-PgBouncer test, Prometheus for promtool and the
# Prometheus e2e test) with INSTALL_TEST_TOOLS=1, which
# scripts/test.sh sets (scripts/dev.sh does not need them).
need_apt=()
command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
command -v psql >/dev/null 2>&1 || need_apt+=(postgresql-client)
if [ "${INSTALL_TEST_TOOLS:-0}" = 1 ]; then
  command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
  command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || need_apt+=(pgbouncer)
  # promtool (check metrics, check/test rules) and the prometheus server for the e2e test.
  { command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; } || need_apt+=(prometheus)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" = 0 ] || command -v sudo >/dev/null 2>&1; }; then
    log "apt-get install ${need_apt[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "missing system packages: ${need_apt[*]}" >&2
    echo "install them with your package manager (Debian/Ubuntu: sudo apt-get install ${need_apt[*]};" >&2
    echo "macOS: brew install postgresql@16${INSTALL_TEST_TOOLS:+ pgbouncer, prometheus, and a Chromium}) and run this again." >&2
    exit 1
  fi
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi
for component in clippy rustfmt; do
  rustup component list --installed | grep -q "^$component" || rustup component add "$component"
done

# cargo install writes to $CARGO_HOME/bin (CARGO_BIN_DIR, on PATH through lib.sh).
if ! "$WASM_BINDGEN_BIN" --version 2>/dev/null | grep -q " $WASM_BINDGEN_VERSION\$"; then
  log "cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION into $CARGO_BIN_DIR"
  cargo install --locked --force --root "${CARGO_HOME:-$HOME/.cargo}" wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
  WASM_BINDGEN_BIN="$CARGO_BIN_DIR/wasm-bindgen"
fi
if ! worker-build --version 2>/dev/null | grep -q "$WORKER_BUILD_VERSION"; then
  log "cargo install worker-build $WORKER_BUILD_VERSION into $CARGO_BIN_DIR"
  cargo install --locked --force --root "${CARGO_HOME:-$HOME/.cargo}" worker-build --version "$WORKER_BUILD_VERSION"
fi

# node_modules is current when it was installed from this very lockfile (a content stamp:
# timestamps lie after a checkout or an `npm install --package-lock-only`).
lock_sum="$(sha256sum "$ROOT/package-lock.json" | cut -d' ' -f1)"
stamp="$ROOT/node_modules/.launch-edge-lock.sha256"
if [ ! -x "$ROOT/node_modules/.bin/wrangler" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$lock_sum" ]; then
  log "npm ci (Node 22, wrangler, wasm-opt, esbuild, playwright-core)"
  (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$lock_sum" > "$stamp"
fi
node --version | grep -q '^v22\.' || { echo "node_modules/.bin/node is not Node 22 (the npm package \`node\` installs it per platform): run npm ci" >&2; exit 1; }
