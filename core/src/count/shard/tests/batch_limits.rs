//! The drain's batches: within the origin's limits whatever the backlog, named so a wiped
//! or second shard never reuses an id, and a set-aside batch drains again exactly once.

use launch_edge_proto::batch::{IngestBatch, UniquesSketch, MAX_BATCH_BYTES, MAX_BATCH_ROWS};
use launch_edge_proto::uniques::VisitorSketch;

use super::*;

fn within_limits(batch: &IngestBatch) -> bool {
    batch.within_limits(serde_json::to_vec(batch).unwrap().len())
}

/// Two hours of an origin outage: every minute, `sources` sources, `launches` launches
/// (each with its own visitors, so each has a changed sketch).
fn outage(state: &mut CounterState, launches: usize, sources: usize) -> i64 {
    let mut events = 0;
    for minute in 0..120i64 {
        for s in 0..sources {
            for l in 0..launches {
                let mut event = view(
                    NOON_MS + minute * 60_000,
                    &format!("site{s}.example"),
                    Some(mix((minute as u64) << 20 | (s as u64) << 8 | l as u64)),
                );
                event.launch = format!("launch-{l}");
                state.apply(&event).unwrap();
                events += 1;
            }
        }
    }
    events
}

#[test]
fn a_backlog_with_changed_sketches_is_cut_into_batches_the_origin_accepts() {
    let mut state = shard();
    let events = outage(&mut state, 3, 45);
    assert!(
        state.pending_rows() > MAX_BATCH_ROWS,
        "a backlog larger than one batch"
    );
    let mut origin = FakeOrigin::default();
    let mut batches = 0;
    while let Some(out) = state.take_batch(MAX_BATCH_ROWS) {
        assert!(
            within_limits(&out.batch),
            "batch {} has {} rows (counters {}, sketches {})",
            out.batch.batch_id,
            out.batch.rows(),
            out.batch.counters.len(),
            out.batch.uniques.len()
        );
        assert!(origin.ingest(&out.batch));
        state.ack(&out.batch.batch_id).unwrap();
        batches += 1;
    }
    assert!(batches >= 3);
    assert_eq!(origin.sum("2026-06-15", "view"), events);
    assert!(!state.has_unflushed());
}

#[test]
fn sketches_too_large_for_one_batch_are_spread_over_several_by_their_bytes() {
    let mut dense = VisitorSketch::new();
    for i in 0..100_000 {
        dense.insert_hash(mix(i));
    }
    let encoded = dense.to_base64();
    let launches = MAX_BATCH_BYTES / encoded.len() + 20;
    let set_aside = IngestBatch {
        batch_id: "acme/0:1".into(),
        shard: "acme/0".into(),
        counters: Vec::new(),
        uniques: (0..launches)
            .map(|l| UniquesSketch {
                launch: format!("launch-{l}"),
                day: "2026-06-15".into(),
                sketch: encoded.clone(),
            })
            .collect(),
        webhook_events: Vec::new(),
        ph_stats: Vec::new(),
        telemetry: Default::default(),
    };
    let mut state = shard();
    state.requeue(&set_aside);
    let mut sent = 0;
    while let Some(out) = state.take_batch(MAX_BATCH_ROWS) {
        assert!(
            within_limits(&out.batch),
            "{} sketches",
            out.batch.uniques.len()
        );
        assert!(!out.batch.uniques.is_empty());
        sent += out.batch.uniques.len();
        state.ack(&out.batch.batch_id).unwrap();
    }
    assert_eq!(sent, launches);
}

#[test]
fn a_set_aside_batch_requeued_drains_once_and_leaves_the_live_totals_alone() {
    let mut state = shard();
    let mut store = FakeStore::default();
    for i in 0..30 {
        let ops = state.apply(&view(NOON_MS + i * 1_000, "direct", Some(mix(i as u64))));
        store.run(&ops.unwrap());
    }
    let refused = state.take_batch(MAX_BATCH_ROWS).unwrap();
    store.run(&refused.ops);
    // The glue set the refused batch aside and forgot it as in flight.
    store.run(&state.ack(&refused.batch.batch_id).unwrap());
    assert!(!state.has_unflushed());
    let totals_before = state.totals("acme", "2026-06-15");

    store.run(&state.requeue(&refused.batch));
    assert_eq!(
        state.totals("acme", "2026-06-15").counts,
        totals_before.counts
    );
    // Requeued state survives a restart like any other pending row.
    let mut restored = CounterState::restore("acme/0", Limits::default(), store.stored()).unwrap();
    let mut origin = FakeOrigin::default();
    let again = restored.take_batch(MAX_BATCH_ROWS).unwrap().batch;
    assert_ne!(
        again.batch_id, refused.batch.batch_id,
        "a new batch, a new id"
    );
    assert_eq!(again.counters, refused.batch.counters);
    assert_eq!(again.uniques, refused.batch.uniques);
    assert!(origin.ingest(&again));
    restored.ack(&again.batch_id).unwrap();
    assert!(restored.take_batch(MAX_BATCH_ROWS).is_none());
    assert_eq!(origin.sum("2026-06-15", "view"), 30);
}

