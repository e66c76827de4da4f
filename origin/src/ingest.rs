//! Applying ingest batches exactly once, and finalizing a Pacific day.
//!
//! A batch is validated completely before Postgres is touched, then applied in ONE
//! transaction whose first statement claims the batch id: a second copy of the batch,
//! sequential or racing (from another origin replica too), finds the id taken and
//! commits nothing else. Rows go in as a handful of `UNNEST` statements whatever the
//! batch size ([`store`]).
//!
//! One bad record never blocks the rest. A batch is refused whole only for what makes it
//! unreadable as a batch (not JSON, too many rows or bytes, a bad id); a row that fails
//! validation, or that Postgres refuses (a data or constraint error: the batch is then
//! retried row by row, each in its own savepoint), goes to `dead_letters` with its reason
//! ([`dead_letters`]) in the same transaction, and the other rows land.
//!
//! The server applies batches through [`IngestWriter`] (group commit: batches arriving
//! together share one transaction, each in its own savepoint).
//!
//! Status codes are a contract with the worker's drain, and the origin signs its answers
//! (`routes::ingest`): a signed 2xx means "forget the batch"; a signed 4xx means the batch
//! can never be applied (the worker sets it aside rather than retrying); 5xx means "try
//! again later". That is why a counter for a launch that does not exist (yet) is accepted
//! rather than refused: see `migrations/*_ingest.sql`.
//!
//! Counters whose metric starts with [`EDGE_METRIC_PREFIX`] are the worker's own
//! operational counters (cache hits, dead letters...): they go to `edge_counters`, in the
//! same transaction, never to the launch metrics (see `migrations/*_dashboard.sql`).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use launch_edge_proto::batch::{
    IngestAck, PhPostStat, MAX_BATCH_BYTES, MAX_BATCH_ID_LEN, MAX_BATCH_ROWS,
};
use launch_edge_proto::uniques;
use serde::Deserialize;
use serde_json::value::RawValue;
use sqlx::{Acquire, Postgres, Transaction};

use crate::error::AppError;
use rows::{check_row, label};

pub mod dead_letters;
mod rows;
mod store;
mod writer;
pub use writer::{IngestWriter, GROUP_WINDOW, MAX_GROUP};

/// Largest single delta accepted. Bounds every sum in a batch and keeps stored totals far
/// from `i64::MAX`, so an overflow can never turn a batch into an endless retry.
pub const MAX_DELTA_VALUE: i64 = 1_000_000_000_000_000;
const MAX_LABEL_LEN: usize = 200;
const MAX_METRIC_LEN: usize = 64;
/// Marks a counter row as a worker operational counter rather than a launch metric.
pub const EDGE_METRIC_PREFIX: &str = "edge_";

/// `(launch, minute, source, metric)`; ordered so every transaction locks rows in the
/// same order and two concurrent batches cannot deadlock on each other.
type MinuteKey = (String, i64, String, String);
/// `(launch, day, source, medium, campaign, metric)`: the day table also keeps the utm
/// medium and campaign (`""` for none); the minute table sums over them.
type DayKey = (String, NaiveDate, String, String, String, String);
/// `(launch or "" for worker-wide, day, counter name without the prefix)`.
type EdgeKey = (String, NaiveDate, String);

/// The kinds of rows a batch carries (the `dead_letters.kind` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    Counter,
    Uniques,
    WebhookEvent,
    PhStat,
}

impl RowKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RowKind::Counter => "counter",
            RowKind::Uniques => "uniques",
            RowKind::WebhookEvent => "webhook_event",
            RowKind::PhStat => "ph_stat",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [
            RowKind::Counter,
            RowKind::Uniques,
            RowKind::WebhookEvent,
            RowKind::PhStat,
        ]
        .into_iter()
        .find(|k| k.as_str() == raw)
    }
}

