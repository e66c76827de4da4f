// Launch pages end to end: the built worker in workerd (wrangler dev), the real origin,
// a real Postgres. Each test uses its own slug, so tests don't see each other's caches.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Origin, Worker, eventually, freshDatabase, seedLaunch, psql, sleep, ADMIN_TOKEN } from "./harness.mjs";

let db, origin, worker;

before(async () => {
  db = freshDatabase();
  origin = await new Origin(db).start();
  // A 1-second soft TTL makes stale-while-revalidate observable within a test.
  worker = await new Worker({ originUrl: origin.url, vars: { PAGE_SOFT_TTL_SECONDS: "1", PAGE_NOT_FOUND_TTL_SECONDS: "30" } }).start();
});

after(async () => {
  await worker?.stop();
  await origin?.stop();
});

// A launch seeded a moment ago is found on the worker's next launch-list fetch, which a
// flood of unknown slugs may push back by a few seconds: polls until the page is served,
// then checks it is the launch's own.
async function firstGoodCopy(slug, text) {
  let body;
  await eventually(async () => {
    const res = await worker.fetch(`/launch/${slug}`);
    body = await res.text();
    return res.status;
  }, 200, { timeoutMs: 15_000 });
  assert.match(body, text);
}

test("the first request is a MISS rendered by the origin and the next is a HIT from the edge", async () => {
  seedLaunch(db, "miss-then-hit", "Miss Then Hit");
  const rendersBefore = await origin.renders();

  const first = await worker.fetch("/launch/miss-then-hit");
  assert.equal(first.status, 200);
  assert.equal(first.headers.get("x-cache"), "MISS");
  assert.match(await first.text(), /Miss Then Hit/);
  assert.match(first.headers.get("cache-control"), /max-age=1, stale-while-revalidate=\d+, stale-if-error=\d+/);
  assert.match(first.headers.get("etag"), /^"[0-9a-f]{32}"$/);

  const second = await worker.fetch("/launch/miss-then-hit");
  assert.equal(second.headers.get("x-cache"), "HIT");
  assert.equal(second.headers.get("etag"), first.headers.get("etag"));
  assert.equal(await origin.renders(), rendersBefore + 1);
});

test("N concurrent first requests call the origin once", async () => {
  seedLaunch(db, "stampede", "Stampede");
  const rendersBefore = await origin.renders();

  const responses = await Promise.all(Array.from({ length: 50 }, () => worker.fetch("/launch/stampede")));

  assert.deepEqual([...new Set(responses.map((r) => r.status))], [200]);
  assert.equal(await origin.renders(), rendersBefore + 1);
});

test("a page past its soft TTL is served STALE at once and revalidated in the background", async () => {
  seedLaunch(db, "swr", "Version One");
  await (await worker.fetch("/launch/swr")).text();
  psql(db, "UPDATE launches SET name = 'Version Two' WHERE slug = 'swr'");
  await sleep(1_300);
  const rendersBefore = await origin.renders();

  const stale = await worker.fetch("/launch/swr");
  assert.equal(stale.headers.get("x-cache"), "STALE");
  assert.match(await stale.text(), /Version One/);

  // The background revalidation lands; the next request sees the new page as a HIT.
  let fresh;
  for (let i = 0; i < 50; i++) {
    await sleep(100);
    fresh = await worker.fetch("/launch/swr");
    if (fresh.headers.get("x-cache") === "HIT") break;
  }
  assert.equal(fresh.headers.get("x-cache"), "HIT");
  assert.match(await fresh.text(), /Version Two/);
  assert.equal(await origin.renders(), rendersBefore + 1, "one revalidation, however many stale hits");
});

test("a matching If-None-Match gets 304 without a body", async () => {
  seedLaunch(db, "etag", "Etag");
  const first = await worker.fetch("/launch/etag");
  const etag = first.headers.get("etag");

  const revalidated = await worker.fetch("/launch/etag", { headers: { "if-none-match": etag } });
  assert.equal(revalidated.status, 304);
  assert.equal(await revalidated.text(), "");
  assert.equal(revalidated.headers.get("etag"), etag);

  const other = await worker.fetch("/launch/etag", { headers: { "if-none-match": '"something-else"' } });
  assert.equal(other.status, 200);
});

test("a flood of random query strings leaves one cache entry and one render", async () => {
  seedLaunch(db, "flood", "Flood");
  const rendersBefore = await origin.renders();
  const queries = Array.from({ length: 200 }, (_, i) =>
    `?utm_source=s${i}&utm_campaign=c${i}&ref=producthunt&fbclid=${i}&gclid=${i}&random${i}=${i}&lang=xx${i}`);

  const started = Date.now();
  for (let i = 0; i < queries.length; i += 20) {
    const batch = await Promise.all(queries.slice(i, i + 20).map((q) => worker.fetch(`/launch/flood${q}`)));
    assert.deepEqual([...new Set(batch.map((r) => r.status))], [200]);
  }
  const softTtlWindows = Math.ceil((Date.now() - started) / 1000);

  // One render, plus at most one revalidation per elapsed soft-TTL second: never one per query.
  const renders = (await origin.renders()) - rendersBefore;
  assert.ok(renders >= 1 && renders <= 1 + softTtlWindows, `${renders} renders for 200 distinct query strings`);
  const keys = (await worker.storedPageKeys()).filter((k) => k.startsWith("page:flood"));
  assert.deepEqual(keys, ["page:flood"]);
});

