//! `preflight`: a healthy set-up passes every check; a broken one fails each check by
//! name, each FAIL explained with its fix; an optional feature left unconfigured is SKIP;
//! the binary exits non-zero only for a FAIL. Small local servers stand in for the worker's admin
//! endpoints and Product Hunt's API (services the origin's tests cannot run).

use std::process::Command;

use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use launch_edge_origin::preflight::{self, Check, PreflightSettings};
use launch_edge_proto::{Secret, Slug};
use serde_json::json;

use crate::helpers::{spawn_app_with, TestApp};

const ADMIN_TOKEN: &str = "preflight-admin-token-0123456789abcdef";
const PH_TOKEN: &str = "preflight-ph-token-0123";

/// How the stand-in worker and Product Hunt API behave.
#[derive(Clone)]
struct StandIn {
    missing_secret: bool,
    prewarmed: bool,
    ph_remaining: i64,
}

fn authorized(headers: &HeaderMap, token: &str) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {token}"))
}

/// Starts the stand-ins on port 0; returns their base URL.
async fn stand_in(behaviour: StandIn) -> String {
    let b = behaviour.clone();
    let health = move |headers: HeaderMap| async move {
        if !authorized(&headers, ADMIN_TOKEN) {
            return StatusCode::UNAUTHORIZED.into_response();
        }
        Json(json!({"ok": true, "secrets": {
            "ADMIN_TOKEN": true,
            "ORIGIN_SIGNING_SECRET": true,
            "PRODUCT_HUNT_TOKEN": !b.missing_secret,
        }}))
        .into_response()
    };
    let b = behaviour.clone();
    let pages = move |headers: HeaderMap| async move {
        if !authorized(&headers, ADMIN_TOKEN) {
            return StatusCode::UNAUTHORIZED.into_response();
        }
        let keys = if b.prewarmed {
            vec!["page:rocket", "page:rocket?lang=fr"]
        } else {
            vec!["page:other"]
        };
        Json(json!({"count": keys.len(), "keys": keys})).into_response()
    };
    let b = behaviour;
    let graphql = move |headers: HeaderMap| async move {
        let limits = [
            ("x-rate-limit-limit", "6250".to_owned()),
            ("x-rate-limit-remaining", b.ph_remaining.to_string()),
            ("x-rate-limit-reset", "512".to_owned()),
        ];
        if !authorized(&headers, PH_TOKEN) {
            let body = Json(json!({"errors": [{"message": "invalid_oauth_token"}]}));
            return (StatusCode::UNAUTHORIZED, limits, body).into_response();
        }
        (
            limits,
            Json(json!({"data": {"viewer": {"user": {"id": "42"}}}})),
        )
            .into_response()
    };
    let router = Router::new()
        .route("/admin/health", get(health))
        .route("/admin/pages", get(pages))
        .route("/v2/api/graphql", post(graphql));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

fn settings(base: &str, admin: &str, ph: &str, webhooks: &str) -> PreflightSettings {
    PreflightSettings {
        worker_url: Some(base.to_owned()),
        admin_token: Some(Secret::new(admin)),
        signing_secret: None,
        product_hunt_api_url: format!("{base}/v2/api/graphql"),
        product_hunt_token: Some(Secret::new(ph)),
        min_product_hunt_budget: 500,
        community_webhooks: webhooks.to_owned(),
        webhook_allowlist: "hooks.example.com".to_owned(),
        timeout_secs: 5,
    }
}

fn verdicts(checks: &[Check]) -> Vec<(&'static str, bool)> {
    checks.iter().map(|c| (c.name, c.passed)).collect()
}

const HEALTHY: StandIn = StandIn {
    missing_secret: false,
    prewarmed: true,
    ph_remaining: 6_000,
};

#[tokio::test]
async fn a_healthy_set_up_passes_every_check() {
    let (app, _) = spawn_app_with(|_| {}).await;
    app.seed_launch("rocket", "Rocket").await;
    let base = stand_in(HEALTHY).await;
    let webhooks = "https://discord.com/api/webhooks/1/abc https://hooks.example.com/T/x";
    let checks = preflight::run(
        &app.pool,
        &Slug::parse("rocket").unwrap(),
        &settings(&base, ADMIN_TOKEN, PH_TOKEN, webhooks),
    )
    .await;
    let failed: Vec<String> = checks
        .iter()
        .filter(|c| !c.passed)
        .map(Check::to_string)
        .collect();
    assert!(failed.is_empty(), "{failed:#?}");
    assert_eq!(checks.len(), 11);
    let budget = checks
        .iter()
        .find(|c| c.name == "product_hunt_budget")
        .unwrap();
    assert_eq!(budget.detail, "6000/6250 points left, resets in 512 s");
    assert!(checks[0].to_string().starts_with("PASS  postgres"));
}

#[tokio::test]
async fn a_broken_set_up_fails_each_check_by_name() {
    let (app, _) = spawn_app_with(|_| {}).await;
    app.seed_launch_with("rocket", |l| {
        l.destinations.0.clear();
        l.ltv_cents = None;
    })
    .await;
    sqlx::query(
        "DELETE FROM _sqlx_migrations WHERE version = (SELECT max(version) FROM _sqlx_migrations)",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let base = stand_in(StandIn {
        missing_secret: true,
        prewarmed: false,
        ph_remaining: 120,
    })
    .await;
    let checks = preflight::run(
        &app.pool,
        &Slug::parse("rocket").unwrap(),
        &settings(
            &base,
            ADMIN_TOKEN,
            PH_TOKEN,
            "https://evil.example.net/hook/s3cret",
        ),
    )
    .await;
    assert_eq!(
        verdicts(&checks),
        [
            ("postgres", true),
            ("migrations", false),
            ("launch", true),
            ("destinations", false),
            ("money", false),
            ("worker", true),
            ("worker_secrets", false),
            ("page_prewarmed", false),
            ("product_hunt_token", true),
            ("product_hunt_budget", false),
            ("webhooks_allowlisted", false),
        ]
    );
    let detail = |name: &str| {
        checks
            .iter()
            .find(|c| c.name == name)
            .unwrap()
            .detail
            .clone()
    };
    assert!(detail("migrations").contains("1 pending"));
    assert!(detail("money").contains("LTV"));
    assert_eq!(detail("worker_secrets"), "not set: PRODUCT_HUNT_TOKEN");
    assert!(detail("page_prewarmed").contains("page:rocket not in KV"));
    assert!(detail("product_hunt_budget").contains("120 points left"));
    let webhooks = detail("webhooks_allowlisted");
    assert!(webhooks.contains("evil.example.net") && !webhooks.contains("s3cret"));

    // Wrong tokens: the worker and Product Hunt refuse them, and preflight says so.
    let checks = preflight::run(
        &app.pool,
        &Slug::parse("rocket").unwrap(),
        &settings(&base, "wrong-admin-token", "wrong-ph-token", ""),
    )
    .await;
    let line = |name: &str| checks.iter().find(|c| c.name == name).unwrap().to_string();
    assert!(line("worker").starts_with("FAIL") && line("worker").contains("401"));
    assert!(
        line("product_hunt_token").starts_with("FAIL")
            && line("product_hunt_token").contains("401")
    );
    assert!(
        !checks.iter().any(|c| c.detail.contains("wrong-")),
        "no token is printed"
    );
}

#[tokio::test]
async fn the_preflight_command_prints_a_line_per_check_and_exits_non_zero_on_failure() {
    let (app, database) = spawn_app_with(|_| {}).await;
    let _: &TestApp = &app;
    let output = Command::new(env!("CARGO_BIN_EXE_launch-edge-origin"))
        .args(["preflight", "nobody"])
        .env_clear()
        .env("DATABASE_URL", &database.database_url)
        .env("WORKER_URL", "http://127.0.0.1:9")
        .env("ADMIN_TOKEN", "secret-admin-token-xyz-0123456789abcdef")
        .env("RUST_LOG", "off")
        .output()
        .expect("the binary runs");
    assert!(!output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    // One line per check; under each FAIL, what it means and how to fix it.
    let lines: Vec<&str> = stdout
        .lines()
        .filter(|l| !l.starts_with("      "))
        .collect();
    assert_eq!(lines.len(), 11, "{stdout}");
    assert!(lines
        .iter()
        .all(|l| l.starts_with("PASS  ") || l.starts_with("SKIP  ") || l.starts_with("FAIL  ")));
    assert!(lines[0].starts_with("PASS  postgres"));
    assert!(lines[2].starts_with("FAIL  launch") && lines[2].contains("no such launch"));
    assert!(stdout.contains("FAIL  worker ") && stdout.contains("unreachable"));
    assert!(stdout.contains("SKIP  product_hunt_token     PRODUCT_HUNT_TOKEN is not set"));
    assert_explained(&stdout);
    assert!(!stdout.contains("secret-admin-token-xyz-0123456789abcdef"));
}

/// Every FAIL line is followed by its `means:` and `fix:` lines; PASS and SKIP are not.
fn assert_explained(stdout: &str) {
    let all: Vec<&str> = stdout.lines().collect();
    for (i, line) in all.iter().enumerate() {
        let explained = all
            .get(i + 1)
            .is_some_and(|l| l.starts_with("      means: "))
            && all
                .get(i + 2)
                .is_some_and(|l| l.starts_with("      fix:   ") && l.len() > 20);
        if line.starts_with("FAIL  ") {
            assert!(explained, "{line} has no explanation:\n{stdout}");
        } else if line.starts_with("PASS  ") || line.starts_with("SKIP  ") {
            assert!(
                !all.get(i + 1).is_some_and(|l| l.starts_with("      ")),
                "{line} is explained"
            );
        }
    }
}

/// Runs the binary off the test's runtime thread, so the stand-ins keep answering.
async fn run_preflight(slug: &str, env: Vec<(&'static str, String)>) -> std::process::Output {
    let slug = slug.to_owned();
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_launch-edge-origin"))
            .args(["preflight", &slug])
            .env_clear()
            .env("RUST_LOG", "off")
            .envs(env)
            .output()
            .expect("the binary runs")
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn an_unconfigured_product_hunt_token_and_community_webhooks_are_skip_and_preflight_exits_zero(
) {
    let (app, database) = spawn_app_with(|_| {}).await;
    app.seed_launch("rocket", "Rocket").await;
    let base = stand_in(HEALTHY).await;
    let output = run_preflight(
        "rocket",
        vec![
            ("DATABASE_URL", database.database_url.clone()),
            ("WORKER_URL", base.clone()),
            ("ADMIN_TOKEN", ADMIN_TOKEN.to_owned()),
        ],
    )
    .await;
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "{stdout}");
    assert!(!stdout.contains("FAIL"), "{stdout}");
    for name in [
        "product_hunt_token",
        "product_hunt_budget",
        "webhooks_allowlisted",
    ] {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(&format!("SKIP  {name} "))),
            "{name} is not SKIP:\n{stdout}"
        );
    }
    assert!(stdout.contains("SKIP  webhooks_allowlisted   COMMUNITY_WEBHOOKS is not set"));
    assert!(
        stdout.ends_with("preflight: no check failed (8 passed, 3 skipped)\n"),
        "{stdout}"
    );
    assert_explained(&stdout);

    // A configured but refused token is not optional any more: FAIL, with its fix.
    let output = run_preflight(
        "rocket",
        vec![
            ("DATABASE_URL", database.database_url.clone()),
            ("WORKER_URL", base.clone()),
            ("ADMIN_TOKEN", ADMIN_TOKEN.to_owned()),
            ("PRODUCT_HUNT_API_URL", format!("{base}/v2/api/graphql")),
            ("PRODUCT_HUNT_TOKEN", "wrong-ph-token".to_owned()),
        ],
    )
    .await;
    assert!(!output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.contains("FAIL  product_hunt_token     refused (401)"),
        "{stdout}"
    );
    assert!(!stdout.contains("wrong-ph-token"));
    assert_explained(&stdout);
}

#[tokio::test]
async fn a_failing_required_check_prints_what_it_means_and_the_command_that_fixes_it() {
    let (app, database) = spawn_app_with(|_| {}).await;
    app.seed_launch("rocket", "Rocket").await;
    let base = stand_in(StandIn {
        prewarmed: false,
        ..HEALTHY
    })
    .await;
    let output = run_preflight(
        "rocket",
        vec![
            ("DATABASE_URL", database.database_url.clone()),
            ("WORKER_URL", base),
            ("ADMIN_TOKEN", ADMIN_TOKEN.to_owned()),
        ],
    )
    .await;
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with("FAIL  page_prewarmed"))
        .unwrap_or_else(|| panic!("no page_prewarmed FAIL:\n{stdout}"));
    assert!(
        lines[at + 1].contains("means: the page is not in KV yet"),
        "{stdout}"
    );
    assert_eq!(
        lines[at + 2],
        "      fix:   `curl -fsS -X POST -H \"authorization: Bearer $ADMIN_TOKEN\" $WORKER_URL/admin/launches/rocket/prewarm` (the worker's cron also does it from T-2 h); if that fails, the origin cannot render the page: check `launch-edge-origin launch show rocket`"
    );
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("FAIL  ")).count(),
        1,
        "only the page is missing:\n{stdout}"
    );
    assert_explained(&stdout);
    assert!(String::from_utf8(output.stderr)
        .unwrap()
        .contains("preflight: 1 of 11 checks failed"));
    assert!(!stdout.contains(ADMIN_TOKEN));
}