/// One valid row, as applied on its own (row-by-row fallback, requeue).
#[derive(Debug, Clone)]
pub(crate) enum RowWrite {
    Counter {
        minute: MinuteKey,
        day: DayKey,
        value: i64,
    },
    Edge(EdgeKey, i64),
    Sketch((String, NaiveDate), Vec<u8>),
    Event(ValidEvent),
    PhStat(PhPostStat),
    /// A zero delta: valid, writes nothing.
    Nothing,
}

/// A row with where it came from, kept for the fallback and for dead-lettering.
#[derive(Debug, Clone)]
pub(crate) struct SourcedRow<T> {
    kind: RowKind,
    ordinal: i32,
    raw: String,
    item: T,
}

/// A batch that passed validation: sums per key, sketches decoded and pre-merged, and
/// the rows that did not pass, with their reasons.
#[derive(Debug, Default)]
pub struct ValidBatch {
    pub batch_id: String,
    pub shard: String,
    pub rows: i32,
    minute: BTreeMap<MinuteKey, i64>,
    day: BTreeMap<DayKey, i64>,
    sketches: BTreeMap<(String, NaiveDate), Vec<u8>>,
    events: Vec<ValidEvent>,
    edge: BTreeMap<EdgeKey, i64>,
    ph_stats: Vec<PhPostStat>,
    /// Every valid row on its own, in batch order (for the row-by-row fallback).
    writes: Vec<SourcedRow<RowWrite>>,
    /// Rows refused by validation: `item` is the reason code.
    rejected: Vec<SourcedRow<String>>,
    /// The producer's drain age and outbound budgets, for `/metrics`.
    pub telemetry: launch_edge_proto::batch::BatchTelemetry,
}

impl ValidBatch {
    /// Rows refused by validation, as `(kind, reason)`.
    pub fn rejected(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.rejected
            .iter()
            .map(|r| (r.kind.as_str(), r.item.as_str()))
    }
}

#[derive(Debug, Clone)]
pub(crate) struct ValidEvent {
    source: String,
    event_id: String,
    event_type: String,
    received_at: DateTime<Utc>,
    payload: String,
}

/// The batch as read before its rows: each row stays raw until validated on its own.
#[derive(Deserialize)]
struct Envelope<'a> {
    batch_id: String,
    shard: String,
    #[serde(default, borrow)]
    counters: Vec<&'a RawValue>,
    #[serde(default, borrow)]
    uniques: Vec<&'a RawValue>,
    #[serde(default, borrow)]
    webhook_events: Vec<&'a RawValue>,
    #[serde(default, borrow)]
    ph_stats: Vec<&'a RawValue>,
    /// What the producer reports about itself (`/metrics` only), see `launch_edge_proto::batch::BatchTelemetry`.
    #[serde(default)]
    oldest_event_ms: Option<i64>,
    #[serde(default)]
    outbound_budgets: Vec<launch_edge_proto::batch::OutboundBudget>,
}

/// Parses a Pacific day strictly as `YYYY-MM-DD` (chrono alone would accept `2026-1-5`).
pub fn parse_day(raw: &str) -> Result<NaiveDate, AppError> {
    let shaped = raw.len() == 10
        && raw.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    if !shaped {
        return Err(AppError::BadRequest("invalid_day"));
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| AppError::BadRequest("invalid_day"))
}

impl ValidBatch {
    /// Adds a valid row to the batch's merged writes.
    fn absorb(&mut self, write: &RowWrite) -> Result<(), AppError> {
        match write {
            RowWrite::Counter { minute, day, value } => {
                // Sums cannot overflow: at most MAX_BATCH_ROWS deltas of at most MAX_DELTA_VALUE.
                *self.minute.entry(minute.clone()).or_default() += value;
                *self.day.entry(day.clone()).or_default() += value;
            }
            RowWrite::Edge(key, value) => *self.edge.entry(key.clone()).or_default() += value,
            RowWrite::Sketch(key, bytes) => {
                let merged = match self.sketches.remove(key) {
                    Some(earlier) => uniques::merge_serialized(&earlier, bytes)
                        .map_err(|_| AppError::BadRequest("malformed_sketch"))?,
                    None => bytes.clone(),
                };
                self.sketches.insert(key.clone(), merged);
            }
            RowWrite::Event(e) => self.events.push(e.clone()),
            RowWrite::PhStat(p) => self.ph_stats.push(p.clone()),
            RowWrite::Nothing => {}
        }
        Ok(())
    }
}

