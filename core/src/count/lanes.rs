//! Which counted events of one isolate share a shard call (pure; the glue is
//! `src/isolate/batcher.rs`).
//!
//! One Durable Object call per event costs more CPU than serving the page itself, so an
//! isolate gathers its events per launch in a *lane* and sends them together:
//!
//! - a lane has a queue and at most one unacknowledged batch ([`Lanes::take`] hands out
//!   the next batch only when none is unacknowledged; [`Lanes::finish`] ends it). Under
//!   load, events pile up during a round trip and the next batch takes them all, so the
//!   number of calls follows the round-trip time, not the traffic (group commit);
//! - an acknowledged event (a click, a conversion) is sent once the lane is free, after
//!   the glue's short gathering pause (2 ms) that lets the isolate's concurrent events
//!   join it: its request waits for the shard's answer, which whoever drives the lane
//!   leaves for it (the glue's waiters look for it; nobody here is woken);
//! - a view nobody waits for is sent by a timer, armed by the first view queued in an
//!   idle lane, at most [`Lanes::push`]'s caller-chosen window later (the page never
//!   waits, only the counting does);
//! - a batch holds at most [`MAX_BATCH_EVENTS`] events; a longer queue sends at once.
//!
//! Nothing is dropped when a shard call fails, and nothing is counted twice when a call
//! is retried after its answer was lost: every batch has a *flush id*
//! (`"{isolate}:{n}"`, the isolate part random), the shard remembers the ids it applied
//! in the same storage writes as the counts (for [`FLUSH_DEDUPE_WINDOW_MS`]) and answers
//! a repeat without counting it. A failed batch ([`Lanes::fail`]) stays in its lane and
//! is resent, byte for byte the same events under the same id to the same shard, after
//! a short backoff; new events queue behind it and never join it. A batch whose sender
//! vanished (its context died) is resent the same way after [`ABANDONED_AFTER_MS`].
//!
//! Bounds: a lane keeps at most [`MAX_LANE_EVENTS`] events (queued plus unacknowledged);
//! past that a view is not queued and an acknowledged event is refused before anything
//! is acknowledged ([`LaneFull`]). A batch is resent only within [`RETRY_WINDOW_MS`] of
//! its first send (shorter than the shard's memory of flush ids, so a late resend can
//! never count twice); after that it is given up. Acknowledged events are never in a
//! given-up batch unacknowledged: their requests stop waiting long before (20 s).
//!
//! One driver at a time sends a lane's batches: whoever finds the lane without a live
//! driver [`Lanes::claim`]s it and sends until the lane is empty
//! ([`Lanes::keep_driving`], which also marks it alive), so the events that pile up during
//! a round trip cost no task, timer or look of their own. A driver not seen for
//! [`DRIVER_SILENT_AFTER_MS`] is taken as gone and anyone may claim the lane; two drivers
//! at once only make one of them wait (the batch in flight is the other's). Each queued
//! event has an id, so every event has someone who makes sure it is sent
//! ([`Lanes::waiting`]): its own request (acknowledged events) or the timer armed for it
//! (views), which claim the lane whenever they find it without a live driver.
//!
//! Which shard takes a new batch rotates per isolate: counts add up exactly across shards
//! and visitor sketches merge by register maximum, so any shard may count any event.

use std::collections::{HashMap, VecDeque};

use crate::count::shard::CountedEvent;

/// Most events in one shard call (one request body of roughly 100 KiB).
pub const MAX_BATCH_EVENTS: usize = 500;
/// Most events a lane keeps, queued or unacknowledged (ten batches).
pub const MAX_LANE_EVENTS: usize = 10 * MAX_BATCH_EVENTS;
/// The worker counter (an edge counter, see `CountedEvent::edge`) the first event of each
/// batch carries: the origin's `edge_counters` then shows how many shard calls counting
/// took, next to how many events it counted.
pub const SHARD_CALLS_COUNTER: &str = "shard_calls";
/// A send not finished after this long is taken as abandoned (and resent).
pub const ABANDONED_AFTER_MS: u64 = 30_000;
/// A batch is resent only this long after its first send; then it is given up.
pub const RETRY_WINDOW_MS: u64 = 10 * 60 * 1000;
/// How long a shard remembers an applied flush id: longer than [`RETRY_WINDOW_MS`] plus
/// a send's lifetime, so every resend meets the shard's memory of its first send.
pub const FLUSH_DEDUPE_WINDOW_MS: i64 = 15 * 60 * 1000;
/// A driver not seen for this long (it marks itself alive before and after every send)
/// is taken as gone: its request's context ended without it letting go of the lane.
pub const DRIVER_SILENT_AFTER_MS: u64 = 2_000;
/// Resend backoff: this, doubling per failed attempt, up to [`RETRY_CAP_MS`].
pub const RETRY_BASE_MS: u64 = 100;
pub const RETRY_CAP_MS: u64 = 5_000;

