// The worker's wasm names section, kept out of the deployed module. Both commands use the
// project's pinned wasm-opt (binaryen, from node_modules): nothing here parses wasm itself.
//
//   node scripts/wasm-names.mjs strip IN.wasm OUT.wasm
//       OUT = IN without its debug information (the `name` section): binaryen writes the
//       functions back in their order, so IN (the debug artefact,
//       build/index_bg.debug.wasm) names what a stack trace of OUT shows.
//   node scripts/wasm-names.mjs symbolize DEBUG.wasm [DEPLOYED.wasm] < log > log.named
//       rewrites every `wasm-function[N]` of a log or stack trace to
//       `wasm-function[N] <name>`; with DEPLOYED, first checks that DEBUG stripped is
//       DEPLOYED byte for byte (a stale debug artefact would name the wrong functions).
//   node scripts/wasm-names.mjs name DEBUG.wasm N...
//       prints the name of each function index.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const WASM_OPT = process.env.WASM_OPT_BIN
  ?? join(dirname(fileURLToPath(import.meta.url)), "..", "node_modules", ".bin", "wasm-opt");
const wasmOpt = (...args) => execFileSync(WASM_OPT, args, { encoding: "utf8", maxBuffer: 256 << 20 });

const strip = (input, output) => wasmOpt(input, "--strip-debug", "-o", output);

/** Function index -> name, from binaryen's function map (`index:name` per line). */
function functionNames(debug) {
  const names = new Map();
  for (const line of wasmOpt(debug, "--print-function-map", "-o", "/dev/null").split("\n")) {
    const at = line.indexOf(":");
    if (at > 0 && /^\d+$/.test(line.slice(0, at))) names.set(Number(line.slice(0, at)), line.slice(at + 1));
  }
  if (names.size === 0) throw new Error(`${debug} names no function: is it the debug artefact (build/index_bg.debug.wasm)?`);
  return names;
}

/** Whether `debug` stripped is `deployed`, byte for byte. */
function belongs(debug, deployed) {
  const dir = mkdtempSync(join(tmpdir(), "wasm-names-"));
  try {
    strip(debug, join(dir, "stripped.wasm"));
    return readFileSync(join(dir, "stripped.wasm")).equals(readFileSync(deployed));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const [command, ...args] = process.argv.slice(2);
if (command === "strip" && args.length === 2) {
  strip(args[0], args[1]);
} else if (command === "symbolize" && (args.length === 1 || args.length === 2)) {
  // The log first: a command piped in (scripts/profile.sh) may rebuild the module before
  // it ends.
  const input = readFileSync(0, "utf8");
  if (args[1] && !belongs(args[0], args[1])) {
    console.error(`${args[0]} does not belong to ${args[1]}: build both with scripts/build-worker.sh`);
    process.exit(1);
  }
  const names = functionNames(args[0]);
  process.stdout.write(
    input.replace(/wasm-function\[(\d+)\]/g, (m, i) => (names.has(Number(i)) ? `${m} <${names.get(Number(i))}>` : m)),
  );
} else if (command === "name" && args.length >= 2) {
  const names = functionNames(args[0]);
  for (const i of args.slice(1)) console.log(`${i}\t${names.get(Number(i)) ?? "(no name)"}`);
} else {
  console.error("usage: wasm-names.mjs strip IN OUT | symbolize DEBUG.wasm [DEPLOYED.wasm] | name DEBUG.wasm N...");
  process.exit(2);
}
