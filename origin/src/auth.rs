//! Verifies the worker's signature on internal routes (`/render`, `/ingest`, reports).
//!
//! The MAC covers the body, so the body must be read before the request is known to be
//! the worker's. What a stranger can make the origin hold is bounded in three steps:
//! 1. the signature headers are checked first (present, well-formed, timestamp within
//!    the tolerance): a request failing them is refused before a byte of its body is read;
//! 2. the route's `RequestBodyLimitLayer` (see `startup`) has already refused a declared
//!    `Content-Length` over the route's limit, and stops a streamed body at that limit, so
//!    the read below is frame by frame and never buffers more than the limit;
//! 3. a body that may be larger than [`PRE_AUTH_BODY_BYTES`] (only ingest batches are
//!    allowed to be) is read under one of [`LARGE_PRE_AUTH_READS`] permits, so at most
//!    that many such unverified bodies are in memory at once; the others wait (bounded
//!    by the request timeout).
//!
//! The request then continues with the same bytes. The reason code goes back to the
//! caller; the expected MAC never does.

use axum::body::{to_bytes, Body, HttpBody};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use launch_edge_proto::headers;
use launch_edge_proto::signing::{check_headers, SignedRequest};
use launch_edge_proto::Secret;

use crate::error::AppError;
use crate::metrics::Metrics;
use crate::state::AppState;

/// Largest signed body the origin accepts (the ingest batch route; ingest batches are
/// well below this).
pub const MAX_SIGNED_BODY_BYTES: usize = 4 * 1024 * 1024;

/// Largest body any other route reads before it knows who sent it. The worker's renders,
/// reports and day finalizations send a few hundred bytes at most.
pub const PRE_AUTH_BODY_BYTES: usize = 64 * 1024;

/// Unverified bodies over [`PRE_AUTH_BODY_BYTES`] read at once: bounds what strangers can
/// make the origin buffer to 8 × 4 MiB, while the worker's large batches (rare: a shard
/// a full batch behind) only queue briefly.
pub const LARGE_PRE_AUTH_READS: usize = 8;

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

/// Why reading a body failed: the limit layer's length error, the body timeout, or the
/// client going away.
fn body_error(error: &axum::Error) -> AppError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return AppError::PayloadTooLarge;
        }
        if e.is::<tower_http::timeout::TimeoutError>() {
            return AppError::BodyTimeout;
        }
        source = e.source();
    }
    AppError::BadRequest("body_unreadable")
}

pub async fn require_signature(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, AppError> {
    let (parts, body) = request.into_parts();
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let refused = |e| {
        Metrics::inc(&state.metrics.signature_rejections_total);
        AppError::Unauthorized(e)
    };
    let now = (state.clock)();
    check_headers(header(headers::TIMESTAMP), header(headers::SIGNATURE), now).map_err(refused)?;
    // The limit layer caps the hint at the route's limit (or the declared length), so
    // only the ingest batch route can exceed the pre-auth size: a body without a length
    // there counts as large, a GET anywhere as empty.
    let most = HttpBody::size_hint(&body).upper();
    let permit = if most.is_none_or(|n| n > PRE_AUTH_BODY_BYTES as u64) {
        // Closed only if the semaphore were dropped, which the state never does.
        Some(
            state
                .large_pre_auth_reads
                .acquire()
                .await
                .map_err(|_| AppError::IngestUnavailable)?,
        )
    } else {
        None
    };
    // The route's limit layer bounds the stream; `usize::MAX` adds no second limit.
    let bytes = to_bytes(body, usize::MAX)
        .await
        .map_err(|e| body_error(&e))?;
    let path_and_query = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    let keys: Vec<&Secret> = std::iter::once(&state.signing_secret)
        .chain(state.signing_secret_previous.as_ref())
        .collect();
    let matched = SignedRequest {
        method: parts.method.as_str(),
        path_and_query,
        body: &bytes,
    }
    .verify_any(
        &keys,
        header(headers::TIMESTAMP),
        header(headers::SIGNATURE),
        now,
    )
    .map_err(refused)?;
    let key = SigningKey(keys[matched].clone());
    drop(permit);
    let mut parts = parts;
    parts.extensions.insert(key);
    Ok(next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await)
}

/// The key that verified a signed request (the current one, or the previous one during a
/// rotation): its answer is signed with the same key, so the worker can check it with the
/// one key it has.
#[derive(Clone)]
pub struct SigningKey(pub Secret);
