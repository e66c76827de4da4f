//! `TaskScheduler`: the Durable Object that stores outbound tasks and runs them when due
//! (glue; the decisions are in [`launch_edge_core::outbound`]).
//!
//! **One object for the whole worker** (named [`SCHEDULER_NAME`]), not one per launch:
//! what must be shared is the budget. Every launch's Product Hunt calls spend the same
//! team token's 6,250 points per 15 minutes, and every alert to a Discord server spends
//! that server's webhook limit, so the [`BudgetTable`] must see every call, in one
//! place, with no await between "is there budget?" and "reserve it". The load is small
//! (hundreds of tasks and a poll every few minutes per launch), far below what one
//! object serves.
//!
//! **Alarms, not Queues.** A task has its own due time ("launch day 00:01 PT") and each
//! retry its own delay (full jitter, or exactly what `Retry-After` asked); an alarm set
//! to the earliest next attempt gives both to the millisecond, survives restarts (the
//! tasks and the alarm are durable storage), and keeps the budget check, the call and
//! its bookkeeping in one object. Queues would add a second store of the same tasks,
//! delays rounded to seconds and capped at 12 hours, and a consumer that still needs
//! this object for the budget; the dead-letter queue is a state here (`dead`), listed,
//! requeued and discarded through the admin API.
//!
//! Delivery is at least once, made safe by the idempotency key: an attempt is counted
//! and the task leased (its next attempt moved past the timeout) in storage before the
//! call leaves, so an object that dies mid-call retries it later with the same
//! `Idempotency-Key` / `X-Request-Id`, which the receiver can recognise.
//!
//! Routes (from the worker's admin glue in [`crate::routes::tasks`], never from the internet):
//! `POST /tasks` (a validated [`TaskSpec`]), `GET /tasks?state=`, `GET /tasks/:id`,
//! `POST /tasks/:id/requeue`, `DELETE /tasks/:id`, and the monitor's
//! `POST /monitor/run` and `GET /monitor/:launch` (see `monitor.rs`).

use std::cell::{Cell, RefCell};
use std::collections::HashSet;

use futures_util::future::join_all;
use serde_json::json;
use worker::{durable_object, DurableObject, Env, Method, Request, Response, Result, State};

use launch_edge_core::config::Config;
use launch_edge_core::tally;
use std::rc::Rc;

use crate::net::origin::now_ms;
use crate::net::outbound;
use crate::objects::InstanceConfig;
use launch_edge_core::outbound::record::{TaskRecord, TaskState};
use launch_edge_core::outbound::{
    Admit, BudgetTable, Credential, DeadReason, Decision, FnRng, TaskSpec,
};

pub mod client;
mod monitor;
mod store;

use store::Store;

/// The name of the one scheduler object.
pub const SCHEDULER_NAME: &str = "scheduler";
/// Tasks started by one alarm; the rest wait for the next one, moments later.
const MAX_TASKS_PER_ALARM: usize = 32;
/// A leased task runs again this long after its timeout if its attempt never finished.
const LEASE_PAD_MS: u64 = 30_000;

/// Operational counters kept by the object (shown by `GET /admin/tasks`).
pub const COUNTER_OUTBOUND_429: &str = "outbound_429";
pub const COUNTER_RETRY: &str = "task_retry";
pub const COUNTER_DEAD_LETTER: &str = "task_dead_letter";
pub const COUNTER_DELIVERED: &str = "task_delivered";
pub const COUNTER_EDGE_CALLS: &str = "edge_calls";

#[durable_object]
pub struct TaskScheduler {
    state: State,
    env: Env,
    budgets: RefCell<Option<BudgetTable>>,
    in_flight: RefCell<HashSet<String>>,
    drain_failures: Cell<u32>,
    config: InstanceConfig,
}

