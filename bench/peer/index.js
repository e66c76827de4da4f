// The JavaScript peer for scripts/bench.sh: what a team would write in plain JavaScript to
// keep launch-edge's contracts on the measured paths, so the benchmark compares the same
// work, not Rust with a constant answer.
//
// - GET /launch/:slug  the page from isolate memory (the bytes and headers launch-edge
//   served, fetched once from PAGE_URL), 304 on a matching If-None-Match, and a counted
//   view in waitUntil: visitor hash (SHA-256 of IP, user agent and the Pacific day's salt),
//   attribution, bot check, one call to one of COUNTER_SHARDS SQLite Durable Objects.
// - GET /go/:slug?to=  the per-IP Rate Limiting binding, the click stored by its shard,
//   then the 302 (a 302 means stored).
// - POST /launch/:slug/events  the same for a signup beacon (size-limited JSON), then 202.
// - GET /healthz  "ok" (the floor).
import { DurableObject } from "cloudflare:workers";
import { isbot } from "isbot";

const MAX_EVENT_BODY_BYTES = 4096;
const CONVERSION_KINDS = new Set(["signup", "trial", "lead", "subscribe"]);
const DESTINATIONS = { signup: "https://example.com/signup", pricing: "https://example.com/pricing" };
const HLL_PRECISION = 14;

let page = null; // { body: ArrayBuffer, headers: [[name, value]], etag }
const salts = new Map(); // Pacific day -> salt bytes
const pacificDay = new Intl.DateTimeFormat("en-CA", { timeZone: "America/Los_Angeles", year: "numeric", month: "2-digit", day: "2-digit" });

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    const parts = url.pathname.split("/").filter(Boolean);
    if (url.pathname === "/healthz") return new Response("ok");
    if (request.method === "GET" && parts[0] === "launch" && parts.length === 2) return servePage(request, url, parts[1], env, ctx);
    if (request.method === "GET" && parts[0] === "go" && parts.length === 2) return click(request, url, parts[1], env);
    if (request.method === "POST" && parts[0] === "launch" && parts[2] === "events" && parts.length === 3) return beacon(request, url, parts[1], env);
    return json({ error: "not_found" }, 404);
  },
};

async function servePage(request, url, slug, env, ctx) {
  page ??= await loadPage(env.PAGE_URL);
  ctx.waitUntil(countView(request, url, slug, env));
  if (page.etag && request.headers.get("if-none-match") === page.etag) return new Response(null, { status: 304, headers: { etag: page.etag } });
  return new Response(page.body, { headers: page.headers });
}

async function loadPage(pageUrl) {
  const res = await fetch(pageUrl, { headers: { "user-agent": "launch-edge-peer" } });
  const skip = new Set(["content-length", "date", "transfer-encoding", "connection"]);
  const headers = [...res.headers].filter(([name]) => !skip.has(name));
  return { body: await res.arrayBuffer(), headers, etag: res.headers.get("etag") };
}

async function countView(request, url, slug, env) {
  const visit = await visitOf(request, url, env);
  await shardFor(env, visit.hash).count([event(slug, visit.bot ? "bot_view" : "view", visit)]);
}

async function click(request, url, slug, env) {
  const limited = await rateLimited(request, env);
  if (limited) return limited;
  const to = DESTINATIONS[url.searchParams.get("to")];
  if (!to) return json({ error: "unknown_destination" }, 400);
  const visit = await visitOf(request, url, env);
  if (!visit.bot) await shardFor(env, visit.hash).count([event(slug, "click", visit)]);
  return Response.redirect(to, 302);
}

async function beacon(request, url, slug, env) {
  const limited = await rateLimited(request, env);
  if (limited) return limited;
  if (Number(request.headers.get("content-length") ?? 0) > MAX_EVENT_BODY_BYTES) return json({ error: "event_too_large" }, 413);
  const text = await request.text();
  if (text.length > MAX_EVENT_BODY_BYTES) return json({ error: "event_too_large" }, 413);
  let body;
  try { body = JSON.parse(text); } catch { return json({ error: "invalid_json" }, 400); }
  if (!CONVERSION_KINDS.has(body?.kind)) return json({ error: "unknown_event_kind" }, 400);
  if (body.amount_cents !== undefined) return json({ error: "amount_not_allowed" }, 400);
  const visit = await visitOf(request, url, env);
  await shardFor(env, visit.hash).count([event(slug, body.kind, visit)]);
  return json({ counted: body.kind, launch: slug }, 202);
}

