//! Exactly once: N events count N, through batches, lost acks, resends and restarts.

use std::collections::BTreeMap;

use super::*;

#[test]
fn n_events_count_exactly_n_in_totals_and_at_the_origin() {
    let mut state = shard();
    let mut origin = FakeOrigin::default();
    for i in 0..10_000i64 {
        state
            .apply(&view(NOON_MS + i * 1_000, "producthunt", Some(i as u64)))
            .unwrap();
    }
    assert_eq!(
        state.totals("acme", "2026-06-15").counts["view"]["producthunt"],
        10_000
    );
    drain(&mut state, &mut origin, 50);
    assert_eq!(origin.sum("2026-06-15", "view"), 10_000);
    assert!(!state.has_unflushed());
    // Totals survive flushing: the live stats still show the whole day.
    assert_eq!(
        state.totals("acme", "2026-06-15").stats().unwrap().views,
        10_000
    );
}

#[test]
fn an_unacked_batch_is_resent_identically() {
    let mut state = shard();
    for i in 0..5 {
        state
            .apply(&view(NOON_MS + i, "direct", Some(i as u64)))
            .unwrap();
    }
    let first = state.take_batch(100).unwrap();
    assert_eq!(first.batch.batch_id, "acme/0:1");
    assert_eq!(first.batch.shard, "acme/0");
    assert!(!first.ops.is_empty());
    let again = state.take_batch(100).unwrap();
    assert_eq!(again.batch, first.batch);
    assert!(again.ops.is_empty(), "a resend persists nothing new");
    assert_eq!(
        serde_json::to_string(&again.batch).unwrap(),
        serde_json::to_string(&first.batch).unwrap()
    );
}

#[test]
fn events_during_an_in_flight_batch_go_to_the_next_one() {
    let mut state = shard();
    let mut origin = FakeOrigin::default();
    state.apply(&view(NOON_MS, "direct", None)).unwrap();
    let first = state.take_batch(100).unwrap().batch;
    state.apply(&view(NOON_MS, "direct", None)).unwrap();
    state.apply(&view(NOON_MS, "direct", None)).unwrap();
    // The same key gained two views, yet the in-flight batch is unchanged.
    assert_eq!(state.take_batch(100).unwrap().batch, first);
    assert_eq!(first.counters[0].value, 1);
    // The answer to the first POST is lost; the retry is a duplicate at the origin.
    assert!(origin.ingest(&first));
    assert!(!origin.ingest(&state.take_batch(100).unwrap().batch));
    state.ack(&first.batch_id).unwrap();
    let second = state.take_batch(100).unwrap().batch;
    assert_eq!(second.batch_id, "acme/0:2");
    assert_eq!(second.counters[0].value, 2);
    origin.ingest(&second);
    state.ack(&second.batch_id).unwrap();
    assert_eq!(origin.sum("2026-06-15", "view"), 3);
    assert!(state.take_batch(100).is_none());
}

#[test]
fn a_stale_or_foreign_ack_changes_nothing() {
    let mut state = shard();
    assert!(state.ack("acme/0:1").is_none());
    state.apply(&view(NOON_MS, "direct", None)).unwrap();
    let batch = state.take_batch(100).unwrap().batch;
    assert!(state.ack("acme/0:0").is_none());
    assert!(state.ack("other/0:1").is_none());
    assert_eq!(state.in_flight_id(), Some("acme/0:1"));
    assert_eq!(state.ack(&batch.batch_id).unwrap().len(), 1);
    assert!(
        state.ack(&batch.batch_id).is_none(),
        "a second ack is stale"
    );
}

#[test]
fn max_rows_splits_a_drain_into_several_batches() {
    let mut state = shard();
    for i in 0..10 {
        state
            .apply(&view(NOON_MS + i * 60_000, "direct", None))
            .unwrap();
    }
    let mut sizes = Vec::new();
    while let Some(out) = state.take_batch(4) {
        sizes.push(out.batch.counters.len());
        state.ack(&out.batch.batch_id).unwrap();
    }
    assert_eq!(sizes, vec![4, 4, 2]);
}

