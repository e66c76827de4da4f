// Outbound tasks end to end: the TaskScheduler Durable Object in workerd delivering to
// small local servers that behave like Product Hunt's GraphQL API (bearer token,
// complexity budget and its headers, 429 when spent) and like a Discord webhook (429
// with Retry-After, 5xx, a response that never comes), plus the launch monitor.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { Origin, Worker, freshDatabase, psql, sleep } from "./harness.mjs";

const PH_TOKEN = "ph-test-token-0123456789";
const MAX_ATTEMPTS = 3;
let db, origin, worker, ph, discord;

/** Starts a node:http server on 127.0.0.1 and a free port. */
async function listen(handler) {
  const server = createServer(handler);
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${server.address().port}` };
}

const readBody = (req) =>
  new Promise((resolve) => {
    let data = "";
    req.on("data", (c) => (data += c));
    req.on("end", () => resolve(data));
  });

/** A Discord-like webhook: 5 requests per 2 s bucket, announced in `X-RateLimit-*`
 * headers on every answer, 429 with `Retry-After` beyond it. `script(name, [...])` sets
 * what `/hooks/<name>` answers, one entry per request (then 204): a status,
 * `{ status: 429, retryAfter }` (a scripted throttle), or "hang". */
async function fakeDiscord({ limit = 5, windowMs = 2000 } = {}) {
  const received = [];
  const scripts = new Map();
  let windowStart = Date.now();
  let used = 0;
  const { server, url } = await listen(async (req, res) => {
    const body = await readBody(req);
    const now = Date.now();
    if (now - windowStart >= windowMs) {
      windowStart = now;
      used = 0;
    }
    used += 1;
    const name = req.url.split("/")[2];
    const entry = { name, at: now, headers: req.headers, body, status: 0 };
    received.push(entry);
    const resetAfter = ((windowStart + windowMs - now) / 1000).toFixed(3);
    const headers = {
      "content-type": "application/json",
      "x-ratelimit-limit": String(limit),
      "x-ratelimit-remaining": String(Math.max(0, limit - used)),
      "x-ratelimit-reset-after": resetAfter,
    };
    entry.overLimit = used > limit;
    const step = entry.overLimit ? { status: 429, retryAfter: resetAfter } : (scripts.get(name)?.shift() ?? 204);
    if (step === "hang") return; // never answers: the worker's timeout must fire
    if (typeof step === "object") {
      entry.status = 429;
      res.writeHead(429, { ...headers, "retry-after": String(step.retryAfter), "x-ratelimit-remaining": "0", "x-ratelimit-reset-after": String(step.retryAfter) });
      return res.end(JSON.stringify({ message: "You are being rate limited.", retry_after: Number(step.retryAfter) }));
    }
    entry.status = step;
    res.writeHead(step, headers);
    res.end(step === 204 ? undefined : JSON.stringify({ message: `status ${step}` }));
  });
  return {
    server,
    url,
    hook: (name) => `${url}/hooks/${name}/token-part-of-the-secret`,
    script: (name, steps) => scripts.set(name, [...steps]),
    received: (name) => received.filter((r) => r.name === name),
    /** Requests the bucket refused (scripted throttles not included). */
    overLimit: () => received.filter((r) => r.overLimit).length,
  };
}

/** A Product Hunt-like GraphQL API with a complexity budget of `limit` points per window. */
async function fakeProductHunt({ limit = 60, windowMs = 3000 } = {}) {
  const received = [];
  const votes = new Map();
  let windowStart = Date.now();
  let spent = 0;
  const { server, url } = await listen(async (req, res) => {
    const body = await readBody(req);
    const now = Date.now();
    if (now - windowStart >= windowMs) {
      windowStart = now;
      spent = 0;
    }
    const entry = { at: now, headers: req.headers, body, status: 200 };
    received.push(entry);
    const send = (status, payload) => {
      entry.status = status;
      res.writeHead(status, {
        "content-type": "application/json",
        "x-rate-limit-limit": String(limit),
        "x-rate-limit-remaining": String(Math.max(0, limit - spent)),
        "x-rate-limit-reset": String(Math.ceil((windowStart + windowMs - now) / 1000)),
      });
      res.end(JSON.stringify(payload));
    };
    if (req.headers.authorization !== `Bearer ${PH_TOKEN}`) return send(401, { errors: [{ message: "invalid token" }] });
    const { query, variables } = JSON.parse(body);
    const cost = 2 * (query.match(/\{/g) ?? []).length + 1;
    if (spent + cost > limit) return send(429, { errors: [{ message: "rate limit exceeded" }] });
    spent += cost;
    const slug = variables?.slug ?? "any";
    send(200, { data: { post: { id: "42", votesCount: votes.get(slug) ?? 0, commentsCount: 3, featuredAt: null } } });
  });
  return { server, url, received: () => received, setVotes: (slug, n) => votes.set(slug, n) };
}

before(async () => {
  ph = await fakeProductHunt();
  discord = await fakeDiscord();
  db = freshDatabase();
  origin = await new Origin(db).start();
  worker = await new Worker({
    originUrl: origin.url,
    vars: {
      WEBHOOK_ALLOWLIST: "dev:allow-loopback-http",
      PRODUCT_HUNT_API_URL: `${ph.url}/graphql`,
      PRODUCT_HUNT_TOKEN: PH_TOKEN,
      TASK_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
      TASK_BACKOFF_BASE_MS: "200",
      TASK_BACKOFF_CAP_MS: "1000",
      TASK_TIMEOUT_MS: "1000",
      MONITOR_LAUNCHES: "demo-launch=rocket-post",
      MONITOR_MILESTONES: "100,250,500",
      MONITOR_ALERT_WEBHOOK: discord.hook("alerts"),
      MONITOR_INTERVAL_SECONDS: "0",
    },
  }).start();
});

after(async () => {
  await worker?.stop();
  await origin?.stop();
  for (const fake of [ph, discord]) {
    fake?.server.closeAllConnections();
    fake?.server.close();
  }
});

const json = (body) => ({ method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
const createTask = (body) => worker.admin("/admin/tasks", json(body));
const webhookTask = (key, hook, extra = {}) =>
  createTask({ kind: "webhook_post", target: discord.hook(hook), payload: { content: `hello from ${key}` }, due: "now", idempotency_key: key, ...extra });

async function task(id) {
  const res = await worker.admin(`/admin/tasks/${id}`);
  assert.equal(res.status, 200, `GET /admin/tasks/${id}`);
  return res.json();
}

/** Polls the task until it reaches `state`. */
async function settled(id, state, { timeoutMs = 20_000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await task(id);
    if (last.state === state) return last;
    await sleep(100);
  }
  assert.fail(`task ${id} is ${last?.state}, not ${state}: ${JSON.stringify(last)}`);
}

test("a webhook task is delivered once, with its idempotency key as Idempotency-Key and X-Request-Id", async () => {
  const first = await webhookTask("announce-1", "announce");
  assert.equal(first.status, 201);
  const again = await webhookTask("announce-1", "announce");
  assert.equal(again.status, 200);
  assert.equal((await again.json()).created, false);

  const done = await settled("announce-1", "delivered");
  assert.equal(done.attempts, 1);
  assert.equal(done.target, `${discord.url}/…`, "the webhook path (its secret) is never shown");
  await sleep(500);
  const got = discord.received("announce");
  assert.equal(got.length, 1);
  assert.equal(got[0].headers["idempotency-key"], "announce-1");
  assert.equal(got[0].headers["x-request-id"], "announce-1");
  assert.deepEqual(JSON.parse(got[0].body), { content: "hello from announce-1" });
  assert.equal(got[0].headers.authorization, undefined, "webhooks never get the Product Hunt token");
});

test("a ph_graphql query goes to the API with the bearer token, which never appears in the admin API", async () => {
  const res = await createTask({
    kind: "ph_graphql",
    payload: { query: "query Post($slug: String!) { post(slug: $slug) { votesCount } }", variables: { slug: "rocket-post" } },
    due: "now",
    idempotency_key: "ph-read-1",
  });
  assert.equal(res.status, 201);
  await settled("ph-read-1", "delivered");
  const sent = ph.received().filter((r) => r.headers["idempotency-key"] === "ph-read-1");
  assert.equal(sent.length, 1);
  assert.equal(sent[0].headers.authorization, `Bearer ${PH_TOKEN}`);
  const listing = await (await worker.admin("/admin/tasks")).text();
  assert.ok(!listing.includes(PH_TOKEN));
});

test("a 429 with Retry-After: 1 is retried no sooner than a second later, then delivered", async () => {
  discord.script("throttled", [{ status: 429, retryAfter: 1 }]);
  assert.equal((await webhookTask("throttled-1", "throttled")).status, 201);
  const done = await settled("throttled-1", "delivered");
  const [first, second] = discord.received("throttled");
  assert.ok(second.at - first.at >= 1000, `retried after ${second.at - first.at} ms`);
  assert.equal(done.attempts, 2);
  assert.equal(done.history[0].retry_in_ms, 1000);
  assert.equal(done.history[0].server_directed, true);
  const { summary } = await (await worker.admin("/admin/tasks")).json();
  assert.ok(summary.counters.outbound_429 >= 1, JSON.stringify(summary));
});

test("5xx failures retry with jittered backoff as computed, then dead-letter with the last error after the maximum", async () => {
  discord.script("down", Array(10).fill(503));
  assert.equal((await webhookTask("down-1", "down")).status, 201);
  const dead = await settled("down-1", "dead");
  const arrivals = discord.received("down").map((r) => r.at);
  assert.equal(arrivals.length, MAX_ATTEMPTS);
  assert.equal(dead.attempts, MAX_ATTEMPTS);
  assert.equal(dead.dead_reason, "exhausted");
  assert.match(dead.last_error, /^HTTP 503/);
  // Each delay is full jitter under its ceiling (200 ms, then 400 ms), and the retry
  // came no sooner than the delay chosen.
  for (let i = 0; i < MAX_ATTEMPTS - 1; i++) {
    const chosen = dead.history[i].retry_in_ms;
    assert.ok(chosen <= 200 * 2 ** i, `delay ${i}: ${chosen}`);
    assert.ok(arrivals[i + 1] - arrivals[i] >= chosen - 5, `gap ${i}: ${arrivals[i + 1] - arrivals[i]} < ${chosen}`);
  }
  const res = await worker.admin("/admin/tasks?state=dead");
  const { summary, tasks } = await res.json();
  const listed = tasks.find((t) => t.id === "down-1");
  assert.match(listed.last_error, /^HTTP 503/);
  assert.ok(summary.tasks.dead >= 1 && summary.counters.task_dead_letter >= 1);
  await sleep(1500);
  assert.equal(discord.received("down").length, MAX_ATTEMPTS, "nothing is sent after the dead letter");
});

test("a response that never comes times out, and the task is retried", async () => {
  discord.script("hanging", ["hang"]);
  assert.equal((await webhookTask("hanging-1", "hanging")).status, 201);
  const done = await settled("hanging-1", "delivered");
  assert.equal(done.history[0].result, "timeout");
  assert.equal(discord.received("hanging").length, 2);
});

test("a permanent 4xx dead-letters at once; requeue delivers it, discard removes another", async () => {
  discord.script("gone", [410]);
  await webhookTask("gone-1", "gone");
  const dead = await settled("gone-1", "dead");
  assert.equal(dead.attempts, 1);
  assert.equal(dead.dead_reason, "permanent");
  assert.match(dead.last_error, /^HTTP 410/);

  const requeued = await worker.admin("/admin/tasks/gone-1/requeue", { method: "POST" });
  assert.equal(requeued.status, 200);
  const done = await settled("gone-1", "delivered");
  assert.equal(done.attempts, 1, "attempts start again from zero");
  assert.equal(discord.received("gone").length, 2);
  const notDead = await worker.admin("/admin/tasks/gone-1/requeue", { method: "POST" });
  assert.equal(notDead.status, 409);
  assert.equal((await notDead.json()).error, "task_not_dead");

  discord.script("forbidden", [403]);
  await webhookTask("forbidden-1", "forbidden");
  await settled("forbidden-1", "dead");
  assert.equal((await worker.admin("/admin/tasks/forbidden-1", { method: "DELETE" })).status, 200);
  assert.equal((await worker.admin("/admin/tasks/forbidden-1")).status, 404);
  assert.equal((await worker.admin("/admin/tasks/forbidden-1", { method: "DELETE" })).status, 404);
  const { tasks } = await (await worker.admin("/admin/tasks?state=dead")).json();
  assert.ok(!tasks.some((t) => t.id === "forbidden-1"));
});

test("a 302 from a webhook target is a failed task: the redirect is not followed", async () => {
  // The target answers 302 to another allowed URL; following it would post the payload
  // somewhere the task never named.
  const hits = [];
  const redirector = await listen((req, res) => {
    hits.push(req.url);
    res.writeHead(302, { location: discord.hook("redirected-to") });
    res.end();
  });
  try {
    const res = await createTask({ kind: "webhook_post", target: `${redirector.url}/hooks/moved/secret-part`, payload: { content: "hi" }, due: "now", idempotency_key: "redirect-1" });
    assert.equal(res.status, 201);
    const dead = await settled("redirect-1", "dead");
    assert.equal(dead.attempts, 1);
    assert.equal(dead.dead_reason, "permanent");
    assert.match(dead.last_error, /^HTTP 302 \(redirects are not followed\)/);
    await sleep(500);
    assert.equal(hits.length, 1);
    assert.equal(discord.received("redirected-to").length, 0, "the Location was never fetched");
  } finally {
    redirector.server.closeAllConnections();
    redirector.server.close();
  }
});

test("vote and comment mutations are refused with forbidden_mutation and nothing is sent", async () => {
  const before = ph.received().length;
  for (const query of [
    'mutation { voteCreate(input: { postId: "42" }) { clientMutationId } }',
    'mutation Add { commentCreate(input: { postId: "42", body: "Great!" }) { id } }',
    'mutation { userFollow(input: { userId: "7" }) { node { id } } upvote: voteCreate(input: { postId: "42" }) { clientMutationId } }',
  ]) {
    const res = await createTask({ kind: "ph_graphql", payload: { query }, due: "now", idempotency_key: "nope" });
    assert.equal(res.status, 400, query);
    assert.equal((await res.json()).error, "forbidden_mutation", query);
  }
  const kind = await createTask({ kind: "ph_vote", payload: {}, due: "now", idempotency_key: "nope" });
  assert.equal((await kind.json()).error, "unknown_kind");
  await sleep(500);
  assert.equal(ph.received().length, before);
  assert.equal((await worker.admin("/admin/tasks/nope")).status, 404);
});

test("webhook targets off the allowlist, and Product Hunt's own hosts, are refused", async () => {
  const refused = async (target) => {
    const res = await createTask({ kind: "webhook_post", target, payload: { content: "x" }, due: "now", idempotency_key: "off-list" });
    assert.equal(res.status, 400, target);
    return (await res.json()).error;
  };
  assert.equal(await refused("https://evil.example.com/hook"), "host_not_allowed");
  assert.equal(await refused("https://api.producthunt.com/v2/api/graphql"), "forbidden_host");
  assert.equal((await createTask({ kind: "webhook_post", payload: {}, due: "now", idempotency_key: "k" })).status, 400);
  const res = await createTask({ kind: "webhook_post", target: discord.hook("later"), payload: {}, due: "launch day 00:01 PT", idempotency_key: "k" });
  assert.equal((await res.json()).error, "due_needs_launch_time");
  const unauthorized = await worker.fetch("/admin/tasks", json({}));
  assert.equal(unauthorized.status, 401);
});

test("a due time relative to launch_at is scheduled for then, not now", async () => {
  const res = await createTask({
    kind: "webhook_post", target: discord.hook("scheduled"), payload: { content: "we are live" },
    due: "launch day 00:01 PT", launch_at: "2099-12-01T08:00:00Z", idempotency_key: "launch-announcement",
  });
  assert.equal(res.status, 201);
  const { task: created } = await res.json();
  assert.equal(created.due_at_ms, Date.parse("2099-12-01T08:01:00Z"));
  assert.equal(created.state, "pending");
  await sleep(500);
  assert.equal(discord.received("scheduled").length, 0);
});

test("ph_graphql tasks wait for the API's budget window instead of being answered 429", async () => {
  const before = ph.received().length;
  const query = 'query { post(slug: "rocket-post") { votesCount } }'; // the fake charges 5 points
  const keys = Array.from({ length: 16 }, (_, i) => `budget-${i}`);
  for (const key of keys) {
    assert.equal((await createTask({ kind: "ph_graphql", payload: { query }, cost: 5, due: "now", idempotency_key: key })).status, 201);
  }
  for (const key of keys) await settled(key, "delivered", { timeoutMs: 30_000 });
  const calls = ph.received().slice(before);
  assert.equal(calls.length, keys.length, "one call per task");
  assert.deepEqual(calls.filter((c) => c.status === 429), [], "16 × 5 points exceed one 60-point window, yet no call was refused");
});

test("the monitor's milestones fire once each, across runs and a worker restart", async () => {
  // One monitor run, as the cron makes it; a run that finds the budget spent (the test
  // before spent it) is simply repeated, as the next cron run would.
  const run = async () => {
    for (let i = 0; i < 50; i++) {
      const res = await worker.admin("/admin/monitor/run", { method: "POST" });
      assert.equal(res.status, 200);
      const { result } = (await res.json()).launches[0];
      if (result.status !== "waiting_for_budget") return result;
      await sleep(300);
    }
    assert.fail("the monitor never got budget");
  };
  ph.setVotes("rocket-post", 120);
  assert.deepEqual((await run()).milestones_crossed, [100]);
  assert.deepEqual((await run()).milestones_crossed, []);
  ph.setVotes("rocket-post", 640);
  const jump = await run();
  assert.deepEqual(jump.milestones_crossed, [250, 500]);
  assert.deepEqual(jump.alerts_enqueued, ["milestone:demo-launch:250", "milestone:demo-launch:500"]);
  for (const m of [100, 250, 500]) await settled(`milestone:demo-launch:${m}`, "delivered");

  await worker.stop();
  await worker.start();
  ph.setVotes("rocket-post", 700);
  assert.deepEqual((await run()).milestones_crossed, []);
  await sleep(1000);

  const alerts = discord.received("alerts");
  assert.deepEqual(alerts.map((a) => a.headers["idempotency-key"]).sort(), [
    "milestone:demo-launch:100", "milestone:demo-launch:250", "milestone:demo-launch:500",
  ]);
  assert.match(JSON.parse(alerts[0].body).content, /demo-launch passed 100 upvotes/);
  const series = await (await worker.admin("/admin/monitor/demo-launch")).json();
  assert.deepEqual(series.polls.map((p) => p.votes), [120, 120, 640, 700]);
  assert.deepEqual(series.milestones_fired, [100, 250, 500]);
  const polls = ph.received().filter((r) => r.body.includes("LaunchMonitor"));
  assert.ok(polls.every((p) => p.headers.authorization === `Bearer ${PH_TOKEN}`));

  // The series reaches the origin's ph_post_stats once per observation, in batches.
  const stored = () => psql(db, "SELECT string_agg(votes::text, ',' ORDER BY observed_at) FROM ph_post_stats WHERE launch = 'demo-launch'");
  const deadline = Date.now() + 20_000;
  while (stored() !== "120,120,640,700" && Date.now() < deadline) await sleep(250);
  assert.equal(stored(), "120,120,640,700");
});

test("the webhook budget kept every call within the fake Discord's bucket", () => {
  assert.equal(discord.overLimit(), 0);
});

test("the scheduler's counters reach the origin's edge_counters exactly, in idempotent batches", async () => {
  const { summary } = await (await worker.admin("/admin/tasks")).json();
  const expected = Object.entries(summary.counters).filter(([, v]) => v > 0).sort();
  const stored = () =>
    psql(db, "SELECT name, sum(value) FROM edge_counters WHERE launch = '' GROUP BY name ORDER BY name")
      .split("\n").filter(Boolean).map((line) => { const [name, v] = line.split("|"); return [name, Number(v)]; });
  const deadline = Date.now() + 20_000;
  while (JSON.stringify(stored()) !== JSON.stringify(expected) && Date.now() < deadline) await sleep(250);
  assert.deepEqual(stored(), expected);
  assert.ok(summary.counters.task_delivered >= 20 && summary.counters.task_dead_letter >= 3, JSON.stringify(summary));
});
