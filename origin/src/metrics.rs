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

//! Metric names and labels follow Prometheus' conventions (`promtool check metrics` finds
//! nothing to say about a scrape): counters end `_total` and only grow, durations are
//! `_seconds` histograms, ratios `_ratio`. Figures read from Postgres that only grow
//! (per-launch views, the worker's drained counters) are exported as counters too: a
//! scrape moves each series up to the value it read ([`DbCounters`]).
//!
//! The worker's drained counters (`edge_counters`) each map to a named metric of their
//! own ([`edge_series`]); a name the origin does not know goes to
//! `launch_edge_edge_other_total`, never into a label. The `launch` label is a slug of
//! the `launches` table or [`OTHER_LAUNCH`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use launch_edge_proto::batch::{BatchTelemetry, OUTBOUND_TARGETS};
use prometheus::{
    Counter, Gauge, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec,
    IntGauge, IntGaugeVec, Opts, Registry,
};

use crate::dashboard::data;

const NS: &str = "launch_edge_origin";

/// The `launch` label of a figure whose launch is not in the `launches` table (or is the
/// empty string): never a slug, since slugs have no underscore.
pub const OTHER_LAUNCH: &str = "_other";
/// The `target` label of an outbound budget outside [`OUTBOUND_TARGETS`].
pub const OTHER_TARGET: &str = "other";
/// The `reason` values of `launch_edge_edge_webhook_rejected_total` besides `other`: the
/// worker's webhook rejection codes.
pub const WEBHOOK_REJECTION_REASONS: [&str; 8] = [
    "body_too_large",
    "missing_header",
    "malformed_header",
    "timestamp_outside_tolerance",
    "signature_mismatch",
    "unknown_source",
    "invalid_json",
    "invalid_conversion",
];
/// The `kind` values of `launch_edge_edge_dead_letters_total`.
pub const EDGE_DEAD_LETTER_KINDS: [&str; 3] = ["batch", "webhook", "task"];
/// The `layer` values of `launch_edge_edge_page_served_total`.
pub const PAGE_LAYERS: [&str; 4] = ["memory", "cache_api", "kv", "origin"];
/// How long a producer's reported drain lag counts: one that has sent no batch for this
/// long has nothing left to drain (or is gone) and no longer holds the gauge up.
pub const DRAIN_LAG_KEEP_MS: i64 = 5 * 60 * 1000;
/// Producers whose drain lag is remembered at once (the oldest report makes room).
pub const MAX_DRAIN_PRODUCERS: usize = 4096;
/// How often the pool is looked at for `db_pool_saturated_seconds_total`.
pub const POOL_SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// Where one drained worker counter is exported: the metric and its labels other than
/// `launch` (per-launch metrics add it, worker-wide ones ignore the row's launch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeSeries {
    CacheLookup {
        result: &'static str,
    },
    PageServed {
        layer: &'static str,
        freshness: &'static str,
    },
    ShardCalls,
    InboundRateLimited,
    OriginFetches,
    DeadLetters {
        kind: &'static str,
    },
    WebhookRejected {
        reason: &'static str,
    },
    TallyOverflows,
    OutboundRateLimited,
    TaskRetries,
    TaskDeliveries,
    TallyFlushes,
    Other,
}

