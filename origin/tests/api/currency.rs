//! Revenue in several currencies: stored per currency, reported apart from the launch's
//! own, never added to it, and left out of ROI and LTV, in the API, the CLI, the daily
//! summary and the dashboard; a malformed currency metric is refused.

use launch_edge_origin::reports::Report;
use serde_json::Value;

use crate::helpers::{batch, delta, spawn_app, TestApp};

const DAY: &str = "2026-12-01";

/// A USD launch with 5,000 cents of spend; 3 purchases paid 1,000 (no currency named),
/// 9,000 USD and 5,000 EUR (Stripe's `currency`), plus 700 GBP from another source.
async fn seed_mixed(app: &TestApp) {
    app.seed_launch_with("global", |l| {
        l.name = "Global".into();
        l.currency = "USD".into();
        l.spend_cents = 5_000;
        l.cost_per_visitor_cents = None;
        l.ltv_cents = None;
    })
    .await;
    let d = |source: &str, metric: &str, value: i64| delta("global", DAY, 3, source, metric, value);
    assert!(
        app.ingest_ok(&batch(
            "global/0:1",
            vec![
                d("producthunt", "purchase", 3),
                d("producthunt", "revenue_cents", 1_000),
                d("producthunt", "revenue_cents.usd", 9_000),
                d("producthunt", "revenue_cents.eur", 5_000),
                d("direct", "revenue_cents.gbp", 700),
            ],
        ))
        .await
    );
}

#[tokio::test]
async fn revenue_in_another_currency_is_reported_apart_and_never_added_to_the_launchs() {
    let app = spawn_app().await;
    seed_mixed(&app).await;
    let response = app
        .signed("GET", "/api/launches/global/report?day=2026-12-01", b"")
        .await;
    assert_eq!(response.status(), 200);
    let r: Report = response.json().await.unwrap();

    assert_eq!(r.currency, "USD");
    assert_eq!(r.revenue_cents, 10_000, "USD and unstated only");
    assert!(r.mixed_currencies);
    let other: Vec<(&str, i64)> = r
        .other_currency_revenue
        .iter()
        .map(|c| (c.currency.as_str(), c.revenue_cents))
        .collect();
    assert_eq!(other, [("EUR", 5_000), ("GBP", 700)]);
    assert_eq!(r.conversions, 3, "a revenue metric is never a conversion");
    assert_eq!(r.conversions_by_kind.len(), 1);
    // (10,000 − 5,000) / 5,000, in USD.
    assert_eq!(r.roi, Some(1.0));
    assert_eq!(
        r.ltv_cents, None,
        "3 purchases in three currencies: no USD LTV"
    );
    assert_eq!(r.conversions_by_source[0].revenue_cents, 10_000);

    let table = launch_edge_origin::cli::report_output(&app.pool, "global", Some(DAY), false)
        .await
        .unwrap();
    for line in [
        "100.00 USD",
        "50.00 EUR",
        "7.00 GBP",
        "left out of ROI and LTV",
    ] {
        assert!(table.contains(line), "{line:?} missing from:\n{table}");
    }
}

#[tokio::test]
async fn the_daily_summary_keeps_the_launchs_currency_and_counts_no_revenue_as_conversions() {
    let app = spawn_app().await;
    seed_mixed(&app).await;
    let summary: Value = app
        .signed(
            "POST",
            "/ingest/finalize-day",
            br#"{"day": "2026-12-01", "launch": "global"}"#,
        )
        .await
        .json()
        .await
        .unwrap();
    let s = &summary["summaries"][0];
    assert_eq!(
        (&s["revenue_cents"], &s["conversions"]),
        (&Value::from(10_000), &Value::from(3))
    );
}

#[tokio::test]
async fn the_dashboard_flags_other_currencies_and_shows_them_apart() {
    let app = spawn_app().await;
    seed_mixed(&app).await;
    let page = app.dashboard_text("/launches/global?day=2026-12-01").await;
    assert!(
        page.contains(r#"data-figure="revenue">100.00 USD<"#),
        "{page}"
    );
    assert!(page.contains(r#"data-flag="mixed-currencies""#));
    assert!(page.contains(r#"data-other-currency="EUR">50.00 EUR<"#));
    assert!(page.contains(r#"data-other-currency="GBP">7.00 GBP<"#));

    let index = app.dashboard_text("/launches").await;
    assert!(
        index.contains(r#"data-figure="revenue">100.00 USD<"#),
        "{index}"
    );
    assert!(index.contains("+ 50.00 EUR, 7.00 GBP"), "{index}");
}

#[tokio::test]
async fn a_malformed_currency_metric_is_set_aside_with_its_reason_and_counts_nothing() {
    let app = spawn_app().await;
    app.seed_launch("global", "Global").await;
    // (Uppercase never passes the metric charset: `invalid_metric`, as before.)
    let malformed = ["revenue_cents.euro", "revenue_cents.", "revenue_cents.u5d"];
    for (n, metric) in malformed.iter().enumerate() {
        let answer = app
            .ingest(&batch(
                &format!("global/0:{n}"),
                vec![delta("global", DAY, 0, "direct", metric, 100)],
            ))
            .await;
        // A bad row never refuses its batch: it is kept aside and the rest lands.
        assert_eq!(answer.status(), 200, "{metric}");
        let ack: Value = answer.json().await.unwrap();
        assert_eq!(ack["dead_letters"], 1, "{metric}");
    }
    let reasons: Vec<String> =
        sqlx::query_scalar("SELECT reason FROM dead_letters ORDER BY batch_id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(reasons, ["invalid_currency"; 3]);
    assert_eq!(app.day_total("global", "revenue_cents").await, 0);
    let revenue_rows: i64 =
        sqlx::query_scalar("SELECT count(*) FROM metrics_day WHERE metric LIKE 'revenue%'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(revenue_rows, 0);
}
