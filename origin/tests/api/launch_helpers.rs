//! Typed helpers for the launch tests: the example files, the `launch` subcommands, and
//! the signed `/admin/launches` and `/render` calls.

use std::path::PathBuf;
use std::process::{Command, Output};

use launch_edge_origin::settings::DatabaseSettings;
use serde_json::Value;

use crate::helpers::TestApp;

/// `examples/<name>`.
pub fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(name)
}

pub fn example_text(name: &str) -> String {
    std::fs::read_to_string(example(name)).expect("example file")
}

/// Runs `launch-edge-origin launch ARGS` against `database` (no edge settings).
pub fn launch_cli(database: &DatabaseSettings, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_launch-edge-origin"))
        .arg("launch")
        .args(args)
        .env_clear()
        .env("DATABASE_URL", &database.database_url)
        .env("RUST_LOG", "off")
        .output()
        .expect("the binary runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A launch file written to a temporary directory.
pub fn write_file(text: &str) -> (tempdir::Dir, String) {
    let dir = tempdir::Dir::new();
    let path = dir.path.join("launch.toml");
    std::fs::write(&path, text).unwrap();
    let path = path.to_string_lossy().into_owned();
    (dir, path)
}

pub mod tempdir {
    /// A directory removed when dropped.
    pub struct Dir {
        pub path: std::path::PathBuf,
    }

    impl Dir {
        pub fn new() -> Self {
            let path = std::env::temp_dir().join(format!("launch-{}", uuid::Uuid::new_v4()));
            std::fs::create_dir_all(&path).unwrap();
            Self { path }
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

impl TestApp {
    /// `PUT /admin/launches/:slug` with a TOML body, signed: status and JSON answer.
    pub async fn put_launch(&self, slug: &str, toml: &str) -> (u16, Value) {
        self.put_launch_at(&format!("/admin/launches/{slug}"), toml)
            .await
    }

    pub async fn put_launch_at(&self, path: &str, toml: &str) -> (u16, Value) {
        let response = self.signed_toml("PUT", path, toml.as_bytes()).await;
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn signed_toml(&self, method: &str, path: &str, body: &[u8]) -> reqwest::Response {
        let timestamp = chrono::Utc::now().timestamp();
        let signature = launch_edge_proto::signing::SignedRequest {
            method,
            path_and_query: path,
            body,
        }
        .sign(&self.secret, timestamp);
        self.client
            .request(method.parse().unwrap(), format!("{}{path}", self.address))
            .header(launch_edge_proto::headers::TIMESTAMP, timestamp.to_string())
            .header(launch_edge_proto::headers::SIGNATURE, signature)
            .header("content-type", "application/toml")
            .body(body.to_vec())
            .send()
            .await
            .expect("request reaches the origin")
    }

    /// `GET /render/:slug` (signed): status and HTML.
    pub async fn render_page(&self, path_and_query: &str) -> (u16, String) {
        let response = self.signed("GET", path_and_query, b"").await;
        (response.status().as_u16(), response.text().await.unwrap())
    }

    pub async fn launch_count(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM launches")
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    pub async fn updated_at(&self, slug: &str) -> chrono::DateTime<chrono::Utc> {
        sqlx::query_scalar("SELECT updated_at FROM launches WHERE slug = $1")
            .bind(slug)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }
}
