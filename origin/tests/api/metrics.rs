//! `/metrics` (names and values that move, the token it takes, one read of Postgres for
//! many scrapes, a fixed label set), the Grafana dashboard's metric names all exported,
//! and the request id carried through.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::helpers::{
    batch, delta, metric, server_settings, sketch, spawn_app, spawn_app_with_server, TestApp,
    METRICS_TOKEN,
};

/// Every sample name in a Prometheus text exposition (histograms give `_bucket` etc.).
async fn exported_names(app: &TestApp) -> BTreeSet<String> {
    let text = app.scrape().await;
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split(['{', ' ']).next().unwrap().to_owned())
        .collect()
}

/// One sample's value, found by its full series text, e.g. `name{label="x"}`.
async fn sample(app: &TestApp, series: &str) -> f64 {
    let text = app.scrape().await;
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no sample {series} in\n{text}"))
}

/// Renders, a good and a bad batch, a duplicate, the dashboard and a 404: every metric
/// family gets at least one sample.
async fn traffic(app: &TestApp) {
    app.seed_launch("rocket", "Rocket").await;
    app.signed("GET", "/render/rocket", b"").await;
    let mut b = batch(
        "rocket:1",
        vec![
            delta("rocket", "2026-12-01", 0, "producthunt", "view", 7),
            delta("rocket", "2026-12-01", 0, "producthunt", "signup", 2),
            delta("rocket", "2026-12-01", 0, "edge", "edge_cache_hit", 5),
        ],
    );
    b.uniques.push(sketch("rocket", "2026-12-01", 0..3));
    assert!(app.ingest_ok(&b).await);
    assert!(!app.ingest_ok(&b).await);
    let bad = app.signed("POST", "/ingest/batch", b"{not json").await;
    assert_eq!(bad.status(), 400);
    app.get("/no/such/route").await;
}

#[tokio::test]
async fn metrics_export_requests_ingest_pool_and_launch_figures_and_they_move() {
    let app = spawn_app().await;
    let before = metric(&app, "launch_edge_origin_ingest_batches_applied_total").await;
    traffic(&app).await;
    assert_eq!(
        metric(&app, "launch_edge_origin_ingest_batches_applied_total").await,
        before + 1
    );
    assert_eq!(
        metric(&app, "launch_edge_origin_ingest_batches_replayed_total").await,
        1
    );
    assert_eq!(metric(&app, "launch_edge_origin_renders_total").await, 1);
    let outcome = |o: &str| format!("launch_edge_origin_ingest_batches_total{{outcome=\"{o}\"}}");
    assert_eq!(sample(&app, &outcome("applied")).await, 1.0);
    assert_eq!(sample(&app, &outcome("duplicate")).await, 1.0);
    assert_eq!(sample(&app, &outcome("rejected")).await, 1.0);
    assert_eq!(
        sample(&app, "launch_edge_origin_ingest_rows_total").await,
        4.0
    );
    let launch = |m: &str| format!("launch_edge_origin_{m}{{launch=\"rocket\"}}");
    assert_eq!(sample(&app, &launch("launch_views")).await, 7.0);
    assert_eq!(sample(&app, &launch("launch_conversions")).await, 2.0);
    assert_eq!(sample(&app, &launch("launch_unique_visitors")).await, 3.0);
    assert_eq!(
        sample(
            &app,
            r#"launch_edge_origin_edge_counter{launch="rocket",name="cache_hit"}"#
        )
        .await,
        5.0
    );
    assert_eq!(
        sample(&app, "launch_edge_origin_db_pool_max_connections").await,
        5.0
    );
    assert_eq!(sample(&app, "launch_edge_origin_database_up").await, 1.0);
    let renders = r#"launch_edge_origin_http_requests_total{method="GET",route="/render/{slug}",status="200"}"#;
    assert_eq!(sample(&app, renders).await, 1.0);
    let unmatched =
        r#"launch_edge_origin_http_requests_total{method="GET",route="unmatched",status="404"}"#;
    assert_eq!(sample(&app, unmatched).await, 1.0);
    let count = r#"launch_edge_origin_http_request_duration_seconds_count{method="POST",route="/ingest/batch"}"#;
    assert_eq!(sample(&app, count).await, 3.0);
    // A value that moves between two scrapes.
    app.signed("GET", "/render/rocket", b"").await;
    assert_eq!(sample(&app, renders).await, 2.0);
}

/// The metric names in a PromQL expression: identifiers outside braces and strings that
/// name one of ours (every origin metric starts with `launch_edge_`).
fn names_in(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let (mut depth, mut in_string, mut word) = (0, false, String::new());
    for c in expr.chars().chain(std::iter::once(' ')) {
        match c {
            '"' => in_string = !in_string,
            '{' if !in_string => depth += 1,
            '}' if !in_string => depth -= 1,
            c if !in_string
                && depth == 0
                && (c.is_ascii_alphanumeric() || c == '_' || c == ':') =>
            {
                word.push(c);
                continue;
            }
            _ => {}
        }
        if word.starts_with("launch_edge_") {
            names.push(word.clone());
        }
        word.clear();
    }
    names
}

