//! A stored task and its life: pending → delivered, or pending → dead → (requeue) pending.
//!
//! The `TaskScheduler` Durable Object keeps one [`TaskRecord`] per task (as JSON, with
//! its id, state and next attempt time beside it as indexed columns) and changes it only
//! through the methods here, so every transition is tested natively with `now` as an
//! argument. A task's id is its idempotency key: creating the same key twice finds the
//! first task, which is what makes `POST /admin/tasks` idempotent.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::backoff::{DeadReason, Decision};
use super::task::TaskSpec;

/// Attempts remembered per task for the admin API (the latest ones).
pub const HISTORY_LIMIT: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    Pending,
    Delivered,
    Dead,
}

impl TaskState {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Pending => "pending",
            TaskState::Delivered => "delivered",
            TaskState::Dead => "dead",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(TaskState::Pending),
            "delivered" => Some(TaskState::Delivered),
            "dead" => Some(TaskState::Dead),
            _ => None,
        }
    }
}

/// One attempt as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptLog {
    pub attempt: u32,
    pub at_ms: u64,
    /// `HTTP 503`, `timeout`, `network error: …`.
    pub result: String,
    /// The delay chosen before the next attempt, when there is one.
    pub retry_in_ms: Option<u64>,
    /// Whether that delay came from the server (`Retry-After` and friends).
    #[serde(default)]
    pub server_directed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRecord {
    pub spec: TaskSpec,
    pub state: TaskState,
    /// Attempts made since creation or the last requeue.
    pub attempts: u32,
    /// When the next attempt may start (pending tasks only).
    pub next_at_ms: u64,
    pub last_error: Option<String>,
    pub dead_reason: Option<DeadReason>,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
    pub delivered_at_ms: Option<u64>,
    pub history: Vec<AttemptLog>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("only a dead task can be requeued or discarded; this one is {0:?}")]
pub struct NotDead(pub TaskState);

impl TaskRecord {
    pub fn new(spec: TaskSpec, now_ms: u64) -> Self {
        Self {
            next_at_ms: spec.due_at_ms,
            spec,
            state: TaskState::Pending,
            attempts: 0,
            last_error: None,
            dead_reason: None,
            created_at_ms: now_ms,
            updated_at_ms: now_ms,
            delivered_at_ms: None,
            history: Vec::new(),
        }
    }

    pub fn id(&self) -> &str {
        &self.spec.idempotency_key
    }

    /// Counts an attempt before it is sent, and leases the task until `lease_until_ms`:
    /// if the object dies mid-call, the task runs again then (with the same idempotency
    /// key, so a receiver that got the first call can tell).
    pub fn start_attempt(&mut self, now_ms: u64, lease_until_ms: u64) -> u32 {
        self.attempts += 1;
        self.next_at_ms = lease_until_ms;
        self.updated_at_ms = now_ms;
        self.attempts
    }

    /// The budget said "not yet": move the task without spending an attempt.
    pub fn postpone(&mut self, until_ms: u64, now_ms: u64) {
        self.next_at_ms = until_ms;
        self.updated_at_ms = now_ms;
    }

    /// Applies the backoff decision for the attempt just made; `result` describes it.
    pub fn finish_attempt(&mut self, decision: &Decision, result: String, now_ms: u64) {
        let mut log = AttemptLog {
            attempt: self.attempts,
            at_ms: now_ms,
            result: result.clone(),
            retry_in_ms: None,
            server_directed: false,
        };
        match decision {
            Decision::Delivered => {
                self.state = TaskState::Delivered;
                self.delivered_at_ms = Some(now_ms);
                self.last_error = None;
            }
            Decision::Retry {
                delay_ms,
                server_directed,
                ..
            } => {
                self.next_at_ms = now_ms.saturating_add(*delay_ms);
                self.last_error = Some(result);
                log.retry_in_ms = Some(*delay_ms);
                log.server_directed = *server_directed;
            }
            Decision::DeadLetter { reason, .. } => {
                self.state = TaskState::Dead;
                self.dead_reason = Some(*reason);
                self.last_error = Some(result);
            }
        }
        self.updated_at_ms = now_ms;
        self.history.push(log);
        if self.history.len() > HISTORY_LIMIT {
            self.history.remove(0);
        }
    }

    /// Dead-letters without an attempt (the call could not even be made, e.g. no token).
    pub fn kill(&mut self, reason: DeadReason, error: String, now_ms: u64) {
        self.state = TaskState::Dead;
        self.dead_reason = Some(reason);
        self.last_error = Some(error);
        self.updated_at_ms = now_ms;
    }

    /// Dead → pending, due now, with a fresh attempt count (the history stays).
    pub fn requeue(&mut self, now_ms: u64) -> Result<(), NotDead> {
        if self.state != TaskState::Dead {
            return Err(NotDead(self.state));
        }
        self.state = TaskState::Pending;
        self.attempts = 0;
        self.dead_reason = None;
        self.next_at_ms = now_ms;
        self.updated_at_ms = now_ms;
        Ok(())
    }

