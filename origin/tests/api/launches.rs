//! Launches as data: `launch apply|list|show|archive` (the binary) and `/admin/launches`
//! (signed), against a fresh database each.

use std::path::PathBuf;
use std::process::{Command, Output};

use launch_edge_origin::settings::DatabaseSettings;
use serde_json::Value;

use crate::helpers::{
    delta, server_settings, spawn_app, spawn_app_with, spawn_app_with_server, TestApp,
};

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

#[tokio::test]
async fn applying_a_launch_file_creates_the_launch_with_its_report_columns() {
    let (app, database) = spawn_app_with(|_| {}).await;
    let path = example("acme-notes.toml");
    let output = launch_cli(&database, &["apply", path.to_str().unwrap()]);
    assert!(output.status.success(), "{output:?}");
    let out = stdout(&output);
    assert!(out.starts_with("launch acme-notes: created\n"), "{out}");
    assert!(
        out.contains("  product_hunt.launch_at: (unset) → \"2026-12-10T00:01:00-08:00\"\n"),
        "{out}"
    );
    assert!(
        out.contains("edge: not refreshed (EDGE_URL and EDGE_ADMIN_TOKEN are not set)"),
        "{out}"
    );

    let (spend, currency, launch_at, signup): (i64, String, chrono::DateTime<chrono::Utc>, String) =
        sqlx::query_as(
            "SELECT spend_cents, currency, launch_at, destinations->>'signup' FROM launches WHERE slug = 'acme-notes'",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        spend,
        45_000 + 25_000 + 60_000,
        "spend is the channels' sum"
    );
    assert_eq!(currency, "EUR");
    assert_eq!(
        launch_at.to_rfc3339(),
        "2026-12-10T08:01:00+00:00",
        "00:01 PST"
    );
    assert_eq!(signup, "https://app.acme-notes.example/signup?plan=launch");
}

#[tokio::test]
async fn re_applying_the_same_file_says_no_changes_and_writes_nothing() {
    let (app, database) = spawn_app_with(|_| {}).await;
    let path = example("demo-launch.toml");
    let path = path.to_str().unwrap();
    assert!(launch_cli(&database, &["apply", path]).status.success());
    let before = app.updated_at("demo-launch").await;

    let again = launch_cli(&database, &["apply", path]);
    assert!(again.status.success(), "{again:?}");
    assert_eq!(
        stdout(&again),
        "launch demo-launch: no changes (nothing written)\n"
    );
    assert_eq!(app.updated_at("demo-launch").await, before);
}

#[tokio::test]
async fn a_changed_file_prints_each_changed_field_with_its_old_and_new_value() {
    let (app, database) = spawn_app_with(|_| {}).await;
    let original = example_text("demo-launch.toml");
    let (_dir, path) = write_file(&original);
    assert!(launch_cli(&database, &["apply", &path]).status.success());
    let before = app.updated_at("demo-launch").await;

    let changed = original
        .replace(
            "launch_at = \"2026-12-10T00:01:00\"",
            "launch_at = \"2026-12-11T00:01:00\"",
        )
        .replace("label = \"Pricing\"", "label = \"See pricing\"");
    std::fs::write(&path, changed).unwrap();
    let output = launch_cli(&database, &["apply", &path]);
    assert!(output.status.success(), "{output:?}");
    let out = stdout(&output);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[..3],
        [
            "launch demo-launch: 2 field(s) changed",
            "  cta.pricing.label: \"Pricing\" → \"See pricing\"",
            "  product_hunt.launch_at: \"2026-12-10T00:01:00-08:00\" → \"2026-12-11T00:01:00-08:00\"",
        ],
        "{out}"
    );
    assert!(app.updated_at("demo-launch").await > before);
}

/// A valid launch file changed by `edit`, as TOML.
fn demo_with(edit: impl FnOnce(&mut toml::Table)) -> String {
    let mut table: toml::Table = example_text("demo-launch.toml").parse().unwrap();
    edit(&mut table);
    toml::to_string(&table).unwrap()
}

fn set(table: &mut toml::Table, path: &str, value: toml::Value) {
    let mut parts: Vec<&str> = path.split('.').collect();
    let last = parts.pop().unwrap();
    let mut at = table;
    for part in parts {
        at = at
            .entry(part)
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .unwrap();
    }
    at.insert(last.into(), value);
}

