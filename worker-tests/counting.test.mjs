// Counting end to end: views, clicks and conversions counted by the sharded Durable
// Objects in workerd, drained to the real origin and Postgres, exactly.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { request } from "node:http";
import { Origin, Worker, freshDatabase, seedLaunch, psql, sleep, eventually, storedTotal } from "./harness.mjs";

const CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36";
let db, origin, worker;

before(async () => {
  db = freshDatabase();
  origin = await new Origin(db).start();
  // The test clock lets one test count at the DST edges; nothing else sends its header.
  // TEST_HOOKS lets a test make shard calls fail; one relay webhook source exercises its
  // body limit; CONVERSIONS_SECRET keys the signed conversions.
  worker = await new Worker({
    originUrl: origin.url,
    vars: {
      TEST_CLIENT_CLOCK: "enabled", TEST_HOOKS: "enabled", CONVERSIONS_SECRET: "test-conversions-secret-0123456789",
      WEBHOOK_SOURCES: "relay=producthunt", WEBHOOK_SECRETS_RELAY: "test-relay-secret-0123456789",
    },
  }).start();
});

after(async () => {
  await worker?.stop();
  await origin?.stop();
});

const browser = (n, extra = {}) => ({ "user-agent": `${CHROME} visitor/${n}`, "cf-connecting-ip": `10.0.${(n >> 8) & 255}.${n & 255}`, ...extra });

async function stats(slug, from = worker) {
  const res = await from.admin(`/admin/launches/${slug}/stats`);
  assert.equal(res.status, 200);
  return (await res.json()).stats;
}


const postgresTotal = (slug, metric) => storedTotal(db, slug, metric);

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

// Cloudflare's bot signals as wrangler dev takes them from a client (`MF-CF-Blob` becomes
// `request.cf`): Bot Management's score and verified-bot flag.
const botSignals = (score, verifiedBot = false) => ({ "mf-cf-blob": JSON.stringify({ botManagement: { score, verifiedBot } }) });

