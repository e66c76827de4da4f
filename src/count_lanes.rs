//! Which counted events of one isolate share a shard call (pure; the glue is
//! `count_batcher`).
//!
//! One Durable Object call per event costs more CPU than serving the page itself, so an
//! isolate gathers its events per launch in a *lane* and sends them together:
//!
//! - a lane has a queue and at most one batch in flight ([`Lanes::take`] hands out the
//!   next batch only when none is in flight; [`Lanes::finish`] ends it). Under load,
//!   events pile up during a round trip and the next batch takes them all, so the
//!   number of calls follows the round-trip time, not the traffic (group commit);
//! - an acknowledged event (a click, a conversion) is sent as soon as the lane is free:
//!   its request waits for the shard's answer, and whoever drives the lane resolves it;
//! - a view nobody waits for is sent by a timer, armed by the first view queued in an
//!   idle lane, at most [`Lanes::push`]'s caller-chosen window later (the page never
//!   waits, only the counting does);
//! - a batch holds at most [`MAX_BATCH_EVENTS`] events; a longer queue sends at once.
//!
//! Each queued event has an id; a driver sends batches until every id up to its own
//! left the queue ([`Lanes::waiting`]), so every event has someone responsible for it:
//! its own request (acknowledged events) or the timer armed for it (views). A batch
//! whose sender vanished (its context died) is written off after
//! [`ABANDONED_AFTER_MS`] so the lane cannot stay blocked.
//!
//! Which shard takes a batch rotates per isolate: counts add up exactly across shards
//! and visitor sketches merge by register maximum, so any shard may count any event.

use std::collections::{HashMap, VecDeque};

use crate::counters::CountedEvent;

/// Most events in one shard call (one request body of roughly 100 KiB).
pub const MAX_BATCH_EVENTS: usize = 500;
/// The worker counter (an edge counter, see `CountedEvent::edge`) the first event of each
/// batch carries: the origin's `edge_counters` then shows how many shard calls counting
/// took, next to how many events it counted.
pub const SHARD_CALLS_COUNTER: &str = "shard_calls";
/// A batch not finished after this long is taken as abandoned.
pub const ABANDONED_AFTER_MS: u64 = 30_000;

/// What the caller of [`Lanes::push`] must do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterPush {
    /// Drive the lane until the event left the queue.
    Drive,
    /// Arm the lane's timer: after the window, drive it until everything queued by then left.
    ArmTimer,
    /// A timer already covers this event.
    Nothing,
}

/// Events to send to one shard, with the waiters to answer afterwards.
#[derive(Debug)]
pub struct Batch<W> {
    pub launch: String,
    /// Index of the shard that takes this batch.
    pub shard: u32,
    pub events: Vec<CountedEvent>,
    pub waiters: Vec<W>,
    /// Hand back to [`Lanes::finish`].
    pub ticket: u64,
}

struct Queued<W> {
    id: u64,
    event: CountedEvent,
    waiter: Option<W>,
}

struct Lane<W> {
    queue: VecDeque<Queued<W>>,
    /// The ticket of the batch in flight and when it left.
    in_flight: Option<(u64, u64)>,
    timer_armed: bool,
    /// Drivers waiting for the batch in flight to finish.
    idle: Vec<W>,
}

impl<W> Default for Lane<W> {
    fn default() -> Self {
        Self {
            queue: VecDeque::new(),
            in_flight: None,
            timer_armed: false,
            idle: Vec::new(),
        }
    }
}

/// Every lane of one isolate. `W` is how a waiting request is woken (a JS resolver in
/// the glue).
pub struct Lanes<W> {
    lanes: HashMap<String, Lane<W>>,
    next_id: u64,
    rotation: u32,
}

impl<W> Lanes<W> {
    /// `first_shard` spreads isolates over the shards (any number will do).
    pub fn new(first_shard: u32) -> Self {
        Self {
            lanes: HashMap::new(),
            next_id: 1,
            rotation: first_shard,
        }
    }

    /// Queues an event; with a `waiter` it is acknowledged (that waiter gets the outcome).
    pub fn push(&mut self, event: CountedEvent, waiter: Option<W>) -> (u64, AfterPush) {
        let id = self.next_id;
        self.next_id += 1;
        let acked = waiter.is_some();
        let lane = self.lanes.entry(event.launch.clone()).or_default();
        lane.queue.push_back(Queued { id, event, waiter });
        let next = if acked || lane.queue.len() >= MAX_BATCH_EVENTS {
            AfterPush::Drive
        } else if !lane.timer_armed {
            lane.timer_armed = true;
            AfterPush::ArmTimer
        } else {
            AfterPush::Nothing
        };
        (id, next)
    }

