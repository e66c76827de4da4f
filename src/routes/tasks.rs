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

use launch_edge_core::bindings;
use launch_edge_core::config::Config;
use launch_edge_core::tally::{AfterCount, EdgeTally, FLUSH_DELAY_MS};
use crate::error::AppError;
use crate::net::origin::now_ms;
use launch_edge_core::outbound::task::MAX_TASK_BYTES;
use launch_edge_core::outbound::{TaskContext, TaskError, TaskSpec};
use crate::objects::task_scheduler::SCHEDULER_NAME;

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