impl DurableObject for TaskScheduler {
    fn new(state: State, env: Env) -> Self {
        Self {
            state,
            env,
            budgets: RefCell::new(None),
            in_flight: RefCell::new(HashSet::new()),
            drain_failures: Cell::new(0),
            config: InstanceConfig::default(),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let store = self.store()?;
        let path = req.path();
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let now = now_ms();
        match (req.method(), segments.as_slice()) {
            (Method::Post, ["tasks"]) => {
                let spec: TaskSpec = serde_json::from_str(&req.text().await?)?;
                if let Some(existing) = store.task(&spec.idempotency_key)? {
                    return json_response(
                        200,
                        &json!({ "created": false, "task": existing.view(true) }),
                    );
                }
                let task = TaskRecord::new(spec, now);
                store.save(&task)?;
                self.rearm(&store).await?;
                json_response(201, &json!({ "created": true, "task": task.view(true) }))
            }
            (Method::Get, ["tasks"]) => {
                let state = req
                    .url()?
                    .query_pairs()
                    .find(|(k, _)| k == "state")
                    .map(|(_, v)| v.into_owned());
                let state = match state.as_deref().map(TaskState::parse) {
                    None => None,
                    Some(Some(s)) => Some(s),
                    Some(None) => return json_response(400, &json!({ "error": "invalid_state" })),
                };
                let tasks: Vec<_> = store.list(state)?.iter().map(|t| t.view(false)).collect();
                json_response(200, &json!({ "summary": store.summary()?, "tasks": tasks }))
            }
            (Method::Get, ["tasks", id]) => match store.task(id)? {
                Some(task) => json_response(200, &task.view(true)),
                None => not_found(),
            },
            (Method::Post, ["tasks", id, "requeue"]) => {
                let Some(mut task) = store.task(id)? else {
                    return not_found();
                };
                if task.requeue(now).is_err() {
                    return json_response(
                        409,
                        &json!({ "error": "task_not_dead", "state": task.state }),
                    );
                }
                store.save(&task)?;
                self.rearm(&store).await?;
                json_response(200, &task.view(true))
            }
            (Method::Delete, ["tasks", id]) => {
                let Some(task) = store.task(id)? else {
                    return not_found();
                };
                if task.state != TaskState::Dead {
                    return json_response(
                        409,
                        &json!({ "error": "task_not_dead", "state": task.state }),
                    );
                }
                store.delete(id)?;
                json_response(200, &json!({ "discarded": id }))
            }
            (Method::Post, ["monitor", "run"]) => {
                let body: serde_json::Value = serde_json::from_str(&req.text().await?)?;
                let at = body.get("now_ms").and_then(|v| v.as_u64()).unwrap_or(now);
                let config = self.config()?;
                let report = self.run_monitor(&store, &config, at).await?;
                self.rearm(&store).await?;
                json_response(200, &report)
            }
            (Method::Get, ["monitor", launch]) => json_response(200, &store.series(launch)?),
            // Worker counters from elsewhere (webhook rejections, origin fetches), drained
            // with ours: an isolate's aggregate `{"counts": {name: n}}`, sent at most once
            // per isolate every couple of seconds (`launch_edge_core::tally`), so a flood of
            // rejected requests never queues in front of task delivery.
            (Method::Post, ["edge"]) => {
                let body: EdgeCounts = match serde_json::from_str(&req.text().await?) {
                    Ok(body) => body,
                    Err(_) => return json_response(400, &json!({ "error": "invalid_counts" })),
                };
                if body.counts.len() > MAX_EDGE_NAMES
                    || !body
                        .counts
                        .keys()
                        .all(|key| tally::parse_key(key).is_some())
                {
                    return json_response(400, &json!({ "error": "invalid_counts" }));
                }
                for (key, n) in &body.counts {
                    let (new_row, launch_rows) = store.pending_launch_rows(key, now)?;
                    store.bump_by(tally::fold_launch(key, new_row, launch_rows), *n, now)?;
                }
                // How many calls worker counting cost this object (the flood test's gauge).
                store.bump(COUNTER_EDGE_CALLS, now)?;
                self.rearm(&store).await?;
                json_response(200, &json!({ "counted": body.counts.len() }))
            }
            _ => json_response(404, &json!({ "error": "not_found" })),
        }
    }

    async fn alarm(&self) -> Result<Response> {
        let store = self.store()?;
        let config = self.config()?;
        self.run_due(&store, &config).await?;
        self.drain(&store, &config).await?;
        self.rearm(&store).await?;
        Response::ok("ran")
    }
}

impl TaskScheduler {
    fn store(&self) -> Result<Store> {
        Store::open(self.state.storage().sql())
    }

    fn config(&self) -> Result<Rc<Config>> {
        self.config.get(&self.env)
    }

    /// The budget table, loaded from storage once per instance.
    fn with_budgets<T>(&self, store: &Store, f: impl FnOnce(&mut BudgetTable) -> T) -> Result<T> {
        let mut slot = self.budgets.borrow_mut();
        if slot.is_none() {
            *slot = Some(store.budgets()?);
        }
        let table = slot.as_mut().expect("just loaded");
        let out = f(table);
        store.save_budgets(table)?;
        Ok(out)
    }

