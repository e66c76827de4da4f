// The launch dashboard in a real browser: headless Chromium (Debian's `chromium`, driven
// by playwright-core) signs in through the login form, opens the dashboard of a seeded
// launch, the figures it shows are compared with the report API, and screenshots are
// kept in worker-tests/artifacts/.
// Origin and Postgres only: the worker is not needed here.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { chromium } from "playwright-core";
import { Origin, freshDatabase, psql, signedFetch, DASHBOARD_TOKEN, ROOT } from "./harness.mjs";

// Console errors and page errors of every page opened, checked by the last test.
const consoleErrors = [];
function watch(page) {
  page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(`${page.url()}: ${m.text()}`); });
  page.on("pageerror", (e) => consoleErrors.push(`${page.url()}: ${e.message}`));
  return page;
}

const SLUG = "browser-rocket";
const DAY = "2026-12-01";
// 2026-12-01 08:00 UTC is 00:00 in Los Angeles: every minute below is on Pacific day DAY.
const START = Date.UTC(2026, 11, 1, 8, 0, 0) / 1000;
const ARTIFACTS = join(ROOT, "worker-tests", "artifacts");

let db, origin, browser, userDataDir;

/**
 * A unique-visitor sketch of `visitors` distinct ids in the proto's sparse byte format
 * (proto/src/uniques.rs: `[1, 14, 1]`, u16 LE count, then u16 LE index + u8 rank per
 * register), hashing like the worker: the first 8 bytes of a SHA-256, big-endian.
 */
function sketchOf(visitors) {
  const registers = new Map();
  for (let v = 0; v < visitors; v++) {
    const hash = createHash("sha256").update(`visitor-${v}`).digest().readBigUInt64BE(0);
    const index = Number(hash >> 50n);
    const rest = (hash << 14n) & 0xffffffffffffffffn;
    const zeros = rest === 0n ? 64 : 64 - rest.toString(2).length;
    const rank = Math.min(zeros, 50) + 1;
    registers.set(index, Math.max(rank, registers.get(index) ?? 0));
  }
  const sorted = [...registers.entries()].sort((a, b) => a[0] - b[0]);
  const bytes = Buffer.alloc(5 + 3 * sorted.length);
  bytes.set([1, 14, 1]);
  bytes.writeUInt16LE(sorted.length, 3);
  sorted.forEach(([index, rank], i) => { bytes.writeUInt16LE(index, 5 + 3 * i); bytes[7 + 3 * i] = rank; });
  return bytes.toString("base64");
}

/** 45 minutes of a launch spike: views by source, clicks and conversions, revenue. */
function knownTraffic() {
  const counters = [];
  const add = (minute, source, metric, value) =>
    value > 0 && counters.push({ launch: SLUG, day: DAY, minute: START + minute * 60, source, metric, value });
  for (let m = 0; m < 45; m++) {
    const wave = Math.round(400 * Math.exp(-((m - 12) ** 2) / 60)) + 20;
    add(m, "producthunt", "view", wave);
    add(m, "direct", "view", Math.round(wave / 4));
    add(m, "twitter.com", "view", m % 3 === 0 ? 17 : 0);
    add(m, "producthunt", "click", Math.round(wave / 5));
    add(m, "direct", "click", Math.round(wave / 25));
    add(m, "producthunt", "signup", m % 2 === 0 ? 3 : 1);
    add(m, "direct", "signup", m % 5 === 0 ? 1 : 0);
    add(m, "producthunt", "purchase", m % 9 === 0 ? 1 : 0);
    add(m, "producthunt", "revenue_cents", m % 9 === 0 ? 4_900 : 0);
  }
  const edge = (launch, metric, value) => counters.push({ launch, day: DAY, minute: START, source: "edge", metric, value });
  edge(SLUG, "edge_cache_hit", 9_412);
  edge(SLUG, "edge_cache_stale", 311);
  edge(SLUG, "edge_cache_miss", 57);
  edge(SLUG, "edge_origin_fetch", 61);
  edge("", "edge_outbound_429", 2);
  edge("", "edge_task_retry", 5);
  edge("", "edge_task_dead_letter", 1);
  edge("", "edge_webhook_rejected.signature_mismatch", 3);
  const uniques = [{ launch: SLUG, day: DAY, sketch: sketchOf(700) }];
  return { batch_id: `${SLUG}:1`, shard: "browser-test", counters, uniques };
}

