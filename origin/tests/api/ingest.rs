//! `POST /ingest/batch`: exact totals, exactly once per batch id, nothing changed by
//! refused input, and no lost update under concurrency.

use futures_util::future::join_all;
use launch_edge_proto::batch::{IngestBatch, WebhookEventRecord, MAX_BATCH_ROWS};
use launch_edge_proto::headers;
use launch_edge_proto::signing::SignedRequest;
use launch_edge_proto::uniques::estimate_serialized;

use crate::helpers::{batch, delta, metric, sketch, spawn_app, TestApp};

const DAY: &str = "2026-12-01";

async fn stored_uniques(app: &TestApp, launch: &str, day: &str) -> u64 {
    let bytes: Vec<u8> = sqlx::query_scalar(
        "SELECT sketch FROM visitor_sketches WHERE launch = $1 AND day = $2::date",
    )
    .bind(launch)
    .bind(day)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    estimate_serialized(&bytes).unwrap()
}

fn event(source: &str, id: &str) -> WebhookEventRecord {
    WebhookEventRecord {
        source: source.into(),
        event_id: id.into(),
        event_type: "checkout.session.completed".into(),
        received_at_ms: 1_764_576_000_000,
        payload: serde_json::json!({ "id": id, "amount": 4900 }),
    }
}