#[test]
fn batch_ids_carry_the_incarnation_so_a_wiped_shard_never_reuses_one() {
    let ids = |incarnation: &str| {
        let mut state = shard();
        state.set_incarnation(incarnation);
        state.apply(&view(NOON_MS, "direct", None)).unwrap();
        state.take_batch(10).unwrap().batch.batch_id
    };
    assert_eq!(ids("1f2e"), "acme/0:1f2e:1");
    assert_ne!(
        ids("1f2e"),
        ids("77aa"),
        "same shard, same sequence, another incarnation"
    );
}

#[test]
fn a_batch_in_flight_before_the_incarnation_existed_is_resent_byte_for_byte() {
    let mut store = FakeStore::default();
    let mut old = shard();
    store.run(&old.apply(&view(NOON_MS, "direct", None)).unwrap());
    let in_flight = old.take_batch(10).unwrap();
    store.run(&in_flight.ops);
    let body = serde_json::to_string(&in_flight.batch).unwrap();

    let mut restored = CounterState::restore("acme/0", Limits::default(), store.stored()).unwrap();
    restored.set_incarnation("c0ffee");
    let resent = restored.take_batch(10).unwrap();
    assert_eq!(serde_json::to_string(&resent.batch).unwrap(), body);
    store.run(&restored.ack(&resent.batch.batch_id).unwrap());
    restored.apply(&view(NOON_MS, "direct", None)).unwrap();
    assert_eq!(
        restored.take_batch(10).unwrap().batch.batch_id,
        "acme/0:c0ffee:2"
    );
}

#[test]
fn a_batch_reports_the_oldest_unacknowledged_event_its_held_back_rows_included() {
    let mut state = shard();
    let mut older = view(NOON_MS + 5_000, "direct", None);
    older.launch = "zeta".into();
    state.apply(&older).unwrap();
    state
        .apply(&view(NOON_MS + 40_000, "direct", None))
        .unwrap();
    state
        .apply(&view(NOON_MS + 20_000, "direct", None))
        .unwrap();
    // One row fits: acme's (launches sort first), but zeta's older event is still waiting.
    let first = state.take_batch(1).unwrap();
    assert_eq!(first.batch.counters[0].launch, "acme");
    assert_eq!(first.batch.telemetry.oldest_event_ms, Some(NOON_MS + 5_000));
    assert!(serde_json::to_string(&first.batch)
        .unwrap()
        .contains(&format!(r#""oldest_event_ms":{}"#, NOON_MS + 5_000)));
    // Events arriving while it is in flight leave the resend's bytes alone.
    state
        .apply(&view(NOON_MS - 60_000, "direct", None))
        .unwrap();
    assert_eq!(state.take_batch(1).unwrap().batch, first.batch);
    state.ack(&first.batch.batch_id).unwrap();
    let second = state.take_batch(10).unwrap();
    assert_eq!(
        second.batch.telemetry.oldest_event_ms,
        Some(NOON_MS - 60_000)
    );
    state.ack(&second.batch.batch_id).unwrap();
    // An edge counter's row counts like any other; a later event in an existing row
    // does not make the row look younger.
    let mut hit = view(NOON_MS + 30_000, "direct", None);
    hit.edge = vec!["page_memory_hit".into()];
    state.apply(&hit).unwrap();
    state
        .apply(&view(NOON_MS + 50_000, "direct", None))
        .unwrap();
    let third = state.take_batch(10).unwrap();
    assert_eq!(third.batch.counters.len(), 2);
    assert_eq!(
        third.batch.telemetry.oldest_event_ms,
        Some(NOON_MS + 30_000)
    );
}

#[test]
fn rows_restored_or_requeued_are_reported_as_old_as_the_start_of_their_minute() {
    let mut store = FakeStore::default();
    let mut state = shard();
    store.run(
        &state
            .apply(&view(NOON_MS + 42_000, "direct", None))
            .unwrap(),
    );
    let mut restored = CounterState::restore("acme/0", Limits::default(), store.stored()).unwrap();
    restored
        .apply(&view(NOON_MS + 50_000, "direct", None))
        .unwrap();
    let batch = restored.take_batch(10).unwrap().batch;
    assert_eq!(
        batch.telemetry.oldest_event_ms,
        Some(NOON_MS),
        "never later than its events"
    );
    restored.ack(&batch.batch_id).unwrap();

    restored
        .apply(&view(NOON_MS + 59_000, "direct", None))
        .unwrap();
    restored.requeue(&batch);
    assert_eq!(
        restored
            .take_batch(10)
            .unwrap()
            .batch
            .telemetry
            .oldest_event_ms,
        Some(NOON_MS)
    );
    assert_eq!(shard().take_batch(10), None, "nothing pending, no batch");
}
