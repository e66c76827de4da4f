// The pure half of `scripts/deploy.sh ENV`: which environments exist, what a deploy needs
// (KV namespaces, rate-limit namespaces, secrets, an https origin), and the wrangler
// configuration generated for one environment. No network and no wrangler here, so every
// refusal is tested (worker-tests/deploy.test.mjs); scripts/deploy/run.mjs does the calls.
import { parse, stringify } from "smol-toml";

export const ENVIRONMENTS = ["staging", "production"];

/** Secrets the worker refuses to start without (see core/src/bindings.rs). */
export const REQUIRED_SECRETS = ["ADMIN_TOKEN", "ORIGIN_SIGNING_SECRET", "VISITOR_SALT_SECRET", "CONVERSIONS_SECRET"];
/** Secrets that only switch a feature on: reported when absent, never required. */
export const OPTIONAL_SECRETS = ["PRODUCT_HUNT_TOKEN", "MONITOR_ALERT_WEBHOOK"];
/** Names that hold a secret: never allowed as a plain var in any environment. */
export const SECRET_ONLY = [...REQUIRED_SECRETS, ...OPTIONAL_SECRETS];
export const SECRETS_PREFIX = "WEBHOOK_SECRETS_";
/** Rate-limit namespace ids are chosen by the account owner; each environment gets its own range. */
const RATELIMIT_BASE = { staging: 2000, production: 3000 };

export class DeployError extends Error {
  constructor(step, message) {
    super(`${step}: ${message}`);
    this.step = step;
  }
}

/** The environment named on the command line, or a refusal listing the known ones. */
export function parseEnvironment(name) {
  if (!ENVIRONMENTS.includes(name)) {
    throw new DeployError("environment", `unknown environment ${JSON.stringify(name ?? "")}; use one of: ${ENVIRONMENTS.join(", ")}`);
  }
  return name;
}

/** `https://` and not loopback, private or a bare IP literal: the edge must reach it over the internet. */
export function checkOriginUrl(raw) {
  if (!raw) throw new DeployError("origin", "ORIGIN_URL is not set: give the origin's public https URL (ORIGIN_URL=https://origin.example.com)");
  let url;
  try { url = new URL(raw); } catch { throw new DeployError("origin", `ORIGIN_URL ${JSON.stringify(raw)} is not a URL`); }
  if (url.protocol !== "https:") throw new DeployError("origin", `ORIGIN_URL must be https:// (got ${url.protocol}//): the worker refuses plain http outside local development`);
  const host = url.hostname.replace(/^\[|\]$/g, "");
  if (host === "localhost" || host.endsWith(".localhost") || /^127\./.test(host) || host === "::1" || host === "0.0.0.0") {
    throw new DeployError("origin", `ORIGIN_URL ${raw} is loopback: the edge cannot reach it (see docs/deploy.md for a Cloudflare Tunnel)`);
  }
  return url.origin;
}

/** The sources in WEBHOOK_SOURCES (`name=scheme;...`) and the secret each one needs. */
export function webhookSecretNames(sources) {
  return (sources ?? "").split(";").map((s) => s.trim()).filter(Boolean).map((entry) => {
    const name = entry.split("=")[0].trim();
    return `${SECRETS_PREFIX}${name.toUpperCase().replace(/-/g, "_")}`;
  });
}

/** Every secret the environment's worker needs, given its vars. */
export function requiredSecrets(vars) {
  return [...REQUIRED_SECRETS, ...webhookSecretNames(vars.WEBHOOK_SOURCES)];
}

/** Refusals for the secrets `wrangler secret list` shows, and for names set both ways. */
export function checkSecrets(vars, listed) {
  const names = new Set(listed);
  const problems = [];
  for (const name of requiredSecrets(vars)) {
    if (!names.has(name)) problems.push(`secret ${name} is not set`);
  }
  for (const name of Object.keys(vars)) {
    if (SECRET_ONLY.includes(name) || name.startsWith(SECRETS_PREFIX)) problems.push(`${name} is a plain var: it holds a secret, remove it from [vars] and \`wrangler secret put ${name}\``);
    else if (names.has(name)) problems.push(`${name} is both a var and a secret: keep one (the secret wins silently on Cloudflare's side, so the var is misleading)`);
  }
  const missingOptional = OPTIONAL_SECRETS.filter((n) => !names.has(n));
  return { problems, missingOptional };
}

