// A team's launch page in a real browser, served by the worker: the demo launch is applied
// with `launch apply` (which asks the worker to re-render it) and the example launch through
// the origin's signed admin API (which does the same); headless Chromium (Debian's
// `chromium`, driven by playwright-core) then loads each page through the worker and
// checks its console, title and social tags, layout shift, the attribution carried onto
// the /go links, and its size. Screenshots go to a temporary directory.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { chromium } from "playwright-core";
import { ADMIN_TOKEN, Origin, ROOT, Worker, freePort, freshDatabase, signedFetch } from "./harness.mjs";

const ORIGIN_BIN = join(ROOT, "target", "debug", "launch-edge-origin");
// The example's hero image host: no such site, so the browser gets a PNG from the test,
// late on purpose (a late image must not move the page).
const HERO_HOST = "https://acme-notes.example/";
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==",
  "base64",
);

const PAGES = {
  "demo-launch": {
    title: "Demo Launch — The fastest way to ship your Product Hunt launch",
    og_title: "Demo Launch — ship your Product Hunt launch from the edge",
    og_description: "A launch page that stays up when Product Hunt's front page sends everyone at once.",
    og_image: "https://example.com/demo-launch/og-1200x630.png",
    twitter_card: "summary_large_image",
    ctas: ["signup", "pricing"],
  },
  "acme-notes": {
    title: "Acme Notes — Notes that link themselves",
    og_title: "Acme Notes — notes that link themselves",
    og_description: "Backlinks without brackets, offline first, plain Markdown files. 50% off during launch week.",
    og_image: "https://acme-notes.example/img/og-1200x630.png",
    twitter_card: "summary_large_image",
    ctas: ["signup", "download", "pricing"],
  },
};

let db, origin, worker, browser, userDataDir, shots;

function launchCli(args) {
  return execFileSync(ORIGIN_BIN, ["launch", ...args], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, DATABASE_URL: db, EDGE_URL: worker.url, EDGE_ADMIN_TOKEN: ADMIN_TOKEN, RUST_LOG: "off" },
  });
}

before(async () => {
  db = freshDatabase();
  const workerPort = await freePort();
  const workerUrl = `http://127.0.0.1:${workerPort}`;
  origin = await new Origin(db, {
    env: { PAGE_BASE_URL: workerUrl, EDGE_URL: workerUrl, EDGE_ADMIN_TOKEN: ADMIN_TOKEN },
  }).start();
  worker = new Worker({ originUrl: origin.url });
  worker.port = workerPort;
  await worker.start();

  const demo = launchCli(["apply", "examples/demo-launch.toml"]);
  assert.match(demo, /^launch demo-launch: created\n/);
  assert.match(demo, /edge: re-rendered \d+ page\(s\): demo-launch 200/);
  const put = await signedFetch(origin.url, "/admin/launches/acme-notes", {
    method: "PUT",
    body: readFileSync(join(ROOT, "examples", "acme-notes.toml"), "utf8"),
    headers: { "content-type": "application/toml" },
  });
  assert.equal(put.status, 201, await put.clone().text());
  const answer = await put.json();
  assert.equal(answer.edge.edge, "refreshed", JSON.stringify(answer.edge));

  userDataDir = mkdtempSync(join(tmpdir(), "launch-edge-chromium-"));
  shots = mkdtempSync(join(tmpdir(), "launch-edge-pages-"));
  browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    viewport: { width: 1280, height: 900 },
  });
  await browser.route(`${HERO_HOST}**`, async (route) => {
    await new Promise((r) => setTimeout(r, 400));
    await route.fulfill({ status: 200, contentType: "image/png", body: PNG });
  });
});

after(async () => {
  await browser?.close();
  await worker?.stop();
  await origin?.stop();
  for (const dir of [userDataDir, shots]) if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Opens `path` on the worker; returns the page, its console errors, CLS and foreign requests. */
async function open(path) {
  const page = await browser.newPage();
  const errors = [];
  const foreign = [];
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("request", (r) => {
    if (!r.url().startsWith(worker.url) && !r.url().startsWith("data:")) foreign.push(r.url());
  });
  await page.addInitScript(() => {
    window.__cls = 0;
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) if (!entry.hadRecentInput) window.__cls += entry.value;
    }).observe({ type: "layout-shift", buffered: true });
  });
  const response = await page.goto(`${worker.url}${path}`, { waitUntil: "load" });
  assert.equal(response.status(), 200, path);
  // Past the late hero image and a frame more.
  await page.waitForTimeout(700);
  const cls = await page.evaluate(() => window.__cls);
  return { page, errors, cls, foreign };
}

