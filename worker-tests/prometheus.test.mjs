// A real Prometheus (Debian's `prometheus`) scrapes the origin of the e2e stack every
// second with the bearer token /metrics takes and loads ops/alerts.yml; traffic goes
// through the worker in two waves (page views, a click, webhooks, drained to Postgres by
// the worker on its own) and one visitor clicks past the per-IP limit, and then every
// query of the Grafana dashboard runs through Prometheus' HTTP API: none may be invalid,
// and none may be empty.
// Bounded: every wait has a deadline, and Prometheus is stopped by the test itself.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Origin, Worker, freshDatabase, seedLaunch, freePort, sleep, waitFor, METRICS_TOKEN, ROOT } from "./harness.mjs";

const SLUG = "prom-rocket";
const CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36";
const WEBHOOK_KEY = randomBytes(24);
// Grafana's $__rate_interval for a 1 s scrape is a few seconds; 30 s keeps both waves in
// every window while the test runs.
const RATE_INTERVAL = "30s";
let db, origin, worker, prometheus, promDir;

/** Prometheus as a child process on a free port, with its own data directory. */
class Prometheus {
  async start(originUrl) {
    this.dir = mkdtempSync(join(tmpdir(), "launch-edge-prometheus-"));
    writeFileSync(join(this.dir, "metrics-token"), METRICS_TOKEN, { mode: 0o600 });
    const target = new URL(originUrl).host;
    writeFileSync(join(this.dir, "prometheus.yml"), [
      "global:",
      "  scrape_interval: 1s",
      "  evaluation_interval: 1s",
      "rule_files:",
      `  - ${JSON.stringify(join(ROOT, "ops", "alerts.yml"))}`,
      "scrape_configs:",
      "  - job_name: launch-edge-origin",
      "    scrape_timeout: 900ms",
      "    authorization:",
      "      type: Bearer",
      `      credentials_file: ${JSON.stringify(join(this.dir, "metrics-token"))}`,
      "    static_configs:",
      `      - targets: [${JSON.stringify(target)}]`,
      "",
    ].join("\n"));
    this.port = await freePort();
    this.url = `http://127.0.0.1:${this.port}`;
    this.output = "";
    this.child = spawn("prometheus", [
      `--config.file=${join(this.dir, "prometheus.yml")}`,
      `--storage.tsdb.path=${join(this.dir, "data")}`,
      `--web.listen-address=127.0.0.1:${this.port}`,
      "--storage.tsdb.retention.time=1h",
      "--log.level=warn",
    ], { stdio: ["ignore", "pipe", "pipe"] });
    const collect = (chunk) => { this.output = (this.output + chunk.toString()).slice(-20_000); };
    this.child.stdout.on("data", collect);
    this.child.stderr.on("data", collect);
    this.exited = new Promise((r) => this.child.once("exit", r));
    try {
      await waitFor(`${this.url}/-/ready`, { what: "prometheus", timeoutMs: 60_000 });
    } catch (e) {
      throw new Error(`${e.message}\n--- prometheus output ---\n${this.output}`);
    }
    return this;
  }

  async stop() {
    if (this.child && this.child.exitCode === null) {
      this.child.kill("SIGTERM");
      const killed = setTimeout(() => this.child.kill("SIGKILL"), 10_000);
      await this.exited;
      clearTimeout(killed);
    }
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }

  /** `/api/v1/query`: the JSON answer (status "success" or "error"). */
  async query(expr) {
    const res = await fetch(`${this.url}/api/v1/query?${new URLSearchParams({ query: expr })}`);
    return res.json();
  }

  /** The first value of `expr` as a number, or undefined while it has none. */
  async value(expr) {
    const answer = await this.query(expr);
    const v = answer.data?.result?.[0]?.value?.[1];
    return v === undefined ? undefined : Number(v);
  }

  /** Waits until `expr` has a value for which `ok` holds (the scrape is every second). */
  async until(expr, ok, { timeoutMs = 90_000 } = {}) {
    const deadline = Date.now() + timeoutMs;
    let last;
    while (Date.now() < deadline) {
      last = await this.value(expr);
      if (last !== undefined && ok(last)) return last;
      await sleep(500);
    }
    throw new Error(`${expr} stayed at ${last} for ${timeoutMs} ms`);
  }
}

