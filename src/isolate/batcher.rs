//! Sends an isolate's counted events to the shards in batches (glue for
//! [`launch_edge_core::count::lanes`], which decides who sends what, and keeps a failed batch to
//! resend it under the same flush id: the shard applies each flush id once).
//!
//! One driver per lane sends its batches, in `ctx.wait_until` of the request that
//! claimed the lane (so a client hanging up never cuts a batch short), until the lane is
//! empty; events that arrive meanwhile only queue. Whoever settles a batch leaves each
//! waiter's outcome in that waiter's [`Slot`]; waiters look on their own timers
//! ([`crate::isolate::handoff`] explains why nobody is woken across requests), and at
//! each look make sure the lane still has a live driver, claiming it for their own
//! request when it has none. No request ever touches another one's I/O objects.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use worker::{Context, Delay, Env};

use launch_edge_core::config::Config;
use launch_edge_core::count::lanes::{AfterPush, Batch, DriverToken, Lanes};
use launch_edge_core::count::shard::CountedEvent;
use launch_edge_core::poll::Pauses;

use crate::error::AppError;
use crate::isolate::handoff::{self, Slot, POLL_CAP};
use crate::isolate::shard_faults::{self, ShardFault};
use crate::net::origin::now_ms;
use crate::objects::counter_shard::client::{ShardAnswer, ShardClient};

/// How long views gather before their lane's timer sends them.
pub const VIEW_WINDOW: Duration = Duration::from_millis(500);
/// How long a driver that claimed an idle lane for an acknowledged event waits before its
/// first batch, so that the isolate's concurrent events share the shard call.
const ACK_GATHER: Duration = Duration::from_millis(2);
/// How long an acknowledged event waits for its batch before the request gives up.
const ACK_PATIENCE: Duration = Duration::from_secs(20);
/// The longest a driver waits for a failed batch's backoff before looking again.
const IDLE_RECHECK: Duration = Duration::from_secs(1);
/// How long one driver keeps sending: within the 30 s a `wait_until` may outlive its
/// response. What is still unacknowledged then stays in the lane for the next driver.
const DRIVE_PATIENCE_MS: u64 = 25_000;

/// What a waiting request is left: counted, or why not.
#[derive(Debug, Clone, Copy)]
enum Outcome {
    Counted,
    NotCounted(&'static str),
}

thread_local! {
    static LANES: RefCell<Lanes<Slot<Outcome>>> = RefCell::new(Lanes::new(now_ms() as u32, isolate_id()));
}

/// 64 random bits in hex: flush ids of two isolates never meet in a shard's memory.
fn isolate_id() -> String {
    let half = || (worker::js_sys::Math::random() * f64::from(u32::MAX)) as u32;
    format!("{:08x}{:08x}", half(), half())
}

/// Counts an event nobody waits for (a view): queued, sent within [`VIEW_WINDOW`].
pub fn count_later(env: &Env, config: &Rc<Config>, ctx: &Context, event: CountedEvent) {
    let launch = event.launch.clone();
    let Ok((_, next)) = LANES.with(|l| l.borrow_mut().push(event, None)) else {
        // The lane is full because its shard keeps failing: this view was never
        // acknowledged to anyone, and the kept queue must stay bounded.
        worker::console_warn!("counting lane of {launch} is full; a view is not counted");
        return;
    };
    match next {
        AfterPush::Drive => ensure_driven(env, config, ctx, &launch, Duration::ZERO),
        AfterPush::ArmTimer => {
            let (env, config) = (env.clone(), Rc::clone(config));
            ctx.wait_until(async move {
                Delay::from(VIEW_WINDOW).await;
                let until = LANES.with(|l| l.borrow_mut().timer_fired(&launch));
                see_sent(&env, &config, &launch, until).await;
            })
        }
        AfterPush::Nothing => {}
    }
}

/// Counts an event and returns once its shard stored it (clicks, conversions).
pub async fn count_acked(
    env: &Env,
    config: &Rc<Config>,
    ctx: &Context,
    event: CountedEvent,
) -> Result<(), AppError> {
    let launch = event.launch.clone();
    let slot = Slot::new();
    let (id, _) = LANES
        .with(|l| l.borrow_mut().push(event, Some(slot.clone())))
        .map_err(|_| AppError::CountingUnavailable)?;
    // Concurrent events of this isolate join the batch meanwhile (group commit).
    ensure_driven(env, config, ctx, &launch, ACK_GATHER);
    let outcome = handoff::wait_watching(&slot, ACK_PATIENCE, || {
        // The driver's context may have ended without it letting go: take over.
        let orphaned = LANES.with(|l| {
            let lanes = l.borrow();
            lanes.waiting(&launch, id) && !lanes.has_live_driver(&launch, now_ms())
        });
        if orphaned {
            ensure_driven(env, config, ctx, &launch, Duration::ZERO);
        }
    })
    .await;
    match outcome {
        Some(Outcome::Counted) => Ok(()),
        Some(Outcome::NotCounted(why)) => Err(AppError::Internal(why.into())),
        None => Err(AppError::Internal("count timed out".into())),
    }
}

/// Claims `launch`'s lane for this request unless a live driver has it, and then sends
/// its batches in `ctx.wait_until`, after `gather`.
fn ensure_driven(env: &Env, config: &Rc<Config>, ctx: &Context, launch: &str, gather: Duration) {
    let Some(token) = LANES.with(|l| l.borrow_mut().claim(launch, now_ms())) else {
        return;
    };
    let (env, config, launch) = (env.clone(), Rc::clone(config), launch.to_owned());
    ctx.wait_until(async move {
        if !gather.is_zero() {
            Delay::from(gather).await;
        }
        drive(&env, &config, &launch, token).await;
    });
}

/// Makes sure every event of `launch` with id `until` or older is sent: drives the lane
/// itself whenever it finds no live driver, for at most [`DRIVE_PATIENCE_MS`] (views).
async fn see_sent(env: &Env, config: &Config, launch: &str, until: u64) {
    let deadline = now_ms().saturating_add(DRIVE_PATIENCE_MS);
    let mut pauses = Pauses::up_to(POLL_CAP.as_millis() as u64);
    while LANES.with(|l| l.borrow().waiting(launch, until)) && now_ms() < deadline {
        match LANES.with(|l| l.borrow_mut().claim(launch, now_ms())) {
            Some(token) => {
                drive(env, config, launch, token).await;
                pauses.reset();
            }
            None => Delay::from(Duration::from_millis(pauses.next_pause())).await,
        }
    }
}

/// Sends batches of `launch` as its driver until the lane is empty, resending a failed
/// batch after its backoff, for at most [`DRIVE_PATIENCE_MS`].
async fn drive(env: &Env, config: &Config, launch: &str, token: DriverToken) {
    let deadline = now_ms().saturating_add(DRIVE_PATIENCE_MS);
    let mut pauses = Pauses::up_to(POLL_CAP.as_millis() as u64);
    loop {
        let now = now_ms();
        if !LANES.with(|l| l.borrow_mut().keep_driving(launch, token, now)) {
            return;
        }
        if now > deadline {
            worker::console_warn!(
                "events of {launch} still unacknowledged; kept for the next send"
            );
            LANES.with(|l| l.borrow_mut().release(launch, token));
            return;
        }
        let batch = LANES.with(|l| l.borrow_mut().take(launch, now, config.counter_shards));
        match batch {
            Some(batch) => {
                let mut flight = InFlight::new(batch);
                let outcome = send(env, &flight.batch).await;
                flight.settle(outcome);
                pauses.reset();
            }
            // A batch is in flight (a driver this one replaced sends it: look again soon)
            // or backing off (look when it ends).
            None => {
                let pause = match LANES.with(|l| l.borrow().retry_in(launch, now_ms())) {
                    Some(ms) => Duration::from_millis(ms.max(1)).min(IDLE_RECHECK),
                    None => Duration::from_millis(pauses.next_pause()),
                };
                Delay::from(pause).await;
            }
        }
    }
}

/// A batch being sent; if its future is dropped unfinished, the batch is kept in its
/// lane as failed (resent later under the same flush id) and its waiters keep waiting.
struct InFlight {
    batch: Batch<Slot<Outcome>>,
    done: bool,
}

impl InFlight {
    fn new(batch: Batch<Slot<Outcome>>) -> Self {
        Self { batch, done: false }
    }