    /// The admin API's view: the target redacted, the payload only in `detail`.
    pub fn view(&self, detail: bool) -> Value {
        let mut view = json!({
            "id": self.id(),
            "idempotency_key": self.spec.idempotency_key,
            "kind": self.spec.kind,
            "target": self.spec.redacted_target(),
            "launch": self.spec.launch,
            "state": self.state,
            "attempts": self.attempts,
            "max_attempts": self.spec.max_attempts,
            "due_at_ms": self.spec.due_at_ms,
            "next_attempt_at_ms": (self.state == TaskState::Pending).then_some(self.next_at_ms),
            "last_error": self.last_error,
            "dead_reason": self.dead_reason,
            "created_at_ms": self.created_at_ms,
            "updated_at_ms": self.updated_at_ms,
            "delivered_at_ms": self.delivered_at_ms,
        });
        if detail {
            view["payload"] = self.spec.payload.clone();
            view["cost"] = json!(self.spec.cost);
            view["history"] = json!(self.history);
        }
        view
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbound::target::WebhookAllowlist;
    use crate::outbound::task::TaskContext;

    fn spec(key: &str) -> TaskSpec {
        let allow = WebhookAllowlist::default();
        let ctx = TaskContext {
            now_ms: 1_000,
            launch_at: None,
            webhooks: &allow,
            default_max_attempts: 3,
        };
        let body = json!({"kind": "webhook_post", "target": "https://discord.com/api/webhooks/1/secret-token",
            "payload": {"content": "hi"}, "due": "now", "idempotency_key": key});
        TaskSpec::from_json(&body, &ctx).unwrap()
    }

    fn retry(delay_ms: u64) -> Decision {
        Decision::Retry {
            delay_ms,
            next_attempt: 2,
            server_directed: true,
        }
    }

    #[test]
    fn a_new_task_is_pending_and_due_at_its_due_time() {
        let task = TaskRecord::new(spec("a"), 500);
        assert_eq!(
            (task.state, task.attempts, task.next_at_ms),
            (TaskState::Pending, 0, 1_000)
        );
        assert_eq!(task.id(), "a");
    }

    #[test]
    fn a_retry_moves_the_next_attempt_by_the_decided_delay_and_keeps_the_error() {
        let mut task = TaskRecord::new(spec("a"), 0);
        assert_eq!(task.start_attempt(2_000, 99_000), 1);
        task.finish_attempt(&retry(1_500), "HTTP 429".into(), 2_100);
        assert_eq!(task.state, TaskState::Pending);
        assert_eq!(task.next_at_ms, 3_600);
        assert_eq!(task.last_error.as_deref(), Some("HTTP 429"));
        assert_eq!(task.history[0].retry_in_ms, Some(1_500));
        assert!(task.history[0].server_directed);
    }

    #[test]
    fn dead_tasks_requeue_with_a_fresh_attempt_count_and_others_refuse() {
        let mut task = TaskRecord::new(spec("a"), 0);
        assert_eq!(task.requeue(5), Err(NotDead(TaskState::Pending)));
        task.start_attempt(1, 10);
        let dead = Decision::DeadLetter {
            reason: DeadReason::Exhausted,
            last_error: "HTTP 503".into(),
            attempts: 1,
        };
        task.finish_attempt(&dead, "HTTP 503".into(), 2);
        assert_eq!(
            (task.state, task.dead_reason),
            (TaskState::Dead, Some(DeadReason::Exhausted))
        );
        task.requeue(50).unwrap();
        assert_eq!(
            (task.state, task.attempts, task.next_at_ms),
            (TaskState::Pending, 0, 50)
        );
        assert_eq!(task.history.len(), 1);
    }

    #[test]
    fn delivery_clears_the_last_error() {
        let mut task = TaskRecord::new(spec("a"), 0);
        task.start_attempt(1, 10);
        task.finish_attempt(&retry(5), "timeout".into(), 1);
        task.start_attempt(6, 20);
        task.finish_attempt(&Decision::Delivered, "HTTP 204".into(), 7);
        assert_eq!(task.state, TaskState::Delivered);
        assert_eq!(
            (task.last_error.clone(), task.delivered_at_ms),
            (None, Some(7))
        );
    }

    #[test]
    fn the_history_keeps_only_the_latest_attempts() {
        let mut task = TaskRecord::new(spec("a"), 0);
        for n in 0..30 {
            task.start_attempt(n, n + 1);
            task.finish_attempt(&retry(1), format!("HTTP 5{n:02}"), n);
        }
        assert_eq!(task.history.len(), HISTORY_LIMIT);
        assert_eq!(task.history.last().unwrap().attempt, 30);
    }

    #[test]
    fn the_view_never_shows_the_webhook_path_that_holds_its_secret() {
        let task = TaskRecord::new(spec("a"), 0);
        let text = task.view(true).to_string();
        assert!(!text.contains("secret-token"), "{text}");
        assert_eq!(task.view(false)["target"], "https://discord.com/…");
        let stored = serde_json::to_string(&task).unwrap();
        assert_eq!(serde_json::from_str::<TaskRecord>(&stored).unwrap(), task);
    }
}
