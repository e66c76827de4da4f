// Where a request's CPU goes: starts the stack like bench/run.mjs, drives one wrk mode
// (bench/wrk.lua: page, uncounted, floor, view, click, beacon) for 8 s while V8's sampling
// profiler runs in the worker's isolate (through wrangler's inspector), and prints the
// functions with the most self and inclusive samples. Rust functions keep their names
// (the build keeps the wasm names section). Usage: bash scripts/profile.sh [mode]
import { Origin, Worker, seedLaunch } from "../worker-tests/harness.mjs";
import { benchDatabase, wrk, cleanupAll, onExit, freePort } from "./stack.mjs";

const mode = process.argv[2] ?? "page";
const db = benchDatabase(process.env.BENCH_ADMIN_DATABASE_URL);
onExit(() => db.drop());
seedLaunch(db.url, "bench-launch", "Bench Launch");
const origin = await new Origin(db.url).start();
onExit(() => origin.stop());
const inspectorPort = await freePort();
const worker = new Worker({ originUrl: origin.url, inspectorPort });
onExit(() => worker.stop());
await worker.start();
await worker.admin("/admin/launches/bench-launch/prewarm", { method: "POST" });
wrk(worker.url, mode, { slug: "bench-launch", seconds: 3 }); // warm-up

const [target] = await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json();
// The inspector proxy accepts local origins only.
const ws = new WebSocket(target.webSocketDebuggerUrl, { headers: { origin: "http://127.0.0.1" } });
await new Promise((resolve, reject) => {
  ws.addEventListener("open", resolve);
  ws.addEventListener("error", () => reject(new Error("inspector connection failed")));
});
let nextId = 0;
const waiting = new Map();
ws.addEventListener("message", (m) => {
  const msg = JSON.parse(m.data);
  waiting.get(msg.id)?.(msg);
  waiting.delete(msg.id);
});
const call = (method, params = {}) => new Promise((resolve) => {
  const id = ++nextId;
  waiting.set(id, resolve);
  ws.send(JSON.stringify({ id, method, params }));
});
await call("Profiler.enable");
await call("Profiler.setSamplingInterval", { interval: 100 });
await call("Profiler.start");
const run = wrk(worker.url, mode, { slug: "bench-launch", seconds: 8 });
const { result } = await call("Profiler.stop");
ws.close();

const nodes = result.profile.nodes;
const byId = new Map(nodes.map((n) => [n.id, n]));
const parentOf = new Map(nodes.flatMap((n) => (n.children ?? []).map((c) => [c, n.id])));
const name = (n) => n.callFrame.functionName || `(${n.callFrame.url || "anonymous"}:${n.callFrame.lineNumber})`;
const total = nodes.reduce((s, n) => s + (n.hitCount ?? 0), 0);
const self = new Map();
const inclusive = new Map();
for (const n of nodes) {
  const hits = n.hitCount ?? 0;
  self.set(name(n), (self.get(name(n)) ?? 0) + hits);
  const counted = new Set();
  for (let id = n.id; id !== undefined; id = parentOf.get(id)) {
    const k = name(byId.get(id));
    if (!counted.has(k)) inclusive.set(k, (inclusive.get(k) ?? 0) + hits);
    counted.add(k);
  }
}
const top = (m, n) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n)
  .map(([k, v]) => `${((100 * v) / total).toFixed(1).padStart(5)}%  ${k.slice(0, 120)}`).join("\n");
console.log(`mode ${mode}: ${run.rps.toFixed(0)} requests/s under the profiler, ${total} samples of 100 µs`);
console.log(`\n-- self --\n${top(self, 30)}\n\n-- inclusive --\n${top(inclusive, 50)}`);
await cleanupAll();
process.exit(0);
