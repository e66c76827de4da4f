// The backlog scenario alone (bench/resilience-backlog.mjs), its size as knobs, for drain
// time against backlog size (docs/scaling.md): BACKLOG_MINUTES simulated minutes of outage
// (120) × BACKLOG_SOURCES sources (42) pending click rows on the busy launch's one shard.
// Needs the origin and the worker built (scripts/resilience.sh builds both); its private
// Postgres is RESILIENCE_PGPORT's (stopped at the end).
//
//   source scripts/lib.sh; RESILIENCE_PGPORT=55441 BACKLOG_MINUTES=24 node bench/backlog-drain.mjs
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { runBacklogScenario } from "./resilience-backlog.mjs";
import { RESILIENCE_PGPORT } from "./resilience.mjs";
import { cleanupAll, ROOT } from "./stack.mjs";

let ok = false;
try {
  const result = await runBacklogScenario({ minutes: Number(process.env.BACKLOG_MINUTES ?? 120), sources: Number(process.env.BACKLOG_SOURCES ?? 42) });
  console.log(result.report.join("\n"));
  ok = result.ok;
} finally {
  await cleanupAll();
  execFileSync("bash", [join(ROOT, "scripts", "pg.sh"), "stop"], { env: { ...process.env, PGPORT: RESILIENCE_PGPORT, PG_DIR: join(ROOT, ".data", "pg-resilience") }, stdio: "inherit" });
}
process.exit(ok ? 0 : 1);