#[tokio::test]
async fn each_invalid_field_is_refused_with_its_own_error_and_nothing_is_written() {
    let app = spawn_app().await;
    let s = |v: &str| toml::Value::String(v.into());
    let cases: Vec<(&str, toml::Value, &str, &str)> = vec![
        ("name", s(""), "name", "must not be empty"),
        ("lang", s("es"), "lang", "en, fr or de"),
        ("theme_color", s("orange"), "theme_color", "#rgb or #rrggbb"),
        (
            "canonical_url",
            s("http://x.example/"),
            "canonical_url",
            "only https://",
        ),
        (
            "description",
            s("[x](javascript:alert(1))"),
            "description",
            "javascript:alert(1)",
        ),
        (
            "description",
            s("![c](https://example.com/c.png)"),
            "description",
            "images are not allowed",
        ),
        (
            "product_hunt.launch_at",
            s("tomorrow"),
            "product_hunt.launch_at",
            "is not a time",
        ),
        (
            "product_hunt.launch_at",
            s("2026-03-08T02:30:00"),
            "product_hunt.launch_at",
            "does not exist in Pacific time",
        ),
        (
            "product_hunt.launch_at",
            s("2026-11-01T01:30:00"),
            "product_hunt.launch_at",
            "happens twice",
        ),
        (
            "product_hunt.post_slug",
            s("Demo Launch"),
            "product_hunt.post_slug",
            "a-z, 0-9 and hyphens",
        ),
        (
            "business.currency",
            s("usd"),
            "business.currency",
            "ISO 4217",
        ),
        (
            "business.currency",
            s("XXY"),
            "business.currency",
            "ISO 4217",
        ),
        (
            "business.expected_ltv",
            toml::Value::Integer(-1),
            "business.expected_ltv",
            "from 0 to",
        ),
        (
            "business.revenue_window_days",
            toml::Value::Integer(30),
            "business.revenue_window_days",
            "not both",
        ),
        (
            "business.spend.Paid Ads",
            toml::Value::Integer(5),
            "business.spend.Paid Ads",
            "channel name",
        ),
        (
            "cta_hosts",
            toml::Value::Array(vec![s("https://example.com")]),
            "cta_hosts[0]",
            "not a host name",
        ),
        (
            "beacon_origins",
            toml::Value::Array(vec![s("https://app.example.com/path")]),
            "beacon_origins[0]",
            "scheme and host only",
        ),
        (
            "social.twitter_card",
            s("large"),
            "social.twitter_card",
            "summary_large_image",
        ),
        (
            "social.twitter_site",
            s("acme"),
            "social.twitter_site",
            "@acme",
        ),
        (
            "variants.it.tagline",
            s("Ciao"),
            "variants.it",
            "en, fr or de",
        ),
        (
            "variants.en.tagline",
            s("Hi"),
            "variants.en",
            "the page's own language",
        ),
        (
            "variants.fr.cta_labels.buy",
            s("Acheter"),
            "variants.fr.cta_labels.buy",
            "no [[cta]] has this name",
        ),
        (
            "hero",
            toml::Value::Table(
                "url = 'https://example.com/h.png'\nheight = 900\nalt = 'x'"
                    .parse()
                    .unwrap(),
            ),
            "hero.width",
            "so the page does not shift",
        ),
        (
            "template",
            s("page.html"),
            "template",
            "read by `launch apply FILE`",
        ),
        (
            "template_html",
            s("{{ nme }}"),
            "template_html",
            "undefined",
        ),
    ];
    for (path, value, field, problem) in cases {
        let body = demo_with(|t| set(t, path, value.clone()));
        let (status, answer) = app.put_launch("demo-launch", &body).await;
        assert_eq!(status, 422, "{path} = {value}: {answer}");
        assert_eq!(answer["error"], "invalid_launch");
        let fields = answer["fields"].as_array().unwrap();
        assert_eq!(fields.len(), 1, "{path} = {value}: {answer}");
        assert_eq!(fields[0]["field"], field, "{path} = {value}: {answer}");
        let said = fields[0]["problem"].as_str().unwrap();
        assert!(said.contains(problem), "{path} = {value}: {said}");
        assert_eq!(app.launch_count().await, 0, "{path}: nothing written");
    }
}

#[tokio::test]
async fn a_file_with_many_problems_reports_all_of_them_at_once() {
    let app = spawn_app().await;
    let body = demo_with(|t| {
        t.insert("slug".into(), toml::Value::String("Demo Launch".into()));
        t.remove("product_hunt");
        t.remove("cta");
        set(
            t,
            "business.currency",
            toml::Value::String("dollars".into()),
        );
    });
    let (status, answer) = app
        .put_launch_at("/admin/launches/demo-launch", &body)
        .await;
    assert_eq!(status, 422, "{answer}");
    let fields: Vec<&str> = answer["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["slug", "slug", "product_hunt", "cta", "business.currency"]
    );
    assert_eq!(app.launch_count().await, 0);
}

