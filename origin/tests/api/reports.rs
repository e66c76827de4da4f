//! Reports with known inputs and hand-computed outputs; the CLI prints the same figures;
//! finalize-day is idempotent; PgBouncer mode (no statement cache) works end to end.

use launch_edge_origin::reports::{LtvBasis, Report, SpendBasis};
use serde_json::Value;

use crate::helpers::{batch, delta, sketch, spawn_app, spawn_app_with, TestApp};

const DAY1: &str = "2026-12-01";
const DAY2: &str = "2026-12-02";

/// Day 1: 50 views (30 producthunt, 15 direct, 5 twitter.com), 8 bot views, 20 clicks,
/// 11 conversions (8 signups, 3 purchases), 14,750 cents revenue, 40 unique visitors.
/// Day 2: 12 producthunt views, 4 clicks, 2 signups, 10 unique visitors. (Sketches of a
/// few dozen visitors estimate exactly; larger ones are within ~0.8%.)
async fn seed_known_traffic(app: &TestApp, launch: &str) {
    let d1 = |source: &str, metric: &str, value: i64| delta(launch, DAY1, 5, source, metric, value);
    let mut day1 = batch(
        &format!("{launch}:1"),
        vec![
            d1("producthunt", "view", 30),
            d1("producthunt", "bot_view", 8),
            d1("producthunt", "click", 12),
            d1("producthunt", "signup", 6),
            d1("producthunt", "purchase", 2),
            d1("producthunt", "revenue_cents", 9_850),
            d1("direct", "view", 15),
            d1("direct", "click", 6),
            d1("direct", "signup", 2),
            d1("direct", "purchase", 1),
            d1("direct", "revenue_cents", 4_900),
            d1("twitter.com", "view", 5),
            d1("twitter.com", "click", 2),
        ],
    );
    day1.uniques.push(sketch(launch, DAY1, 0..40));
    let d2 =
        |metric: &str, value: i64| delta(launch, DAY2, 24 * 60 + 5, "producthunt", metric, value);
    let mut day2 = batch(
        &format!("{launch}:2"),
        vec![d2("view", 12), d2("click", 4), d2("signup", 2)],
    );
    day2.uniques.push(sketch(launch, DAY2, 1_000..1_010));
    assert!(app.ingest_ok(&day1).await);
    assert!(app.ingest_ok(&day2).await);
}

