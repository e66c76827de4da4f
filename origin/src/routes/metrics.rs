//! `GET /metrics`: Prometheus text exposition of the origin's counters.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::startup::AppState;

#[derive(Debug, Default)]
pub struct Metrics {
    pub renders_total: AtomicU64,
    pub renders_not_found_total: AtomicU64,
    pub signature_rejections_total: AtomicU64,
    pub ingest_batches_applied_total: AtomicU64,
    pub ingest_batches_replayed_total: AtomicU64,
}

impl Metrics {
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let m = &state.metrics;
    let mut out = String::new();
    let mut counter = |name: &str, help: &str, value: &AtomicU64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
            value.load(Ordering::Relaxed)
        );
    };
    counter(
        "launch_edge_origin_renders_total",
        "Launch pages rendered for the worker.",
        &m.renders_total,
    );
    counter(
        "launch_edge_origin_renders_not_found_total",
        "Render requests for unknown launches.",
        &m.renders_not_found_total,
    );
    counter(
        "launch_edge_origin_signature_rejections_total",
        "Internal requests refused for a bad signature.",
        &m.signature_rejections_total,
    );
    counter(
        "launch_edge_origin_ingest_batches_applied_total",
        "Ingest batches applied (each batch id once).",
        &m.ingest_batches_applied_total,
    );
    counter(
        "launch_edge_origin_ingest_batches_replayed_total",
        "Ingest batches acknowledged again without applying (resends).",
        &m.ingest_batches_replayed_total,
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}
