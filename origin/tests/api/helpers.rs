//! Spawning the origin against a fresh database, and signed requests to it.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use launch_edge_origin::launches::{self, Launch};
use launch_edge_origin::settings::{DatabaseSettings, ServerSettings, Settings};
use launch_edge_origin::startup::Application;
use launch_edge_proto::batch::{CounterDelta, IngestAck, IngestBatch, UniquesSketch};
use launch_edge_proto::signing::SignedRequest;
use launch_edge_proto::uniques::VisitorSketch;
use launch_edge_proto::{headers, Secret};
use sqlx::{Connection, Executor, PgConnection, PgPool};

pub const SIGNING_SECRET: &str = "test-signing-secret-0123456789abcdef";
pub const DASHBOARD_TOKEN: &str = "test-dashboard-token-0123456789abcdef";
pub const METRICS_TOKEN: &str = "test-metrics-token-0123456789abcdef";

/// The server settings every test app starts from: both tokens set, and launch figures
/// read on every scrape (no cache), so a scrape right after an ingest sees it.
pub fn server_settings() -> ServerSettings {
    let mut server =
        ServerSettings::local("127.0.0.1:0".parse().unwrap(), Secret::new(SIGNING_SECRET));
    server.dashboard_token = Some(Secret::new(DASHBOARD_TOKEN));
    server.metrics_token = Some(Secret::new(METRICS_TOKEN));
    server.metrics_cache_secs = 0;
    server
}

/// The signing key the test apps share with "the worker" (the tests).
pub fn test_secret() -> Secret {
    Secret::new(SIGNING_SECRET)
}

/// The cluster's admin URL; each test creates its own database there.
pub fn admin_database_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .expect("TEST_DATABASE_URL must point at a Postgres database (scripts/test.sh sets it)")
}

