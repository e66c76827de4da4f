//! Applying ingest batches exactly once, and finalizing a Pacific day.
//!
//! A batch is validated completely before Postgres is touched (bad input changes
//! nothing), then applied in ONE transaction whose first statement claims the batch id:
//! a second copy of the batch, sequential or racing, finds the id taken and commits
//! nothing else. Rows go in as a handful of `UNNEST` statements whatever the batch size.
//!
//! The server applies batches through [`IngestWriter`] (group commit: batches arriving
//! together share one transaction, each in its own savepoint).
//!
//! Status codes are a contract with the worker's drain: 2xx means "forget the delta";
//! 4xx means the batch can never be applied (the worker dead-letters it rather than
//! retrying); 5xx means "try again later". That is why a counter for a launch that does
//! not exist (yet) is accepted rather than refused: see `migrations/*_ingest.sql`.
//!
//! Counters whose metric starts with [`EDGE_METRIC_PREFIX`] are the worker's own
//! operational counters (cache hits, dead letters...): they go to `edge_counters`, in the
//! same transaction, never to the launch metrics (see `migrations/*_dashboard.sql`).

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chrono::{DateTime, NaiveDate, Utc};
use launch_edge_proto::batch::{IngestAck, IngestBatch, PhPostStat, MAX_BATCH_ROWS};
use launch_edge_proto::uniques;
use launch_edge_proto::Slug;
use sqlx::{Postgres, Transaction};

use crate::error::AppError;

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
type DayKey = (String, NaiveDate, String, String);
/// `(launch or "" for worker-wide, day, counter name without the prefix)`.
type EdgeKey = (String, NaiveDate, String);

/// A batch that passed validation: sums per key, sketches decoded and pre-merged.
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
}

#[derive(Debug)]
struct ValidEvent {
    source: String,
    event_id: String,
    event_type: String,
    received_at: DateTime<Utc>,
    payload: String,
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

fn label(raw: &str, max: usize, code: &'static str) -> Result<(), AppError> {
    let ok = !raw.is_empty() && raw.len() <= max && !raw.chars().any(char::is_control);
    ok.then_some(()).ok_or(AppError::BadRequest(code))
}

fn launch(raw: &str) -> Result<(), AppError> {
    Slug::parse(raw)
        .map(drop)
        .map_err(|_| AppError::BadRequest("invalid_launch"))
}

fn metric(raw: &str) -> Result<(), AppError> {
    let charset = raw
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'.'));
    label(raw, MAX_METRIC_LEN, "invalid_metric")?;
    if !charset {
        return Err(AppError::BadRequest("invalid_metric"));
    }
    // Revenue per currency (`revenue_cents.usd`): reports keep currencies apart by this
    // suffix, so a malformed one would be revenue in no currency at all.
    crate::reports::currency::is_valid_revenue_metric(raw)
        .then_some(())
        .ok_or(AppError::BadRequest("invalid_currency"))
}

