// Signed webhooks end to end: Standard Webhooks, Stripe and X-ProductHunt-Signature
// requests signed here with node:crypto, verified by the worker in workerd, deduped by the
// WebhookInbox Durable Objects, conversions counted once, events stored once in Postgres.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import { Origin, Worker, freshDatabase, seedLaunch, psql, sleep, eventually, signedFetch, storedTotal } from "./harness.mjs";

const STRIPE_SECRET = "whsec_stripe_e2e_secret_0123456789";
const RELAY_SECRET = "relay-e2e-secret-0123456789abcdef";
const OLD_KEY = randomBytes(24);
const NEW_KEY = randomBytes(24);
const whsec = (key) => `whsec_${key.toString("base64")}`;
const MAX_BODY_BYTES = 256 * 1024;

let db, origin, worker;

before(async () => {
  db = freshDatabase();
  origin = await new Origin(db).start();
  worker = await new Worker({
    originUrl: origin.url,
    vars: {
      WEBHOOK_SOURCES: "stripe=stripe;relay=producthunt;billing=standard",
      WEBHOOK_SECRETS_STRIPE: STRIPE_SECRET,
      WEBHOOK_SECRETS_RELAY: RELAY_SECRET,
      // Rotation: the old and the new key are both active.
      WEBHOOK_SECRETS_BILLING: `${whsec(OLD_KEY)} ${whsec(NEW_KEY)}`,
    },
  }).start();
});

after(async () => {
  await worker?.stop();
  await origin?.stop();
});

const nowSecs = () => Math.floor(Date.now() / 1000);
const hmac = (key, text, encoding) => createHmac("sha256", key).update(text).digest(encoding);

/** `Stripe-Signature: t=..,v1=<hex HMAC(t.body)>`. */
const stripeHeaders = (body, { secret = STRIPE_SECRET, t = nowSecs() } = {}) => ({
  "content-type": "application/json",
  "stripe-signature": `t=${t},v1=${hmac(secret, `${t}.${body}`, "hex")}`,
});

/** Standard Webhooks: `v1,<base64 HMAC(id.ts.body)>`, keyed with the whsec_ secret's bytes. */
const standardHeaders = (body, { id, keys = [NEW_KEY], t = nowSecs() }) => ({
  "content-type": "application/json",
  "webhook-id": id,
  "webhook-timestamp": String(t),
  "webhook-signature": keys.map((k) => `v1,${hmac(k, `${id}.${t}.${body}`, "base64")}`).join(" "),
});

/** The relay contract (core/src/webhooks/producthunt.rs): `sha256=<hex HMAC(ts.body)>`. */
const relayHeaders = (body, { secret = RELAY_SECRET, t = nowSecs() } = {}) => ({
  "content-type": "application/json",
  "x-producthunt-timestamp": String(t),
  "x-producthunt-signature": `sha256=${hmac(secret, `${t}.${body}`, "hex")}`,
});

const post = (source, body, headers) => worker.fetch(`/webhooks/${source}`, { method: "POST", headers, body });

const stored = (source, eventId) =>
  Number(psql(db, `SELECT count(*) FROM webhook_events WHERE source = '${source}' AND event_id = '${eventId}'`));

const postgresTotal = (slug, metric) => storedTotal(db, slug, metric);

async function stats(slug) {
  const res = await worker.admin(`/admin/launches/${slug}/stats`);
  assert.equal(res.status, 200);
  return (await res.json()).stats;
}


const checkout = (id, slug, amount, currency = "usd") =>
  JSON.stringify({
    id,
    type: "checkout.session.completed",
    data: { object: { amount_total: amount, currency, payment_status: "paid", metadata: { launch_slug: slug, utm_source: "producthunt" } } },
  });

async function accepted(res) {
  assert.equal(res.status, 200, await res.clone().text());
  const body = await res.json();
  assert.equal(body.received, true);
  return { duplicate: body.duplicate, header: res.headers.get("x-webhook-duplicate") };
}

