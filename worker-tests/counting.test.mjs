// Counting end to end: views, clicks and conversions counted by the sharded Durable
// Objects in workerd, drained to the real origin and Postgres, exactly.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Origin, Worker, freshDatabase, seedLaunch, psql, sleep, eventually } from "./harness.mjs";

const CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36";
let db, origin, worker;

before(async () => {
  db = freshDatabase();
  origin = await new Origin(db).start();
  // The test clock lets one test count at the DST edges; nothing else sends its header.
  worker = await new Worker({ originUrl: origin.url, vars: { TEST_CLIENT_CLOCK: "enabled" } }).start();
});

after(async () => {
  await worker?.stop();
  await origin?.stop();
});

const browser = (n, extra = {}) => ({ "user-agent": `${CHROME} visitor/${n}`, "cf-connecting-ip": `10.0.${(n >> 8) & 255}.${n & 255}`, ...extra });

async function stats(slug) {
  const res = await worker.admin(`/admin/launches/${slug}/stats`);
  assert.equal(res.status, 200);
  return (await res.json()).stats;
}


const postgresTotal = (slug, metric) =>
  Number(psql(db, `SELECT coalesce(sum(value), 0) FROM metrics_day WHERE launch = '${slug}' AND metric = '${metric}'`));

test("thousands of concurrent views over several shards are counted exactly, in the objects and in Postgres", async () => {
  seedLaunch(db, "hot-launch", "Hot Launch");
  await (await worker.fetch("/launch/hot-launch", { headers: browser(0) })).text();
  const N = 2000;
  for (let i = 1; i < N; i += 100) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(100, N - i) }, (_, j) => worker.fetch("/launch/hot-launch?ref=producthunt", { headers: browser(i + j) })),
    );
    assert.deepEqual([...new Set(batch.map((r) => r.status))], [200]);
  }

  const counted = await eventually(async () => (await stats("hot-launch")).views, N);
  assert.equal(counted, N);
  const s = await stats("hot-launch");
  assert.equal(s.by_source.producthunt.views, N - 1);
  assert.ok(Math.abs(s.unique_visitors - N) / N < 0.05, `unique visitors ${s.unique_visitors} ≈ ${N}`);
  await eventually(() => postgresTotal("hot-launch", "view"), N);
  // Each view carries the edge cache's verdict to the origin's edge_counters.
  const verdicts = () => Number(psql(db, "SELECT coalesce(sum(value), 0) FROM edge_counters WHERE launch = 'hot-launch' AND name LIKE 'cache_%'"));
  await eventually(verdicts, N);
  assert.equal(Number(psql(db, "SELECT coalesce(sum(value), 0) FROM edge_counters WHERE launch = 'hot-launch' AND name = 'cache_miss'")), 1);
});

test("concurrent views and clicks share shard calls, and every click is counted before its redirect", async () => {
  seedLaunch(db, "crowded", "Crowded");
  await (await worker.fetch("/launch/crowded", { headers: browser(0) })).text();
  const VIEWS = 300, CLICKS = 200;
  const clicks = Array.from({ length: CLICKS }, (_, i) => worker.fetch("/go/crowded?to=signup", { headers: browser(1000 + i) }));
  const views = Array.from({ length: VIEWS - 1 }, (_, i) => worker.fetch("/launch/crowded", { headers: browser(1 + i) }));
  const clicked = await Promise.all(clicks);
  assert.deepEqual([...new Set(clicked.map((r) => r.status))], [302]);
  // Every 302 means "stored": the shards hold all clicks the moment the last one is answered.
  assert.equal((await stats("crowded")).clicks, CLICKS);
  await Promise.all((await Promise.all(views)).map((r) => r.text()));
  await eventually(async () => (await stats("crowded")).views, VIEWS);

  const edge = (name) => Number(psql(db, `SELECT coalesce(sum(value), 0) FROM edge_counters WHERE launch = 'crowded' AND name = '${name}'`));
  await eventually(() => postgresTotal("crowded", "click"), CLICKS);
  await eventually(() => postgresTotal("crowded", "view"), VIEWS);
  // Each batch's first event carries the `shard_calls` worker counter, drained with it.
  const calls = edge("shard_calls");
  assert.ok(calls >= 1 && calls * 4 <= VIEWS + CLICKS, `${calls} shard calls for ${VIEWS + CLICKS} events`);
});

