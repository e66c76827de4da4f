// The launch-week runbook (docs/launch-week.md) is executable: every shell block carries a
// marker, and each `run` (read-only) or `local` (changes state: run only here) block is
// run as written, in order, against a local stack (a fresh database, the real origin, the
// built worker under `wrangler dev`), and must exit 0 with output matching its `expect`.
// `skip` blocks (Cloudflare, staging, production secrets) must say why, and every origin
// subcommand and script they name must exist.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ROOT, ADMIN_TOKEN, SIGNING_SECRET, DASHBOARD_TOKEN, METRICS_TOKEN, Origin, Worker, freshDatabase, psql,
} from "./harness.mjs";

const RUNBOOK = "docs/launch-week.md";
const ORIGIN_BIN = join(ROOT, "target", "debug", "launch-edge-origin");
const SLUG = "demo-launch"; // examples/demo-launch.toml, applied by the runbook's first steps
const BLOCK_TIMEOUT_MS = 60_000;

/** The runbook's shell blocks: `{ line, section, mode, expect, why, code }`, in order;
 *  `unmarked` lists the line of each ```sh block without a marker right above it. */
export function runbookBlocks(text) {
  const lines = text.split("\n");
  const blocks = [];
  const unmarked = [];
  let section = "";
  for (let i = 0; i < lines.length; i++) {
    if (/^## /.test(lines[i])) section = lines[i].replace(/^## /, "");
    const fence = lines[i].match(/^(\s*)```sh\s*$/);
    if (!fence) continue;
    let j = i + 1;
    const body = [];
    while (j < lines.length && lines[j].trim() !== "```") body.push(lines[j++].slice(fence[1].length));
    let k = i - 1;
    while (k >= 0 && lines[k].trim() === "") k--;
    const marker = k >= 0 && lines[k].trim().match(/^<!-- runbook: (run|local|skip)(?:; expect: (.+?))?(?:; why: (.+?))? -->$/);
    if (!marker) unmarked.push(i + 1);
    else blocks.push({ line: i + 1, section, mode: marker[1], expect: marker[2], why: marker[3], code: body.join("\n") });
    i = j;
  }
  return { blocks, unmarked };
}

/** `expect` as a RegExp: multiline, and case-insensitive with a leading `(?i)`. */
function expectation(expect) {
  const insensitive = expect.startsWith("(?i)");
  return new RegExp(insensitive ? expect.slice(4) : expect, insensitive ? "mi" : "m");
}

const { blocks, unmarked } = runbookBlocks(readFileSync(join(ROOT, RUNBOOK), "utf8"));
let db, origin, worker, cwd, env;

before(async () => {
  db = freshDatabase();
  origin = await new Origin(db, { env: { DASHBOARD_TOKEN } }).start();
  worker = await new Worker({ originUrl: origin.url }).start();
  cwd = mkdtempSync(join(tmpdir(), "launch-edge-runbook-"));
  copyFileSync(join(ROOT, "examples", "demo-launch.toml"), join(cwd, "launch.toml"));
  // The runbook's settings, for this stack. No PRODUCT_HUNT_TOKEN and no COMMUNITY_WEBHOOKS:
  // optional, so preflight says SKIP for them and still exits 0.
  env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME ?? cwd,
    LANG: "C.UTF-8",
    RUST_LOG: "off",
    DATABASE_URL: db,
    WORKER_URL: worker.url,
    ORIGIN_PUBLIC_URL: origin.url,
    ADMIN_TOKEN,
    EDGE_URL: worker.url,
    EDGE_ADMIN_TOKEN: ADMIN_TOKEN,
    ORIGIN_SIGNING_SECRET: SIGNING_SECRET,
    DASHBOARD_TOKEN,
    METRICS_TOKEN,
    SLUG,
    ORIGIN: ORIGIN_BIN,
  };
  // Three rows set aside by a transient database error (a deadlock), for the requeue
  // steps: valid rows, so a requeue applies them.
  for (let ordinal = 0; ordinal < 3; ordinal++) {
    const row = JSON.stringify({ launch: SLUG, day: "2026-12-01", minute: 1_764_576_000, source: "producthunt", metric: "view", value: 1 });
    psql(db, `INSERT INTO dead_letters (batch_id, producer, kind, ordinal, reason, row_json)
              VALUES ('runbook:1', 'shard-0', 'counter', ${ordinal}, 'database:40P01', '${row}')`);
  }
});

after(async () => {
  await worker?.stop();
  await origin?.stop();
});

test("every shell block of the runbook carries a marker and every skipped one says why", () => {
  assert.deepEqual(unmarked, [], `${RUNBOOK}: shell blocks without a runbook marker at lines ${unmarked.join(", ")}`);
  const runnable = blocks.filter((b) => b.mode !== "skip");
  assert.ok(runnable.length >= 25, `only ${runnable.length} runnable blocks`);
  for (const b of blocks) {
    if (b.mode === "skip") assert.ok(b.why && b.why.length > 10, `${RUNBOOK}:${b.line} is skipped without a reason`);
    else assert.ok(b.expect, `${RUNBOOK}:${b.line} has no expect`);
  }
  for (const section of ["T-72 h", "T-24 h", "T-2 h", "T-0", "Every hour", "Dead letters", "T+24 h", "T+48 h"]) {
    assert.ok(runnable.some((b) => b.section.startsWith(section)), `no runnable step under ${section}`);
  }
});

test("every origin subcommand and script the skipped blocks name exists", () => {
  const help = execFileSync(ORIGIN_BIN, ["--help"], { encoding: "utf8" });
  const subcommands = new Set([...help.matchAll(/^ {2}([a-z-]+)\s/gm)].map((m) => m[1]));
  const missing = [];
  for (const b of blocks.filter((x) => x.mode === "skip")) {
    for (const [, script] of b.code.matchAll(/((?:scripts|worker-tests|ops)\/[\w./-]+\.(?:sh|mjs|yml|json))/g)) {
      if (!existsSync(join(ROOT, script))) missing.push(`${RUNBOOK}:${b.line}: ${script} does not exist`);
    }
    for (const [, sub] of b.code.matchAll(/\$ORIGIN\s+([a-z-]+)/g)) {
      if (!subcommands.has(sub)) missing.push(`${RUNBOOK}:${b.line}: the origin has no subcommand ${sub}`);
    }
    for (const [, bin] of b.code.matchAll(/npx\s+([\w-]+)/g)) {
      if (!existsSync(join(ROOT, "node_modules", ".bin", bin))) missing.push(`${RUNBOOK}:${b.line}: npx ${bin} is not installed`);
    }
  }
  assert.deepEqual(missing, []);
});

/** The oldest open origin dead letter, for the requeue steps. */
const oldestOpenDeadLetter = () => psql(db, "SELECT min(id) FROM dead_letters WHERE requeued_at IS NULL");

for (const block of blocks.filter((b) => b.mode !== "skip")) {
  const first = block.code.split("\n")[0].slice(0, 70);
  test(`the runbook's ${block.mode} step at line ${block.line} (${block.section}) exits 0 and prints /${block.expect}/: ${first}`, () => {
    const stepEnv = { ...env };
    if (block.code.includes("$DEAD_LETTER_ID")) stepEnv.DEAD_LETTER_ID = oldestOpenDeadLetter();
    if (block.code.includes("$EDGE_DEAD_LETTER_ID")) stepEnv.EDGE_DEAD_LETTER_ID = `origin:${oldestOpenDeadLetter()}`;
    const started = Date.now();
    const run = spawnSync("bash", ["--norc", "--noprofile", "-euo", "pipefail", "-c", block.code], {
      cwd, env: stepEnv, encoding: "utf8", timeout: BLOCK_TIMEOUT_MS, killSignal: "SIGKILL",
    });
    const output = `${run.stdout}${run.stderr}`;
    const context = `${RUNBOOK}:${block.line} (exit ${run.status}, ${Date.now() - started} ms)\n${block.code}\n--- output ---\n${output.slice(-3000)}`;
    assert.equal(run.error, undefined, context);
    assert.equal(run.status, 0, context);
    assert.match(output, expectation(block.expect), context);
  });
}

test("after the runbook the requeued dead letters are applied and the launch is archived", () => {
  assert.equal(psql(db, "SELECT count(*) FROM dead_letters WHERE requeued_at IS NULL"), "0");
  assert.equal(psql(db, `SELECT sum(value) FROM metrics_day WHERE launch = '${SLUG}' AND metric = 'view' AND day = '2026-12-01'`), "3");
  assert.equal(psql(db, `SELECT archived_at IS NOT NULL FROM launches WHERE slug = '${SLUG}'`), "t");
});
