//! One bad record never blocks a batch: it is kept in `dead_letters` with its reason,
//! listed (route, CLI, metric) and requeued once its cause is fixed; and every answer to
//! a batch is signed, so the worker can tell the origin's refusal from a proxy's.

use chrono::Utc;
use futures_util::future::join_all;
use launch_edge_proto::batch::{IngestAck, IngestBatch, WebhookEventRecord};
use launch_edge_proto::headers;
use launch_edge_proto::signing::{SignedRequest, SignedResponse};
use serde_json::{json, Value};

use crate::helpers::{batch, delta, metric, sketch, spawn_app, spawn_app_with, TestApp};

const DAY: &str = "2026-12-01";

fn event(id: &str, payload: Value) -> WebhookEventRecord {
    WebhookEventRecord {
        source: "relay".into(),
        event_id: id.into(),
        event_type: "conversion".into(),
        received_at_ms: 1_764_576_000_000,
        payload,
    }
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&app.pool).await.unwrap()
}

async fn listing(app: &TestApp) -> Value {
    let response = app.signed("GET", "/ingest/dead-letters", b"").await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// A stored sketch that cannot be read: the next sketch merged into it fails in Postgres.
async fn corrupt_stored_sketch(app: &TestApp, launch: &str) {
    sqlx::query(
        "INSERT INTO visitor_sketches (launch, day, sketch) VALUES ($1, $2::date, '\\x00'::bytea)",
    )
    .bind(launch)
    .bind(DAY)
    .execute(&app.pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn a_webhook_payload_with_a_nul_is_kept_aside_while_the_other_events_of_its_batch_land() {
    let app = spawn_app().await;
    let mut poisoned = batch("inbox/relay/0:1", vec![]);
    poisoned.webhook_events = vec![
        event("e1", json!({ "n": 1 })),
        event("poison", json!({ "note": "a\u{0}b" })),
        event("e3", json!({ "n": 3 })),
    ];
    let response = app.ingest(&poisoned).await;
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
    let ack: IngestAck = app.ingest(&poisoned).await.json().await.unwrap();
    assert!(!ack.applied, "the resend is recognised");
    assert_eq!(count(&app, "SELECT count(*) FROM webhook_events").await, 2);

    let listed = listing(&app).await;
    assert_eq!(listed["open"], 1);
    let dead = &listed["dead_letters"][0];
    assert_eq!(
        (&dead["kind"], &dead["reason"], &dead["batch_id"]),
        (
            &json!("webhook_event"),
            &json!("payload_contains_nul"),
            &json!("inbox/relay/0:1")
        )
    );
    let row: WebhookEventRecord = serde_json::from_str(dead["row"].as_str().unwrap()).unwrap();
    assert_eq!(row, poisoned.webhook_events[1], "kept exactly as sent");
    assert_eq!(
        metric(
            &app,
            "launch_edge_origin_dead_letters{kind=\"webhook_event\"}"
        )
        .await,
        1
    );
    assert_eq!(
        metric(&app, "launch_edge_origin_dead_letters{kind=\"counter\"}").await,
        0
    );

    // Requeued while its cause is still there: it stays, with the error.
    let id = dead["id"].as_i64().unwrap();
    let again = app
        .signed("POST", &format!("/ingest/dead-letters/{id}/requeue"), b"")
        .await;
    assert_eq!(again.status(), 422);
    let body: Value = again.json().await.unwrap();
    assert_eq!(
        (&body["error"], &body["reason"]),
        (
            &json!("dead_letter_still_fails"),
            &json!("payload_contains_nul")
        )
    );
    assert_eq!(listing(&app).await["open"], 1);
}

#[tokio::test]
async fn a_row_postgres_refuses_is_found_row_by_row_and_kept_aside_with_the_database_error() {
    let app = spawn_app().await;
    // A stored total so close to the bigint limit that one more view overflows it: valid
    // input that only Postgres can refuse (numeric_value_out_of_range).
    sqlx::query("INSERT INTO metrics_day (launch, day, source, metric, value) VALUES ('full', $1::date, 'direct', 'view', 9223372036854775000)")
        .bind(DAY)
        .execute(&app.pool)
        .await
        .unwrap();
    let mut mixed = batch(
        "full/0:1",
        vec![
            delta("rocket", DAY, 0, "direct", "view", 3),
            delta("full", DAY, 0, "direct", "view", 1_000),
            delta("rocket", DAY, 1, "direct", "click", 2),
        ],
    );
    mixed.uniques.push(sketch("rocket", DAY, 0..50));
    mixed.webhook_events.push(event("e1", json!({})));
    let response = app.ingest(&mixed).await;
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
    assert_eq!(app.day_total("rocket", "view").await, 3);
    assert_eq!(app.day_total("rocket", "click").await, 2);
    assert_eq!(
        app.minute_total("full", "view").await,
        0,
        "the row was rolled back whole"
    );
    assert_eq!(
        count(&app, "SELECT count(*) FROM visitor_sketches").await,
        1
    );
    assert_eq!(count(&app, "SELECT count(*) FROM webhook_events").await, 1);
    let dead: Vec<(String, String, i32)> =
        sqlx::query_as("SELECT kind, reason, ordinal FROM dead_letters")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(dead, [("counter".into(), "database:22003".into(), 1)]);
}

#[tokio::test]
async fn a_dead_letter_requeued_once_its_cause_is_fixed_lands_once() {
    let app = spawn_app().await;
    for launch in ["broken-a", "broken-b"] {
        corrupt_stored_sketch(&app, launch).await;
    }
    let mut doomed = batch("s:1", vec![delta("broken-a", DAY, 0, "direct", "view", 1)]);
    doomed.uniques = vec![
        sketch("broken-a", DAY, 0..20),
        sketch("broken-b", DAY, 0..30),
    ];
    assert!(app.ingest_ok(&doomed).await);
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM dead_letters ORDER BY ordinal")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(ids.len(), 2);
    let requeue = |id: i64| {
        let app = &app;
        async move {
            app.signed("POST", &format!("/ingest/dead-letters/{id}/requeue"), b"")
                .await
                .status()
                .as_u16()
        }
    };
    assert_eq!(
        requeue(ids[0]).await,
        422,
        "the stored sketch is still unreadable"
    );
    let last_error: Option<String> =
        sqlx::query_scalar("SELECT last_error FROM dead_letters WHERE id = $1")
            .bind(ids[0])
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(last_error.as_deref(), Some("stored_sketch_unreadable"));

    // The operator removes the corrupt sketches; requeues now apply, each exactly once,
    // even when two arrive at the same moment.
    sqlx::query("DELETE FROM visitor_sketches")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(requeue(ids[0]).await, 200);
    let racing = join_all([requeue(ids[1]), requeue(ids[1])]).await;
    let mut racing = racing.clone();
    racing.sort();
    assert_eq!(racing, [200, 409]);
    assert_eq!(requeue(ids[0]).await, 409);
    assert_eq!(requeue(999_999).await, 404);
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT launch FROM visitor_sketches ORDER BY launch")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(stored, ["broken-a", "broken-b"]);
    assert_eq!(listing(&app).await["open"], 0);
    assert_eq!(
        metric(&app, "launch_edge_origin_dead_letters{kind=\"uniques\"}").await,
        0
    );
}

#[tokio::test]
async fn the_cli_lists_and_requeues_dead_letters() {
    let (app, database) = spawn_app_with(|_| {}).await;
    corrupt_stored_sketch(&app, "broken").await;
    let mut doomed = batch("s:1", vec![]);
    doomed.uniques = vec![sketch("broken", DAY, 0..20)];
    assert!(app.ingest_ok(&doomed).await);
    let cli = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_launch-edge-origin"))
            .arg("dead-letters")
            .args(args)
            .env("DATABASE_URL", &database.database_url)
            .env("RUST_LOG", "off")
            .output()
            .expect("the binary runs")
    };
    let listed = cli(&["list", "--json"]);
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(
        listed,
        listing(&app).await,
        "the CLI shows what the route shows"
    );
    let id = listed["dead_letters"][0]["id"]
        .as_i64()
        .unwrap()
        .to_string();
    let table = String::from_utf8(cli(&["list"]).stdout).unwrap();
    assert!(
        table.starts_with("1 open dead letter(s)\n") && table.contains("stored_sketch_unreadable"),
        "{table}"
    );

    let failed = cli(&["requeue", &id]);
    assert!(!failed.status.success(), "still failing: a non-zero exit");
    assert!(String::from_utf8_lossy(&failed.stderr).contains("stored_sketch_unreadable"));
    sqlx::query("DELETE FROM visitor_sketches")
        .execute(&app.pool)
        .await
        .unwrap();
    let done = cli(&["requeue", &id]);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(
        String::from_utf8_lossy(&done.stdout).starts_with(&format!("requeued dead letter {id}"))
    );
    assert_eq!(listing(&app).await["open"], 0);
    let all = cli(&["list", "--all", "--json"]);
    let all: Value = serde_json::from_slice(&all.stdout).unwrap();
    assert!(all["dead_letters"][0]["requeued_at_ms"].is_i64());
}

/// Posts `body` signed; returns the status, body, the answer's signature header and the
/// request's own signature.
async fn post_batch(app: &TestApp, body: &[u8]) -> (u16, Vec<u8>, Option<String>, String) {
    let timestamp = Utc::now().timestamp();
    let request_signature = SignedRequest {
        method: "POST",
        path_and_query: "/ingest/batch",
        body,
    }
    .sign(&app.secret, timestamp);
    let response = app
        .client
        .post(format!("{}/ingest/batch", app.address))
        .header(headers::TIMESTAMP, timestamp.to_string())
        .header(headers::SIGNATURE, &request_signature)
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let signature = response
        .headers()
        .get(headers::RESPONSE_SIGNATURE)
        .map(|v| v.to_str().unwrap().to_owned());
    (
        status,
        response.bytes().await.unwrap().to_vec(),
        signature,
        request_signature,
    )
}

#[tokio::test]
async fn every_answer_to_a_batch_is_signed_over_itself_and_the_request_it_answers() {
    let app = spawn_app().await;
    let good =
        serde_json::to_vec(&batch("s:1", vec![delta("rocket", DAY, 0, "d", "view", 1)])).unwrap();
    let too_many: IngestBatch = batch(
        "s:2",
        (0..=launch_edge_proto::batch::MAX_BATCH_ROWS as i64)
            .map(|m| delta("rocket", DAY, m, "d", "view", 1))
            .collect(),
    );
    let cases = [
        (good.clone(), 200),
        (good, 200),
        (b"{not json".to_vec(), 400),
        (serde_json::to_vec(&too_many).unwrap(), 413),
    ];
    let mut signatures = Vec::new();
    for (body, expected) in cases {
        let (status, answer, signature, request_signature) = post_batch(&app, &body).await;
        assert_eq!(status, expected);
        let signed = SignedResponse {
            status,
            request_signature: &request_signature,
            body: &answer,
        };
        assert_eq!(
            signed.verify(&app.secret, signature.as_deref()),
            Ok(()),
            "{status}"
        );
        signatures.push((status, answer, signature, request_signature));
    }
    // The answer to one request does not verify as the answer to another (a replay).
    let (status, answer, _, _) = &signatures[0];
    let replayed = SignedResponse {
        status: *status,
        request_signature: &signatures[2].3,
        body: answer,
    };
    assert!(replayed
        .verify(&app.secret, signatures[0].2.as_deref())
        .is_err());
    // An unsigned request is refused by the signature check before any answer is signed.
    let unsigned = app
        .client
        .post(format!("{}/ingest/batch", app.address))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401);
    assert!(unsigned
        .headers()
        .get(headers::RESPONSE_SIGNATURE)
        .is_none());
}

#[tokio::test]
async fn a_batch_at_the_producers_byte_limit_is_accepted() {
    let app = spawn_app().await;
    let mut big = batch("s:1", vec![]);
    let pad = "x".repeat(200 * 1024);
    for i in 0..14 {
        big.webhook_events
            .push(event(&format!("e{i}"), json!({ "pad": pad })));
    }
    let body = serde_json::to_vec(&big).unwrap();
    assert!(body.len() > 2 * 1024 * 1024 && big.within_limits(body.len()));
    let (status, answer, _, _) = post_batch(&app, &body).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    assert_eq!(count(&app, "SELECT count(*) FROM webhook_events").await, 14);
}
