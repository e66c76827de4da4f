#!/usr/bin/env bash
# Deploys the worker to a Cloudflare environment from a laptop:
#
#   npx wrangler login                        # once
#   ORIGIN_URL=https://origin.example.com \
#   LAUNCH_EDGE_ROUTE='launch.example.com/*' LAUNCH_EDGE_ZONE=example.com \
#     bash scripts/deploy.sh production       # first deploy; later just the last line
#
# Creates the KV namespaces on first use (ids kept in the git-ignored .deploy/ENV.json),
# generates wrangler.ENV.toml, checks every secret, runs preflight (PREFLIGHT_SLUG,
# DATABASE_URL, ADMIN_TOKEN) and deploys; it stops at the first missing piece and says
# what to do. DEPLOY_DRY_RUN=1 builds and validates the bundle without deploying.
# Steps and rollback: docs/deploy.md.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
[ "$#" -eq 1 ] || { echo "usage: scripts/deploy.sh staging|production" >&2; exit 2; }
bash scripts/install-tools.sh >/dev/null
exec node scripts/deploy/run.mjs "$1"