/// Parses and validates a raw batch body. Pure: no database, no clock. `Err` only for
/// what refuses the batch whole; a bad row is kept in the batch as a dead letter.
pub fn validate(body: &[u8]) -> Result<ValidBatch, AppError> {
    if body.len() > MAX_BATCH_BYTES {
        return Err(AppError::BatchTooLarge);
    }
    let envelope: Envelope =
        serde_json::from_slice(body).map_err(|_| AppError::BadRequest("malformed_json"))?;
    let rows = launch_edge_proto::batch::batch_rows(
        envelope.counters.len(),
        envelope.uniques.len(),
        envelope.webhook_events.len(),
        envelope.ph_stats.len(),
    );
    if rows > MAX_BATCH_ROWS {
        return Err(AppError::TooManyRows);
    }
    let batch_label =
        |raw: &str, code| label(raw, MAX_BATCH_ID_LEN, code).map_err(AppError::BadRequest);
    batch_label(&envelope.batch_id, "invalid_batch_id")?;
    batch_label(&envelope.shard, "invalid_shard")?;
    let mut valid = ValidBatch {
        rows: i32::try_from(rows).map_err(|_| AppError::TooManyRows)?,
        telemetry: launch_edge_proto::batch::BatchTelemetry {
            oldest_event_ms: envelope.oldest_event_ms,
            outbound_budgets: envelope.outbound_budgets,
        },
        ..ValidBatch::default()
    };
    let lists = [
        (RowKind::Counter, &envelope.counters),
        (RowKind::Uniques, &envelope.uniques),
        (RowKind::WebhookEvent, &envelope.webhook_events),
        (RowKind::PhStat, &envelope.ph_stats),
    ];
    for (kind, list) in lists {
        for (ordinal, raw) in list.iter().enumerate() {
            let ordinal = i32::try_from(ordinal).map_err(|_| AppError::TooManyRows)?;
            let raw = raw.get().to_owned();
            match check_row(kind, &raw) {
                Ok(write) => {
                    valid.absorb(&write)?;
                    valid.writes.push(SourcedRow {
                        kind,
                        ordinal,
                        raw,
                        item: write,
                    });
                }
                Err(reason) => valid.rejected.push(SourcedRow {
                    kind,
                    ordinal,
                    raw,
                    item: reason.to_owned(),
                }),
            }
        }
    }
    // Same lock order in every transaction (as for the counter keys); a stable sort keeps
    // the first copy of an in-batch duplicate first, and that copy is the one stored.
    valid
        .events
        .sort_by(|a, b| (&a.source, &a.event_id).cmp(&(&b.source, &b.event_id)));
    valid.batch_id = envelope.batch_id;
    valid.shard = envelope.shard;
    Ok(valid)
}

/// The dead-letter reason for an error a single row caused, or `None` when the error is
/// not the row's fault (a lost connection, a deadlock) and the batch must be retried.
fn row_fault(error: &AppError) -> Option<String> {
    match error {
        AppError::Database(sqlx::Error::Database(db)) => {
            let code = db.code()?;
            // Class 22: data exception (e.g. 22P05, a NUL in jsonb); 23: constraint.
            (code.starts_with("22") || code.starts_with("23")).then(|| format!("database:{code}"))
        }
        AppError::Unprocessable(code) => Some((*code).to_owned()),
        _ => None,
    }
}

