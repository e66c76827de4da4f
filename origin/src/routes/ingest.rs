//! `POST /ingest/batch` and `POST /ingest/finalize-day`: the worker's drain and rollover
//! (signed requests only; the signature middleware has already bounded the body).

use axum::body::Bytes;
use axum::extract::State;
use axum::Json;
use launch_edge_proto::batch::IngestAck;

use crate::daily::{self, FinalizeResponse};
use crate::error::AppError;
use crate::ingest;
use crate::routes::metrics::Metrics;
use crate::startup::AppState;

/// Largest ingest body; equal to what the signature middleware buffers, and stated here
/// too because axum's own default (2 MiB) would otherwise cut in first.
pub const MAX_INGEST_BODY_BYTES: usize = crate::auth::MAX_SIGNED_BODY_BYTES;

pub async fn batch(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<IngestAck>, AppError> {
    let m = &state.metrics;
    let batch = ingest::validate(&body).inspect_err(|_| {
        m.ingest_batches_total
            .with_label_values(&["rejected"])
            .inc();
    })?;
    let rows = u64::try_from(batch.rows).unwrap_or_default();
    let ack = state.ingest.apply(batch).await?;
    if ack.applied {
        Metrics::inc(&m.ingest_batches_applied_total);
        m.ingest_batches_total.with_label_values(&["applied"]).inc();
        m.ingest_rows_total.inc_by(rows);
    } else {
        Metrics::inc(&m.ingest_batches_replayed_total);
        m.ingest_batches_total
            .with_label_values(&["duplicate"])
            .inc();
    }
    Ok(Json(ack))
}

pub async fn finalize_day(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<FinalizeResponse>, AppError> {
    let (day, launch) = daily::parse_request(&body)?;
    Ok(Json(
        daily::finalize(&state.pool, day, launch.as_ref()).await?,
    ))
}
