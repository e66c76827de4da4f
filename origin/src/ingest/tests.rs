use super::*;

#[test]
fn a_day_must_be_exactly_yyyy_mm_dd_and_a_real_date() {
    assert!(parse_day("2026-03-08").is_ok());
    for bad in [
        "2026-3-08",
        "2026-02-29",
        "26-03-08",
        "2026/03/08",
        "2026-03-08 ",
        "",
    ] {
        assert!(parse_day(bad).is_err(), "{bad}");
    }
}

#[test]
fn deltas_for_the_same_key_are_summed_and_zero_deltas_dropped() {
    let body = serde_json::json!({
        "batch_id": "s:1", "shard": "s",
        "counters": [
            {"launch": "rocket", "day": "2026-12-01", "minute": 1_764_576_000, "source": "d", "metric": "view", "value": 2},
            {"launch": "rocket", "day": "2026-12-01", "minute": 1_764_576_000, "source": "d", "metric": "view", "value": 3},
            {"launch": "rocket", "day": "2026-12-01", "minute": 1_764_576_060, "source": "d", "metric": "view", "value": 0}
        ]
    });
    let batch = validate(body.to_string().as_bytes()).unwrap();
    assert_eq!(batch.rows, 3);
    assert_eq!(batch.minute.values().copied().collect::<Vec<_>>(), [5]);
    assert_eq!(batch.day.values().copied().collect::<Vec<_>>(), [5]);
}

#[test]
fn edge_counters_are_kept_apart_from_launch_metrics_and_may_be_worker_wide() {
    let body = serde_json::json!({
        "batch_id": "s:2", "shard": "s",
        "counters": [
            {"launch": "rocket", "day": "2026-12-01", "minute": 1_764_576_000, "source": "edge", "metric": "edge_cache_hit", "value": 7},
            {"launch": "", "day": "2026-12-01", "minute": 1_764_576_000, "source": "edge", "metric": "edge_task_dead_letter", "value": 1}
        ]
    });
    let batch = validate(body.to_string().as_bytes()).unwrap();
    assert!(batch.minute.is_empty() && batch.day.is_empty());
    let names: Vec<&str> = batch.edge.keys().map(|(_, _, n)| n.as_str()).collect();
    assert_eq!(names, ["task_dead_letter", "cache_hit"]);
    let launchless = serde_json::json!({
        "batch_id": "s:3", "shard": "s",
        "counters": [{"launch": "", "day": "2026-12-01", "minute": 0, "source": "d", "metric": "view", "value": 1}]
    });
    // A launch metric without a launch is one bad row, kept aside; the batch is not refused.
    let batch = validate(launchless.to_string().as_bytes()).unwrap();
    assert!(batch.minute.is_empty());
    assert_eq!(
        batch.rejected().collect::<Vec<_>>(),
        [("counter", "invalid_launch")]
    );
}

#[test]
fn a_bad_row_is_set_aside_with_its_reason_and_the_rest_of_the_batch_stays_valid() {
    let body = serde_json::json!({
        "batch_id": "s:4", "shard": "s",
        "counters": [
            {"launch": "rocket", "day": "2026-12-01", "minute": 1_764_576_000, "source": "d", "metric": "view", "value": 2},
            {"launch": "rocket", "day": "2026-12-1", "minute": 1_764_576_000, "source": "d", "metric": "view", "value": 3},
            {"launch": "rocket", "nonsense": true}
        ],
        "webhook_events": [
            {"source": "relay", "event_id": "e1", "event_type": "conversion", "received_at_ms": 1, "payload": {"note": "a\u{0}b"}},
            {"source": "relay", "event_id": "e2", "event_type": "conversion", "received_at_ms": 1, "payload": {"a\u{0}": 1}},
            {"source": "relay", "event_id": "e3", "event_type": "conversion", "received_at_ms": 1, "payload": {"ok": "\\u0000 is text here"}}
        ]
    });
    let batch = validate(body.to_string().as_bytes()).unwrap();
    assert_eq!(batch.rows, 6);
    assert_eq!(batch.minute.values().copied().collect::<Vec<_>>(), [2]);
    assert_eq!(
        batch.events.len(),
        1,
        "only the event without a NUL is kept"
    );
    assert_eq!(
        batch.rejected().collect::<Vec<_>>(),
        [
            ("counter", "invalid_day"),
            ("counter", "malformed_row"),
            ("webhook_event", "payload_contains_nul"),
            ("webhook_event", "payload_contains_nul"),
        ]
    );
}

#[test]
fn only_what_makes_a_batch_unreadable_refuses_it_whole() {
    for (body, code) in [
        (br#"{"batch_id": "#.to_vec(), "malformed_json"),
        (br#"{"batch_id": "s:1"}"#.to_vec(), "malformed_json"),
        (
            br#"{"batch_id": "", "shard": "s"}"#.to_vec(),
            "invalid_batch_id",
        ),
        (
            br#"{"batch_id": "s:1", "shard": ""}"#.to_vec(),
            "invalid_shard",
        ),
    ] {
        match validate(&body) {
            Err(AppError::BadRequest(c)) => assert_eq!(c, code),
            other => panic!("{code}: {other:?}"),
        }
    }
    let huge = vec![b' '; launch_edge_proto::batch::MAX_BATCH_BYTES + 1];
    assert!(matches!(validate(&huge), Err(AppError::BatchTooLarge)));
}
