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

use chrono::{DateTime, Utc};
use serde_json::Value;
use worker::{Env, Method, Request, Response};

use launch_edge_core::config::Config;
use launch_edge_core::outbound::task::MAX_TASK_BYTES;
use launch_edge_core::outbound::{TaskContext, TaskError, TaskSpec};

use crate::error::AppError;
use crate::net::origin::now_ms;
use crate::objects::task_scheduler::client::{Scheduler, SchedulerAnswer, SchedulerCall};

/// Dispatches `/admin/tasks…` and `/admin/monitor…` (`rest` is the path after `/admin`).
pub async fn handle(
    req: &mut Request,
    rest: &[&str],
    config: &Config,
    env: &Env,
) -> Result<Response, AppError> {
    let scheduler = Scheduler::new(env)?;
    let answer = match (req.method(), rest) {
        (Method::Post, ["tasks"]) => {
            let spec = validated_task(req, config).await?;
            scheduler.call(SchedulerCall::CreateTask(&spec)).await?
        }
        (Method::Get, ["tasks"]) => {
            let state = req
                .url()?
                .query_pairs()
                .find(|(k, _)| k == "state")
                .map(|(_, v)| v.into_owned());
            let state = state.as_deref();
            scheduler.call(SchedulerCall::ListTasks { state }).await?
        }
        (Method::Get, ["tasks", id]) => scheduler.call(SchedulerCall::ShowTask(id)).await?,
        (Method::Post, ["tasks", id, "requeue"]) => {
            scheduler.call(SchedulerCall::RequeueTask(id)).await?
        }
        (Method::Delete, ["tasks", id]) => scheduler.call(SchedulerCall::DiscardTask(id)).await?,
        (Method::Post, ["monitor", "run"]) => {
            let now_ms = now_ms();
            scheduler.call(SchedulerCall::RunMonitor { now_ms }).await?
        }
        (Method::Get, ["monitor", launch]) => {
            let slug = launch_edge_proto::Slug::parse(launch)?;
            scheduler
                .call(SchedulerCall::MonitorSeries(slug.as_str()))
                .await?
        }
        _ => return Err(AppError::RouteNotFound),
    };
    let SchedulerAnswer { status, body } = answer;
    Ok(Response::from_json(&body)?.with_status(status))
}

/// The body of `POST /admin/tasks`, validated ([`TaskSpec::from_json`]: the mutation
/// and webhook allowlists refuse what must never be sent).
async fn validated_task(req: &mut Request, config: &Config) -> Result<TaskSpec, AppError> {
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
    Ok(TaskSpec::from_json(&body, &ctx)?)
}
