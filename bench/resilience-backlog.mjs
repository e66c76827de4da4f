// Resilience scenario "backlog": a two-hour origin outage on a busy launch. While the
// origin is down, clicks for every minute of two hours (the test clock header moves each
// event to its minute instead of waiting), from dozens of sources, on several launches,
// each launch on ONE counter shard, so one shard holds more rows than one batch may carry,
// plus the changed visitor sketches. After the origin comes back, everything the worker
// acknowledged must reach Postgres exactly once, with no batch set aside.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Origin, Worker, seedLaunch } from "../worker-tests/harness.mjs";
import { benchDatabase, nextVisitor, onExit, psql, sleep } from "./stack.mjs";
import { startPrivatePostgres } from "./resilience.mjs";

const TEST_NOW_HEADER = "x-launch-edge-test-now"; // src/visit.rs

/** Runs `jobs` (functions returning promises) with at most `width` in flight. */
async function pool(jobs, width) {
  let next = 0;
  const run = async () => { while (next < jobs.length) await jobs[next++](); };
  await Promise.all(Array.from({ length: width }, run));
}

/**
 * `minutes` simulated minutes of outage; the busy launch gets a click per minute from each
 * of `sources` sources, `launches - 1` quieter launches a few each. Returns
 * { ok, report, lost, duplicated }.
 */