before(async () => {
  db = freshDatabase();
  psql(
    db,
    `INSERT INTO launches (slug, name, tagline, launch_at, destinations, spend_cents, ltv_cents)
     VALUES ('${SLUG}', 'Browser Rocket', 'Ship it', '2026-12-01 08:01:00+00',
             '{"signup":"https://example.com/signup"}', 50000, 12000);
     INSERT INTO ph_post_stats (launch, observed_at, votes, comments)
     SELECT '${SLUG}', '2026-12-01 08:00:00+00'::timestamptz + make_interval(mins => 10 * i), 25 * i * i / 3, 2 * i
       FROM generate_series(0, 9) AS i;`,
  );
  origin = await new Origin(db, { env: { DASHBOARD_TOKEN } }).start();
  const ingest = await signedFetch(origin.url, "/ingest/batch", { method: "POST", body: JSON.stringify(knownTraffic()) });
  assert.equal(ingest.status, 200, await ingest.text());
  userDataDir = mkdtempSync(join(tmpdir(), "launch-edge-chromium-"));
  browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    viewport: { width: 1366, height: 900 },
  });
  mkdirSync(ARTIFACTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  await origin?.stop();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
});

// The page's formatting (origin/src/dashboard/mod.rs), for comparing with the API's numbers.
const count = (n) => n.toLocaleString("en-US");
const money = (cents, cur) => `${cents < 0 ? "-" : ""}${count(Math.trunc(Math.abs(cents) / 100))}.${String(Math.abs(cents) % 100).padStart(2, "0")} ${cur}`;
const percent = (r) => (r === null ? "—" : `${(r * 100).toFixed(2)}%`);

async function figures(page) {
  return page.$$eval("[data-figure]", (nodes) => Object.fromEntries(nodes.map((n) => [n.dataset.figure, n.textContent.trim()])));
}

test("the dashboard shows the report API's figures, charts and edge counters, with no external requests", async () => {
  const reportRes = await signedFetch(origin.url, `/api/launches/${SLUG}/report`);
  assert.equal(reportRes.status, 200);
  const report = await reportRes.json();
  assert.ok(report.views > 1000 && report.conversions > 50, "the seeded traffic is counted");
  assert.ok(Math.abs(report.unique_visitors - 700) <= 7, `about 700 visitors: ${report.unique_visitors}`);

  const page = watch(await browser.newPage());
  const foreign = [];
  page.on("request", (r) => { if (!r.url().startsWith(origin.url)) foreign.push(r.url()); });
  // Not signed in: the browser is sent to the login form, which posts the token (it is
  // never in a URL) and comes back to the page with an HttpOnly, SameSite=Strict cookie.
  await page.goto(`${origin.url}/launches/${SLUG}`);
  assert.equal(new URL(page.url()).pathname, "/login");
  await page.fill("#token", DASHBOARD_TOKEN);
  const [response] = await Promise.all([
    page.waitForNavigation(),
    page.click("form[data-form=login] button[type=submit]"),
  ]);
  assert.equal(response.status(), 200);
  assert.equal(new URL(page.url()).pathname, `/launches/${SLUG}`);
  assert.ok(!page.url().includes(DASHBOARD_TOKEN), "the token is never in the address bar");
  const [cookie] = await browser.cookies(origin.url);
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, "Strict");
  assert.equal(cookie.secure, false, "plain http on 127.0.0.1: Secure only over https");

  const shown = await figures(page);
  assert.equal(shown.views, count(report.views));
  assert.equal(shown.unique_visitors, count(report.unique_visitors));
  assert.equal(shown.clicks, count(report.clicks));
  assert.equal(shown.conversions, count(report.conversions));
  // Conversions per view over the sources that had views (same sources, same days).
  const viewed = report.conversions_by_source.filter((s) => s.views > 0);
  const perView = viewed.reduce((a, s) => a + s.conversions, 0) / viewed.reduce((a, s) => a + s.views, 0);
  assert.equal(shown.conversion_rate, percent(perView));
  assert.equal(shown.revenue, money(report.revenue_cents, report.currency));
  assert.equal(shown.spend, money(report.spend_cents, report.currency));
  assert.equal(shown.cac, money(report.cac_cents, report.currency));
  assert.equal(shown.ltv, money(report.ltv_cents, report.currency));
  assert.equal(shown.roi, percent(report.roi));
  assert.equal(shown.cache_hit_ratio, percent((9_412 + 311) / (9_412 + 311 + 57)));
  assert.equal(shown.task_dead_letter, "1");
  assert.equal(shown.dead_letters, "1", "the one task set aside, of every kind counted");
  assert.equal(shown.ph_votes, count(Math.trunc((25 * 81) / 3)));

  const sources = await page.$$eval("[data-table=sources] tbody tr", (rows) => rows.map((r) => [...r.cells].map((c) => c.textContent.trim())));
  assert.deepEqual(sources.map((r) => r[0]), report.conversions_by_source.map((s) => s.source));
  assert.equal(sources[0][0], "producthunt");
  assert.deepEqual(sources.map((r) => r[3]), report.conversions_by_source.map((s) => count(s.conversions)));
  // Medium and campaign tables hold the report's rows (by views here, by conversions there).
  for (const [table, rows] of [["mediums", report.conversions_by_medium], ["campaigns", report.conversions_by_campaign]]) {
    const shownRows = await page.$$eval(`[data-table=${table}] tbody tr`, (trs) => trs.map((r) => [...r.cells].map((c) => c.textContent.trim())));
    assert.deepEqual(shownRows.map((r) => `${r[0]}:${r[1]}`).sort(), rows.map((m) => `${m.value}:${count(m.views)}`).sort(), table);
    assert.ok(shownRows.length > 0, table);
  }
  const funnel = await page.$$eval("[data-table=funnel] tbody tr", (rows) => rows.map((r) => [...r.cells].map((c) => c.textContent.trim())));
  assert.deepEqual(funnel.map((r) => r[1]), report.funnel.map((s) => count(s.count)));
  // "Per view": clicks and conversions over views (unique visitors are people, not events).
  assert.deepEqual(funnel.map((r) => r[2]), report.funnel.map((s) =>
    ["clicks", "conversions"].includes(s.step) ? percent(s.count / report.views) : ""));

  assert.equal(await page.locator("svg.chart polyline[data-series=views]").count(), 1);
  assert.equal(await page.locator("meta[http-equiv=refresh]").count(), 0, "live figures, no reload");
  assert.deepEqual(foreign, [], "no CDN scripts, fonts or images");
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.screenshot({ path: join(ARTIFACTS, "dashboard.png"), fullPage: true });
  await page.close();
});

