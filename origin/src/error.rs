//! The origin's error type, mapped to an HTTP response in exactly one place.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use launch_edge_proto::signing::VerifyError;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    #[error("signature rejected: {0}")]
    Unauthorized(#[from] VerifyError),
    #[error("not found")]
    NotFound,
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("database unavailable: {0}")]
    Database(#[from] sqlx::Error),
    #[error("template failed: {0}")]
    Template(#[from] askama::Error),
    /// A launch page could not be rendered (its template failed, or its stored spec).
    #[error("launch page failed: {0}")]
    Page(String),
    /// An ingest batch with more rows than `launch_edge_proto::batch::MAX_BATCH_ROWS`.
    #[error("batch has too many rows")]
    TooManyRows,
    /// An ingest body over `launch_edge_proto::batch::MAX_BATCH_BYTES`.
    #[error("batch is too large")]
    BatchTooLarge,
    /// Well-formed input that conflicts with stored state (e.g. an incompatible sketch).
    #[error("unprocessable: {0}")]
    Unprocessable(&'static str),
    /// The ingest writer task is gone (the server is shutting down).
    #[error("ingest unavailable")]
    IngestUnavailable,
    /// The dashboard token is missing, wrong, or not configured (the code says which).
    #[error("dashboard access refused: {0}")]
    DashboardAuth(&'static str),
    /// The metrics token is missing, wrong, or not configured (the code says which).
    #[error("metrics access refused: {0}")]
    MetricsAuth(&'static str),
    /// The request body stalled longer than the body timeout.
    #[error("request body timed out")]
    BodyTimeout,
}

impl AppError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            AppError::BadRequest(code) => (StatusCode::BAD_REQUEST, code),
            AppError::Unauthorized(e) => (StatusCode::UNAUTHORIZED, e.code()),
            AppError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            AppError::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            AppError::Database(_) => (StatusCode::SERVICE_UNAVAILABLE, "database_unavailable"),
            AppError::Template(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            AppError::Page(_) => (StatusCode::INTERNAL_SERVER_ERROR, "page_failed"),
            AppError::TooManyRows => (StatusCode::PAYLOAD_TOO_LARGE, "too_many_rows"),
            AppError::BatchTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "batch_too_large"),
            AppError::Unprocessable(code) => (StatusCode::UNPROCESSABLE_ENTITY, code),
            AppError::DashboardAuth(code) => (StatusCode::UNAUTHORIZED, code),
            AppError::MetricsAuth(code) => (StatusCode::UNAUTHORIZED, code),
            AppError::BodyTimeout => (StatusCode::REQUEST_TIMEOUT, "body_timeout"),
            AppError::IngestUnavailable => (StatusCode::SERVICE_UNAVAILABLE, "ingest_unavailable"),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if status.is_server_error() {
            tracing::error!(error = %self, code, "request failed");
        } else {
            tracing::info!(code, "request rejected");
        }
        (status, Json(json!({ "error": code }))).into_response()
    }
}

/// The tower-http layers answer 413 (body limit) and 408 (request timeout) with a plain
/// or empty body; this gives them the JSON shape every other error has.
pub async fn json_for_bare_errors(response: Response) -> Response {
    let code = match response.status() {
        StatusCode::REQUEST_TIMEOUT => "request_timeout",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        _ => return response,
    };
    let json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if json {
        return response;
    }
    tracing::info!(code, "request rejected");
    (response.status(), Json(json!({ "error": code }))).into_response()
}
