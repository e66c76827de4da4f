//! Drain time against backlog size, measured on the origin's ingest side.
//!
//! After an outage a counter shard holds every row it could not send; when the origin is
//! back it sends them in full batches of `MAX_BATCH_ROWS`, back to back (the shard's drain
//! loop does not wait for a tick while it is behind by a full batch). This example plays
//! those shards against a real origin on loopback with its own fresh database: for each
//! backlog size it spreads the pending rows over `SHARDS` shards, each sending its
//! batches one after another (shards in parallel, like their aligned alarms), signed like
//! the worker, and times the first request to the last acknowledgement. Then it times a
//! burst of small batches (the steady-state drain: every shard's few rows per tick), for
//! the batches-per-second side of a replica's capacity.
//!
//!   source scripts/lib.sh; export PGPORT=...; bash scripts/pg.sh start
//!   TEST_DATABASE_URL="$(bash scripts/pg.sh url postgres)" \
//!     cargo run --release --manifest-path origin/Cargo.toml --example ingest_backlog [-- 1000 10000 100000]
//!
//! Environment: `TEST_DATABASE_URL` (an admin URL; a database is created and dropped),
//! `SHARDS` (1), `SMALL_BATCHES` (512), `SMALL_ROWS` (20). Prints one Markdown table.

use std::sync::Arc;
use std::time::Instant;

use chrono::{TimeZone, Utc};
use launch_edge_origin::launches;
use launch_edge_origin::settings::{DatabaseSettings, ServerSettings, Settings};
use launch_edge_origin::startup::Application;
use launch_edge_proto::batch::{CounterDelta, IngestAck, IngestBatch, MAX_BATCH_ROWS};
use launch_edge_proto::signing::SignedRequest;
use launch_edge_proto::{headers, Secret};
use sqlx::{Connection, Executor, PgConnection};

const SECRET: &str = "bench-signing-secret-0123456789abcdef";
const LAUNCH: &str = "backlog-bench";
const DAY: &str = "2026-12-01";

fn env_usize(name: &str, fallback: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(fallback)
}

/// `rows` distinct minute rows (one per minute and source), like an outage's backlog.
fn rows(offset: usize, count: usize) -> Vec<CounterDelta> {
    let start = Utc
        .with_ymd_and_hms(2026, 12, 1, 8, 0, 0)
        .unwrap()
        .timestamp();
    (offset..offset + count)
        .map(|i| CounterDelta {
            launch: LAUNCH.into(),
            day: DAY.into(),
            // 50 sources a minute: 100,000 rows cover ~33 hours of minutes.
            minute: start + (i / 50) as i64 * 60,
            source: format!("src{}.example", i % 50),
            metric: "click".into(),
            value: 1,
            ..CounterDelta::default()
        })
        .collect()
}

struct Sender {
    client: reqwest::Client,
    address: String,
    secret: Secret,
}

impl Sender {
    async fn send(&self, batch: &IngestBatch) {
        let body = serde_json::to_vec(batch).unwrap();
        let path = "/ingest/batch";
        let timestamp = Utc::now().timestamp();
        let signature = SignedRequest {
            method: "POST",
            path_and_query: path,
            body: &body,
        }
        .sign(&self.secret, timestamp);
        let response = self
            .client
            .post(format!("{}{path}", self.address))
            .header(headers::TIMESTAMP, timestamp.to_string())
            .header(headers::SIGNATURE, signature)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("the origin answers");
        assert_eq!(response.status(), 200, "{:?}", response.text().await);
        let ack: IngestAck = response.json().await.unwrap();
        assert!(ack.applied, "batch {} applied once", batch.batch_id);
    }
}

