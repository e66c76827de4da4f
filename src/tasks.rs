//! `/admin/tasks` and `/admin/monitor`: the operator's side of outbound tasks, and the
//! launch monitor's entry point for the cron (glue; the scheduler object does the work).
//!
//! The worker validates a task body here ([`TaskSpec::from_json`], where the mutation
//! allowlist and the webhook allowlist refuse what must never be sent) and hands the
//! validated spec to the one `TaskScheduler` object, which stores it and answers.
//! Relative due times (`launch day 00:01 PT`, `launch+2h`) need the launch's instant:
//! the body carries it as `launch_at` (RFC 3339), read here and not stored, so creating
//! a task never waits on the origin.
//!
//! | route | answer |
//! | --- | --- |
//! | `POST /admin/tasks` | 201 and the task; 200 and the existing task for a known idempotency key |
//! | `GET /admin/tasks?state=pending\|dead\|delivered` | a summary (counts, 429s, retries, dead letters) and the tasks |
//! | `GET /admin/tasks/:id` | one task with its payload and attempt history (the id is its idempotency key) |
//! | `POST /admin/tasks/:id/requeue` | a dead task back to pending, due now, attempts reset |
//! | `DELETE /admin/tasks/:id` | discards a dead task |
//! | `POST /admin/monitor/run` | one monitor run now (what the cron does every minute) |
//! | `GET /admin/monitor/:launch` | the monitor's series and fired milestones |

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use worker::{Delay, Env, Method, Request, RequestInit, Response, Stub};

use crate::bindings;
use crate::config::Config;
use crate::edge_tally::{AfterCount, EdgeTally, FLUSH_DELAY_MS};
use crate::error::AppError;
use crate::origin_client::now_ms;
use crate::outbound::task::MAX_TASK_BYTES;
use crate::outbound::{TaskContext, TaskError, TaskSpec};
use crate::task_scheduler::SCHEDULER_NAME;

/// Dispatches `/admin/tasks…` and `/admin/monitor…` (`rest` is the path after `/admin`).
pub async fn handle(
    req: &mut Request,
    rest: &[&str],
    config: &Config,
    env: &Env,
) -> Result<Response, AppError> {
    match (req.method(), rest) {
        (Method::Post, ["tasks"]) => create(req, config, env).await,
        (Method::Get, ["tasks"]) => {
            let query = req
                .url()?
                .query()
                .map(|q| format!("?{q}"))
                .unwrap_or_default();
            forward(env, Method::Get, &format!("/tasks{query}"), None).await
        }
        (Method::Get, ["tasks", id]) => {
            forward(env, Method::Get, &format!("/tasks/{id}"), None).await
        }
        (Method::Post, ["tasks", id, "requeue"]) => {
            forward(env, Method::Post, &format!("/tasks/{id}/requeue"), None).await
        }
        (Method::Delete, ["tasks", id]) => {
            forward(env, Method::Delete, &format!("/tasks/{id}"), None).await
        }
        (Method::Post, ["monitor", "run"]) => {
            let body = serde_json::json!({ "now_ms": now_ms() }).to_string();
            forward(env, Method::Post, "/monitor/run", Some(body)).await
        }
        (Method::Get, ["monitor", launch]) => {
            let slug = launch_edge_proto::Slug::parse(launch)?;
            forward(env, Method::Get, &format!("/monitor/{slug}"), None).await
        }
        _ => Err(AppError::RouteNotFound),
    }
}

/// One launch-monitor run: polls the configured launches that are due, within the
/// Product Hunt budget, and enqueues the alerts of newly crossed milestones. Called by
/// the every-minute cron; does nothing when `MONITOR_LAUNCHES` is empty.
pub async fn run_monitor(env: &Env, config: &Config, now_ms: u64) -> Result<(), AppError> {
    if config.outbound.monitor_launches.is_empty() {
        return Ok(());
    }
    let body = serde_json::json!({ "now_ms": now_ms }).to_string();
    let response = forward(env, Method::Post, "/monitor/run", Some(body)).await?;
    if response.status_code() == 200 {
        Ok(())
    } else {
        Err(AppError::Internal(format!(
            "monitor run answered {}",
            response.status_code()
        )))
    }
}

async fn create(req: &mut Request, config: &Config, env: &Env) -> Result<Response, AppError> {
    let bytes = req.bytes().await?;
    if bytes.len() > MAX_TASK_BYTES {
        return Err(TaskError::TooLarge.into());
    }
    let mut body: Value = serde_json::from_slice(&bytes).map_err(|_| TaskError::InvalidJson)?;
    let launch_at = match body.as_object_mut().and_then(|o| o.remove("launch_at")) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(
            DateTime::parse_from_rfc3339(s.trim())
                .map_err(|_| AppError::BadRequest("invalid_launch_at"))?
                .with_timezone(&Utc),
        ),
        Some(_) => return Err(AppError::BadRequest("invalid_launch_at")),
    };
    let ctx = TaskContext {
        now_ms: now_ms(),
        launch_at,
        webhooks: &config.outbound.webhooks,
        default_max_attempts: config.outbound.default_max_attempts,
    };
    let spec = TaskSpec::from_json(&body, &ctx)?;
    forward(
        env,
        Method::Post,
        "/tasks",
        Some(serde_json::to_string(&spec)?),
    )
    .await
}

thread_local! {
    /// This isolate's worker counters not yet sent (see `crate::edge_tally`).
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
    let body = serde_json::json!({ "counts": counts }).to_string();
    match forward(env, Method::Post, "/edge", Some(body)).await {
        Ok(_) => true,
        Err(e) => {
            worker::console_warn!("worker counters not sent yet ({} kept): {e}", counts.len());
            false
        }
    }
}

fn scheduler(env: &Env) -> Result<Stub, AppError> {
    Ok(env
        .durable_object(bindings::TASK_SCHEDULER)?
        .id_from_name(SCHEDULER_NAME)?
        .get_stub()?)
}

/// Calls the scheduler and passes its answer on; its 404 and 409 become typed errors.
async fn forward(
    env: &Env,
    method: Method,
    path: &str,
    body: Option<String>,
) -> Result<Response, AppError> {
    let mut init = RequestInit::new();
    init.with_method(method);
    if let Some(body) = body {
        init.with_body(Some(body.into()));
    }
    let request = Request::new_with_init(&format!("https://scheduler{path}"), &init)?;
    let mut response = scheduler(env)?.fetch_with_request(request).await?;
    match response.status_code() {
        404 => Err(AppError::TaskNotFound),
        409 => {
            let state = response
                .json::<Value>()
                .await
                .ok()
                .and_then(|v| v.get("state").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or_default();
            Err(AppError::TaskNotDead(state))
        }
        400 => Err(AppError::BadRequest("invalid_state")),
        status if status >= 500 => Err(AppError::Internal(format!(
            "task scheduler answered {status}: {}",
            response.text().await.unwrap_or_default()
        ))),
        _ => Ok(response),
    }
}
