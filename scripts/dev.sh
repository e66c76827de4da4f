#!/usr/bin/env bash
# Runs the whole system locally: private Postgres, migrations, the demo launch
# (examples/demo-launch.toml), the origin, and the worker under `wrangler dev` with local
# persistence. It writes .data/dev.env, for `launch` commands in another terminal. Ctrl-C
# stops the origin and the worker (Postgres keeps running: `bash scripts/pg.sh stop`).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

WORKER_PORT="${WORKER_PORT:-8787}"
ORIGIN_PORT="${ORIGIN_PORT:-8788}"

bash scripts/install-tools.sh
bash scripts/pg.sh start
DB_URL="$(bash scripts/pg.sh url launch_edge)"
psql "$(bash scripts/pg.sh url postgres)" -qAtc "SELECT 1 FROM pg_database WHERE datname = 'launch_edge'" | grep -q 1 \
  || psql "$(bash scripts/pg.sh url postgres)" -qc "CREATE DATABASE launch_edge"

# Local secrets, made once and kept in the ignored .dev.vars (wrangler reads it too). The
# worker and the origin refuse any key or token under 32 bytes: 48 characters are made,
# and one left shorter by an older version of this script is made anew.
rand() { local r; r="$(head -c 64 /dev/urandom | base64 -w0 | tr -d '/+=')"; printf '%s' "${r:0:48}"; }
touch .dev.vars && chmod 600 .dev.vars
for secret in ADMIN_TOKEN ORIGIN_SIGNING_SECRET VISITOR_SALT_SECRET DASHBOARD_TOKEN METRICS_TOKEN; do
  current="$(sed -n "s/^$secret=//p" .dev.vars)"
  if [ "${#current}" -lt 32 ]; then
    sed -i "/^$secret=/d" .dev.vars
    printf '%s=%s\n' "$secret" "$(rand)" >> .dev.vars
  fi
done
# wrangler dev reads .dev.vars, `wrangler deploy` never does: the worker accepts the
# local http ORIGIN_URL only with this flag.
grep -q '^LOCAL_DEVELOPMENT=true$' .dev.vars || { sed -i '/^LOCAL_DEVELOPMENT=/d' .dev.vars; echo 'LOCAL_DEVELOPMENT=true' >> .dev.vars; }
ADMIN_TOKEN="$(sed -n 's/^ADMIN_TOKEN=//p' .dev.vars)"
export ORIGIN_SIGNING_SECRET="$(sed -n 's/^ORIGIN_SIGNING_SECRET=//p' .dev.vars)"
export DASHBOARD_TOKEN="$(sed -n 's/^DASHBOARD_TOKEN=//p' .dev.vars)"
export METRICS_TOKEN="$(sed -n 's/^METRICS_TOKEN=//p' .dev.vars)"
# ops/prometheus/prometheus.yml reads the bearer token from this ignored file.
(umask 077 && printf '%s' "$METRICS_TOKEN" > ops/prometheus/metrics-token)
export DATABASE_URL="$DB_URL" ORIGIN_BIND="127.0.0.1:$ORIGIN_PORT"
# Canonical URLs of the pages point at the local worker.
export PAGE_BASE_URL="http://127.0.0.1:$WORKER_PORT"
# What `launch apply` needs from another terminal: the database, and the worker to refresh.
(umask 077 && cat > .data/dev.env <<ENV
export DATABASE_URL='$DB_URL'
export PAGE_BASE_URL='$PAGE_BASE_URL'
export EDGE_URL='http://127.0.0.1:$WORKER_PORT'
export EDGE_ADMIN_TOKEN='$ADMIN_TOKEN'
ENV
)

# The master key of signed conversions (each launch's key: GET /admin/launches/:slug/conversion-key).
grep -q "^CONVERSIONS_SECRET=" .dev.vars || printf 'CONVERSIONS_SECRET=%s%s\n' "$(rand)" "$(rand)" >> .dev.vars

log "building the origin"
origin_cargo build
ORIGIN=target/debug/launch-edge-origin
"$ORIGIN" migrate
"$ORIGIN" launch apply examples/demo-launch.toml

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

log "starting the origin on http://127.0.0.1:$ORIGIN_PORT"
"$ORIGIN" serve &
pids+=($!)

log "starting wrangler dev on http://127.0.0.1:$WORKER_PORT (first build takes a few minutes)"
wrangler dev --ip 127.0.0.1 --port "$WORKER_PORT" --persist-to .data/wrangler --test-scheduled \
  --var "ORIGIN_URL:http://127.0.0.1:$ORIGIN_PORT" --var "LOCAL_DEVELOPMENT:true" --show-interactive-dev-session=false &
pids+=($!)

for _ in $(seq 1 600); do
  curl -fsS "http://127.0.0.1:$WORKER_PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.5
done
curl -fsS -X POST -H "authorization: Bearer $ADMIN_TOKEN" \
  "http://127.0.0.1:$WORKER_PORT/admin/launches/demo-launch/prewarm" >/dev/null && log "demo launch pre-warmed"

cat <<MSG

  launch-edge is running.
    Demo launch page (edge):   http://127.0.0.1:$WORKER_PORT/launch/demo-launch?ref=producthunt
    Dashboard (origin):        http://127.0.0.1:$ORIGIN_PORT/login   (sign in with DASHBOARD_TOKEN from .dev.vars)
    Origin health:             http://127.0.0.1:$ORIGIN_PORT/healthz
    Origin metrics (bearer METRICS_TOKEN; Prometheus reads ops/prometheus/metrics-token):
      curl -H "authorization: Bearer \$(sed -n 's/^METRICS_TOKEN=//p' .dev.vars)" http://127.0.0.1:$ORIGIN_PORT/metrics
    Admin (bearer token in .dev.vars):
      curl -X POST -H "authorization: Bearer \$(sed -n 's/^ADMIN_TOKEN=//p' .dev.vars)" \\
        http://127.0.0.1:$WORKER_PORT/admin/launches/demo-launch/prewarm
    Postgres:                  psql $DB_URL
    Your own launch (another terminal; see README "Run your own launch"):
      source .data/dev.env
      target/debug/launch-edge-origin launch apply examples/acme-notes.toml
      open http://127.0.0.1:$WORKER_PORT/launch/acme-notes

  Ctrl-C stops the worker and the origin.
MSG
wait
