//! How a counter shard lives in its Durable Object's SQLite storage: tables, the row
//! writes each state change needs, and the rebuild after a restart.
//!
//! Rows rather than one serialized blob: an event changes a few counters and at most one
//! sketch register, so it costs a few tiny upserts instead of rewriting every counter
//! and 16 KiB per sketch, and SQLite's `ON CONFLICT ... DO UPDATE` adds deltas exactly.
//! A batch of events ([`coalesce`]) writes each counter row once and all the registers
//! it raised in one statement per day.
//!
//! The glue, in the Durable Object:
//! - once per instance: run each statement of [`SCHEMA`];
//! - on start: run the `SELECT_*` queries, fill a [`StoredShard`], call
//!   `CounterState::restore`;
//! - after every `apply`, `take_batch` (when it returns ops), `ack` and
//!   `forget_days_before`: for each op, for each `(sql, params)` of
//!   [`StorageOp::statements`], `sql.exec(sql, ...params)`, with no `await` in between
//!   so the writes commit together.

use std::collections::BTreeMap;

use launch_edge_proto::batch::{CounterDelta, IngestBatch};
use launch_edge_proto::uniques::{MAX_RANK, REGISTERS};

use super::{CounterKey, CounterState, DayId, Dimension, Limits};

/// Table definitions and migrations, one statement each (idempotent, run in order).
///
/// Pending rows live in `counter_pending_v2`, keyed by medium and campaign too. The first
/// table, `counter_pending` (without them), is still created so that the next two
/// statements are valid everywhere: they move whatever an older version of the shard
/// left there into the new table (as rows without medium and campaign), which leaves it
/// empty, so on every later start they touch no row.
pub const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS counter_pending (launch TEXT NOT NULL, day TEXT NOT NULL, \
     minute INTEGER NOT NULL, source TEXT NOT NULL, metric TEXT NOT NULL, \
     value INTEGER NOT NULL, PRIMARY KEY (launch, day, minute, source, metric))",
    "CREATE TABLE IF NOT EXISTS counter_pending_v2 (launch TEXT NOT NULL, \
     day TEXT NOT NULL, minute INTEGER NOT NULL, source TEXT NOT NULL, \
     medium TEXT NOT NULL, campaign TEXT NOT NULL, metric TEXT NOT NULL, \
     value INTEGER NOT NULL, \
     PRIMARY KEY (launch, day, minute, source, medium, campaign, metric))",
    "INSERT INTO counter_pending_v2 (launch, day, minute, source, medium, campaign, metric, \
     value) SELECT launch, day, minute, source, '', '', metric, value FROM counter_pending \
     WHERE true ON CONFLICT (launch, day, minute, source, medium, campaign, metric) \
     DO UPDATE SET value = value + excluded.value",
    "DELETE FROM counter_pending",
    "CREATE TABLE IF NOT EXISTS counter_labels (launch TEXT NOT NULL, day TEXT NOT NULL, \
     dimension TEXT NOT NULL, label TEXT NOT NULL, \
     PRIMARY KEY (launch, day, dimension, label))",
    "CREATE TABLE IF NOT EXISTS counter_totals (launch TEXT NOT NULL, day TEXT NOT NULL, \
     source TEXT NOT NULL, metric TEXT NOT NULL, value INTEGER NOT NULL, \
     PRIMARY KEY (launch, day, source, metric))",
    "CREATE TABLE IF NOT EXISTS counter_registers (launch TEXT NOT NULL, day TEXT NOT NULL, \
     idx INTEGER NOT NULL, value INTEGER NOT NULL, PRIMARY KEY (launch, day, idx))",
    "CREATE TABLE IF NOT EXISTS counter_dirty_sketches (launch TEXT NOT NULL, \
     day TEXT NOT NULL, PRIMARY KEY (launch, day))",
    "CREATE TABLE IF NOT EXISTS counter_batches (batch_id TEXT PRIMARY KEY, \
     seq INTEGER NOT NULL, body TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS counter_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
];

