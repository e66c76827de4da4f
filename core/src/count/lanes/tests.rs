//! Tests of `count::lanes`: batching, and exactly-once delivery over failing shard calls.

use std::collections::{HashMap, HashSet};

use super::*;
use crate::count::shard::EventKind;

fn event(launch: &str, n: u64) -> CountedEvent {
    CountedEvent {
        launch: launch.into(),
        kind: EventKind::View,
        source: "direct".into(),
        medium: None,
        campaign: None,
        revenue_cents: 0,
        currency: None,
        at_ms: n as i64,
        visitor: Some(n),
        edge: Vec::new(),
    }
}

fn lanes<W>() -> Lanes<W> {
    Lanes::new(0, "iso")
}

#[test]
fn the_first_view_in_an_idle_lane_arms_the_timer_and_later_ones_ride_along() {
    let mut lanes: Lanes<&str> = lanes();
    assert_eq!(
        lanes.push(event("a", 1), None).unwrap().1,
        AfterPush::ArmTimer
    );
    assert_eq!(
        lanes.push(event("a", 2), None).unwrap().1,
        AfterPush::Nothing
    );
    assert_eq!(
        lanes.push(event("b", 3), None).unwrap().1,
        AfterPush::ArmTimer
    );
    let until = lanes.timer_fired("a");
    assert!(lanes.waiting("a", until));
    let batch = lanes.take("a", 0, 8).unwrap();
    assert_eq!(batch.events.len(), 2);
    assert_eq!(batch.events[0].edge, vec![SHARD_CALLS_COUNTER]);
    assert!(batch.events[1].edge.is_empty());
    assert!(lanes.waiting("a", until), "sent is not yet acknowledged");
    lanes.finish("a", &batch.flush_id);
    assert!(!lanes.waiting("a", until));
    assert_eq!(
        lanes.push(event("a", 4), None).unwrap().1,
        AfterPush::ArmTimer
    );
}

#[test]
fn one_batch_per_lane_is_in_flight_and_the_next_takes_everything_that_piled_up() {
    let mut lanes = lanes();
    let (first, next) = lanes.push(event("a", 1), Some("r1")).unwrap();
    assert_eq!(next, AfterPush::Drive);
    let batch = lanes.take("a", 0, 8).unwrap();
    assert_eq!(batch.waiters, vec!["r1"]);

    let ids: Vec<u64> = (2..=6)
        .map(|n| lanes.push(event("a", n), Some("r")).unwrap().0)
        .collect();
    assert!(lanes.take("a", 10, 8).is_none(), "a batch is in flight");
    lanes.finish("a", &batch.flush_id);
    assert!(!lanes.waiting("a", first));
    let next = lanes.take("a", 20, 8).unwrap();
    assert_eq!(next.events.len(), 5);
    lanes.finish("a", &next.flush_id);
    assert!(ids.iter().all(|&id| !lanes.waiting("a", id)));
    assert_ne!(next.shard, batch.shard, "shards rotate");
    assert_ne!(next.flush_id, batch.flush_id);
}

#[test]
fn one_driver_at_a_time_sends_a_lane_until_it_is_empty_and_then_lets_go() {
    let mut lanes = lanes();
    lanes.push(event("a", 1), Some("r1")).unwrap();
    let driver = lanes.claim("a", 0).expect("no driver yet");
    assert!(lanes.claim("a", 1).is_none(), "a live driver has it");
    assert!(lanes.has_live_driver("a", 1));

    assert!(lanes.keep_driving("a", driver, 1));
    let first = lanes.take("a", 1, 8).unwrap();
    // Clicks arriving during the round trip only queue: the driver takes them next.
    lanes.push(event("a", 2), Some("r2")).unwrap();
    lanes.push(event("a", 3), Some("r3")).unwrap();
    assert!(lanes.claim("a", 5).is_none());
    lanes.finish("a", &first.flush_id);
    assert!(lanes.keep_driving("a", driver, 10));
    let second = lanes.take("a", 10, 8).unwrap();
    assert_eq!(second.waiters, vec!["r2", "r3"]);
    lanes.finish("a", &second.flush_id);

    assert!(
        !lanes.keep_driving("a", driver, 20),
        "nothing left: it lets go"
    );
    assert!(!lanes.has_live_driver("a", 20));
    assert_eq!(lanes.queued(), 0);
    lanes.push(event("a", 4), Some("r4")).unwrap();
    assert!(
        lanes.claim("a", 21).is_some(),
        "the next event finds the lane free"
    );
}

#[test]
fn a_silent_driver_is_replaced_and_the_one_replaced_stops() {
    let mut lanes: Lanes<&str> = lanes();
    lanes.push(event("a", 1), None).unwrap();
    let gone = lanes.claim("a", 0).unwrap();
    assert!(lanes.claim("a", DRIVER_SILENT_AFTER_MS - 1).is_none());
    let next = lanes
        .claim("a", DRIVER_SILENT_AFTER_MS)
        .expect("the first fell silent");
    assert_ne!(gone, next);
    assert!(!lanes.keep_driving("a", gone, DRIVER_SILENT_AFTER_MS + 1));
    lanes.release("a", gone);
    assert!(
        lanes.has_live_driver("a", DRIVER_SILENT_AFTER_MS + 1),
        "a stale release changes nothing"
    );
    assert!(lanes.keep_driving("a", next, DRIVER_SILENT_AFTER_MS + 1));
    lanes.release("a", next);
    assert!(!lanes.has_live_driver("a", DRIVER_SILENT_AFTER_MS + 1));
    assert!(lanes.claim("a", DRIVER_SILENT_AFTER_MS + 2).is_some());
}

