// Entry point of scripts/resilience.sh: RESILIENCE_SECONDS (default 120) of load at
// RESILIENCE_RATE requests a second (default 40), the faults, the checks, the report.
import { runResilience } from "./resilience.mjs";
import { cleanupAll } from "./stack.mjs";

let result;
try {
  result = await runResilience({ seconds: Number(process.env.RESILIENCE_SECONDS ?? 120), rate: Number(process.env.RESILIENCE_RATE ?? 40) });
  console.log(result.report.join("\n"));
} finally {
  await cleanupAll();
}
process.exit(result?.ok ? 0 : 1);