const visitor = (n) => ({ "user-agent": `${CHROME} prom/${n}`, "cf-connecting-ip": `10.9.${(n >> 8) & 255}.${n & 255}` });

/** A Standard Webhooks request to the `billing` source, signed with `key`. */
function webhook(id, key = WEBHOOK_KEY) {
  const body = JSON.stringify({ type: "user.created", data: { id } });
  const t = String(Math.floor(Date.now() / 1000));
  const signature = createHmac("sha256", key).update(`${id}.${t}.${body}`).digest("base64");
  return worker.fetch("/webhooks/billing", {
    method: "POST",
    body,
    headers: { "content-type": "application/json", "webhook-id": id, "webhook-timestamp": t, "webhook-signature": `v1,${signature}` },
  });
}

/** One wave: `views` page views, a click, a valid webhook and one with a bad signature. */
async function wave(n, views) {
  for (let i = 0; i < views; i += 10) {
    const batch = await Promise.all(Array.from({ length: Math.min(10, views - i) }, (_, j) =>
      worker.fetch(`/launch/${SLUG}?ref=producthunt`, { headers: visitor(n * 1000 + i + j) }).then(async (r) => { await r.text(); return r.status; })));
    assert.deepEqual([...new Set(batch)], [200]);
  }
  const click = await worker.fetch(`/go/${SLUG}?to=signup`, { headers: visitor(n * 1000) });
  assert.equal(click.status, 302);
  assert.equal((await webhook(`msg_prom_${n}`)).status, 200);
  assert.equal((await webhook(`msg_forged_${n}`, randomBytes(24))).status, 401);
}

/** Clicks from one address until the per-IP limit (500 a minute) answers 429; bounded. */
async function clickPastTheLimit() {
  const headers = { ...visitor(60_000), "cf-connecting-ip": "10.9.250.1" };
  let limited = 0;
  for (let sent = 0; sent < 1500 && limited === 0; sent += 40) {
    const batch = await Promise.all(Array.from({ length: 40 }, () => worker.fetch(`/go/${SLUG}?to=signup`, { headers }).then(async (r) => { await r.text(); return r.status; })));
    assert.deepEqual(batch.filter((s) => s !== 302 && s !== 429), []);
    limited += batch.filter((s) => s === 429).length;
  }
  assert.ok(limited > 0, "the limit was hit");
  return limited;
}

/** Every PromQL expression of the dashboard, with the panel title it belongs to. */
function dashboardQueries() {
  const dashboard = JSON.parse(readFileSync(join(ROOT, "ops", "grafana", "launch-edge.json"), "utf8"));
  return dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));
}

before(async () => {
  db = freshDatabase();
  seedLaunch(db, SLUG, "Prom Rocket");
  origin = await new Origin(db).start();
  worker = await new Worker({
    originUrl: origin.url,
    vars: { WEBHOOK_SOURCES: "billing=standard", WEBHOOK_SECRETS_BILLING: `whsec_${WEBHOOK_KEY.toString("base64")}` },
  }).start();
  prometheus = await new Prometheus().start(origin.url);
  promDir = prometheus.dir;
});

after(async () => {
  await prometheus?.stop();
  await worker?.stop();
  await origin?.stop();
});

test("prometheus scrapes the origin with the metrics token and loads every alert rule", { timeout: 120_000 }, async () => {
  assert.equal(await prometheus.until('up{job="launch-edge-origin"}', (v) => v === 1), 1);
  const rules = await (await fetch(`${prometheus.url}/api/v1/rules`)).json();
  const loaded = rules.data.groups.flatMap((g) => g.rules);
  assert.ok(loaded.length >= 7, `${loaded.length} rules`);
  assert.deepEqual(loaded.filter((r) => r.health !== "ok").map((r) => `${r.name}: ${r.lastError}`), []);
  assert.deepEqual(loaded.filter((r) => r.state === "firing").map((r) => r.name), [], "nothing fires on a quiet stack");
});