    /// The lane's timer went off: returns the newest id queued, to drive until.
    pub fn timer_fired(&mut self, launch: &str) -> u64 {
        if let Some(lane) = self.lanes.get_mut(launch) {
            lane.timer_armed = false;
        }
        self.next_id - 1
    }

    /// Whether an event with id `until` or older is still queued.
    pub fn waiting(&self, launch: &str, until: u64) -> bool {
        self.lanes
            .get(launch)
            .and_then(|lane| lane.queue.front())
            .is_some_and(|first| first.id <= until)
    }

    /// The next batch, unless the queue is empty or another batch is in flight (and
    /// not yet abandoned at `now_ms`).
    pub fn take(&mut self, launch: &str, now_ms: u64, shards: u32) -> Option<Batch<W>> {
        let lane = self.lanes.get_mut(launch)?;
        if lane.queue.is_empty() {
            return None;
        }
        if let Some((_, since)) = lane.in_flight {
            if now_ms.saturating_sub(since) < ABANDONED_AFTER_MS {
                return None;
            }
        }
        let ticket = self.next_id;
        self.next_id += 1;
        lane.in_flight = Some((ticket, now_ms));
        let n = lane.queue.len().min(MAX_BATCH_EVENTS);
        let mut events = Vec::with_capacity(n);
        let mut waiters = Vec::new();
        for queued in lane.queue.drain(..n) {
            events.push(queued.event);
            waiters.extend(queued.waiter);
        }
        if let Some(first) = events.first_mut() {
            first.edge.push(SHARD_CALLS_COUNTER.to_owned());
        }
        let shard = self.rotation % shards.max(1);
        self.rotation = self.rotation.wrapping_add(1);
        Some(Batch {
            launch: launch.to_owned(),
            shard,
            events,
            waiters,
            ticket,
        })
    }

    /// Registers a driver to wake when the batch in flight finishes.
    pub fn wait_idle(&mut self, launch: &str, waiter: W) {
        self.lanes
            .entry(launch.to_owned())
            .or_default()
            .idle
            .push(waiter);
    }

    /// The batch with `ticket` is done (sent or failed): frees the lane and returns the
    /// drivers to wake. A late finish of an abandoned batch changes nothing.
    pub fn finish(&mut self, launch: &str, ticket: u64) -> Vec<W> {
        let Some(lane) = self.lanes.get_mut(launch) else {
            return Vec::new();
        };
        if lane.in_flight.map(|(t, _)| t) != Some(ticket) {
            return Vec::new();
        }
        lane.in_flight = None;
        let idle = std::mem::take(&mut lane.idle);
        if lane.queue.is_empty() && !lane.timer_armed {
            self.lanes.remove(launch);
        }
        idle
    }

