use crate::helpers::{metric, spawn_app};

#[tokio::test]
async fn a_signed_render_of_a_known_launch_returns_its_page() {
    let app = spawn_app().await;
    app.seed_launch("rocket", "Rocket <Ship>").await;

    let response = app.signed("GET", "/render/rocket", b"").await;

    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = response.text().await.unwrap();
    assert!(
        html.contains("Rocket &#60;Ship&#62;") || html.contains("Rocket &lt;Ship&gt;"),
        "name is escaped: {html}"
    );
    assert!(
        html.contains("href=\"/go/rocket?to=signup\""),
        "CTA links go through the worker's click route"
    );
    assert_eq!(metric(&app, "launch_edge_origin_renders_total").await, 1);
}

#[tokio::test]
async fn a_render_of_an_unknown_launch_is_a_small_404_page() {
    let app = spawn_app().await;
    let response = app.signed("GET", "/render/nobody-here", b"").await;
    assert_eq!(response.status(), 404);
    assert!(response.text().await.unwrap().contains("nobody-here"));
}

#[tokio::test]
async fn the_language_variant_sets_the_page_language() {
    let app = spawn_app().await;
    app.seed_launch("rocket", "Rocket").await;
    let html = app
        .signed("GET", "/render/rocket?lang=fr", b"")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("<html lang=\"fr\">"));
}

#[tokio::test]
async fn an_unsigned_render_is_refused_with_a_reason() {
    let app = spawn_app().await;
    app.seed_launch("rocket", "Rocket").await;
    let response = app.get("/render/rocket").await;
    assert_eq!(response.status(), 401);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "missing_timestamp");
    assert_eq!(metric(&app, "launch_edge_origin_renders_total").await, 0);
    assert_eq!(
        metric(&app, "launch_edge_origin_signature_rejections_total").await,
        1
    );
}

#[tokio::test]
async fn a_render_signed_with_the_wrong_key_is_refused() {
    let mut app = spawn_app().await;
    app.secret = launch_edge_proto::Secret::new("not-the-shared-secret");
    let response = app.signed("GET", "/render/rocket", b"").await;
    assert_eq!(response.status(), 401);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "signature_mismatch");
}

#[tokio::test]
async fn a_render_signed_for_another_path_is_refused() {
    let app = spawn_app().await;
    let timestamp = chrono::Utc::now().timestamp();
    let signature = launch_edge_proto::signing::SignedRequest {
        method: "GET",
        path_and_query: "/render/other",
        body: b"",
    }
    .sign(&app.secret, timestamp);
    let response = app
        .client
        .get(format!("{}/render/rocket", app.address))
        .header(launch_edge_proto::headers::TIMESTAMP, timestamp.to_string())
        .header(launch_edge_proto::headers::SIGNATURE, signature)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn a_stale_signature_is_refused_even_when_otherwise_valid() {
    let app = spawn_app().await;
    app.seed_launch("rocket", "Rocket").await;
    let old = chrono::Utc::now().timestamp() - launch_edge_proto::signing::TOLERANCE_SECS - 5;
    let response = app.signed_at("GET", "/render/rocket", b"", old).await;
    assert_eq!(response.status(), 401);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "timestamp_outside_tolerance");
    let future = chrono::Utc::now().timestamp() + launch_edge_proto::signing::TOLERANCE_SECS + 5;
    assert_eq!(
        app.signed_at("GET", "/render/rocket", b"", future)
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn a_malformed_slug_is_a_bad_request() {
    let app = spawn_app().await;
    let response = app.signed("GET", "/render/Bad_Slug", b"").await;
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn health_is_public_and_readiness_checks_postgres() {
    let app = spawn_app().await;
    assert_eq!(app.get("/healthz").await.status(), 200);
    assert_eq!(app.get("/readyz").await.status(), 200);
}
