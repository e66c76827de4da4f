// The worker's wasm names section, kept out of the deployed module.
//
//   node scripts/wasm-names.mjs strip IN.wasm OUT.wasm
//       OUT = IN without its `name` custom section, every other byte as it was: function
//       indices and code offsets of the two files are the same, so IN (the debug
//       artefact, build/index_bg.debug.wasm) names what a stack trace of OUT shows.
//   node scripts/wasm-names.mjs symbolize DEBUG.wasm [DEPLOYED.wasm] < log > log.named
//       rewrites every `wasm-function[N]` of a log or stack trace to
//       `wasm-function[N] <name>`; with DEPLOYED, first checks that DEBUG stripped is
//       DEPLOYED byte for byte (a stale debug artefact would name the wrong functions).
//   node scripts/wasm-names.mjs name DEBUG.wasm N...
//       prints the name of each function index.
import { readFileSync, writeFileSync } from "node:fs";

function sections(bytes) {
  if (bytes.readUInt32LE(0) !== 0x6d736100) throw new Error("not a wasm module");
  const out = [];
  let p = 8;
  const leb = () => {
    let result = 0;
    let shift = 0;
    let byte;
    do {
      byte = bytes[p++];
      result += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    } while (byte & 0x80);
    return result;
  };
  while (p < bytes.length) {
    const start = p;
    const id = bytes[p++];
    const size = leb();
    const body = p;
    let name = null;
    if (id === 0) {
      const len = leb();
      name = bytes.subarray(p, p + len).toString("utf8");
    }
    out.push({ id, name, start, body, end: body + size });
    p = body + size;
  }
  return out;
}

function strip(bytes) {
  const kept = [bytes.subarray(0, 8)];
  for (const s of sections(bytes)) {
    if (!(s.id === 0 && s.name === "name")) kept.push(bytes.subarray(s.start, s.end));
  }
  return Buffer.concat(kept);
}

// Function names (subsection 1 of the name section): index -> name.
function functionNames(bytes) {
  const section = sections(bytes).find((s) => s.id === 0 && s.name === "name");
  if (!section) throw new Error("no name section: is this the debug artefact (build/index_bg.debug.wasm)?");
  const names = new Map();
  let p = section.body;
  const leb = () => {
    let result = 0;
    let shift = 0;
    let byte;
    do {
      byte = bytes[p++];
      result += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    } while (byte & 0x80);
    return result;
  };
  p += leb(); // the section's own name, "name"
  while (p < section.end) {
    const sub = bytes[p++];
    const size = leb();
    const end = p + size;
    if (sub === 1) {
      const count = leb();
      for (let i = 0; i < count; i++) {
        const index = leb();
        const len = leb();
        names.set(index, bytes.subarray(p, p + len).toString("utf8"));
        p += len;
      }
    }
    p = end;
  }
  return names;
}

const [command, ...args] = process.argv.slice(2);
if (command === "strip" && args.length === 2) {
  writeFileSync(args[1], strip(readFileSync(args[0])));
} else if (command === "symbolize" && (args.length === 1 || args.length === 2)) {
  // The log first: a command piped in (scripts/profile.sh) may rebuild the module before
  // it ends.
  const input = readFileSync(0, "utf8");
  const debug = readFileSync(args[0]);
  if (args[1] && !strip(debug).equals(readFileSync(args[1]))) {
    console.error(`${args[0]} does not belong to ${args[1]}: build both with scripts/build-worker.sh`);
    process.exit(1);
  }
  const names = functionNames(debug);
  process.stdout.write(
    input.replace(/wasm-function\[(\d+)\]/g, (m, i) => (names.has(Number(i)) ? `${m} <${names.get(Number(i))}>` : m)),
  );
} else if (command === "name" && args.length >= 2) {
  const names = functionNames(readFileSync(args[0]));
  for (const i of args.slice(1)) console.log(`${i}\t${names.get(Number(i)) ?? "(no name)"}`);
} else {
  console.error("usage: wasm-names.mjs strip IN OUT | symbolize DEBUG.wasm [DEPLOYED.wasm] | name DEBUG.wasm N...");
  process.exit(2);
}
