use super::*;

fn close(actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() < 1e-6 * expected.abs().max(1.0),
        "{actual} ≠ {expected}"
    );
}

/// Round figures, so every expected value below is worked out by hand.
const ROUND: Measured = Measured {
    cpu_ms_view: 5.0,
    cpu_ms_click: 6.0,
    cpu_ms_beacon: 7.0,
    view_events_per_call: 100.0,
    acked_events_per_call: 5.0,
    shard_cpu_ms_per_event: 0.5,
    origin_batches_per_second: 800.0,
    origin_rows_per_second: 80_000.0,
    rows_per_batch: 20.0,
    batch_overhead_seconds: 0.1,
    batch_row_seconds: 0.000_01,
};

fn round_model(requests_per_second: f64, launches: u32) -> Row {
    let scenario = Scenario {
        requests_per_second,
        launches,
    };
    model(scenario, &SPIKE_MIX, &ROUND, &PLATFORM, &PRICES)
}

#[test]
fn the_spike_mix_takes_one_shard_call_per_view_batch_and_per_acknowledged_batch() {
    // 0.85 / 100 + 0.15 / 5 = 0.0085 + 0.03
    close(shard_calls_per_event(&ROUND, &SPIKE_MIX), 0.0385);
}

#[test]
fn events_per_call_beyond_the_workers_batch_limit_are_capped_at_it() {
    let mut measured = ROUND;
    measured.view_events_per_call = 10_000.0;
    let views = Mix {
        view: 1.0,
        click: 0.0,
        beacon: 0.0,
    };
    close(
        shard_calls_per_event(&measured, &views),
        1.0 / MAX_BATCH_EVENTS as f64,
    );
}

#[test]
fn a_shard_is_bounded_by_its_cpu_when_calls_carry_many_events() {
    // by calls: 1000 / 0.0385 = 25,974 events/s; by CPU: 1000 / 0.5 = 2,000.
    close(
        shard_events_per_second(&ROUND, &SPIKE_MIX, &PLATFORM),
        2_000.0,
    );
}

#[test]
fn a_shard_is_bounded_by_the_objects_request_rate_when_calls_carry_few_events() {
    let mut measured = ROUND;
    measured.shard_cpu_ms_per_event = 0.001; // 1,000,000 events/s by CPU
    let clicks = Mix {
        view: 0.0,
        click: 1.0,
        beacon: 0.0,
    };
    // 1,000 calls/s × 5 events per call.
    close(
        shard_events_per_second(&measured, &clicks, &PLATFORM),
        5_000.0,
    );
}

#[test]
fn ten_thousand_requests_a_second_fit_in_the_default_eight_shards() {
    let row = round_model(10_000.0, 1);
    assert_eq!(row.counter_shards_needed, 5); // 10,000 / 2,000
    assert_eq!(row.active_shards, DEFAULT_COUNTER_SHARDS);
    // 10,000 × 0.0385 shard calls + 8 shards / 2 s of drain alarms.
    close(row.object_requests_per_second, 385.0 + 4.0);
    assert_eq!(row.origin_replicas, 1);
    // 8 batches a tick, one group commit, one tick every 2 s.
    close(row.postgres_transactions_per_second, 0.5);
}

#[test]
fn a_hundred_thousand_requests_a_second_need_fifty_shards_and_still_one_transaction_a_tick() {
    let row = round_model(100_000.0, 1);
    assert_eq!(row.counter_shards_needed, 50);
    assert_eq!(row.active_shards, 50);
    close(row.object_requests_per_second, 3_850.0 + 25.0);
    assert_eq!(row.origin_replicas, 1);
    close(row.postgres_transactions_per_second, 0.5);
}

#[test]
fn a_hundred_launches_drain_eight_hundred_shards_in_thirteen_group_commits_a_tick() {
    let row = round_model(1_000.0, 100);
    assert_eq!(row.counter_shards_needed, 1);
    assert_eq!(row.active_shards, 800);
    // 400 batches/s ÷ 800 + 8,000 rows/s ÷ 80,000 = 0.6 of a replica.
    assert_eq!(row.origin_replicas, 1);
    // ⌈800 / 64⌉ = 13 groups every 2 s.
    close(row.postgres_transactions_per_second, 6.5);
}

#[test]
fn origin_replicas_grow_with_the_batches_and_each_commits_its_own_groups() {
    let mut measured = ROUND;
    measured.origin_batches_per_second = 100.0;
    let scenario = Scenario {
        requests_per_second: 1_000.0,
        launches: 100,
    };
    let row = model(scenario, &SPIKE_MIX, &measured, &PLATFORM, &PRICES);
    // 400 / 100 + 8,000 / 80,000 = 4.1 → 5 replicas, 160 batches a tick each → 3 groups.
    assert_eq!(row.origin_replicas, 5);
    close(row.postgres_transactions_per_second, 5.0 * 3.0 / 2.0);
}

#[test]
fn the_cost_per_million_events_adds_up_each_price_times_its_use() {
    let row = round_model(10_000.0, 1);
    let cost = row.cost_per_million_events;
    close(cost.worker_requests, 0.30);
    // (0.85 × 5 + 0.10 × 6 + 0.05 × 7) ms = 5.2 ms per request × $0.02 per million ms.
    close(cost.worker_cpu, 5.2 * 0.02);
    // 389 object requests/s for 10,000 events/s = 38,900 per million events × $0.15/M.
    close(cost.object_requests, 38_900.0 * 0.15 / 1e6);
    // 8 shards × 0.128 GB for the 100 s a million events take = 102.4 GB-s × $12.50/M.
    close(cost.object_duration, 102.4 * 12.5 / 1e6);
    // 1,000/60 reads/s for 100 s = 1,666.7 reads × $0.50/M.
    close(cost.kv_reads, 1_000.0 / 60.0 * 100.0 * 0.5 / 1e6);
    close(
        cost.total(),
        0.30 + 0.104 + 0.005_835 + 0.001_28 + 1_000.0 / 60.0 * 100.0 * 0.5 / 1e6,
    );
}

#[test]
fn the_workers_share_of_the_cost_per_event_does_not_change_with_the_rate() {
    let slow = round_model(10_000.0, 1).cost_per_million_events;
    let fast = round_model(100_000.0, 1).cost_per_million_events;
    close(slow.worker_requests, fast.worker_requests);
    close(slow.worker_cpu, fast.worker_cpu);
    // Fixed per-shard costs (alarms, duration) spread over more events get cheaper.
    assert!(fast.object_duration <= slow.object_duration * 1.000_001);
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

#[test]
fn the_default_shard_count_is_the_one_wrangler_toml_sets() {
    let wrangler = include_str!("../../../wrangler.toml");
    let line = format!("COUNTER_SHARDS = \"{DEFAULT_COUNTER_SHARDS}\"");
    assert!(
        wrangler.lines().any(|l| l.trim() == line),
        "wrangler.toml has no line {line}"
    );
}

#[test]
fn the_group_commit_limit_is_the_one_the_origin_applies() {
    let writer = include_str!("../../../origin/src/ingest/writer.rs");
    let line = format!("pub const MAX_GROUP: usize = {ORIGIN_MAX_GROUP};");
    assert!(
        writer.lines().any(|l| l.trim() == line),
        "origin/src/ingest/writer.rs has no line {line}"
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
    assert!(table.lines().nth(3).unwrap().starts_with("| 10000 × 1 |"));
}
