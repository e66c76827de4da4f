// Batch ids are globally unique: a worker whose local state was wiped (or a second
// environment writing to the same Postgres) starts its shards' sequences again, and its
// batches must still be applied, not taken for resends of batches applied long ago.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { rmSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Origin, Worker, freshDatabase, seedLaunch, psql, sleep, eventually, storedTotal } from "./harness.mjs";

const CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36";
let db, origin, worker;
const dirs = [];

before(async () => {
  db = freshDatabase();
  origin = await new Origin(db).start();
  seedLaunch(db, "reborn", "Reborn");
});

after(async () => {
  await worker?.stop();
  await origin?.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const total = () => storedTotal(db, "reborn", "click");

/** A worker with fresh local state (its own persistence directory), on one shard. */
async function freshWorker() {
  const dir = mkdtempSync(join(tmpdir(), "launch-edge-incarnation-"));
  dirs.push(dir);
  return new Worker({ originUrl: origin.url, persistTo: dir, vars: { COUNTER_SHARDS: "1" } }).start();
}

async function clicks(from, count) {
  for (let n = from; n < from + count; n++) {
    const res = await worker.fetch("/go/reborn?to=signup", { headers: { "user-agent": `${CHROME} v/${n}`, "cf-connecting-ip": `10.9.0.${n}` } });
    assert.equal(res.status, 302);
  }
}

test("a shard whose local state was wiped never reuses a batch id the origin applied", async () => {
  worker = await freshWorker();
  await clicks(0, 3);
  await eventually(total, 3);
  const firstIds = psql(db, "SELECT string_agg(batch_id, ' ') FROM ingested_batches WHERE shard = 'reborn/0'").split(" ");
  await worker.stop();

  // The same shard name starts again from sequence 1 in a new incarnation.
  worker = await freshWorker();
  await clicks(10, 2);
  await eventually(total, 5);
  await sleep(2_000);
  assert.equal(total(), 5);
  const ids = psql(db, "SELECT string_agg(batch_id, ' ' ORDER BY applied_at) FROM ingested_batches WHERE shard = 'reborn/0'").split(" ");
  const incarnation = (id) => id.split(":")[1];
  const later = ids.filter((id) => !firstIds.includes(id));
  assert.ok(later.length >= 1);
  assert.notEqual(incarnation(later[0]), incarnation(firstIds[0]));
  assert.match(later[0], /^reborn\/0:[0-9a-f]{32}:\d+$/);
});
