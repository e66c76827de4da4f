// The drain to Postgres under failure: the origin down, responses lost after commit,
// the Pacific-day rollover fired by cron (twice), and forged batches. Exactly once.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { Origin, Worker, freshDatabase, seedLaunch, psql, sleep, freePort, eventually, storedTotal } from "./harness.mjs";

const CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36";
let db, origin, proxy, worker;

/** Forwards to the origin; while `dropIngestAnswers` > 0 it lets an ingest request reach
 *  the origin (which commits) and then cuts the connection before the answer arrives. */
class LossyProxy {
  constructor(target) {
    this.target = target;
    this.dropIngestAnswers = 0;
    /** Ingest requests received and not yet answered (or cut). */
    this.ingestsInFlight = 0;
    /** Batch ids whose answer was dropped, and batch ids answered 2xx, in order. */
    this.dropped = [];
    this.answered = [];
    /** What happened to each ingest request: `ss.mmm <batch id> <outcome>`. */
    this.ingestLog = [];
  }

  async start() {
    this.port = await freePort();
    this.url = `http://127.0.0.1:${this.port}`;
    this.server = http.createServer((req, res) => {
      const chunks = [];
      req.on("data", (c) => chunks.push(c));
      req.on("end", async () => {
        const body = Buffer.concat(chunks);
        const batchId = req.url === "/ingest/batch" ? JSON.parse(body.toString()).batch_id : null;
        const note = (what) => {
          if (batchId === null) return;
          this.ingestsInFlight -= 1;
          this.ingestLog.push(`${new Date().toISOString().slice(17, 23)} ${batchId} ${what}`);
        };
        if (batchId !== null) this.ingestsInFlight += 1;
        try {
          const upstream = await fetch(`${this.target.url}${req.url}`, {
            method: req.method,
            headers: Object.fromEntries(Object.entries(req.headers).filter(([k]) => !["host", "connection", "content-length"].includes(k))),
            body: ["GET", "HEAD"].includes(req.method) ? undefined : body,
          });
          const answer = Buffer.from(await upstream.arrayBuffer());
          if (batchId !== null && upstream.ok && this.dropIngestAnswers > 0) {
            this.dropIngestAnswers -= 1;
            this.dropped.push(batchId);
            note("committed, answer dropped");
            req.socket.destroy();
            return;
          }
          if (batchId !== null && upstream.ok) this.answered.push(batchId);
          note(`answered ${upstream.status}`);
          res.writeHead(upstream.status, Object.fromEntries(upstream.headers));
          res.end(answer);
        } catch (e) {
          note(`origin unreachable (${e.message}), connection cut`);
          req.socket.destroy();
        }
      });
    });
    await new Promise((r) => this.server.listen(this.port, "127.0.0.1", r));
    return this;
  }

  stop() {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(r));
  }
}

before(async () => {
  db = freshDatabase();
  origin = await new Origin(db).start();
  proxy = await new LossyProxy(origin).start();
  worker = await new Worker({ originUrl: proxy.url, vars: { TEST_HOOKS: "enabled" } }).start();
});

after(async () => {
  await worker?.stop();
  await proxy?.stop();
  await origin?.stop();
});

const visitor = (n) => ({ "user-agent": `${CHROME} v/${n}`, "cf-connecting-ip": `10.1.${(n >> 8) & 255}.${n & 255}` });
const total = (slug, metric) => storedTotal(db, slug, metric);


async function click(slug, n) {
  const res = await worker.fetch(`/go/${slug}?to=signup`, { headers: visitor(n) });
  assert.equal(res.status, 302);
}

test("events acknowledged while the origin is down all land once it is back", async () => {
  seedLaunch(db, "outage", "Outage");
  await click("outage", 0); // caches the launch (its destinations) at the edge
  await origin.stop();
  try {
    for (let i = 1; i <= 150; i += 30) {
      await Promise.all(Array.from({ length: 30 }, (_, j) => click("outage", i + j)));
    }
    await sleep(3_000); // the shards try, fail and back off
  } finally {
    await origin.start();
  }
  await eventually(() => total("outage", "click"), 151);
  await sleep(2_000);
  assert.equal(total("outage", "click"), 151, "no double count after the retries");
});

