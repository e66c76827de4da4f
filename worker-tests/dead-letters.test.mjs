// The drain's ways out of trouble, end to end: the inbox's one alarm (a drain is never
// stuck behind the purge), a poison webhook payload set aside while the rest lands, an
// intermediary's 4xx retried instead of believed, and a refusal the origin signed kept,
// counted, listed and requeued through /admin/dead-letters.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, createHmac, randomBytes } from "node:crypto";
import { Origin, Worker, freshDatabase, seedLaunch, psql, sleep, eventually, storedTotal } from "./harness.mjs";
import { IngestProxy } from "./proxy.mjs";

const CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36";
const HOOK_KEY = randomBytes(24);
const INBOX_SHARDS = 4n; // core/src/webhooks/inbox.rs

let db, origin, proxy, worker;

before(async () => {
  db = freshDatabase();
  origin = await new Origin(db).start();
  proxy = await new IngestProxy(origin).start();
  worker = await new Worker({
    originUrl: proxy.url,
    vars: { WEBHOOK_SOURCES: "hooks=standard", WEBHOOK_SECRETS_HOOKS: `whsec_${HOOK_KEY.toString("base64")}` },
  }).start();
});

after(async () => {
  await worker?.stop();
  await proxy?.stop();
  await origin?.stop();
});

const visitor = (n) => ({ "user-agent": `${CHROME} v/${n}`, "cf-connecting-ip": `10.7.${(n >> 8) & 255}.${n & 255}` });
const total = (slug, metric) => storedTotal(db, slug, metric);
const stored = (id) => Number(psql(db, `SELECT count(*) FROM webhook_events WHERE source = 'hooks' AND event_id = '${id}'`));

async function click(slug, n) {
  const res = await worker.fetch(`/go/${slug}?to=signup`, { headers: visitor(n) });
  assert.equal(res.status, 302);
}

/** A Standard Webhooks delivery to the `hooks` source with event id `id`. */
async function deliver(id, payload) {
  const body = JSON.stringify(payload);
  const t = Math.floor(Date.now() / 1000);
  const signature = createHmac("sha256", HOOK_KEY).update(`${id}.${t}.${body}`).digest("base64");
  const res = await worker.fetch("/webhooks/hooks", {
    method: "POST",
    headers: { "content-type": "application/json", "webhook-id": id, "webhook-timestamp": String(t), "webhook-signature": `v1,${signature}` },
    body,
  });
  assert.equal(res.status, 200, await res.clone().text());
  return res.json();
}

/** The inbox an event lands in (`webhooks::inbox::inbox_name`). */
function inboxOf(source, id) {
  const digest = createHash("sha256").update(source).update(Buffer.from([0])).update(id).update(Buffer.from([0])).digest();
  return digest.readBigUInt64BE(0) % INBOX_SHARDS;
}

/** `count` event ids with `prefix` that land in the same inbox as `like`. */
function idsInInboxOf(like, prefix, count) {
  const ids = [];
  for (let i = 0; ids.length < count; i++) if (inboxOf("hooks", `${prefix}${i}`) === inboxOf("hooks", like)) ids.push(`${prefix}${i}`);
  return ids;
}

async function deadLetters() {
  const res = await worker.admin("/admin/dead-letters");
  assert.equal(res.status, 200);
  return res.json();
}

test("an event delivered after the inbox's purge alarm is set reaches Postgres within the drain delay", async () => {
  const [first, second] = idsInInboxOf("alarm-0", "alarm-", 2);
  await deliver(first, { type: "note.created", data: { n: 1 } });
  await eventually(() => stored(first), 1, { timeoutMs: 10_000 });
  // The drain has run and its alarm now waits for the first id to expire, a day away.
  await sleep(2_500);
  const sentAt = Date.now();
  await deliver(second, { type: "note.created", data: { n: 2 } });
  await eventually(() => stored(second), 1, { timeoutMs: 8_000 });
  assert.ok(Date.now() - sentAt < 8_000, "drained at the next tick, not when the purge is due");
});

test("a payload with \\u0000 is set aside at the origin with its reason while every later event lands", async () => {
  const poison = "poison-1";
  const later = idsInInboxOf(poison, "after-poison-", 12).concat(["other-a", "other-b", "other-c", "other-d"]);
  await deliver(poison, { type: "note.created", data: { note: "nul \u0000 inside" } });
  for (const id of later) await deliver(id, { type: "note.created", data: { id } });
  await eventually(() => later.filter((id) => stored(id) === 1).length, later.length, { timeoutMs: 30_000 });
  assert.equal(stored(poison), 0);

  const listed = await deadLetters();
  const record = listed.origin.dead_letters.find((d) => d.kind === "webhook_event");
  assert.ok(record, JSON.stringify(listed));
  assert.equal(record.reason, "payload_contains_nul");
  assert.equal(JSON.parse(record.row).event_id, poison);
  assert.equal(listed.worker.count, 0, "no batch was set aside: only the bad row");
  // Requeued while the payload still holds a NUL: the origin's refusal is passed on.
  const again = await worker.admin(`/admin/dead-letters/origin:${record.id}/requeue`, { method: "POST" });
  assert.equal(again.status, 422);
  assert.equal((await again.json()).error, "dead_letter_still_fails");
});