test("a valid event of each scheme is accepted and stored in Postgres once", async () => {
  const stripeBody = JSON.stringify({ id: "evt_invoice_1", type: "invoice.paid", data: { object: {} } });
  const relayBody = JSON.stringify({ id: "ph_post_1", type: "post.featured", post: { slug: "acme" } });
  const billingBody = JSON.stringify({ type: "user.created", data: { email: "a@example.com" } });
  assert.deepEqual(await accepted(await post("stripe", stripeBody, stripeHeaders(stripeBody))), { duplicate: false, header: null });
  assert.deepEqual(await accepted(await post("relay", relayBody, relayHeaders(relayBody))), { duplicate: false, header: null });
  const billing = await post("billing", billingBody, standardHeaders(billingBody, { id: "msg_user_1" }));
  assert.deepEqual(await accepted(billing), { duplicate: false, header: null });

  await eventually(() => [stored("stripe", "evt_invoice_1"), stored("relay", "ph_post_1"), stored("billing", "msg_user_1")], [1, 1, 1]);
  assert.equal(psql(db, "SELECT event_type FROM webhook_events WHERE event_id = 'evt_invoice_1'"), "invoice.paid");
  assert.equal(psql(db, "SELECT payload->'post'->>'slug' FROM webhook_events WHERE event_id = 'ph_post_1'"), "acme");
});

test("a paid Stripe checkout is counted once as a purchase with revenue, however often it is delivered", async () => {
  seedLaunch(db, "paid-launch", "Paid Launch");
  const body = checkout("evt_checkout_1", "paid-launch", 4900);
  assert.deepEqual(await accepted(await post("stripe", body, stripeHeaders(body))), { duplicate: false, header: null });
  let s = await stats("paid-launch");
  assert.deepEqual([s.conversions, s.revenue_by_currency], [{ purchase: 1 }, { usd: 4900 }], "counted before the 200");

  // Stripe's retry: the same event, signed again with a new timestamp.
  const again = await post("stripe", body, stripeHeaders(body, { t: nowSecs() + 1 }));
  assert.deepEqual(await accepted(again), { duplicate: true, header: "true" });
  const storm = await Promise.all(Array.from({ length: 10 }, () => post("stripe", body, stripeHeaders(body))));
  for (const res of storm) assert.deepEqual(await accepted(res), { duplicate: true, header: "true" });

  s = await stats("paid-launch");
  assert.deepEqual([s.conversions, s.revenue_by_currency], [{ purchase: 1 }, { usd: 4900 }]);
  await eventually(() => [postgresTotal("paid-launch", "purchase"), postgresTotal("paid-launch", "revenue_cents.usd")], [1, 4900]);
  await eventually(() => stored("stripe", "evt_checkout_1"), 1);
});

test("ten concurrent first deliveries of one event are applied once: one new, nine duplicates", async () => {
  seedLaunch(db, "race-launch", "Race Launch");
  const body = checkout("evt_checkout_race", "race-launch", 1500);
  const answers = await Promise.all(
    Array.from({ length: 10 }, async () => (await accepted(await post("stripe", body, stripeHeaders(body)))).duplicate),
  );
  assert.deepEqual(answers.filter((d) => !d).length, 1, `answers: ${answers}`);
  const s = await stats("race-launch");
  assert.deepEqual([s.conversions, s.revenue_by_currency], [{ purchase: 1 }, { usd: 1500 }]);
  await eventually(() => [postgresTotal("race-launch", "purchase"), postgresTotal("race-launch", "revenue_cents.usd")], [1, 1500]);
  await eventually(() => stored("stripe", "evt_checkout_race"), 1);
});

test("a generic conversion from the relay is counted with its kind and source", async () => {
  seedLaunch(db, "relay-launch", "Relay Launch");
  const body = JSON.stringify({ id: "ph_conv_1", type: "conversion", launch: "relay-launch", kind: "signup", ref: "producthunt" });
  assert.equal((await accepted(await post("relay", body, relayHeaders(body)))).duplicate, false);
  const s = await stats("relay-launch");
  assert.deepEqual(s.conversions, { signup: 1 });
  await eventually(() => postgresTotal("relay-launch", "signup"), 1);
});

