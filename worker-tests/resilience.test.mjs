// The resilience suite, short (40 s of load at 20 requests/s; the full run is
// scripts/resilience.sh): origin killed, Postgres restarted (a private cluster on
// 127.0.0.1:55440, never the shared one), wrangler dev restarted with persistence, a random
// query flood and bad inputs; Postgres must hold exactly what the worker acknowledged.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "./harness.mjs";
import { runResilience, RESILIENCE_PGPORT } from "../bench/resilience.mjs";
import { cleanupAll } from "../bench/stack.mjs";

after(async () => {
  await cleanupAll();
  execFileSync("bash", [join(ROOT, "scripts", "pg.sh"), "stop"], { env: { ...process.env, PGPORT: RESILIENCE_PGPORT, PG_DIR: join(ROOT, ".data", "pg-resilience") } });
});

test("under load, origin, Postgres and wrangler restarts lose and duplicate nothing; bad input changes nothing", { timeout: 180_000 }, async () => {
  const { ok, report, lost, duplicated } = await runResilience({ seconds: 40, rate: 20, log: () => {} });
  const text = report.join("\n");
  assert.equal(lost, 0, text);
  assert.equal(duplicated, 0, text);
  assert.ok(ok, text);
});
