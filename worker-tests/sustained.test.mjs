// Sustained concurrency: 32 clients clicking, then sending beacons, back to back for
// half a minute, against one launch. Every acknowledged event must be stored once, and
// the worker must keep answering: a counting lane once stalled for good after ~20 s of
// this (requests of one isolate woke each other's Rust tasks, which then ran, and died,
// in the waker's request context; see src/isolate/handoff.rs). Bounded: loopback only,
// a fixed number of seconds, then it waits for what is in flight and stops.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { Origin, Worker, freshDatabase, seedLaunch, eventually, storedTotal } from "./harness.mjs";

const CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36";
const CLIENTS = 32;
const WINDOW_MS = 8_000;
let db, origin, worker;

before(async () => {
  db = freshDatabase();
  origin = await new Origin(db).start();
  worker = await new Worker({ originUrl: origin.url }).start();
});

after(async () => {
  await worker?.stop();
  await origin?.stop();
});

const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS });
let visitors = 0;

/** One request on a kept-alive connection; resolves with its status (0: no answer). */
function send(path, method, body) {
  const n = ++visitors;
  const headers = { "user-agent": CHROME, "cf-connecting-ip": `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}` };
  if (body) headers["content-type"] = "application/json";
  return new Promise((resolve) => {
    const req = http.request(`${worker.url}${path}`, { method, headers, agent, timeout: 30_000 }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(0));
    req.end(body);
  });
}

/** `CLIENTS` loops sending back to back for `windows` windows of `WINDOW_MS`; returns
 *  how many requests finished in each window and the count of every status. */
async function load(path, method, body, windows) {
  const start = Date.now();
  const end = start + windows * WINDOW_MS;
  const done = Array(windows).fill(0);
  const statuses = {};
  await Promise.all(Array.from({ length: CLIENTS }, async () => {
    while (Date.now() < end) {
      const status = await send(path, method, body);
      statuses[status] = (statuses[status] ?? 0) + 1;
      done[Math.min(windows - 1, Math.floor((Date.now() - start) / WINDOW_MS))] += 1;
    }
  }));
  return { done, statuses };
}

const stored = (slug, metric) => storedTotal(db, slug, metric);

function assertKeptAnswering({ done }, what) {
  // A stall answers nothing at all for the rest of the run; a slow shared machine still
  // answers a good part of what it did in the first window.
  for (const [i, n] of done.entries()) {
    assert.ok(n >= done[0] / 4, `${what}: window ${i + 1} of ${done.length} finished ${n} requests, the first ${done[0]} (${done.join(", ")})`);
  }
}

test("thirty-two clients clicking for half a minute are all answered 302 and every click is stored once", async () => {
  seedLaunch(db, "sustained", "Sustained");
  assert.equal((await send("/go/sustained?to=signup", "GET")), 302); // caches the launch
  const clicks = await load("/go/sustained?to=signup", "GET", undefined, 4);
  assert.deepEqual(Object.keys(clicks.statuses), ["302"], `every click answered 302: ${JSON.stringify(clicks.statuses)}`);
  assertKeptAnswering(clicks, "clicks");
  await eventually(() => stored("sustained", "click"), 1 + clicks.statuses[302], { timeoutMs: 60_000 });
});

test("thirty-two clients sending beacons right after are all answered 202 and every beacon is stored once", async () => {
  seedLaunch(db, "sustained-beacons", "Sustained beacons");
  const beacons = await load("/launch/sustained-beacons/events", "POST", JSON.stringify({ kind: "signup" }), 2);
  assert.deepEqual(Object.keys(beacons.statuses), ["202"], `every beacon answered 202: ${JSON.stringify(beacons.statuses)}`);
  assertKeptAnswering(beacons, "beacons");
  await eventually(() => stored("sustained-beacons", "signup"), beacons.statuses[202], { timeoutMs: 60_000 });
});