/// What the caller of [`Lanes::push`] must do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterPush {
    /// Make sure the lane is driven now: claim it unless a live driver has it.
    Drive,
    /// Arm the lane's timer: after the window, drive it until everything queued by then
    /// was acknowledged.
    ArmTimer,
    /// A timer already covers this event.
    Nothing,
}

/// The lane already keeps [`MAX_LANE_EVENTS`]: the event was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LaneFull;

/// Events to send to one shard, with the waiters to answer afterwards.
#[derive(Debug)]
pub struct Batch<W> {
    pub launch: String,
    /// Index of the shard that takes this batch.
    pub shard: u32,
    pub events: Vec<CountedEvent>,
    pub waiters: Vec<W>,
    /// The idempotency key of this flush, the same on every resend.
    pub flush_id: String,
    /// This send; hand back to [`Lanes::fail`].
    pub ticket: u64,
}

struct Queued<W> {
    id: u64,
    event: CountedEvent,
    waiter: Option<W>,
}

/// The lane's one batch the shard has not acknowledged yet.
struct Unacked<W> {
    flush_id: String,
    shard: u32,
    events: Vec<CountedEvent>,
    /// The oldest event id in it.
    first_id: u64,
    first_sent_ms: u64,
    failures: u32,
    /// The current send and when it left; `None` while waiting to be resent.
    sending: Option<(u64, u64)>,
    /// While waiting to be resent: not before this instant, and who waits for it.
    retry_at_ms: u64,
    waiters: Vec<W>,
}

/// Who sends the lane's batches, and when it was last seen doing so.
#[derive(Debug, Clone, Copy)]
struct Driver {
    token: u64,
    seen_ms: u64,
}

struct Lane<W> {
    queue: VecDeque<Queued<W>>,
    unacked: Option<Unacked<W>>,
    timer_armed: bool,
    driver: Option<Driver>,
}

impl<W> Default for Lane<W> {
    fn default() -> Self {
        Self {
            queue: VecDeque::new(),
            unacked: None,
            timer_armed: false,
            driver: None,
        }
    }
}

impl<W> Lane<W> {
    fn kept(&self) -> usize {
        self.queue.len() + self.unacked.as_ref().map_or(0, |u| u.events.len())
    }

    fn is_idle(&self) -> bool {
        self.queue.is_empty()
            && self.unacked.is_none()
            && !self.timer_armed
            && self.driver.is_none()
    }

    fn has_live_driver(&self, now_ms: u64) -> bool {
        self.driver
            .is_some_and(|d| now_ms.saturating_sub(d.seen_ms) < DRIVER_SILENT_AFTER_MS)
    }
}

/// The right to send a lane's batches, from [`Lanes::claim`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DriverToken(u64);

/// Every lane of one isolate. `W` is where a waiting request finds its outcome (a slot
/// in the glue).
pub struct Lanes<W> {
    lanes: HashMap<String, Lane<W>>,
    next_id: u64,
    rotation: u32,
    /// Random, so flush ids of different isolates (and of this isolate after a restart)
    /// never collide in a shard's memory.
    isolate: String,
}

impl<W> Lanes<W> {
    /// `first_shard` spreads isolates over the shards (any number will do); `isolate` is
    /// a random id of this isolate (it prefixes flush ids).
    pub fn new(first_shard: u32, isolate: impl Into<String>) -> Self {
        Self {
            lanes: HashMap::new(),
            next_id: 1,
            rotation: first_shard,
            isolate: isolate.into(),
        }
    }

