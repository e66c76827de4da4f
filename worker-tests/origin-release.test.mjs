// The origin as production runs it: the release binary started exactly as the Dockerfile
// starts it (`scripts/origin-release.sh serve`, configuration only from the environment),
// against the private Postgres and through a real PgBouncer in transaction mode, stopped
// with SIGTERM while a batch is being received.
import test from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { createHmac } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, SIGNING_SECRET, freePort, freshDatabase, psql, seedLaunch, sleep, waitFor, storedTotal } from "./harness.mjs";

const SCRIPT = join(ROOT, "scripts", "origin-release.sh");
const BINARY = join(process.env.CARGO_TARGET_DIR ?? join(ROOT, "target"), "origin-release", "launch-edge-origin");
const PGBOUNCER = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"].find(existsSync);

/** Starts `origin-release.sh serve` like the image's CMD; resolves once /readyz answers. */
async function serve(databaseUrl, extraEnv = {}) {
  const port = await freePort();
  const child = spawn("bash", [SCRIPT, "serve"], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: databaseUrl, ORIGIN_BIND: `127.0.0.1:${port}`, ORIGIN_SIGNING_SECRET: SIGNING_SECRET, RUST_LOG: "info", ...extraEnv },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (c) => { output += c; });
  child.stderr.on("data", (c) => { output += c; });
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${url}/readyz`, { what: "release origin" });
  return { url, port, child, exited, output: () => output };
}

/** A batch of one click per minute for `minutes` minutes, on the Pacific day of its first minute. */
function batch(id, slug, minutes) {
  const start = Math.floor(Date.now() / 60_000) * 60 - minutes * 60;
  const day = (s) => new Intl.DateTimeFormat("en-CA", { timeZone: "America/Los_Angeles" }).format(new Date(s * 1000));
  const counters = Array.from({ length: minutes }, (_, i) => ({ launch: slug, day: day(start + i * 60), minute: start + i * 60, source: "producthunt", metric: "click", value: 1 }));
  return JSON.stringify({ batch_id: id, shard: `${slug}/release-test`, counters, uniques: [], webhook_events: [] });
}

/** POSTs a signed batch, writing the body in two halves with `between()` awaited in the middle. */
function postInHalves(baseUrl, body, between) {
  const path = "/ingest/batch";
  const timestamp = Math.floor(Date.now() / 1000).toString();
  const mac = createHmac("sha256", SIGNING_SECRET).update(`v1\nPOST\n${path}\n${timestamp}\n`).update(body).digest("hex");
  return new Promise((resolve, reject) => {
    const req = request(`${baseUrl}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body), "x-launch-edge-timestamp": timestamp, "x-launch-edge-signature": `v1=${mac}` },
    }, (res) => {
      let text = "";
      res.on("data", (c) => { text += c; });
      res.on("end", () => resolve({ status: res.statusCode, text }));
    });
    req.on("error", reject);
    const half = Math.floor(body.length / 2);
    req.write(body.slice(0, half));
    Promise.resolve(between()).then(() => req.end(body.slice(half)), reject);
  });
}

const clicks = (db, slug) => storedTotal(db, slug, "click");

test("the release binary, started as the Dockerfile starts it, finishes a batch it is receiving when SIGTERM arrives, then exits 0", { timeout: 120_000 }, async () => {
  assert.ok(existsSync(BINARY), `build it first: bash scripts/origin-release.sh build (${BINARY})`);
  const db = freshDatabase();
  seedLaunch(db, "release-launch");
  const origin = await serve(db);
  const body = batch("release-test:1:1", "release-launch", 600);
  let signalledAt = 0;
  const answer = await postInHalves(origin.url, body, async () => {
    await sleep(200); // the server is now reading the body: a request in flight
    origin.child.kill("SIGTERM");
    signalledAt = Date.now();
    await sleep(300);
  });
  assert.ok(signalledAt > 0);
  assert.equal(answer.status, 200, answer.text);
  const { code, signal } = await origin.exited;
  assert.deepEqual({ code, signal }, { code: 0, signal: null }, origin.output());
  assert.match(origin.output(), /SIGTERM: finishing requests in flight/);
  // Applied whole: every one of its 600 rows, once.
  assert.equal(clicks(db, "release-launch"), 600);
  assert.equal(Number(psql(db, "SELECT count(*) FROM ingested_batches WHERE batch_id = 'release-test:1:1'")), 1);
  // And it no longer accepts connections.
  await assert.rejects(fetch(`${origin.url}/healthz`));
});