/// Columns: value (the next batch sequence number; no row means 1).
pub const SELECT_NEXT_SEQ: &str = "SELECT value FROM counter_meta WHERE key = 'next_seq'";
/// Columns: body (the in-flight batch as JSON; at most one row).
pub const SELECT_BATCHES: &str = "SELECT body FROM counter_batches ORDER BY seq";
/// Columns: launch, day, minute, source, medium, campaign, metric, value.
pub const SELECT_PENDING: &str = "SELECT launch, day, minute, source, medium, campaign, \
     metric, value FROM counter_pending_v2";
/// Columns: launch, day, dimension, label (mediums and campaigns holding a slot).
pub const SELECT_LABELS: &str = "SELECT launch, day, dimension, label FROM counter_labels";
/// Columns: launch, day, source, metric, value.
pub const SELECT_TOTALS: &str = "SELECT launch, day, source, metric, value FROM counter_totals";
/// Columns: launch, day, idx, value.
pub const SELECT_REGISTERS: &str = "SELECT launch, day, idx, value FROM counter_registers";
/// Columns: launch, day.
pub const SELECT_DIRTY_SKETCHES: &str = "SELECT launch, day FROM counter_dirty_sketches";

const ADD_PENDING: &str = "INSERT INTO counter_pending_v2 (launch, day, minute, source, \
     medium, campaign, metric, value) VALUES (?, ?, ?, ?, ?, ?, ?, ?) \
     ON CONFLICT (launch, day, minute, source, medium, campaign, metric) \
     DO UPDATE SET value = value + excluded.value";
const ADMIT_LABEL: &str = "INSERT INTO counter_labels (launch, day, dimension, label) \
     VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING";
const ADD_TOTAL: &str = "INSERT INTO counter_totals (launch, day, source, metric, value) \
     VALUES (?, ?, ?, ?, ?) ON CONFLICT (launch, day, source, metric) \
     DO UPDATE SET value = value + excluded.value";
const RAISE_REGISTER: &str = "INSERT INTO counter_registers (launch, day, idx, value) \
     VALUES (?, ?, ?, ?) ON CONFLICT (launch, day, idx) \
     DO UPDATE SET value = max(value, excluded.value)";
/// The registers as one JSON object parameter (`{"index": rank, ...}`): Durable Object
/// SQLite allows 100 bound parameters per statement, a batch can raise hundreds.
const RAISE_REGISTERS: &str = "INSERT INTO counter_registers (launch, day, idx, value) \
     SELECT ?, ?, CAST(key AS INTEGER), value FROM json_each(?) WHERE true \
     ON CONFLICT (launch, day, idx) DO UPDATE SET value = max(value, excluded.value)";
const MARK_DIRTY: &str =
    "INSERT INTO counter_dirty_sketches (launch, day) VALUES (?, ?) ON CONFLICT DO NOTHING";
const REMOVE_PENDING: &str = "DELETE FROM counter_pending_v2 WHERE launch = ? AND day = ? \
     AND minute = ? AND source = ? AND medium = ? AND campaign = ? AND metric = ?";
const CLEAN_SKETCH: &str = "DELETE FROM counter_dirty_sketches WHERE launch = ? AND day = ?";
const SAVE_BATCH: &str = "INSERT INTO counter_batches (batch_id, seq, body) VALUES (?, ?, ?)";
const SET_NEXT_SEQ: &str = "INSERT INTO counter_meta (key, value) VALUES ('next_seq', ?) \
     ON CONFLICT (key) DO UPDATE SET value = excluded.value";
const DELETE_BATCH: &str = "DELETE FROM counter_batches WHERE batch_id = ?";
const FORGET_TOTALS: &str = "DELETE FROM counter_totals WHERE launch = ? AND day = ?";
const FORGET_REGISTERS: &str = "DELETE FROM counter_registers WHERE launch = ? AND day = ?";
const FORGET_LABELS: &str = "DELETE FROM counter_labels WHERE launch = ? AND day = ?";

