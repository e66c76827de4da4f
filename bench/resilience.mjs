// The resilience suite (scripts/resilience.sh; a short version runs in the test command as
// worker-tests/resilience.test.mjs). Under steady load (views, clicks, beacon events) it
// kills and restarts the origin, restarts Postgres (a private cluster of its own, never the
// shared dev one), restarts `wrangler dev` with persistence; then checks that Postgres
// holds exactly what the worker acknowledged, that pages were served throughout with no
// 5xx, that a flood of random query strings adds no cache key, and that forged webhooks,
// oversized bodies and unauthenticated admin calls are refused with nothing stored.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Origin, Worker, seedLaunch, ADMIN_TOKEN } from "../worker-tests/harness.mjs";
import { benchDatabase, openLoop, nextVisitor, onExit, psql, sleep, ROOT } from "./stack.mjs";

// RESILIENCE_PGPORT: another port when two checkouts run the suite at the same time.
export const RESILIENCE_PGPORT = process.env.RESILIENCE_PGPORT ?? "55440";
const PG_ENV = { ...process.env, PGPORT: RESILIENCE_PGPORT, PG_DIR: join(ROOT, ".data", "pg-resilience") };
const pg = (cmd) => execFileSync("bash", [join(ROOT, "scripts", "pg.sh"), cmd], { env: PG_ENV, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();

/** Starts the suite's own Postgres cluster (127.0.0.1:55440, .data/pg-resilience). */
export function startPrivatePostgres() {
  pg("start");
  return pg("url").replace(/\/[^/]*$/, "/postgres");
}

const RELAY_SECRET = "relay-bench-secret-0123456789";
const SVIX_SECRET = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"; // the public svix test vector

/**
 * Runs the whole scenario; `seconds` scales it (the phases are fractions of it).
 * Returns { ok, report } where report is printable lines.
 */
export async function runResilience({ seconds = 120, rate = 40, log = (...a) => console.error("==>", ...a) } = {}) {
  const report = [];
  const findings = [];
  const check = (name, ok, detail) => { findings.push({ name, ok, detail }); report.push(`${ok ? "ok  " : "FAIL"} ${name}: ${detail}`); };

  const adminUrl = startPrivatePostgres();
  const db = benchDatabase(adminUrl);
  onExit(() => db.drop());
  const slug = "res-launch";
  seedLaunch(db.url, slug, "Resilient");
  seedLaunch(db.url, "res-flood", "Flood");

  const origin = await new Origin(db.url).start();
  onExit(() => origin.stop());
  const persistTo = mkdtempSync(join(tmpdir(), "launch-edge-resilience-"));
  onExit(() => rmSync(persistTo, { recursive: true, force: true }));
  // A short soft TTL, so the page goes stale during the outages and stale-if-error is what
  // keeps it served; webhook sources configured so forged deliveries reach the verifier.
  const worker = new Worker({
    originUrl: origin.url,
    persistTo,
    vars: { PAGE_SOFT_TTL_SECONDS: "3", WEBHOOK_SOURCES: "relay=producthunt;hooks=standard", WEBHOOK_SECRETS_RELAY: RELAY_SECRET, WEBHOOK_SECRETS_HOOKS: SVIX_SECRET },
  });
  onExit(() => worker.stop());
  await worker.start();
  for (const s of [slug, "res-flood"]) {
    const res = await worker.admin(`/admin/launches/${s}/prewarm`, { method: "POST" });
    if (!res.ok) throw new Error(`prewarm ${s}: ${res.status}`);
  }

  // ---- sustained load with faults ----
  const mix = { view: 0.6, click: 0.2, event: 0.2 };
  log(`load: ${rate} rps for ${seconds}s (views ${mix.view * 100}%, clicks ${mix.click * 100}%, events ${mix.event * 100}%)`);
  const load = openLoop({ baseUrl: worker.url, slug, rateAt: () => rate, mix });
  const at = async (fraction) => { const wait = fraction * seconds - load.elapsedS(); if (wait > 0) await sleep(wait * 1000); };
  const outage = Math.max(3, Math.round(seconds * 0.06));
  const faults = [];
  const windows = []; // [from, to, what]: connection failures inside a wrangler restart are expected

  await at(0.12);
  let t = load.elapsedS();
  await origin.stop();
  await sleep(outage * 1000);
  await origin.start();
  faults.push(`origin killed (SIGKILL) at ${t.toFixed(1)}s, restarted after ${(load.elapsedS() - t).toFixed(1)}s`);

  await at(0.35);
  t = load.elapsedS();
  pg("stop");
  await sleep(outage * 1000);
  pg("start");
  faults.push(`Postgres stopped (fast) at ${t.toFixed(1)}s, started again after ${(load.elapsedS() - t).toFixed(1)}s`);

  await at(0.55);
  t = load.elapsedS();
  await worker.stop();
  await worker.start();
  windows.push([t, load.elapsedS() + 0.5]);
  faults.push(`wrangler dev stopped (SIGTERM to its process group) at ${t.toFixed(1)}s, up again with the same persistence after ${(load.elapsedS() - t).toFixed(1)}s`);

  await at(0.75);
  t = load.elapsedS();
  await origin.stop();
  await sleep(outage * 1000);
  await origin.start();
  faults.push(`origin killed again at ${t.toFixed(1)}s, restarted after ${(load.elapsedS() - t).toFixed(1)}s`);

  await at(1);
  const tally = await load.stop();
  const loadSeconds = load.elapsedS();
  report.push(`load held: ${load.issued} requests in ${loadSeconds.toFixed(0)}s at ${rate} rps (views ${tally.view.sent}, clicks ${tally.click.sent}, events ${tally.event.sent}); generator skipped ${load.skipped}`);
  for (const f of faults) report.push(`fault: ${f}`);

  // ---- pages throughout, no 5xx ----
  const all = Object.entries(tally);
  const fivexx = all.flatMap(([k, v]) => v.serverErrors.map((e) => ({ kind: k, ...e })));
  const inWindow = (s) => windows.some(([a, b]) => s >= a && s <= b);
  const failures = all.flatMap(([k, v]) => v.failures.map((f) => ({ kind: k, ...f })));
  // A request fails "because of the restart" if it was cut (or refused) while wrangler was down.
  const expectedFailures = failures.filter((f) => inWindow(f.endS));
  const unexpectedFailures = failures.filter((f) => !inWindow(f.endS));
  check("no 5xx", fivexx.length === 0, `${fivexx.length} 5xx answers${fivexx.length ? ` ${JSON.stringify(fivexx.slice(0, 5))}` : ""}`);
  check("pages served throughout", tally.view.statuses[200] === tally.view.sent - tally.view.failures.length && unexpectedFailures.length === 0,
    `views ${JSON.stringify(tally.view.statuses)} x-cache ${JSON.stringify(tally.view.cache)}; connection failures outside the wrangler restart: ${unexpectedFailures.length}${unexpectedFailures.length ? ` ${JSON.stringify(unexpectedFailures.slice(0, 3))}` : ""}`);
  report.push(`connection failures while wrangler dev itself was restarting (not 5xx): ${expectedFailures.length} (${["view", "click", "event"].map((k) => `${k} ${expectedFailures.filter((f) => f.kind === k).length}`).join(", ")})`);
  check("stale-if-error used", (tally.view.cache.STALE ?? 0) > 0, `${tally.view.cache.STALE ?? 0} pages served STALE during the outages`);

  // ---- exactly once: Postgres against what the worker acknowledged ----
  const total = (s, metric) => Number(psql(db.url, `SELECT coalesce(sum(value), 0) FROM metrics_day WHERE launch = '${s}' AND metric = '${metric}'`));
  const stats = async (s) => (await (await worker.admin(`/admin/launches/${s}/stats`)).json()).stats;
  // A click or event cut off by the wrangler restart has an unknown outcome: it may have
  // been stored before the connection dropped. Those are "in doubt", not acknowledged.
  const inDoubt = { click: expectedFailures.filter((f) => f.kind === "click").length, event: expectedFailures.filter((f) => f.kind === "event").length };
  const settled = () => total(slug, "click") >= tally.click.acked && total(slug, "signup") >= tally.event.acked;
  const deadline = Date.now() + Math.max(90, seconds) * 1000;
  let s;
  for (;;) {
    s = await stats(slug);
    if ((settled() && total(slug, "view") === s.views && total(slug, "click") === s.clicks && total(slug, "signup") === (s.conversions.signup ?? 0)) || Date.now() > deadline) break;
    await sleep(500);
  }
  await sleep(3000); // anything still to come would be a duplicate
  s = await stats(slug);
  const pgClicks = total(slug, "click"), pgSignups = total(slug, "signup"), pgViews = total(slug, "view");
  const lost = Math.max(0, tally.click.acked - pgClicks) + Math.max(0, tally.event.acked - pgSignups);
  const duplicated = Math.max(0, pgClicks - tally.click.acked - inDoubt.click) + Math.max(0, pgSignups - tally.event.acked - inDoubt.event);
  check("events lost", lost === 0, `${lost} (clicks acknowledged ${tally.click.acked}, in Postgres ${pgClicks}; events acknowledged ${tally.event.acked}, in Postgres ${pgSignups})`);
  check("events duplicated", duplicated === 0, `${duplicated} (in doubt from the wrangler restart: ${inDoubt.click} clicks, ${inDoubt.event} events; stored of those: ${pgClicks - tally.click.acked + pgSignups - tally.event.acked})`);
  check("shards = Postgres", pgViews === s.views && pgClicks === s.clicks && pgSignups === (s.conversions.signup ?? 0),
    `views ${s.views}/${pgViews}, clicks ${s.clicks}/${pgClicks}, signups ${s.conversions.signup ?? 0}/${pgSignups} (worker stats / Postgres)`);
  report.push(`views: ${tally.view.acked} pages served 200, ${s.views} counted by the shards (counted in the background: a view whose count was cut by the wrangler restart is not counted), ${pgViews} in Postgres`);
  const viewsInDoubt = expectedFailures.filter((f) => f.kind === "view").length;
  check("views never over-counted", s.views <= tally.view.acked + viewsInDoubt, `${s.views} counted ≤ ${tally.view.acked} served + ${viewsInDoubt} cut by the wrangler restart (served, answer lost)`);

  // ---- a flood of random query strings ----
  const keysBefore = (await worker.storedPageKeys()).length;
  const junk = () => Math.random().toString(36).slice(2, 10);
  let floodOk = 0;
  const FLOOD = 300;
  for (let i = 0; i < FLOOD; i += 50) {
    const batch = await Promise.all(Array.from({ length: 50 }, () =>
      worker.fetch(`/launch/res-flood?${junk()}=${junk()}&utm_source=${junk()}&ref=${junk()}&lang=${junk()}&fbclid=${junk()}`, { headers: nextVisitor(60) })));
    for (const r of batch) { await r.arrayBuffer(); if (r.status === 200) floodOk += 1; }
  }
  await sleep(1500);
  const keysAfter = (await worker.storedPageKeys()).length;
  check("random query flood adds no cache key", keysAfter === keysBefore && floodOk === FLOOD, `${FLOOD} requests (${floodOk} answered 200), KV page keys ${keysBefore} → ${keysAfter}`);
  // Let the flood's views land, so the snapshot below is still.
  for (let i = 0; i < 60; i++) { if (total("res-flood", "view") === (await stats("res-flood")).views) break; await sleep(500); }
  await sleep(2500);

  // ---- bad inputs: every one refused, nothing stored ----
  // Rejections are counted on purpose as worker counters (edge_counters, via the task
  // scheduler's batches); what must not change is launch data: counter batches, metrics,
  // webhook events.
  const snapshot = () => psql(db.url, `SELECT (SELECT count(*) FROM ingested_batches WHERE shard <> 'task-scheduler') || ' ' || (SELECT coalesce(sum(value),0) FROM metrics_day) || ' ' || (SELECT count(*) FROM webhook_events)`);
  const before = { pg: snapshot(), stats: JSON.stringify(await stats(slug)), keys: (await worker.storedPageKeys()).length };
  const big = "x".repeat(2 * 1024 * 1024);
  const json = { "content-type": "application/json" };
  const now = Math.floor(Date.now() / 1000);
  const webhookBody = JSON.stringify({ type: "signup.created", data: { launch: slug } });
  const bad = [
    ["admin without a token", worker.fetch("/admin/pages"), [401]],
    ["admin with a wrong token", worker.fetch("/admin/pages", { headers: { authorization: "Bearer wrong-token-0123456789" } }), [401]],
    ["admin prewarm without a token", worker.fetch(`/admin/launches/${slug}/prewarm`, { method: "POST" }), [401]],
    ["admin stats with a malformed authorization", worker.fetch(`/admin/launches/${slug}/stats`, { headers: { authorization: `Basic ${ADMIN_TOKEN}` } }), [401]],
    ["beacon body over the limit (5 KB)", worker.fetch(`/launch/${slug}/events`, { method: "POST", headers: { ...nextVisitor(70), ...json }, body: JSON.stringify({ kind: "signup", pad: "x".repeat(5000) }) }), [413]],
    ["beacon body of 2 MiB", worker.fetch(`/launch/${slug}/events`, { method: "POST", headers: { ...nextVisitor(70), ...json }, body: big }), [413]],
    ["beacon malformed JSON", worker.fetch(`/launch/${slug}/events`, { method: "POST", headers: { ...nextVisitor(70), ...json }, body: "{nope" }), [400]],
    ["forged relay webhook (bad X-ProductHunt-Signature)", worker.fetch("/webhooks/relay", { method: "POST", headers: { ...json, "x-producthunt-signature": `sha256=${"0".repeat(64)}`, "x-producthunt-timestamp": String(now) }, body: webhookBody }), [400, 401]],
    ["forged Standard Webhooks delivery (bad webhook-signature)", worker.fetch("/webhooks/hooks", { method: "POST", headers: { ...json, "webhook-id": "msg_forged_1", "webhook-timestamp": String(now), "webhook-signature": `v1,${Buffer.alloc(32).toString("base64")}` }, body: webhookBody }), [400, 401]],
    ["webhook body of 2 MiB", worker.fetch("/webhooks/hooks", { method: "POST", headers: { ...json, "webhook-id": "msg_big", "webhook-timestamp": String(now), "webhook-signature": "v1,AAAA" }, body: big }), [413, 400, 401]],
    ["unsigned batch straight to the origin", fetch(`${origin.url}/ingest/batch`, { method: "POST", headers: json, body: JSON.stringify({ batch_id: "forged:1", shard: "forged", counters: [] }) }), [401]],
  ];
  let refused = 0;
  const webhookRoute = { exists: true };
  for (const [name, pending, expected] of bad) {
    let status, code = "";
    try {
      const res = await pending;
      status = res.status;
      code = (await res.text()).match(/"error"\s*:\s*"([^"]+)"/)?.[1] ?? "";
    } catch (e) { status = `failed (${e.cause?.code ?? e.name})`; }
    const isWebhook = name.includes("webhook");
    if (isWebhook && status === 404 && code === "not_found") webhookRoute.exists = false;
    const ok = expected.includes(status) || (isWebhook && status === 404);
    if (ok) refused += 1;
    report.push(`  bad input: ${name} → ${status}${code ? ` ${code}` : ""}${ok ? "" : `  (expected ${expected.join(" or ")})`}`);
  }
  await sleep(3000);
  const after = { pg: snapshot(), stats: JSON.stringify(await stats(slug)), keys: (await worker.storedPageKeys()).length };
  check("bad inputs refused", refused === bad.length, `${refused}/${bad.length} refused${webhookRoute.exists ? "" : " (no /webhooks route in this build: answered 404 route not found)"}`);
  check("bad inputs stored nothing", JSON.stringify(before) === JSON.stringify(after), `Postgres (batches, metric sum, webhook events) ${before.pg} → ${after.pg}; stats unchanged: ${before.stats === after.stats}; KV keys ${before.keys} → ${after.keys}`);

  const ok = findings.every((f) => f.ok);
  report.push(`RESULT: ${ok ? "PASS" : "FAIL"}; events lost ${lost}, events duplicated ${duplicated}`);
  return { ok, report, lost, duplicated };
}
