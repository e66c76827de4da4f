// Attribution through the whole funnel, in a real browser: a visitor lands on the team's
// page from a source, clicks its call to action and signs up; the view, the click and the
// signup are each counted under the landing visit's source (the page's script carries it
// onto /go links and into beacon events: one cached page for every source, no cookie).
// Then the beacon from the team's own app: CORS for the origins the launch lists.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { ADMIN_TOKEN, Origin, ROOT, Worker, eventually, freePort, freshDatabase } from "./harness.mjs";

const ORIGIN_BIN = join(ROOT, "target", "debug", "launch-edge-origin");
const SLUG = "acme-notes";
const APP = "https://app.acme-notes.example"; // beacon_origins in examples/acme-notes.toml
const CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36";

let db, origin, worker, browser, userDataDir;

before(async () => {
  db = freshDatabase();
  const workerPort = await freePort();
  const workerUrl = `http://127.0.0.1:${workerPort}`;
  origin = await new Origin(db, { env: { PAGE_BASE_URL: workerUrl } }).start();
  worker = new Worker({ originUrl: origin.url });
  worker.port = workerPort;
  await worker.start();
  execFileSync(ORIGIN_BIN, ["launch", "apply", "examples/acme-notes.toml"], {
    cwd: ROOT, encoding: "utf8",
    env: { ...process.env, DATABASE_URL: db, EDGE_URL: worker.url, EDGE_ADMIN_TOKEN: ADMIN_TOKEN, RUST_LOG: "off" },
  });
  userDataDir = mkdtempSync(join(tmpdir(), "launch-edge-funnel-"));
  browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath: "/usr/bin/chromium", headless: true,
    // Headless Chromium says "HeadlessChrome", which the bot filter (rightly) does not count.
    userAgent: CHROME,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  // Every other site (the call to action's target, the hero image) answers locally.
  await browser.route((url) => !url.href.startsWith(worker.url), (route) =>
    route.fulfill({ status: 200, contentType: "text/html", body: "<!doctype html><title>elsewhere</title>" }));
});

after(async () => {
  await browser?.close();
  await worker?.stop();
  await origin?.stop();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
});

async function stats() {
  const res = await worker.admin(`/admin/launches/${SLUG}/stats`);
  assert.equal(res.status, 200);
  return (await res.json()).stats;
}

/** Lands on `query`, clicks the first call to action, then signs up from a second landing. */
async function visitClickAndSignUp(query) {
  const page = await browser.newPage();
  await page.goto(`${worker.url}/launch/${SLUG}${query}`, { waitUntil: "load" });
  // The call to action as the page's script left it: followed from the page (the browser's
  // own request, with the page as Referer); its redirect leaves for the team's site.
  const href = await page.$eval('a[href^="/go/"]', (a) => a.getAttribute("href"));
  const status302 = await page.evaluate((h) => fetch(h, { redirect: "manual" }).then((r) => r.type === "opaqueredirect" ? 302 : r.status), href);
  assert.equal(status302, 302, href);
  await page.goto(`${worker.url}/launch/${SLUG}${query}`, { waitUntil: "load" });
  const status = await page.evaluate(() => window.launchEdge.track("signup").then((r) => r.status));
  assert.equal(status, 202);
  await page.close();
}

const funnel = (s, source) => {
  const b = s.by_source?.[source] ?? {};
  return { views: b.views ?? 0, clicks: b.clicks ?? 0, signups: b.conversions?.signup ?? 0 };
};

test("a visit from ?ref=producthunt is counted under producthunt at every step: view, click, signup", async () => {
  await visitClickAndSignUp("?ref=producthunt");
  await eventually(async () => funnel(await stats(), "producthunt"), { views: 2, clicks: 1, signups: 1 });
  assert.deepEqual(funnel(await stats(), "direct"), { views: 0, clicks: 0, signups: 0 });
});

test("a utm campaign is carried the same way, and a visit with no source stays direct", async () => {
  await visitClickAndSignUp("?utm_source=newsletter&utm_medium=email&utm_campaign=dec-launch");
  await eventually(async () => funnel(await stats(), "newsletter"), { views: 2, clicks: 1, signups: 1 });
  await visitClickAndSignUp("");
  await eventually(async () => funnel(await stats(), "direct"), { views: 2, clicks: 1, signups: 1 });
  assert.deepEqual(funnel(await stats(), "producthunt"), { views: 2, clicks: 1, signups: 1 }, "earlier visits unchanged");
});

