// The deployed module carries no names section (scripts/build-worker.sh moves it to
// build/index_bg.debug.wasm): a panic still logs its message and source location, and
// scripts/wasm-names.mjs names the stack frames of that log from the debug artefact.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, Worker, eventually } from "./harness.mjs";

const DEPLOYED = join(ROOT, "build", "index_bg.wasm");
const DEBUG = join(ROOT, "build", "index_bg.debug.wasm");
const NODE = join(ROOT, "node_modules", ".bin", "node");
const names = (...args) => execFileSync(NODE, [join(ROOT, "scripts", "wasm-names.mjs"), ...args], { encoding: "utf8", input: "", stdio: "pipe" });

/** Whether a module carries a `name` custom section (read by Node's own WebAssembly). */
const hasNames = (bytes) => WebAssembly.Module.customSections(new WebAssembly.Module(bytes), "name").length > 0;

let worker;
/** wrangler's output without its colours. */
const plain = () => worker.output.replace(/\x1b\[[0-9;]*m/g, "");
after(async () => {
  await worker?.stop();
});

test("the deployed module has no names section and the debug artefact is the same module with it", () => {
  assert.ok(!hasNames(readFileSync(DEPLOYED)), "build/index_bg.wasm carries a names section");
  assert.ok(hasNames(readFileSync(DEBUG)), "build/index_bg.debug.wasm lost its names section");
  // symbolize refuses a debug artefact that is not the deployed module with its names.
  assert.doesNotThrow(() => names("symbolize", DEBUG, DEPLOYED));
  assert.throws(() => names("symbolize", DEBUG, DEBUG), /does not belong to/);
});

test("a panic logs its message and location, the debug artefact names its frames, and the next request is served", async () => {
  // The origin is never called: the panic route and /healthz answer before any origin work.
  worker = await new Worker({ originUrl: "http://127.0.0.1:9", vars: { TEST_HOOKS: "enabled" } }).start();
  const res = await worker.admin("/admin/test/panic", { method: "POST" });
  assert.equal(res.status, 500);
  await eventually(() => /Rust panic: panicked at src[\\/]routes[\\/]test_hooks\.rs:\d+:\d+:\s+test hook panic/.test(plain()), true, { timeoutMs: 10_000 });

  const log = plain().slice(plain().indexOf("Rust panic"));
  const frames = log.match(/wasm-function\[\d+\]/g) ?? [];
  assert.ok(frames.length > 0, `no wasm frames in the panic's log:\n${log.slice(0, 3000)}`);
  const named = execFileSync(NODE, [join(ROOT, "scripts", "wasm-names.mjs"), "symbolize", DEBUG, DEPLOYED], { encoding: "utf8", input: log });
  assert.match(named, /wasm-function\[\d+\] <[^>]*panic[^>]*>/, `no panic frame named:\n${named.slice(0, 3000)}`);

  assert.equal((await worker.fetch("/healthz")).status, 200, "a fresh instance serves after the panic");
});
