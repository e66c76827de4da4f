// Entry point of scripts/resilience.sh: RESILIENCE_SECONDS (default 120) of load at
// RESILIENCE_RATE requests a second (default 40), the faults, the checks, the report;
// then the backlog scenario (a simulated two-hour outage, bench/resilience-backlog.mjs)
// and the webhook-flood scenario (bench/webhook-flood.mjs).
import { runResilience } from "./resilience.mjs";
import { runBacklogScenario } from "./resilience-backlog.mjs";
import { cleanupAll } from "./stack.mjs";
import { runWebhookFlood } from "./webhook-flood.mjs";

const results = [];
try {
  const steady = await runResilience({ seconds: Number(process.env.RESILIENCE_SECONDS ?? 120), rate: Number(process.env.RESILIENCE_RATE ?? 40) });
  console.log(steady.report.join("\n"));
  results.push(steady);
  await cleanupAll();
  const backlog = await runBacklogScenario();
  console.log(backlog.report.join("\n"));
  results.push(backlog);
  await cleanupAll();
  // RESILIENCE_FLOOD_SECONDS (60) at RESILIENCE_FLOOD_RATE page requests a second (20: with
  // the flood's 83 a second, more saturates the one local workerd isolate that also runs
  // every Durable Object).
  const flood = await runWebhookFlood({ seconds: Number(process.env.RESILIENCE_FLOOD_SECONDS ?? 60), rate: Number(process.env.RESILIENCE_FLOOD_RATE ?? 20) });
  console.log(`\nwebhook flood:\n${flood.report.join("\n")}`);
  results.push(flood);
} finally {
  await cleanupAll();
}
process.exit(results.length === 3 && results.every((r) => r.ok) ? 0 : 1);
