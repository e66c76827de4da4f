//! Tests of the counter state; helpers shared by both halves live here.
//!
//! - [`exactness`]: counts, batches, acks, resends, restarts and storage ops.
//! - [`dimensions`]: days, minutes, sources, visitors, conversions, shards and stats.
//! - [`batch_limits`]: batch sizes within the origin's limits, ids, requeued batches.

mod batch_limits;
mod dimensions;
mod exactness;

use std::collections::{BTreeMap, HashSet};

use launch_edge_proto::batch::IngestBatch;

use super::*;

/// 2026-06-15 12:00:00 PDT.
pub(super) const NOON_MS: i64 = 1_781_550_000_000;

pub(super) fn view(at_ms: i64, source: &str, visitor: Option<u64>) -> CountedEvent {
    CountedEvent {
        launch: "acme".into(),
        kind: EventKind::View,
        source: source.into(),
        medium: None,
        campaign: None,
        revenue_cents: 0,
        currency: None,
        at_ms,
        visitor,
        edge: Vec::new(),
    }
}

pub(super) fn purchase(at_ms: i64, cents: i64) -> CountedEvent {
    CountedEvent {
        kind: EventKind::Conversion(ConversionKind::Purchase),
        revenue_cents: cents,
        ..view(at_ms, "producthunt", Some(1))
    }
}

pub(super) fn shard() -> CounterState {
    CounterState::new("acme/0", Limits::default())
}

/// A deterministic pseudo-random sequence (SplitMix64).
pub(super) fn random(seed: &mut u64) -> u64 {
    *seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *seed;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A uniform 64-bit hash of `n`, standing in for a SHA-256 visitor hash.
pub(super) fn mix(n: u64) -> u64 {
    let mut seed = n;
    random(&mut seed)
}

/// The origin's side: applies each batch id once, sums by (day, metric).
#[derive(Default)]
pub(super) struct FakeOrigin {
    applied: HashSet<String>,
    sums: BTreeMap<(String, String), i64>,
}

impl FakeOrigin {
    fn ingest(&mut self, batch: &IngestBatch) -> bool {
        if !self.applied.insert(batch.batch_id.clone()) {
            return false;
        }
        for delta in &batch.counters {
            *self
                .sums
                .entry((delta.day.clone(), delta.metric.clone()))
                .or_insert(0) += delta.value;
        }
        true
    }

    fn sum(&self, day: &str, metric: &str) -> i64 {
        self.sums
            .get(&(day.to_owned(), metric.to_owned()))
            .copied()
            .unwrap_or(0)
    }
}

/// Sends and acks batches until nothing is left.
pub(super) fn drain(state: &mut CounterState, origin: &mut FakeOrigin, max_rows: usize) {
    while let Some(out) = state.take_batch(max_rows) {
        origin.ingest(&out.batch);
        state.ack(&out.batch.batch_id).expect("in-flight id acks");
    }
}

/// Applies ops the way the SQL in `storage` does, to check the op stream is complete.
#[derive(Default)]
pub(super) struct FakeStore {
    next_seq: Option<i64>,
    batches: BTreeMap<String, String>,
    pending: BTreeMap<CounterKey, i64>,
    totals: BTreeMap<(String, String, String, String), i64>,
    registers: BTreeMap<(String, String, u16), u8>,
    dirty: std::collections::BTreeSet<(String, String)>,
    labels: std::collections::BTreeSet<(String, String, &'static str, String)>,
}

impl FakeStore {
    fn run(&mut self, ops: &[StorageOp]) {
        for op in ops {
            assert!(!op.statements().is_empty());
            match op {
                StorageOp::AddPending(d) => {
                    *self.pending.entry(CounterKey::of(d)).or_insert(0) += d.value
                }
                StorageOp::AddTotal(t) => {
                    let key = (
                        t.launch.clone(),
                        t.day.clone(),
                        t.source.clone(),
                        t.metric.clone(),
                    );
                    *self.totals.entry(key).or_insert(0) += t.value;
                }
                StorageOp::AdmitLabel(l) => {
                    self.labels.insert((
                        l.launch.clone(),
                        l.day.clone(),
                        l.dimension.as_str(),
                        l.label.clone(),
                    ));
                }
                StorageOp::RaiseRegister(r) => {
                    let cell = self
                        .registers
                        .entry((r.launch.clone(), r.day.clone(), r.index))
                        .or_insert(0);
                    *cell = (*cell).max(r.rank);
                    self.dirty.insert((r.launch.clone(), r.day.clone()));
                }
                StorageOp::RaiseRegisters { launch, day, ranks } => {
                    for (&index, &rank) in ranks {
                        let cell = self
                            .registers
                            .entry((launch.clone(), day.clone(), index))
                            .or_insert(0);
                        *cell = (*cell).max(rank);
                    }
                    self.dirty.insert((launch.clone(), day.clone()));
                }
                StorageOp::RemovePending(k) => {
                    self.pending.remove(k);
                }
                StorageOp::CleanSketch { launch, day } => {
                    self.dirty.remove(&(launch.clone(), day.clone()));
                }
                StorageOp::SaveBatch { seq, batch } => {
                    let body = serde_json::to_string(batch).unwrap();
                    self.batches.insert(batch.batch_id.clone(), body);
                    self.next_seq = Some(*seq as i64 + 1);
                }
                StorageOp::DeleteBatch { batch_id } => {
                    self.batches.remove(batch_id);
                }
                StorageOp::ForgetDay { launch, day } => {
                    self.totals
                        .retain(|(l, d, _, _), _| !(l == launch && d == day));
                    self.registers
                        .retain(|(l, d, _), _| !(l == launch && d == day));
                    self.dirty.remove(&(launch.clone(), day.clone()));
                    self.labels
                        .retain(|(l, d, _, _)| !(l == launch && d == day));
                }
            }
        }
    }

    fn stored(&self) -> StoredShard {
        StoredShard {
            next_seq: self.next_seq,
            batches: self.batches.values().cloned().collect(),
            pending: self.pending.iter().map(|(k, v)| k.delta(*v)).collect(),
            totals: self
                .totals
                .iter()
                .map(|((launch, day, source, metric), value)| TotalRow {
                    launch: launch.clone(),
                    day: day.clone(),
                    source: source.clone(),
                    metric: metric.clone(),
                    value: *value,
                })
                .collect(),
            registers: self
                .registers
                .iter()
                .map(|((l, d, i), r)| (l.clone(), d.clone(), i64::from(*i), i64::from(*r)))
                .collect(),
            dirty_sketches: self.dirty.iter().cloned().collect(),
            labels: self
                .labels
                .iter()
                .map(|(l, d, dim, label)| (l.clone(), d.clone(), (*dim).to_owned(), label.clone()))
                .collect(),
        }
    }
}