test("a click carrying landing_referrer is attributed to the site the visitor came from", async () => {
  const res = await worker.fetch(`/go/${SLUG}?to=signup&landing_referrer=${encodeURIComponent("https://news.ycombinator.com/item?id=1")}`,
    { headers: { "user-agent": CHROME, referer: `${worker.url}/launch/${SLUG}` }, redirect: "manual" });
  assert.equal(res.status, 302);
  await eventually(async () => funnel(await stats(), "news.ycombinator.com").clicks, 1);
});

test("the team's own app, listed in beacon_origins, may send the beacon; any other page is refused and counts nothing", async () => {
  const preflight = (from) => worker.fetch(`/launch/${SLUG}/events`, {
    method: "OPTIONS", headers: { origin: from, "access-control-request-method": "POST", "access-control-request-headers": "content-type" } });
  const ok = await preflight(APP);
  assert.equal(ok.status, 204);
  assert.equal(ok.headers.get("access-control-allow-origin"), APP);
  assert.match(ok.headers.get("access-control-allow-methods"), /POST/);
  assert.match(ok.headers.get("access-control-allow-headers"), /content-type/);
  const refused = await preflight("https://evil.example");
  assert.equal(refused.status, 403);
  assert.equal((await refused.json()).error, "origin_not_allowed");

  const before = (await stats()).conversions?.lead ?? 0;
  const send = (from, body, type) => worker.fetch(`/launch/${SLUG}/events?utm_source=app`, {
    method: "POST", headers: { origin: from, "content-type": type, "user-agent": CHROME }, body });
  // navigator.sendBeacon sends text/plain: no preflight, the same body.
  const beacon = await send(APP, '{"kind":"lead"}', "text/plain;charset=UTF-8");
  assert.equal(beacon.status, 202, await beacon.clone().text());
  assert.equal(beacon.headers.get("access-control-allow-origin"), APP);
  assert.equal(beacon.headers.get("vary"), "Origin");
  const evil = await send("https://evil.example", '{"kind":"lead"}', "text/plain");
  assert.equal(evil.status, 403);
  assert.equal((await evil.json()).error, "origin_not_allowed");
  assert.equal(evil.headers.get("access-control-allow-origin"), null);
  await eventually(async () => (await stats()).conversions?.lead ?? 0, before + 1);
});

test("the origin's report shows the same funnel per source once the shards drained", async () => {
  const report = () => JSON.parse(execFileSync(ORIGIN_BIN, ["report", SLUG, "--json"], {
    cwd: ROOT, encoding: "utf8", env: { ...process.env, DATABASE_URL: db, RUST_LOG: "off" } }));
  const row = (r, source) => {
    const s = r.conversions_by_source.find((x) => x.source === source) ?? {};
    return { views: s.views ?? 0, clicks: s.clicks ?? 0, conversions: s.conversions ?? 0 };
  };
  const funnelOf = (r) => Object.fromEntries(["producthunt", "newsletter", "direct"].map((source) => [source, row(r, source)]));
  const by = (rows, value) => {
    const b = rows.find((x) => x.value === value) ?? {};
    return { views: b.views ?? 0, clicks: b.clicks ?? 0, conversions: b.conversions ?? 0 };
  };
  // The newsletter visit's utm_medium and utm_campaign ride along every step too; the
  // visits without them are "(none)": the producthunt and direct visits, the
  // landing_referrer click and the app's lead. Those last two sit in other minute rows
  // and may reach Postgres in a later batch, so the whole report is awaited at once.
  const each = { views: 2, clicks: 1, conversions: 1 };
  const funnel = (r) => ({
    source: funnelOf(r),
    email: by(r.conversions_by_medium, "email"),
    campaign: by(r.conversions_by_campaign, "dec-launch"),
    none: by(r.conversions_by_medium, "(none)"),
  });
  await eventually(() => funnel(report()), {
    source: { producthunt: each, newsletter: each, direct: each },
    email: each,
    campaign: each,
    none: { views: 4, clicks: 3, conversions: 3 },
  }, { timeoutMs: 60_000 });
});