/// The metric a worker counter name (as stored in `edge_counters`, without `edge_`) is
/// exported under.
pub fn edge_series(name: &str) -> EdgeSeries {
    use EdgeSeries as E;
    if let Some(code) = name.strip_prefix("webhook_rejected.") {
        // A code may carry a detail after a dot (`missing_header.webhook-signature`).
        let code = code.split('.').next().unwrap_or_default();
        let reason = WEBHOOK_REJECTION_REASONS
            .into_iter()
            .find(|r| *r == code)
            .unwrap_or("other");
        return E::WebhookRejected { reason };
    }
    if let Some(rest) = name.strip_prefix("page_") {
        let (layer, freshness) = match rest.strip_suffix("_stale") {
            Some(layer) => (layer, "stale"),
            None => match rest.strip_suffix("_hit") {
                Some(layer) => (layer, "fresh"),
                None if rest == "origin_render" => ("origin", "fresh"),
                None => return E::Other,
            },
        };
        return match PAGE_LAYERS.into_iter().find(|l| *l == layer) {
            // The origin renders fresh pages only.
            Some("origin") if freshness == "stale" || rest != "origin_render" => E::Other,
            Some(layer) => E::PageServed { layer, freshness },
            None => E::Other,
        };
    }
    match name {
        "cache_hit" => E::CacheLookup { result: "hit" },
        "cache_stale" => E::CacheLookup { result: "stale" },
        "cache_miss" => E::CacheLookup { result: "miss" },
        "shard_calls" => E::ShardCalls,
        "inbound_rate_limited" => E::InboundRateLimited,
        "origin_fetch" => E::OriginFetches,
        "drain_dead_letter" => E::DeadLetters { kind: "batch" },
        "webhook_inbox_dead_letter" => E::DeadLetters { kind: "webhook" },
        "task_dead_letter" => E::DeadLetters { kind: "task" },
        "edge_tally_overflow" => E::TallyOverflows,
        "outbound_429" => E::OutboundRateLimited,
        "task_retry" => E::TaskRetries,
        "task_delivered" => E::TaskDeliveries,
        "edge_calls" => E::TallyFlushes,
        _ => E::Other,
    }
}

/// A counter family whose values are totals read from Postgres: each refresh moves every
/// series up to the total read, starts it again from the total if the total fell (a
/// counter reset, as Prometheus understands one), and removes series no longer read.
struct DbCounters {
    vec: IntCounterVec,
    published: Mutex<BTreeSet<Vec<String>>>,
}

impl DbCounters {
    fn publish(&self, totals: &BTreeMap<Vec<String>, u64>) {
        let mut published = self.published.lock().unwrap_or_else(|e| e.into_inner());
        for gone in published.difference(&totals.keys().cloned().collect()) {
            let labels: Vec<&str> = gone.iter().map(String::as_str).collect();
            let _ = self.vec.remove_label_values(&labels);
        }
        for (labels, &total) in totals {
            let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
            let counter = self.vec.with_label_values(&labels);
            let now = counter.get();
            if total < now {
                counter.reset();
                counter.inc_by(total);
            } else {
                counter.inc_by(total - now);
            }
        }
        *published = totals.keys().cloned().collect();
    }
}

/// Totals per label set, for [`DbCounters::publish`].
type Totals = BTreeMap<Vec<String>, u64>;

fn add(totals: &mut Totals, labels: &[&str], value: i64) {
    let key = labels.iter().map(|l| (*l).to_owned()).collect();
    *totals.entry(key).or_default() += u64::try_from(value).unwrap_or_default();
}

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
    /// Bodies of `POST /ingest/batch` that passed the signature check, every outcome.
    pub ingest_batch_size_bytes: Histogram,
    /// Scrapes that read the per-launch figures from Postgres (the others reused them).
    figure_reads_total: IntCounter,
    /// When the last read of the launch figures started; held while one runs.
    figures_read_at: tokio::sync::Mutex<Option<Instant>>,
    pool_connections: IntGaugeVec,
    pool_max_connections: IntGauge,
    pool_saturated_seconds: Counter,
    database_up: IntGauge,
    launch_views: DbCounters,
    launch_unique_visitors: IntGaugeVec,
    launch_conversions: DbCounters,
    launch_revenue_cents: DbCounters,
    /// Open dead letters in Postgres, by row kind.
    dead_letters: IntGaugeVec,
    edge_cache_lookups: DbCounters,
    edge_page_served: DbCounters,
    edge_shard_calls: DbCounters,
    edge_inbound_rate_limited: DbCounters,
    edge_origin_fetches: DbCounters,
    edge_dead_letters: DbCounters,
    edge_webhook_rejected: DbCounters,
    edge_tally_overflows: DbCounters,
    edge_outbound_rate_limited: DbCounters,
    edge_task_retries: DbCounters,
    edge_task_deliveries: DbCounters,
    edge_tally_flushes: DbCounters,
    edge_other: DbCounters,
    drain_lag_seconds: Gauge,
    drain_last_report: Gauge,
    /// Per producer (a batch's `shard`): the drain lag its latest batch reported and when
    /// it arrived, both Unix ms; at most [`MAX_DRAIN_PRODUCERS`], kept [`DRAIN_LAG_KEEP_MS`].
    drain_lags: Mutex<std::collections::HashMap<String, (i64, i64)>>,
    outbound_budget_remaining: GaugeVec,
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

