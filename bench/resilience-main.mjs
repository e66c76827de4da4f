// Entry point of scripts/resilience.sh: RESILIENCE_SECONDS (default 120) of load at
// RESILIENCE_RATE requests a second (default 40), the faults, the checks, the report;
// then the webhook-flood scenario.
import { runResilience } from "./resilience.mjs";
import { cleanupAll } from "./stack.mjs";
import { runWebhookFlood } from "./webhook-flood.mjs";

let result;
try {
  result = await runResilience({ seconds: Number(process.env.RESILIENCE_SECONDS ?? 120), rate: Number(process.env.RESILIENCE_RATE ?? 40) });
  console.log(result.report.join("\n"));
  // The webhook-flood scenario (bench/webhook-flood.mjs): RESILIENCE_FLOOD_SECONDS (60) at
  // RESILIENCE_FLOOD_RATE page requests a second (20: with the flood's 83 a second, more
  // saturates the one local workerd isolate that also runs every Durable Object).
  const flood = await runWebhookFlood({ seconds: Number(process.env.RESILIENCE_FLOOD_SECONDS ?? 60), rate: Number(process.env.RESILIENCE_FLOOD_RATE ?? 20) });
  console.log(`\nwebhook flood:\n${flood.report.join("\n")}`);
  result.ok &&= flood.ok;
} finally {
  await cleanupAll();
}
process.exit(result?.ok ? 0 : 1);
