//! `GET /metrics`: Prometheus exposition of the origin's metrics ([`crate::metrics`]).
//!
//! The exposition holds revenue per launch, so it takes a bearer token (`METRICS_TOKEN`,
//! compared in constant time; unset, `/metrics` answers 401 to everyone).

use std::time::Instant;

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::IntoResponse;

use crate::error::AppError;
use crate::state::AppState;

pub async fn metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, AppError> {
    let arrived = Instant::now();
    let expected = state
        .metrics_token
        .as_ref()
        .ok_or(AppError::MetricsAuth("metrics_token_not_configured"))?;
    let presented =
        crate::auth::bearer(&headers).ok_or(AppError::MetricsAuth("metrics_token_required"))?;
    if !expected.matches(presented.as_bytes()) {
        return Err(AppError::MetricsAuth("metrics_token_invalid"));
    }
    state
        .metrics
        .refresh(&state.pool, state.metrics_cache, arrived)
        .await;
    let (content_type, out) = state.metrics.encode();
    Ok(([(header::CONTENT_TYPE, content_type)], out))
}
