//! The Postgres writes of an ingest batch: a handful of `UNNEST` statements whatever its
//! size, each also usable for a single row (the row-by-row fallback and requeues).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use launch_edge_proto::batch::PhPostStat;
use launch_edge_proto::uniques;
use sqlx::{Postgres, Transaction};

use super::{DayKey, EdgeKey, MinuteKey, ValidEvent};
use crate::error::AppError;

pub(super) async fn upsert_minutes(
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

pub(super) async fn upsert_days(
    tx: &mut Transaction<'_, Postgres>,
    rows: &BTreeMap<DayKey, i64>,
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut launch = Vec::with_capacity(rows.len());
    let mut day = Vec::with_capacity(rows.len());
    let mut source = Vec::with_capacity(rows.len());
    let mut medium = Vec::with_capacity(rows.len());
    let mut campaign = Vec::with_capacity(rows.len());
    let mut metric = Vec::with_capacity(rows.len());
    let mut value = Vec::with_capacity(rows.len());
    for ((l, d, s, me, c, k), v) in rows {
        launch.push(l.as_str());
        day.push(*d);
        source.push(s.as_str());
        medium.push(me.as_str());
        campaign.push(c.as_str());
        metric.push(k.as_str());
        value.push(*v);
    }
    sqlx::query(
        "INSERT INTO metrics_day (launch, day, source, medium, campaign, metric, value)
         SELECT * FROM UNNEST($1::text[], $2::date[], $3::text[], $4::text[], $5::text[],
                              $6::text[], $7::bigint[])
         ON CONFLICT (launch, day, source, medium, campaign, metric)
         DO UPDATE SET value = metrics_day.value + EXCLUDED.value",
    )
    .bind(launch)
    .bind(day)
    .bind(source)
    .bind(medium)
    .bind(campaign)
    .bind(metric)
    .bind(value)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Stores each sketch, or merges it into the stored one under a row lock, so two batches
/// for the same launch and day serialise on that row and neither merge is lost.
pub(super) async fn merge_sketches(
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

pub(super) async fn insert_events(
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

pub(super) async fn upsert_edge(
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
pub(super) async fn insert_ph_stats(
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