test("a batch whose answer is lost after the origin committed is not counted twice", async () => {
  seedLaunch(db, "lost-answer", "Lost Answer");
  await click("lost-answer", 0);
  await eventually(() => total("lost-answer", "click"), 1);
  // The origin commits before it answers: let that first answer through before arming the
  // proxy, so the two lost answers are of batches this test sends.
  await eventually(() => proxy.ingestsInFlight, 0);
  proxy.ingestLog.length = 0;
  proxy.dropped.length = 0;
  proxy.answered.length = 0;
  proxy.dropIngestAnswers = 2;

  for (let i = 1; i <= 40; i++) await click("lost-answer", i);

  // Each batch whose answer was lost is sent again (the same batch id) until an answer
  // arrives, and the origin acknowledges it without applying it twice.
  const resentAndAnswered = () => proxy.dropped.length === 2 && proxy.dropped.every((id) => proxy.answered.includes(id));
  await eventually(resentAndAnswered, true, { timeoutMs: 60_000 }).catch((e) => {
    const drainLog = worker.output.split("\n").filter((l) => /drain|alarm/i.test(l)).slice(-40).join("\n");
    throw new Error(`${e.message}\n--- ingest requests the proxy saw ---\n${proxy.ingestLog.join("\n")}\n--- the worker's drain log ---\n${drainLog}`);
  });
  await eventually(() => total("lost-answer", "click"), 41);
  await sleep(2_000);
  assert.equal(total("lost-answer", "click"), 41);
});

test("a shard whose alarm the runtime lost sets it again once it is overdue, and nothing is lost", async () => {
  seedLaunch(db, "lost-alarm", "Lost Alarm");
  const lostAt = Date.now();
  const res = await worker.admin("/admin/test/lose-alarms/lost-alarm", { method: "POST" });
  assert.equal(res.status, 200);
  const { shards } = await res.json();
  // Clicks of one isolate go to the shards in turn: one each. Each shard stores its click
  // and believes its alarm is set, so none drains.
  for (let i = 0; i < shards; i++) await click("lost-alarm", i);
  await sleep(3_000);
  assert.equal(total("lost-alarm", "click"), 0, "with its alarm lost, no shard drained");
  // Past the overdue bound (core's ALARM_OVERDUE_MS, 5 s after a due time at most one
  // 1.5 s tick after the loss), the next click on each shard sets its alarm again.
  await sleep(Math.max(0, lostAt + 8_000 - Date.now()));
  for (let i = shards; i < 2 * shards; i++) await click("lost-alarm", i);
  await eventually(() => total("lost-alarm", "click"), 2 * shards, { timeoutMs: 15_000 });
});

test("the rollover cron finalizes the Pacific day once, however often it fires", async () => {
  seedLaunch(db, "rollover", "Rollover");
  for (let i = 0; i < 7; i++) await click("rollover", i);
  await eventually(() => total("rollover", "click"), 7);
  const day = psql(db, "SELECT day FROM metrics_day WHERE launch = 'rollover' LIMIT 1");
  // The next Pacific midnight after that day, in UTC (07:00 or 08:00 depending on DST).
  const midnight = Number(psql(db, `SELECT (extract(epoch FROM ((date '${day}' + 1)::timestamp AT TIME ZONE 'America/Los_Angeles')) * 1000)::bigint`));
  const hour = new Date(midnight).getUTCHours();
  const other = hour === 7 ? 8 : 7;

  const fire = async (h, at) => {
    const res = await worker.fetch(`/cdn-cgi/handler/scheduled?cron=${encodeURIComponent(`0 ${h} * * *`)}&time=${at}`);
    assert.equal(res.status, 200);
  };
  await fire(other, midnight + (other - hour) * 3_600_000); // the wrong-season firing: no effect
  assert.equal(psql(db, "SELECT count(*) FROM daily_summaries WHERE launch = 'rollover'"), "0");

  await fire(hour, midnight);
  await eventually(() => psql(db, "SELECT count(*) FROM daily_summaries WHERE launch = 'rollover'"), "1");
  const first = psql(db, "SELECT clicks || ' ' || finalized_at FROM daily_summaries WHERE launch = 'rollover'");
  await fire(hour, midnight + 1_000);
  await sleep(1_000);
  assert.equal(psql(db, "SELECT clicks || ' ' || finalized_at FROM daily_summaries WHERE launch = 'rollover'"), first);
  assert.match(first, /^7 /);
});

test("an unsigned or tampered batch sent straight to the origin is refused and changes nothing", async () => {
  const before = psql(db, "SELECT count(*) FROM ingested_batches");
  const batch = JSON.stringify({ batch_id: "forged:1", shard: "forged", counters: [{ launch: "outage", day: "2026-11-28", minute: 0, source: "direct", metric: "click", value: 1000 }] });
  const unsigned = await fetch(`${origin.url}/ingest/batch`, { method: "POST", headers: { "content-type": "application/json" }, body: batch });
  assert.equal(unsigned.status, 401);
  const forged = await fetch(`${origin.url}/ingest/batch`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-launch-edge-timestamp": String(Math.floor(Date.now() / 1000)), "x-launch-edge-signature": `v1=${"0".repeat(64)}` },
    body: batch,
  });
  assert.equal(forged.status, 401);
  assert.equal((await forged.json()).error, "signature_mismatch");
  assert.equal(psql(db, "SELECT count(*) FROM ingested_batches"), before);
  assert.equal(total("outage", "click"), 151);
});
