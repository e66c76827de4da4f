// Resilience scenario "backlog" (bench/resilience-backlog.mjs; also part of
// scripts/resilience.sh): a simulated two-hour origin outage with many sources and
// launches, one shard each, drains completely afterwards, totals exact, nothing set aside.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "./harness.mjs";
import { runBacklogScenario } from "../bench/resilience-backlog.mjs";
import { RESILIENCE_PGPORT } from "../bench/resilience.mjs";
import { cleanupAll } from "../bench/stack.mjs";

after(async () => {
  await cleanupAll();
  execFileSync("bash", [join(ROOT, "scripts", "pg.sh"), "stop"], { env: { ...process.env, PGPORT: RESILIENCE_PGPORT, PG_DIR: join(ROOT, ".data", "pg-resilience") } });
});

test("a two-hour outage with many sources and launches on one shard drains exactly once afterwards", { timeout: 420_000 }, async () => {
  const { ok, report, lost, duplicated } = await runBacklogScenario({ log: () => {} });
  const text = report.join("\n");
  assert.equal(lost, 0, text);
  assert.equal(duplicated, 0, text);
  assert.ok(ok, text);
});