async fn report(app: &TestApp, path: &str) -> Report {
    let response = app.signed("GET", path, b"").await;
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

/// For ratios with no finite decimal form: JSON parsing may differ from the exact
/// quotient in the last bit (serde_json without `float_roundtrip`).
fn assert_close(actual: Option<f64>, expected: f64) {
    let actual = actual.expect("a rate, not null");
    assert!(
        (actual - expected).abs() <= 1e-12 * expected.abs(),
        "{actual} vs {expected}"
    );
}

fn rates(report: &Report) -> Vec<Option<f64>> {
    report.funnel.iter().map(|s| s.rate_from_previous).collect()
}

#[tokio::test]
async fn a_day_report_has_the_hand_computed_figures() {
    let app = spawn_app().await;
    app.seed_launch_with("rocket", |l| {
        l.spend_cents = 50_000;
        l.cost_per_visitor_cents = None;
        l.ltv_cents = None;
    })
    .await;
    seed_known_traffic(&app, "rocket").await;

    let r = report(&app, "/api/launches/rocket/report?day=2026-12-01").await;

    assert_eq!(r.day, Some("2026-12-01".parse().unwrap()));
    assert_eq!(
        (r.views, r.bot_views, r.unique_visitors, r.clicks),
        (50, 8, 40, 20)
    );
    assert_eq!(r.conversions, 11);
    assert_eq!(r.conversions_by_kind.get("signup"), Some(&8));
    assert_eq!(r.conversions_by_kind.get("purchase"), Some(&3));
    // 11 / 40.
    assert_eq!(r.conversion_rate, Some(0.275));
    assert_eq!(r.revenue_cents, 14_750);
    assert_eq!((r.spend_cents, r.spend_basis), (50_000, SpendBasis::Fixed));
    // 50,000 / 11 = 4,545.45… → rounded half up to 4,545.
    assert_eq!(r.cac_cents, Some(4_545));
    // No configured LTV: 14,750 revenue / 3 purchases = 4,916.67… → 4,917.
    assert_eq!(r.paying_conversions, 3);
    assert_eq!(
        (r.ltv_cents, r.ltv_basis),
        (Some(4_917), Some(LtvBasis::Revenue))
    );
    assert_close(r.ltv_to_cac, 4_917.0 / 4_545.0);
    // (14,750 − 50,000) / 50,000.
    assert_eq!(r.roi, Some(-0.705));
    let sources: Vec<(&str, i64, i64)> = r
        .conversions_by_source
        .iter()
        .map(|s| (s.source.as_str(), s.views, s.conversions))
        .collect();
    assert_eq!(
        sources,
        vec![
            ("producthunt", 30, 8),
            ("direct", 15, 3),
            ("twitter.com", 5, 0)
        ]
    );
    assert_close(
        r.conversions_by_source[0].conversion_rate_per_view,
        8.0 / 30.0,
    );
    assert_eq!(
        r.conversions_by_source[1].conversion_rate_per_view,
        Some(0.2)
    );
    assert_eq!(
        r.conversions_by_source[2].conversion_rate_per_view,
        Some(0.0)
    );
    let counts: Vec<i64> = r.funnel.iter().map(|s| s.count).collect();
    assert_eq!(counts, vec![50, 40, 20, 11]);
    // 40 / 50, 20 / 40, 11 / 20.
    assert_eq!(rates(&r), vec![None, Some(0.8), Some(0.5), Some(0.55)]);
}

#[tokio::test]
async fn the_all_days_report_sums_days_and_counts_visitor_days() {
    let app = spawn_app().await;
    app.seed_launch_with("rocket", |l| {
        l.spend_cents = 0;
        l.cost_per_visitor_cents = Some(150);
        l.ltv_cents = Some(12_000);
    })
    .await;
    seed_known_traffic(&app, "rocket").await;

    let r = report(&app, "/api/launches/rocket/report").await;

    assert_eq!(r.day, None);
    assert_eq!(
        (r.views, r.unique_visitors, r.clicks, r.conversions),
        (62, 50, 24, 13)
    );
    // 13 / 50.
    assert_eq!(r.conversion_rate, Some(0.26));
    // 150 cents × 50 visitor-days.
    assert_eq!(
        (r.spend_cents, r.spend_basis),
        (7_500, SpendBasis::PerVisitor)
    );
    // 7,500 / 13 = 576.92… → 577.
    assert_eq!(r.cac_cents, Some(577));
    assert_eq!(
        (r.ltv_cents, r.ltv_basis),
        (Some(12_000), Some(LtvBasis::Configured))
    );
    assert_close(r.ltv_to_cac, 12_000.0 / 577.0);
    // (14,750 − 7,500) / 7,500.
    assert_close(r.roi, 7_250.0 / 7_500.0);
    assert_eq!(r.conversions_by_source[0].source, "producthunt");
    assert_eq!(r.conversions_by_source[0].conversions, 10);
}

#[tokio::test]
async fn a_launch_without_traffic_reports_zeros_and_null_rates() {
    let app = spawn_app().await;
    app.seed_launch_with("quiet", |l| {
        l.spend_cents = 0;
        l.cost_per_visitor_cents = None;
        l.ltv_cents = None;
    })
    .await;

    let r = report(&app, "/api/launches/quiet/report?day=2026-12-01").await;

    assert_eq!(
        (r.views, r.unique_visitors, r.clicks, r.conversions),
        (0, 0, 0, 0)
    );
    assert_eq!(r.conversion_rate, None);
    assert_eq!(
        (r.cac_cents, r.ltv_cents, r.ltv_to_cac, r.roi),
        (None, None, None, None)
    );
    assert_eq!(rates(&r), vec![None, None, None, None]);
    assert!(r.conversions_by_source.is_empty());
    let json: Value = app
        .signed("GET", "/api/launches/quiet/report", b"")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        json["cac_cents"].is_null() && json["roi"].is_null(),
        "nulls, not zeros: {json}"
    );
}

#[tokio::test]
async fn an_unknown_launch_is_404_and_a_bad_day_is_400() {
    let app = spawn_app().await;
    app.seed_launch("rocket", "Rocket").await;
    assert_eq!(
        app.signed("GET", "/api/launches/nobody/report", b"")
            .await
            .status(),
        404
    );
    let bad = app
        .signed("GET", "/api/launches/rocket/report?day=2026-13-01", b"")
        .await;
    assert_eq!(bad.status(), 400);
    let error: Value = bad.json().await.unwrap();
    assert_eq!(error["error"], "invalid_day");
    assert_eq!(app.get("/api/launches/rocket/report").await.status(), 401);
}