#[tokio::test]
async fn an_unknown_field_or_bad_toml_is_a_malformed_file_with_the_line() {
    let app = spawn_app().await;
    let body = example_text("demo-launch.toml").replace("tagline = ", "tag_line = ");
    let (status, answer) = app.put_launch("demo-launch", &body).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"], "malformed_launch_file");
    let problem = answer["problem"].as_str().unwrap();
    assert!(problem.contains("unknown field `tag_line`"), "{problem}");
    assert!(problem.contains("line 5"), "{problem}");
    let (status, _) = app.put_launch("demo-launch", "slug = ").await;
    assert_eq!(status, 400);
    assert_eq!(app.launch_count().await, 0);
}

#[tokio::test]
async fn the_cli_prints_every_problem_and_exits_non_zero_without_writing() {
    let (app, database) = spawn_app_with(|_| {}).await;
    let body = demo_with(|t| {
        t.insert("name".into(), toml::Value::String(" ".into()));
        set(
            t,
            "cta_hosts",
            toml::Value::Array(vec![toml::Value::String("other.example".into())]),
        );
    });
    let (_dir, path) = write_file(&body);
    let output = launch_cli(&database, &["apply", &path]);
    assert!(!output.status.success());
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("the launch file has 3 problem(s); nothing was written"),
        "{err}"
    );
    assert!(err.contains("  name: must not be empty"), "{err}");
    assert!(
        err.contains("  cta[0].url: host example.com is not in cta_hosts (other.example)"),
        "{err}"
    );
    assert!(err.contains("  cta[1].url: host example.com"), "{err}");
    assert_eq!(app.launch_count().await, 0);
}

#[tokio::test]
async fn the_origins_cta_host_setting_bounds_what_a_file_may_allow() {
    let mut server = server_settings();
    server.launches.cta_hosts = "acme-notes.example, launch-edge.example".into();
    let app = spawn_app_with_server(server).await;
    let (status, answer) = app
        .put_launch("demo-launch", &example_text("demo-launch.toml"))
        .await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["fields"][0]["field"], "cta_hosts[0]");
    assert!(answer["fields"][0]["problem"].as_str().unwrap().contains(
        "outside the origin's LAUNCH_CTA_HOSTS (acme-notes.example, launch-edge.example)"
    ));
    let (status, answer) = app
        .put_launch("acme-notes", &example_text("acme-notes.toml"))
        .await;
    assert_eq!(status, 201, "{answer}");
}

#[tokio::test]
async fn a_launch_cannot_be_renamed_while_the_old_slug_is_live() {
    let app = spawn_app().await;
    let demo = example_text("demo-launch.toml");
    assert_eq!(app.put_launch("demo-launch", &demo).await.0, 201);
    let renamed = demo.replacen("slug = \"demo-launch\"", "slug = \"demo-launch-v2\"", 1);

    let (status, answer) = app.put_launch("demo-launch-v2", &renamed).await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(answer["error"], "launch_renamed");
    let problem = answer["problem"].as_str().unwrap();
    assert!(
        problem.contains("already belongs to launch demo-launch"),
        "{problem}"
    );
    assert!(problem.contains("launch archive demo-launch"), "{problem}");
    assert_eq!(app.launch_count().await, 1, "nothing written");

    let archived = app
        .signed("POST", "/admin/launches/demo-launch/archive", b"")
        .await;
    assert_eq!(archived.status(), 200);
    let (status, answer) = app.put_launch("demo-launch-v2", &renamed).await;
    assert_eq!(
        status, 201,
        "after archiving, the new slug starts anew: {answer}"
    );
}

#[tokio::test]
async fn an_archived_launch_renders_404_keeps_its_report_and_leaves_the_launch_list() {
    let app = spawn_app().await;
    assert_eq!(
        app.put_launch("demo-launch", &example_text("demo-launch.toml"))
            .await
            .0,
        201
    );
    assert_eq!(app.render_page("/render/demo-launch").await.0, 200);
    assert!(
        app.ingest_ok(&crate::helpers::batch(
            "archive:1",
            vec![delta(
                "demo-launch",
                "2026-12-10",
                0,
                "producthunt",
                "view",
                7
            )],
        ))
        .await
    );

    let response = app
        .signed("POST", "/admin/launches/demo-launch/archive", b"")
        .await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["archived"]["already"], false);
    assert_eq!(answer["edge"]["edge"], "not_configured");

    let (status, html) = app.render_page("/render/demo-launch").await;
    assert_eq!(status, 404);
    assert!(html.contains("demo-launch"));
    let listed: Value = app
        .signed("GET", "/internal/launches", b"")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed, serde_json::json!([]), "the worker's crons skip it");
    let report: Value = app
        .signed("GET", "/api/launches/demo-launch/report", b"")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(report["views"], 7, "{report}");
    assert_eq!(report["spend_cents"], 50_000, "{report}");
    assert_eq!(app.day_total("demo-launch", "view").await, 7);

    let again = app
        .signed("POST", "/admin/launches/demo-launch/archive", b"")
        .await;
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["archived"]["already"], true);
}