#[tokio::test]
async fn a_batch_lands_in_the_minute_and_day_tables_with_exact_totals() {
    let app = spawn_app().await;
    let counters = vec![
        delta("rocket", DAY, 0, "producthunt", "view", 5),
        delta("rocket", DAY, 0, "producthunt", "view", 2),
        delta("rocket", DAY, 1, "producthunt", "view", 4),
        delta("rocket", DAY, 1, "direct", "view", 3),
        delta("rocket", DAY, 1, "producthunt", "signup", 1),
        delta("rocket", DAY, 2, "producthunt", "revenue_cents", 4_900),
        delta("rocket", DAY, 2, "producthunt", "click", 0),
    ];
    assert!(app.ingest_ok(&batch("shard-0:1", counters)).await);

    assert_eq!(app.day_total("rocket", "view").await, 14);
    assert_eq!(app.minute_total("rocket", "view").await, 14);
    assert_eq!(app.day_total("rocket", "signup").await, 1);
    assert_eq!(app.day_total("rocket", "revenue_cents").await, 4_900);
    let minute_rows: Vec<(i64, String, i64)> = sqlx::query_as(
        "SELECT extract(epoch FROM minute)::bigint, source, value FROM metrics_minute
          WHERE metric = 'view' ORDER BY minute, source",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let start = delta("rocket", DAY, 0, "", "", 0).minute;
    assert_eq!(
        minute_rows,
        vec![
            (start, "producthunt".into(), 7),
            (start + 60, "direct".into(), 3),
            (start + 60, "producthunt".into(), 4),
        ]
    );
    let (shard, rows): (String, i32) =
        sqlx::query_as("SELECT shard, rows FROM ingested_batches WHERE batch_id = 'shard-0:1'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((shard.as_str(), rows), ("shard-0", 7));
    assert!(
        app.ingest_ok(&batch(
            "shard-0:2",
            vec![delta("rocket", DAY, 0, "producthunt", "view", 10)]
        ))
        .await
    );
    assert_eq!(app.day_total("rocket", "view").await, 24);
    assert_eq!(
        metric(&app, "launch_edge_origin_ingest_batches_applied_total").await,
        2
    );
}

#[tokio::test]
async fn a_replayed_batch_id_changes_nothing_and_is_acknowledged_as_not_applied() {
    let app = spawn_app().await;
    let first = batch(
        "shard-0:1",
        vec![delta("rocket", DAY, 0, "direct", "view", 5)],
    );
    assert!(app.ingest_ok(&first).await);
    let before = app.ingest_row_counts().await;

    assert!(!app.ingest_ok(&first).await);
    // Same id, different content: still the same batch as far as exactly-once goes.
    let altered = batch(
        "shard-0:1",
        vec![delta("rocket", DAY, 0, "direct", "view", 99)],
    );
    assert!(!app.ingest_ok(&altered).await);

    assert_eq!(app.day_total("rocket", "view").await, 5);
    assert_eq!(app.minute_total("rocket", "view").await, 5);
    assert_eq!(app.ingest_row_counts().await, before);
    assert_eq!(
        metric(&app, "launch_edge_origin_ingest_batches_replayed_total").await,
        2
    );
}

#[tokio::test]
async fn an_unsigned_or_tampered_batch_is_refused_with_401_and_changes_nothing() {
    let app = spawn_app().await;
    let body = serde_json::to_vec(&batch(
        "shard-0:1",
        vec![delta("rocket", DAY, 0, "direct", "view", 5)],
    ))
    .unwrap();

    let unsigned = app
        .client
        .post(format!("{}/ingest/batch", app.address))
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401);

    let timestamp = chrono::Utc::now().timestamp();
    let signature = SignedRequest {
        method: "POST",
        path_and_query: "/ingest/batch",
        body: &body,
    }
    .sign(&app.secret, timestamp);
    let tampered = String::from_utf8(body)
        .unwrap()
        .replace("\"value\":5", "\"value\":500");
    let response = app
        .client
        .post(format!("{}/ingest/batch", app.address))
        .header(headers::TIMESTAMP, timestamp.to_string())
        .header(headers::SIGNATURE, signature)
        .body(tampered)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let error: serde_json::Value = response.json().await.unwrap();
    assert_eq!(error["error"], "signature_mismatch");

    assert_eq!(app.ingest_row_counts().await, [0; 6]);
}

#[tokio::test]
async fn identical_batches_racing_each_other_are_applied_exactly_once() {
    let app = spawn_app().await;
    let mut racing = batch(
        "shard-3:42",
        (0..200)
            .map(|m| delta("rocket", DAY, m, "producthunt", "view", 3))
            .collect(),
    );
    racing.uniques.push(sketch("rocket", DAY, 0..100));
    let sends = (0..8).map(|_| app.ingest(&racing));
    let responses = join_all(sends).await;
    let mut applied = 0;
    for response in responses {
        assert_eq!(response.status(), 200);
        let ack: launch_edge_proto::batch::IngestAck = response.json().await.unwrap();
        applied += usize::from(ack.applied);
    }
    assert_eq!(applied, 1);
    assert_eq!(app.day_total("rocket", "view").await, 600);
    assert_eq!(app.minute_total("rocket", "view").await, 600);
}

#[tokio::test]
async fn concurrent_batches_on_the_same_rows_lose_no_increment_and_no_sketch_merge() {
    let app = spawn_app().await;
    let batches: Vec<IngestBatch> = (0..10u64)
        .map(|i| {
            let mut b = batch(
                &format!("shard-{i}:1"),
                vec![
                    delta("rocket", DAY, 0, "producthunt", "view", 7),
                    delta("rocket", DAY, 0, "direct", "click", 1),
                ],
            );
            b.uniques.push(sketch("rocket", DAY, i * 30..(i + 1) * 30));
            b
        })
        .collect();
    let responses = join_all(batches.iter().map(|b| app.ingest(b))).await;
    assert!(responses.iter().all(|r| r.status() == 200));

    assert_eq!(app.day_total("rocket", "view").await, 70);
    assert_eq!(app.day_total("rocket", "click").await, 10);
    let expected = estimate_serialized(&base64_decode(&sketch("rocket", DAY, 0..300).sketch));
    assert_eq!(stored_uniques(&app, "rocket", DAY).await, expected.unwrap());
}

#[tokio::test]
async fn unique_visitor_sketches_merge_per_launch_and_day() {
    let app = spawn_app().await;
    let mut first = batch("s:1", vec![]);
    first.uniques = vec![sketch("rocket", DAY, 0..30), sketch("rocket", DAY, 10..40)];
    assert!(app.ingest_ok(&first).await);
    let mut second = batch("s:2", vec![]);
    second.uniques = vec![
        sketch("rocket", DAY, 20..50),
        sketch("rocket", "2026-12-02", 0..5),
    ];
    assert!(app.ingest_ok(&second).await);
    // Replaying the first batch must not matter (and is not applied anyway).
    assert!(!app.ingest_ok(&first).await);

    assert_eq!(stored_uniques(&app, "rocket", DAY).await, 50);
    assert_eq!(stored_uniques(&app, "rocket", "2026-12-02").await, 5);
}

#[tokio::test]
async fn webhook_events_are_stored_once_per_source_and_event_id() {
    let app = spawn_app().await;
    let mut first = batch("s:1", vec![]);
    first.webhook_events = vec![
        event("stripe", "evt_1"),
        event("stripe", "evt_1"),
        event("relay", "evt_1"),
    ];
    assert!(app.ingest_ok(&first).await);
    let mut second = batch("s:2", vec![]);
    second.webhook_events = vec![event("stripe", "evt_1"), event("stripe", "evt_2")];
    assert!(app.ingest_ok(&second).await);

    let stored: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT source, event_id, (payload->>'amount')::bigint FROM webhook_events ORDER BY 1, 2",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        stored,
        vec![
            ("relay".into(), "evt_1".into(), 4900),
            ("stripe".into(), "evt_1".into(), 4900),
            ("stripe".into(), "evt_2".into(), 4900),
        ]
    );
}

