// `scripts/deploy.sh ENV`: from a laptop to a deployed environment, stopping with one clear
// message at the first missing piece. The decisions live in plan.mjs (tested without the
// network); this file only calls wrangler and the origin's `preflight`.
//
//   1. logged in to Cloudflare (`wrangler whoami`)
//   2. the origin's public https URL (ORIGIN_URL, remembered in .deploy/ENV.json)
//   3. KV namespaces created on first use, ids remembered; rate-limit namespace ids chosen
//   4. wrangler.ENV.toml generated (git-ignored)
//   5. every required secret set, no var/secret clash (`wrangler secret list`)
//   6. preflight against the running environment when there is one (PREFLIGHT_SLUG)
//   7. `wrangler deploy --env ENV`, then preflight again; on failure: how to roll back
//
// DEPLOY_DRY_RUN=1 stops after step 4 with `wrangler deploy --dry-run` (no account needed
// when .deploy/ENV.json already holds the ids).
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  DeployError, checkOriginUrl, checkSecrets, generateConfig, parseCreatedNamespaceId,
  parseEnvironment, resourcesNeeded, workerUrl,
} from "./plan.mjs";
import { parse } from "smol-toml";

const ROOT = join(import.meta.dirname, "..", "..");
const WRANGLER = join(ROOT, "node_modules", ".bin", "wrangler");
const say = (...a) => console.error("==>", ...a);

function wrangler(args, { allowFailure = false } = {}) {
  const res = spawnSync(WRANGLER, args, { cwd: ROOT, encoding: "utf8", env: { ...process.env, WRANGLER_SEND_METRICS: "false" } });
  if (res.status !== 0 && !allowFailure) {
    throw new DeployError(`wrangler ${args[0]}`, `failed (exit ${res.status}):\n${(res.stderr || res.stdout).trim().slice(-1500)}`);
  }
  return { ok: res.status === 0, out: `${res.stdout}\n${res.stderr}` };
}