test("a view never waits for its count", async () => {
  seedLaunch(db, "fast-view", "Fast View");
  await (await worker.fetch("/launch/fast-view")).text();
  const started = performance.now();
  const res = await worker.fetch("/launch/fast-view", { headers: browser(7) });
  await res.text();
  assert.equal(res.headers.get("x-cache"), "HIT");
  assert.ok(performance.now() - started < 1000);
  await eventually(async () => (await stats("fast-view")).views, 1);
});

test("bots are served but counted apart, never as visitors", async () => {
  seedLaunch(db, "bot-watch", "Bot Watch");
  for (const ua of ["Googlebot/2.1 (+http://www.google.com/bot.html)", "curl/8.5.0", ""]) {
    const res = await worker.fetch("/launch/bot-watch", { headers: { "user-agent": ua } });
    assert.equal(res.status, 200);
  }
  await (await worker.fetch("/launch/bot-watch", { headers: browser(1) })).text();
  await eventually(async () => {
    const s = await stats("bot-watch");
    return [s.views, s.bot_views, s.unique_visitors];
  }, [1, 3, 1]);
});

test("a click is counted and redirected to a configured destination only", async () => {
  seedLaunch(db, "clicky", "Clicky");
  const res = await worker.fetch("/go/clicky?to=signup&utm_source=twitter", { headers: browser(3) });
  assert.equal(res.status, 302);
  assert.equal(res.headers.get("location"), "https://example.com/signup");
  const s = await stats("clicky");
  assert.equal(s.clicks, 1, "counted before the redirect was answered");
  assert.equal(s.by_source.twitter.clicks, 1);

  const open = await worker.fetch("/go/clicky?to=https://evil.example", { headers: browser(3) });
  assert.equal(open.status, 400);
  assert.equal((await open.json()).error, "unknown_destination");
  assert.equal((await stats("clicky")).clicks, 1);
});

test("conversions from the beacon are counted with their revenue before the 202", async () => {
  seedLaunch(db, "converts", "Converts");
  const send = (body, n) => worker.fetch("/launch/converts/events", { method: "POST", headers: { ...browser(n), "content-type": "application/json" }, body: JSON.stringify(body) });
  assert.equal((await send({ kind: "signup" }, 1)).status, 202);
  assert.equal((await send({ kind: "purchase", amount_cents: 4900 }, 2)).status, 202);
  assert.equal((await send({ kind: "purchase", amount_cents: 100 }, 3)).status, 202);
  const s = await stats("converts");
  assert.deepEqual(s.conversions, { purchase: 2, signup: 1 });
  assert.equal(s.revenue_cents, 5000);
  await eventually(() => postgresTotal("converts", "revenue_cents"), 5000);
  await eventually(() => postgresTotal("converts", "purchase"), 2);
});

test("each bad input is refused with its status and changes no count", async () => {
  seedLaunch(db, "strict", "Strict");
  const post = (path, body, headers = {}) => worker.fetch(path, { method: "POST", headers: { ...browser(9), "content-type": "application/json", ...headers }, body });
  const cases = [
    [post("/launch/strict/events", "{not json"), 400, "invalid_json"],
    [post("/launch/strict/events", JSON.stringify({ kind: "vote" })), 400, "unknown_event_kind"],
    [post("/launch/strict/events", JSON.stringify({ kind: "signup", pad: "x".repeat(5000) })), 413, null],
    [post("/launch/nobody/events", JSON.stringify({ kind: "signup" })), 404, "unknown_launch"],
    [post("/launch/Bad_Slug/events", JSON.stringify({ kind: "signup" })), 400, "slug_bad_characters"],
    [worker.fetch("/go/nobody?to=signup", { headers: browser(9) }), 404, "unknown_launch"],
    [worker.fetch("/go/strict", { headers: browser(9) }), 400, "missing_destination"],
  ];
  for (const [pending, status, code] of cases) {
    const res = await pending;
    assert.equal(res.status, status);
    if (code) assert.equal((await res.json()).error, code);
  }
  const s = await stats("strict");
  assert.deepEqual([s.views, s.clicks, s.conversions, s.revenue_cents], [0, 0, {}, 0]);
});