test("a forged signature is 401 with a reason code, never the expected signature, and changes nothing", async () => {
  seedLaunch(db, "forged-launch", "Forged Launch");
  const body = checkout("bad_forged_1", "forged-launch", 999);
  const t = nowSecs();
  const res = await post("stripe", body, stripeHeaders(body, { secret: "whsec_not_the_real_secret_000", t }));
  assert.equal(res.status, 401);
  const text = await res.text();
  const answer = JSON.parse(text);
  assert.deepEqual([answer.error, answer.reason], ["signature_mismatch", "signature_mismatch"]);
  assert.ok(!text.includes(hmac(STRIPE_SECRET, `${t}.${body}`, "hex")), "the expected signature is never revealed");
  assert.ok(!text.includes(STRIPE_SECRET));
  const s = await stats("forged-launch");
  assert.deepEqual([s.conversions, s.revenue_cents], [{}, 0]);
  // The rejection reaches the origin as a worker counter, by reason.
  const rejected = () => Number(psql(db, "SELECT coalesce(sum(value), 0) FROM edge_counters WHERE name = 'webhook_rejected.signature_mismatch'"));
  await eventually(() => rejected() >= 1, true);
});

test("each bad input gets its status and reason and nothing is stored or counted", async () => {
  seedLaunch(db, "strict-hooks", "Strict Hooks");
  const conversion = (id) => JSON.stringify({ id, type: "conversion", launch: "strict-hooks", kind: "purchase", amount_cents: 100 });
  const expired = conversion("bad_expired");
  const missing = JSON.stringify({ type: "conversion", data: { launch: "strict-hooks", kind: "signup" } });
  const { "webhook-signature": _, ...withoutSignature } = standardHeaders(missing, { id: "bad_missing" });
  const notJson = "this is not json";
  const big = JSON.stringify({ id: "bad_big", pad: "x".repeat(MAX_BODY_BYTES) });
  const malformed = conversion("bad_malformed");
  const cases = [
    [post("relay", expired, relayHeaders(expired, { t: nowSecs() - 400 })), 401, "timestamp_outside_tolerance", "timestamp_outside_tolerance"],
    [post("relay", expired, relayHeaders(expired, { t: nowSecs() + 400 })), 401, "timestamp_outside_tolerance", "timestamp_outside_tolerance"],
    [post("billing", missing, withoutSignature), 400, "missing_header", "missing_header:webhook-signature"],
    [post("relay", malformed, { ...relayHeaders(malformed), "x-producthunt-signature": "md5=abc" }), 400, "malformed_header", "malformed_header:x-producthunt-signature"],
    [post("relay", notJson, relayHeaders(notJson)), 400, "invalid_json", "invalid_json"],
    [post("relay", big, relayHeaders(big)), 413, "body_too_large", "body_too_large"],
    [post("nobody", conversion("bad_unknown"), relayHeaders(conversion("bad_unknown"))), 404, "unknown_source", "unknown_source"],
  ];
  for (const [pending, status, code, reason] of cases) {
    const res = await pending;
    const answer = await res.json();
    assert.deepEqual([res.status, answer.error, answer.reason], [status, code, reason]);
  }
  assert.equal((await worker.fetch("/webhooks/relay")).status, 405);

  await sleep(4_000); // past the inbox's 2 s drain delay
  assert.equal(psql(db, "SELECT count(*) FROM webhook_events WHERE event_id LIKE 'bad_%' OR payload::text LIKE '%strict-hooks%'"), "0");
  const s = await stats("strict-hooks");
  assert.deepEqual([s.conversions, s.revenue_cents], [{}, 0]);
});

test("during a key rotation the old and the new secret are both accepted, any other is not", async () => {
  const body = (n) => JSON.stringify({ type: "invoice.created", data: { n } });
  const old = await post("billing", body(1), standardHeaders(body(1), { id: "msg_rot_old", keys: [OLD_KEY] }));
  assert.equal((await accepted(old)).duplicate, false);
  const fresh = await post("billing", body(2), standardHeaders(body(2), { id: "msg_rot_new", keys: [NEW_KEY] }));
  assert.equal((await accepted(fresh)).duplicate, false);
  const stranger = randomBytes(24);
  const both = await post("billing", body(3), standardHeaders(body(3), { id: "msg_rot_both", keys: [stranger, NEW_KEY] }));
  assert.equal((await accepted(both)).duplicate, false, "one valid signature among several suffices");
  const unknown = await post("billing", body(4), standardHeaders(body(4), { id: "bad_rot_unknown", keys: [stranger] }));
  assert.equal(unknown.status, 401);
  assert.equal((await unknown.json()).reason, "signature_mismatch");
  await eventually(() => ["msg_rot_old", "msg_rot_new", "msg_rot_both"].map((id) => stored("billing", id)), [1, 1, 1]);
  assert.equal(stored("billing", "bad_rot_unknown"), 0);
});

