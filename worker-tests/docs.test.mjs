// The documentation a user copies from: every relative link in README.md and docs/*.md
// resolves inside the repository (file and, where given, heading anchor), and every
// command in the README's shell blocks exists (scripts, origin subcommands, npm binaries).
import test from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { dirname, join, relative } from "node:path";
import { ROOT } from "./harness.mjs";

const DOCS = ["README.md", ...readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];
const read = (file) => readFileSync(join(ROOT, file), "utf8");
/** Prose only: links inside code blocks and inline code are examples, not links. */
const prose = (text) => text.replace(/```[\s\S]*?```/g, "").replace(/`[^`\n]*`/g, "");
/** GitHub's heading anchors: lowercase, punctuation dropped, spaces to dashes. */
const anchors = (text) => new Set(prose(text.replace(/`/g, "")).split("\n").filter((l) => /^#{1,6} /.test(l))
  .map((l) => l.replace(/^#+ /, "").trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, "").replace(/ /g, "-")));

test("every relative link in the README and docs/ resolves inside the repository", () => {
  const broken = [];
  for (const file of DOCS) {
    for (const [, target] of prose(read(file)).matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/i.test(target)) continue; // https:, mailto:
      const [path, anchor] = target.split("#");
      const resolved = path ? join(ROOT, dirname(file), path) : join(ROOT, file);
      if (!resolved.startsWith(ROOT) || relative(ROOT, resolved).startsWith("..")) broken.push(`${file}: ${target} leaves the repository`);
      else if (!existsSync(resolved)) broken.push(`${file}: ${target} does not exist`);
      else if (anchor && resolved.endsWith(".md") && !anchors(readFileSync(resolved, "utf8")).has(anchor)) broken.push(`${file}: ${target} has no heading #${anchor}`);
    }
  }
  assert.deepEqual(broken, []);
});

/** The commands of the README's ```sh blocks (one per line, continuation lines joined) and
 *  of its inline code that starts like a command (`bash scripts/...`, `npx ...`). */
function readmeCommands() {
  const text = read("README.md");
  const blocks = [...text.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]);
  const lines = blocks.flatMap((b) => b.replace(/\\\n\s*/g, " ").split("\n")).map((l) => l.replace(/\s+#.*$/, "").trim()).filter((l) => l && !l.startsWith("#"));
  const inline = [...text.replace(/```[\s\S]*?```/g, "").matchAll(/`((?:[A-Z_]+=\S+ )*(?:bash scripts\/|npx |launch-edge-origin )[^`]+)`/g)].map((m) => m[1]);
  return [...lines, ...inline];
}

test("every script, origin subcommand and npm binary the README's shell blocks run exists", () => {
  const commands = readmeCommands();
  assert.ok(commands.length > 20, `only ${commands.length} commands found`);
  const help = execFileSync(join(ROOT, "target", "debug", "launch-edge-origin"), ["--help"], { encoding: "utf8" });
  const subcommands = new Set([...help.matchAll(/^ {2}([a-z-]+)\s/gm)].map((m) => m[1]));
  const missing = [];
  for (const line of commands) {
    for (const [, script] of line.matchAll(/(?:^|\s)(?:bash\s+)?((?:scripts|bench|worker-tests)\/[\w./-]+\.(?:sh|mjs))/g)) {
      if (!existsSync(join(ROOT, script))) missing.push(`${line}: ${script} does not exist`);
    }
    const origin = line.match(/(?:launch-edge-origin|\$ORIGIN|cargo run -q? ?--manifest-path origin\/Cargo\.toml --)\s+([a-z-]+)/);
    if (origin && !subcommands.has(origin[1])) missing.push(`${line}: the origin has no subcommand ${origin[1]}`);
    const npx = line.match(/npx\s+([\w-]+)/);
    if (npx && !existsSync(join(ROOT, "node_modules", ".bin", npx[1]))) missing.push(`${line}: npx ${npx[1]} is not installed by npm ci`);
  }
  assert.deepEqual(missing, []);
});