async function main() {
  const env = parseEnvironment(process.argv[2]);
  const dryRun = process.env.DEPLOY_DRY_RUN === "1";
  const baseText = readFileSync(join(ROOT, "wrangler.toml"), "utf8");
  const stateDir = process.env.DEPLOY_STATE_DIR ?? join(ROOT, ".deploy");
  const statePath = join(stateDir, `${env}.json`);
  const state = existsSync(statePath) ? JSON.parse(readFileSync(statePath, "utf8")) : {};
  const save = () => { mkdirSync(stateDir, { recursive: true }); writeFileSync(statePath, `${JSON.stringify(state, null, 2)}\n`); };

  let account = null;
  const needsAccount = !dryRun || resourcesNeeded(parse(baseText), env).kv.some((b) => !state.kv?.[b]);
  if (needsAccount) {
    say("1. Cloudflare account");
    const who = wrangler(["whoami"], { allowFailure: true });
    if (!who.ok || /not authenticated|You are not logged in/i.test(who.out)) {
      throw new DeployError("login", "not logged in to Cloudflare: run `npx wrangler login` (or set CLOUDFLARE_API_TOKEN) and try again");
    }
    account = (who.out.match(/([a-z0-9-]+)\.workers\.dev/) ?? [])[1] ?? null;
  }

  say("2. origin");
  state.origin_url = checkOriginUrl(process.env.ORIGIN_URL ?? state.origin_url);
  if (process.env.LAUNCH_EDGE_ROUTE) state.route = process.env.LAUNCH_EDGE_ROUTE;
  if (process.env.LAUNCH_EDGE_ZONE) state.zone_name = process.env.LAUNCH_EDGE_ZONE;

  say("3. KV and rate-limit namespaces");
  const { kv, ratelimits } = resourcesNeeded(parse(baseText), env);
  state.kv ??= {};
  for (const binding of kv) {
    if (state.kv[binding]) continue;
    const created = wrangler(["kv", "namespace", "create", `launch-edge-${env}-${binding}`]);
    state.kv[binding] = parseCreatedNamespaceId(created.out);
    say(`   created KV namespace for ${binding}: ${state.kv[binding]}`);
    save();
  }
  state.ratelimits = { ...ratelimits, ...(state.ratelimits ?? {}) };
  save();

  say(`4. wrangler.${env}.toml`);
  const configPath = join(ROOT, `wrangler.${env}.toml`);
  writeFileSync(configPath, generateConfig(baseText, env, state));
  const generated = parse(readFileSync(configPath, "utf8")).env[env];

  if (dryRun) {
    const outdir = process.env.DEPLOY_OUTDIR ?? join(ROOT, ".deploy", `dry-run-${env}`);
    wrangler(["deploy", "--dry-run", "--config", configPath, "--env", env, "--outdir", outdir]);
    say(`dry run of ${generated.name} passed (bundle in ${outdir})`);
    return;
  }

  say("5. secrets");
  // A worker that was never deployed has no secrets yet (wrangler answers an error): every
  // required one is then reported missing.
  const answer = wrangler(["secret", "list", "--config", configPath, "--env", env, "--format", "json"], { allowFailure: true });
  const listed = answer.ok ? JSON.parse(answer.out.match(/\[[\s\S]*\]/)?.[0] ?? "[]").map((x) => x.name) : [];
  const { problems, missingOptional } = checkSecrets(generated.vars, listed);
  if (problems.length) {
    throw new DeployError("secrets", `${problems.join("; ")}. Set each with \`npx wrangler secret put NAME --config wrangler.${env}.toml --env ${env}\` (values of at least 32 bytes: \`openssl rand -hex 32\`)`);
  }
  for (const name of missingOptional) say(`   optional secret ${name} not set (its feature stays off)`);

  const url = workerUrl(state, baseText, env, account);
  const preflight = (when) => {
    if (!process.env.PREFLIGHT_SLUG || !url) {
      say(`   preflight ${when}: skipped (set PREFLIGHT_SLUG, DATABASE_URL and ADMIN_TOKEN to run it)`);
      return true;
    }
    const origin = join(ROOT, "target", "debug", "launch-edge-origin");
    const res = spawnSync(existsSync(origin) ? origin : "cargo", existsSync(origin) ? ["preflight", process.env.PREFLIGHT_SLUG, "--worker-url", url]
      : ["run", "-q", "--manifest-path", "origin/Cargo.toml", "--target-dir", "target", "--", "preflight", process.env.PREFLIGHT_SLUG, "--worker-url", url], { cwd: ROOT, stdio: "inherit" });
    return res.status === 0;
  };
  say("6. preflight of the running environment");
  const reachable = url ? await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5000) }).then((r) => r.ok, () => false) : false;
  if (reachable && !preflight("before the deploy")) throw new DeployError("preflight", "failed before the deploy: fix what it says (nothing was deployed)");
  if (!reachable) say("   first deploy of this environment: preflight runs after it");

  say(`7. wrangler deploy --env ${env}`);
  execFileSync(WRANGLER, ["deploy", "--config", configPath, "--env", env], { cwd: ROOT, stdio: "inherit", env: { ...process.env, WRANGLER_SEND_METRICS: "false" } });
  // The deployed wasm has no names section: keep the build's debug artefact, named by the
  // deployed module's hash, to name the frames of this version's stack traces later.
  const deployed = createHash("sha256").update(readFileSync(join(ROOT, "build", "index_bg.wasm"))).digest("hex").slice(0, 16);
  const debugDir = join(stateDir, "debug");
  mkdirSync(debugDir, { recursive: true });
  const debugCopy = join(debugDir, `${env}-${deployed}.debug.wasm`);
  copyFileSync(join(ROOT, "build", "index_bg.debug.wasm"), debugCopy);
  say(`   debug artefact (names of this version's wasm functions): ${debugCopy}`);
  if (!preflight("after the deploy")) {
    throw new DeployError("preflight", `failed after the deploy: roll back with \`npx wrangler rollback --config wrangler.${env}.toml --env ${env}\`, then fix what it says`);
  }
  say(`deployed ${generated.name}${url ? ` at ${url}` : ""}`);
}

main().catch((e) => {
  console.error(`deploy stopped at ${e instanceof DeployError ? e.message : e.stack}`);
  process.exit(1);
});
