// Test harness: a real origin binary on its own database, and the built worker under
// `wrangler dev` (workerd) with the bindings of wrangler.toml. Small typed helpers only.
import assert from "node:assert/strict";
import { spawn, execFile, execFileSync } from "node:child_process";
import { createServer } from "node:net";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { randomUUID, createHmac } from "node:crypto";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
// Every key and token at least 32 bytes: the worker and the origin refuse shorter ones.
export const ADMIN_TOKEN = "test-admin-token-0123456789abcdef";
export const SIGNING_SECRET = "test-signing-secret-0123456789abcdef";
export const DASHBOARD_TOKEN = "test-dashboard-token-0123456789abcdef";
export const METRICS_TOKEN = "test-metrics-token-0123456789abcdef";
const ORIGIN_BIN = join(ROOT, "target", "debug", "launch-edge-origin");

const adminUrl = () => {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) throw new Error("TEST_DATABASE_URL is not set (run through scripts/test.sh)");
  return url;
};

export async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `read()` until it equals `expected` (counting, draining and delivery are
 *  asynchronous), then returns it; fails with the last value after `timeoutMs`. */
export async function eventually(read, expected, { timeoutMs = 30_000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let actual;
  while (Date.now() < deadline) {
    actual = await read();
    if (JSON.stringify(actual) === JSON.stringify(expected)) return actual;
    await sleep(250);
  }
  assert.deepEqual(actual, expected);
  return actual;
}


export async function waitFor(url, { timeoutMs = 90_000, what = url } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      if (res.ok) return;
      lastError = new Error(`status ${res.status}`);
    } catch (e) {
      lastError = e;
    }
    await sleep(200);
  }
  throw new Error(`${what} did not become ready: ${lastError}`);
}

/** psql's arguments for `sql` (stop at the first error, quiet, bare unaligned tuples):
 *  the same for `psql` and `psqlAsync`. */
const psqlArgs = (databaseUrl, sql) => [databaseUrl, "-v", "ON_ERROR_STOP=1", "-qAtc", sql];

/** Runs SQL against a database of the private cluster with psql. */
export function psql(databaseUrl, sql) {
  return execFileSync("psql", psqlArgs(databaseUrl, sql), { encoding: "utf8" }).trim();
}

/** `psql` without blocking the event loop: for polling while load runs from the same
 *  process (a synchronous psql stalls every request in flight for its ~60 ms). */
export async function psqlAsync(databaseUrl, sql) {
  const { stdout } = await execFileAsync("psql", psqlArgs(databaseUrl, sql), { encoding: "utf8" });
  return stdout.trim();
}

/** What Postgres holds of `metric` for launch `slug`, summed over every day, source and
 *  minute (`metrics_day`): the figure a test compares with what the worker acknowledged. */
export function storedTotal(databaseUrl, slug, metric) {
  return Number(psql(databaseUrl, `SELECT coalesce(sum(value), 0) FROM metrics_day WHERE launch = '${slug}' AND metric = '${metric}'`));
}

/** A fresh, migrated database for one test file. */
export function freshDatabase() {
  const name = `e2e_${randomUUID().replaceAll("-", "")}`;
  psql(adminUrl(), `CREATE DATABASE ${name}`);
  const url = adminUrl().replace(/\/[^/]*$/, `/${name}`);
  execFileSync(ORIGIN_BIN, ["migrate"], { env: { ...process.env, DATABASE_URL: url }, stdio: "pipe" });
  return url;
}

export function seedLaunch(databaseUrl, slug, name = "Rocket") {
  psql(
    databaseUrl,
    `INSERT INTO launches (slug, name, tagline, launch_at, destinations)
     VALUES ('${slug}', '${name}', 'Ship it', now() + interval '1 day', '{"signup":"https://example.com/signup"}')`,
  );
}

/** The origin service as a child process; stop() and start() simulate an outage. */
export class Origin {
  /** `env`: extra environment for the origin, e.g. `{ DASHBOARD_TOKEN }`. */
  constructor(databaseUrl, { env = {} } = {}) {
    this.databaseUrl = databaseUrl;
    this.extraEnv = env;
    this.child = null;
  }

  async start() {
    this.port ??= await freePort();
    this.url = `http://127.0.0.1:${this.port}`;
    this.child = spawn(ORIGIN_BIN, ["serve"], {
      env: {
        ...process.env,
        DATABASE_URL: this.databaseUrl,
        ORIGIN_BIND: `127.0.0.1:${this.port}`,
        ORIGIN_SIGNING_SECRET: SIGNING_SECRET,
        METRICS_TOKEN,
        RUST_LOG: "warn",
        ...this.extraEnv,
      },
      stdio: ["ignore", "ignore", "inherit"],
    });
    await waitFor(`${this.url}/healthz`, { what: "origin" });
    return this;
  }