#[tokio::test]
async fn an_archived_launch_is_applied_again_only_with_unarchive() {
    let app = spawn_app().await;
    let demo = example_text("demo-launch.toml");
    app.put_launch("demo-launch", &demo).await;
    app.signed("POST", "/admin/launches/demo-launch/archive", b"")
        .await;
    let before = app.updated_at("demo-launch").await;

    let (status, answer) = app.put_launch("demo-launch", &demo).await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(answer["error"], "launch_archived");
    assert!(answer["problem"].as_str().unwrap().contains("--unarchive"));
    assert_eq!(app.updated_at("demo-launch").await, before);
    assert_eq!(app.render_page("/render/demo-launch").await.0, 404);

    let (status, answer) = app
        .put_launch_at("/admin/launches/demo-launch?unarchive=true", &demo)
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["applied"]["unarchived"], true);
    assert_eq!(app.render_page("/render/demo-launch").await.0, 200);
}

#[tokio::test]
async fn the_stored_file_shown_as_toml_applies_again_without_changes() {
    let (app, database) = spawn_app_with(|_| {}).await;
    app.put_launch("acme-notes", &example_text("acme-notes.toml"))
        .await;
    let before = app.updated_at("acme-notes").await;

    let shown = launch_cli(&database, &["show", "acme-notes"]);
    assert!(shown.status.success(), "{shown:?}");
    let (_dir, path) = write_file(&stdout(&shown));
    let again = launch_cli(&database, &["apply", &path]);
    assert_eq!(
        stdout(&again),
        "launch acme-notes: no changes (nothing written)\n"
    );

    let api: Value = app
        .signed("GET", "/admin/launches/acme-notes", b"")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(api["toml"].as_str().unwrap(), stdout(&shown));
    assert_eq!(
        api["spec"]["variants"]["fr"]["cta_labels"]["signup"],
        "Commencer gratuitement"
    );
    let json = serde_json::to_vec(&api["spec"]).unwrap();
    let put = app.signed("PUT", "/admin/launches/acme-notes", &json).await;
    assert_eq!(put.status(), 200, "the JSON spec is accepted too");
    let put: Value = put.json().await.unwrap();
    assert_eq!(put["applied"]["changes"], serde_json::json!([]));
    assert_eq!(app.updated_at("acme-notes").await, before);

    let list = launch_cli(&database, &["list"]);
    assert_eq!(
        stdout(&list),
        "1 launch(es)\nacme-notes\t2026-12-10 00:01 PST\tAcme Notes\tlive\n"
    );
    let listed: Value = app
        .signed("GET", "/admin/launches", b"")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["launches"][0]["product_hunt_slug"], "acme-notes");
}

#[tokio::test]
async fn the_admin_launch_api_refuses_unsigned_requests_and_a_slug_other_than_the_path() {
    let app = spawn_app().await;
    let demo = example_text("demo-launch.toml");
    let unsigned = app
        .client
        .put(format!("{}/admin/launches/demo-launch", app.address))
        .body(demo.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401);
    assert_eq!(app.get("/admin/launches").await.status(), 401);

    let (status, answer) = app.put_launch("other-slug", &demo).await;
    assert_eq!(status, 422);
    assert_eq!(answer["fields"][0]["field"], "slug");
    assert_eq!(app.launch_count().await, 0);
    let missing = app.signed("GET", "/admin/launches/nobody", b"").await;
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn an_unreachable_edge_is_reported_after_the_launch_is_stored() {
    let (app, database) = spawn_app_with(|_| {}).await;
    let path = example("demo-launch.toml");
    let output = Command::new(env!("CARGO_BIN_EXE_launch-edge-origin"))
        .args(["launch", "apply", path.to_str().unwrap()])
        .env_clear()
        .env("DATABASE_URL", &database.database_url)
        .env("EDGE_URL", "http://127.0.0.1:9")
        .env("EDGE_ADMIN_TOKEN", "test-admin-token-0123456789abcdef")
        .env("RUST_LOG", "off")
        .output()
        .unwrap();
    assert!(
        !output.status.success(),
        "a failed refresh fails the command"
    );
    let out = stdout(&output);
    assert!(out.contains("launch demo-launch: created"), "{out}");
    assert!(
        out.contains("edge: refresh failed (http://127.0.0.1:9/admin/launches/demo-launch/prewarm unreachable"),
        "{out}"
    );
    assert!(
        !out.contains("0123456789abcdef"),
        "the token is never printed"
    );
    assert_eq!(app.launch_count().await, 1, "the launch is stored");
}