/// A counter family read from Postgres; `name` is the full metric name.
fn db_counters(r: &Registry, name: &str, help: &str, labels: &[&str]) -> DbCounters {
    DbCounters {
        vec: register(
            r,
            IntCounterVec::new(Opts::new(name, help), labels).unwrap(),
        ),
        published: Mutex::default(),
    }
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
        // From a cached answer (a millisecond) to a slow report query or a drain of a
        // large batch (seconds); the request timeout ends everything before 30 s.
        let latency = HistogramOpts::new(
            "http_request_duration_seconds",
            "HTTP request latency by method and matched route.",
        )
        .namespace(NS)
        .buckets(vec![
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ]);
        let edge = |name: &str, help: &str, labels: &[&str]| {
            db_counters(&r, &format!("launch_edge_edge_{name}"), help, labels)
        };
        let launch_result = ["launch", "result"];
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
            ingest_batch_size_bytes: register(
                &r,
                Histogram::with_opts(
                    HistogramOpts::new(
                        "ingest_batch_size_bytes",
                        "Signed ingest batch bodies by size (up to the 3 MiB batch limit).",
                    )
                    .namespace(NS)
                    .buckets(vec![
                        1024.0,
                        4096.0,
                        16_384.0,
                        65_536.0,
                        262_144.0,
                        1_048_576.0,
                        3_145_728.0,
                    ]),
                )
                .unwrap(),
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
                "Postgres pool connections by state (in_use, idle).",
                &["state"],
            ),
            pool_max_connections: gauge(
                &r,
                "db_pool_max_connections",
                "The pool's upper bound.",
            ),
            pool_saturated_seconds: register(
                &r,
                Counter::with_opts(
                    Opts::new(
                        "db_pool_saturated_seconds_total",
                        "Time every pool connection was in use and none idle, so a new query waited (sampled every 100 ms).",
                    )
                    .namespace(NS),
                )
                .unwrap(),
            ),
            database_up: gauge(
                &r,
                "database_up",
                "1 when the scrape could read Postgres.",
            ),
            launch_views: db_counters(
                &r,
                "launch_edge_origin_launch_views_total",
                "Views per launch, all days.",
                &["launch"],
            ),
            launch_unique_visitors: gauge_vec(
                &r,
                "launch_unique_visitors",
                "Unique visitors per launch (sum of Pacific-day estimates).",
                &["launch"],
            ),
            launch_conversions: db_counters(
                &r,
                "launch_edge_origin_launch_conversions_total",
                "Conversions per launch, all kinds, all days.",
                &["launch"],
            ),
            launch_revenue_cents: db_counters(
                &r,
                "launch_edge_origin_launch_revenue_cents_total",
                "Revenue per launch in minor units of its currency, all days.",
                &["launch"],
            ),
            dead_letters: gauge_vec(
                &r,
                "dead_letters",
                "Ingest rows kept aside in dead_letters and not requeued yet, by kind.",
                &["kind"],
            ),
            edge_cache_lookups: edge(
                "cache_lookups_total",
                "Worker page cache lookups by result (hit, stale, miss).",
                &launch_result,
            ),
            edge_page_served: edge(
                "page_served_total",
                "Launch pages the worker served, by layer (memory, cache_api, kv, origin) and freshness (fresh, stale).",
                &["launch", "layer", "freshness"],
            ),
            edge_shard_calls: edge(
                "shard_calls_total",
                "Calls the worker made to counter shards.",
                &["launch"],
            ),
            edge_inbound_rate_limited: edge(
                "inbound_rate_limited_total",
                "Requests the worker answered 429 (inbound rate limit).",
                &["launch"],
            ),
            edge_origin_fetches: edge(
                "origin_fetches_total",
                "Requests the worker sent to the origin for pages.",
                &[],
            ),
            edge_dead_letters: edge(
                "dead_letters_total",
                "Records the worker set aside: ingest batches (batch), webhook inbox records (webhook), engagement tasks (task).",
                &["kind"],
            ),
            edge_webhook_rejected: edge(
                "webhook_rejected_total",
                "Webhook requests the worker refused, by reason.",
                &["reason"],
            ),
            edge_tally_overflows: edge(
                "tally_overflows_total",
                "Worker counts dropped because a tally of counter names was full.",
                &[],
            ),
            edge_outbound_rate_limited: edge(
                "outbound_rate_limited_total",
                "Outbound calls (Product Hunt, Discord, Slack, webhooks) answered 429.",
                &[],
            ),
            edge_task_retries: edge(
                "task_retries_total",
                "Engagement task attempts that failed and were scheduled again.",
                &[],
            ),
            edge_task_deliveries: edge(
                "task_deliveries_total",
                "Engagement tasks delivered.",
                &[],
            ),
            edge_tally_flushes: edge(
                "tally_flushes_total",
                "Flushes of worker-wide counts into the task scheduler object.",
                &[],
            ),
            edge_other: edge(
                "other_total",
                "Drained worker counts under a name this origin does not know.",
                &[],
            ),
            drain_lag_seconds: register(
                &r,
                Gauge::new(
                    "launch_edge_drain_lag_seconds",
                    "Age of the oldest undrained worker event when the latest ingest batch reporting it was cut.",
                )
                .unwrap(),
            ),
            drain_last_report: register(
                &r,
                Gauge::new(
                    "launch_edge_drain_lag_reported_timestamp_seconds",
                    "When the latest ingest batch reporting its oldest undrained event arrived (Unix seconds; 0 before any).",
                )
                .unwrap(),
            ),
            drain_lags: Mutex::default(),
            outbound_budget_remaining: register(
                &r,
                GaugeVec::new(
                    Opts::new(
                        "launch_edge_outbound_budget_remaining_ratio",
                        "Share of the worker's outbound rate budget left, by target, as of the latest batch reporting it.",
                    ),
                    &["target"],
                )
                .unwrap(),
            ),
            registry: r,
        }
    }
}

