//! This isolate's worker counters (`edge_<name>` at the origin), tallied with
//! [`launch_edge_core::tally::EdgeTally`] and sent to the task scheduler as one aggregate
//! per [`FLUSH_DELAY_MS`], however many requests counted.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::Duration;

use launch_edge_core::tally::{AfterCount, EdgeTally, FLUSH_DELAY_MS};
use worker::{Delay, Env};

use crate::net::origin::now_ms;
use crate::objects::task_scheduler::client::{Scheduler, SchedulerCall};

thread_local! {
    /// This isolate's worker counters not yet sent (see `launch_edge_core::tally`).
    static TALLY: RefCell<EdgeTally> = RefCell::new(EdgeTally::new());
}

/// Counts one worker counter (`edge_<name>` at the origin). Tallied in the isolate; the
/// first count after a quiet spell starts a flush in `ctx.waitUntil` that sends the
/// tally as one aggregate after `FLUSH_DELAY_MS`, so a flood of rejected webhooks costs
/// the scheduler one call per isolate per window, not one per request.
pub fn count_edge_later(env: &Env, ctx: &worker::Context, name: String) {
    if tally_count(&name) == AfterCount::StartFlush {
        let env = env.clone();
        ctx.wait_until(async move { flush_edge_tally(&env, true).await });
    }
}

/// Counts one worker counter from code that runs in the background already and has no
/// `Context` (a page persisted after an origin fetch): a count that starts a flush sends
/// at once, one that finds a flush running rides along with it. Never fails the caller.
pub async fn count_edge(env: &Env, name: &str) {
    if tally_count(name) == AfterCount::StartFlush {
        flush_edge_tally(env, false).await;
    }
}

fn tally_count(name: &str) -> AfterCount {
    TALLY.with(|t| t.borrow_mut().count(name, now_ms()))
}

/// One flush chain: up to `MAX_ROUNDS` sends of the whole tally, the first after the
/// gathering delay when `wait_first`, later ones only for what arrived meanwhile.
async fn flush_edge_tally(env: &Env, wait_first: bool) {
    let mut round = 1;
    loop {
        if wait_first || round > 1 {
            Delay::from(Duration::from_millis(FLUSH_DELAY_MS)).await;
        }
        let counts = TALLY.with(|t| t.borrow_mut().take());
        let sent = counts.is_empty() || send_edge_counts(env, &counts).await;
        let unsent = if sent { BTreeMap::new() } else { counts };
        if !TALLY.with(|t| t.borrow_mut().after_round(round, sent, unsent)) {
            return;
        }
        round += 1;
    }
}

async fn send_edge_counts(env: &Env, counts: &BTreeMap<String, u64>) -> bool {
    let sent = match Scheduler::new(env) {
        Ok(scheduler) => scheduler.call(SchedulerCall::EdgeCounts(counts)).await,
        Err(e) => Err(e),
    };
    match sent {
        Ok(_) => true,
        Err(e) => {
            worker::console_warn!("worker counters not sent yet ({} kept): {e}", counts.len());
            false
        }
    }
}