/// Creates an empty database with a random name and returns its settings.
pub async fn fresh_database() -> DatabaseSettings {
    let admin_url = admin_database_url();
    let name = format!("test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = PgConnection::connect(&admin_url)
        .await
        .expect("connect to the test cluster");
    conn.execute(format!(r#"CREATE DATABASE "{name}""#).as_str())
        .await
        .expect("create test database");
    let (base, _) = admin_url.rsplit_once('/').expect("database URL has a path");
    DatabaseSettings {
        database_url: format!("{base}/{name}"),
        db_max_connections: 5,
        pgbouncer: false,
    }
}

pub struct TestApp {
    pub address: String,
    pub pool: PgPool,
    pub client: reqwest::Client,
    pub secret: Secret,
}

/// A migrated database and a running origin whose clock is the real clock.
pub async fn spawn_app() -> TestApp {
    let database = fresh_database().await;
    spawn_on(database, server_settings()).await
}

/// Like [`spawn_app`] with server settings of the test's own (timeouts, tokens...).
pub async fn spawn_app_with_server(server: ServerSettings) -> TestApp {
    spawn_on(fresh_database().await, server).await
}

async fn spawn_on(database: DatabaseSettings, server: ServerSettings) -> TestApp {
    let pool = launch_edge_origin::db::pool(&database).expect("pool");
    launch_edge_origin::db::migrate(&pool)
        .await
        .expect("migrations apply");
    let settings = Settings { database, server };
    let app = Application::build_with(settings, pool.clone(), Arc::new(|| Utc::now().timestamp()))
        .await
        .expect("app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        pool,
        client: reqwest::Client::new(),
        secret: Secret::new(SIGNING_SECRET),
    }
}

impl TestApp {
    /// Sends a request signed the way the worker signs it, at `timestamp` (Unix seconds).
    pub async fn signed_at(
        &self,
        method: &str,
        path_and_query: &str,
        body: &[u8],
        timestamp: i64,
    ) -> reqwest::Response {
        let signature = SignedRequest {
            method,
            path_and_query,
            body,
        }
        .sign(&self.secret, timestamp);
        self.client
            .request(
                method.parse().unwrap(),
                format!("{}{path_and_query}", self.address),
            )
            .header(headers::TIMESTAMP, timestamp.to_string())
            .header(headers::SIGNATURE, signature)
            .header("content-type", "application/json")
            .body(body.to_vec())
            .send()
            .await
            .expect("request reaches the origin")
    }

    pub async fn signed(
        &self,
        method: &str,
        path_and_query: &str,
        body: &[u8],
    ) -> reqwest::Response {
        self.signed_at(method, path_and_query, body, Utc::now().timestamp())
            .await
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("request reaches the origin")
    }

    /// `GET /metrics` with the metrics token, as Prometheus scrapes it: the exposition.
    pub async fn scrape(&self) -> String {
        let response = self
            .client
            .get(format!("{}/metrics", self.address))
            .bearer_auth(METRICS_TOKEN)
            .send()
            .await
            .expect("request reaches the origin");
        assert_eq!(response.status(), 200, "scrape refused");
        response.text().await.unwrap()
    }

    pub async fn seed_launch(&self, slug: &str, name: &str) -> Launch {
        let mut launch = launches::demo(launch_time());
        launch.slug = slug.into();
        launch.name = name.into();
        launches::upsert(&self.pool, &launch)
            .await
            .expect("launch inserted");
        launch
    }
}

pub fn launch_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 8, 1, 0).unwrap()
}

/// The value of one counter in the origin's Prometheus exposition.
pub async fn metric(app: &TestApp, name: &str) -> u64 {
    let text = app.scrape().await;
    text.lines()
        .find_map(|line| {
            line.strip_prefix(name)
                .and_then(|rest| rest.trim().parse().ok())
        })
        .unwrap_or_else(|| panic!("metric {name} not exported"))
}

/// Another origin on an already migrated database: replicas share Postgres and nothing
/// else (their own pool, ingest writer and metrics).
pub async fn spawn_replica(database: &DatabaseSettings) -> TestApp {
    let pool = launch_edge_origin::db::pool(database).expect("pool");
    let settings = Settings {
        database: database.clone(),
        server: server_settings(),
    };
    let app = Application::build_with(settings, pool.clone(), Arc::new(|| Utc::now().timestamp()))
        .await
        .expect("app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        pool,
        client: reqwest::Client::new(),
        secret: Secret::new(SIGNING_SECRET),
    }
}

/// Like [`spawn_app`], with the database settings adjusted first (e.g. PgBouncer mode).
/// Also returns the settings, for running the binary against the same database.
pub async fn spawn_app_with(
    configure: impl FnOnce(&mut DatabaseSettings),
) -> (TestApp, DatabaseSettings) {
    let mut database = fresh_database().await;
    configure(&mut database);
    let pool = launch_edge_origin::db::pool(&database).expect("pool");
    launch_edge_origin::db::migrate(&pool)
        .await
        .expect("migrations apply");
    let app = spawn_replica(&database).await;
    (app, database)
}

impl TestApp {
    /// Posts a batch to `/ingest/batch`, signed.
    pub async fn ingest(&self, batch: &IngestBatch) -> reqwest::Response {
        let body = serde_json::to_vec(batch).unwrap();
        self.signed("POST", "/ingest/batch", &body).await
    }

    /// Posts a batch and asserts it was acknowledged; returns `applied`.
    pub async fn ingest_ok(&self, batch: &IngestBatch) -> bool {
        let response = self.ingest(batch).await;
        assert_eq!(response.status(), 200, "{:?}", response.text().await);
        let ack: IngestAck = response.json().await.unwrap();
        assert_eq!(ack.batch_id, batch.batch_id);
        ack.applied
    }

    /// Inserts a launch built from the demo launch, adjusted by `configure`.
    pub async fn seed_launch_with(&self, slug: &str, configure: impl FnOnce(&mut Launch)) {
        let mut launch = launches::demo(launch_time());
        launch.slug = slug.into();
        configure(&mut launch);
        launches::upsert(&self.pool, &launch)
            .await
            .expect("launch inserted");
    }

    /// Sum of `metric` for `launch` in the day table (all days, all sources).
    pub async fn day_total(&self, launch: &str, metric: &str) -> i64 {
        sqlx::query_scalar(
            "SELECT COALESCE(sum(value), 0)::bigint FROM metrics_day WHERE launch = $1 AND metric = $2",
        )
        .bind(launch)
        .bind(metric)
        .fetch_one(&self.pool)
        .await
        .unwrap()
    }

    /// Sum of `metric` for `launch` in the minute table.
    pub async fn minute_total(&self, launch: &str, metric: &str) -> i64 {
        sqlx::query_scalar(
            "SELECT COALESCE(sum(value), 0)::bigint FROM metrics_minute WHERE launch = $1 AND metric = $2",
        )
        .bind(launch)
        .bind(metric)
        .fetch_one(&self.pool)
        .await
        .unwrap()
    }

    /// Row counts of every ingest table, to assert that a refused request changed nothing.
    pub async fn ingest_row_counts(&self) -> [i64; 6] {
        let mut counts = [0; 6];
        let tables = [
            "ingested_batches",
            "metrics_minute",
            "metrics_day",
            "visitor_sketches",
            "webhook_events",
            "daily_summaries",
        ];
        for (count, table) in counts.iter_mut().zip(tables) {
            *count = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
                .fetch_one(&self.pool)
                .await
                .unwrap();
        }
        counts
    }
}

/// A batch of counter deltas.
pub fn batch(id: &str, counters: Vec<CounterDelta>) -> IngestBatch {
    IngestBatch {
        batch_id: id.into(),
        shard: "shard-0".into(),
        counters,
        uniques: vec![],
        webhook_events: vec![],
        ph_stats: Vec::new(),
        telemetry: Default::default(),
    }
}

/// One counter delta; `minute` is minutes after 2026-12-01 08:00 UTC (00:00 PST).
pub fn delta(
    launch: &str,
    day: &str,
    minute: i64,
    source: &str,
    metric: &str,
    value: i64,
) -> CounterDelta {
    CounterDelta {
        launch: launch.into(),
        day: day.into(),
        minute: Utc
            .with_ymd_and_hms(2026, 12, 1, 8, 0, 0)
            .unwrap()
            .timestamp()
            + minute * 60,
        source: source.into(),
        metric: metric.into(),
        value,
        ..CounterDelta::default()
    }
}

/// A sketch of the visitors numbered in `visitors`, base64 as batches carry it. Visitor
/// numbers are mixed (splitmix64) into uniform hashes, as the worker's SHA-256 would be.
pub fn sketch(launch: &str, day: &str, visitors: std::ops::Range<u64>) -> UniquesSketch {
    let mut sketch = VisitorSketch::new();
    for visitor in visitors {
        let mut z = visitor.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        sketch.insert_hash(z ^ (z >> 31));
    }
    UniquesSketch {
        launch: launch.into(),
        day: day.into(),
        sketch: sketch.to_base64(),
    }
}
