//! The dashboard: token protection and the login form, the figures it shows against the report, the index,
//! the per-minute series API, and edge counters kept apart from launch metrics.

use launch_edge_origin::reports::Report;
use serde_json::Value;

use crate::helpers::{
    batch, delta, server_settings, sketch, spawn_app, spawn_app_with_server, TestApp,
    DASHBOARD_TOKEN,
};

const DAY: &str = "2026-12-01";

impl TestApp {
    pub async fn dashboard(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .bearer_auth(DASHBOARD_TOKEN)
            .send()
            .await
            .expect("request reaches the origin")
    }
}

/// 30 producthunt + 10 direct views over minutes 0 and 3, clicks, 4 conversions, revenue,
/// 25 unique visitors, edge counters for the launch and worker-wide, and PH stats.
async fn seed(app: &TestApp, slug: &str) {
    app.seed_launch(slug, "Rocket").await;
    let d =
        |minute, source: &str, metric: &str, value| delta(slug, DAY, minute, source, metric, value);
    let edge = |launch: &str, metric: &str, value| delta(launch, DAY, 0, "edge", metric, value);
    let mut b = batch(
        &format!("{slug}:1"),
        vec![
            d(0, "producthunt", "view", 20),
            d(3, "producthunt", "view", 10),
            d(0, "direct", "view", 10),
            d(0, "producthunt", "click", 8),
            d(3, "producthunt", "signup", 3),
            d(3, "direct", "purchase", 1),
            d(3, "direct", "revenue_cents", 4_900),
            edge(slug, "edge_cache_hit", 90),
            edge(slug, "edge_cache_stale", 5),
            edge(slug, "edge_cache_miss", 5),
            edge("", "edge_task_dead_letter", 2),
            edge("", "edge_outbound_429", 3),
            edge("", "edge_webhook_rejected.signature_mismatch", 4),
        ],
    );
    b.uniques.push(sketch(slug, DAY, 0..25));
    assert!(app.ingest_ok(&b).await);
    for (minute, votes, comments) in [(0, 10, 1), (30, 40, 3)] {
        sqlx::query(
            "INSERT INTO ph_post_stats (launch, observed_at, votes, comments)
             VALUES ($1, '2026-12-01 08:00:00+00'::timestamptz + make_interval(mins => $2), $3, $4)",
        )
        .bind(slug)
        .bind(minute)
        .bind(votes)
        .bind(comments)
        .execute(&app.pool)
        .await
        .unwrap();
    }
}

fn figure<'a>(html: &'a str, key: &str) -> &'a str {
    let marker = format!("data-figure=\"{key}\">");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no figure {key}"))
        + marker.len();
    &html[start..start + html[start..].find('<').unwrap()]
}

#[tokio::test]
async fn the_dashboard_refuses_a_missing_or_wrong_token() {
    let app = spawn_app().await;
    app.seed_launch("rocket", "Rocket").await;
    for path in [
        "/launches",
        "/launches/rocket",
        "/api/launches/rocket/series",
    ] {
        let anonymous = app.get(path).await;
        assert_eq!(anonymous.status(), 401, "{path}");
        let body: Value = anonymous.json().await.unwrap();
        assert_eq!(body["error"], "dashboard_token_required");
        let wrong = app
            .client
            .get(format!("{}{path}", app.address))
            .bearer_auth("not-the-dashboard-token")
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 401);
        let body: Value = wrong.json().await.unwrap();
        assert_eq!(body["error"], "dashboard_token_invalid");
        assert_eq!(app.dashboard(path).await.status(), 200, "{path}");
    }
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `POST /login` with the form a browser sends; `forwarded_proto` as a TLS proxy sets it.
async fn log_in(
    app: &TestApp,
    token: &str,
    next: &str,
    forwarded_proto: Option<&str>,
) -> reqwest::Response {
    let mut request = no_redirects()
        .post(format!("{}/login", app.address))
        .form(&[("token", token), ("next", next)]);
    if let Some(proto) = forwarded_proto {
        request = request.header("x-forwarded-proto", proto);
    }
    request.send().await.unwrap()
}