test("the dashboard fits a phone screen without sideways scrolling", async () => {
  const page = watch(await browser.newPage());
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${origin.url}/launches/${SLUG}`);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than the phone`);
  await page.screenshot({ path: join(ARTIFACTS, "dashboard-phone.png"), fullPage: true });
  await page.close();
});

test("the launch index links the launch with its headline numbers", async () => {
  const page = watch(await browser.newPage());
  await page.goto(`${origin.url}/launches`);
  const row = page.locator(`tr[data-launch=${SLUG}]`);
  const report = await (await signedFetch(origin.url, `/api/launches/${SLUG}/report`)).json();
  assert.equal(await row.locator("[data-figure=views]").textContent(), count(report.views));
  assert.equal(await row.locator("[data-figure=revenue]").textContent(), money(report.revenue_cents, report.currency));
  await row.locator("a").click();
  await page.waitForURL(`**/launches/${SLUG}`);
  await page.close();
});

test("without the token the dashboard answers 401, and a token in the link opens nothing", async () => {
  const res = await fetch(`${origin.url}/launches/${SLUG}`);
  assert.equal(res.status, 401);
  assert.equal((await res.json()).error, "dashboard_token_required");
  const link = await fetch(`${origin.url}/launches/${SLUG}?token=${DASHBOARD_TOKEN}`, { redirect: "manual" });
  assert.equal(link.status, 401);
  assert.equal(link.headers.get("set-cookie"), null);
});

test("a wrong token on the login form shows the form again and sets no cookie", async () => {
  const context = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: ["--no-sandbox", "--disable-gpu"] });
  try {
    const page = await context.newPage();
    await page.goto(`${origin.url}/login?next=/launches/${SLUG}`);
    await page.fill("#token", "not-the-dashboard-token-0123456789abcdef");
    const [response] = await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
    assert.equal(response.status(), 401);
    assert.equal(await page.locator("[data-problem=login]").count(), 1);
    assert.deepEqual(await page.context().cookies(origin.url), []);
  } finally {
    await context.close();
  }
});

const figureOf = (page, key) => page.locator(`[data-figure=${key}]`).textContent();

test("previous and next day links move by one Pacific day and keep the figures of that day", async () => {
  const page = watch(await browser.newPage());
  await page.goto(`${origin.url}/launches/${SLUG}?day=${DAY}`);
  const views = await figureOf(page, "views");
  assert.notEqual(views, "0");
  await page.focus("[data-nav=prev]");
  await Promise.all([page.waitForNavigation(), page.keyboard.press("Enter")]);
  assert.equal(new URL(page.url()).searchParams.get("day"), "2026-11-30");
  assert.equal(await figureOf(page, "views"), "0", "no traffic the day before");
  await Promise.all([page.waitForNavigation(), page.click("[data-nav=next]")]);
  assert.equal(new URL(page.url()).searchParams.get("day"), DAY);
  assert.equal(await figureOf(page, "views"), views);
  assert.match(await page.locator("svg.chart").first().textContent(), /00:00 PT/);
  await page.close();
});