    /// Queues an event; with a `waiter` it is acknowledged (that waiter gets the outcome).
    pub fn push(
        &mut self,
        event: CountedEvent,
        waiter: Option<W>,
    ) -> Result<(u64, AfterPush), LaneFull> {
        let acked = waiter.is_some();
        let lane = self.lanes.entry(event.launch.clone()).or_default();
        if lane.kept() >= MAX_LANE_EVENTS {
            return Err(LaneFull);
        }
        let id = self.next_id;
        self.next_id += 1;
        lane.queue.push_back(Queued { id, event, waiter });
        let next = if acked || lane.queue.len() >= MAX_BATCH_EVENTS {
            AfterPush::Drive
        } else if !lane.timer_armed {
            lane.timer_armed = true;
            AfterPush::ArmTimer
        } else {
            AfterPush::Nothing
        };
        Ok((id, next))
    }

    /// The lane's timer went off: returns the newest id queued, to drive until.
    pub fn timer_fired(&mut self, launch: &str) -> u64 {
        if let Some(lane) = self.lanes.get_mut(launch) {
            lane.timer_armed = false;
        }
        self.next_id - 1
    }

    /// Makes the caller the lane's driver, unless a live one has it (`None`); a driver
    /// silent for [`DRIVER_SILENT_AFTER_MS`] is replaced.
    pub fn claim(&mut self, launch: &str, now_ms: u64) -> Option<DriverToken> {
        let lane = self.lanes.get_mut(launch)?;
        if lane.has_live_driver(now_ms) {
            return None;
        }
        let token = self.next_id;
        self.next_id += 1;
        lane.driver = Some(Driver {
            token,
            seen_ms: now_ms,
        });
        Some(DriverToken(token))
    }

    /// Whether the driver `token` goes on: `true` (and it is marked alive at `now_ms`)
    /// while it still holds the lane and something is queued or unacknowledged; `false`
    /// once the lane is empty (it lets go) or another driver replaced it.
    pub fn keep_driving(&mut self, launch: &str, token: DriverToken, now_ms: u64) -> bool {
        let Some(lane) = self.lanes.get_mut(launch) else {
            return false;
        };
        match &mut lane.driver {
            Some(driver) if driver.token == token.0 => {
                if lane.queue.is_empty() && lane.unacked.is_none() {
                    self.release(launch, token);
                    false
                } else {
                    driver.seen_ms = now_ms;
                    true
                }
            }
            _ => false,
        }
    }

    /// The driver `token` stops (its patience ran out); someone else may claim the lane.
    pub fn release(&mut self, launch: &str, token: DriverToken) {
        let Some(lane) = self.lanes.get_mut(launch) else {
            return;
        };
        if lane.driver.is_some_and(|d| d.token == token.0) {
            lane.driver = None;
        }
        if lane.is_idle() {
            self.lanes.remove(launch);
        }
    }

    /// Whether the lane has a driver seen within [`DRIVER_SILENT_AFTER_MS`].
    pub fn has_live_driver(&self, launch: &str, now_ms: u64) -> bool {
        self.lanes
            .get(launch)
            .is_some_and(|lane| lane.has_live_driver(now_ms))
    }

    /// Whether an event with id `until` or older is still queued or unacknowledged.
    pub fn waiting(&self, launch: &str, until: u64) -> bool {
        self.lanes.get(launch).is_some_and(|lane| {
            lane.queue.front().is_some_and(|first| first.id <= until)
                || lane.unacked.as_ref().is_some_and(|u| u.first_id <= until)
        })
    }

    /// Milliseconds until the lane's failed batch may be resent, if one waits for that.
    pub fn retry_in(&self, launch: &str, now_ms: u64) -> Option<u64> {
        let unacked = self.lanes.get(launch)?.unacked.as_ref()?;
        match unacked.sending {
            Some(_) => None,
            None => Some(unacked.retry_at_ms.saturating_sub(now_ms)),
        }
    }

