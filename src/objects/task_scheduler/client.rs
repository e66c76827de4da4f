//! The typed client of [`super::TaskScheduler`], the one object that runs outbound tasks:
//! callers name a [`SchedulerCall`] and get its JSON answer, or a typed error for the
//! scheduler's refusals (404 task not found, 409 not dead, 400 invalid state). No caller
//! builds a scheduler path or reads its status codes.

use std::collections::BTreeMap;

use launch_edge_core::bindings;
use launch_edge_core::outbound::TaskSpec;
use serde_json::{json, Value};
use worker::{Env, Method, Stub, Url};

use super::SCHEDULER_NAME;
use crate::error::AppError;

/// What a caller asks of the scheduler.
pub enum SchedulerCall<'a> {
    /// `POST /tasks`: 201 and the task, or 200 and the existing one for a known key.
    CreateTask(&'a TaskSpec),
    /// `GET /tasks?state=`: the summary and the tasks.
    ListTasks { state: Option<&'a str> },
    /// `GET /tasks/:id`.
    ShowTask(&'a str),
    /// `POST /tasks/:id/requeue`: a dead task back to pending.
    RequeueTask(&'a str),
    /// `DELETE /tasks/:id`: discards a dead task.
    DiscardTask(&'a str),
    /// `POST /monitor/run`: one launch-monitor run at `now_ms`.
    RunMonitor { now_ms: u64 },
    /// `GET /monitor/:launch`: the monitor's series and milestones.
    MonitorSeries(&'a str),
    /// `POST /edge`: an isolate's aggregate of worker counters.
    EdgeCounts(&'a BTreeMap<String, u64>),
}

impl SchedulerCall<'_> {
    fn request(&self) -> Result<(Method, String, Option<String>), AppError> {
        Ok(match self {
            SchedulerCall::CreateTask(spec) => (
                Method::Post,
                "/tasks".into(),
                Some(serde_json::to_string(spec)?),
            ),
            SchedulerCall::ListTasks { state } => {
                let mut url = Url::parse("https://scheduler/tasks").expect("static URL");
                if let Some(state) = state {
                    url.query_pairs_mut().append_pair("state", state);
                }
                let query = url.query().map(|q| format!("?{q}")).unwrap_or_default();
                (Method::Get, format!("/tasks{query}"), None)
            }
            SchedulerCall::ShowTask(id) => (Method::Get, format!("/tasks/{id}"), None),
            SchedulerCall::RequeueTask(id) => (Method::Post, format!("/tasks/{id}/requeue"), None),
            SchedulerCall::DiscardTask(id) => (Method::Delete, format!("/tasks/{id}"), None),
            SchedulerCall::RunMonitor { now_ms } => (
                Method::Post,
                "/monitor/run".into(),
                Some(json!({ "now_ms": now_ms }).to_string()),
            ),
            SchedulerCall::MonitorSeries(launch) => {
                (Method::Get, format!("/monitor/{launch}"), None)
            }
            SchedulerCall::EdgeCounts(counts) => (
                Method::Post,
                "/edge".into(),
                Some(json!({ "counts": counts }).to_string()),
            ),
        })
    }
}

/// A successful answer: its status (200 or 201) and JSON body.
pub struct SchedulerAnswer {
    pub status: u16,
    pub body: Value,
}

pub struct Scheduler {
    stub: Stub,
}

impl Scheduler {
    pub fn new(env: &Env) -> Result<Self, AppError> {
        let stub = crate::objects::stub(env, bindings::TASK_SCHEDULER, SCHEDULER_NAME)?;
        Ok(Self { stub })
    }

    pub async fn call(&self, call: SchedulerCall<'_>) -> Result<SchedulerAnswer, AppError> {
        let (method, path, body) = call.request()?;
        let mut response = crate::objects::call(&self.stub, method, &path, &[], body).await?;
        let status = response.status_code();
        match status {
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
            _ => Ok(SchedulerAnswer {
                status,
                body: response.json().await?,
            }),
        }
    }
}
