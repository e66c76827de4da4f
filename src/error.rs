//! The worker's one error type, mapped to an HTTP response in one place.

use launch_edge_proto::SlugError;
use serde_json::json;
use worker::{Response, ResponseBuilder};

use launch_edge_core::config::ConfigError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("invalid slug: {0}")]
    BadSlug(#[from] SlugError),
    #[error("authorization required: {0}")]
    Unauthorized(&'static str),
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    #[error("invalid event: {0}")]
    Event(#[from] launch_edge_core::count::beacon::EventError),
    /// A refused webhook: its status, code and reason (never an expected signature).
    #[error("webhook refused: {0}")]
    Webhook(#[from] launch_edge_core::webhooks::WebhookError),
    /// A refused outbound task (`POST /admin/tasks`): 400 or 413 with its own code.
    #[error("invalid task: {0}")]
    Task(#[from] launch_edge_core::outbound::TaskError),
    #[error("no such task")]
    TaskNotFound,
    #[error("only a dead task can be requeued or discarded; this one is {0}")]
    TaskNotDead(String),
    #[error("no such route")]
    RouteNotFound,
    /// `POST /admin/dead-letters/:id/requeue` for a batch no object holds.
    #[error("no such dead letter")]
    DeadLetterNotFound,
    #[error("no such launch")]
    UnknownLaunch,
    #[error("too many requests")]
    RateLimited,
    #[error("method not allowed")]
    MethodNotAllowed,
    /// A browser page the launch does not list sent (or preflighted) its beacon.
    #[error("this page's origin may not send this launch's events")]
    OriginNotAllowed,
    /// The isolate keeps too many unacknowledged events for this launch (its shard keeps
    /// failing): refused before anything is acknowledged.
    #[error("counting is temporarily unavailable")]
    CountingUnavailable,
    #[error("origin unavailable: {0}")]
    OriginUnavailable(String),
    #[error("misconfigured worker: {0}")]
    Config(#[from] ConfigError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<serde_json::Error> for AppError {
    fn from(err: serde_json::Error) -> Self {
        AppError::Internal(err.to_string())
    }
}

impl From<worker::Error> for AppError {
    fn from(err: worker::Error) -> Self {
        AppError::Internal(err.to_string())
    }
}

impl AppError {
    fn status_and_code(&self) -> (u16, &'static str) {
        match self {
            AppError::BadSlug(e) => (400, e.code()),
            AppError::Unauthorized(code) => (401, code),
            AppError::BadRequest(code) => (400, code),
            AppError::Event(e) => (e.status(), e.code()),
            AppError::Webhook(e) => (e.status(), e.code()),
            AppError::Task(e) => (e.status(), e.code()),
            AppError::TaskNotFound => (404, "task_not_found"),
            AppError::TaskNotDead(_) => (409, "task_not_dead"),
            AppError::RouteNotFound => (404, "not_found"),
            AppError::DeadLetterNotFound => (404, "dead_letter_not_found"),
            AppError::UnknownLaunch => (404, "unknown_launch"),
            AppError::RateLimited => (429, "rate_limited"),
            AppError::MethodNotAllowed => (405, "method_not_allowed"),
            AppError::OriginNotAllowed => (403, "origin_not_allowed"),
            AppError::OriginUnavailable(_) => (503, "origin_unavailable"),
            AppError::CountingUnavailable => (503, "counting_unavailable"),
            AppError::Config(_) => (500, "misconfigured"),
            AppError::Internal(_) => (500, "internal"),
        }
    }

    pub fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        // Internal details go to the log, not to the client.
        let message = match &self {
            AppError::Config(_) | AppError::Internal(_) | AppError::OriginUnavailable(_) => {
                worker::console_error!("{code}: {self}");
                "the service is temporarily unavailable".to_owned()
            }
            other => other.to_string(),
        };
        let mut builder = ResponseBuilder::new().with_status(status);
        if let AppError::Webhook(e) = &self {
            // The code with the header or field it concerns, e.g. `missing_header:webhook-id`.
            return builder
                .from_json(&json!({ "error": code, "reason": e.reason(), "message": message }))
                .unwrap_or_else(|_| {
                    Response::empty()
                        .expect("empty response")
                        .with_status(status)
                });
        }
        if status == 401 {
            builder = builder
                .with_header("www-authenticate", "Bearer")
                .expect("static header");
        }
        if status == 429 {
            // The limiter's window is a minute.
            builder = builder
                .with_header("retry-after", "60")
                .expect("static header");
        }
        if status == 503 {
            builder = builder
                .with_header("retry-after", "5")
                .expect("static header");
        }
        builder
            .from_json(&json!({ "error": code, "message": message }))
            .unwrap_or_else(|_| {
                Response::empty()
                    .expect("empty response")
                    .with_status(status)
            })
    }
}