test("an intermediary's 4xx or 2xx page is retried, never taken for the origin's answer", async () => {
  seedLaunch(db, "behind-proxy", "Behind Proxy");
  await click("behind-proxy", 0);
  await eventually(() => total("behind-proxy", "click"), 1);
  const mine = (id) => id.startsWith("behind-proxy/");
  for (const [status, body] of [[404, "<h1>Not Found</h1>"], [403, "forbidden by policy"], [429, "slow down"], [530, "<title>Tunnel error</title>"], [200, "<html>portal</html>"]]) {
    proxy.answers.push({ status, body, match: mine });
  }
  for (let i = 1; i <= 20; i++) await click("behind-proxy", i);
  await eventually(() => proxy.answers.length, 0, { timeoutMs: 60_000 });
  await eventually(() => total("behind-proxy", "click"), 21, { timeoutMs: 60_000 });
  await sleep(2_000);
  assert.equal(total("behind-proxy", "click"), 21);
  assert.equal((await deadLetters()).worker.count, 0);
});

test("a refusal the origin signed sets the batch aside, counted and listed, and a requeue drains it once", async () => {
  seedLaunch(db, "refused", "Refused");
  await click("refused", 0);
  await eventually(() => total("refused", "click"), 1);
  proxy.answers.push({ status: 422, body: '{"error":"invalid_launch"}', contentType: "application/json", signed: true, match: (id) => id.startsWith("refused/") });
  for (let i = 1; i <= 6; i++) await click("refused", i);
  await eventually(() => proxy.answers.length, 0, { timeoutMs: 30_000 });
  let listed;
  await eventually(async () => { listed = await deadLetters(); return listed.worker.count; }, 1);
  const dead = listed.worker.dead_letters[0];
  assert.equal(dead.status, 422);
  assert.match(dead.object, /^refused\/\d+$/);
  assert.ok(dead.rows >= 1 && dead.id === `worker:${dead.batch_id}`, JSON.stringify(dead));
  const inPostgres = total("refused", "click");
  assert.ok(inPostgres < 7, "the refused batch's clicks are held back, not lost");
  // The alert reaches the origin as the worker counter edge_drain_dead_letter.
  const alerts = () => Number(psql(db, "SELECT coalesce(sum(value), 0) FROM edge_counters WHERE name = 'drain_dead_letter'"));
  await eventually(() => alerts() >= 1, true);

  const requeue = await worker.admin(`/admin/dead-letters/${encodeURIComponent(dead.id)}/requeue`, { method: "POST" });
  assert.equal(requeue.status, 200, await requeue.clone().text());
  await eventually(() => total("refused", "click"), 7);
  await sleep(2_000);
  assert.equal(total("refused", "click"), 7, "drained once");
  assert.equal((await deadLetters()).worker.count, 0);
  const twice = await worker.admin(`/admin/dead-letters/${dead.id}/requeue`, { method: "POST" });
  assert.equal(twice.status, 404);
  assert.equal((await twice.json()).error, "dead_letter_not_found");
  const bad = await worker.admin("/admin/dead-letters/nonsense/requeue", { method: "POST" });
  assert.equal((await bad.json()).error, "invalid_dead_letter_id");
  assert.equal((await worker.fetch("/admin/dead-letters")).status, 401);
});

test("a refusal the origin signed sets an inbox's batch aside, counted as a webhook dead letter, and a requeue stores it once", async () => {
  const [id] = idsInInboxOf("refused-hook-0", "refused-hook-", 1);
  const inbox = `inbox/hooks/${inboxOf("hooks", id)}`;
  const count = (name) => Number(psql(db, `SELECT coalesce(sum(value), 0) FROM edge_counters WHERE name = '${name}'`));
  const batchLettersBefore = count("drain_dead_letter");
  proxy.answers.push({ status: 422, body: '{"error":"invalid_batch_id"}', contentType: "application/json", signed: true, match: (b) => b.startsWith(`${inbox}:`) });
  await deliver(id, { type: "note.created", data: { id } });
  await eventually(() => proxy.answers.length, 0, { timeoutMs: 30_000 });
  let dead;
  await eventually(async () => {
    dead = (await deadLetters()).worker.dead_letters.find((d) => d.object === inbox);
    return Boolean(dead);
  }, true);
  assert.equal(dead.status, 422);
  assert.equal(stored(id), 0, "held back, not lost");
  // The alert reaches the origin as the worker counter edge_webhook_inbox_dead_letter.
  await eventually(() => count("webhook_inbox_dead_letter") >= 1, true);
  assert.equal(count("drain_dead_letter"), batchLettersBefore, "not counted as a counter batch");

  const requeue = await worker.admin(`/admin/dead-letters/${encodeURIComponent(dead.id)}/requeue`, { method: "POST" });
  assert.equal(requeue.status, 200, await requeue.clone().text());
  await eventually(() => stored(id), 1, { timeoutMs: 15_000 });
  assert.equal((await deadLetters()).worker.count, 0);
});