/// A bound SQL parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqlValue {
    Integer(i64),
    Text(String),
}

/// One row of `counter_totals`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotalRow {
    pub launch: String,
    pub day: String,
    pub source: String,
    pub metric: String,
    pub value: i64,
}

/// One row of `counter_labels`: a medium or campaign that took one of its day's slots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelRow {
    pub launch: String,
    pub day: String,
    pub dimension: Dimension,
    pub label: String,
}

/// One row of `counter_registers`: a non-zero register of a day's visitor sketch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterRow {
    pub launch: String,
    pub day: String,
    pub index: u16,
    pub rank: u8,
}

/// A storage write that mirrors one state change.
#[derive(Debug, Clone, PartialEq)]
pub enum StorageOp {
    /// Add `value` to the pending counter row (insert it if absent).
    AddPending(CounterDelta),
    /// Add `value` to the day's total row.
    AddTotal(TotalRow),
    /// A medium or campaign took a slot of its day.
    AdmitLabel(LabelRow),
    /// Raise a sketch register to `rank` and mark the day's sketch as changed.
    RaiseRegister(RegisterRow),
    /// Raise several registers of one day's sketch at once (each to at least its rank)
    /// and mark the sketch as changed: one statement for a whole batch of visitors,
    /// made by [`coalesce`].
    RaiseRegisters {
        launch: String,
        day: String,
        ranks: BTreeMap<u16, u8>,
    },
    /// The row went into a batch: delete it.
    RemovePending(CounterKey),
    /// The day's sketch went into a batch.
    CleanSketch { launch: String, day: String },
    /// Store the new in-flight batch and advance the sequence past it.
    SaveBatch { seq: u64, batch: Box<IngestBatch> },
    /// The origin acknowledged the batch.
    DeleteBatch { batch_id: String },
    /// Drop an old day's totals and sketch.
    ForgetDay { launch: String, day: String },
}

fn text(value: &str) -> SqlValue {
    SqlValue::Text(value.to_owned())
}

fn int(value: impl Into<i64>) -> SqlValue {
    SqlValue::Integer(value.into())
}

impl StorageOp {
    /// The SQL statements (with `?` parameters) that perform this op, in order.
    pub fn statements(&self) -> Vec<(&'static str, Vec<SqlValue>)> {
        match self {
            StorageOp::AddPending(d) => vec![(
                ADD_PENDING,
                vec![
                    text(&d.launch),
                    text(&d.day),
                    int(d.minute),
                    text(&d.source),
                    text(&d.medium),
                    text(&d.campaign),
                    text(&d.metric),
                    int(d.value),
                ],
            )],
            StorageOp::AdmitLabel(l) => vec![(
                ADMIT_LABEL,
                vec![
                    text(&l.launch),
                    text(&l.day),
                    text(l.dimension.as_str()),
                    text(&l.label),
                ],
            )],
            StorageOp::AddTotal(t) => vec![(
                ADD_TOTAL,
                vec![
                    text(&t.launch),
                    text(&t.day),
                    text(&t.source),
                    text(&t.metric),
                    int(t.value),
                ],
            )],
            StorageOp::RaiseRegister(r) => vec![
                (
                    RAISE_REGISTER,
                    vec![text(&r.launch), text(&r.day), int(r.index), int(r.rank)],
                ),
                (MARK_DIRTY, vec![text(&r.launch), text(&r.day)]),
            ],
            StorageOp::RaiseRegisters { launch, day, ranks } => {
                // Serializing a map of integers cannot fail.
                let json = serde_json::to_string(ranks).unwrap_or_default();
                vec![
                    (
                        RAISE_REGISTERS,
                        vec![text(launch), text(day), SqlValue::Text(json)],
                    ),
                    (MARK_DIRTY, vec![text(launch), text(day)]),
                ]
            }
            StorageOp::RemovePending(k) => vec![(
                REMOVE_PENDING,
                vec![
                    text(&k.launch),
                    text(&k.day),
                    int(k.minute),
                    text(&k.source),
                    text(&k.medium),
                    text(&k.campaign),
                    text(&k.metric),
                ],
            )],
            StorageOp::CleanSketch { launch, day } => {
                vec![(CLEAN_SKETCH, vec![text(launch), text(day)])]
            }
            StorageOp::SaveBatch { seq, batch } => {
                // Serializing plain strings and integers cannot fail.
                let body = serde_json::to_string(batch).unwrap_or_default();
                let seq = i64::try_from(*seq).unwrap_or(i64::MAX);
                vec![
                    (
                        SAVE_BATCH,
                        vec![text(&batch.batch_id), int(seq), SqlValue::Text(body)],
                    ),
                    (SET_NEXT_SEQ, vec![int(seq.saturating_add(1))]),
                ]
            }
            StorageOp::DeleteBatch { batch_id } => vec![(DELETE_BATCH, vec![text(batch_id)])],
            StorageOp::ForgetDay { launch, day } => vec![
                (FORGET_TOTALS, vec![text(launch), text(day)]),
                (FORGET_REGISTERS, vec![text(launch), text(day)]),
                (FORGET_LABELS, vec![text(launch), text(day)]),
                (CLEAN_SKETCH, vec![text(launch), text(day)]),
            ],
        }
    }
}