const meta = (page, selector) => page.$eval(selector, (m) => m.getAttribute("content"));
const goLinks = (page) => page.$$eval('a[href^="/go/"]', (links) => links.map((a) => a.getAttribute("href")));

for (const [slug, want] of Object.entries(PAGES)) {
  test(`the ${slug} page through the worker has its tags, no console errors and no layout shift`, async () => {
    const { page, errors, cls, foreign } = await open(`/launch/${slug}`);
    assert.deepEqual(errors, []);
    assert.equal(cls, 0, "cumulative layout shift");
    assert.equal(await page.title(), want.title);
    assert.equal(await meta(page, 'meta[property="og:title"]'), want.og_title);
    assert.equal(await meta(page, 'meta[property="og:description"]'), want.og_description);
    assert.equal(await meta(page, 'meta[property="og:image"]'), want.og_image);
    assert.equal(await meta(page, 'meta[name="twitter:card"]'), want.twitter_card);
    assert.equal(await page.$eval('link[rel="canonical"]', (l) => l.href), `${worker.url}/launch/${slug}`);
    assert.equal(await page.$eval("[data-launch]", (m) => m.dataset.launch), slug);
    assert.deepEqual(await goLinks(page), want.ctas.map((name) => `/go/${slug}?to=${name}`));
    for (const img of await page.$$eval("img", (imgs) => imgs.map((i) => [i.getAttribute("width"), i.getAttribute("height")]))) {
      assert.ok(Number(img[0]) > 0 && Number(img[1]) > 0, "every image has its size");
    }
    assert.deepEqual(foreign.filter((u) => !u.startsWith(HERO_HOST)), [], "no external scripts, fonts or styles");
    const shot = join(shots, `${slug}.png`);
    await page.screenshot({ path: shot, fullPage: true });
    assert.ok(statSync(shot).size > 1000, "the screenshot is a real picture");
    assert.deepEqual([...readFileSync(shot).subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], "PNG signature");
    await page.close();
  });

  test(`the ${slug} page under 20 KB gzip, inline CSS and script included`, async () => {
    const res = await worker.fetch(`/launch/${slug}`);
    assert.equal(res.status, 200);
    const html = Buffer.from(await res.arrayBuffer());
    const gzipped = gzipSync(html).length;
    console.log(`${slug}: ${html.length} bytes, ${gzipped} bytes gzip`);
    assert.ok(gzipped < 20 * 1024, `${gzipped} bytes gzip`);
  });
}

test("/go links carry ref=producthunt when the page was opened with it, and nothing otherwise", async () => {
  const from = await open("/launch/acme-notes?ref=producthunt&utm_campaign=launch-day");
  assert.deepEqual(from.errors, []);
  assert.deepEqual(await goLinks(from.page), PAGES["acme-notes"].ctas.map(
    (name) => `/go/acme-notes?to=${name}&ref=producthunt&utm_campaign=launch-day`,
  ));
  // The link still leads where the button says (the worker's redirect).
  const click = await worker.fetch((await goLinks(from.page))[0]);
  assert.equal(click.status, 302);
  assert.equal(click.headers.get("location"), "https://app.acme-notes.example/signup?plan=launch");
  await from.page.close();

  const direct = await open("/launch/acme-notes");
  assert.ok((await goLinks(direct.page)).every((href) => !href.includes("ref=")));
  await direct.page.close();
});

test("a visitor from another site carries its address as landing_referrer instead", async () => {
  const page = await browser.newPage();
  await page.goto(`${worker.url}/launch/demo-launch`, { referer: "https://news.example.org/item?id=1" });
  const links = await goLinks(page);
  assert.ok(links.every((href) => href.includes(`landing_referrer=${encodeURIComponent("https://news.example.org/item?id=1")}`)), links.join(" "));
  await page.close();
});

test("the French variant is served in French through the worker", async () => {
  const { page, errors } = await open("/launch/acme-notes?lang=fr");
  assert.deepEqual(errors, []);
  assert.equal(await page.$eval("html", (h) => h.lang), "fr");
  assert.equal(await page.title(), "Acme Notes — Des notes qui se relient toutes seules");
  await page.close();
});

test("an archived launch answers 404 through the worker as soon as launch archive returns", async () => {
  const out = launchCli(["archive", "demo-launch"]);
  assert.match(out, /launch demo-launch archived/);
  assert.match(out, /edge: re-rendered \d+ page\(s\): demo-launch 404/);
  const res = await worker.fetch("/launch/demo-launch");
  assert.equal(res.status, 404);
});