test("an allowlisted variant gets its own entry", async () => {
  seedLaunch(db, "variant", "Variant");
  const fr = await worker.fetch("/launch/variant?lang=fr&utm_source=x");
  // The launch has no French texts: the page's own words are French, its texts English.
  assert.match(await fr.text(), /Lancement sur Product Hunt/);
  await (await worker.fetch("/launch/variant")).text();
  await sleep(300);
  const keys = (await worker.storedPageKeys()).filter((k) => k.startsWith("page:variant"));
  assert.deepEqual(keys.sort(), ["page:variant", "page:variant?lang=fr"]);
});

test("an unknown launch is a small 404 page, cached briefly", async () => {
  const rendersBefore = await origin.renders();
  const first = await worker.fetch("/launch/no-such-launch");
  assert.equal(first.status, 404);
  assert.match(await first.text(), /no-such-launch/);
  assert.equal(first.headers.get("cache-control"), "public, max-age=30");

  const second = await worker.fetch("/launch/no-such-launch");
  assert.equal(second.status, 404);
  assert.equal(second.headers.get("x-cache"), "HIT");
  assert.ok(await origin.renders() <= rendersBefore + 1, "at most one render");
  assert.deepEqual((await worker.storedPageKeys()).filter((k) => k.includes("no-such-launch")), [], "404s stay out of KV");
});

test("a flood of random slugs costs a few renders, not one each, and a launch created meanwhile is found within seconds", async () => {
  const rendersBefore = await origin.renders();
  const started = Date.now();
  let atEdge = 0;
  for (let i = 0; i < 300; i += 50) {
    const batch = await Promise.all(Array.from({ length: 50 }, (_, j) => worker.fetch(`/launch/random-${i + j}-${Math.random().toString(36).slice(2)}`)));
    assert.deepEqual([...new Set(batch.map((r) => r.status))], [404]);
    atEdge += batch.filter((r) => r.headers.get("x-cache-layer") === "launch-list").length;
    await Promise.all(batch.map((r) => r.text()));
  }
  const clicks = await Promise.all(Array.from({ length: 20 }, (_, i) => worker.fetch(`/go/random-click-${i}?to=signup`)));
  assert.deepEqual([...new Set(clicks.map((r) => r.status))], [404]);
  // Unlisted slugs may be rendered 10 at once, then 4 a second (core/src/page/known_launches.rs).
  const budget = 10 + 4 * Math.ceil((Date.now() - started) / 1000);
  const renders = (await origin.renders()) - rendersBefore;
  assert.ok(renders <= budget, `${renders} renders for 320 random slugs (budget ${budget})`);
  assert.ok(atEdge >= 300 - budget, `${atEdge} of 300 answered at the edge from the launch list`);
  const afterFlood = await origin.renders();

  seedLaunch(db, "born-during-flood", "Born During Flood");
  await firstGoodCopy("born-during-flood", /Born During Flood/);
  assert.ok((await origin.renders()) - afterFlood <= 3);
});

test("malformed slugs are refused with 400 without touching the origin", async () => {
  const rendersBefore = await origin.renders();
  for (const path of ["/launch/..%2F..%2Fetc%2Fpasswd", "/launch/%2e%2e%2fsecret", "/launch/UPPER", "/launch/a_b",
    `/launch/${"a".repeat(65)}`, "/launch/a/b", "/launch/"]) {
    const res = await worker.fetch(path);
    assert.equal(res.status, 400, path);
    const body = await res.json();
    assert.match(body.error, /^slug_/, path);
  }
  assert.equal(await origin.renders(), rendersBefore);
});

test("prewarm needs the admin token and stores the page ahead of traffic", async () => {
  seedLaunch(db, "prewarmed", "Prewarmed");

  const anonymous = await worker.fetch("/admin/launches/prewarmed/prewarm", { method: "POST" });
  assert.equal(anonymous.status, 401);
  assert.equal((await anonymous.json()).error, "missing_token");
  const wrong = await worker.fetch("/admin/launches/prewarmed/prewarm", {
    method: "POST", headers: { authorization: `Bearer ${ADMIN_TOKEN}x` },
  });
  assert.equal(wrong.status, 401);
  assert.equal((await wrong.json()).error, "bad_token");
  assert.deepEqual((await worker.storedPageKeys()).filter((k) => k.startsWith("page:prewarmed")), []);

  const warmed = await worker.admin("/admin/launches/prewarmed/prewarm", { method: "POST" });
  assert.equal(warmed.status, 200);
  const body = await warmed.json();
  assert.equal(body.slug, "prewarmed");
  assert.ok(body.pages.every((p) => p.status === 200));
  assert.ok((await worker.storedPageKeys()).includes("page:prewarmed"));

  const rendersAfterPrewarm = await origin.renders();
  const visit = await worker.fetch("/launch/prewarmed?ref=producthunt");
  assert.equal(visit.headers.get("x-cache"), "HIT");
  assert.equal(await origin.renders(), rendersAfterPrewarm);
});