/// Each shard sends its batches in turn; the shards run side by side. Returns seconds.
async fn drain(sender: &Arc<Sender>, run: &str, shards: usize, total: usize) -> f64 {
    let per_shard = total.div_ceil(shards);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for shard in 0..shards {
        let sender = Arc::clone(sender);
        let run = run.to_string();
        tasks.push(tokio::spawn(async move {
            let first = shard * per_shard;
            let last = (first + per_shard).min(total);
            let mut seq = 0;
            let mut at = first;
            while at < last {
                let count = MAX_BATCH_ROWS.min(last - at);
                let batch = IngestBatch {
                    batch_id: format!("{run}-{shard}:1:{seq}"),
                    shard: format!("{LAUNCH}/{shard}"),
                    counters: rows(at, count),
                    uniques: vec![],
                    webhook_events: vec![],
                    ph_stats: Vec::new(),
                    telemetry: Default::default(),
                };
                sender.send(&batch).await;
                at += count;
                seq += 1;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    started.elapsed().as_secs_f64()
}

/// `batches` batches of `rows_each` rows from 64 concurrent senders. Returns seconds.
async fn burst(sender: &Arc<Sender>, batches: usize, rows_each: usize) -> f64 {
    let started = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let sender = Arc::clone(sender);
        let next = Arc::clone(&next);
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= batches {
                    return;
                }
                let batch = IngestBatch {
                    batch_id: format!("small-{i}:1:0"),
                    shard: format!("{LAUNCH}/small-{i}"),
                    counters: rows(10_000_000 + i * rows_each, rows_each),
                    uniques: vec![],
                    webhook_events: vec![],
                    ph_stats: Vec::new(),
                    telemetry: Default::default(),
                };
                sender.send(&batch).await;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    started.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let sizes: Vec<usize> = {
        let given: Vec<usize> = std::env::args()
            .skip(1)
            .filter_map(|a| a.parse().ok())
            .collect();
        if given.is_empty() {
            vec![1_000, 10_000, 100_000]
        } else {
            given
        }
    };
    let shards = env_usize("SHARDS", 1).max(1);
    let small_batches = env_usize("SMALL_BATCHES", 512);
    let small_rows = env_usize("SMALL_ROWS", 20);
    let admin_url = std::env::var("TEST_DATABASE_URL").map_err(|_| {
        anyhow::anyhow!("TEST_DATABASE_URL must point at a Postgres admin database")
    })?;
    let name = format!("bench_backlog_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&admin_url).await?;
    admin
        .execute(format!(r#"CREATE DATABASE "{name}""#).as_str())
        .await?;
    let (base, _) = admin_url
        .rsplit_once('/')
        .ok_or_else(|| anyhow::anyhow!("database URL has no path"))?;
    let database = DatabaseSettings {
        database_url: format!("{base}/{name}"),
        db_max_connections: 5,
        pgbouncer: false,
    };
    let result = measure(database, &sizes, shards, small_batches, small_rows).await;
    admin
        .execute(format!(r#"DROP DATABASE "{name}" WITH (FORCE)"#).as_str())
        .await?;
    result
}

async fn measure(
    database: DatabaseSettings,
    sizes: &[usize],
    shards: usize,
    small_batches: usize,
    small_rows: usize,
) -> anyhow::Result<()> {
    let pool = launch_edge_origin::db::pool(&database)?;
    launch_edge_origin::db::migrate(&pool).await?;
    let mut launch = launches::demo(Utc.with_ymd_and_hms(2026, 12, 1, 8, 1, 0).unwrap());
    launch.slug = LAUNCH.into();
    launches::upsert(&pool, &launch).await?;
    let server = ServerSettings::local("127.0.0.1:0".parse()?, Secret::new(SECRET));
    let settings = Settings { database, server };
    let app = Application::build_with(settings, pool.clone(), Arc::new(|| Utc::now().timestamp()))
        .await?;
    let sender = Arc::new(Sender {
        client: reqwest::Client::new(),
        address: format!("http://127.0.0.1:{}", app.port()),
        secret: Secret::new(SECRET),
    });
    tokio::spawn(app.run_until_stopped());

    println!(
        "| pending rows | shards | batches (≤ {MAX_BATCH_ROWS} rows) | drain s | rows/s | ms per 1,000 rows |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: |");
    for (i, &size) in sizes.iter().enumerate() {
        let clicks =
            "SELECT coalesce(sum(value), 0)::bigint FROM metrics_minute WHERE metric = 'click'";
        let before: i64 = sqlx::query_scalar(clicks).fetch_one(&pool).await?;
        let seconds = drain(&sender, &format!("backlog{i}"), shards, size).await;
        let after: i64 = sqlx::query_scalar(clicks).fetch_one(&pool).await?;
        anyhow::ensure!(
            after - before == size as i64,
            "every pending row lands once: {} clicks for {size} rows",
            after - before
        );
        let batches: usize = (0..shards)
            .map(|s| {
                let per = size.div_ceil(shards);
                (per.min(size.saturating_sub(s * per))).div_ceil(MAX_BATCH_ROWS)
            })
            .sum();
        println!(
            "| {size} | {shards} | {batches} | {seconds:.2} | {:.0} | {:.1} |",
            size as f64 / seconds,
            seconds * 1000.0 * 1000.0 / size as f64
        );
    }
    let seconds = burst(&sender, small_batches, small_rows).await;
    let transactions: i64 =
        sqlx::query_scalar("SELECT count(DISTINCT txid) FROM ingested_batches WHERE shard LIKE $1")
            .bind(format!("{LAUNCH}/small-%"))
            .fetch_one(&pool)
            .await?;
    println!();
    println!(
        "small batches: {small_batches} batches of {small_rows} rows from 64 senders in {seconds:.2} s = {:.0} batches/s, {:.0} rows/s, {transactions} transactions",
        small_batches as f64 / seconds,
        (small_batches * small_rows) as f64 / seconds
    );
    Ok(())
}