    fn settle(&mut self, outcome: Result<ShardAnswer, AppError>) {
        self.done = true;
        let (launch, flush_id) = (self.batch.launch.clone(), self.batch.flush_id.clone());
        let waiters = std::mem::take(&mut self.batch.waiters);
        match outcome {
            Ok(ShardAnswer::Stored) => {
                answer(&waiters, Outcome::Counted);
                LANES.with(|l| l.borrow_mut().finish(&launch, &flush_id));
            }
            Ok(ShardAnswer::Refused(status)) => {
                worker::console_error!(
                    "{} events of {launch} refused by their shard ({status}); not counted",
                    self.batch.events.len()
                );
                answer(&waiters, Outcome::NotCounted("refused by the shard"));
                LANES.with(|l| l.borrow_mut().discard(&launch, &flush_id));
            }
            Err(e) => {
                worker::console_warn!("flush {flush_id} of {launch} failed ({e}); kept to resend");
                self.fail(waiters);
            }
        }
    }

    fn fail(&self, waiters: Vec<Slot<Outcome>>) {
        let given_up = LANES.with(|l| {
            l.borrow_mut()
                .fail(&self.batch.launch, self.batch.ticket, waiters, now_ms())
        });
        answer(&given_up, Outcome::NotCounted("not counted"));
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if !self.done {
            let waiters = std::mem::take(&mut self.batch.waiters);
            self.fail(waiters);
        }
    }
}

/// Leaves each waiter its outcome.
fn answer(waiters: &[Slot<Outcome>], outcome: Outcome) {
    for waiter in waiters {
        waiter.fill(outcome);
    }
}

async fn send(env: &Env, batch: &Batch<Slot<Outcome>>) -> Result<ShardAnswer, AppError> {
    let fault = shard_faults::take();
    if fault == Some(ShardFault::Fail) {
        return Err(AppError::Internal("test fault: shard call failed".into()));
    }
    let answer = ShardClient::of(env, &batch.launch, batch.shard)?
        .count_batch(&batch.events, &batch.flush_id)
        .await?;
    if fault == Some(ShardFault::LoseAnswer) {
        return Err(AppError::Internal("test fault: shard answer lost".into()));
    }
    Ok(answer)
}