#[test]
fn a_driver_stays_while_a_failed_batch_waits_to_be_resent() {
    let mut lanes = lanes();
    lanes.push(event("a", 1), Some("r")).unwrap();
    let driver = lanes.claim("a", 0).unwrap();
    let batch = lanes.take("a", 0, 8).unwrap();
    assert!(lanes.fail("a", batch.ticket, batch.waiters, 0).is_empty());
    assert!(
        lanes.keep_driving("a", driver, 1),
        "the resend is its to make"
    );
    assert!(lanes.claim("a", 1).is_none());
}

#[test]
fn a_long_queue_is_cut_into_batches_of_at_most_the_maximum() {
    let mut lanes: Lanes<()> = lanes();
    let mut last = (0, AfterPush::Nothing);
    for n in 0..(MAX_BATCH_EVENTS as u64 + 10) {
        last = lanes.push(event("a", n), None).unwrap();
    }
    assert_eq!(last.1, AfterPush::Drive);
    let batch = lanes.take("a", 0, 1).unwrap();
    assert_eq!(batch.events.len(), MAX_BATCH_EVENTS);
    lanes.finish("a", &batch.flush_id);
    assert!(lanes.waiting("a", last.0));
    assert_eq!(lanes.take("a", 0, 1).unwrap().events.len(), 10);
}

#[test]
fn a_failed_batch_is_kept_and_resent_under_the_same_flush_id_to_the_same_shard() {
    let mut lanes = lanes();
    let (id, _) = lanes.push(event("a", 1), Some("click")).unwrap();
    let first = lanes.take("a", 1_000, 8).unwrap();
    lanes.push(event("a", 2), Some("later")).unwrap();
    let given_up = lanes.fail("a", first.ticket, first.waiters, 1_000);
    assert!(given_up.is_empty(), "nothing is dropped");
    assert!(lanes.waiting("a", id), "its driver keeps going");

    assert_eq!(lanes.retry_in("a", 1_000), Some(RETRY_BASE_MS));
    assert!(
        lanes.take("a", 1_000 + RETRY_BASE_MS - 1, 8).is_none(),
        "backoff"
    );
    let resent = lanes.take("a", 1_000 + RETRY_BASE_MS, 8).unwrap();
    assert_eq!(
        (&resent.flush_id, resent.shard, &resent.events),
        (&first.flush_id, first.shard, &first.events),
        "the same flush, so the shard can tell it applied it already"
    );
    assert_eq!(resent.waiters, vec!["click"], "its request still waits");
    assert_ne!(resent.ticket, first.ticket);

    lanes.finish("a", &resent.flush_id);
    assert!(!lanes.waiting("a", id));
    let next = lanes.take("a", 2_000, 8).unwrap();
    assert_eq!(
        next.waiters,
        vec!["later"],
        "new events never join a resent batch"
    );
    assert_ne!(next.flush_id, first.flush_id);
}

#[test]
fn resends_back_off_from_a_tenth_of_a_second_to_five_seconds() {
    let delays: Vec<u64> = (1..=8).map(retry_delay_ms).collect();
    assert_eq!(delays, [100, 200, 400, 800, 1_600, 3_200, 5_000, 5_000]);
    assert_eq!(retry_delay_ms(u32::MAX), RETRY_CAP_MS);
}

#[test]
fn flush_ids_differ_across_isolates_and_batches() {
    let mut one: Lanes<()> = Lanes::new(0, "0f3a");
    let mut two: Lanes<()> = Lanes::new(0, "77c1");
    one.push(event("a", 1), None).unwrap();
    two.push(event("a", 1), None).unwrap();
    let (a, b) = (one.take("a", 0, 8).unwrap(), two.take("a", 0, 8).unwrap());
    assert_eq!(a.flush_id, format!("0f3a:{}", a.ticket));
    assert_ne!(a.flush_id, b.flush_id);
}

#[test]
fn an_abandoned_send_is_resent_under_its_flush_id_rather_than_written_off() {
    let mut lanes = lanes();
    lanes.push(event("a", 1), Some(1)).unwrap();
    let lost = lanes.take("a", 1_000, 8).unwrap();
    lanes.push(event("a", 2), Some(2)).unwrap();
    assert!(lanes.take("a", 1_000 + ABANDONED_AFTER_MS - 1, 8).is_none());
    let rescue = lanes.take("a", 1_000 + ABANDONED_AFTER_MS, 8).unwrap();
    assert_eq!(rescue.flush_id, lost.flush_id);
    assert_eq!(rescue.events, lost.events);
    // The vanished send reports late: as a failure it changes nothing, its waiters are
    // told; the resend's success settles the flush.
    let late = lanes.fail("a", lost.ticket, lost.waiters, 40_000);
    assert_eq!(late, vec![1]);
    lanes.finish("a", &rescue.flush_id);
    assert_eq!(lanes.take("a", 40_000, 8).unwrap().waiters, vec![2]);
}