fn expressions(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("expr" | "query", serde_json::Value::String(e)) => out.push(e.clone()),
                    _ => expressions(v, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| expressions(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn every_metric_the_grafana_dashboard_names_is_exported() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../ops/grafana/launch-edge.json"
    );
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("dashboard JSON exists"))
            .expect("dashboard is valid JSON");
    let mut exprs = Vec::new();
    expressions(&dashboard["panels"], &mut exprs);
    let used: BTreeSet<String> = exprs.iter().flat_map(|e| names_in(e)).collect();
    assert!(
        used.len() >= 10,
        "the dashboard charts the origin: {used:?}"
    );

    let app = spawn_app().await;
    traffic(&app).await;
    let exported = exported_names(&app).await;
    let missing: Vec<&String> = used.difference(&exported).collect();
    assert!(
        missing.is_empty(),
        "named by Grafana but not exported: {missing:?}"
    );
}

#[test]
fn metric_names_are_found_outside_label_matchers_and_strings() {
    let expr = r#"sum by (route) (rate(launch_edge_origin_http_requests_total{route!="launch_edge_x"}[5m])) / ignoring(x) launch_edge_origin_up"#;
    assert_eq!(
        names_in(expr),
        [
            "launch_edge_origin_http_requests_total",
            "launch_edge_origin_up"
        ]
    );
}

#[tokio::test]
async fn the_request_id_from_the_worker_is_echoed_and_one_is_made_when_absent() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(format!("{}/healthz", app.address))
        .header("x-request-id", "edge-7f3a.1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "edge-7f3a.1");
    let generated = app.get("/healthz").await;
    let id = generated.headers()["x-request-id"].to_str().unwrap();
    assert_eq!(id.len(), 32, "a fresh uuid: {id}");
    let forged = app
        .client
        .get(format!("{}/healthz", app.address))
        .header("x-request-id", "x y")
        .send()
        .await
        .unwrap();
    assert_ne!(forged.headers()["x-request-id"], "x y");
}

#[tokio::test]
async fn metrics_refuse_a_scrape_without_the_token_or_with_a_wrong_one() {
    let app = spawn_app().await;
    traffic(&app).await;
    let anonymous = app.get("/metrics").await;
    assert_eq!(anonymous.status(), 401);
    let body = anonymous.text().await.unwrap();
    assert!(!body.contains("launch_revenue_cents"), "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["error"],
        "metrics_token_required"
    );
    for wrong in [
        "Bearer not-the-metrics-token".to_owned(),
        METRICS_TOKEN.to_owned(),
    ] {
        let refused = app
            .client
            .get(format!("{}/metrics", app.address))
            .header("authorization", wrong)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 401);
    }
    assert!(app.scrape().await.contains("launch_revenue_cents"));
}

#[tokio::test]
async fn metrics_are_closed_to_everyone_when_no_token_is_configured() {
    let mut server = server_settings();
    server.metrics_token = None;
    let app = spawn_app_with_server(server).await;
    let response = app
        .client
        .get(format!("{}/metrics", app.address))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "metrics_token_not_configured");
}

#[tokio::test]
async fn concurrent_scrapes_share_one_read_of_the_launch_figures_and_counters_stay_live() {
    let mut server = server_settings();
    server.metrics_cache_secs = 30;
    let app = spawn_app_with_server(server).await;
    traffic(&app).await;
    let scrapes: Vec<String> = futures_util::future::join_all((0..20).map(|_| app.scrape())).await;
    let reads = "launch_edge_origin_metrics_figure_reads_total";
    assert_eq!(metric(&app, reads).await, 1, "20 scrapes, one read");
    let views = r#"launch_edge_origin_launch_views{launch="rocket"} 7"#;
    assert!(scrapes.iter().all(|text| text.contains(views)));
    // Within the cache window the figures are reused, the request counters are not.
    app.signed("GET", "/render/rocket", b"").await;
    assert_eq!(metric(&app, "launch_edge_origin_renders_total").await, 2);
    assert_eq!(metric(&app, reads).await, 1);
}

#[tokio::test]
async fn invented_methods_are_counted_as_other_and_unknown_paths_as_unmatched() {
    let app = spawn_app().await;
    for path in ["/healthz", "/no/such/route/a8f3", "/launches/x"] {
        app.client
            .request(
                reqwest::Method::from_bytes(b"XLAUNCHX").unwrap(),
                format!("{}{path}", app.address),
            )
            .send()
            .await
            .unwrap();
    }
    let text = app.scrape().await;
    assert!(
        !text.contains("XLAUNCHX") && !text.contains("a8f3"),
        "{text}"
    );
    let series = |route: &str| {
        format!(
            r#"launch_edge_origin_http_requests_total{{method="other",route="{route}",status="405"}}"#
        )
    };
    assert!(text.contains(&series("/healthz")), "{text}");
    assert!(
        text.contains(&series("unmatched").replace("405", "404")),
        "{text}"
    );
    let methods: std::collections::BTreeSet<&str> = text
        .lines()
        .filter(|l| l.starts_with("launch_edge_origin_http_requests_total{"))
        .filter_map(|l| l.split("method=\"").nth(1)?.split('"').next())
        .collect();
    assert!(
        methods
            .iter()
            .all(|m| launch_edge_origin::metrics::METHOD_LABELS.contains(m)),
        "{methods:?}"
    );
}