  async stop() {
    if (!this.child) return;
    const exited = new Promise((r) => this.child.once("exit", r));
    this.child.kill("SIGKILL");
    await exited;
    this.child = null;
  }

  async metric(name) {
    const res = await fetch(`${this.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    if (!res.ok) throw new Error(`/metrics answered ${res.status}`);
    const text = await res.text();
    const line = text.split("\n").find((l) => l.startsWith(`${name} `));
    if (!line) throw new Error(`metric ${name} not exported`);
    return Number(line.split(" ")[1]);
  }

  renders() {
    return this.metric("launch_edge_origin_renders_total");
  }
}

/** `wrangler dev` on the real wrangler.toml, with test values for vars and secrets. */
export class Worker {
  constructor({ originUrl, vars = {}, persistTo, inspectorPort = 0 } = {}) {
    this.inspectorPort = inspectorPort;
    this.vars = {
      ORIGIN_URL: originUrl,
      ADMIN_TOKEN,
      ORIGIN_SIGNING_SECRET: SIGNING_SECRET,
      VISITOR_SALT_SECRET: "test-visitor-salt-secret-0123456789",
      // The origin under test is http://127.0.0.1.
      LOCAL_DEVELOPMENT: "true",
      ...vars,
    };
    this.persistTo = persistTo ?? mkdtempSync(join(tmpdir(), "launch-edge-wrangler-"));
    this.child = null;
  }

  async start() {
    this.port ??= await freePort();
    this.url = `http://127.0.0.1:${this.port}`;
    const varArgs = Object.entries(this.vars).flatMap(([k, v]) => ["--var", `${k}:${v}`]);
    this.output = "";
    this.child = spawn(
      join(ROOT, "node_modules", ".bin", "wrangler"),
      ["dev", "--ip", "127.0.0.1", "--port", String(this.port), "--inspector-port", String(this.inspectorPort),
        "--persist-to", this.persistTo, "--test-scheduled", "--show-interactive-dev-session=false", ...varArgs],
      {
        cwd: ROOT,
        env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true" },
        stdio: ["ignore", "pipe", "pipe"],
        detached: true,
      },
    );
    const collect = (chunk) => {
      this.output += chunk.toString();
      if (this.output.length > 200_000) this.output = this.output.slice(-100_000);
    };
    this.child.stdout.on("data", collect);
    this.child.stderr.on("data", collect);
    try {
      await waitFor(`${this.url}/healthz`, { what: "wrangler dev", timeoutMs: 240_000 });
    } catch (e) {
      throw new Error(`${e.message}\n--- wrangler output ---\n${this.output.slice(-4000)}`);
    }
    return this;
  }

  async stop() {
    if (!this.child) return;
    const exited = new Promise((r) => this.child.once("exit", r));
    // wrangler starts workerd as a child: end the whole process group.
    try { process.kill(-this.child.pid, "SIGTERM"); } catch { /* already gone */ }
    const timer = setTimeout(() => { try { process.kill(-this.child.pid, "SIGKILL"); } catch { /* gone */ } }, 5000);
    await exited;
    clearTimeout(timer);
    this.child = null;
  }

  fetch(path, init = {}) {
    return fetch(`${this.url}${path}`, { redirect: "manual", ...init });
  }

  admin(path, init = {}) {
    return this.fetch(path, { ...init, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(init.headers ?? {}) } });
  }

  async storedPageKeys() {
    const res = await this.admin("/admin/pages");
    if (!res.ok) throw new Error(`/admin/pages answered ${res.status}`);
    return (await res.json()).keys;
  }
}

/**
 * `fetch` signed the way the worker signs origin requests (proto/src/signing.rs):
 * HMAC-SHA256 over `v1\n{METHOD}\n{path?query}\n{unix seconds}\n{body}`, sent as
 * `x-launch-edge-timestamp` and `x-launch-edge-signature: v1=<hex>`.
 */
export function signedFetch(baseUrl, pathAndQuery, { method = "GET", body = "", secret = SIGNING_SECRET, headers = {} } = {}) {
  const timestamp = Math.floor(Date.now() / 1000).toString();
  const mac = createHmac("sha256", secret)
    .update(`v1\n${method.toUpperCase()}\n${pathAndQuery}\n${timestamp}\n`)
    .update(body)
    .digest("hex");
  return fetch(`${baseUrl}${pathAndQuery}`, {
    method,
    body: method === "GET" || method === "HEAD" ? undefined : body,
    headers: {
      "content-type": "application/json",
      "x-launch-edge-timestamp": timestamp,
      "x-launch-edge-signature": `v1=${mac}`,
      ...headers,
    },
  });
}
