use super::*;

fn close(actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() < 1e-6 * expected.abs().max(1.0),
        "{actual} ≠ {expected}"
    );
}

/// Round figures, so every expected value below is worked out by hand.
const ROUND: Measured = Measured {
    view_cpu_ms: 3.0,
    shard_call_cpu_ms: 4.0, // 250 calls/s by CPU, below the object's 1,000
    cpu_ms_click: 6.0,
    cpu_ms_beacon: 7.0,
    acked_events_per_call: 5.0,
    origin_batches_per_second: 800.0,
    origin_rows_per_second: 80_000.0,
    rows_per_batch: 20.0,
    batch_overhead_seconds: 0.1,
    batch_row_seconds: 0.000_01,
};

fn round_model(requests_per_second: f64, launches: u32, isolates: u32) -> Row {
    let scenario = Scenario {
        requests_per_second,
        launches,
        isolates,
    };
    model(scenario, &SPIKE_MIX, &ROUND, &PLATFORM, &PRICES)
}

#[test]
fn a_view_call_carries_the_views_of_one_window_at_least_one_and_at_most_a_batch() {
    close(view_events_per_call(100.0), 50.0);
    close(view_events_per_call(1.0), 1.0);
    close(view_events_per_call(10_000.0), MAX_BATCH_EVENTS as f64);
}

#[test]
fn the_spike_mix_takes_one_shard_call_per_view_batch_and_per_acknowledged_batch() {
    // 0.85 / 50 + 0.15 / 5 = 0.017 + 0.03
    close(shard_calls_per_event(&ROUND, &SPIKE_MIX, 50.0), 0.047);
}

#[test]
fn a_shard_takes_the_calls_its_cpu_allows_when_they_cost_more_than_a_millisecond() {
    // 1000 / 4 = 250 calls/s, each 1 / 0.047 events.
    close(
        shard_events_per_second(&ROUND, &SPIKE_MIX, &PLATFORM, 50.0),
        250.0 / 0.047,
    );
}

#[test]
fn a_shard_takes_the_objects_thousand_requests_a_second_when_calls_are_cheap() {
    let mut measured = ROUND;
    measured.shard_call_cpu_ms = 0.1; // 10,000 calls/s by CPU
    close(
        shard_events_per_second(&measured, &SPIKE_MIX, &PLATFORM, 50.0),
        1_000.0 / 0.047,
    );
}

#[test]
fn ten_thousand_requests_a_second_over_a_hundred_isolates_fit_in_the_default_eight_shards() {
    let row = round_model(10_000.0, 1, 100);
    // 85 views/s per isolate → 42.5 a call; 0.85 / 42.5 + 0.03 = 0.05 calls per event.
    close(row.view_events_per_call, 42.5);
    close(row.shard_events_per_second, 250.0 / 0.05);
    assert_eq!(row.counter_shards_needed, 2);
    assert_eq!(row.active_shards, DEFAULT_COUNTER_SHARDS);
    // 500 shard calls + 8 shards / 1.5 s of drain alarms.
    close(row.object_requests_per_second, 500.0 + 8.0 / 1.5);
    assert_eq!(row.origin_replicas, 1);
    // 8 batches a tick, one group commit, one tick every 1.5 s.
    close(row.postgres_transactions_per_second, 1.0 / 1.5);
}

#[test]
fn a_hundred_thousand_requests_a_second_need_twenty_shards_and_still_one_transaction_a_tick() {
    let row = round_model(100_000.0, 1, 1_000);
    assert_eq!(row.counter_shards_needed, 20);
    assert_eq!(row.active_shards, 20);
    close(row.object_requests_per_second, 5_000.0 + 20.0 / 1.5);
    assert_eq!(row.origin_replicas, 1);
    close(row.postgres_transactions_per_second, 1.0 / 1.5);
}

#[test]
fn views_alone_in_their_isolates_cost_a_shard_call_each_and_many_more_shards() {
    let row = round_model(10_000.0, 1, 10_000);
    close(row.view_events_per_call, 1.0);
    // 0.85 + 0.03 calls per event; 250 / 0.88 = 284 events/s a shard → 36 shards.
    assert_eq!(row.counter_shards_needed, 36);
    close(row.object_requests_per_second, 8_800.0 + 36.0 / 1.5);
}

#[test]
fn a_hundred_launches_drain_eight_hundred_shards_in_thirteen_group_commits_a_tick() {
    let row = round_model(1_000.0, 100, 10);
    assert_eq!(row.counter_shards_needed, 1);
    assert_eq!(row.active_shards, 800);
    // 533 batches/s ÷ 800 + 8,000 rows/s ÷ 80,000 = 0.77 of a replica.
    assert_eq!(row.origin_replicas, 1);
    // ⌈800 / 64⌉ = 13 groups every 1.5 s.
    close(row.postgres_transactions_per_second, 13.0 / 1.5);
}

#[test]
fn origin_replicas_grow_with_the_batches_and_each_commits_its_own_groups() {
    let mut measured = ROUND;
    measured.origin_batches_per_second = 100.0;
    let scenario = Scenario {
        requests_per_second: 1_000.0,
        launches: 100,
        isolates: 10,
    };
    let row = model(scenario, &SPIKE_MIX, &measured, &PLATFORM, &PRICES);
    // 800 shards / 1.5 s = 533 batches/s; 533 / 100 + 8,000 / 80,000 = 5.4 → 6 replicas,
    // 133 batches a tick each → 3 groups.
    assert_eq!(row.origin_replicas, 6);
    close(row.postgres_transactions_per_second, 6.0 * 3.0 / 1.5);
}

