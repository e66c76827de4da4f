// Shared by the benchmark (bench/run.mjs) and the resilience suite (bench/resilience.mjs):
// a throwaway database, the baseline worker, wrk, an open-loop load generator, and the
// clean-up that ends every child process when the run ends, however it ends.
import { spawn, execFileSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { ROOT, psql, psqlAsync, freePort, sleep } from "../worker-tests/harness.mjs";

export const CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36";
const ORIGIN_BIN = join(ROOT, "target", "debug", "launch-edge-origin");

/** A fresh, migrated database `bench_<uuid>` (a prefix scripts/test.sh never drops). */
export function benchDatabase(adminUrl) {
  const name = `bench_${randomUUID().replaceAll("-", "")}`;
  psql(adminUrl, `CREATE DATABASE ${name}`);
  const url = adminUrl.replace(/\/[^/]*$/, `/${name}`);
  execFileSync(ORIGIN_BIN, ["migrate"], { env: { ...process.env, DATABASE_URL: url }, stdio: "pipe" });
  return { name, url, drop: () => { try { psql(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`); } catch { /* best effort */ } } };
}

/** Everything started here is stopped on exit, Ctrl-C or a crash (process groups). */
const cleanups = [];
export function onExit(fn) { cleanups.push(fn); }
let cleaning = null;
export function cleanupAll() {
  cleaning ??= (async () => {
    // Newest first; what a later scenario registers is cleaned by the next call.
    while (cleanups.length > 0) { try { await cleanups.pop()(); } catch { /* keep going */ } }
    cleaning = null;
  })();
  return cleaning;
}
// A second signal while cleaning up (timeout and the shell's trap both send one) waits for
// the same clean-up instead of exiting half way.
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(sig, async () => { await cleanupAll(); process.exit(130); });
}
process.on("uncaughtException", async (e) => { console.error(e); await cleanupAll(); process.exit(1); });

/** The baseline worker (bench/baseline) under its own `wrangler dev`. */
export async function startBaseline(bodyBytes) {
  return startSideWorker("baseline", "bench/baseline/wrangler.toml", [`BODY_BYTES:${bodyBytes}`]);
}

/** The JavaScript peer (bench/peer): the same contracts as launch-edge on every measured
 *  path, serving the page it fetches once from `pageUrl` (launch-edge's own bytes). */
export async function startPeer(pageUrl) {
  return startSideWorker("peer", "bench/peer/wrangler.toml", [`PAGE_URL:${pageUrl}`]);
}

/** A second worker under its own `wrangler dev` (same wrangler, same workerd), on a free
 *  loopback port with its own persistence; resolves once `/healthz` answers. */
async function startSideWorker(name, config, vars) {
  const port = await freePort();
  const persist = join(ROOT, ".data", `bench-${name}`);
  rmSync(persist, { recursive: true, force: true });
  const child = spawn(join(ROOT, "node_modules", ".bin", "wrangler"),
    ["dev", "-c", config, "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", "0",
      "--persist-to", persist, "--show-interactive-dev-session=false", ...vars.flatMap((v) => ["--var", v])],
    { cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true" }, stdio: ["ignore", "pipe", "pipe"], detached: true });
  let output = "";
  child.stdout.on("data", (c) => { output = (output + c).slice(-20_000); });
  child.stderr.on("data", (c) => { output = (output + c).slice(-20_000); });
  const stop = () => { try { process.kill(-child.pid, "SIGKILL"); } catch { /* gone */ } };
  onExit(stop);
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 600; i++) {
    try { if ((await fetch(`${url}/healthz`)).ok) return { url, stop, pgid: child.pid }; } catch { /* not yet */ }
    await sleep(200);
  }
  throw new Error(`${name} worker did not start:\n${output.slice(-3000)}`);
}

/** One wrk run (bench/wrk.lua) against `baseUrl`; returns rps, p50/p99 (ms) and statuses. */
export function wrk(baseUrl, mode, { slug, connections = 32, seconds = 10, threads = 1, pgid, env = {} }) {
  const cpu0 = pgid ? groupCpuSeconds(pgid) : 0;
  const out = execFileSync("wrk", ["-t", String(threads), "-c", String(connections), "-d", `${seconds}s`, "--timeout", "10s",
    "-s", join(ROOT, "bench", "wrk.lua"), baseUrl], { env: { ...process.env, ...env, BENCH_MODE: mode, BENCH_SLUG: slug }, encoding: "utf8" });
  const line = out.split("\n").find((l) => l.startsWith("WRK_JSON "));
  if (!line) throw new Error(`wrk printed no summary:\n${out}`);
  const r = JSON.parse(line.slice(9));
  const cpuMsPerRequest = pgid ? ((groupCpuSeconds(pgid) - cpu0) * 1000) / r.requests : NaN;
  return { rps: r.rps, cpuMsPerRequest, p50: r.p50_us / 1000, p99: r.p99_us / 1000, requests: r.requests, statuses: r.statuses,
    socketErrors: r.errors.connect + r.errors.read + r.errors.write + r.errors.timeout };
}

/** CPU seconds (user + system) used so far by every process in a process group (wrangler
 *  dev, its workerd runtimes and Durable Objects), from /proc: what one request costs. */
export function groupCpuSeconds(pgid) {
  let ticks = 0;
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) === pgid) ticks += Number(fields[11]) + Number(fields[12]);
    } catch { /* exited meanwhile */ }
  }
  return ticks / 100; // USER_HZ
}

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

let visitorSeq = 0;
/** A distinct browser visitor: its own IP (so the per-IP limit never trips) and agent. */
export function nextVisitor(prefix = 20) {
  visitorSeq += 1;
  const n = visitorSeq;
  return { "user-agent": CHROME, "cf-connecting-ip": `${prefix + ((n >> 16) & 63)}.${(n >> 8) & 255}.${n & 255}.7` };
}

/**
 * Open-loop load: `rateAt(elapsedSeconds)` requests a second (scheduled every 10 ms
 * whatever the answers), split over `mix` ({view, click, event} weights). Tallies, per
 * kind, statuses, acknowledgements (200 view, 302 click, 202 event), connection failures
 * (with when they happened) and latencies. `stop()` ends it; `done` resolves when all
 * answers are in.
 */
export function openLoop({ baseUrl, slug, rateAt, mix = { view: 0.85, click: 0.1, event: 0.05 }, maxInFlight = 2000 }) {
  const base = typeof baseUrl === "function" ? baseUrl : () => baseUrl;
  const kinds = Object.keys(mix);
  const total = kinds.reduce((a, k) => a + mix[k], 0);
  const tally = Object.fromEntries(kinds.map((k) => [k, { sent: 0, acked: 0, statuses: {}, cache: {}, failures: [], latencies: [], serverErrors: [] }]));
  const started = performance.now();
  let issued = 0, inFlight = 0, skipped = 0, stopped = false;
  const pending = new Set();
  const meta = new Map();
  const ACK = { view: 200, click: 302, event: 202 };

  const fire = (kind) => {
    const t = tally[kind];
    t.sent += 1;
    const init = { redirect: "manual", headers: nextVisitor(), signal: AbortSignal.timeout(15_000) };
    let path = `/launch/${slug}?ref=producthunt`;
    if (kind === "click") path = `/go/${slug}?to=signup&utm_source=load`;
    if (kind === "event") {
      path = `/launch/${slug}/events?utm_source=load`;
      Object.assign(init, { method: "POST", body: '{"kind":"signup"}' });
      init.headers["content-type"] = "application/json";
    }
    const t0 = performance.now();
    inFlight += 1;
    const p = fetch(`${base()}${path}`, init)
      .then(async (res) => {
        await res.arrayBuffer();
        t.statuses[res.status] = (t.statuses[res.status] ?? 0) + 1;
        if (res.status === ACK[kind]) t.acked += 1;
        if (res.status >= 500) t.serverErrors.push({ atS: (t0 - started) / 1000, status: res.status });
        const xc = res.headers.get("x-cache");
        if (xc) t.cache[xc] = (t.cache[xc] ?? 0) + 1;
        t.latencies.push(performance.now() - t0);
      })
      .catch((e) => { t.failures.push({ atS: (t0 - started) / 1000, endS: (performance.now() - started) / 1000, error: String(e.cause?.code ?? e.name ?? e) }); })
      .finally(() => { inFlight -= 1; pending.delete(p); meta.delete(p); });
    pending.add(p);
    meta.set(p, { kind, t0 });
  };

  let due = 0;
  let last = started;
  const timer = setInterval(() => {
    if (stopped) return;
    const now = performance.now();
    due += (rateAt((now - started) / 1000) * (now - last)) / 1000;
    last = now;
    while (due >= 1) {
      due -= 1;
      if (inFlight >= maxInFlight) { skipped += 1; continue; }
      let r = Math.random() * total;
      const kind = kinds.find((k) => (r -= mix[k]) < 0) ?? kinds[0];
      issued += 1;
      fire(kind);
    }
  }, 10);

  return {
    tally,
    get issued() { return issued; },
    get skipped() { return skipped; },
    elapsedS: () => (performance.now() - started) / 1000,
    async stop() {
      stopped = true;
      clearInterval(timer);
      // Every request has a 15 s timeout; a fetch that still has not settled 20 s later is
      // counted as a failure with no answer rather than waited for.
      await Promise.race([Promise.allSettled([...pending]), sleep(20_000)]);
      for (const p of pending) {
        const { kind, t0 } = meta.get(p);
        tally[kind].failures.push({ atS: (t0 - started) / 1000, endS: (performance.now() - started) / 1000, error: "no answer" });
      }
      return tally;
    },
  };
}

export { psql, psqlAsync, freePort, sleep, ROOT };