test("a relay event without an id, retried with a new timestamp, is one event: answered as a duplicate and counted once", async () => {
  seedLaunch(db, "relay-noid", "Relay No Id");
  const body = JSON.stringify({ type: "conversion", launch: "relay-noid", kind: "signup", ref: "producthunt" });
  const first = await accepted(await post("relay", body, relayHeaders(body)));
  // The relay's retry: the same event, signed again 30 s later.
  const retry = await accepted(await post("relay", body, relayHeaders(body, { t: nowSecs() + 30 })));
  assert.deepEqual([first.duplicate, retry.duplicate], [false, true]);
  assert.deepEqual((await stats("relay-noid")).conversions, { signup: 1 });
  await eventually(() => postgresTotal("relay-noid", "signup"), 1);
  await sleep(3_000); // past the drain delay: a second count would have arrived
  assert.equal(postgresTotal("relay-noid", "signup"), 1);
  assert.equal((await stats("relay-noid")).conversions.signup, 1);
});

test("a webhook-signature whose first v1 entry is malformed is accepted on its valid entry", async () => {
  const body = JSON.stringify({ type: "invoice.created", data: { n: 9 } });
  const headers = standardHeaders(body, { id: "msg_mixed_entries" });
  headers["webhook-signature"] = `v1,AAAA ${headers["webhook-signature"]}`;
  assert.equal((await accepted(await post("billing", body, headers))).duplicate, false);
  await eventually(() => stored("billing", "msg_mixed_entries"), 1);
  // Malformed entries alone still verify nothing.
  const forged = { ...headers, "webhook-id": "bad_only_malformed", "webhook-signature": "v1,AAAA v1,!!!!" };
  const res = await post("billing", body, forged);
  assert.deepEqual([res.status, (await res.json()).reason], [400, "malformed_header:webhook-signature"]);
});

test("Stripe checkouts in two currencies reach Postgres per currency and the report never adds them", async () => {
  seedLaunch(db, "two-currencies", "Two Currencies"); // a USD launch
  for (const [id, amount, currency] of [["evt_usd_1", 4900, "usd"], ["evt_eur_1", 3000, "eur"], ["evt_usd_2", 100, "USD"]]) {
    const body = checkout(id, "two-currencies", amount, currency);
    assert.equal((await accepted(await post("stripe", body, stripeHeaders(body)))).duplicate, false);
  }
  const s = await stats("two-currencies");
  assert.deepEqual([s.conversions, s.revenue_cents, s.revenue_by_currency], [{ purchase: 3 }, 0, { eur: 3000, usd: 5000 }]);
  await eventually(
    () => [postgresTotal("two-currencies", "revenue_cents.usd"), postgresTotal("two-currencies", "revenue_cents.eur"), postgresTotal("two-currencies", "purchase")],
    [5000, 3000, 3],
  );
  const report = await (await signedFetch(origin.url, "/api/launches/two-currencies/report")).json();
  assert.equal(report.currency, "USD");
  assert.equal(report.revenue_cents, 5000);
  assert.deepEqual(report.other_currency_revenue, [{ currency: "EUR", revenue_cents: 3000 }]);
  assert.equal(report.mixed_currencies, true);
  assert.equal(report.conversions, 3);

  // A currency that is no ISO code is refused, not guessed.
  const bad = checkout("bad_currency_1", "two-currencies", 100, "dollars");
  const res = await post("stripe", bad, stripeHeaders(bad));
  assert.deepEqual([res.status, (await res.json()).reason], [400, "invalid_conversion:currency"]);
});