test("the range form shows the figures of the days chosen, and a bad range gets its error code", async () => {
  const page = watch(await browser.newPage());
  await page.goto(`${origin.url}/launches/${SLUG}`);
  const all = await figureOf(page, "views");
  await page.fill("#from", "2026-11-28");
  await page.fill("#to", "2026-12-04");
  await Promise.all([page.waitForNavigation(), page.click("form[data-form=range] button[type=submit]")]);
  const url = new URL(page.url());
  assert.deepEqual([url.searchParams.get("from"), url.searchParams.get("to")], ["2026-11-28", "2026-12-04"]);
  assert.equal(await page.locator("[data-period]").textContent(), "Pacific days 2026-11-28 to 2026-12-04");
  assert.equal(await figureOf(page, "views"), all);
  await page.close();
  const tooLong = await fetch(`${origin.url}/launches/${SLUG}?from=2026-11-01&to=2026-12-31`, { headers: { authorization: `Bearer ${DASHBOARD_TOKEN}` } });
  assert.equal(tooLong.status, 400);
  assert.equal((await tooLong.json()).error, "range_too_long");
});

test("the live figures update in place after new traffic arrives, without a reload", async () => {
  const page = watch(await browser.newPage());
  await page.goto(`${origin.url}/launches/${SLUG}?day=${DAY}&refresh=2`);
  await page.evaluate(() => { window.__sameDocument = true; });
  const before = Number((await figureOf(page, "views")).replaceAll(",", ""));
  const more = { batch_id: `${SLUG}:live`, shard: "browser-test", uniques: [],
    counters: [{ launch: SLUG, day: DAY, minute: START + 50 * 60, source: "producthunt", metric: "view", value: 1234 }] };
  const ingest = await signedFetch(origin.url, "/ingest/batch", { method: "POST", body: JSON.stringify(more) });
  assert.equal(ingest.status, 200);
  await page.waitForFunction((want) => document.querySelector("[data-figure=views]").textContent === want,
    count(before + 1234), { timeout: 20_000 });
  assert.equal(await page.evaluate(() => window.__sameDocument), true, "the same document: no reload");
  await page.close();
});

test("each table's CSV link downloads that table as CSV", async () => {
  const page = watch(await browser.newPage());
  await page.goto(`${origin.url}/launches/${SLUG}?day=${DAY}`);
  const links = await page.$$eval("a[data-csv]", (as) => as.map((a) => a.dataset.csv));
  assert.deepEqual(links.sort(), ["campaigns", "dead_letters", "edge", "funnel", "kinds", "mediums", "minutes", "ph", "sources"]);
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("a[data-csv=sources]")]);
  assert.equal(download.suggestedFilename(), `${SLUG}-sources-${DAY}.csv`);
  const text = (await import("node:fs")).readFileSync(await download.path(), "utf8");
  const [header, first] = text.split("\r\n");
  assert.equal(header, "source,views,clicks,conversions,conversions_per_view,revenue_minor_units,currency");
  assert.match(first, /^producthunt,\d+,\d+,\d+,0\.\d{6},\d+,USD$/);
  await page.close();
});

test("the requeue button stores a dead letter and the panel says so", async () => {
  const row = JSON.stringify({ source: "relay", event_id: "browser-e1", event_type: "conversion", received_at_ms: 1764576000000, payload: { n: 1 } });
  psql(db, `INSERT INTO dead_letters (batch_id, producer, kind, ordinal, reason, row_json)
            VALUES ('browser-batch', 'inbox/relay/0', 'webhook_event', 0, 'database:XX000', '${row}')`);
  const page = watch(await browser.newPage());
  await page.goto(`${origin.url}/launches/${SLUG}`);
  const button = page.locator("button[data-requeue]");
  assert.equal(await button.count(), 1);
  await button.focus();
  await Promise.all([page.waitForNavigation(), page.keyboard.press("Enter")]);
  assert.match(await page.locator("[data-notice]").textContent(), /requeued: its row is stored/);
  assert.equal(await page.locator("button[data-requeue]").count(), 0, "no longer open");
  assert.equal(psql(db, "SELECT count(*) FROM webhook_events WHERE event_id = 'browser-e1'").trim(), "1");
  await page.close();
});

test("the dashboard logged no console error on any page", () => {
  assert.deepEqual(consoleErrors, []);
});
