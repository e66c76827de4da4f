//! The origin's Prometheus metrics (`prometheus` crate): the [`Metrics`] registry, what a
//! scrape refreshes, and the HTTP metrics middleware. [`crate::routes::metrics`] serves it.
//!
//! Each [`Metrics`] owns its registry rather than using the global one, so the many apps a
//! test process spawns never share counts. Pool gauges are read on every scrape (no I/O).
//! The per-launch figures are reads of Postgres (every launch's sketches among them), so
//! a scrape reuses those of an earlier scrape for `METRICS_CACHE_SECONDS`, and scrapes
//! that arrive while one reads wait for it and share its answer: however many scrapers,
//! at most one set of those queries runs at a time (computing them on ingest instead
//! would put report queries on the drain's hot path). Counters are always live.
//!
//! Labels are a fixed, documented set, whatever clients send: `method` is one of
//! [`METHOD_LABELS`] (anything else is `other`), `route` the matched route template or
//! `unmatched`, never a raw path.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use prometheus::{
    HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};

use crate::dashboard::data;

const NS: &str = "launch_edge_origin";

pub struct Metrics {
    registry: Registry,
    pub renders_total: IntCounter,
    pub renders_not_found_total: IntCounter,
    pub signature_rejections_total: IntCounter,
    pub ingest_batches_applied_total: IntCounter,
    pub ingest_batches_replayed_total: IntCounter,
    /// By outcome: `applied`, `duplicate`, `rejected`.
    pub ingest_batches_total: IntCounterVec,
    pub ingest_rows_total: IntCounter,
    /// Postgres transactions the ingest writer ran (each holds one or more batches).
    pub ingest_transactions_total: IntCounter,
    pub http_requests_total: IntCounterVec,
    pub http_request_duration_seconds: HistogramVec,
    /// Scrapes that read the launch figures from Postgres (the others reused them).
    figure_reads_total: IntCounter,
    /// When the last read of the launch figures started; held while one runs.
    figures_read_at: tokio::sync::Mutex<Option<Instant>>,
    pool_connections: IntGaugeVec,
    pool_max_connections: IntGauge,
    database_up: IntGauge,
    launch_views: IntGaugeVec,
    launch_unique_visitors: IntGaugeVec,
    launch_conversions: IntGaugeVec,
    launch_revenue_cents: IntGaugeVec,
    edge_counter: IntGaugeVec,
    /// Open dead letters in Postgres, by row kind.
    dead_letters: IntGaugeVec,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

fn register<C: prometheus::core::Collector + Clone + 'static>(registry: &Registry, c: C) -> C {
    registry
        .register(Box::new(c.clone()))
        .expect("metric names are unique and valid");
    c
}

fn counter(r: &Registry, name: &str, help: &str) -> IntCounter {
    register(
        r,
        IntCounter::with_opts(Opts::new(name, help).namespace(NS)).unwrap(),
    )
}

fn counter_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let opts = Opts::new(name, help).namespace(NS);
    register(r, IntCounterVec::new(opts, labels).unwrap())
}

fn gauge_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let opts = Opts::new(name, help).namespace(NS);
    register(r, IntGaugeVec::new(opts, labels).unwrap())
}

fn gauge(r: &Registry, name: &str, help: &str) -> IntGauge {
    register(
        r,
        IntGauge::with_opts(Opts::new(name, help).namespace(NS)).unwrap(),
    )
}

impl Default for Metrics {
    fn default() -> Self {
        let r = Registry::new();
        let latency = HistogramOpts::new(
            "http_request_duration_seconds",
            "HTTP request latency by method and matched route.",
        )
        .namespace(NS)
        .buckets(vec![
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
        ]);
        Self {
            renders_total: counter(&r, "renders_total", "Launch pages rendered for the worker."),
            renders_not_found_total: counter(
                &r,
                "renders_not_found_total",
                "Render requests for unknown launches.",
            ),
            signature_rejections_total: counter(
                &r,
                "signature_rejections_total",
                "Internal requests refused for a bad signature.",
            ),
            ingest_batches_applied_total: counter(
                &r,
                "ingest_batches_applied_total",
                "Ingest batches applied (each batch id once).",
            ),
            ingest_batches_replayed_total: counter(
                &r,
                "ingest_batches_replayed_total",
                "Ingest batches acknowledged again without applying (resends).",
            ),
            ingest_batches_total: counter_vec(
                &r,
                "ingest_batches_total",
                "Ingest batches by outcome (applied, duplicate, rejected).",
                &["outcome"],
            ),
            ingest_rows_total: counter(
                &r,
                "ingest_rows_total",
                "Rows (counters, sketches, webhook events) in applied ingest batches.",
            ),
            ingest_transactions_total: counter(
                &r,
                "ingest_transactions_total",
                "Postgres transactions that applied ingest batches (group commit).",
            ),
            http_requests_total: counter_vec(
                &r,
                "http_requests_total",
                "HTTP requests by method, matched route and status.",
                &["method", "route", "status"],
            ),
            http_request_duration_seconds: register(
                &r,
                HistogramVec::new(latency, &["method", "route"]).unwrap(),
            ),
            figure_reads_total: counter(
                &r,
                "metrics_figure_reads_total",
                "Scrapes that read the per-launch figures from Postgres (others reused them).",
            ),
            figures_read_at: tokio::sync::Mutex::new(None),
            pool_connections: gauge_vec(
                &r,
                "db_pool_connections",
                "Postgres pool connections by state (open, idle).",
                &["state"],
            ),
            pool_max_connections: gauge(
                &r,
                "db_pool_max_connections",
                "The pool's upper bound.",
            ),
            database_up: gauge(
                &r,
                "database_up",
                "1 when the scrape could read Postgres.",
            ),
            launch_views: gauge_vec(&r, "launch_views", "Views per launch, all days.", &["launch"]),
            launch_unique_visitors: gauge_vec(
                &r,
                "launch_unique_visitors",
                "Unique visitors per launch (sum of Pacific-day estimates).",
                &["launch"],
            ),
            launch_conversions: gauge_vec(
                &r,
                "launch_conversions",
                "Conversions per launch, all kinds, all days.",
                &["launch"],
            ),
            launch_revenue_cents: gauge_vec(
                &r,
                "launch_revenue_cents",
                "Revenue per launch in minor units, all days.",
                &["launch"],
            ),
            edge_counter: gauge_vec(
                &r,
                "edge_counter",
                "The worker's operational counters as drained, all days (launch \"\" = worker-wide).",
                &["launch", "name"],
            ),
            dead_letters: gauge_vec(
                &r,
                "dead_letters",
                "Ingest rows kept aside in dead_letters and not requeued yet, by kind.",
                &["kind"],
            ),
            registry: r,
        }
    }
}

