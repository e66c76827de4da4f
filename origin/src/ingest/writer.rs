//! Group commit: ingest batches that arrive together share one Postgres transaction.
//!
//! Every counter shard drains on the same wall-clock ticks (the worker aligns their
//! alarms), so their batches reach the origin within milliseconds of each other. One
//! writer task takes the first batch waiting, gathers whatever else arrives within
//! [`GROUP_WINDOW`] (at most [`MAX_GROUP`] batches), and applies them in ONE transaction,
//! each inside its own savepoint: a batch that fails rolls back alone and gets its own
//! error, the others commit. Each request is answered only after the commit, so a 2xx
//! still means "in Postgres", and a failed commit fails every batch of the group (the
//! shards resend them; their ids make that safe).
//!
//! Batches that arrive while a transaction runs queue up and form the next group, so
//! under load the number of transactions follows Postgres' commit time, not the number
//! of shards.

use std::sync::Arc;
use std::time::Duration;

use launch_edge_proto::batch::IngestAck;
use sqlx::{Acquire, PgPool};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{timeout_at, Instant};

use super::{apply_in, ValidBatch};
use crate::error::AppError;
use crate::metrics::Metrics;

/// How long the writer waits after the first batch for others to join its transaction.
pub const GROUP_WINDOW: Duration = Duration::from_millis(100);
/// Most batches in one transaction.
pub const MAX_GROUP: usize = 64;
/// Batches waiting for the writer before senders wait too (back-pressure).
const QUEUE: usize = 256;

struct Job {
    batch: ValidBatch,
    reply: oneshot::Sender<Result<IngestAck, AppError>>,
}

/// The handle requests use; cheap to clone. The writer task stops when every handle
/// is gone.
#[derive(Clone)]
pub struct IngestWriter {
    jobs: mpsc::Sender<Job>,
}

impl IngestWriter {
    /// Starts the writer task on the current Tokio runtime.
    pub fn spawn(pool: PgPool, metrics: Arc<Metrics>) -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE);
        tokio::spawn(run(pool, queue, metrics));
        Self { jobs }
    }

    /// Applies `batch` (exactly once per batch id) and answers after the commit.
    pub async fn apply(&self, batch: ValidBatch) -> Result<IngestAck, AppError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { batch, reply })
            .await
            .map_err(|_| AppError::IngestUnavailable)?;
        answer.await.map_err(|_| AppError::IngestUnavailable)?
    }
}

async fn run(pool: PgPool, mut queue: mpsc::Receiver<Job>, metrics: Arc<Metrics>) {
    while let Some(first) = queue.recv().await {
        let mut group = vec![first];
        let deadline = Instant::now() + GROUP_WINDOW;
        while group.len() < MAX_GROUP {
            match timeout_at(deadline, queue.recv()).await {
                Ok(Some(job)) => group.push(job),
                _ => break,
            }
        }
        let (batches, replies): (Vec<_>, Vec<_>) =
            group.into_iter().map(|j| (j.batch, j.reply)).unzip();
        metrics.ingest_transactions_total.inc();
        match apply_group(&pool, &batches).await {
            Ok(outcomes) => {
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    let _ = reply.send(outcome);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, batches = batches.len(), "ingest transaction failed");
                let reason = e.to_string();
                for reply in replies {
                    let error = sqlx::Error::Protocol(reason.clone());
                    let _ = reply.send(Err(AppError::Database(error)));
                }
            }
        }
    }
}

/// One transaction, one savepoint per batch. `Err` when the transaction itself failed.
async fn apply_group(
    pool: &PgPool,
    batches: &[ValidBatch],
) -> Result<Vec<Result<IngestAck, AppError>>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let mut outcomes = Vec::with_capacity(batches.len());
    for batch in batches {
        let mut savepoint = (&mut tx).begin().await?;
        match apply_in(&mut savepoint, batch).await {
            Ok(ack) => {
                savepoint.commit().await?;
                outcomes.push(Ok(ack));
            }
            Err(e) => {
                savepoint.rollback().await?;
                outcomes.push(Err(e));
            }
        }
    }
    tx.commit().await?;
    Ok(outcomes)
}
