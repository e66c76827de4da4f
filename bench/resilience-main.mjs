// Entry point of scripts/resilience.sh: RESILIENCE_SECONDS (default 120) of load at
// RESILIENCE_RATE requests a second (default 40), the faults, the checks, the report;
// then the backlog scenario (a simulated two-hour outage, bench/resilience-backlog.mjs).
import { runResilience } from "./resilience.mjs";
import { runBacklogScenario } from "./resilience-backlog.mjs";
import { cleanupAll } from "./stack.mjs";

const results = [];
try {
  const steady = await runResilience({ seconds: Number(process.env.RESILIENCE_SECONDS ?? 120), rate: Number(process.env.RESILIENCE_RATE ?? 40) });
  console.log(steady.report.join("\n"));
  results.push(steady);
  await cleanupAll();
  const backlog = await runBacklogScenario();
  console.log(backlog.report.join("\n"));
  results.push(backlog);
} finally {
  await cleanupAll();
}
process.exit(results.length === 2 && results.every((r) => r.ok) ? 0 : 1);