/// Parses and validates a raw batch body. Pure: no database, no clock.
pub fn validate(body: &[u8]) -> Result<ValidBatch, AppError> {
    let batch: IngestBatch =
        serde_json::from_slice(body).map_err(|_| AppError::BadRequest("malformed_json"))?;
    let rows = batch.counters.len()
        + batch.uniques.len()
        + batch.webhook_events.len()
        + batch.ph_stats.len();
    if rows > MAX_BATCH_ROWS {
        return Err(AppError::TooManyRows);
    }
    label(&batch.batch_id, MAX_LABEL_LEN, "invalid_batch_id")?;
    label(&batch.shard, MAX_LABEL_LEN, "invalid_shard")?;
    let mut valid = ValidBatch {
        rows: i32::try_from(rows).map_err(|_| AppError::TooManyRows)?,
        ..ValidBatch::default()
    };
    for c in &batch.counters {
        let edge_name = c.metric.strip_prefix(EDGE_METRIC_PREFIX);
        // Worker-wide edge counters have no launch: the empty string stands for "none".
        if !(edge_name.is_some() && c.launch.is_empty()) {
            launch(&c.launch)?;
        }
        let day = parse_day(&c.day)?;
        if c.minute % 60 != 0 {
            return Err(AppError::BadRequest("minute_not_aligned"));
        }
        if c.minute < 0 || DateTime::from_timestamp(c.minute, 0).is_none() {
            return Err(AppError::BadRequest("invalid_minute"));
        }
        label(&c.source, MAX_LABEL_LEN, "invalid_source")?;
        metric(&c.metric)?;
        if c.value < 0 {
            return Err(AppError::BadRequest("negative_value"));
        }
        if c.value > MAX_DELTA_VALUE {
            return Err(AppError::BadRequest("value_too_large"));
        }
        if c.value == 0 {
            continue;
        }
        if let Some(name) = edge_name {
            if name.is_empty() {
                return Err(AppError::BadRequest("invalid_metric"));
            }
            *valid
                .edge
                .entry((c.launch.clone(), day, name.to_owned()))
                .or_default() += c.value;
            continue;
        }
        // Sums cannot overflow: at most MAX_BATCH_ROWS deltas of at most MAX_DELTA_VALUE.
        let minute_key = (
            c.launch.clone(),
            c.minute,
            c.source.clone(),
            c.metric.clone(),
        );
        *valid.minute.entry(minute_key).or_default() += c.value;
        let day_key = (c.launch.clone(), day, c.source.clone(), c.metric.clone());
        *valid.day.entry(day_key).or_default() += c.value;
    }
    for u in &batch.uniques {
        launch(&u.launch)?;
        let day = parse_day(&u.day)?;
        let bytes = STANDARD
            .decode(u.sketch.as_bytes())
            .map_err(|_| AppError::BadRequest("malformed_sketch"))?;
        uniques::estimate_serialized(&bytes)
            .map_err(|_| AppError::BadRequest("malformed_sketch"))?;
        let merged = match valid.sketches.remove(&(u.launch.clone(), day)) {
            Some(earlier) => uniques::merge_serialized(&earlier, &bytes)
                .map_err(|_| AppError::BadRequest("malformed_sketch"))?,
            None => bytes,
        };
        valid.sketches.insert((u.launch.clone(), day), merged);
    }
    for e in &batch.webhook_events {
        label(&e.source, MAX_LABEL_LEN, "invalid_webhook_event")?;
        label(&e.event_id, MAX_LABEL_LEN, "invalid_webhook_event")?;
        label(&e.event_type, MAX_LABEL_LEN, "invalid_webhook_event")?;
        let received_at = DateTime::from_timestamp_millis(e.received_at_ms)
            .filter(|_| e.received_at_ms >= 0)
            .ok_or(AppError::BadRequest("invalid_webhook_event"))?;
        valid.events.push(ValidEvent {
            source: e.source.clone(),
            event_id: e.event_id.clone(),
            event_type: e.event_type.clone(),
            received_at,
            payload: e.payload.to_string(),
        });
    }
    for p in &batch.ph_stats {
        launch(&p.launch)?;
        let sane = p.votes >= 0
            && p.comments >= 0
            && p.votes <= i64::from(i32::MAX)
            && p.comments <= i64::from(i32::MAX)
            && DateTime::from_timestamp_millis(p.observed_at_ms).is_some()
            && p.featured_at_ms
                .is_none_or(|f| DateTime::from_timestamp_millis(f).is_some());
        if !sane {
            return Err(AppError::BadRequest("invalid_ph_stat"));
        }
        valid.ph_stats.push(p.clone());
    }
    // Same lock order in every transaction (as for the counter keys); a stable sort keeps
    // the first copy of an in-batch duplicate first, and that copy is the one stored.
    valid
        .events
        .sort_by(|a, b| (&a.source, &a.event_id).cmp(&(&b.source, &b.event_id)));
    valid.batch_id = batch.batch_id;
    valid.shard = batch.shard;
    Ok(valid)
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
        });
    }
    upsert_minutes(tx, &batch.minute).await?;
    upsert_days(tx, &batch.day).await?;
    merge_sketches(tx, &batch.sketches).await?;
    insert_events(tx, &batch.events).await?;
    upsert_edge(tx, &batch.edge).await?;
    insert_ph_stats(tx, &batch.ph_stats).await?;
    Ok(IngestAck {
        batch_id: batch.batch_id.clone(),
        applied: true,
    })
}