/// Merges the ops of several `apply` calls so each row is written once: deltas to the
/// same pending or total row are summed, and the register raises of one day's sketch
/// become one [`StorageOp::RaiseRegisters`] keeping the highest rank per register. Every other op is kept as it is, in order, after the merged ones. The result
/// leaves storage exactly as running `ops` one by one would.
pub fn coalesce(ops: Vec<StorageOp>) -> Vec<StorageOp> {
    use std::collections::hash_map::{Entry, HashMap};
    let mut at: HashMap<MergeableRow, usize> = HashMap::new();
    let mut merged: Vec<StorageOp> = Vec::with_capacity(ops.len());
    let mut rest = Vec::new();
    for op in ops {
        match MergeableRow::of(&op) {
            None => rest.push(op),
            Some(row) => match at.entry(row) {
                Entry::Occupied(slot) => absorb(&mut merged[*slot.get()], op),
                Entry::Vacant(slot) => {
                    slot.insert(merged.len());
                    merged.push(match op {
                        StorageOp::RaiseRegister(r) => StorageOp::RaiseRegisters {
                            launch: r.launch,
                            day: r.day,
                            ranks: BTreeMap::from([(r.index, r.rank)]),
                        },
                        other => other,
                    });
                }
            },
        }
    }
    merged.extend(rest);
    merged
}

/// The row an additive op writes, for [`coalesce`].
#[derive(PartialEq, Eq, Hash)]
enum MergeableRow {
    Pending(CounterKey),
    Total(String, String, String, String),
    /// All registers of one day's sketch: merged into one `RaiseRegisters`.
    Sketch(String, String),
}

impl MergeableRow {
    fn of(op: &StorageOp) -> Option<Self> {
        match op {
            StorageOp::AddPending(d) => Some(Self::Pending(CounterKey::of(d))),
            StorageOp::AddTotal(t) => Some(Self::Total(
                t.launch.clone(),
                t.day.clone(),
                t.source.clone(),
                t.metric.clone(),
            )),
            StorageOp::RaiseRegister(RegisterRow { launch, day, .. })
            | StorageOp::RaiseRegisters { launch, day, .. } => {
                Some(Self::Sketch(launch.clone(), day.clone()))
            }
            _ => None,
        }
    }
}