#[tokio::test]
async fn counters_for_a_launch_not_in_the_launches_table_are_kept_rather_than_refused() {
    let app = spawn_app().await;
    let deltas = vec![delta("not-created-yet", DAY, 0, "direct", "view", 4)];
    assert!(app.ingest_ok(&batch("s:1", deltas)).await);
    assert_eq!(app.day_total("not-created-yet", "view").await, 4);
}

#[tokio::test]
async fn a_batch_unreadable_as_a_batch_gets_its_status_and_code_and_changes_nothing() {
    let app = spawn_app().await;
    let good = || delta("rocket", DAY, 0, "direct", "view", 1);
    let too_many = batch(
        "s:1",
        (0..=MAX_BATCH_ROWS as i64)
            .map(|m| delta("rocket", DAY, m, "d", "view", 1))
            .collect(),
    );
    // Rows of every kind count: MAX_BATCH_ROWS counters and one sketch are one too many.
    let mut too_many_with_sketch = batch(
        "s:1",
        (0..MAX_BATCH_ROWS as i64)
            .map(|m| delta("rocket", DAY, m, "d", "view", 1))
            .collect(),
    );
    too_many_with_sketch
        .uniques
        .push(sketch("rocket", DAY, 0..3));
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "not json",
            b"{\"batch_id\": ".to_vec(),
            400,
            "malformed_json",
        ),
        (
            "missing field",
            br#"{"batch_id": "s:1"}"#.to_vec(),
            400,
            "malformed_json",
        ),
        (
            "empty batch id",
            serde_json::to_vec(&batch("", vec![good()])).unwrap(),
            400,
            "invalid_batch_id",
        ),
        (
            "too many rows",
            serde_json::to_vec(&too_many).unwrap(),
            413,
            "too_many_rows",
        ),
        (
            "too many rows of two kinds",
            serde_json::to_vec(&too_many_with_sketch).unwrap(),
            413,
            "too_many_rows",
        ),
    ];
    for (name, body, status, code) in cases {
        let response = app.signed("POST", "/ingest/batch", &body).await;
        assert_eq!(response.status().as_u16(), status, "{name}");
        let error: serde_json::Value = response.json().await.unwrap();
        assert_eq!(error["error"], code, "{name}");
    }
    assert_eq!(app.ingest_row_counts().await, [0; 6]);
    // The id was never claimed: the corrected batch still applies.
    assert!(app.ingest_ok(&batch("s:1", vec![good()])).await);
}

