// A misconfigured worker in workerd: an http loopback ORIGIN_URL without the local
// development flag, or a secret shorter than 32 bytes. Every request answers 500
// `misconfigured` (the reason only in the log), the admin's /admin/health names the
// setting and why, and `preflight` (the real origin binary) prints it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { Origin, Worker, freshDatabase, seedLaunch, ADMIN_TOKEN, ROOT } from "./harness.mjs";

const ORIGIN_BIN = join(ROOT, "target", "debug", "launch-edge-origin");
let db, origin;

before(async () => {
  db = freshDatabase();
  seedLaunch(db, "rocket");
  origin = await new Origin(db).start();
});

after(async () => {
  await origin?.stop();
});

async function misconfiguredEverywhere(worker) {
  for (const [path, init] of [["/launch/rocket", {}], ["/go/rocket?to=signup", {}], ["/launch/rocket/events", { method: "POST", body: "{\"kind\":\"signup\"}" }]]) {
    const res = await worker.fetch(path, init);
    assert.equal(res.status, 500, path);
    const body = await res.json();
    assert.equal(body.error, "misconfigured", path);
    assert.ok(!JSON.stringify(body).includes("ORIGIN_URL") && !JSON.stringify(body).includes("ADMIN_TOKEN"),
      "a stranger is not told which setting is wrong");
  }
}

test("an http loopback ORIGIN_URL outside local development is refused on the first request, in /admin/health and in preflight", async () => {
  const worker = await new Worker({ originUrl: origin.url, vars: { LOCAL_DEVELOPMENT: "" } }).start();
  try {
    const rendersBefore = await origin.renders();
    await misconfiguredEverywhere(worker);
    assert.equal(await origin.renders(), rendersBefore, "the origin is never called");

    const health = await worker.admin("/admin/health");
    assert.equal(health.status, 500);
    const body = await health.json();
    assert.equal(body.ok, false);
    assert.match(body.problem, /ORIGIN_URL/);
    assert.match(body.problem, /LOCAL_DEVELOPMENT/);
    const anonymous = await worker.fetch("/admin/health");
    assert.equal((await anonymous.json()).problem, undefined);

    const preflight = spawnSync(ORIGIN_BIN, ["preflight", "rocket"], {
      env: { PATH: process.env.PATH, DATABASE_URL: db, WORKER_URL: worker.url, ADMIN_TOKEN, RUST_LOG: "off" },
      encoding: "utf8",
    });
    assert.notEqual(preflight.status, 0);
    const line = preflight.stdout.split("\n").find((l) => /^(PASS|FAIL)  worker /.test(l));
    assert.ok(line?.startsWith("FAIL") && line.includes("misconfigured") && line.includes("ORIGIN_URL"), preflight.stdout);
  } finally {
    await worker.stop();
  }
});

test("an ADMIN_TOKEN shorter than 32 bytes is refused on the first request and named in /admin/health", async () => {
  const short = "a-31-byte-admin-token-012345678";
  assert.equal(short.length, 31);
  const worker = await new Worker({ originUrl: origin.url, vars: { ADMIN_TOKEN: short } }).start();
  try {
    await misconfiguredEverywhere(worker);
    const health = await worker.fetch("/admin/health", { headers: { authorization: `Bearer ${short}` } });
    assert.equal(health.status, 500);
    const text = await health.text();
    assert.ok(!text.includes(short), "the token is never shown");
    const { problem } = JSON.parse(text);
    assert.match(problem, /ADMIN_TOKEN/);
    assert.match(problem, /32 bytes/);
    const wrong = await worker.fetch("/admin/health", { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal((await wrong.json()).problem, undefined, "only the configured token sees the reason");
    assert.equal((await worker.fetch("/healthz")).status, 200, "liveness does not need the configuration");
  } finally {
    await worker.stop();
  }
});
