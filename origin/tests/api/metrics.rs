//! `/metrics` (names and values that move, the token it takes, one read of Postgres for
//! many scrapes, a fixed label set), the Grafana dashboard's metric names all exported,
//! and the request id carried through.

use std::collections::BTreeSet;

use launch_edge_proto::batch::{BatchTelemetry, OutboundBudget};
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

/// Renders, a good and a bad batch, a duplicate, the worker's counters of every kind (one
/// of an unknown launch, one of an unknown name), a batch reporting drain lag and budgets,
/// the dashboard and a 404: every metric family gets at least one sample.
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
    let edge = |launch: &str, name: &str, value| {
        delta(
            launch,
            "2026-12-01",
            0,
            "edge",
            &format!("edge_{name}"),
            value,
        )
    };
    let counters = vec![
        edge("rocket", "cache_stale", 2),
        edge("rocket", "cache_miss", 3),
        edge("rocket", "shard_calls", 4),
        edge("rocket", "page_memory_hit", 40),
        edge("rocket", "page_kv_stale", 6),
        edge("rocket", "page_origin_render", 2),
        edge("rocket", "inbound_rate_limited", 9),
        edge("ghost", "cache_hit", 11),
        edge("", "origin_fetch", 8),
        edge("", "drain_dead_letter", 1),
        edge("", "webhook_inbox_dead_letter", 2),
        edge("", "task_dead_letter", 3),
        edge("", "webhook_rejected.signature_mismatch", 4),
        edge("", "webhook_rejected.missing_header.webhook-signature", 1),
        edge("", "webhook_rejected.brand_new_code", 1),
        edge("", "outbound_429", 5),
        edge("", "task_retry", 6),
        edge("", "task_delivered", 7),
        edge("", "edge_calls", 12),
        edge("", "edge_tally_overflow", 1),
        edge("", "sneaky_new_counter", 13),
    ];
    // The telemetry as the worker sends it: `IngestBatch::telemetry`, flattened into the
    // top level of the batch JSON.
    let mut body = batch("edge:1", counters);
    let now_ms = chrono::Utc::now().timestamp_millis();
    let budget = |target: &str, remaining, limit| OutboundBudget {
        target: target.into(),
        remaining,
        limit,
    };
    body.telemetry = BatchTelemetry {
        oldest_event_ms: Some(now_ms - 90_000),
        outbound_budgets: vec![
            budget("discord", 3, 60),
            budget("producthunt", 450, 500),
            budget("a-new-target", 1, 4),
        ],
    };
    let sent = app
        .signed("POST", "/ingest/batch", &serde_json::to_vec(&body).unwrap())
        .await;
    assert_eq!(sent.status(), 200);
    app.get("/no/such/route").await;
}