test("the per-IP limit answers 429 with Retry-After, counts nothing past it, and recovers", async () => {
  seedLaunch(db, "limited", "Limited");
  const headers = { ...browser(200), "cf-connecting-ip": "10.9.9.9" };
  let admitted = 0;
  let limited = null;
  // 500 a minute: keep clicking until refused (bounded; a window boundary may admit more).
  for (let sent = 0; sent < 1500 && !limited; sent += 40) {
    const batch = await Promise.all(Array.from({ length: 40 }, () => worker.fetch("/go/limited?to=signup", { headers })));
    for (const r of batch) {
      if (r.status === 302) admitted += 1;
      else if (r.status === 429) limited ??= r;
      else assert.fail(`unexpected status ${r.status}`);
    }
  }
  assert.ok(limited, "the limit was hit");
  assert.ok(Number(limited.headers.get("retry-after")) > 0);
  assert.equal((await limited.json()).error, "rate_limited");
  assert.equal((await stats("limited")).clicks, admitted, "exactly the admitted clicks are counted");

  const other = await worker.fetch("/go/limited?to=signup", { headers: { ...headers, "cf-connecting-ip": "10.9.9.10" } });
  assert.equal(other.status, 302, "another visitor is not limited");

  // The window is a minute: the same visitor gets through again within about that.
  const deadline = Date.now() + 75_000;
  let again;
  do {
    await sleep(2_000);
    again = await worker.fetch("/go/limited?to=signup", { headers });
  } while (again.status === 429 && Date.now() < deadline);
  assert.equal(again.status, 302, "recovered after the window");
  assert.equal((await stats("limited")).clicks, admitted + 2);
});

test("events at the 2 a.m. DST edges and at Pacific midnight land on the right launch day", async () => {
  seedLaunch(db, "dst-edges", "DST Edges");
  const expected = {
    // Spring forward: 02:00 PST becomes 03:00 PDT; the day is 23 hours long.
    "2026-03-08": ["2026-03-08T08:00:00Z", "2026-03-08T09:59:59Z", "2026-03-08T10:00:00Z", "2026-03-09T06:59:59.999Z"],
    "2026-03-09": ["2026-03-09T07:00:00Z"],
    // Fall back: 01:00-02:00 happens twice; the day is 25 hours long.
    "2026-10-31": ["2026-11-01T06:59:59.999Z"],
    "2026-11-01": ["2026-11-01T07:00:00Z", "2026-11-01T08:30:00Z", "2026-11-01T09:30:00Z", "2026-11-02T07:59:59.999Z"],
    "2026-11-02": ["2026-11-02T08:00:00Z"],
  };
  let n = 0;
  for (const instants of Object.values(expected)) {
    for (const iso of instants) {
      const res = await worker.fetch("/launch/dst-edges/events", {
        method: "POST",
        headers: { ...browser(500 + n++), "content-type": "application/json", "x-launch-edge-test-now": String(Date.parse(iso)) },
        body: JSON.stringify({ kind: "signup" }),
      });
      assert.equal(res.status, 202, iso);
    }
  }
  for (const [day, instants] of Object.entries(expected)) {
    const res = await worker.admin(`/admin/launches/dst-edges/stats?day=${day}`);
    assert.equal((await res.json()).stats.conversions.signup, instants.length, day);
  }
  const inPostgres = () => psql(db, "SELECT string_agg(day || '=' || value, ',' ORDER BY day) FROM metrics_day WHERE launch = 'dst-edges' AND metric = 'signup'");
  await eventually(inPostgres, Object.entries(expected).map(([d, i]) => `${d}=${i.length}`).join(","));
});

test("counters survive a restart of wrangler dev with persistence", async () => {
  seedLaunch(db, "durable", "Durable");
  // Enough visitors in one batch that the shard stores many sketch registers at once.
  const VISITORS = 60;
  await Promise.all(Array.from({ length: VISITORS }, (_, i) => worker.fetch("/launch/durable", { headers: browser(i) }).then((r) => r.text())));
  await eventually(async () => (await stats("durable")).views, VISITORS);
  const uniques = (await stats("durable")).unique_visitors;
  assert.ok(Math.abs(uniques - VISITORS) <= 3, `unique visitors ${uniques} ≈ ${VISITORS}`);
  await worker.stop();
  await worker.start();
  const restored = await stats("durable");
  assert.equal(restored.views, VISITORS);
  assert.equal(restored.unique_visitors, uniques, "the sketch registers were restored from storage");
  await eventually(() => postgresTotal("durable", "view"), VISITORS);
});