test("the origin works through a real PgBouncer in transaction mode with DB_PGBOUNCER=true", { timeout: 120_000 }, async () => {
  assert.ok(PGBOUNCER, "pgbouncer is not installed: INSTALL_TEST_TOOLS=1 bash scripts/install-tools.sh");
  assert.ok(existsSync(BINARY), `build it first: bash scripts/origin-release.sh build (${BINARY})`);
  // The shipped example pools by transaction: the mode this test runs.
  assert.match(readFileSync(join(ROOT, "ops", "pgbouncer.ini"), "utf8"), /^pool_mode = transaction$/m);
  const db = freshDatabase(); // migrated straight against Postgres, as docs/deploy.md says
  seedLaunch(db, "bouncer-launch");
  const pg = new URL(db);
  const dir = mkdtempSync(join(tmpdir(), "launch-edge-pgbouncer-"));
  chmodSync(dir, 0o777);
  const port = await freePort();
  const ini = join(dir, "pgbouncer.ini");
  writeFileSync(ini, [
    "[databases]",
    `bounced = host=${pg.hostname} port=${pg.port} dbname=${pg.pathname.slice(1)} user=${pg.username}`,
    "[pgbouncer]",
    `listen_addr = 127.0.0.1`, `listen_port = ${port}`, "unix_socket_dir =",
    "auth_type = any", "pool_mode = transaction", "default_pool_size = 4", "max_client_conn = 50",
    "server_reset_query =", "ignore_startup_parameters = extra_float_digits,options",
    `logfile = ${join(dir, "pgbouncer.log")}`, `pidfile = ${join(dir, "pgbouncer.pid")}`, "",
  ].join("\n"));
  chmodSync(ini, 0o644);
  // PgBouncer refuses to run as root: then it drops to the postgres user (-u).
  const asRoot = process.getuid?.() === 0;
  const bouncer = spawn(PGBOUNCER, ["-q", ...(asRoot ? ["-u", "postgres"] : []), ini], { stdio: ["ignore", "pipe", "pipe"] });
  let bouncerOut = "";
  bouncer.stdout.on("data", (c) => { bouncerOut += c; });
  bouncer.stderr.on("data", (c) => { bouncerOut += c; });
  try {
    const through = `postgres://${pg.username}@127.0.0.1:${port}/bounced`;
    for (let i = 0; i < 50 && spawnSync("psql", [through, "-qAtc", "SELECT 1"]).status !== 0; i++) await sleep(100);
    const origin = await serve(through, { DB_PGBOUNCER: "true", DB_MAX_CONNECTIONS: "8" });
    try {
      assert.equal((await fetch(`${origin.url}/healthz`)).status, 200);
      assert.equal((await fetch(`${origin.url}/readyz`)).status, 200);
      // Several batches at once, so statements of different clients share server connections.
      const answers = await Promise.all([1, 2, 3, 4, 5, 6].map((n) => postInHalves(origin.url, batch(`bouncer:1:${n}`, "bouncer-launch", 50 + n), () => {})));
      for (const a of answers) assert.equal(a.status, 200, a.text);
      assert.equal(clicks(db, "bouncer-launch"), [1, 2, 3, 4, 5, 6].reduce((n, k) => n + 50 + k, 0));
      // A resend of an applied batch is a duplicate, through the pool too.
      const again = await postInHalves(origin.url, batch("bouncer:1:1", "bouncer-launch", 51), () => {});
      assert.equal(again.status, 200, again.text);
      assert.equal(clicks(db, "bouncer-launch"), 321);
      const report = await fetch(`${origin.url}/metrics`);
      assert.ok([200, 401].includes(report.status));
    } finally {
      origin.child.kill("SIGTERM");
      const { code } = await origin.exited;
      assert.equal(code, 0, origin.output());
    }
  } finally {
    bouncer.kill("SIGTERM");
    await new Promise((r) => (bouncer.exitCode !== null ? r() : bouncer.once("exit", r)));
    rmSync(dir, { recursive: true, force: true });
    if (bouncer.exitCode && bouncer.exitCode !== 0) console.error(bouncerOut);
  }
});