    /// The next batch to send at `now_ms`: the unacknowledged one again once its backoff
    /// is over (or its send was abandoned), else a new one from the queue. `None` while a
    /// send is in flight, during a backoff, or when there is nothing to send.
    pub fn take(&mut self, launch: &str, now_ms: u64, shards: u32) -> Option<Batch<W>> {
        let lane = self.lanes.get_mut(launch)?;
        if let Some(unacked) = &mut lane.unacked {
            if let Some((_, since)) = unacked.sending {
                if now_ms.saturating_sub(since) < ABANDONED_AFTER_MS {
                    return None;
                }
                unacked.sending = None;
                unacked.retry_at_ms = now_ms;
            }
            if now_ms.saturating_sub(unacked.first_sent_ms) >= RETRY_WINDOW_MS {
                // Too old to resend safely; its requests stopped waiting long ago.
                lane.unacked = None;
            } else if now_ms < unacked.retry_at_ms {
                return None;
            } else {
                let ticket = self.next_id;
                self.next_id += 1;
                unacked.sending = Some((ticket, now_ms));
                return Some(Batch {
                    launch: launch.to_owned(),
                    shard: unacked.shard,
                    events: unacked.events.clone(),
                    waiters: std::mem::take(&mut unacked.waiters),
                    flush_id: unacked.flush_id.clone(),
                    ticket,
                });
            }
        }
        let first_id = lane.queue.front()?.id;
        let ticket = self.next_id;
        self.next_id += 1;
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
        let flush_id = format!("{}:{ticket}", self.isolate);
        lane.unacked = Some(Unacked {
            flush_id: flush_id.clone(),
            shard,
            events: events.clone(),
            first_id,
            first_sent_ms: now_ms,
            failures: 0,
            sending: Some((ticket, now_ms)),
            retry_at_ms: 0,
            waiters: Vec::new(),
        });
        Some(Batch {
            launch: launch.to_owned(),
            shard,
            events,
            waiters,
            flush_id,
            ticket,
        })
    }

    /// The shard stored (or had already stored) the batch `flush_id`: forgets it. Any
    /// send of that flush may report it; a second report changes nothing.
    pub fn finish(&mut self, launch: &str, flush_id: &str) {
        self.settle(launch, flush_id);
    }

    /// The shard refused the batch for good (it can never apply): forgets it like
    /// [`Lanes::finish`]; the caller answers its waiters "not counted".
    pub fn discard(&mut self, launch: &str, flush_id: &str) {
        self.settle(launch, flush_id);
    }

    fn settle(&mut self, launch: &str, flush_id: &str) {
        let Some(lane) = self.lanes.get_mut(launch) else {
            return;
        };
        if lane
            .unacked
            .as_ref()
            .is_some_and(|u| u.flush_id == flush_id)
        {
            lane.unacked = None;
        }
        if lane.is_idle() {
            self.lanes.remove(launch);
        }
    }

    /// The send `ticket` failed (no answer, an error, or its sender vanished): the batch
    /// stays, with its `waiters`, to be resent after a backoff, unless it is past
    /// [`RETRY_WINDOW_MS`]. A late report of an older send changes nothing. Returns the
    /// waiters whose events were given up: answer them "not counted".
    #[must_use]
    pub fn fail(&mut self, launch: &str, ticket: u64, waiters: Vec<W>, now_ms: u64) -> Vec<W> {
        let Some(lane) = self.lanes.get_mut(launch) else {
            return waiters;
        };
        let current = lane
            .unacked
            .as_mut()
            .filter(|u| u.sending.is_some_and(|(t, _)| t == ticket));
        let Some(unacked) = current else {
            return waiters;
        };
        if now_ms.saturating_sub(unacked.first_sent_ms) >= RETRY_WINDOW_MS {
            lane.unacked = None;
            return waiters;
        }
        unacked.failures = unacked.failures.saturating_add(1);
        unacked.sending = None;
        unacked.retry_at_ms = now_ms.saturating_add(retry_delay_ms(unacked.failures));
        unacked.waiters.extend(waiters);
        Vec::new()
    }

    /// Events kept in all lanes (queued or unacknowledged).
    #[cfg(test)]
    pub fn queued(&self) -> usize {
        self.lanes.values().map(Lane::kept).sum()
    }
}

/// The wait before resending after the `failures`-th failed send.
pub fn retry_delay_ms(failures: u32) -> u64 {
    let doublings = failures.saturating_sub(1).min(16);
    RETRY_BASE_MS
        .saturating_mul(1 << doublings)
        .min(RETRY_CAP_MS)
}

#[cfg(test)]
mod tests;