    /// The alarm at the earliest next attempt (or drain retry), or none.
    async fn rearm(&self, store: &Store) -> Result<()> {
        let storage = self.state.storage();
        match store.next_wake_ms()? {
            Some(at) => {
                let offset = at.saturating_sub(now_ms()) as i64;
                storage.set_alarm(offset.max(0)).await
            }
            None => storage.delete_alarm().await,
        }
    }

    async fn run_due(&self, store: &Store, config: &Config) -> Result<()> {
        let due: Vec<TaskRecord> = store
            .due(now_ms(), MAX_TASKS_PER_ALARM)?
            .into_iter()
            .filter(|t| !self.in_flight.borrow().contains(t.id()))
            .collect();
        let attempts = due
            .into_iter()
            .map(|task| self.attempt(store, config, task));
        for result in join_all(attempts).await {
            if let Err(e) = result {
                worker::console_error!("task attempt failed in the scheduler: {e}");
            }
        }
        Ok(())
    }

    /// One attempt of one task: budget, call, classification, bookkeeping.
    async fn attempt(&self, store: &Store, config: &Config, mut task: TaskRecord) -> Result<()> {
        let settings = &config.outbound;
        let request = task.spec.request(&settings.endpoints);
        let token = settings.product_hunt_token.as_ref();
        let now = now_ms();
        if request.credential == Credential::ProductHuntToken && token.is_none() {
            task.kill(
                DeadReason::Permanent,
                "PRODUCT_HUNT_TOKEN is not set: set the secret, then requeue the task".into(),
                now,
            );
            store.bump(COUNTER_DEAD_LETTER, now)?;
            return store.save(&task);
        }
        match self.with_budgets(store, |b| b.admit(&request.budget_key, request.cost, now))? {
            Admit::Now => {}
            Admit::WaitUntil(at) => {
                task.postpone(at, now);
                return store.save(&task);
            }
            Admit::TooExpensive { cost, capacity } => {
                let error =
                    format!("cost {cost} exceeds the {capacity} points a budget window allows");
                task.kill(DeadReason::Permanent, error, now);
                store.bump(COUNTER_DEAD_LETTER, now)?;
                return store.save(&task);
            }
        }
        let attempt = task.start_attempt(now, now + settings.timeout_ms + LEASE_PAD_MS);
        store.save(&task)?;

        let id = task.id().to_owned();
        self.in_flight.borrow_mut().insert(id.clone());
        let answer = outbound::send(&request, token, settings.timeout_ms).await;
        self.in_flight.borrow_mut().remove(&id);

        let now = now_ms();
        self.with_budgets(store, |b| {
            b.observe(&request.budget_key, &answer.rate_limit, answer.status, now)
        })?;
        let mut rng = FnRng(|| (worker::js_sys::Math::random() * u64::MAX as f64) as u64);
        let decision = settings.backoff(task.spec.max_attempts).decide(
            attempt,
            &answer.outcome,
            answer.rate_limit.server_delay_ms(answer.status),
            &mut rng,
        );
        if answer.status == Some(429) {
            store.bump(COUNTER_OUTBOUND_429, now)?;
        }
        let counter = match &decision {
            Decision::Delivered => COUNTER_DELIVERED,
            Decision::Retry { .. } => COUNTER_RETRY,
            Decision::DeadLetter { .. } => COUNTER_DEAD_LETTER,
        };
        store.bump(counter, now)?;
        if let Decision::DeadLetter { .. } = decision {
            worker::console_warn!(
                "task {id} to {} dead-lettered after {attempt} attempts: {}",
                task.spec.redacted_target(),
                answer.outcome.describe()
            );
        }
        task.finish_attempt(&decision, answer.describe(), now);
        store.save(&task)
    }
}

fn json_response(status: u16, body: &serde_json::Value) -> Result<Response> {
    Ok(Response::from_json(body)?.with_status(status))
}

fn not_found() -> Result<Response> {
    json_response(404, &json!({ "error": "task_not_found" }))
}

/// Distinct counter names one `/edge` call may carry (an isolate tally keeps 64).
const MAX_EDGE_NAMES: usize = 128;

/// The body of `POST /edge`.
#[derive(serde::Deserialize)]
struct EdgeCounts {
    counts: std::collections::BTreeMap<String, u64>,
}