/// The `target` label of an outbound budget.
pub fn target_label(target: &str) -> &'static str {
    OUTBOUND_TARGETS
        .into_iter()
        .find(|t| *t == target)
        .unwrap_or(OTHER_TARGET)
}

impl Metrics {
    pub fn inc(counter: &IntCounter) {
        counter.inc();
    }

    /// Records what a batch of `producer` reports about it, arrived at `now_ms`: its
    /// drain lag (never negative: a clock ahead of the origin's reads as no lag) and each
    /// budget's ratio (a limit that is not positive says nothing and is skipped; several
    /// budgets of one label keep the lowest). The lag gauge is the largest lag among the
    /// producers' latest reports of the last [`DRAIN_LAG_KEEP_MS`].
    pub fn observe_telemetry(&self, producer: &str, telemetry: &BatchTelemetry, now_ms: i64) {
        if let Some(oldest) = telemetry.oldest_event_ms {
            let lag_ms = now_ms.saturating_sub(oldest).max(0);
            let mut lags = self.drain_lags.lock().unwrap_or_else(|e| e.into_inner());
            if !lags.contains_key(producer) && lags.len() >= MAX_DRAIN_PRODUCERS {
                lags.retain(|_, (_, at)| now_ms.saturating_sub(*at) <= DRAIN_LAG_KEEP_MS);
                if lags.len() >= MAX_DRAIN_PRODUCERS {
                    let oldest_report = lags.iter().min_by_key(|(_, (_, at))| *at);
                    if let Some(key) = oldest_report.map(|(k, _)| k.clone()) {
                        lags.remove(&key);
                    }
                }
            }
            lags.insert(producer.to_owned(), (lag_ms, now_ms));
            drop(lags);
            self.publish_drain_lag(now_ms);
        }
        let mut lowest: BTreeMap<&str, f64> = BTreeMap::new();
        for budget in &telemetry.outbound_budgets {
            if budget.limit <= 0 {
                continue;
            }
            let remaining = budget.remaining.clamp(0, budget.limit);
            #[allow(clippy::cast_precision_loss)]
            let ratio = remaining as f64 / budget.limit as f64;
            let entry = lowest.entry(target_label(&budget.target)).or_insert(ratio);
            *entry = entry.min(ratio);
        }
        for (target, ratio) in lowest {
            self.outbound_budget_remaining
                .with_label_values(&[target])
                .set(ratio);
        }
    }