test("Cloudflare's bot score counts only with BOT_MANAGEMENT enabled; by default request.cf is never read", async () => {
  seedLaunch(db, "score-default", "Score Default");
  // This worker has the default (disabled): a browser with a bot's score is a visitor.
  await (await worker.fetch("/launch/score-default", { headers: browser(7001, botSignals(5)) })).text();
  await (await worker.fetch("/launch/score-default", { headers: browser(7002, botSignals(90, true)) })).text();
  await eventually(async () => {
    const s = await stats("score-default");
    return [s.views, s.bot_views];
  }, [2, 0]);

  seedLaunch(db, "score-enabled", "Score Enabled");
  const scored = await new Worker({ originUrl: origin.url, vars: { BOT_MANAGEMENT: "enabled" } }).start();
  try {
    for (const headers of [browser(7003, botSignals(5)), browser(7004, botSignals(90, true)), browser(7005, botSignals(90))]) {
      const res = await scored.fetch("/launch/score-enabled", { headers });
      assert.equal(res.status, 200);
      await res.text();
    }
    await eventually(async () => {
      const s = await stats("score-enabled", scored);
      return [s.views, s.bot_views, s.unique_visitors];
    }, [1, 2, 1]);
  } finally {
    await scored.stop();
  }
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

test("conversions from the beacon are counted before the 202", async () => {
  seedLaunch(db, "converts", "Converts");
  const send = (body, n) => worker.fetch("/launch/converts/events", { method: "POST", headers: { ...browser(n), "content-type": "application/json" }, body: JSON.stringify(body) });
  assert.equal((await send({ kind: "signup" }, 1)).status, 202);
  assert.equal((await send({ kind: "lead" }, 2)).status, 202);
  assert.equal((await send({ kind: "signup" }, 3)).status, 202);
  const s = await stats("converts");
  assert.deepEqual(s.conversions, { lead: 1, signup: 2 });
  await eventually(() => postgresTotal("converts", "signup"), 2);
});

test("the public beacon refuses purchases and amounts, even from a cross-site form, and counts nothing", async () => {
  seedLaunch(db, "no-forgery", "No Forgery");
  // What a cross-site <form enctype="text/plain"> can send, and what a script can.
  const forged = [
    [{ "content-type": "text/plain", origin: "https://evil.example" }, { kind: "purchase", amount_cents: 1_000_000 }, "kind_requires_signature"],
    [{ "content-type": "application/json" }, { kind: "subscribe", amount_cents: 900 }, "kind_requires_signature"],
    [{ "content-type": "application/json" }, { kind: "purchase" }, "kind_requires_signature"],
    [{ "content-type": "application/json" }, { kind: "signup", amount_cents: 100 }, "amount_requires_signature"],
    [{ "content-type": "application/json" }, { kind: "lead", currency: "USD" }, "amount_requires_signature"],
  ];
  for (const [headers, body, code] of forged) {
    const res = await worker.fetch("/launch/no-forgery/events", { method: "POST", headers: { ...browser(4), ...headers }, body: JSON.stringify(body) });
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal((await res.json()).error, code);
  }
  const s = await stats("no-forgery");
  assert.deepEqual([s.conversions, s.revenue_cents], [{}, 0]);
});

test("each bad input is refused with its status and changes no count", async () => {
  seedLaunch(db, "strict", "Strict");
  const post = (path, body, headers = {}) => worker.fetch(path, { method: "POST", headers: { ...browser(9), "content-type": "application/json", ...headers }, body });
  const cases = [
    [post("/launch/strict/events", "{not json"), 400, "invalid_json"],
    [post("/launch/strict/events", JSON.stringify({ kind: "vote" })), 400, "unknown_event_kind"],
    [post("/launch/strict/events", JSON.stringify({ kind: "signup", pad: "x".repeat(5000) })), 413, "event_too_large"],
    [post("/launch/strict/events", JSON.stringify({ kind: "purchase", amount_cents: 4900 })), 400, "kind_requires_signature"],
    [post("/launch/strict/conversions", JSON.stringify({ kind: "purchase", amount_cents: 4900 })), 400, "missing_header"],
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

test("a failed shard call or a lost answer loses no view and counts no click twice", async () => {
  seedLaunch(db, "flaky-shard", "Flaky Shard");
  await (await worker.fetch("/launch/flaky-shard", { headers: browser(0) })).text();
  await eventually(async () => (await stats("flaky-shard")).views, 1);
  const arm = async (faults) => assert.equal((await worker.admin("/admin/test/shard-faults", { method: "POST", body: JSON.stringify(faults) })).status, 200);

  // The click's batch fails once, then reaches the shard twice without an answer coming
  // back: it is resent under the same flush id until acknowledged, and stored once.
  await arm({ fail: 1, lose_answer: 2 });
  const click = await worker.fetch("/go/flaky-shard?to=signup", { headers: browser(1) });
  assert.equal(click.status, 302);
  assert.equal((await stats("flaky-shard")).clicks, 1, "stored before the redirect, once");

  await arm({ fail: 3, lose_answer: 1 });
  const VIEWS = 40;
  await Promise.all(Array.from({ length: VIEWS }, (_, i) => worker.fetch("/launch/flaky-shard", { headers: browser(10 + i) }).then((r) => r.text())));
  await eventually(async () => (await stats("flaky-shard")).views, 1 + VIEWS);
  assert.deepEqual(await (await worker.admin("/admin/test/shard-faults")).json(), { fail: 0, lose_answer: 0 }, "every fault was hit");
  await sleep(1_500);
  const s = await stats("flaky-shard");
  assert.deepEqual([s.views, s.clicks], [1 + VIEWS, 1], "nothing counted twice");
  await eventually(() => [postgresTotal("flaky-shard", "view"), postgresTotal("flaky-shard", "click")], [1 + VIEWS, 1]);
});

test("test hooks need the admin token", async () => {
  const res = await worker.fetch("/admin/test/shard-faults", { method: "POST", body: JSON.stringify({ fail: 100 }) });
  assert.equal(res.status, 401);
});

/** POSTs a chunked body (no Content-Length) that never ends: `chunkBytes` every 50 ms,
 *  like a client trickling a huge upload; resolves with the answer, or with
 *  `{ status: "no answer" }` after `waitMs` (reading the body whole would wait forever). */
function trickle(path, headers, chunkBytes, waitMs = 10_000) {
  return new Promise((resolve, reject) => {
    let answered = false;
    const stop = () => { answered = true; clearInterval(writer); clearTimeout(timer); req.destroy(); };
    const req = request(`${worker.url}${path}`, { method: "POST", headers: { ...headers, "transfer-encoding": "chunked" } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d) => { text += d; });
      res.on("end", () => {
        stop();
        let error = text;
        try { error = JSON.parse(text).error; } catch { /* not JSON */ }
        resolve({ status: res.statusCode, error });
      });
    });
    const writer = setInterval(() => { if (!answered) req.write(Buffer.alloc(chunkBytes, " ")); }, 50);
    const timer = setTimeout(() => { stop(); resolve({ status: "no answer" }); }, waitMs);
    req.on("error", (e) => { if (!answered) { stop(); reject(e); } });
  });
}

test("a chunked body is refused as soon as it passes the limit, without waiting for the rest", async () => {
  seedLaunch(db, "chunky", "Chunky");
  const beacon = await trickle("/launch/chunky/events", { ...browser(5), "content-type": "application/json" }, 1024);
  assert.deepEqual(beacon, { status: 413, error: "event_too_large" });
  const hook = await trickle("/webhooks/relay", { "content-type": "application/json" }, 32 * 1024);
  assert.deepEqual(hook, { status: 413, error: "body_too_large" });
  // A small chunked body within the limit is read whole.
  const small = await worker.fetch("/launch/chunky/events", {
    method: "POST", headers: { ...browser(6), "content-type": "application/json" }, duplex: "half",
    body: new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode('{"kind":')); c.enqueue(new TextEncoder().encode('"signup"}')); c.close(); } }),
  });
  assert.equal(small.status, 202);
  assert.deepEqual((await stats("chunky")).conversions, { signup: 1 });
});