#[test]
fn the_cost_per_million_events_adds_up_each_price_times_its_use() {
    let row = round_model(10_000.0, 1, 100);
    let cost = row.cost_per_million_events;
    close(cost.worker_requests, 0.30);
    // views 3 + 4 / 42.5 ms; 0.85 × that + 0.10 × 6 + 0.05 × 7 = 3.58 ms × $0.02 per million ms.
    close(row.cpu_ms_per_request, 3.58);
    close(cost.worker_cpu, 3.58 * 0.02);
    // 500 + 8 / 1.5 object requests/s for 10,000 events/s, × 100 s per million events × $0.15/M.
    let object_requests = (500.0 + 8.0 / 1.5) * 100.0 * 0.15 / 1e6;
    close(cost.object_requests, object_requests);
    // 8 shards × 0.128 GB for the 100 s a million events take = 102.4 GB-s × $12.50/M.
    close(cost.object_duration, 102.4 * 12.5 / 1e6);
    // 1,000/60 reads/s for 100 s = 1,666.7 reads × $0.50/M.
    let kv = 1_000.0 / 60.0 * 100.0 * 0.5 / 1e6;
    close(cost.kv_reads, kv);
    close(cost.total(), 0.30 + 0.0716 + object_requests + 0.00128 + kv);
}

#[test]
fn the_cost_per_event_stays_flat_when_the_rate_grows_tenfold_with_the_isolates() {
    let slow = round_model(10_000.0, 1, 100).cost_per_million_events;
    let fast = round_model(100_000.0, 1, 1_000).cost_per_million_events;
    close(slow.worker_requests, fast.worker_requests);
    close(slow.worker_cpu, fast.worker_cpu);
    // Fixed per-shard costs (alarms, duration) spread over more events get cheaper.
    assert!(fast.object_requests <= slow.object_requests);
    assert!(fast.total() <= slow.total());
}

#[test]
fn the_model_reproduces_the_measured_active_launches_rows_within_half_again() {
    for (total, launches, per_call, cpu) in MEASURED_LAUNCH_ROWS {
        let scenario = Scenario {
            requests_per_second: total / f64::from(launches),
            launches,
            isolates: 1,
        };
        let row = model(scenario, &VIEWS_ONLY, &MEASURED, &PLATFORM, &PRICES);
        let calls = row.view_events_per_call / per_call;
        assert!(
            (1.0 / 1.5..=1.5).contains(&calls),
            "{launches} launches: {} views a call, measured {per_call}",
            row.view_events_per_call
        );
        let cpu_ratio = row.cpu_ms_per_request / cpu;
        assert!(
            (1.0 / 1.5..=1.5).contains(&cpu_ratio),
            "{launches} launches: {} CPU ms, measured {cpu}",
            row.cpu_ms_per_request
        );
    }
}

#[test]
fn one_shard_drains_a_backlog_in_full_batches_one_after_another() {
    // 100,000 rows: 20 batches × 0.1 s + 100,000 × 0.01 ms.
    close(drain_seconds(100_000, 1, &ROUND), 2.0 + 1.0);
    // 1,000 rows: one batch.
    close(drain_seconds(1_000, 1, &ROUND), 0.1 + 0.01);
}

#[test]
fn many_shards_drain_a_backlog_as_fast_as_one_replica_takes_rows() {
    // 8 shards of 12,500 rows: 3 batches each (0.3 + 0.125 s), but the replica takes
    // 80,000 rows/s: 100,000 rows need 1.25 s.
    close(drain_seconds(100_000, 8, &ROUND), 1.25);
}

#[test]
fn drain_time_grows_linearly_with_the_backlog_once_batches_are_full() {
    let ten = drain_seconds(10_000, 1, &ROUND);
    let hundred = drain_seconds(100_000, 1, &ROUND);
    close(hundred, 10.0 * ten);
}

/// Fails unless `source` (the file at `path`) has a line that reads exactly `line`,
/// leading and trailing blanks aside: a mirrored constant still matches its original.
fn assert_has_line(source: &str, path: &str, line: &str) {
    assert!(
        source.lines().any(|l| l.trim() == line),
        "{path} has no line {line}"
    );
}

#[test]
fn the_default_shard_count_is_the_one_wrangler_toml_sets() {
    assert_has_line(
        include_str!("../../../wrangler.toml"),
        "wrangler.toml",
        &format!("COUNTER_SHARDS = \"{DEFAULT_COUNTER_SHARDS}\""),
    );
}

#[test]
fn the_view_window_is_the_one_the_isolates_batcher_waits() {
    assert_has_line(
        include_str!("../../../src/isolate/batcher.rs"),
        "src/isolate/batcher.rs",
        &format!("pub const VIEW_WINDOW: Duration = Duration::from_millis({VIEW_WINDOW_MS});"),
    );
}

#[test]
fn the_group_commit_limit_is_the_one_the_origin_applies() {
    assert_has_line(
        include_str!("../../../origin/src/ingest/writer.rs"),
        "origin/src/ingest/writer.rs",
        &format!("pub const MAX_GROUP: usize = {ORIGIN_MAX_GROUP};"),
    );
}

#[test]
fn the_table_has_a_header_and_one_line_per_scenario() {
    let rows: Vec<Row> = SCENARIOS
        .iter()
        .map(|s| model(*s, &SPIKE_MIX, &MEASURED, &PLATFORM, &PRICES))
        .collect();
    let table = table(&rows);
    assert_eq!(table.lines().count(), 2 + SCENARIOS.len());
    assert!(table
        .lines()
        .nth(3)
        .unwrap()
        .starts_with("| 10000 × 1 (100) |"));
}
