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

    /// The body of a dashboard page that answered (any status).
    pub async fn dashboard_text(&self, path: &str) -> String {
        self.dashboard(path)
            .await
            .text()
            .await
            .expect("a text body")
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
    // 4 conversions of the two sources with views over their 40 views.
    assert_eq!(figure(&html, "conversion_rate"), "10.00%");
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
    assert!(
        !html.contains("http-equiv=\"refresh\""),
        "live figures, no reload"
    );
    assert!(html.contains("<svg") && html.contains("<polyline"));
    assert!(
        !html.contains("<script src") && !html.contains("https://"),
        "only the inline script: nothing from elsewhere"
    );
    assert!(html.contains(" PT<"), "times in Pacific time");
    let producthunt = html.find(r#"data-source="producthunt""#).unwrap();
    assert!(producthunt < html.find(r#"data-source="direct""#).unwrap());
}

#[tokio::test]
async fn a_launch_without_product_hunt_stats_shows_an_empty_state() {
    let app = spawn_app().await;
    app.seed_launch("quiet", "Quiet").await;
    let html = app.dashboard_text("/launches/quiet").await;
    assert!(html.contains(r#"data-empty="ph""#));
    assert!(html.contains("No data yet"));
    assert_eq!(app.dashboard("/launches/nobody").await.status(), 404);
}

#[tokio::test]
async fn the_index_lists_launches_with_their_headline_numbers() {
    let app = spawn_app().await;
    seed(&app, "rocket").await;
    app.seed_launch("quiet", "Quiet").await;
    let html = app.dashboard_text("/launches").await;
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

async fn status_and_error(app: &TestApp, path: &str) -> (u16, String) {
    let response = app.dashboard(path).await;
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    (status, body["error"].as_str().unwrap_or("").to_owned())
}

#[tokio::test]
async fn a_bad_day_or_range_is_refused_with_its_own_code() {
    let app = spawn_app().await;
    seed(&app, "rocket").await;
    for (query, code) in [
        ("day=2026-13-01", "invalid_day"),
        ("day=yesterday", "invalid_day"),
        ("from=2026-12-1&to=2026-12-02", "invalid_from"),
        ("from=2026-12-01&to=2026-02-30", "invalid_to"),
        ("from=2026-12-01", "range_incomplete"),
        ("to=2026-12-01", "range_incomplete"),
        (
            "day=2026-12-01&from=2026-12-01&to=2026-12-02",
            "day_and_range",
        ),
        ("from=2026-12-03&to=2026-12-01", "range_reversed"),
        ("from=2026-12-01&to=2027-01-01", "range_too_long"),
        ("format=xml", "invalid_format"),
        ("format=csv", "unknown_table"),
        ("format=csv&table=launches", "unknown_table"),
        ("refresh=1", "invalid_refresh"),
        ("refresh=lots", "invalid_refresh"),
    ] {
        let got = status_and_error(&app, &format!("/launches/rocket?{query}")).await;
        assert_eq!(got, (400, code.to_owned()), "{query}");
    }
    // 31 days is the longest range, and a range covers every day in it.
    let ok = app
        .dashboard("/launches/rocket?from=2026-11-15&to=2026-12-15")
        .await;
    assert_eq!(ok.status(), 200);
    let html = ok.text().await.unwrap();
    assert_eq!(figure(&html, "views"), "40");
    assert!(html.contains("Pacific days 2026-11-15 to 2026-12-15"));
    let before = app
        .dashboard_text("/launches/rocket?from=2026-11-01&to=2026-11-30")
        .await;
    assert_eq!(
        figure(&before, "views"),
        "0",
        "December traffic is not in November"
    );
}

#[tokio::test]
async fn previous_and_next_day_links_move_by_one_pacific_day() {
    let app = spawn_app().await;
    seed(&app, "rocket").await;
    let html = app.dashboard_text("/launches/rocket?day=2026-12-01").await;
    assert!(html.contains(r#"data-nav="prev" href="/launches/rocket?day=2026-11-30""#));
    assert!(html.contains(r#"data-nav="next" href="/launches/rocket?day=2026-12-02""#));
    let range = app
        .dashboard_text("/launches/rocket?from=2026-12-01&to=2026-12-07")
        .await;
    assert!(
        range.contains(
            r#"data-nav="prev" href="/launches/rocket?from=2026-11-24&#38;to=2026-11-30""#
        ),
        "a range steps back by its own length"
    );
    // 08:00 UTC is midnight in Los Angeles: the minute chart starts at 00:00 PT.
    assert!(html.contains(">00:00 PT<"), "axis labels in Pacific time");
}

#[tokio::test]
async fn the_conversion_rate_divides_conversions_by_views_of_the_same_sources() {
    let app = spawn_app().await;
    seed(&app, "rocket").await;
    // A sale recorded by a webhook under a source that has no counted view: it is not
    // divided by other sources' views, and is shown apart.
    let b = batch(
        "rocket:2",
        vec![delta("rocket", DAY, 5, "stripe", "purchase", 6)],
    );
    assert!(app.ingest_ok(&b).await);
    let html = app.dashboard_text("/launches/rocket").await;
    assert_eq!(figure(&html, "conversions"), "10");
    assert_eq!(
        figure(&html, "conversion_rate"),
        "10.00%",
        "4 / 40, not 10 / 40"
    );
    assert_eq!(figure(&html, "conversions_without_views"), "6");
    let live: Value = app
        .dashboard("/launches/rocket?format=json")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(live["figures"]["conversion_rate"], "10.00%");
    assert_eq!(live["figures"]["views"], "40");
}

#[tokio::test]
async fn every_table_exports_as_csv_with_quoting_and_formulas_defused() {
    let app = spawn_app().await;
    seed(&app, "rocket").await;
    // A source name a spreadsheet would run as a formula, with a comma and a quote.
    sqlx::query(
        "INSERT INTO metrics_day (launch, day, source, metric, value)
         VALUES ('rocket', '2026-12-01', '=HYPERLINK(\"http://x\",\"a,b\")', 'view', 7)",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let response = app
        .dashboard("/launches/rocket?day=2026-12-01&format=csv&table=sources")
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    assert_eq!(
        response.headers()["content-disposition"],
        "attachment; filename=\"rocket-sources-2026-12-01.csv\""
    );
    let csv = response.text().await.unwrap();
    let lines: Vec<&str> = csv.split("\r\n").collect();
    assert_eq!(
        lines[0],
        "source,views,clicks,conversions,conversions_per_view,revenue_minor_units,currency"
    );
    assert_eq!(lines[1], "producthunt,30,8,3,0.100000,0,USD");
    assert!(
        lines.contains(&"\"'=HYPERLINK(\"\"http://x\"\",\"\"a,b\"\")\",7,0,0,0.000000,0,USD"),
        "{csv}"
    );
    for table in [
        "funnel",
        "sources",
        "mediums",
        "campaigns",
        "kinds",
        "minutes",
        "ph",
        "dead_letters",
        "edge",
    ] {
        let r = app
            .dashboard(&format!("/launches/rocket?format=csv&table={table}"))
            .await;
        assert_eq!(r.status(), 200, "{table}");
        let body = r.text().await.unwrap();
        assert!(
            body.lines().count() >= 2,
            "{table}: a header and rows: {body}"
        );
    }
    let minutes = app
        .dashboard_text("/launches/rocket?format=csv&table=minutes")
        .await;
    assert!(minutes.contains("2026-12-01T08:00:00+00:00,12-01 00:00 PT,30,8,0"));
}

async fn dead_letter(app: &TestApp, event_id: &str) -> i64 {
    let row = serde_json::json!({
        "source": "relay", "event_id": event_id, "event_type": "conversion",
        "received_at_ms": 1_764_576_000_000_i64, "payload": { "n": 1 }
    });
    sqlx::query_scalar(
        "INSERT INTO dead_letters (batch_id, producer, kind, ordinal, reason, row_json)
         VALUES ($1, 'inbox/relay/0', 'webhook_event', 0, 'database:XX000', $2) RETURNING id",
    )
    .bind(format!("batch-{event_id}"))
    .bind(row.to_string())
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

async fn open_dead_letters(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM dead_letters WHERE requeued_at IS NULL")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_dead_letter_panel_counts_every_kind_and_lists_requeue_buttons() {
    let app = spawn_app().await;
    seed(&app, "rocket").await;
    let id = dead_letter(&app, "e1").await;
    let b = batch(
        "rocket:3",
        vec![
            delta("", DAY, 0, "edge", "edge_drain_dead_letter", 3),
            delta("", DAY, 0, "edge", "edge_webhook_inbox_dead_letter", 5),
        ],
    );
    assert!(app.ingest_ok(&b).await);
    let html = app.dashboard_text("/launches/rocket").await;
    // 1 origin row + 3 batches + 2 tasks (seed) + 5 webhook records.
    assert_eq!(figure(&html, "dead_letters"), "11");
    assert!(html.contains(r#"data-dead-kind="origin:webhook_event""#));
    assert!(html.contains(r#"data-dead-kind="edge:webhook_inbox_dead_letter""#));
    assert!(html.contains(&format!(
        r#"action="/launches/rocket/dead-letters/{id}/requeue""#
    )));
}

#[tokio::test]
async fn a_requeue_from_another_site_or_without_a_session_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    seed(&app, "rocket").await;
    let id = dead_letter(&app, "e1").await;
    let url = format!("{}/launches/rocket/dead-letters/{id}/requeue", app.address);
    let cookie = format!("launch_edge_dashboard={DASHBOARD_TOKEN}");
    let own_origin = app.address.clone();
    let client = no_redirects();
    let anonymous = client.post(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    for (origin, code) in [
        (None, "csrf_origin_missing"),
        (Some("https://evil.example"), "csrf_origin_mismatch"),
        (Some("null"), "csrf_origin_mismatch"),
        (Some(own_origin.as_str()), "csrf_cross_site"),
    ] {
        let mut request = client.post(&url).header("cookie", &cookie);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        if code == "csrf_cross_site" {
            // A browser says where the form came from, whatever Origin claims.
            request = request.header("sec-fetch-site", "cross-site");
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 403, "{origin:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], code);
    }
    assert_eq!(open_dead_letters(&app).await, 1, "nothing was requeued");

    // From the dashboard's own page: requeued, back to the panel with the outcome.
    let done = client
        .post(&url)
        .header("cookie", &cookie)
        .header("origin", &own_origin)
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 303);
    assert_eq!(
        done.headers()["location"],
        format!("/launches/rocket?notice=requeued:{id}#dead-letters").as_str()
    );
    assert_eq!(open_dead_letters(&app).await, 0);
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM webhook_events WHERE event_id = 'e1'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(stored, 1);
    let again = client
        .post(&url)
        .header("cookie", &cookie)
        .header("origin", &own_origin)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409);
    let html = app
        .dashboard_text(&format!("/launches/rocket?notice=requeued:{id}"))
        .await;
    assert!(html.contains(&format!("Dead letter {id} requeued")));
}