#[tokio::test]
async fn each_invalid_row_is_kept_aside_with_its_code_while_the_rest_of_its_batch_lands() {
    let app = spawn_app().await;
    let good = || delta("rocket", DAY, 0, "direct", "view", 1);
    let bad = |change: &dyn Fn(&mut launch_edge_proto::batch::CounterDelta)| {
        let mut bad = good();
        change(&mut bad);
        bad
    };
    let cases: Vec<(&str, launch_edge_proto::batch::CounterDelta)> = vec![
        ("invalid_day", bad(&|d| d.day = "2026-12-1".into())),
        ("invalid_day", bad(&|d| d.day = "2026-02-30".into())),
        ("invalid_day", bad(&|d| d.day = "2026-12-01T00".into())),
        ("negative_value", bad(&|d| d.value = -1)),
        ("value_too_large", bad(&|d| d.value = i64::MAX)),
        ("minute_not_aligned", bad(&|d| d.minute += 30)),
        ("invalid_launch", bad(&|d| d.launch = "Bad_Slug".into())),
        ("invalid_source", bad(&|d| d.source = String::new())),
        ("invalid_metric", bad(&|d| d.metric = "DROP TABLE".into())),
        ("invalid_medium", bad(&|d| d.medium = "e\nmail".into())),
        ("invalid_campaign", bad(&|d| d.campaign = "c".repeat(201))),
    ];
    let mut counters = vec![good()];
    counters.extend(cases.iter().map(|(_, d)| d.clone()));
    let mut mixed = batch("s:1", counters);
    mixed.uniques.push(launch_edge_proto::batch::UniquesSketch {
        launch: "rocket".into(),
        day: DAY.into(),
        sketch: "AQ4B".into(),
    });
    mixed.uniques.push(launch_edge_proto::batch::UniquesSketch {
        launch: "rocket".into(),
        day: DAY.into(),
        sketch: "!!not base64!!".into(),
    });
    let response = app.ingest(&mixed).await;
    assert_eq!(response.status(), 200);
    let ack: launch_edge_proto::batch::IngestAck = response.json().await.unwrap();
    assert!(ack.applied);
    assert_eq!(ack.dead_letters as usize, cases.len() + 2);
    assert_eq!(
        app.day_total("rocket", "view").await,
        1,
        "the good row landed"
    );
    let reasons: Vec<(String, String, i32)> = sqlx::query_as(
        "SELECT kind, reason, ordinal FROM dead_letters WHERE batch_id = 's:1' ORDER BY kind, ordinal",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let mut expected: Vec<(String, String, i32)> = cases
        .iter()
        .enumerate()
        .map(|(i, (code, _))| ("counter".into(), (*code).into(), i as i32 + 1))
        .collect();
    expected.push(("uniques".into(), "malformed_sketch".into(), 0));
    expected.push(("uniques".into(), "malformed_sketch".into(), 1));
    assert_eq!(reasons, expected);
    // A resend of the batch adds no second copy of anything.
    assert!(!app.ingest_ok(&mixed).await);
    let dead: i64 = sqlx::query_scalar("SELECT count(*) FROM dead_letters")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(dead as usize, cases.len() + 2);
    assert_eq!(app.day_total("rocket", "view").await, 1);
}

#[tokio::test]
async fn a_body_over_the_size_limit_is_refused_with_413() {
    let app = spawn_app().await;
    let body = vec![b' '; launch_edge_origin::auth::MAX_SIGNED_BODY_BYTES + 1];
    let response = app.signed("POST", "/ingest/batch", &body).await;
    assert_eq!(response.status(), 413);
    assert_eq!(app.ingest_row_counts().await, [0; 6]);
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

#[tokio::test]
async fn product_hunt_observations_are_stored_once_however_often_they_arrive() {
    use launch_edge_proto::batch::PhPostStat;
    let app = spawn_app().await;
    let stat = |at: i64, votes: i64| PhPostStat {
        launch: "rocket".into(),
        observed_at_ms: at,
        votes,
        comments: votes / 10,
        featured_at_ms: Some(1_764_576_000_000),
    };
    let mut first = batch("task-scheduler:1", vec![]);
    first.ph_stats = vec![stat(1_764_576_060_000, 120), stat(1_764_576_360_000, 260)];
    assert!(app.ingest_ok(&first).await);
    // The same observation in a later batch (a resend after a lost answer) adds nothing.
    let mut second = batch("task-scheduler:2", vec![]);
    second.ph_stats = vec![stat(1_764_576_360_000, 260), stat(1_764_576_660_000, 510)];
    assert!(app.ingest_ok(&second).await);

    let rows: Vec<(i32, i32)> = sqlx::query_as(
        "SELECT votes, comments FROM ph_post_stats WHERE launch = 'rocket' ORDER BY observed_at",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(rows, vec![(120, 12), (260, 26), (510, 51)]);

    let mut bad = batch("task-scheduler:3", vec![]);
    bad.ph_stats = vec![stat(1_764_576_960_000, -1)];
    assert!(app.ingest_ok(&bad).await);
    let reason: String =
        sqlx::query_scalar("SELECT reason FROM dead_letters WHERE kind = 'ph_stat'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(reason, "invalid_ph_stat");
}

#[tokio::test]
async fn batches_arriving_together_share_a_transaction_and_a_row_that_fails_is_set_aside_alone() {
    let app = spawn_app().await;
    // A stored sketch that cannot be read makes its launch's next sketch merge fail inside
    // the transaction (validation passes): that row alone is kept aside, its batch's
    // counters and every other batch of the group land.
    sqlx::query("INSERT INTO visitor_sketches (launch, day, sketch) VALUES ('broken', $1::date, '\\x00'::bytea)")
        .bind(DAY)
        .execute(&app.pool)
        .await
        .unwrap();
    let mut doomed = batch(
        "shard-9:1",
        vec![delta("broken", DAY, 0, "direct", "view", 5)],
    );
    doomed.uniques.push(sketch("broken", DAY, 0..10));
    let mut batches: Vec<IngestBatch> = (0..8u64)
        .map(|i| {
            batch(
                &format!("shard-{i}:1"),
                vec![delta("rocket", DAY, 0, "direct", "view", 1)],
            )
        })
        .collect();
    batches.insert(4, doomed);

    let responses = join_all(batches.iter().map(|b| app.ingest(b))).await;
    let statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(statuses, [200; 9]);
    assert_eq!(app.day_total("rocket", "view").await, 8);
    assert_eq!(
        app.day_total("broken", "view").await,
        5,
        "its counters landed"
    );
    let dead: Vec<(String, String)> =
        sqlx::query_as("SELECT batch_id, reason FROM dead_letters WHERE kind = 'uniques'")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        dead,
        [("shard-9:1".into(), "stored_sketch_unreadable".into())]
    );
    // Each claimed batch records the id of the transaction that applied it.
    let transactions: i64 = sqlx::query_scalar("SELECT count(DISTINCT txid) FROM ingested_batches")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(
        transactions <= 3,
        "9 batches sent together took {transactions} transactions"
    );
}
