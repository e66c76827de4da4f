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
    assert!(validate(launchless.to_string().as_bytes()).is_err());
}