    /// Events queued in all lanes.
    #[cfg(test)]
    pub fn queued(&self) -> usize {
        self.lanes.values().map(|lane| lane.queue.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::counters::EventKind;

    fn event(launch: &str, n: u64) -> CountedEvent {
        CountedEvent {
            launch: launch.into(),
            kind: EventKind::View,
            source: "direct".into(),
            revenue_cents: 0,
            currency: None,
            at_ms: n as i64,
            visitor: Some(n),
            edge: Vec::new(),
        }
    }

    #[test]
    fn the_first_view_in_an_idle_lane_arms_the_timer_and_later_ones_ride_along() {
        let mut lanes: Lanes<&str> = Lanes::new(0);
        assert_eq!(lanes.push(event("a", 1), None).1, AfterPush::ArmTimer);
        assert_eq!(lanes.push(event("a", 2), None).1, AfterPush::Nothing);
        assert_eq!(lanes.push(event("b", 3), None).1, AfterPush::ArmTimer);
        let until = lanes.timer_fired("a");
        assert!(lanes.waiting("a", until));
        let batch = lanes.take("a", 0, 8).unwrap();
        assert_eq!(batch.events.len(), 2);
        assert_eq!(batch.events[0].edge, vec![SHARD_CALLS_COUNTER]);
        assert!(batch.events[1].edge.is_empty());
        assert!(!lanes.waiting("a", until));
        assert_eq!(lanes.push(event("a", 4), None).1, AfterPush::ArmTimer);
    }

    #[test]
    fn one_batch_per_lane_is_in_flight_and_the_next_takes_everything_that_piled_up() {
        let mut lanes = Lanes::new(0);
        let (first, next) = lanes.push(event("a", 1), Some("r1"));
        assert_eq!(next, AfterPush::Drive);
        let batch = lanes.take("a", 0, 8).unwrap();
        assert_eq!(batch.waiters, vec!["r1"]);
        assert!(!lanes.waiting("a", first));

        let ids: Vec<u64> = (2..=6)
            .map(|n| lanes.push(event("a", n), Some("r")).0)
            .collect();
        assert!(lanes.take("a", 10, 8).is_none(), "a batch is in flight");
        lanes.wait_idle("a", "driver");
        assert_eq!(lanes.finish("a", batch.ticket), vec!["driver"]);
        let next = lanes.take("a", 20, 8).unwrap();
        assert_eq!(next.events.len(), 5);
        assert!(ids.iter().all(|&id| !lanes.waiting("a", id)));
        assert_ne!(next.shard, batch.shard, "shards rotate");
    }

    #[test]
    fn a_long_queue_is_cut_into_batches_of_at_most_the_maximum() {
        let mut lanes: Lanes<()> = Lanes::new(0);
        let mut last = (0, AfterPush::Nothing);
        for n in 0..(MAX_BATCH_EVENTS as u64 + 10) {
            last = lanes.push(event("a", n), None);
        }
        assert_eq!(last.1, AfterPush::Drive);
        let batch = lanes.take("a", 0, 1).unwrap();
        assert_eq!(batch.events.len(), MAX_BATCH_EVENTS);
        lanes.finish("a", batch.ticket);
        assert!(lanes.waiting("a", last.0));
        assert_eq!(lanes.take("a", 0, 1).unwrap().events.len(), 10);
    }

    #[test]
    fn an_abandoned_batch_stops_blocking_its_lane_and_its_late_finish_is_ignored() {
        let mut lanes = Lanes::new(0);
        lanes.push(event("a", 1), Some(1));
        let lost = lanes.take("a", 1_000, 8).unwrap();
        lanes.push(event("a", 2), Some(2));
        assert!(lanes.take("a", 1_000 + ABANDONED_AFTER_MS - 1, 8).is_none());
        let rescue = lanes.take("a", 1_000 + ABANDONED_AFTER_MS, 8).unwrap();
        assert_eq!(rescue.waiters, vec![2]);
        lanes.push(event("a", 3), Some(3));
        assert!(lanes.finish("a", lost.ticket).is_empty());
        assert!(lanes.take("a", 1_000 + ABANDONED_AFTER_MS, 8).is_none());
        lanes.finish("a", rescue.ticket);
        assert_eq!(lanes.take("a", 0, 8).unwrap().waiters, vec![3]);
    }

    #[test]
    fn every_event_is_in_exactly_one_batch_whatever_the_interleaving() {
        let mut lanes = Lanes::new(3);
        let mut seed = 7u64;
        let mut rand = move |n: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        let mut sent = Vec::new();
        let mut in_flight: Vec<Batch<u64>> = Vec::new();
        let mut pushed = 0u64;
        for _ in 0..20_000 {
            match rand(4) {
                0 | 1 => {
                    let launch = ["a", "b"][rand(2) as usize];
                    let acked = rand(2) == 0;
                    pushed += 1;
                    lanes.push(event(launch, pushed), acked.then_some(pushed));
                }
                2 => {
                    let launch = ["a", "b"][rand(2) as usize];
                    if let Some(batch) = lanes.take(launch, 0, 8) {
                        in_flight.push(batch);
                    }
                }
                _ => {
                    if !in_flight.is_empty() {
                        let batch = in_flight.swap_remove(rand(in_flight.len() as u64) as usize);
                        lanes.finish(&batch.launch, batch.ticket);
                        sent.extend(batch.events.iter().map(|e| e.visitor.unwrap()));
                    }
                }
            }
        }
        for batch in in_flight.drain(..) {
            lanes.finish(&batch.launch, batch.ticket);
            sent.extend(batch.events.iter().map(|e| e.visitor.unwrap()));
        }
        for launch in ["a", "b"] {
            while let Some(batch) = lanes.take(launch, 0, 8) {
                lanes.finish(launch, batch.ticket);
                sent.extend(batch.events.iter().map(|e| e.visitor.unwrap()));
            }
        }
        sent.sort_unstable();
        assert_eq!(sent, (1..=pushed).collect::<Vec<_>>());
        assert_eq!(lanes.queued(), 0);
    }
}
