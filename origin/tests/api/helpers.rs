//! Spawning the origin against a fresh database, and signed requests to it.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use launch_edge_origin::launches::{self, Launch};
use launch_edge_origin::settings::{DatabaseSettings, ServerSettings, Settings};
use launch_edge_origin::startup::Application;
use launch_edge_proto::signing::SignedRequest;
use launch_edge_proto::{headers, Secret};
use sqlx::{Connection, Executor, PgConnection, PgPool};

pub const SIGNING_SECRET: &str = "test-signing-secret-0123456789";

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
    let pool = launch_edge_origin::db::pool(&database).expect("pool");
    launch_edge_origin::db::migrate(&pool)
        .await
        .expect("migrations apply");
    let settings = Settings {
        database,
        server: ServerSettings {
            bind: "127.0.0.1:0".parse().unwrap(),
            signing_secret: Secret::new(SIGNING_SECRET),
        },
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
    let text = app.get("/metrics").await.text().await.unwrap();
    text.lines()
        .find_map(|line| {
            line.strip_prefix(name)
                .and_then(|rest| rest.trim().parse().ok())
        })
        .unwrap_or_else(|| panic!("metric {name} not exported"))
}