/// Folds `op` into `kept`, an op on the same row.
fn absorb(kept: &mut StorageOp, op: StorageOp) {
    match (kept, op) {
        (StorageOp::AddPending(kept), StorageOp::AddPending(d)) => {
            kept.value = kept.value.saturating_add(d.value);
        }
        (StorageOp::AddTotal(kept), StorageOp::AddTotal(t)) => {
            kept.value = kept.value.saturating_add(t.value);
        }
        (StorageOp::RaiseRegisters { ranks, .. }, StorageOp::RaiseRegister(r)) => {
            let rank = ranks.entry(r.index).or_insert(r.rank);
            *rank = (*rank).max(r.rank);
        }
        (
            StorageOp::RaiseRegisters { ranks, .. },
            StorageOp::RaiseRegisters { ranks: more, .. },
        ) => {
            for (index, r) in more {
                let rank = ranks.entry(index).or_insert(r);
                *rank = (*rank).max(r);
            }
        }
        _ => unreachable!("MergeableRow keys only additive ops of one kind"),
    }
}

/// Everything the `SELECT_*` queries return, as the glue read it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoredShard {
    /// From [`SELECT_NEXT_SEQ`]; `None` when there is no row yet.
    pub next_seq: Option<i64>,
    /// Bodies from [`SELECT_BATCHES`].
    pub batches: Vec<String>,
    pub pending: Vec<CounterDelta>,
    pub totals: Vec<TotalRow>,
    /// `(launch, day, idx, value)` as read; validated on restore.
    pub registers: Vec<(String, String, i64, i64)>,
    pub dirty_sketches: Vec<(String, String)>,
    /// `(launch, day, dimension, label)` from [`SELECT_LABELS`]; validated on restore.
    pub labels: Vec<(String, String, String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestoreError {
    #[error("stored batch is not valid JSON: {0}")]
    BadBatch(String),
    #[error("more than one stored in-flight batch")]
    SeveralBatches,
    #[error("stored sketch register out of range")]
    BadRegister,
    #[error("stored sequence number is not positive")]
    BadSequence,
    #[error("stored label of an unknown dimension")]
    BadLabel,
}

impl CounterState {
    /// Rebuilds a shard's state from its stored rows (the inverse of all `StorageOp`s).
    pub fn restore(
        shard: impl Into<String>,
        limits: Limits,
        stored: StoredShard,
    ) -> Result<Self, RestoreError> {
        let mut state = CounterState::new(shard, limits);
        if let Some(seq) = stored.next_seq {
            state.next_seq = u64::try_from(seq)
                .ok()
                .filter(|s| *s > 0)
                .ok_or(RestoreError::BadSequence)?;
        }
        if stored.batches.len() > 1 {
            return Err(RestoreError::SeveralBatches);
        }
        if let Some(body) = stored.batches.first() {
            let batch: IngestBatch =
                serde_json::from_str(body).map_err(|e| RestoreError::BadBatch(e.to_string()))?;
            state.in_flight = Some(batch);
        }
        for delta in &stored.pending {
            *state.pending.entry(CounterKey::of(delta)).or_insert(0) += delta.value;
        }
        for (launch, day, dimension, label) in stored.labels {
            let dimension = Dimension::parse(&dimension).ok_or(RestoreError::BadLabel)?;
            dimension
                .slots(state.day_mut(&launch, &day))
                .restore_admitted(&label);
        }
        for row in stored.totals {
            let day = state.day_mut(&row.launch, &row.day);
            day.sources.restore_admitted(&row.source);
            *day.totals.entry((row.metric, row.source)).or_insert(0) += row.value;
        }
        for (launch, day, index, rank) in stored.registers {
            let index = u16::try_from(index).map_err(|_| RestoreError::BadRegister)?;
            let rank = u8::try_from(rank).map_err(|_| RestoreError::BadRegister)?;
            if usize::from(index) >= REGISTERS || rank == 0 || rank > MAX_RANK {
                return Err(RestoreError::BadRegister);
            }
            state
                .day_mut(&launch, &day)
                .sketch
                .raise_register(index, rank);
        }
        for (launch, day) in stored.dirty_sketches {
            state.day_mut(&launch, &day).sketch_dirty = true;
        }
        Ok(state)
    }

    fn day_mut(&mut self, launch: &str, day: &str) -> &mut super::DayState {
        let id: DayId = (launch.to_owned(), day.to_owned());
        self.days.entry(id).or_default()
    }
}