fn set_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn a_token_in_the_link_no_longer_opens_the_dashboard_and_a_browser_is_sent_to_the_login_form()
{
    let app = spawn_app().await;
    app.seed_launch("rocket", "Rocket").await;
    let url = format!(
        "{}/launches/rocket?token={DASHBOARD_TOKEN}&day={DAY}",
        app.address
    );
    let browser = no_redirects()
        .get(&url)
        .header("accept", "text/html,application/xhtml+xml")
        .send()
        .await
        .unwrap();
    assert_eq!(browser.status(), 303);
    assert_eq!(set_cookie(&browser), None);
    let location = browser.headers()["location"].to_str().unwrap();
    assert_eq!(
        location,
        format!("/login?next=%2Flaunches%2Frocket%3Fday%3D{DAY}")
    );
    assert!(!location.contains(DASHBOARD_TOKEN));
    let api = no_redirects().get(&url).send().await.unwrap();
    assert_eq!(api.status(), 401);
}

#[tokio::test]
async fn the_login_form_posts_the_token_and_never_shows_it() {
    let app = spawn_app().await;
    let response = app.get("/login?next=/launches/rocket").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let html = response.text().await.unwrap();
    assert!(html.contains(r#"<form method="post" action="/login""#));
    assert!(html.contains(r#"name="next" value="/launches/rocket""#));
    assert!(!html.contains(DASHBOARD_TOKEN));
    let hostile = app
        .get("/login?next=//evil.example/")
        .await
        .text()
        .await
        .unwrap();
    assert!(hostile.contains(r#"name="next" value="/launches""#));
}

#[tokio::test]
async fn signing_in_sets_an_http_only_strict_cookie_that_opens_the_dashboard() {
    let app = spawn_app().await;
    app.seed_launch("rocket", "Rocket").await;
    let next = format!("/launches/rocket?day={DAY}");
    let response = log_in(&app, DASHBOARD_TOKEN, &next, None).await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], next.as_str());
    let cookie = set_cookie(&response).expect("a cookie is set");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    assert!(
        !cookie.contains("Secure"),
        "plain http without a proxy: a Secure cookie would never come back"
    );
    let pair = cookie.split(';').next().unwrap();
    let page = no_redirects()
        .get(format!("{}{next}", app.address))
        .header("cookie", pair)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["cache-control"], "no-store");

    let logout = no_redirects()
        .post(format!("{}/logout", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 303);
    assert!(set_cookie(&logout).unwrap().contains("Max-Age=0"));
}

#[tokio::test]
async fn the_cookie_is_secure_when_the_request_came_over_https() {
    let app = spawn_app().await;
    let behind_tls = log_in(&app, DASHBOARD_TOKEN, "/launches", Some("https")).await;
    assert_eq!(behind_tls.status(), 303);
    assert!(set_cookie(&behind_tls).unwrap().contains("; Secure"));

    let mut server = server_settings();
    server.public_url = Some("https://origin.example.com".into());
    let public = spawn_app_with_server(server).await;
    let response = log_in(&public, DASHBOARD_TOKEN, "/launches", None).await;
    assert!(set_cookie(&response).unwrap().contains("; Secure"));
}

#[tokio::test]
async fn a_wrong_token_or_a_foreign_next_sets_no_cookie_and_redirects_nowhere_else() {
    let app = spawn_app().await;
    let wrong = log_in(&app, "not-the-dashboard-token", "/launches", None).await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(set_cookie(&wrong), None);
    assert!(wrong
        .text()
        .await
        .unwrap()
        .contains(r#"data-problem="login""#));
    let foreign = log_in(&app, DASHBOARD_TOKEN, "https://evil.example/", None).await;
    assert_eq!(foreign.status(), 303);
    assert_eq!(foreign.headers()["location"], "/launches");
}

#[tokio::test]
async fn the_dashboard_shows_the_report_figures_with_charts_ph_stats_and_edge_counters() {
    let app = spawn_app().await;
    seed(&app, "rocket").await;
    let report: Report = app
        .signed("GET", "/api/launches/rocket/report", b"")
        .await
        .json()
        .await
        .unwrap();
    let response = app.dashboard("/launches/rocket").await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = response.text().await.unwrap();

    assert_eq!(figure(&html, "views"), report.views.to_string());
    assert_eq!(figure(&html, "unique_visitors"), "25");
    assert_eq!(figure(&html, "conversions"), "4");
    assert_eq!(figure(&html, "revenue"), "49.00 USD");
    assert_eq!(figure(&html, "conversion_rate"), "16.00%");
    assert_eq!(
        figure(&html, "roi"),
        "-90.20%",
        "spend 500 USD, revenue 49 USD"
    );
    assert_eq!(figure(&html, "ph_votes"), "40");
    assert_eq!(figure(&html, "ph_vote_velocity"), "60.0");
    assert_eq!(figure(&html, "cache_hit_ratio"), "95.00%");
    assert_eq!(figure(&html, "task_dead_letter"), "2");
    assert_eq!(figure(&html, "outbound_429"), "3");
    assert!(html.contains("signature_mismatch"));
    assert!(html.contains(r#"<meta http-equiv="refresh" content="15">"#));
    assert!(html.contains("<svg") && html.contains("<polyline"));
    assert!(
        !html.contains("<script"),
        "no scripts: the page works offline"
    );
    let producthunt = html.find(r#"data-source="producthunt""#).unwrap();
    assert!(producthunt < html.find(r#"data-source="direct""#).unwrap());
}

#[tokio::test]
async fn a_launch_without_product_hunt_stats_shows_an_empty_state() {
    let app = spawn_app().await;
    app.seed_launch("quiet", "Quiet").await;
    let html = app.dashboard("/launches/quiet").await.text().await.unwrap();
    assert!(html.contains(r#"data-empty="ph""#));
    assert!(html.contains("No data yet"));
    assert_eq!(app.dashboard("/launches/nobody").await.status(), 404);
}

#[tokio::test]
async fn the_index_lists_launches_with_their_headline_numbers() {
    let app = spawn_app().await;
    seed(&app, "rocket").await;
    app.seed_launch("quiet", "Quiet").await;
    let html = app.dashboard("/launches").await.text().await.unwrap();
    let rocket = &html[html.find(r#"data-launch="rocket""#).unwrap()..];
    assert_eq!(figure(rocket, "views"), "40");
    assert_eq!(figure(rocket, "unique_visitors"), "25");
    assert_eq!(figure(rocket, "conversions"), "4");
    assert_eq!(figure(rocket, "revenue"), "49.00 USD");
    assert!(html.contains(r#"href="/launches/quiet""#));
}

#[tokio::test]
async fn the_series_api_gives_every_minute_of_the_day_with_gaps_as_zeros() {
    let app = spawn_app().await;
    seed(&app, "rocket").await;
    let body: Value = app
        .dashboard("/api/launches/rocket/series")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["day"], DAY);
    let views: Vec<i64> = body["minutes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["views"].as_i64().unwrap())
        .collect();
    assert_eq!(views, [30, 0, 0, 10]);
    assert_eq!(body["minutes"][3]["conversions"], 4);
    assert_eq!(
        app.dashboard("/api/launches/rocket/series?day=2026-12-02")
            .await
            .json::<Value>()
            .await
            .unwrap()["minutes"],
        serde_json::json!([])
    );
}

#[tokio::test]
async fn edge_counters_land_in_their_own_table_and_never_count_as_conversions() {
    let app = spawn_app().await;
    seed(&app, "rocket").await;
    assert_eq!(app.day_total("rocket", "edge_cache_hit").await, 0);
    let stored: Vec<(String, String, i64)> =
        sqlx::query_as("SELECT launch, name, value FROM edge_counters ORDER BY launch, name")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(stored.len(), 6);
    assert_eq!(stored[0], ("".into(), "outbound_429".into(), 3));
    let report: Report = app
        .signed("GET", "/api/launches/rocket/report", b"")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(report.conversions, 4);
}
