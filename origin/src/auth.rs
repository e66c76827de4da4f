//! Verifies the worker's signature on internal routes (`/render`, `/ingest`).
//!
//! The body is buffered (bounded) because the MAC covers it; the request continues with
//! the same bytes. The reason code goes back to the caller; the expected MAC never does.

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use launch_edge_proto::headers;
use launch_edge_proto::signing::SignedRequest;

use crate::error::AppError;
use crate::routes::metrics::Metrics;
use crate::startup::AppState;

/// Largest signed body the origin accepts (ingest batches are well below this).
pub const MAX_SIGNED_BODY_BYTES: usize = 4 * 1024 * 1024;

pub async fn require_signature(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, AppError> {
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, MAX_SIGNED_BODY_BYTES)
        .await
        .map_err(|_| AppError::PayloadTooLarge)?;
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let path_and_query = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    let verdict = SignedRequest {
        method: parts.method.as_str(),
        path_and_query,
        body: &bytes,
    }
    .verify(
        &state.signing_secret,
        header(headers::TIMESTAMP),
        header(headers::SIGNATURE),
        (state.clock)(),
    );
    if verdict.is_err() {
        Metrics::inc(&state.metrics.signature_rejections_total);
    }
    verdict?;
    Ok(next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await)
}