async fn upsert_minutes(
    tx: &mut Transaction<'_, Postgres>,
    rows: &BTreeMap<MinuteKey, i64>,
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut launch = Vec::with_capacity(rows.len());
    let mut minute = Vec::with_capacity(rows.len());
    let mut source = Vec::with_capacity(rows.len());
    let mut metric = Vec::with_capacity(rows.len());
    let mut value = Vec::with_capacity(rows.len());
    for ((l, m, s, k), v) in rows {
        launch.push(l.as_str());
        minute.push(DateTime::from_timestamp(*m, 0).unwrap_or_default());
        source.push(s.as_str());
        metric.push(k.as_str());
        value.push(*v);
    }
    sqlx::query(
        "INSERT INTO metrics_minute (launch, minute, source, metric, value)
         SELECT * FROM UNNEST($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::bigint[])
         ON CONFLICT (launch, minute, source, metric)
         DO UPDATE SET value = metrics_minute.value + EXCLUDED.value",
    )
    .bind(launch)
    .bind(minute)
    .bind(source)
    .bind(metric)
    .bind(value)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn upsert_days(
    tx: &mut Transaction<'_, Postgres>,
    rows: &BTreeMap<DayKey, i64>,
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut launch = Vec::with_capacity(rows.len());
    let mut day = Vec::with_capacity(rows.len());
    let mut source = Vec::with_capacity(rows.len());
    let mut metric = Vec::with_capacity(rows.len());
    let mut value = Vec::with_capacity(rows.len());
    for ((l, d, s, k), v) in rows {
        launch.push(l.as_str());
        day.push(*d);
        source.push(s.as_str());
        metric.push(k.as_str());
        value.push(*v);
    }
    sqlx::query(
        "INSERT INTO metrics_day (launch, day, source, metric, value)
         SELECT * FROM UNNEST($1::text[], $2::date[], $3::text[], $4::text[], $5::bigint[])
         ON CONFLICT (launch, day, source, metric)
         DO UPDATE SET value = metrics_day.value + EXCLUDED.value",
    )
    .bind(launch)
    .bind(day)
    .bind(source)
    .bind(metric)
    .bind(value)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Stores each sketch, or merges it into the stored one under a row lock, so two batches
/// for the same launch and day serialise on that row and neither merge is lost.
async fn merge_sketches(
    tx: &mut Transaction<'_, Postgres>,
    sketches: &BTreeMap<(String, NaiveDate), Vec<u8>>,
) -> Result<(), AppError> {
    if sketches.is_empty() {
        return Ok(());
    }
    let launch: Vec<&str> = sketches.keys().map(|(l, _)| l.as_str()).collect();
    let day: Vec<NaiveDate> = sketches.keys().map(|(_, d)| *d).collect();
    let bytes: Vec<&[u8]> = sketches.values().map(Vec::as_slice).collect();
    // New (launch, day) pairs are simply inserted; a concurrent inserter of the same pair
    // makes us wait, then conflict, and the pair is merged below like any existing one.
    let inserted: Vec<(String, NaiveDate)> = sqlx::query_as(
        "INSERT INTO visitor_sketches (launch, day, sketch)
         SELECT * FROM UNNEST($1::text[], $2::date[], $3::bytea[])
         ON CONFLICT (launch, day) DO NOTHING
         RETURNING launch, day",
    )
    .bind(&launch)
    .bind(&day)
    .bind(&bytes)
    .fetch_all(&mut **tx)
    .await?;
    let existing: Vec<(String, NaiveDate, Vec<u8>)> = sqlx::query_as(
        "SELECT s.launch, s.day, s.sketch
           FROM visitor_sketches s
           JOIN UNNEST($1::text[], $2::date[]) AS k(launch, day)
             ON s.launch = k.launch AND s.day = k.day
          ORDER BY s.launch, s.day
            FOR UPDATE OF s",
    )
    .bind(&launch)
    .bind(&day)
    .fetch_all(&mut **tx)
    .await?;
    let (mut upd_launch, mut upd_day, mut upd_sketch) = (Vec::new(), Vec::new(), Vec::new());
    for (l, d, stored) in existing {
        if inserted.iter().any(|(il, id)| *il == l && *id == d) {
            continue;
        }
        let incoming = &sketches[&(l.clone(), d)];
        // The incoming sketch parsed during validation, so only a corrupt stored sketch
        // can fail here: a permanent condition, reported as 422 rather than retried.
        let merged = uniques::merge_serialized(&stored, incoming)
            .map_err(|_| AppError::Unprocessable("stored_sketch_unreadable"))?;
        if merged != stored {
            upd_launch.push(l);
            upd_day.push(d);
            upd_sketch.push(merged);
        }
    }
    if !upd_launch.is_empty() {
        sqlx::query(
            "UPDATE visitor_sketches s SET sketch = u.sketch, updated_at = now()
               FROM UNNEST($1::text[], $2::date[], $3::bytea[]) AS u(launch, day, sketch)
              WHERE s.launch = u.launch AND s.day = u.day",
        )
        .bind(upd_launch)
        .bind(upd_day)
        .bind(upd_sketch)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

async fn insert_events(
    tx: &mut Transaction<'_, Postgres>,
    events: &[ValidEvent],
) -> Result<(), sqlx::Error> {
    if events.is_empty() {
        return Ok(());
    }
    let source: Vec<&str> = events.iter().map(|e| e.source.as_str()).collect();
    let event_id: Vec<&str> = events.iter().map(|e| e.event_id.as_str()).collect();
    let event_type: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    let received_at: Vec<DateTime<Utc>> = events.iter().map(|e| e.received_at).collect();
    let payload: Vec<&str> = events.iter().map(|e| e.payload.as_str()).collect();
    // DO NOTHING also absorbs a duplicate within this batch: the first copy wins.
    sqlx::query(
        "INSERT INTO webhook_events (source, event_id, event_type, received_at, payload)
         SELECT source, event_id, event_type, received_at, payload::jsonb
           FROM UNNEST($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[])
                AS e(source, event_id, event_type, received_at, payload)
         ON CONFLICT (source, event_id) DO NOTHING",
    )
    .bind(source)
    .bind(event_id)
    .bind(event_type)
    .bind(received_at)
    .bind(payload)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn upsert_edge(
    tx: &mut Transaction<'_, Postgres>,
    rows: &BTreeMap<EdgeKey, i64>,
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let launch: Vec<&str> = rows.keys().map(|(l, _, _)| l.as_str()).collect();
    let day: Vec<NaiveDate> = rows.keys().map(|(_, d, _)| *d).collect();
    let name: Vec<&str> = rows.keys().map(|(_, _, n)| n.as_str()).collect();
    let value: Vec<i64> = rows.values().copied().collect();
    sqlx::query(
        "INSERT INTO edge_counters (launch, day, name, value)
         SELECT * FROM UNNEST($1::text[], $2::date[], $3::text[], $4::bigint[])
         ON CONFLICT (launch, day, name)
         DO UPDATE SET value = edge_counters.value + EXCLUDED.value",
    )
    .bind(launch)
    .bind(day)
    .bind(name)
    .bind(value)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Observations are facts at an instant: a resent one is the same row, kept once.
async fn insert_ph_stats(
    tx: &mut Transaction<'_, Postgres>,
    stats: &[PhPostStat],
) -> Result<(), sqlx::Error> {
    if stats.is_empty() {
        return Ok(());
    }
    let at = |ms: i64| DateTime::from_timestamp_millis(ms).unwrap_or_default();
    let launch: Vec<&str> = stats.iter().map(|p| p.launch.as_str()).collect();
    let observed_at: Vec<DateTime<Utc>> = stats.iter().map(|p| at(p.observed_at_ms)).collect();
    let votes: Vec<i32> = stats.iter().map(|p| p.votes as i32).collect();
    let comments: Vec<i32> = stats.iter().map(|p| p.comments as i32).collect();
    let featured_at: Vec<Option<DateTime<Utc>>> =
        stats.iter().map(|p| p.featured_at_ms.map(at)).collect();
    sqlx::query(
        "INSERT INTO ph_post_stats (launch, observed_at, votes, comments, featured_at)
         SELECT * FROM UNNEST($1::text[], $2::timestamptz[], $3::int[], $4::int[], $5::timestamptz[])
         ON CONFLICT (launch, observed_at) DO NOTHING",
    )
    .bind(launch)
    .bind(observed_at)
    .bind(votes)
    .bind(comments)
    .bind(featured_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests;
