//! Putting a set-aside batch back into a shard's drain.

use std::collections::BTreeMap;

use launch_edge_proto::batch::IngestBatch;
use launch_edge_proto::uniques::VisitorSketch;

use super::{CounterKey, CounterState, StorageOp};

impl CounterState {
    /// Puts a batch the origin refused (and the glue set aside) back into the drain: its
    /// counter rows return to `pending` and its sketches are merged into their day's
    /// sketch, marked changed, so they leave again in new batches cut within the limits.
    /// The live totals are not touched: they counted these events already. The glue
    /// deletes the set-aside copy in the same storage writes, so nothing is drained twice.
    pub fn requeue(&mut self, batch: &IngestBatch) -> Vec<StorageOp> {
        let mut ops = Vec::new();
        for delta in &batch.counters {
            // Its events are older than any hint the row has: as old as its minute.
            self.arrived.forget(&CounterKey::of(delta));
            let pending = self.pending.entry(CounterKey::of(delta)).or_insert(0);
            *pending = pending.saturating_add(delta.value);
            ops.push(StorageOp::AddPending(delta.clone()));
        }
        for u in &batch.uniques {
            let Ok(sketch) = VisitorSketch::from_base64(&u.sketch) else {
                continue;
            };
            let state = self
                .days
                .entry((u.launch.clone(), u.day.clone()))
                .or_default();
            let ranks: BTreeMap<u16, u8> = sketch.nonzero_registers().collect();
            for (index, rank) in &ranks {
                state.sketch.raise_register(*index, *rank);
            }
            state.sketch_dirty = true;
            ops.push(StorageOp::RaiseRegisters {
                launch: u.launch.clone(),
                day: u.day.clone(),
                ranks,
            });
        }
        ops
    }
}