impl Metrics {
    pub fn inc(counter: &IntCounter) {
        counter.inc();
    }

    /// Reads the pool state, and the launch figures unless a read that started at most
    /// `cache` before this scrape `arrived` exists (or is running: then this waits for it).
    pub(crate) async fn refresh(&self, pool: &sqlx::PgPool, cache: Duration, arrived: Instant) {
        self.pool_connections
            .with_label_values(&["open"])
            .set(i64::from(pool.size()));
        self.pool_connections
            .with_label_values(&["idle"])
            .set(i64::try_from(pool.num_idle()).unwrap_or(i64::MAX));
        self.pool_max_connections
            .set(i64::from(pool.options().get_max_connections()));
        let mut read_at = self.figures_read_at.lock().await;
        if read_at.is_some_and(|started| started + cache >= arrived) {
            return;
        }
        let started = Instant::now();
        self.figure_reads_total.inc();
        self.read_figures(pool).await;
        // Also after a failed read: while Postgres is down, scrapes must not queue up
        // on the pool one behind the other.
        *read_at = Some(started);
    }

    /// The registry in Prometheus' text format, and its content type.
    pub(crate) fn encode(&self) -> (String, Vec<u8>) {
        use prometheus::Encoder;
        let mut out = Vec::new();
        let encoder = prometheus::TextEncoder::new();
        // Encoding our own registry into a Vec cannot fail.
        let _ = encoder.encode(&self.registry.gather(), &mut out);
        (encoder.format_type().to_owned(), out)
    }

    async fn read_figures(&self, pool: &sqlx::PgPool) {
        let figures = async {
            Ok::<_, crate::error::AppError>((
                data::headlines(pool).await?,
                data::edge_totals(pool).await?,
            ))
        };
        match figures.await {
            Ok((headlines, edge)) => {
                self.database_up.set(1);
                for vec in [
                    &self.launch_views,
                    &self.launch_unique_visitors,
                    &self.launch_conversions,
                    &self.launch_revenue_cents,
                ] {
                    vec.reset();
                }
                for h in headlines {
                    let l = [h.slug.as_str()];
                    self.launch_views.with_label_values(&l).set(h.views);
                    self.launch_unique_visitors
                        .with_label_values(&l)
                        .set(h.unique_visitors);
                    self.launch_conversions
                        .with_label_values(&l)
                        .set(h.conversions);
                    self.launch_revenue_cents
                        .with_label_values(&l)
                        .set(h.revenue_cents);
                }
                self.edge_counter.reset();
                for (launch, name, value) in edge {
                    self.edge_counter
                        .with_label_values(&[launch.as_str(), name.as_str()])
                        .set(value);
                }
            }
            Err(_) => self.database_up.set(0),
        }
        if let Ok(open) = crate::ingest::dead_letters::open_by_kind(pool).await {
            self.dead_letters.reset();
            for kind in ["counter", "uniques", "webhook_event", "ph_stat"] {
                self.dead_letters.with_label_values(&[kind]).set(0);
            }
            for (kind, count) in open {
                self.dead_letters
                    .with_label_values(&[kind.as_str()])
                    .set(count);
            }
        }
    }
}

/// The `method` label values: the methods the origin's routes use or a client commonly
/// sends; every other method is counted as `other`.
pub const METHOD_LABELS: [&str; 8] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "other",
];

/// A request method as a label of [`METHOD_LABELS`]: a stranger's `FOO` method must not
/// become a new series.
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Records every request's method, matched route (never the raw path: slugs and tokens
/// would make unbounded label sets), status and latency.
pub async fn track_http(State(m): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = method_label(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    m.http_request_duration_seconds
        .with_label_values(&[method, route.as_str()])
        .observe(started.elapsed().as_secs_f64());
    m.http_requests_total
        .with_label_values(&[method, route.as_str(), response.status().as_str()])
        .inc();
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_outside_the_known_set_are_labelled_other() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::OPTIONS), "OPTIONS");
        assert_eq!(method_label(&Method::TRACE), "other");
        let invented = Method::from_bytes(b"XLAUNCHX").unwrap();
        assert_eq!(method_label(&invented), "other");
        assert!(METHOD_LABELS.contains(&method_label(&invented)));
    }
}