const CONVERSION_BODY = JSON.stringify({ kind: "purchase", amount_cents: 4900, currency: "USD", source: "newsletter" });

/** Standard Webhooks headers for `body`, signed with a `whsec_` secret (as the README shows). */
function signed(secret, id, body, timestamp = Math.floor(Date.now() / 1000)) {
  const key = Buffer.from(secret.slice("whsec_".length), "base64");
  const signature = createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64");
  return { "content-type": "application/json", "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": `v1,${signature}` };
}

async function conversionKey(slug) {
  const res = await worker.admin(`/admin/launches/${slug}/conversion-key`);
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.endpoint, `/launch/${slug}/conversions`);
  assert.match(body.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
  return body.secret;
}

test("a purchase signed with its launch's key is counted once with its revenue, however often it is retried", async () => {
  seedLaunch(db, "paid-signed", "Paid Signed");
  const secret = await conversionKey("paid-signed");
  const send = () => worker.fetch("/launch/paid-signed/conversions", { method: "POST", headers: signed(secret, "order_1001", CONVERSION_BODY), body: CONVERSION_BODY });
  const first = await send();
  assert.equal(first.status, 202);
  assert.deepEqual(await first.json(), { counted: "purchase", launch: "paid-signed", duplicate: false });
  let s = await stats("paid-signed");
  // The body names its currency: the amount is revenue in USD, kept apart from any other.
  assert.deepEqual([s.conversions, s.revenue_by_currency, s.by_source.newsletter.revenue_by_currency], [{ purchase: 1 }, { usd: 4900 }, { usd: 4900 }], "counted before the 202");

  const retried = await Promise.all([send(), send()]);
  for (const res of retried) {
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-webhook-duplicate"), "true");
    assert.equal((await res.json()).duplicate, true);
  }
  s = await stats("paid-signed");
  assert.deepEqual([s.conversions, s.revenue_by_currency], [{ purchase: 1 }, { usd: 4900 }]);
  await eventually(() => [postgresTotal("paid-signed", "purchase"), postgresTotal("paid-signed", "revenue_cents.usd")], [1, 4900]);
});