export async function runBacklogScenario({ minutes = 120, sources = 42, launches = 4, log = (...a) => console.error("==>", ...a) } = {}) {
  const report = [];
  const findings = [];
  const check = (name, ok, detail) => { findings.push(ok); report.push(`${ok ? "ok  " : "FAIL"} ${name}: ${detail}`); };
  const adminUrl = startPrivatePostgres();
  const db = benchDatabase(adminUrl);
  onExit(() => db.drop());
  const slugs = Array.from({ length: launches }, (_, i) => `backlog-${i}`);
  for (const slug of slugs) seedLaunch(db.url, slug, slug);
  const origin = await new Origin(db.url).start();
  onExit(() => origin.stop());
  const persistTo = mkdtempSync(join(tmpdir(), "launch-edge-backlog-"));
  onExit(() => rmSync(persistTo, { recursive: true, force: true }));
  const worker = new Worker({ originUrl: origin.url, persistTo, vars: { COUNTER_SHARDS: "1", TEST_CLIENT_CLOCK: "enabled" } });
  onExit(() => worker.stop());
  await worker.start();
  for (const slug of slugs) {
    const res = await worker.admin(`/admin/launches/${slug}/prewarm`, { method: "POST" });
    if (!res.ok) throw new Error(`prewarm ${slug}: ${res.status}`);
  }

  await origin.stop();
  const outageStart = Date.now() - (minutes + 5) * 60_000;
  const acked = Object.fromEntries(slugs.map((s) => [s, 0]));
  let refused = 0, views = 0;
  const jobs = [];
  for (let m = 0; m < minutes; m++) {
    const at = String(outageStart + m * 60_000 + 1_000);
    slugs.forEach((slug, l) => {
      const count = l === 0 ? sources : 3;
      for (let s = 0; s < count; s++) {
        jobs.push(async () => {
          const res = await worker.fetch(`/go/${slug}?to=signup&utm_source=src${s}.example`, { headers: { ...nextVisitor(80), [TEST_NOW_HEADER]: at } });
          await res.arrayBuffer();
          if (res.status === 302) acked[slug] += 1; else refused += 1;
        });
      }
      // A view a minute: new visitors, so each launch's sketch changes too.
      jobs.push(async () => {
        const res = await worker.fetch(`/launch/${slug}?ref=producthunt`, { headers: { ...nextVisitor(90), [TEST_NOW_HEADER]: at } });
        await res.arrayBuffer();
        views += 1;
      });
    });
  }
  const t0 = Date.now();
  log(`backlog: ${jobs.length} requests over ${minutes} simulated minutes while the origin is down`);
  await pool(jobs, 64);
  const clicks = Object.values(acked).reduce((a, b) => a + b, 0);
  report.push(`backlog: origin down for ${minutes} simulated minutes (test clock); ${clicks} clicks acknowledged (${refused} refused), ${views} views, ${sources} sources on the busy launch, ${launches} launches with one shard each; sent in ${((Date.now() - t0) / 1000).toFixed(0)}s`);
  await sleep(2_000); // views are counted in the background: let the last ones land
  // The simulated window may cross Pacific midnight: add up every day it touches.
  const pacificDay = (ms) => new Intl.DateTimeFormat("en-CA", { timeZone: "America/Los_Angeles" }).format(new Date(ms));
  const hours = Math.ceil((Date.now() - outageStart) / 3_600_000);
  const days = [...new Set([...Array.from({ length: hours }, (_, h) => outageStart + h * 3_600_000), Date.now()].map(pacificDay))];
  const stats = async (slug) => {
    const sum = { views: 0, clicks: 0 };
    for (const day of days) {
      const s = (await (await worker.admin(`/admin/launches/${slug}/stats?day=${day}`)).json()).stats;
      sum.views += s.views;
      sum.clicks += s.clicks;
    }
    return sum;
  };
  const counted = {};
  for (const slug of slugs) counted[slug] = await stats(slug);
  const pendingRows = Number(sources) * minutes;
  report.push(`busy shard backlog: at least ${pendingRows} click rows (one per minute and source) plus views and its sketch; one batch carries at most 5000 rows`);

  await origin.start();
  // Drain time, from the origin answering again: the first batch of the busy shard waits
  // for its drain backoff (1 s doubling to 60 s during the outage), then the rest follow.
  const backAt = Date.now();
  let firstAt = null;
  const total = (slug, metric) => Number(psql(db.url, `SELECT coalesce(sum(value), 0) FROM metrics_day WHERE launch = '${slug}' AND metric = '${metric}'`));
  const settled = () => slugs.every((s) => total(s, "click") >= counted[s].clicks && total(s, "view") >= counted[s].views);
  const busySettled = () => total(slugs[0], "click") >= counted[slugs[0]].clicks && total(slugs[0], "view") >= counted[slugs[0]].views;
  let busyAt = null;
  const deadline = Date.now() + 120_000;
  while (!settled() && Date.now() < deadline) {
    if (firstAt === null && Number(psql(db.url, `SELECT count(*) FROM ingested_batches WHERE shard = '${slugs[0]}/0'`)) > 0) firstAt = Date.now();
    if (busyAt === null && busySettled()) busyAt = Date.now();
    await sleep(500);
  }
  const settledAt = Date.now();
  firstAt ??= settledAt;
  busyAt ??= settledAt;
  const drain = { firstBatchS: (firstAt - backAt) / 1000, busyS: (busyAt - firstAt) / 1000, settledS: (settledAt - backAt) / 1000 };
  report.push(`drain after the origin came back (polled every 0.5 s): busy shard's first batch after ${drain.firstBatchS.toFixed(1)} s (its retry backoff), all its rows ${drain.busyS.toFixed(1)} s after that, everything of every shard in Postgres after ${drain.settledS.toFixed(1)} s (the other shards wait out their own backoff)`);
  await sleep(3_000); // anything still to come would be a duplicate
  let lost = 0, duplicated = 0;
  const lines = [];
  for (const slug of slugs) {
    const pgClicks = total(slug, "click"), pgViews = total(slug, "view");
    lost += Math.max(0, acked[slug] - pgClicks) + Math.max(0, counted[slug].views - pgViews);
    duplicated += Math.max(0, pgClicks - acked[slug]) + Math.max(0, pgViews - counted[slug].views);
    lines.push(`${slug} clicks ${pgClicks}/${acked[slug]} views ${pgViews}/${counted[slug].views}`);
  }
  const rowsBusy = Number(psql(db.url, `SELECT count(*) FROM metrics_minute WHERE launch = '${slugs[0]}'`));
  const batches = Number(psql(db.url, `SELECT count(*) FROM ingested_batches WHERE shard = '${slugs[0]}/0'`));
  const maxRows = Number(psql(db.url, `SELECT coalesce(max(rows), 0) FROM ingested_batches`));
  check("backlog drained exactly", lost === 0 && duplicated === 0, `lost ${lost}, duplicated ${duplicated} (Postgres / acknowledged or counted: ${lines.join("; ")})`);
  check("batches within the origin's limit", maxRows <= 5000 && batches >= 2, `busy shard: ${rowsBusy} minute rows in ${batches} batches, largest batch ${maxRows} rows`);
  const listing = await worker.admin("/admin/dead-letters");
  const dead = listing.ok ? await listing.json() : { worker: { count: `unknown (${listing.status})` }, origin: { open: "unknown" } };
  check("nothing set aside", dead.worker.count === 0 && dead.origin.open === 0, `worker dead batches ${dead.worker.count}, origin dead letters ${dead.origin.open}`);
  const ok = findings.every(Boolean);
  report.push(`RESULT (backlog): ${ok ? "PASS" : "FAIL"}; lost ${lost}, duplicated ${duplicated}`);
  return { ok, report, lost, duplicated, drain };
}
