// scripts/deploy.sh without the network: the refusals, the secret checks, the generated
// configuration, and `wrangler deploy --dry-run --env production` on that configuration.
import test from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "smol-toml";
import { checkOriginUrl, checkSecrets, generateConfig, parseCreatedNamespaceId, parseEnvironment, requiredSecrets, webhookSecretNames } from "../scripts/deploy/plan.mjs";
import { ROOT } from "./harness.mjs";

const BASE = readFileSync(join(ROOT, "wrangler.toml"), "utf8");
const STATE = {
  origin_url: "https://origin.example.com",
  kv: { PAGES: "0123456789abcdef0123456789abcdef" },
  route: "launch.example.com/*",
  zone_name: "example.com",
};

test("an unknown environment is refused with the known ones named", () => {
  assert.throws(() => parseEnvironment("prod"), /unknown environment "prod"; use one of: staging, production/);
  assert.equal(parseEnvironment("production"), "production");
});

test("the origin must be a public https URL", () => {
  assert.throws(() => checkOriginUrl(""), /ORIGIN_URL is not set/);
  assert.throws(() => checkOriginUrl("http://origin.example.com"), /must be https/);
  assert.throws(() => checkOriginUrl("https://127.0.0.1:8788"), /loopback/);
  assert.throws(() => checkOriginUrl("https://localhost"), /loopback/);
  assert.throws(() => checkOriginUrl("https://[::1]/"), /loopback/);
  assert.equal(checkOriginUrl("https://origin.example.com/"), "https://origin.example.com");
});

test("each webhook source needs its own secret, named as the worker reads it", () => {
  assert.deepEqual(webhookSecretNames("stripe=stripe; billing-eu=standard;"), ["WEBHOOK_SECRETS_STRIPE", "WEBHOOK_SECRETS_BILLING_EU"]);
  assert.deepEqual(requiredSecrets({ WEBHOOK_SOURCES: "" }), ["ADMIN_TOKEN", "ORIGIN_SIGNING_SECRET", "VISITOR_SALT_SECRET", "CONVERSIONS_SECRET"]);
});

test("a missing secret, a secret kept as a var and a var/secret clash are each refused by name", () => {
  const all = ["ADMIN_TOKEN", "ORIGIN_SIGNING_SECRET", "VISITOR_SALT_SECRET", "CONVERSIONS_SECRET", "WEBHOOK_SECRETS_STRIPE"];
  assert.deepEqual(checkSecrets({ WEBHOOK_SOURCES: "stripe=stripe" }, all).problems, []);
  assert.deepEqual(checkSecrets({ WEBHOOK_SOURCES: "stripe=stripe" }, all.slice(1)).problems, ["secret ADMIN_TOKEN is not set"]);
  assert.match(checkSecrets({ MONITOR_ALERT_WEBHOOK: "" }, all).problems.join(), /MONITOR_ALERT_WEBHOOK is a plain var/);
  assert.match(checkSecrets({ COUNTER_SHARDS: "8" }, [...all, "COUNTER_SHARDS"]).problems.join(), /COUNTER_SHARDS is both a var and a secret/);
  assert.deepEqual(checkSecrets({}, all).missingOptional, ["PRODUCT_HUNT_TOKEN", "MONITOR_ALERT_WEBHOOK"]);
});

test("the committed wrangler.toml holds no secret as a var and no deployable placeholder id", () => {
  const base = parse(BASE);
  assert.equal(base.observability?.enabled, true);
  assert.deepEqual(checkSecrets(base.vars, requiredSecrets(base.vars)).problems, []);
  for (const env of ["staging", "production"]) {
    assert.ok(base.env[env].name.startsWith("launch-edge-"), env);
    assert.equal(base.env[env].kv_namespaces, undefined, `${env} binds KV only in the generated config`);
  }
  assert.ok(!/[0-9a-f]{32}/.test(BASE), "no KV id in wrangler.toml");
});

