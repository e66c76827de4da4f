//! `POST /ingest/batch` and `POST /ingest/finalize-day`: the worker's drain and rollover;
//! `GET /ingest/dead-letters` and `POST /ingest/dead-letters/{id}/requeue`: the rows the
//! origin kept aside, for the worker's `/admin/dead-letters` (signed requests only; the
//! signature middleware has already bounded the body).
//!
//! Every answer to `/ingest/batch` is signed ([`SignedResponse`], bound to the request's
//! own signature): the worker sets a batch aside only on a refusal that the origin
//! signed, and treats any other answer (a proxy's 403, a tunnel's error page) as a
//! transient failure.

use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use launch_edge_proto::batch::{IngestAck, MAX_BATCH_BYTES};
use launch_edge_proto::headers;
use launch_edge_proto::signing::SignedResponse;
use launch_edge_proto::Secret;
use serde::Deserialize;
use serde_json::json;

use crate::auth::SigningKey;
use crate::daily::{self, FinalizeResponse};
use crate::error::AppError;
use crate::ingest::{self, dead_letters};
use crate::metrics::Metrics;
use crate::state::AppState;

/// Largest ingest body; equal to what the signature middleware buffers, and stated here
/// too because axum's own default (2 MiB) would otherwise cut in first.
pub const MAX_INGEST_BODY_BYTES: usize = crate::auth::MAX_SIGNED_BODY_BYTES;
// The worker cuts batches up to MAX_BATCH_BYTES: anything smaller here would refuse them
// before a signed answer could be given, and the worker would retry them forever.
const _: () = assert!(MAX_INGEST_BODY_BYTES >= MAX_BATCH_BYTES);

pub async fn batch(
    State(state): State<AppState>,
    key: Option<Extension<SigningKey>>,
    request: HeaderMap,
    body: Bytes,
) -> Response {
    let answer = apply_batch(&state, &body).await.into_response();
    let request_signature = request
        .get(headers::SIGNATURE)
        .and_then(|v| v.to_str().ok());
    let key = key.map_or_else(
        || state.signing_secret.clone(),
        |Extension(SigningKey(k))| k,
    );
    sign_answer(&key, request_signature, answer).await
}

async fn apply_batch(state: &AppState, body: &[u8]) -> Result<Json<IngestAck>, AppError> {
    let m = &state.metrics;
    // Bodies are bounded by the signature middleware: any length is exact in an f64.
    #[allow(clippy::cast_precision_loss)]
    m.ingest_batch_size_bytes.observe(body.len() as f64);
    let batch = ingest::validate(body).inspect_err(|_| {
        m.ingest_batches_total
            .with_label_values(&["rejected"])
            .inc();
    })?;
    let rows = u64::try_from(batch.rows).unwrap_or_default();
    let now_ms = chrono::Utc::now().timestamp_millis();
    m.observe_telemetry(&batch.shard, &batch.telemetry, now_ms);
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

/// Adds [`headers::RESPONSE_SIGNATURE`] over the answer's status and body and the
/// request's signature. Answers are small JSON documents, so buffering them costs nothing.
pub async fn sign_answer(
    secret: &Secret,
    request_signature: Option<&str>,
    answer: Response,
) -> Response {
    let (mut parts, body) = answer.into_parts();
    let Ok(bytes) = to_bytes(body, 64 * 1024).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    if let Some(request_signature) = request_signature {
        let signature = SignedResponse {
            status: parts.status.as_u16(),
            request_signature,
            body: &bytes,
        }
        .sign(secret);
        if let Ok(value) = HeaderValue::from_str(&signature) {
            parts.headers.insert(headers::RESPONSE_SIGNATURE, value);
        }
    }
    Response::from_parts(parts, Body::from(bytes))
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

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    /// Requeued ones too.
    #[serde(default)]
    all: bool,
}

/// `{"open": n, "dead_letters": [...]}`, newest first.
pub async fn list_dead_letters(
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
) -> Result<Json<serde_json::Value>, AppError> {
    let (letters, open) = dead_letters::list(&state.pool, query.all).await?;
    Ok(Json(json!({ "open": open, "dead_letters": letters })))
}

/// 200 with the requeued record; 404 `dead_letter_not_found`; 409
/// `dead_letter_already_requeued`; 422 `dead_letter_still_fails` (with its `reason`).
pub async fn requeue_dead_letter(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    use dead_letters::RequeueError;
    let refusal = |status: StatusCode, code: &str, reason: Option<String>| {
        (status, Json(json!({ "error": code, "reason": reason }))).into_response()
    };
    Ok(match dead_letters::requeue(&state.pool, id).await {
        Ok(record) => Json(json!({ "requeued": record })).into_response(),
        Err(RequeueError::NotFound(_)) => {
            refusal(StatusCode::NOT_FOUND, "dead_letter_not_found", None)
        }
        Err(RequeueError::AlreadyRequeued(_)) => {
            refusal(StatusCode::CONFLICT, "dead_letter_already_requeued", None)
        }
        Err(RequeueError::StillFails { reason, .. }) => refusal(
            StatusCode::UNPROCESSABLE_ENTITY,
            "dead_letter_still_fails",
            Some(reason),
        ),
        Err(RequeueError::Other(e)) => return Err(e),
    })
}
