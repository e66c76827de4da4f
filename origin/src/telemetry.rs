//! Structured JSON logs (tracing), filtered by `RUST_LOG`.
//!
//! Each line carries its request span (request id, method, matched route), so one
//! request's lines can be found from the id the worker logged. Spans never record client
//! addresses, query strings or headers: see [`crate::request_id`] and `startup::router`.

use tracing_subscriber::{fmt, EnvFilter};

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .try_init();
}
