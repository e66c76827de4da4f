// The runbook's T-2 h step, end to end: the worker's every-minute cron (`* * * * *` in
// wrangler.toml), fired through wrangler dev's scheduled handler at the instant two hours
// before a launch, renders the launch's page through the origin and stores it in KV and
// the Cache API, so the first visitor is served from the edge; a launch due a minute later
// is left for the next firing. The admin prewarm route has its own test in pages.test.mjs.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Origin, Worker, freshDatabase, psql, sleep, eventually } from "./harness.mjs";

const SWEEP_CRON = "* * * * *"; // wrangler.toml [triggers]
const PREWARM_AHEAD_MS = 2 * 60 * 60 * 1000; // src/schedule.rs
const VARIANTS = ["en", "fr", "de"]; // wrangler.toml PAGE_VARIANTS = "lang=en|fr|de"

let db, origin, worker;

before(async () => {
  db = freshDatabase();
  origin = await new Origin(db).start();
  // TEST_HOOKS: evict one page layer, to see which layer answers.
  worker = await new Worker({ originUrl: origin.url, vars: { TEST_HOOKS: "enabled" } }).start();
});

after(async () => {
  await worker?.stop();
  await origin?.stop();
});

/** A launch at `launchAtMs` (whole seconds), as the origin lists it to the crons. */
function seedLaunchAt(slug, name, launchAtMs) {
  psql(
    db,
    `INSERT INTO launches (slug, name, tagline, launch_at, destinations)
     VALUES ('${slug}', '${name}', 'Ship it', to_timestamp(${launchAtMs / 1000}), '{"signup":"https://example.com/signup"}')`,
  );
}

const keysOf = async (slug) => (await worker.storedPageKeys()).filter((k) => k === `page:${slug}` || k.startsWith(`page:${slug}?`)).sort();

async function fireSweep(atMs) {
  const res = await worker.fetch(`/cdn-cgi/handler/scheduled?time=${atMs}&cron=${encodeURIComponent(SWEEP_CRON)}`);
  assert.equal(res.status, 200, await res.clone().text());
}

test("the cron fired at a launch's T-2 h instant stores its page in KV and the Cache API before any visitor", async () => {
  // Tomorrow, on a whole minute: the cron plans with the firing's time, not the wall clock.
  const launchAt = Math.ceil((Date.now() + 24 * 3_600_000) / 60_000) * 60_000;
  const t2h = launchAt - PREWARM_AHEAD_MS;
  seedLaunchAt("t2h-kv", "Warm In KV", launchAt);
  seedLaunchAt("t2h-cache", "Warm In Cache", launchAt);
  seedLaunchAt("t2h-later", "A Minute Later", launchAt + 60_000);
  const expected = (slug) => [`page:${slug}`, ...VARIANTS.map((l) => `page:${slug}?lang=${l}`)].sort();

  // A minute before T-2 h: nothing is due yet.
  const rendersBefore = await origin.renders();
  await fireSweep(t2h - 60_000);
  await sleep(2_000);
  assert.deepEqual(await keysOf("t2h-kv"), [], "not pre-warmed before T-2 h");
  assert.equal(await origin.renders(), rendersBefore, "the origin rendered nothing before T-2 h");

  await fireSweep(t2h);
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline && ((await keysOf("t2h-kv")).length < 4 || (await keysOf("t2h-cache")).length < 4)) await sleep(250);
  assert.deepEqual(await keysOf("t2h-kv"), expected("t2h-kv"), "every variant of the page is in KV");
  assert.deepEqual(await keysOf("t2h-cache"), expected("t2h-cache"));
  assert.equal(await origin.renders(), rendersBefore + 8, "one render per variant of the two launches due");
  await sleep(1_000);
  assert.deepEqual(await keysOf("t2h-later"), [], "a launch due 2 h 01 min after the firing waits for the next one");

  const visit = async (slug) => {
    const res = await worker.fetch(`/launch/${slug}?ref=producthunt`);
    assert.equal(res.status, 200);
    return { layer: res.headers.get("x-cache-layer"), cache: res.headers.get("x-cache"), body: await res.text() };
  };
  const evict = async (slug, layers) => {
    const res = await worker.admin(`/admin/test/evict/${slug}?layers=${layers}`, { method: "POST" });
    assert.equal(res.status, 200);
    assert.deepEqual((await res.json()).evicted, layers.split(","));
  };
  const rendersAfterCron = await origin.renders();

  // Without memory and KV, the Cache API's copy answers: the cron wrote it.
  await evict("t2h-cache", "memory,kv");
  const fromCache = await visit("t2h-cache");
  assert.deepEqual([fromCache.layer, fromCache.cache], ["cache", "HIT"]);
  assert.match(fromCache.body, /Warm In Cache/);

  // Without memory and the Cache API, KV's copy answers: the cron wrote it.
  await evict("t2h-kv", "memory,cache");
  const fromKv = await visit("t2h-kv");
  assert.deepEqual([fromKv.layer, fromKv.cache], ["kv", "HIT"]);
  assert.match(fromKv.body, /Warm In KV/);

  assert.equal(await origin.renders(), rendersAfterCron, "the first visitors were served from the edge");

  // The next minute's firing: the later launch is due now, and the page evicted from KV
  // above is stored again; pages still in KV are not rendered again.
  await fireSweep(t2h + 60_000);
  await eventually(async () => [await keysOf("t2h-later"), await keysOf("t2h-cache")], [expected("t2h-later"), expected("t2h-cache")]);
  await sleep(1_000);
  assert.equal(await origin.renders(), rendersAfterCron + 5, "four variants of the later launch and the one evicted page");
});