    /// Sets the drain lag gauges from the reports of the last [`DRAIN_LAG_KEEP_MS`] (0 when
    /// there are none), forgetting older ones.
    fn publish_drain_lag(&self, now_ms: i64) {
        let mut lags = self.drain_lags.lock().unwrap_or_else(|e| e.into_inner());
        lags.retain(|_, (_, at)| now_ms.saturating_sub(*at) <= DRAIN_LAG_KEEP_MS);
        let worst = lags.values().map(|(lag, _)| *lag).max().unwrap_or(0);
        // Milliseconds to seconds: any i64 of them is within f64's range.
        #[allow(clippy::cast_precision_loss)]
        self.drain_lag_seconds.set(worst as f64 / 1000.0);
        if let Some(latest) = lags.values().map(|(_, at)| *at).max() {
            #[allow(clippy::cast_precision_loss)]
            self.drain_last_report.set(latest as f64 / 1000.0);
        }
    }

    /// Samples the pool every [`POOL_SAMPLE_EVERY`] until the metrics or the pool are
    /// gone, adding the interval to `db_pool_saturated_seconds_total` whenever every
    /// connection is in use and the pool can open no other.
    pub fn sample_pool(metrics: Weak<Self>, pool: sqlx::PgPool) {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(POOL_SAMPLE_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tick.tick().await;
                let Some(m) = metrics.upgrade() else { return };
                if pool.is_closed() {
                    return;
                }
                let max = pool.options().get_max_connections();
                if pool.size() >= max && pool.num_idle() == 0 {
                    m.pool_saturated_seconds
                        .inc_by(POOL_SAMPLE_EVERY.as_secs_f64());
                }
            }
        });
    }

    /// Reads the pool state, and the launch figures unless a read that started at most
    /// `cache` before this scrape `arrived` exists (or is running: then this waits for it).
    pub(crate) async fn refresh(&self, pool: &sqlx::PgPool, cache: Duration, arrived: Instant) {
        self.publish_drain_lag(chrono::Utc::now().timestamp_millis());
        let idle = u32::try_from(pool.num_idle()).unwrap_or(u32::MAX);
        self.pool_connections
            .with_label_values(&["in_use"])
            .set(i64::from(pool.size().saturating_sub(idle)));
        self.pool_connections
            .with_label_values(&["idle"])
            .set(i64::from(idle));
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
                self.launch_unique_visitors.reset();
                let (mut views, mut conversions, mut revenue) =
                    (Totals::new(), Totals::new(), Totals::new());
                for h in headlines {
                    let l = [h.slug.as_str()];
                    add(&mut views, &l, h.views);
                    add(&mut conversions, &l, h.conversions);
                    add(&mut revenue, &l, h.revenue_cents);
                    self.launch_unique_visitors
                        .with_label_values(&l)
                        .set(h.unique_visitors);
                }
                self.launch_views.publish(&views);
                self.launch_conversions.publish(&conversions);
                self.launch_revenue_cents.publish(&revenue);
                self.publish_edge(edge);
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

    /// Exports the drained worker counters: `(launch if in launches, name, total)`.
    fn publish_edge(&self, rows: Vec<(Option<String>, String, i64)>) {
        use EdgeSeries as E;
        let mut t: BTreeMap<&'static str, Totals> = BTreeMap::new();
        // Worker-wide series exist from the start, at zero: a rate over them is 0, not
        // empty, before the first such event.
        for k in EDGE_DEAD_LETTER_KINDS {
            add(t.entry("dead_letters").or_default(), &[k], 0);
        }
        for r in WEBHOOK_REJECTION_REASONS.into_iter().chain(["other"]) {
            add(t.entry("webhook_rejected").or_default(), &[r], 0);
        }
        for name in [
            "origin_fetches",
            "tally_overflows",
            "outbound_rate_limited",
            "task_retries",
            "task_deliveries",
            "tally_flushes",
            "other",
        ] {
            add(t.entry(name).or_default(), &[], 0);
        }
        for (launch, name, value) in &rows {
            let l = launch.as_deref().unwrap_or(OTHER_LAUNCH);
            let (family, labels): (&'static str, Vec<&str>) = match edge_series(name) {
                E::CacheLookup { result } => ("cache_lookups", vec![l, result]),
                E::PageServed { layer, freshness } => ("page_served", vec![l, layer, freshness]),
                E::ShardCalls => ("shard_calls", vec![l]),
                E::InboundRateLimited => ("inbound_rate_limited", vec![l]),
                E::OriginFetches => ("origin_fetches", vec![]),
                E::DeadLetters { kind } => ("dead_letters", vec![kind]),
                E::WebhookRejected { reason } => ("webhook_rejected", vec![reason]),
                E::TallyOverflows => ("tally_overflows", vec![]),
                E::OutboundRateLimited => ("outbound_rate_limited", vec![]),
                E::TaskRetries => ("task_retries", vec![]),
                E::TaskDeliveries => ("task_deliveries", vec![]),
                E::TallyFlushes => ("tally_flushes", vec![]),
                E::Other => ("other", vec![]),
            };
            add(t.entry(family).or_default(), &labels, *value);
        }
        let families: [(&str, &DbCounters); 13] = [
            ("cache_lookups", &self.edge_cache_lookups),
            ("page_served", &self.edge_page_served),
            ("shard_calls", &self.edge_shard_calls),
            ("inbound_rate_limited", &self.edge_inbound_rate_limited),
            ("origin_fetches", &self.edge_origin_fetches),
            ("dead_letters", &self.edge_dead_letters),
            ("webhook_rejected", &self.edge_webhook_rejected),
            ("tally_overflows", &self.edge_tally_overflows),
            ("outbound_rate_limited", &self.edge_outbound_rate_limited),
            ("task_retries", &self.edge_task_retries),
            ("task_deliveries", &self.edge_task_deliveries),
            ("tally_flushes", &self.edge_tally_flushes),
            ("other", &self.edge_other),
        ];
        for (family, counters) in families {
            counters.publish(&t.remove(family).unwrap_or_default());
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

    #[test]
    fn every_known_worker_counter_has_its_own_series_and_unknown_names_go_to_other() {
        use EdgeSeries as E;
        assert_eq!(edge_series("cache_hit"), E::CacheLookup { result: "hit" });
        assert_eq!(edge_series("cache_miss"), E::CacheLookup { result: "miss" });
        assert_eq!(
            edge_series("drain_dead_letter"),
            E::DeadLetters { kind: "batch" }
        );
        assert_eq!(
            edge_series("webhook_inbox_dead_letter"),
            E::DeadLetters { kind: "webhook" }
        );
        assert_eq!(
            edge_series("task_dead_letter"),
            E::DeadLetters { kind: "task" }
        );
        for reason in WEBHOOK_REJECTION_REASONS {
            assert_eq!(
                edge_series(&format!("webhook_rejected.{reason}")),
                E::WebhookRejected { reason }
            );
        }
        assert_eq!(
            edge_series("webhook_rejected.missing_header.webhook-signature"),
            E::WebhookRejected {
                reason: "missing_header"
            }
        );
        assert_eq!(
            edge_series("webhook_rejected.made_up_code"),
            E::WebhookRejected { reason: "other" }
        );
        let page = |layer, freshness| E::PageServed { layer, freshness };
        assert_eq!(edge_series("page_memory_hit"), page("memory", "fresh"));
        assert_eq!(
            edge_series("page_cache_api_hit"),
            page("cache_api", "fresh")
        );
        assert_eq!(edge_series("page_kv_stale"), page("kv", "stale"));
        assert_eq!(edge_series("page_origin_render"), page("origin", "fresh"));
        for other in [
            "page_origin_stale",
            "page_origin_hit",
            "page_disk_hit",
            "page_",
            "sneaky",
            "",
        ] {
            assert_eq!(edge_series(other), E::Other, "{other}");
        }
        assert_eq!(edge_series("inbound_rate_limited"), E::InboundRateLimited);
        assert_eq!(edge_series("edge_calls"), E::TallyFlushes);
    }

    #[test]
    fn telemetry_sets_the_drain_lag_and_budget_ratios_within_fixed_labels() {
        use launch_edge_proto::batch::OutboundBudget;
        let m = Metrics::default();
        let budget = |target: &str, remaining, limit| OutboundBudget {
            target: target.into(),
            remaining,
            limit,
        };
        m.observe_telemetry(
            "acme/0",
            &BatchTelemetry {
                oldest_event_ms: Some(1_000_000),
                outbound_budgets: vec![
                    budget("discord", 3, 30),
                    budget("mastodon", 9, 10),
                    budget("irc", 1, 10),
                    budget("slack", 50, 10),
                    budget("webhook", 1, 0),
                ],
            },
            1_090_500,
        );
        assert!((m.drain_lag_seconds.get() - 90.5).abs() < 1e-9);
        let ratio = |t: &str| m.outbound_budget_remaining.with_label_values(&[t]).get();
        assert!((ratio("discord") - 0.1).abs() < 1e-9);
        assert!(
            (ratio("other") - 0.1).abs() < 1e-9,
            "the lowest of the others"
        );
        assert!((ratio("slack") - 1.0).abs() < 1e-9, "clamped to the limit");
        let (_, text) = m.encode();
        let text = String::from_utf8(text).unwrap();
        assert!(
            !text.contains("mastodon") && !text.contains("target=\"webhook\""),
            "{text}"
        );
        // Another producer, caught up, does not hide the first one's lag.
        let caught_up = BatchTelemetry {
            oldest_event_ms: Some(1_090_000),
            outbound_budgets: Vec::new(),
        };
        m.observe_telemetry("acme/1", &caught_up, 1_090_600);
        assert!((m.drain_lag_seconds.get() - 90.5).abs() < 1e-9);
        // Once the first one reports again, caught up too, the lag is the worst of both.
        m.observe_telemetry("acme/0", &caught_up, 1_091_000);
        assert!((m.drain_lag_seconds.get() - 1.0).abs() < 1e-9);
        // A producer clock ahead of the origin's is no lag.
        let ahead = BatchTelemetry {
            oldest_event_ms: Some(2_000_000),
            outbound_budgets: Vec::new(),
        };
        m.observe_telemetry("acme/0", &ahead, 1_091_000);
        m.observe_telemetry("acme/1", &ahead, 1_091_000);
        assert_eq!(m.drain_lag_seconds.get(), 0.0);
        // Reports older than the keep window stop counting.
        let late = BatchTelemetry {
            oldest_event_ms: Some(1_000_000),
            outbound_budgets: Vec::new(),
        };
        m.observe_telemetry("acme/2", &late, 1_100_000);
        assert!((m.drain_lag_seconds.get() - 100.0).abs() < 1e-9);
        m.publish_drain_lag(1_100_000 + DRAIN_LAG_KEEP_MS + 1);
        assert_eq!(m.drain_lag_seconds.get(), 0.0);
    }

    #[test]
    fn the_drain_lag_remembers_a_bounded_number_of_producers() {
        let m = Metrics::default();
        let report = |ms| BatchTelemetry {
            oldest_event_ms: Some(ms),
            outbound_budgets: Vec::new(),
        };
        // The first producer reports a lag of 50 s, then thousands of caught-up ones.
        m.observe_telemetry("slow", &report(0), 50_000);
        for i in 0..MAX_DRAIN_PRODUCERS + 10 {
            let at = 50_001 + i64::try_from(i).unwrap();
            m.observe_telemetry(&format!("p{i}"), &report(at), at);
        }
        assert_eq!(m.drain_lags.lock().unwrap().len(), MAX_DRAIN_PRODUCERS);
        assert_eq!(
            m.drain_lag_seconds.get(),
            0.0,
            "the oldest report made room"
        );
    }
}
