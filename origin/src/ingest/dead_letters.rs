//! Rows the origin could not store, kept with their reason (`migrations/*_dead_letters.sql`):
//! written in their batch's transaction, listed, counted, and requeued one at a time.
//!
//! A requeue validates the stored row again and applies it in one transaction that also
//! marks the dead letter requeued, under a row lock: two operators requeuing the same
//! row at once apply it once. A row that still fails stays, with the new error.

use chrono::{DateTime, Utc};
use launch_edge_proto::batch::OriginDeadLetter;
use sqlx::{PgPool, Postgres, Transaction};

use super::{apply_row, check_row, row_fault, RowKind, SourcedRow};
use crate::error::AppError;

/// Most dead letters one listing returns (newest first); the count covers all.
pub const LIST_LIMIT: i64 = 200;

/// A row to dead-letter, with its reason.
#[derive(Debug, Clone)]
pub(crate) struct Refused {
    kind: RowKind,
    ordinal: i32,
    raw: String,
    reason: String,
}

impl Refused {
    pub(crate) fn of<T>(row: &SourcedRow<T>, reason: String) -> Self {
        Self {
            kind: row.kind,
            ordinal: row.ordinal,
            raw: row.raw.clone(),
            reason,
        }
    }
}

/// Stores a batch's refused rows (inside the transaction that claimed the batch).
pub(crate) async fn insert(
    tx: &mut Transaction<'_, Postgres>,
    batch_id: &str,
    producer: &str,
    rows: &[Refused],
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let kind: Vec<&str> = rows.iter().map(|r| r.kind.as_str()).collect();
    let ordinal: Vec<i32> = rows.iter().map(|r| r.ordinal).collect();
    let reason: Vec<&str> = rows.iter().map(|r| r.reason.as_str()).collect();
    let raw: Vec<&str> = rows.iter().map(|r| r.raw.as_str()).collect();
    sqlx::query(
        "INSERT INTO dead_letters (batch_id, producer, kind, ordinal, reason, row_json)
         SELECT $1, $2, * FROM UNNEST($3::text[], $4::int[], $5::text[], $6::text[])
         ON CONFLICT (batch_id, kind, ordinal) DO NOTHING",
    )
    .bind(batch_id)
    .bind(producer)
    .bind(kind)
    .bind(ordinal)
    .bind(reason)
    .bind(raw)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    batch_id: String,
    producer: String,
    kind: String,
    reason: String,
    row_json: String,
    created_at: DateTime<Utc>,
    requeued_at: Option<DateTime<Utc>>,
}

impl From<Row> for OriginDeadLetter {
    fn from(r: Row) -> Self {
        Self {
            id: r.id,
            batch_id: r.batch_id,
            producer: r.producer,
            kind: r.kind,
            reason: r.reason,
            row: r.row_json,
            created_at_ms: r.created_at.timestamp_millis(),
            requeued_at_ms: r.requeued_at.map(|t| t.timestamp_millis()),
        }
    }
}

/// The open dead letters (or all of them with `all`), newest first, at most
/// [`LIST_LIMIT`], and how many are open in total.
pub async fn list(pool: &PgPool, all: bool) -> Result<(Vec<OriginDeadLetter>, i64), AppError> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, batch_id, producer, kind, reason, row_json, created_at, requeued_at
           FROM dead_letters WHERE $1 OR requeued_at IS NULL
          ORDER BY id DESC LIMIT $2",
    )
    .bind(all)
    .bind(LIST_LIMIT)
    .fetch_all(pool)
    .await?;
    let open: i64 =
        sqlx::query_scalar("SELECT count(*) FROM dead_letters WHERE requeued_at IS NULL")
            .fetch_one(pool)
            .await?;
    Ok((rows.into_iter().map(Into::into).collect(), open))
}

/// Open dead letters per kind (for `/metrics`).
pub async fn open_by_kind(pool: &PgPool) -> Result<Vec<(String, i64)>, AppError> {
    Ok(sqlx::query_as(
        "SELECT kind, count(*) FROM dead_letters WHERE requeued_at IS NULL GROUP BY kind ORDER BY kind",
    )
    .fetch_all(pool)
    .await?)
}

/// Why a requeue did not apply its row.
#[derive(Debug, thiserror::Error)]
pub enum RequeueError {
    #[error("no dead letter {0}")]
    NotFound(i64),
    #[error("dead letter {0} was already requeued")]
    AlreadyRequeued(i64),
    /// The row still cannot be stored; the reason is recorded as its `last_error`.
    #[error("dead letter {id} still fails: {reason}")]
    StillFails { id: i64, reason: String },
    #[error(transparent)]
    Other(#[from] AppError),
}

impl From<sqlx::Error> for RequeueError {
    fn from(e: sqlx::Error) -> Self {
        RequeueError::Other(e.into())
    }
}

/// Applies dead letter `id` again. On success it is marked requeued in the same
/// transaction; on a row-level failure the error is recorded and the row stays open.
pub async fn requeue(pool: &PgPool, id: i64) -> Result<OriginDeadLetter, RequeueError> {
    let mut tx = pool.begin().await?;
    let row: Option<Row> = sqlx::query_as(
        "SELECT id, batch_id, producer, kind, reason, row_json, created_at, requeued_at
           FROM dead_letters WHERE id = $1 FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let row = row.ok_or(RequeueError::NotFound(id))?;
    if row.requeued_at.is_some() {
        return Err(RequeueError::AlreadyRequeued(id));
    }
    let kind = RowKind::parse(&row.kind).ok_or(RequeueError::StillFails {
        id,
        reason: "unknown_kind".into(),
    })?;
    let failure = match check_row(kind, &row.row_json) {
        Err(code) => Some(code.to_owned()),
        Ok(write) => {
            let mut one = sqlx::Acquire::begin(&mut tx).await?;
            match apply_row(&mut one, &write).await {
                Ok(()) => {
                    one.commit().await?;
                    None
                }
                Err(e) => {
                    one.rollback().await?;
                    Some(row_fault(&e).ok_or(RequeueError::Other(e))?)
                }
            }
        }
    };
    if let Some(reason) = failure {
        sqlx::query(
            "UPDATE dead_letters SET requeue_attempts = requeue_attempts + 1, last_error = $2 WHERE id = $1",
        )
        .bind(id)
        .bind(&reason)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        return Err(RequeueError::StillFails { id, reason });
    }
    let done: Row = sqlx::query_as(
        "UPDATE dead_letters SET requeued_at = now(), requeue_attempts = requeue_attempts + 1,
                last_error = NULL
          WHERE id = $1
          RETURNING id, batch_id, producer, kind, reason, row_json, created_at, requeued_at",
    )
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    tracing::info!(id, batch_id = %done.batch_id, kind = %done.kind, "dead letter requeued");
    Ok(done.into())
}