#[tokio::test]
async fn the_cli_report_prints_the_same_figures_as_the_api() {
    let (app, database) = spawn_app_with(|_| {}).await;
    app.seed_launch_with("rocket", |l| {
        l.name = "Rocket".into();
        l.spend_cents = 50_000;
        l.cost_per_visitor_cents = None;
        l.ltv_cents = None;
    })
    .await;
    seed_known_traffic(&app, "rocket").await;

    let table = launch_edge_origin::cli::report_output(&app.pool, "rocket", Some(DAY1), false)
        .await
        .unwrap();
    for line in [
        "Report: Rocket (rocket), 2026-12-01",
        "conversion rate",
        "27.50%",
        "45.45 USD",
        "49.17 USD",
        "-70.50%",
        "55.00%",
    ] {
        assert!(table.contains(line), "{line:?} missing from:\n{table}");
    }

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_launch-edge-origin"))
        .args(["report", "rocket", "--day", DAY1, "--json"])
        .env("DATABASE_URL", &database.database_url)
        .env("RUST_LOG", "off")
        .output()
        .expect("the binary runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let from_cli: Value = serde_json::from_slice(&output.stdout).unwrap();
    let from_api: Value = app
        .signed("GET", "/api/launches/rocket/report?day=2026-12-01", b"")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(from_cli, from_api);
}

#[tokio::test]
async fn finalizing_a_day_twice_gives_the_same_row_and_keeps_the_first_finalized_at() {
    let app = spawn_app().await;
    app.seed_launch("rocket", "Rocket").await;
    app.seed_launch("idle", "Idle").await;
    seed_known_traffic(&app, "rocket").await;
    // Traffic for a launch that does not exist: finalize must skip it, not fail.
    assert!(
        app.ingest_ok(&batch(
            "x:1",
            vec![delta("ghost", DAY1, 0, "direct", "view", 3)]
        ))
        .await
    );

    let body = br#"{"day": "2026-12-01"}"#;
    let first: Value = app
        .signed("POST", "/ingest/finalize-day", body)
        .await
        .json()
        .await
        .unwrap();
    let second: Value = app
        .signed("POST", "/ingest/finalize-day", body)
        .await
        .json()
        .await
        .unwrap();

    assert_eq!(first, second);
    let summaries = first["summaries"].as_array().unwrap();
    assert_eq!(summaries.len(), 1, "only launches with traffic: {first}");
    let s = &summaries[0];
    assert_eq!(s["launch"], "rocket");
    assert_eq!(
        [
            &s["views"],
            &s["bot_views"],
            &s["unique_visitors"],
            &s["clicks"],
            &s["conversions"],
            &s["revenue_cents"]
        ],
        [50, 8, 40, 20, 11, 14_750]
    );

    // A late batch is picked up by a re-run; the first finalization time stays.
    assert!(
        app.ingest_ok(&batch(
            "late:1",
            vec![delta("rocket", DAY1, 1_000, "direct", "view", 5)]
        ))
        .await
    );
    let third: Value = app
        .signed(
            "POST",
            "/ingest/finalize-day",
            br#"{"day": "2026-12-01", "launch": "rocket"}"#,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(third["summaries"][0]["views"], 55);
    assert_eq!(third["summaries"][0]["finalized_at"], s["finalized_at"]);

    let idle: Value = app
        .signed(
            "POST",
            "/ingest/finalize-day",
            br#"{"day": "2026-12-01", "launch": "idle"}"#,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(idle["summaries"][0]["views"], 0);
}

#[tokio::test]
async fn finalize_refuses_an_unknown_launch_and_a_malformed_day() {
    let app = spawn_app().await;
    let unknown = br#"{"day": "2026-12-01", "launch": "nobody"}"#;
    assert_eq!(
        app.signed("POST", "/ingest/finalize-day", unknown)
            .await
            .status(),
        404
    );
    for body in [&br#"{"day": "12/01/2026"}"#[..], b"{}", b"not json"] {
        assert_eq!(
            app.signed("POST", "/ingest/finalize-day", body)
                .await
                .status(),
            400
        );
    }
    assert_eq!(app.ingest_row_counts().await, [0; 6]);
}

#[tokio::test]
async fn the_app_ingests_reports_and_finalizes_with_the_pgbouncer_statement_cache_off() {
    let (app, database) = spawn_app_with(|db| db.pgbouncer = true).await;
    assert!(database.pgbouncer);
    app.seed_launch("rocket", "Rocket").await;
    seed_known_traffic(&app, "rocket").await;
    // Twice, so every statement runs again on a connection that cached nothing.
    for round in 1..=2 {
        let more = batch(
            &format!("pgbouncer:{round}"),
            vec![delta("rocket", DAY1, 9, "direct", "view", 1)],
        );
        assert!(app.ingest_ok(&more).await);
        assert!(!app.ingest_ok(&more).await);
        let r = report(&app, "/api/launches/rocket/report?day=2026-12-01").await;
        assert_eq!(
            (r.views, r.unique_visitors, r.conversions),
            (50 + round, 40, 11)
        );
        let finalized = app
            .signed("POST", "/ingest/finalize-day", br#"{"day": "2026-12-01"}"#)
            .await;
        assert_eq!(finalized.status(), 200);
    }
}

#[tokio::test]
async fn the_report_and_the_dashboard_break_the_funnel_down_by_utm_medium_and_campaign() {
    let app = spawn_app().await;
    app.seed_launch("rocket", "Rocket").await;
    let utm = |medium: &str, campaign: &str, metric: &str, value: i64| {
        let mut d = delta("rocket", DAY1, 5, "newsletter", metric, value);
        d.medium = medium.into();
        d.campaign = campaign.into();
        d
    };
    let rows = vec![
        utm("email", "dec-launch", "view", 6),
        utm("email", "dec-launch", "click", 3),
        utm("email", "dec-launch", "signup", 2),
        utm("email", "other", "view", 1),
        delta("rocket", DAY1, 5, "producthunt", "view", 9),
    ];
    assert!(app.ingest_ok(&batch("utm:1", rows)).await);

    let r = report(&app, "/api/launches/rocket/report?day=2026-12-01").await;
    let by = |rows: &[launch_edge_origin::reports::BreakdownRow]| -> Vec<(String, i64, i64, i64)> {
        rows.iter()
            .map(|b| (b.value.clone(), b.views, b.clicks, b.conversions))
            .collect()
    };
    assert_eq!(
        by(&r.conversions_by_medium),
        [("email".into(), 7, 3, 2), ("(none)".into(), 9, 0, 0)]
    );
    assert_eq!(
        by(&r.conversions_by_campaign),
        [
            ("dec-launch".into(), 6, 3, 2),
            ("(none)".into(), 9, 0, 0),
            ("other".into(), 1, 0, 0)
        ]
    );
    // The source funnel is unchanged by the new dimensions.
    let newsletter = r
        .conversions_by_source
        .iter()
        .find(|s| s.source == "newsletter")
        .unwrap();
    assert_eq!((newsletter.views, newsletter.conversions), (7, 2));

    let csv = app
        .dashboard_text("/launches/rocket?day=2026-12-01&format=csv&table=campaigns")
        .await;
    let lines: Vec<&str> = csv.split("\r\n").collect();
    assert!(
        lines[0].starts_with("campaign,views,clicks,conversions,"),
        "{csv}"
    );
    assert!(lines.contains(&"dec-launch,6,3,2,0.333333,0,USD"), "{csv}");
    assert!(lines.contains(&"(none),9,0,0,0.000000,0,USD"), "{csv}");
    let html = app.dashboard_text("/launches/rocket?day=2026-12-01").await;
    assert!(html.contains("Medium (utm_medium)") && html.contains("Campaign (utm_campaign)"));
    assert!(html.contains("dec-launch"));
}

#[tokio::test]
async fn with_a_revenue_window_the_ltv_is_the_windows_revenue_per_purchase_whatever_the_period() {
    let app = spawn_app().await;
    // Launched 2026-12-01 00:01 PST; a two-day window holds Dec 1 and Dec 2 only.
    app.seed_launch_with("rocket", |l| {
        l.ltv_cents = None;
        l.revenue_window_days = Some(2);
        l.spend_cents = 6_000;
        l.cost_per_visitor_cents = None;
    })
    .await;
    let on = |day: &str, minute: i64, purchases: i64, cents: i64| {
        vec![
            delta("rocket", day, minute, "producthunt", "purchase", purchases),
            delta("rocket", day, minute, "producthunt", "revenue_cents", cents),
        ]
    };
    let mut rows = on(DAY1, 5, 2, 10_000);
    rows.extend(on(DAY2, 24 * 60 + 5, 1, 2_000));
    rows.extend(on("2026-12-03", 48 * 60 + 5, 1, 100_000));
    assert!(app.ingest_ok(&batch("window:1", rows)).await);

    let all = report(&app, "/api/launches/rocket/report").await;
    // 12,000 / 3 purchases in the window; the Dec 3 sale is outside it.
    assert_eq!(
        (all.ltv_cents, all.ltv_basis, all.ltv_window_days),
        (Some(4_000), Some(LtvBasis::RevenueWindow), Some(2))
    );
    assert_eq!(
        all.revenue_cents, 112_000,
        "the period's revenue is all of it"
    );
    // CAC 6,000 / 4 = 1,500; LTV / CAC = 4,000 / 1,500.
    assert_close(all.ltv_to_cac, 4_000.0 / 1_500.0);
    let day3 = report(&app, "/api/launches/rocket/report?day=2026-12-03").await;
    assert_eq!(day3.ltv_cents, Some(4_000), "the window's, not the day's");

    // A configured LTV wins over the window.
    app.seed_launch_with("fixed", |l| {
        l.ltv_cents = Some(9_900);
        l.revenue_window_days = Some(2);
    })
    .await;
    let fixed = report(&app, "/api/launches/fixed/report").await;
    assert_eq!(
        (fixed.ltv_cents, fixed.ltv_basis, fixed.ltv_window_days),
        (Some(9_900), Some(LtvBasis::Configured), None)
    );
}
