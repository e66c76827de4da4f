//! Sends an isolate's counted events to the shards in batches (glue for
//! [`crate::count_lanes`], which decides who sends what).
//!
//! Every send runs in `ctx.wait_until` of the request that drives it, so a client
//! hanging up never cuts a batch short. Requests wait on JS promises created in their
//! own context and resolved with plain values by whichever request sent their batch,
//! the same rule as [`crate::single_flight`]: no request ever touches another one's
//! I/O objects.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use futures_util::future::{select, Either};
use worker::js_sys::{Function, Promise};
use worker::wasm_bindgen::JsValue;
use worker::wasm_bindgen_futures::JsFuture;
use worker::{Context, Delay, Env};

use crate::config::Config;
use crate::count_lanes::{AfterPush, Batch, Lanes};
use crate::counters::{shard_name, CountedEvent};
use crate::counting;
use crate::error::AppError;
use crate::origin_client::now_ms;

/// How long views gather before their lane's timer sends them.
pub const VIEW_WINDOW: Duration = Duration::from_millis(500);
/// How long an acknowledged event waits for its batch before the request gives up.
const ACK_PATIENCE: Duration = Duration::from_secs(20);
/// How long a driver waits for the batch in flight before looking again.
const IDLE_RECHECK: Duration = Duration::from_secs(1);

thread_local! {
    static LANES: RefCell<Lanes<Function>> = RefCell::new(Lanes::new(now_ms() as u32));
}

/// Counts an event nobody waits for (a view): queued, sent within [`VIEW_WINDOW`].
pub fn count_later(env: &Env, config: &Rc<Config>, ctx: &Context, event: CountedEvent) {
    let launch = event.launch.clone();
    let (id, next) = LANES.with(|l| l.borrow_mut().push(event, None));
    let (env, config) = (env.clone(), Rc::clone(config));
    match next {
        AfterPush::Drive => ctx.wait_until(async move { drive(&env, &config, &launch, id).await }),
        AfterPush::ArmTimer => ctx.wait_until(async move {
            Delay::from(VIEW_WINDOW).await;
            let until = LANES.with(|l| l.borrow_mut().timer_fired(&launch));
            drive(&env, &config, &launch, until).await;
        }),
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
    let (promise, resolve) = promise();
    let (id, _) = LANES.with(|l| l.borrow_mut().push(event, Some(resolve)));
    let (env, config) = (env.clone(), Rc::clone(config));
    ctx.wait_until(async move { drive(&env, &config, &launch, id).await });
    match select(JsFuture::from(promise), Delay::from(ACK_PATIENCE)).await {
        Either::Left((Ok(value), _)) if value.is_null() => Ok(()),
        Either::Left((Ok(value), _)) => Err(AppError::Internal(
            value.as_string().unwrap_or_else(|| "not counted".into()),
        )),
        Either::Left((Err(_), _)) => Err(AppError::Internal("not counted".into())),
        Either::Right(_) => Err(AppError::Internal("count timed out".into())),
    }
}

/// Sends batches of `launch` until nothing with id `until` or older is queued.
async fn drive(env: &Env, config: &Config, launch: &str, until: u64) {
    loop {
        if !LANES.with(|l| l.borrow().waiting(launch, until)) {
            return;
        }
        let batch = LANES.with(|l| l.borrow_mut().take(launch, now_ms(), config.counter_shards));
        match batch {
            Some(batch) => {
                let mut flight = InFlight::new(batch);
                let outcome = send(env, &flight.batch).await;
                if let Err(e) = &outcome {
                    worker::console_error!(
                        "{} events of {launch} not counted: {e}",
                        flight.batch.events.len()
                    );
                }
                flight.finish(outcome.err().map(|e| e.to_string()));
            }
            None => {
                let (idle, wake) = promise();
                LANES.with(|l| l.borrow_mut().wait_idle(launch, wake));
                let _ = select(JsFuture::from(idle), Delay::from(IDLE_RECHECK)).await;
            }
        }
    }
}

/// A batch being sent; if its future is dropped unfinished, its waiters hear "failed"
/// and the lane is freed.
struct InFlight {
    batch: Batch<Function>,
    done: bool,
}

impl InFlight {
    fn new(batch: Batch<Function>) -> Self {
        Self { batch, done: false }
    }

    /// `error`: `None` when the shard stored the batch.
    fn finish(&mut self, error: Option<String>) {
        self.done = true;
        let answer = error.map_or(JsValue::NULL, |e| JsValue::from_str(&e));
        for waiter in self.batch.waiters.drain(..) {
            let _ = waiter.call1(&JsValue::NULL, &answer);
        }
        let idle = LANES.with(|l| l.borrow_mut().finish(&self.batch.launch, self.batch.ticket));
        for wake in idle {
            let _ = wake.call0(&JsValue::NULL);
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if !self.done {
            self.finish(Some("batch abandoned".into()));
        }
    }
}

async fn send(env: &Env, batch: &Batch<Function>) -> Result<(), AppError> {
    let name = shard_name(&batch.launch, batch.shard);
    let body = serde_json::to_string(&batch.events)?;
    counting::post_to_shard(env, &name, "/count-batch", body, None).await
}

/// A JS promise and its resolver, created in the current request's context.
fn promise() -> (Promise, Function) {
    let mut resolver = None;
    let promise = Promise::new(&mut |resolve, _reject| resolver = Some(resolve));
    (
        promise,
        resolver.expect("the Promise executor runs synchronously"),
    )
}
