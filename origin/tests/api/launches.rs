//! Launches as data: `launch apply|list|show|archive` (the binary) and `/admin/launches`
//! (signed), against a fresh database each.

use std::process::Command;

use serde_json::Value;

use crate::helpers::{delta, server_settings, spawn_app, spawn_app_with, spawn_app_with_server};
use crate::launch_helpers::{example, example_text, launch_cli, stdout, write_file};

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

#[tokio::test]
async fn the_launch_list_for_the_worker_carries_each_launchs_beacon_origins() {
    let app = spawn_app().await;
    app.put_launch("acme-notes", &example_text("acme-notes.toml"))
        .await;
    app.put_launch("demo-launch", &example_text("demo-launch.toml"))
        .await;
    let listed: Value = app
        .signed("GET", "/internal/launches", b"")
        .await
        .json()
        .await
        .unwrap();
    let origins: Vec<(&str, &Value)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["slug"].as_str().unwrap(), &l["beacon_origins"]))
        .collect();
    assert_eq!(
        origins,
        [
            (
                "acme-notes",
                &serde_json::json!(["https://app.acme-notes.example"])
            ),
            ("demo-launch", &serde_json::json!([])),
        ]
    );
}