#[tokio::test]
async fn metrics_export_requests_ingest_pool_and_launch_figures_and_they_move() {
    let app = spawn_app().await;
    let before = metric(&app, "launch_edge_origin_ingest_batches_applied_total").await;
    traffic(&app).await;
    assert_eq!(
        metric(&app, "launch_edge_origin_ingest_batches_applied_total").await,
        before + 2
    );
    assert_eq!(
        metric(&app, "launch_edge_origin_ingest_batches_replayed_total").await,
        1
    );
    assert_eq!(metric(&app, "launch_edge_origin_renders_total").await, 1);
    let outcome = |o: &str| format!("launch_edge_origin_ingest_batches_total{{outcome=\"{o}\"}}");
    assert_eq!(sample(&app, &outcome("applied")).await, 2.0);
    assert_eq!(sample(&app, &outcome("duplicate")).await, 1.0);
    assert_eq!(sample(&app, &outcome("rejected")).await, 1.0);
    assert_eq!(
        sample(&app, "launch_edge_origin_ingest_rows_total").await,
        4.0 + 21.0
    );
    let launch = |m: &str| format!("launch_edge_origin_{m}{{launch=\"rocket\"}}");
    assert_eq!(sample(&app, &launch("launch_views_total")).await, 7.0);
    assert_eq!(sample(&app, &launch("launch_conversions_total")).await, 2.0);
    assert_eq!(sample(&app, &launch("launch_unique_visitors")).await, 3.0);
    assert_eq!(
        sample(&app, &launch("launch_revenue_cents_total")).await,
        0.0
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
    assert_eq!(sample(&app, count).await, 4.0);
    // Every signed batch body, refused ones too, by size.
    let sizes = "launch_edge_origin_ingest_batch_size_bytes_count";
    assert_eq!(sample(&app, sizes).await, 4.0);
    let small = r#"launch_edge_origin_ingest_batch_size_bytes_bucket{le="1024"}"#;
    assert_eq!(
        sample(&app, small).await,
        3.0,
        "all but the edge batch are under 1 KiB"
    );
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
    let views = r#"launch_edge_origin_launch_views_total{launch="rocket"} 7"#;
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

/// Every series of the drained worker counters, as `(series, value)`, from one scrape.
fn edge_samples(text: &str) -> Vec<(String, f64)> {
    text.lines()
        .filter(|l| l.starts_with("launch_edge_edge_"))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect()
}

#[tokio::test]
async fn each_worker_counter_is_its_own_metric_with_labels_from_a_fixed_set() {
    let app = spawn_app().await;
    traffic(&app).await;
    let text = app.scrape().await;
    let value = |series: &str| {
        edge_samples(&text)
            .into_iter()
            .find_map(|(s, v)| (s == series).then_some(v))
            .unwrap_or_else(|| panic!("no {series} in\n{text}"))
    };
    let lookups = |launch: &str, result: &str| {
        format!(r#"launch_edge_edge_cache_lookups_total{{launch="{launch}",result="{result}"}}"#)
    };
    assert_eq!(value(&lookups("rocket", "hit")), 5.0);
    assert_eq!(value(&lookups("rocket", "stale")), 2.0);
    assert_eq!(value(&lookups("rocket", "miss")), 3.0);
    // A launch the origin does not know is never a label value of its own.
    assert_eq!(value(&lookups("_other", "hit")), 11.0);
    assert!(!text.contains("ghost"), "{text}");
    let page = |layer: &str, freshness: &str| {
        format!(
            r#"launch_edge_edge_page_served_total{{freshness="{freshness}",launch="rocket",layer="{layer}"}}"#
        )
    };
    assert_eq!(value(&page("memory", "fresh")), 40.0);
    assert_eq!(value(&page("kv", "stale")), 6.0);
    assert_eq!(value(&page("origin", "fresh")), 2.0);
    assert_eq!(
        value(r#"launch_edge_edge_shard_calls_total{launch="rocket"}"#),
        4.0
    );
    assert_eq!(
        value(r#"launch_edge_edge_inbound_rate_limited_total{launch="rocket"}"#),
        9.0
    );
    let dead = |kind: &str| format!(r#"launch_edge_edge_dead_letters_total{{kind="{kind}"}}"#);
    assert_eq!(value(&dead("batch")), 1.0);
    assert_eq!(value(&dead("webhook")), 2.0);
    assert_eq!(value(&dead("task")), 3.0);
    let rejected =
        |reason: &str| format!(r#"launch_edge_edge_webhook_rejected_total{{reason="{reason}"}}"#);
    assert_eq!(value(&rejected("signature_mismatch")), 4.0);
    assert_eq!(value(&rejected("missing_header")), 1.0);
    assert_eq!(value(&rejected("other")), 1.0);
    assert_eq!(
        value(&rejected("unknown_source")),
        0.0,
        "known reasons start at 0"
    );
    assert_eq!(value("launch_edge_edge_origin_fetches_total"), 8.0);
    assert_eq!(value("launch_edge_edge_outbound_rate_limited_total"), 5.0);
    assert_eq!(value("launch_edge_edge_task_retries_total"), 6.0);
    assert_eq!(value("launch_edge_edge_task_deliveries_total"), 7.0);
    assert_eq!(value("launch_edge_edge_tally_flushes_total"), 12.0);
    assert_eq!(value("launch_edge_edge_tally_overflows_total"), 1.0);
    assert_eq!(value("launch_edge_edge_other_total"), 13.0);
    assert!(
        !text.contains("sneaky") && !text.contains("brand_new"),
        "{text}"
    );
    // Every label value is from the documented sets.
    let launches = ["rocket", launch_edge_origin::metrics::OTHER_LAUNCH];
    for (series, _) in edge_samples(&text) {
        for pair in series
            .split_once('{')
            .map_or("", |(_, l)| l.trim_end_matches('}'))
            .split(',')
            .filter(|p| !p.is_empty())
        {
            let (key, v) = pair.split_once('=').unwrap();
            let v = v.trim_matches('"');
            let allowed = match key {
                "launch" => launches.contains(&v),
                "result" => ["hit", "stale", "miss"].contains(&v),
                "layer" => launch_edge_origin::metrics::PAGE_LAYERS.contains(&v),
                "freshness" => ["fresh", "stale"].contains(&v),
                "kind" => launch_edge_origin::metrics::EDGE_DEAD_LETTER_KINDS.contains(&v),
                "reason" => {
                    v == "other"
                        || launch_edge_origin::metrics::WEBHOOK_REJECTION_REASONS.contains(&v)
                }
                _ => false,
            };
            assert!(allowed, "{series}");
        }
    }
}

#[tokio::test]
async fn drained_worker_counters_only_grow_from_scrape_to_scrape() {
    let mut server = server_settings();
    server.metrics_cache_secs = 0;
    let app = spawn_app_with_server(server).await;
    traffic(&app).await;
    let first = edge_samples(&app.scrape().await);
    let more = batch(
        "edge:2",
        vec![
            delta("rocket", "2026-12-02", 0, "edge", "edge_cache_hit", 10),
            delta("", "2026-12-02", 0, "edge", "edge_task_dead_letter", 1),
        ],
    );
    assert!(app.ingest_ok(&more).await);
    let second = edge_samples(&app.scrape().await);
    let get = |samples: &[(String, f64)], series: &str| {
        samples
            .iter()
            .find_map(|(s, v)| (s == series).then_some(*v))
            .unwrap()
    };
    for (series, before) in &first {
        assert!(get(&second, series) >= *before, "{series} fell");
    }
    let hit = r#"launch_edge_edge_cache_lookups_total{launch="rocket",result="hit"}"#;
    assert_eq!(get(&second, hit), get(&first, hit) + 10.0);
    let task = r#"launch_edge_edge_dead_letters_total{kind="task"}"#;
    assert_eq!(get(&second, task), 4.0);
}

#[tokio::test]
async fn a_batch_reports_drain_lag_and_outbound_budgets_and_batches_without_them_change_neither() {
    let app = spawn_app().await;
    let text = app.scrape().await;
    assert!(
        text.contains("launch_edge_drain_lag_seconds 0\n"),
        "no lag before any report: {text}"
    );
    assert!(!text.contains("launch_edge_outbound_budget_remaining_ratio{"));
    traffic(&app).await;
    let lag = sample(&app, "launch_edge_drain_lag_seconds").await;
    assert!((90.0..120.0).contains(&lag), "90 s old at the send: {lag}");
    let ratio = |t: &str| format!(r#"launch_edge_outbound_budget_remaining_ratio{{target="{t}"}}"#);
    assert!((sample(&app, &ratio("discord")).await - 0.05).abs() < 1e-9);
    assert!((sample(&app, &ratio("producthunt")).await - 0.9).abs() < 1e-9);
    assert!((sample(&app, &ratio("other")).await - 0.25).abs() < 1e-9);
    assert!(!app.scrape().await.contains("a-new-target"));
    // An old-style batch (no telemetry fields) parses and leaves both as they were.
    assert!(app.ingest_ok(&batch("old:1", vec![])).await);
    assert_eq!(sample(&app, "launch_edge_drain_lag_seconds").await, lag);
    assert!((sample(&app, &ratio("discord")).await - 0.05).abs() < 1e-9);
    // A telemetry field of the wrong type is a malformed batch: refused, nothing stored.
    let bad = br#"{"batch_id":"bad:1","shard":"bad","oldest_event_ms":"yesterday"}"#;
    let refused = app.signed("POST", "/ingest/batch", bad).await;
    assert_eq!(refused.status(), 400);
    let count: i64 =
        sqlx::query_scalar("SELECT count(*) FROM ingested_batches WHERE batch_id = 'bad:1'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(count, 0);
}

#[tokio::test]
async fn promtool_finds_nothing_to_say_about_a_scrape_after_traffic() {
    let app = spawn_app().await;
    traffic(&app).await;
    let text = app.scrape().await;
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus; scripts/install-tools.sh with INSTALL_TEST_TOOLS=1 installs it) is on PATH");
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool: {said}"
    );
    // The scrape is the real thing: histograms, counters and gauges of every family.
    for family in [
        "# TYPE launch_edge_origin_http_request_duration_seconds histogram",
        "# TYPE launch_edge_edge_cache_lookups_total counter",
        "# TYPE launch_edge_origin_launch_views_total counter",
        "# TYPE launch_edge_drain_lag_seconds gauge",
        "# TYPE launch_edge_origin_db_pool_saturated_seconds_total counter",
    ] {
        assert!(text.contains(family), "{family}");
    }
}

#[tokio::test]
async fn a_pool_with_every_connection_taken_shows_in_use_and_saturated_time() {
    let mut server = server_settings();
    server.metrics_cache_secs = 60;
    let app = spawn_app_with_server(server).await;
    // The first scrape reads the figures; the next ones reuse them and need no connection.
    app.scrape().await;
    let saturated = "launch_edge_origin_db_pool_saturated_seconds_total";
    let before = sample(&app, saturated).await;
    let max = sample(&app, "launch_edge_origin_db_pool_max_connections").await;
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(app.pool.acquire().await.expect("a connection"));
    }
    assert_eq!(max, 5.0);
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    let state = |s: &str| format!(r#"launch_edge_origin_db_pool_connections{{state="{s}"}}"#);
    assert_eq!(sample(&app, &state("in_use")).await, 5.0);
    assert_eq!(sample(&app, &state("idle")).await, 0.0);
    let during = sample(&app, saturated).await;
    assert!(during - before >= 0.4, "{before} -> {during}");
    drop(held);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(sample(&app, &state("in_use")).await, 0.0);
    let after = sample(&app, saturated).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(
        sample(&app, saturated).await,
        after,
        "no time added once connections are free"
    );
}
