// Entry point of scripts/resilience.sh: RESILIENCE_SECONDS (default 120) of load at
// RESILIENCE_RATE requests a second (default 40), the faults, the checks, the report;
// then the webhook-flood scenario at the same page rate.
import { runResilience } from "./resilience.mjs";
import { cleanupAll } from "./stack.mjs";
import { runWebhookFlood } from "./webhook-flood.mjs";

let result;
try {
  result = await runResilience({ seconds: Number(process.env.RESILIENCE_SECONDS ?? 120), rate: Number(process.env.RESILIENCE_RATE ?? 40) });
  console.log(result.report.join("\n"));
  // The webhook-flood scenario (bench/webhook-flood.mjs): RESILIENCE_FLOOD_SECONDS (60).
  const flood = await runWebhookFlood({ seconds: Number(process.env.RESILIENCE_FLOOD_SECONDS ?? 60), rate: Number(process.env.RESILIENCE_RATE ?? 40) });
  console.log(`\nwebhook flood:\n${flood.report.join("\n")}`);
  result.ok &&= flood.ok;
} finally {
  await cleanupAll();
}
process.exit(result?.ok ? 0 : 1);