test("a key of one launch cannot move another, and unsigned, stale or tampered calls change nothing", async () => {
  seedLaunch(db, "victim", "Victim");
  seedLaunch(db, "attacker", "Attacker");
  const attackerKey = await conversionKey("attacker");
  assert.notEqual(attackerKey, await conversionKey("victim"));
  const post = (slug, headers, body = CONVERSION_BODY) => worker.fetch(`/launch/${slug}/conversions`, { method: "POST", headers, body });
  const cases = [
    [post("victim", signed(attackerKey, "x1", CONVERSION_BODY)), 401, "signature_mismatch"],
    [post("victim", { "content-type": "application/json" }), 400, "missing_header"],
    [post("attacker", signed(attackerKey, "x2", CONVERSION_BODY, Math.floor(Date.now() / 1000) - 600)), 401, "timestamp_outside_tolerance"],
    [post("attacker", signed(attackerKey, "x3", CONVERSION_BODY), CONVERSION_BODY.replace("4900", "490000")), 401, "signature_mismatch"],
    [post("attacker", signed(attackerKey, "x4", '{"kind":"signup","amount_cents":5}'), '{"kind":"signup","amount_cents":5}'), 400, "amount_not_allowed"],
    [worker.fetch("/admin/launches/victim/conversion-key"), 401, "missing_token"],
  ];
  for (const [pending, status, code] of cases) {
    const res = await pending;
    assert.equal(res.status, status, code);
    assert.equal((await res.json()).error, code);
  }
  for (const slug of ["victim", "attacker"]) {
    const s = await stats(slug);
    assert.deepEqual([s.conversions, s.revenue_cents], [{}, 0], slug);
  }
});

test("a sweep after a missed rollover finalizes the missed day, and the shards forget drained days", async () => {
  seedLaunch(db, "catch-up", "Catch Up");
  const [yesterday, before] = psql(db, "SELECT string_agg(d::text, ' ' ORDER BY d DESC) FROM (SELECT (now() AT TIME ZONE 'America/Los_Angeles')::date - n AS d FROM generate_series(1, 2) n) days").split(" ");
  const noon = (day) => Number(psql(db, `SELECT (extract(epoch FROM ((date '${day}' + time '12:00') AT TIME ZONE 'America/Los_Angeles')) * 1000)::bigint`));
  const signup = (day, n) => worker.fetch("/launch/catch-up/events", {
    method: "POST", headers: { ...browser(700 + n), "content-type": "application/json", "x-launch-edge-test-now": String(noon(day)) }, body: '{"kind":"signup"}',
  });
  for (const [day, n] of [[yesterday, 1], [yesterday, 2], [before, 3]]) assert.equal((await signup(day, n)).status, 202);
  const liveSignups = async (day) => (await (await worker.admin(`/admin/launches/catch-up/stats?day=${day}`)).json()).stats.conversions.signup ?? 0;
  assert.deepEqual([await liveSignups(yesterday), await liveSignups(before)], [2, 1]);
  const inPostgres = () => psql(db, "SELECT string_agg(day || '=' || value, ',' ORDER BY day) FROM metrics_day WHERE launch = 'catch-up' AND metric = 'signup'");
  await eventually(inPostgres, `${before}=1,${yesterday}=2`);
  await sleep(2_500); // the drain tick after the rows: every sketch has left too

  // No rollover firing ran for yesterday; an ordinary sweep at an ordinary hour makes it good.
  const sweep = await worker.fetch(`/cdn-cgi/handler/scheduled?cron=${encodeURIComponent("* * * * *")}&time=${Date.now()}`);
  assert.equal(sweep.status, 200);
  await eventually(() => psql(db, `SELECT conversions FROM daily_summaries WHERE launch = 'catch-up' AND day = '${yesterday}'`), "2");
  // The day before yesterday is final and in Postgres: its live stats are forgotten; yesterday's stay.
  await eventually(async () => [await liveSignups(yesterday), await liveSignups(before)], [2, 0]);
  assert.equal(inPostgres(), `${before}=1,${yesterday}=2`, "forgetting changes nothing in Postgres");
});