test("while the origin answers 5xx the last good copy is served", async () => {
  seedLaunch(db, "origin-5xx", "Still Here");
  await firstGoodCopy("origin-5xx", /Still Here/);
  psql(db, "ALTER TABLE launches RENAME TO launches_away");
  try {
    await sleep(1_300);
    for (let i = 0; i < 5; i++) {
      const res = await worker.fetch("/launch/origin-5xx");
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("x-cache"), "STALE");
      assert.match(await res.text(), /Still Here/);
      await sleep(100);
    }
  } finally {
    psql(db, "ALTER TABLE launches_away RENAME TO launches");
  }
});

test("while the origin is down the last good copy is served, and new pages get 503", async () => {
  seedLaunch(db, "origin-down", "Survivor");
  await firstGoodCopy("origin-down", /Survivor/);
  await origin.stop();
  try {
    await sleep(1_300);
    for (let i = 0; i < 5; i++) {
      const res = await worker.fetch("/launch/origin-down");
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("x-cache"), "STALE");
      assert.match(await res.text(), /Survivor/);
    }
    const uncached = await worker.fetch("/launch/never-seen-before");
    assert.equal(uncached.status, 503);
    assert.ok(uncached.headers.get("retry-after"));
    assert.equal((await uncached.json()).error, "origin_unavailable");
  } finally {
    await origin.start();
  }
});

test("the worker's own count of origin fetches reaches the origin with the drained batches", async () => {
  const stored = () => Number(psql(db, "SELECT coalesce(sum(value), 0) FROM edge_counters WHERE name = 'origin_fetch'"));
  const deadline = Date.now() + 20_000;
  while (stored() === 0 && Date.now() < deadline) await sleep(250);
  const fetched = stored();
  // Every fetch that produced a page is counted: the tests above made at least ten (the
  // origin's own render counter restarted with the origin, so it cannot bound this one).
  assert.ok(fetched >= 10, `${fetched} origin fetches counted`);
});

test("each page layer answers on its own: memory, then the Cache API, then KV, then the origin", async () => {
  // A worker of its own: a 60-second soft TTL keeps every copy a HIT while the layers
  // are evicted one by one, and TEST_HOOKS enables the eviction route.
  const layered = await new Worker({ originUrl: origin.url, vars: { TEST_HOOKS: "enabled" } }).start();
  try {
    seedLaunch(db, "layers", "Layers");
    const visit = async () => {
      const res = await layered.fetch("/launch/layers");
      assert.equal(res.status, 200);
      assert.match(await res.text(), /Layers/);
      return [res.headers.get("x-cache-layer"), res.headers.get("x-cache")];
    };
    const evict = async (layers) => {
      const res = await layered.admin(`/admin/test/evict/layers?layers=${layers}`, { method: "POST" });
      assert.equal(res.status, 200);
      assert.deepEqual((await res.json()).evicted, layers.split(","));
    };
    const rendersBefore = await origin.renders();
    assert.deepEqual(await visit(), ["origin", "MISS"]);
    // The origin's page is written to the Cache API and KV in waitUntil.
    const deadline = Date.now() + 10_000;
    while (!(await layered.storedPageKeys()).includes("page:layers") && Date.now() < deadline) await sleep(100);
    await sleep(300);
    assert.deepEqual(await visit(), ["memory", "HIT"]);

    await evict("memory");
    assert.deepEqual(await visit(), ["cache", "HIT"]);
    assert.deepEqual(await visit(), ["memory", "HIT"], "the Cache API's copy was promoted to memory");

    await evict("memory,cache");
    assert.deepEqual(await visit(), ["kv", "HIT"]);
    assert.deepEqual(await visit(), ["memory", "HIT"], "KV's copy was promoted to memory");

    await evict("memory,cache,kv");
    assert.deepEqual(await visit(), ["origin", "MISS"]);
    assert.equal(await origin.renders(), rendersBefore + 2, "the origin rendered only when every layer was empty");

    const anonymous = await layered.fetch("/admin/test/evict/layers?layers=kv", { method: "POST" });
    assert.equal(anonymous.status, 401);
  } finally {
    await layered.stop();
  }
  const disabled = await worker.admin("/admin/test/evict/layers?layers=kv", { method: "POST" });
  assert.equal(disabled.status, 404, "no test hooks without TEST_HOOKS");
});
