//! The origin as stateless replicas: two origins on one Postgres receive the same batches
//! at the same moment (a worker retrying through a load balancer) and Postgres holds
//! each batch once.

use futures_util::future::join_all;
use launch_edge_proto::batch::{IngestAck, IngestBatch, WebhookEventRecord};

use crate::helpers::{batch, delta, sketch, spawn_app_with, spawn_replica, TestApp};

const DAY: &str = "2026-12-01";
const BATCHES: u64 = 24;

/// Sends until the answer is not a 503, like the worker's drain (a deadlock between the
/// replicas' group transactions is a retryable 503, never a lost or doubled batch).
async fn deliver(app: &TestApp, batch: &IngestBatch) -> IngestAck {
    for _ in 0..50 {
        let response = app.ingest(batch).await;
        match response.status().as_u16() {
            200 => return response.json().await.unwrap(),
            503 => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
            other => panic!("{other}: {:?}", response.text().await),
        }
    }
    panic!("batch {} never acknowledged", batch.batch_id);
}

#[tokio::test]
async fn the_same_batches_sent_to_two_origins_at_once_are_held_once() {
    let (first, database) = spawn_app_with(|_| {}).await;
    let second = spawn_replica(&database).await;
    // Every batch touches the same rows as the others (same launch, minute, sources), so
    // the replicas contend on row locks as well as on the batch ids.
    let batches: Vec<IngestBatch> = (0..BATCHES)
        .map(|i| {
            let mut b = batch(
                &format!("rocket/{}:inc:{i}", i % 4),
                vec![
                    delta("rocket", DAY, 0, "producthunt", "view", 1),
                    delta("rocket", DAY, 0, "direct", "click", 2),
                    delta("rocket", DAY, (i % 3) as i64, "producthunt", "signup", 1),
                ],
            );
            b.uniques = vec![sketch("rocket", DAY, i * 100..i * 100 + 100)];
            b.webhook_events = vec![WebhookEventRecord {
                source: "relay".into(),
                event_id: format!("evt-{i}"),
                event_type: "conversion".into(),
                received_at_ms: 1_764_576_000_000,
                payload: serde_json::json!({ "i": i }),
            }];
            b
        })
        .collect();
    let sends = batches
        .iter()
        .flat_map(|b| [deliver(&first, b), deliver(&second, b)]);
    let acks = join_all(sends).await;

    for (b, pair) in batches.iter().zip(acks.chunks(2)) {
        assert!(pair.iter().all(|a| a.batch_id == b.batch_id));
        let applied = pair.iter().filter(|a| a.applied).count();
        assert_eq!(
            applied, 1,
            "batch {} applied by exactly one replica",
            b.batch_id
        );
    }
    let n = BATCHES as i64;
    assert_eq!(first.day_total("rocket", "view").await, n);
    assert_eq!(first.day_total("rocket", "click").await, 2 * n);
    assert_eq!(first.day_total("rocket", "signup").await, n);
    assert_eq!(first.minute_total("rocket", "view").await, n);
    let counts: (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM ingested_batches), (SELECT count(*) FROM webhook_events),
                (SELECT count(*) FROM dead_letters)",
    )
    .fetch_one(&first.pool)
    .await
    .unwrap();
    assert_eq!(counts, (n, n, 0));
    // The merged sketch counts every visitor once (2,400 of them, within the error bound).
    let bytes: Vec<u8> = sqlx::query_scalar("SELECT sketch FROM visitor_sketches")
        .fetch_one(&first.pool)
        .await
        .unwrap();
    let estimate = launch_edge_proto::uniques::estimate_serialized(&bytes).unwrap() as f64;
    assert!((estimate - 2_400.0).abs() < 2_400.0 * 0.05, "{estimate}");
}