/** The ids to create or reuse: KV namespaces by binding, rate-limit namespace ids by binding. */
export function resourcesNeeded(base, env) {
  const kv = (base.kv_namespaces ?? []).map((k) => k.binding);
  const ratelimits = Object.fromEntries((base.ratelimits ?? []).map((r, i) => [r.name, String(RATELIMIT_BASE[env] + 1 + i)]));
  return { kv, ratelimits };
}

/** The KV id in the output of `wrangler kv namespace create` (`id = "..."` or JSON `"id": "..."`). */
export function parseCreatedNamespaceId(output) {
  const m = output.match(/"?id"?\s*[:=]\s*"([0-9a-f]{32})"/);
  if (!m) throw new DeployError("kv", `could not read the new namespace's id from wrangler's answer:\n${output.trim().slice(-500)}`);
  return m[1];
}

/**
 * The wrangler configuration of one environment: the committed `wrangler.toml` (local
 * development at the top level, `[env.<env>]` for names, routes and vars) with the
 * environment's bindings filled in from `state` (KV ids, rate-limit ids, origin, route).
 * Wrangler does not inherit bindings or vars into an environment, so they are written out.
 */
export function generateConfig(baseText, env, state) {
  parseEnvironment(env);
  const base = parse(baseText);
  const declared = base.env?.[env];
  if (!declared) throw new DeployError("config", `wrangler.toml has no [env.${env}] section`);
  const origin = checkOriginUrl(state.origin_url);
  const { kv, ratelimits } = resourcesNeeded(base, env);
  for (const binding of kv) {
    if (!/^[0-9a-f]{32}$/.test(state.kv?.[binding] ?? "")) throw new DeployError("kv", `no KV namespace id for ${binding} in the ${env} state (scripts/deploy.sh creates it on first use)`);
  }
  const vars = { ...base.vars, ...(declared.vars ?? {}), ORIGIN_URL: origin, LOCAL_DEVELOPMENT: "" };
  const out = { ...base };
  delete out.env;
  const section = {
    ...declared,
    vars,
    kv_namespaces: (base.kv_namespaces ?? []).map((k) => ({ binding: k.binding, id: state.kv[k.binding] })),
    durable_objects: base.durable_objects,
    ratelimits: (base.ratelimits ?? []).map((r) => ({ ...r, namespace_id: state.ratelimits?.[r.name] ?? ratelimits[r.name] })),
  };
  if (state.route) {
    if (!state.zone_name) throw new DeployError("route", `LAUNCH_EDGE_ROUTE ${state.route} needs LAUNCH_EDGE_ZONE (the Cloudflare zone, e.g. example.com)`);
    section.routes = [{ pattern: state.route, zone_name: state.zone_name }];
    section.workers_dev = false;
  } else if (declared.workers_dev === false) {
    throw new DeployError("route", `[env.${env}] has workers_dev = false: set LAUNCH_EDGE_ROUTE (e.g. launch.example.com/*) and LAUNCH_EDGE_ZONE for the first deploy`);
  }
  out.env = { [env]: section };
  return `# Generated by scripts/deploy.sh ${env} from wrangler.toml and .deploy/${env}.json: do not edit, do not commit.\n${stringify(out)}\n`;
}

/** Where the deployed worker answers, for preflight. */
export function workerUrl(state, baseText, env, account) {
  if (state.route) return `https://${state.route.replace(/\/\*?$/, "").replace(/\*$/, "")}`;
  const name = parse(baseText).env?.[env]?.name;
  return account ? `https://${name}.${account}.workers.dev` : null;
}