/// Applies a validated batch inside `tx` (a transaction or a savepoint), claiming its id
/// first; a batch id seen before writes nothing and is acknowledged as not applied.
async fn apply_in(
    tx: &mut Transaction<'_, Postgres>,
    batch: &ValidBatch,
) -> Result<IngestAck, AppError> {
    // A racing copy of this batch blocks here on the primary key until we commit, then
    // sees the conflict; if we roll back instead, it proceeds and applies the batch.
    let claimed = sqlx::query(
        "INSERT INTO ingested_batches (batch_id, shard, rows) VALUES ($1, $2, $3)
         ON CONFLICT (batch_id) DO NOTHING",
    )
    .bind(&batch.batch_id)
    .bind(&batch.shard)
    .bind(batch.rows)
    .execute(&mut **tx)
    .await?
    .rows_affected()
        == 1;
    if !claimed {
        return Ok(IngestAck {
            batch_id: batch.batch_id.clone(),
            applied: false,
            dead_letters: 0,
        });
    }
    let mut dead = batch
        .rejected
        .iter()
        .map(|r| dead_letters::Refused::of(r, r.item.clone()))
        .collect::<Vec<_>>();
    let mut all_at_once = (&mut *tx).begin().await?;
    match apply_merged(&mut all_at_once, batch).await {
        Ok(()) => all_at_once.commit().await?,
        Err(e) if row_fault(&e).is_some() => {
            all_at_once.rollback().await?;
            tracing::warn!(batch_id = %batch.batch_id, error = %e, "a row failed; applying the batch row by row");
            for row in &batch.writes {
                let mut one = (&mut *tx).begin().await?;
                match apply_row(&mut one, &row.item).await {
                    Ok(()) => one.commit().await?,
                    Err(e) => {
                        one.rollback().await?;
                        let Some(reason) = row_fault(&e) else {
                            return Err(e);
                        };
                        dead.push(dead_letters::Refused::of(row, reason));
                    }
                }
            }
        }
        Err(e) => return Err(e),
    }
    dead_letters::insert(tx, &batch.batch_id, &batch.shard, &dead).await?;
    if !dead.is_empty() {
        tracing::warn!(batch_id = %batch.batch_id, rows = dead.len(), "rows dead-lettered");
    }
    Ok(IngestAck {
        batch_id: batch.batch_id.clone(),
        applied: true,
        dead_letters: u32::try_from(dead.len()).unwrap_or(u32::MAX),
    })
}

/// Every valid row of the batch in a few statements.
async fn apply_merged(
    tx: &mut Transaction<'_, Postgres>,
    batch: &ValidBatch,
) -> Result<(), AppError> {
    store::upsert_minutes(tx, &batch.minute).await?;
    store::upsert_days(tx, &batch.day).await?;
    store::merge_sketches(tx, &batch.sketches).await?;
    store::insert_events(tx, &batch.events).await?;
    store::upsert_edge(tx, &batch.edge).await?;
    store::insert_ph_stats(tx, &batch.ph_stats).await?;
    Ok(())
}

/// One row on its own.
pub(crate) async fn apply_row(
    tx: &mut Transaction<'_, Postgres>,
    write: &RowWrite,
) -> Result<(), AppError> {
    match write {
        RowWrite::Counter { minute, day, value } => {
            store::upsert_minutes(tx, &BTreeMap::from([(minute.clone(), *value)])).await?;
            store::upsert_days(tx, &BTreeMap::from([(day.clone(), *value)])).await?;
        }
        RowWrite::Edge(key, value) => {
            store::upsert_edge(tx, &BTreeMap::from([(key.clone(), *value)])).await?;
        }
        RowWrite::Sketch(key, bytes) => {
            store::merge_sketches(tx, &BTreeMap::from([(key.clone(), bytes.clone())])).await?;
        }
        RowWrite::Event(e) => store::insert_events(tx, std::slice::from_ref(e)).await?,
        RowWrite::PhStat(p) => store::insert_ph_stats(tx, std::slice::from_ref(p)).await?,
        RowWrite::Nothing => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests;