async function rateLimited(request, env) {
  const { success } = await env.EVENTS_LIMITER.limit({ key: request.headers.get("cf-connecting-ip") ?? "unknown" });
  return success ? null : json({ error: "rate_limited" }, 429, { "retry-after": "60" });
}

async function visitOf(request, url, env) {
  const ip = request.headers.get("cf-connecting-ip") ?? "";
  const ua = request.headers.get("user-agent") ?? "";
  const now = Date.now();
  const day = pacificDay.format(now);
  const salt = salts.get(day) ?? (await daySalt(env.VISITOR_SALT_SECRET, day));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`${ip}\n${ua}\n${salt}`)));
  const hash = new DataView(digest.buffer).getBigUint64(0);
  return { hash, day, now, bot: !ua || isbot(ua), source: attribute(url, request.headers.get("referer")) };
}

async function daySalt(secret, day) {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(day)));
  const salt = [...mac].map((b) => b.toString(16).padStart(2, "0")).join("");
  salts.clear();
  salts.set(day, salt);
  return salt;
}

function attribute(url, referer) {
  const q = url.searchParams;
  let refHost = null;
  try { refHost = referer ? new URL(referer).hostname : null; } catch { /* not a URL */ }
  if (refHost === url.hostname) refHost = null;
  if (q.get("ref") === "producthunt" || q.get("utm_source") === "producthunt" || refHost?.endsWith("producthunt.com")) return "producthunt";
  const raw = q.get("utm_source") ?? q.get("ref") ?? refHost?.replace(/^www\./, "") ?? "direct";
  return raw.toLowerCase().replace(/[^a-z0-9._-]/g, "").slice(0, 64) || "direct";
}

function event(launch, metric, visit) {
  return { launch, metric, day: visit.day, minute: Math.floor(visit.now / 60_000) * 60, source: visit.source, visitor: visit.bot ? null : visit.hash.toString(16) };
}

function shardFor(env, hash) {
  const index = Number(hash % BigInt(env.COUNTER_SHARDS));
  return env.COUNTER_SHARD.get(env.COUNTER_SHARD.idFromName(`shard-${index}`));
}

function json(value, status, headers = {}) {
  return new Response(JSON.stringify(value), { status, headers: { "content-type": "application/json", ...headers } });
}

/** One shard: exact counts per launch, Pacific day, minute, source and metric, and the
 *  unique-visitor sketch's registers per day, in SQLite, written before the call returns. */
export class CounterShard extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`CREATE TABLE IF NOT EXISTS counts (launch TEXT, day TEXT, minute INTEGER, source TEXT, metric TEXT, value INTEGER,
      PRIMARY KEY (launch, day, minute, source, metric))`);
    this.sql.exec("CREATE TABLE IF NOT EXISTS registers (launch TEXT, day TEXT, idx INTEGER, rank INTEGER, PRIMARY KEY (launch, day, idx))");
  }

  count(events) {
    this.ctx.storage.transactionSync(() => {
      for (const e of events) {
        this.sql.exec(`INSERT INTO counts VALUES (?, ?, ?, ?, ?, 1)
          ON CONFLICT DO UPDATE SET value = value + 1`, e.launch, e.day, e.minute, e.source, e.metric);
        if (e.visitor !== null) {
          const hash = BigInt(`0x${e.visitor}`);
          const idx = Number(hash >> BigInt(64 - HLL_PRECISION));
          const rest = (hash << BigInt(HLL_PRECISION)) & 0xffffffffffffffffn;
          const rank = rest === 0n ? 64 - HLL_PRECISION + 1 : 64 - rest.toString(2).length + 1;
          this.sql.exec(`INSERT INTO registers VALUES (?, ?, ?, ?)
            ON CONFLICT DO UPDATE SET rank = max(rank, excluded.rank)`, e.launch, e.day, idx, rank);
        }
      }
    });
    return events.length;
  }
}