#[test]
fn a_batch_past_the_retry_window_is_given_up_and_its_waiters_told() {
    let mut lanes = lanes();
    lanes.push(event("a", 1), Some("r")).unwrap();
    let batch = lanes.take("a", 0, 8).unwrap();
    let given_up = lanes.fail("a", batch.ticket, batch.waiters, RETRY_WINDOW_MS);
    assert_eq!(given_up, vec!["r"]);
    assert_eq!(lanes.queued(), 0);

    // Kept but never resent in time (no driver came back): dropped when next taken.
    lanes.push(event("a", 2), None).unwrap();
    let batch = lanes.take("a", 1, 8).unwrap();
    assert!(lanes.fail("a", batch.ticket, batch.waiters, 2).is_empty());
    lanes.push(event("a", 3), None).unwrap();
    let next = lanes.take("a", 1 + RETRY_WINDOW_MS, 8).unwrap();
    assert_ne!(next.flush_id, batch.flush_id);
    assert_eq!(next.events[0].visitor, Some(3));
    const { assert!(FLUSH_DEDUPE_WINDOW_MS as u64 > RETRY_WINDOW_MS + ABANDONED_AFTER_MS) };
}

#[test]
fn a_lane_keeps_a_bounded_number_of_events_and_refuses_more() {
    let mut lanes: Lanes<&str> = lanes();
    for n in 0..MAX_BATCH_EVENTS as u64 {
        lanes.push(event("a", n), None).unwrap();
    }
    let stuck = lanes.take("a", 0, 8).unwrap();
    assert!(lanes.fail("a", stuck.ticket, stuck.waiters, 0).is_empty());
    for n in MAX_BATCH_EVENTS..MAX_LANE_EVENTS {
        lanes.push(event("a", n as u64), None).unwrap();
    }
    assert_eq!(lanes.push(event("a", 0), None), Err(LaneFull));
    assert_eq!(lanes.push(event("a", 0), Some("click")), Err(LaneFull));
    assert!(
        lanes.push(event("b", 0), None).is_ok(),
        "other launches unaffected"
    );
    assert_eq!(lanes.queued(), MAX_LANE_EVENTS + 1);
}

/// A shard that remembers applied flush ids, as `counter_shard` does.
#[derive(Default)]
struct Shard {
    applied: HashSet<String>,
    counted: HashMap<u64, u32>,
}

impl Shard {
    fn apply(&mut self, batch: &Batch<u64>) {
        if self.applied.insert(batch.flush_id.clone()) {
            for e in &batch.events {
                *self.counted.entry(e.visitor.unwrap()).or_insert(0) += 1;
            }
        }
    }
}

#[test]
fn every_event_is_counted_exactly_once_whatever_fails_and_whatever_the_interleaving() {
    let mut lanes = Lanes::new(3, "iso");
    let mut shard = Shard::default();
    let mut seed = 7u64;
    let mut rand = move |n: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    let mut in_flight: Vec<Batch<u64>> = Vec::new();
    let mut pushed = 0u64;
    let mut now = 0u64;
    for _ in 0..30_000 {
        now += rand(10);
        match rand(5) {
            0 | 1 => {
                let launch = ["a", "b"][rand(2) as usize];
                let acked = rand(2) == 0;
                pushed += 1;
                lanes
                    .push(event(launch, pushed), acked.then_some(pushed))
                    .unwrap();
            }
            2 => {
                let launch = ["a", "b"][rand(2) as usize];
                if let Some(batch) = lanes.take(launch, now, 8) {
                    in_flight.push(batch);
                }
            }
            _ if !in_flight.is_empty() => {
                let batch = in_flight.swap_remove(rand(in_flight.len() as u64) as usize);
                match rand(4) {
                    // The call failed before the shard applied it.
                    0 => {
                        let _ = lanes.fail(&batch.launch, batch.ticket, batch.waiters, now);
                    }
                    // Applied, but the answer was lost.
                    1 => {
                        shard.apply(&batch);
                        let _ = lanes.fail(&batch.launch, batch.ticket, batch.waiters, now);
                    }
                    _ => {
                        shard.apply(&batch);
                        lanes.finish(&batch.launch, &batch.flush_id);
                    }
                }
            }
            _ => {}
        }
    }
    for batch in in_flight.drain(..) {
        shard.apply(&batch);
        lanes.finish(&batch.launch, &batch.flush_id);
    }
    for launch in ["a", "b"] {
        while let Some(batch) = lanes.take(launch, now + RETRY_CAP_MS, 8) {
            shard.apply(&batch);
            lanes.finish(launch, &batch.flush_id);
        }
    }
    assert_eq!(lanes.queued(), 0);
    assert_eq!(shard.counted.len() as u64, pushed, "nothing lost");
    assert!(shard.counted.values().all(|&n| n == 1), "nothing twice");
}
