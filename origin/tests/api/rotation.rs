//! Rotating the signing key and the dashboard token: during a rotation the previous value
//! is accepted beside the current one, any other is refused, and a signed answer is
//! signed with the key the request used (so the worker checks it with the one key it has).

use launch_edge_proto::headers;
use launch_edge_proto::signing::{SignedRequest, SignedResponse};
use launch_edge_proto::Secret;

use crate::helpers::{batch, delta, server_settings, spawn_app_with_server, DASHBOARD_TOKEN};

const OLD_KEY: &str = "the-old-signing-secret-0123456789abcdef";
const OLD_DASHBOARD: &str = "the-old-dashboard-token-0123456789abcdef";

#[tokio::test]
async fn during_a_signing_key_rotation_both_keys_are_accepted_and_each_answer_is_signed_with_the_key_its_request_used(
) {
    let mut server = server_settings();
    server.signing_secret_previous = Some(Secret::new(OLD_KEY));
    let mut app = spawn_app_with_server(server).await;
    app.seed_launch("rocket", "Rocket").await;
    let current = app.secret.clone();

    for (n, key) in [(1, Secret::new(OLD_KEY)), (2, current.clone())] {
        app.secret = key.clone();
        let body = serde_json::to_vec(&batch(
            &format!("rotation:1:{n}"),
            vec![delta("rocket", "2026-12-01", n, "direct", "click", 1)],
        ))
        .unwrap();
        let now = chrono::Utc::now().timestamp();
        let request_signature = SignedRequest {
            method: "POST",
            path_and_query: "/ingest/batch",
            body: &body,
        }
        .sign(&key, now);
        let response = app.signed_at("POST", "/ingest/batch", &body, now).await;
        assert_eq!(response.status(), 200);
        let status = response.status().as_u16();
        let sent = response
            .headers()
            .get(headers::RESPONSE_SIGNATURE)
            .cloned()
            .expect("a signed answer");
        let answer = response.bytes().await.unwrap();
        let signed_with = |k: &Secret| {
            SignedResponse {
                status,
                request_signature: &request_signature,
                body: &answer,
            }
            .verify(k, sent.to_str().ok())
            .is_ok()
        };
        assert!(
            signed_with(&key),
            "answer {n} is signed with the request's key"
        );
        let other = if n == 1 {
            current.clone()
        } else {
            Secret::new(OLD_KEY)
        };
        assert!(
            !signed_with(&other),
            "answer {n} is not signed with the other key"
        );
    }
    assert_eq!(app.day_total("rocket", "click").await, 2);

    app.secret = Secret::new("a-third-signing-secret-0123456789abcdef");
    let body = serde_json::to_vec(&batch(
        "rotation:1:3",
        vec![delta("rocket", "2026-12-01", 3, "direct", "click", 1)],
    ))
    .unwrap();
    assert_eq!(
        app.signed("POST", "/ingest/batch", &body).await.status(),
        401
    );
    assert_eq!(app.day_total("rocket", "click").await, 2);
}

#[tokio::test]
async fn without_a_previous_key_the_old_key_is_refused() {
    let mut app = spawn_app_with_server(server_settings()).await;
    app.secret = Secret::new(OLD_KEY);
    let body = serde_json::to_vec(&batch("rotation:2:1", vec![])).unwrap();
    assert_eq!(
        app.signed("POST", "/ingest/batch", &body).await.status(),
        401
    );
}

#[tokio::test]
async fn during_a_dashboard_token_rotation_the_previous_token_still_opens_the_dashboard_and_no_other(
) {
    let mut server = server_settings();
    server.dashboard_token_previous = Some(Secret::new(OLD_DASHBOARD));
    let app = spawn_app_with_server(server).await;
    app.seed_launch("rocket", "Rocket").await;
    let status = |token: &'static str| {
        let client = app.client.clone();
        let url = format!("{}/api/launches/rocket/series", app.address);
        async move {
            client
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(status(DASHBOARD_TOKEN).await, 200);
    assert_eq!(status(OLD_DASHBOARD).await, 200);
    assert_eq!(status("the-wrong-dashboard-token-0123456789abc").await, 401);
}

#[tokio::test]
async fn a_previous_dashboard_token_without_a_current_one_is_refused_at_start() {
    let mut server = server_settings();
    server.dashboard_token = None;
    server.dashboard_token_previous = Some(Secret::new(OLD_DASHBOARD));
    let err = server.validate().unwrap_err();
    assert!(
        err.to_string().contains("DASHBOARD_TOKEN_PREVIOUS"),
        "{err}"
    );
}