test("every dashboard query is valid and returns data for the traffic sent through the worker", { timeout: 300_000 }, async () => {
  await prometheus.until('up{job="launch-edge-origin"}', (v) => v === 1);
  // Wave one creates the per-launch series; wave two moves them, so rates are not zero.
  await wave(1, 30);
  const views = `launch_edge_origin_launch_views_total{launch="${SLUG}"}`;
  const lookups = `sum(launch_edge_edge_cache_lookups_total{launch="${SLUG}"})`;
  await prometheus.until(views, (v) => v >= 30);
  const firstLookups = await prometheus.until(lookups, (v) => v >= 30);
  await sleep(3_000);
  await wave(2, 40);
  await prometheus.until(views, (v) => v >= 70);
  await prometheus.until(lookups, (v) => v >= firstLookups + 40);
  await prometheus.until('launch_edge_edge_webhook_rejected_total{reason="signature_mismatch"}', (v) => v >= 1);
  await prometheus.until('sum(launch_edge_origin_ingest_batches_total{outcome="applied"})', (v) => v >= 2);
  const limited = await clickPastTheLimit();
  const refusals = `launch_edge_edge_inbound_rate_limited_total{launch="${SLUG}"}`;
  await prometheus.until(refusals, (v) => v >= limited);
  await prometheus.until('launch_edge_outbound_budget_remaining_ratio{target="producthunt"}', (v) => v >= 0);
  await sleep(2_000);

  const queries = dashboardQueries();
  assert.ok(queries.length >= 25, `${queries.length} queries`);
  const failures = [];
  for (const { panel, expr } of queries) {
    const promql = expr.replaceAll("$__rate_interval", RATE_INTERVAL).replaceAll("$launch", SLUG);
    const answer = await prometheus.query(promql);
    if (answer.status !== "success") {
      failures.push(`${panel}: ${promql}: ${answer.errorType} ${answer.error}`);
      continue;
    }
    const values = answer.data.result.map((r) => Number(r.value[1]));
    if (values.length === 0) failures.push(`${panel}: ${promql}: empty`);
    else if (values.every(Number.isNaN)) failures.push(`${panel}: ${promql}: only NaN`);
  }
  assert.deepEqual(failures, []);

  // The figures are the traffic's: views and cache verdicts of both waves, every view's
  // page counted once by the layer that served it, and each refusal of the limit.
  assert.equal(await prometheus.value(`sum(${views})`), 70);
  const served = `launch_edge_edge_page_served_total{launch="${SLUG}"}`;
  assert.equal(await prometheus.value(`sum(${served})`), 70);
  assert.ok(await prometheus.value(`sum(${served.replace("}", ',layer="origin"}')})`) >= 1, "the first view was rendered");
  assert.ok(await prometheus.value(`sum(${served.replace("}", ',layer="memory"}')})`) >= 1, "later views came from memory");
  assert.equal(await prometheus.value(refusals), limited);
  assert.equal(await prometheus.value('launch_edge_outbound_budget_remaining_ratio{target="producthunt"}'), 1, "nothing spent");
  // Every producer reports its oldest unacknowledged event: the lag is known, and small.
  const reportedAt = await prometheus.value("max(launch_edge_drain_lag_reported_timestamp_seconds)");
  assert.ok(reportedAt > Date.now() / 1000 - 300, `drain lag last reported at ${reportedAt}`);
  const lag = await prometheus.value("max(launch_edge_drain_lag_seconds)");
  assert.ok(lag >= 0 && lag < 60, `drain lag ${lag} s`);
  const ratio = await prometheus.value(queries.find((q) => q.panel.startsWith("Cache hit ratio")).expr.replaceAll("$launch", SLUG));
  assert.ok(ratio > 0.5 && ratio <= 1, `cache hit ratio ${ratio}`);
  // The launch template variable offers the seeded launch.
  const labels = await (await fetch(`${prometheus.url}/api/v1/label/launch/values?${new URLSearchParams({ "match[]": "launch_edge_origin_launch_views_total" })}`)).json();
  assert.deepEqual(labels.data, [SLUG]);
});

test("prometheus is stopped by the test and leaves no data directory", { timeout: 60_000 }, async () => {
  await prometheus.stop();
  assert.notEqual(prometheus.child.exitCode ?? prometheus.child.signalCode, null);
  assert.throws(() => readFileSync(join(promDir, "prometheus.yml")), /ENOENT/);
  prometheus = null;
});