test("the generated production config binds every resource with its id, the route and the https origin", () => {
  const text = generateConfig(BASE, "production", STATE);
  const config = JSON.parse(JSON.stringify(parse(text))); // plain objects for deepEqual
  const prod = config.env.production;
  assert.equal(prod.name, "launch-edge-production");
  assert.deepEqual(prod.kv_namespaces, [{ binding: "PAGES", id: STATE.kv.PAGES }]);
  assert.deepEqual(prod.routes, [{ pattern: "launch.example.com/*", zone_name: "example.com" }]);
  assert.equal(prod.workers_dev, false);
  assert.equal(prod.vars.ORIGIN_URL, "https://origin.example.com");
  assert.equal(prod.vars.LOCAL_DEVELOPMENT, "");
  assert.equal(prod.vars.COUNTER_SHARDS, parse(BASE).vars.COUNTER_SHARDS);
  assert.deepEqual(prod.durable_objects.bindings.map((b) => b.class_name), ["CounterShard", "WebhookInbox", "TaskScheduler"]);
  assert.equal(prod.ratelimits[0].name, "EVENTS_LIMITER");
  assert.notEqual(prod.ratelimits[0].namespace_id, parse(BASE).ratelimits[0].namespace_id, "its own rate-limit namespace");
  assert.notEqual(prod.ratelimits[0].namespace_id, parse(generateConfig(BASE, "staging", { ...STATE, route: undefined })).env.staging.ratelimits[0].namespace_id);
});

test("a generated config is refused without a KV id, without a route for production, or with an http origin", () => {
  assert.throws(() => generateConfig(BASE, "production", { ...STATE, kv: {} }), /no KV namespace id for PAGES/);
  assert.throws(() => generateConfig(BASE, "production", { ...STATE, route: undefined }), /set LAUNCH_EDGE_ROUTE/);
  assert.throws(() => generateConfig(BASE, "production", { ...STATE, zone_name: undefined }), /needs LAUNCH_EDGE_ZONE/);
  assert.throws(() => generateConfig(BASE, "staging", { ...STATE, origin_url: "http://origin.example.com" }), /must be https/);
});

test("the id of a namespace wrangler just created is read from either output format", () => {
  assert.equal(parseCreatedNamespaceId('[[kv_namespaces]]\nbinding = "X"\nid = "0123456789abcdef0123456789abcdef"'), "0123456789abcdef0123456789abcdef");
  assert.equal(parseCreatedNamespaceId('{ "binding": "X", "id": "fedcba9876543210fedcba9876543210" }'), "fedcba9876543210fedcba9876543210");
  assert.throws(() => parseCreatedNamespaceId("Error: not allowed"), /could not read the new namespace's id/);
});

test("the deploy script stops at the first missing piece with its message", () => {
  const run = (args, env = {}) => spawnSync(process.execPath, [join(ROOT, "scripts", "deploy", "run.mjs"), ...args], { cwd: ROOT, encoding: "utf8", env: { ...process.env, ...env } });
  const unknown = run(["prod"]);
  assert.equal(unknown.status, 1);
  assert.match(unknown.stderr, /deploy stopped at environment: unknown environment "prod"/);
  const stateDir = mkdtempSync(join(tmpdir(), "launch-edge-deploy-"));
  try {
    writeFileSync(join(stateDir, "production.json"), JSON.stringify({ ...STATE, origin_url: undefined }));
    const http = run(["production"], { DEPLOY_STATE_DIR: stateDir, DEPLOY_DRY_RUN: "1", ORIGIN_URL: "http://origin.example.com" });
    assert.equal(http.status, 1);
    assert.match(http.stderr, /deploy stopped at origin: ORIGIN_URL must be https/);
    assert.ok(!existsSync(join(ROOT, "wrangler.production.toml.partial")));
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
});

test("wrangler deploy --dry-run --env production accepts the generated config and the built worker", { timeout: 180_000 }, () => {
  // The e2e suite has built build/ already; the dry run validates config and bundle (the
  // build command is dropped from this copy so the worker is not rebuilt here).
  const config = parse(generateConfig(BASE, "production", STATE));
  delete config.build;
  const path = join(ROOT, `.wrangler-dry-run-${process.pid}.toml`);
  const outdir = mkdtempSync(join(tmpdir(), "launch-edge-dry-"));
  writeFileSync(path, stringify(config));
  try {
    const res = spawnSync(join(ROOT, "node_modules", ".bin", "wrangler"), ["deploy", "--dry-run", "--config", path, "--env", "production", "--outdir", outdir],
      { cwd: ROOT, encoding: "utf8", env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true" } });
    assert.equal(res.status, 0, `${res.stdout}\n${res.stderr}`);
    const out = `${res.stdout}\n${res.stderr}`;
    assert.match(out, /--dry-run: exiting now/);
    assert.match(out, /env\.PAGES \(0123456789abcdef0123456789abcdef\)/);
    assert.match(out, /EVENTS_LIMITER/);
  } finally {
    rmSync(path, { force: true });
    rmSync(outdir, { recursive: true, force: true });
  }
});