#[test]
fn random_interleavings_of_events_flushes_and_lost_acks_stay_exact() {
    let mut seed = 42;
    let mut state = shard();
    let mut origin = FakeOrigin::default();
    let mut expected = BTreeMap::<&str, i64>::new();
    for step in 0..20_000i64 {
        match random(&mut seed) % 10 {
            0 => {
                if let Some(out) = state.take_batch(1 + (random(&mut seed) % 20) as usize) {
                    origin.ingest(&out.batch);
                    // One answer in three is lost: the batch must be sent again.
                    if !random(&mut seed).is_multiple_of(3) {
                        state.ack(&out.batch.batch_id).unwrap();
                    }
                }
            }
            1 => {
                state
                    .apply(&purchase(NOON_MS + step * 7_000, 4900))
                    .unwrap();
                *expected.entry("purchase").or_default() += 1;
                *expected.entry("revenue_cents").or_default() += 4900;
            }
            _ => {
                let hash = random(&mut seed);
                let source = ["producthunt", "direct", "twitter.com"][(hash % 3) as usize];
                state
                    .apply(&view(NOON_MS + step * 7_000, source, Some(hash)))
                    .unwrap();
                *expected.entry("view").or_default() += 1;
            }
        }
    }
    drain(&mut state, &mut origin, 100);
    for (metric, value) in expected {
        let counted: i64 = origin
            .sums
            .iter()
            .filter(|((_, m), _)| m == metric)
            .map(|(_, v)| v)
            .sum();
        assert_eq!(counted, value, "{metric}");
    }
}

#[test]
fn a_restored_shard_resumes_exactly_where_it_stopped() {
    let mut state = shard();
    let mut store = FakeStore::default();
    for i in 0..300u64 {
        let ops = state
            .apply(&view(NOON_MS + i as i64 * 1_000, "direct", Some(i)))
            .unwrap();
        store.run(&ops);
    }
    store.run(&state.apply(&purchase(NOON_MS, 1200)).unwrap());
    let in_flight = state.take_batch(5).unwrap();
    store.run(&in_flight.ops);
    for i in 0..10u64 {
        store.run(&state.apply(&view(NOON_MS, "hn", Some(1_000 + i))).unwrap());
    }

    let mut restored = CounterState::restore("acme/0", Limits::default(), store.stored()).unwrap();
    assert_eq!(restored, state);
    assert_eq!(restored.take_batch(5).unwrap().batch, in_flight.batch);
    store.run(&restored.ack(&in_flight.batch.batch_id).unwrap());
    let next = restored.take_batch(5).unwrap();
    assert_eq!(next.batch.batch_id, "acme/0:2");
    store.run(&next.ops);
    let again = CounterState::restore("acme/0", Limits::default(), store.stored()).unwrap();
    assert_eq!(again, restored);
}

#[test]
fn restoring_rejects_corrupt_rows() {
    let bad_seq = StoredShard {
        next_seq: Some(0),
        ..StoredShard::default()
    };
    assert_eq!(
        CounterState::restore("s", Limits::default(), bad_seq),
        Err(RestoreError::BadSequence)
    );
    let bad_register = StoredShard {
        registers: vec![("acme".into(), "2026-06-15".into(), 16_384, 1)],
        ..StoredShard::default()
    };
    assert_eq!(
        CounterState::restore("s", Limits::default(), bad_register),
        Err(RestoreError::BadRegister)
    );
    let bad_batch = StoredShard {
        batches: vec!["{".into()],
        ..StoredShard::default()
    };
    assert!(matches!(
        CounterState::restore("s", Limits::default(), bad_batch),
        Err(RestoreError::BadBatch(_))
    ));
}

#[test]
fn invalid_events_are_refused_and_change_nothing() {
    let mut state = shard();
    let before = state.clone();
    let revenue_on_a_view = CountedEvent {
        revenue_cents: 5,
        ..view(NOON_MS, "direct", None)
    };
    assert_eq!(state.apply(&revenue_on_a_view), Err(CountError::BadRevenue));
    assert_eq!(
        state.apply(&purchase(NOON_MS, MAX_EVENT_REVENUE_CENTS + 1)),
        Err(CountError::BadRevenue)
    );
    let no_launch = CountedEvent {
        launch: String::new(),
        ..view(NOON_MS, "direct", None)
    };
    assert_eq!(state.apply(&no_launch), Err(CountError::MissingLaunch));
    assert_eq!(state, before);
}

#[test]
fn every_storage_op_binds_as_many_parameters_as_its_sql_expects() {
    let mut state = shard();
    let mut ops = state.apply(&purchase(NOON_MS, 10)).unwrap();
    let out = state.take_batch(10).unwrap();
    ops.extend(out.ops);
    ops.extend(state.ack(&out.batch.batch_id).unwrap());
    ops.push(StorageOp::ForgetDay {
        launch: "acme".into(),
        day: "2026-06-14".into(),
    });
    let batch: Vec<CountedEvent> = (0..50)
        .map(|i| view(NOON_MS, "direct", Some(mix(i))))
        .collect();
    let merged = state.apply_all(&batch).unwrap();
    assert!(merged
        .iter()
        .any(|op| matches!(op, StorageOp::RaiseRegisters { ranks, .. } if ranks.len() > 1)));
    ops.extend(merged);
    for op in &ops {
        for (sql, params) in op.statements() {
            assert_eq!(sql.matches('?').count(), params.len(), "{sql}");
        }
    }
    // Run on every start: tables only if missing, and the one-off move of the old
    // pending rows (which leaves their table empty, so it moves nothing afterwards).
    for sql in storage::SCHEMA {
        assert!(!sql.contains('?'), "{sql}");
        assert!(
            sql.starts_with("CREATE TABLE IF NOT EXISTS")
                || sql.starts_with("INSERT INTO counter_pending_v2")
                    && sql.contains("FROM counter_pending WHERE")
                || *sql == "DELETE FROM counter_pending",
            "{sql}"
        );
    }
}

#[test]
fn a_batch_counts_like_its_events_one_by_one_with_each_row_written_once() {
    let events: Vec<CountedEvent> = (0..200u64)
        .map(|i| match i % 10 {
            0 => purchase(NOON_MS + i as i64 * 500, 250),
            _ => view(
                NOON_MS + i as i64 * 500,
                ["direct", "hn"][i as usize % 2],
                Some(mix(i % 40)),
            ),
        })
        .collect();
    let (mut one_by_one, mut separate) = (shard(), FakeStore::default());
    let mut separate_ops = 0;
    for event in &events {
        let ops = one_by_one.apply(event).unwrap();
        separate_ops += ops.len();
        separate.run(&ops);
    }
    let (mut batched, mut together) = (shard(), FakeStore::default());
    let ops = batched.apply_all(&events).unwrap();
    together.run(&ops);

    assert_eq!(batched, one_by_one);
    assert_eq!(together.stored(), separate.stored());
    assert!(
        ops.len() * 4 < separate_ops,
        "{} ops vs {separate_ops}",
        ops.len()
    );
    let restored = CounterState::restore("acme/0", Limits::default(), together.stored()).unwrap();
    assert_eq!(restored, batched);
}

#[test]
fn a_batch_with_one_invalid_event_is_refused_whole() {
    let mut state = shard();
    let before = state.clone();
    let bad = CountedEvent {
        revenue_cents: 5,
        ..view(NOON_MS, "direct", None)
    };
    let events = vec![
        view(NOON_MS, "direct", Some(1)),
        bad,
        purchase(NOON_MS, 100),
    ];
    assert_eq!(state.apply_all(&events), Err((1, CountError::BadRevenue)));
    assert_eq!(state, before);
}
