//! Outbound tasks: what the admin API accepts, and the request each one becomes.
//!
//! `POST /admin/tasks` bodies are validated here into a [`TaskSpec`], with a specific
//! error code for every refusal ([`TaskError::code`], all 400 except 413 for size). There
//! are two kinds and no others: `ph_graphql` (a query, or an allowlisted follow mutation,
//! against Product Hunt's GraphQL endpoint, see [`super::graphql`]) and `webhook_post`
//! (a JSON post to an allowlisted community webhook, see [`super::target`]). Neither can
//! express a vote or a comment: that is the point of the checks.
//!
//! Fields: `kind`, `payload` (a JSON object), `due` (see [`super::due`], or `now`) and
//! `idempotency_key` are required; `target` (required for `webhook_post`),
//! `max_attempts` (1 to 20), `cost` (`ph_graphql` only: overrides the estimate) and
//! `launch` (a slug) are optional. Unknown fields are refused rather than ignored,
//! because a typo such as `due_at` must not silently turn a scheduled task into an
//! immediate one. A `ph_graphql` payload is
//! exactly `{query, variables?, operationName?}`: `extensions` (persisted queries) or a
//! batch array would run a document we never saw.
//!
//! Every attempt of a task sends its idempotency key as both `Idempotency-Key` and
//! `X-Request-Id`, unchanged across retries: the receiver must be able to recognise a
//! retry of something it already applied, which a per-attempt id would defeat.

use chrono::{DateTime, Utc};
use launch_edge_proto::Slug;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::budget::{budget_key, Budget, WindowPolicy};
use super::due::{parse_due, DueError};
use super::graphql::{Document, GraphqlError};
use super::target::{
    check_product_hunt_target, redact_url, Endpoints, TargetError, WebhookAllowlist,
};

/// Largest accepted task body.
pub const MAX_TASK_BYTES: usize = 64 * 1024;
pub const MAX_ATTEMPTS_LIMIT: u32 = 20;
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 128;
const FIELDS: &[&str] = &[
    "kind",
    "target",
    "payload",
    "due",
    "idempotency_key",
    "max_attempts",
    "cost",
    "launch",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    PhGraphql,
    WebhookPost,
}

/// A validated task, ready to store and schedule.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskSpec {
    pub kind: TaskKind,
    /// The canonical target URL (for webhooks it holds the webhook's secret: see `Debug`).
    pub target: String,
    pub payload: Value,
    pub due_at_ms: u64,
    pub idempotency_key: String,
    pub max_attempts: u32,
    /// Budget units one attempt spends: GraphQL complexity points, or 1 request.
    pub cost: u64,
    pub budget_key: String,
    pub launch: Option<String>,
}

impl std::fmt::Debug for TaskSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskSpec")
            .field("kind", &self.kind)
            .field("target", &redact_url(&self.target))
            .field("due_at_ms", &self.due_at_ms)
            .field("idempotency_key", &self.idempotency_key)
            .field("max_attempts", &self.max_attempts)
            .field("cost", &self.cost)
            .field("launch", &self.launch)
            .finish_non_exhaustive()
    }
}

/// What validation needs to know besides the body.
#[derive(Debug, Clone, Copy)]
pub struct TaskContext<'a> {
    pub now_ms: u64,
    /// The launch's instant, for `launch…` due times.
    pub launch_at: Option<DateTime<Utc>>,
    pub webhooks: &'a WebhookAllowlist,
    pub default_max_attempts: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskError {
    #[error("the body is not a JSON object")]
    InvalidJson,
    #[error("the body is larger than {MAX_TASK_BYTES} bytes")]
    TooLarge,
    #[error("field {0:?} is required")]
    MissingField(&'static str),
    #[error("field {0:?} is not part of a task")]
    UnknownField(String),
    #[error("field {field:?} is invalid: {reason}")]
    InvalidField {
        field: &'static str,
        reason: &'static str,
    },
    #[error("task kind {0:?} does not exist: the kinds are ph_graphql and webhook_post; there is no kind that votes or comments")]
    UnknownKind(String),
    #[error(
        "invalid idempotency key: 1 to {MAX_IDEMPOTENCY_KEY_LEN} characters of A-Z a-z 0-9 _ . : -"
    )]
    InvalidIdempotencyKey,
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error(transparent)]
    Graphql(#[from] GraphqlError),
    #[error(transparent)]
    Due(#[from] DueError),
    #[error("the query's estimated cost {cost} exceeds the {capacity} points one budget window may spend")]
    TooExpensive { cost: u64, capacity: u64 },
}

impl TaskError {
    pub fn status(&self) -> u16 {
        if *self == TaskError::TooLarge {
            413
        } else {
            400
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            TaskError::InvalidJson => "invalid_json",
            TaskError::TooLarge => "payload_too_large",
            TaskError::MissingField(_) => "missing_field",
            TaskError::UnknownField(_) => "unknown_field",
            TaskError::InvalidField { .. } => "invalid_field",
            TaskError::UnknownKind(_) => "unknown_kind",
            TaskError::InvalidIdempotencyKey => "invalid_idempotency_key",
            TaskError::Target(e) => e.code(),
            TaskError::Graphql(GraphqlError::ForbiddenMutation(_)) => "forbidden_mutation",
            TaskError::Graphql(GraphqlError::Unsupported(_)) => "unsupported_operation",
            TaskError::Graphql(GraphqlError::Syntax(_)) => "invalid_graphql",
            TaskError::Graphql(GraphqlError::OperationName) => "invalid_operation_name",
            TaskError::Due(e) => e.code(),
            TaskError::TooExpensive { .. } => "query_too_expensive",
        }
    }
}

pub fn is_valid_idempotency_key(key: &str) -> bool {
    (1..=MAX_IDEMPOTENCY_KEY_LEN).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'))
}

fn invalid(field: &'static str, reason: &'static str) -> TaskError {
    TaskError::InvalidField { field, reason }
}

fn optional_u64(obj: &Map<String, Value>, field: &'static str) -> Result<Option<u64>, TaskError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .map(Some)
            .ok_or(invalid(field, "must be a non-negative integer")),
    }
}

fn required_str<'v>(
    obj: &'v Map<String, Value>,
    field: &'static str,
) -> Result<&'v str, TaskError> {
    match obj.get(field) {
        None | Some(Value::Null) => Err(TaskError::MissingField(field)),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(invalid(field, "must be a string")),
    }
}

impl TaskSpec {
    /// Validates a raw admin API body.
    pub fn parse(body: &[u8], ctx: &TaskContext<'_>) -> Result<Self, TaskError> {
        if body.len() > MAX_TASK_BYTES {
            return Err(TaskError::TooLarge);
        }
        let value: Value = serde_json::from_slice(body).map_err(|_| TaskError::InvalidJson)?;
        Self::from_json(&value, ctx)
    }

    pub fn from_json(value: &Value, ctx: &TaskContext<'_>) -> Result<Self, TaskError> {
        let obj = value.as_object().ok_or(TaskError::InvalidJson)?;
        if let Some(unknown) = obj.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(TaskError::UnknownField(unknown.clone()));
        }
        let kind = match required_str(obj, "kind")? {
            "ph_graphql" => TaskKind::PhGraphql,
            "webhook_post" => TaskKind::WebhookPost,
            other => return Err(TaskError::UnknownKind(other.to_owned())),
        };
        let idempotency_key = required_str(obj, "idempotency_key")?;
        if !is_valid_idempotency_key(idempotency_key) {
            return Err(TaskError::InvalidIdempotencyKey);
        }
        let target = match obj.get("target") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.as_str()),
            Some(_) => return Err(invalid("target", "must be a string")),
        };
        let payload = obj
            .get("payload")
            .filter(|p| !p.is_null())
            .ok_or(TaskError::MissingField("payload"))?;
        if !payload.is_object() {
            return Err(invalid("payload", "must be a JSON object"));
        }
        let explicit_cost = optional_u64(obj, "cost")?;
        let (target, cost) = match kind {
            TaskKind::PhGraphql => {
                let url = check_product_hunt_target(target)?;
                let estimate = check_graphql_payload(payload)?;
                let cost = explicit_cost.unwrap_or(estimate).max(1);
                let capacity = Budget::new(WindowPolicy::PRODUCT_HUNT_GRAPHQL).capacity();
                if cost > capacity {
                    return Err(TaskError::TooExpensive { cost, capacity });
                }
                (url, cost)
            }
            TaskKind::WebhookPost => {
                if explicit_cost.is_some() {
                    return Err(invalid("cost", "applies only to ph_graphql tasks"));
                }
                (
                    ctx.webhooks
                        .check(target.ok_or(TaskError::MissingField("target"))?)?,
                    1,
                )
            }
        };
        let due_at_ms = match required_str(obj, "due")?.trim() {
            "now" => ctx.now_ms,
            text => {
                let at = parse_due(text, ctx.launch_at)?;
                u64::try_from(at.timestamp_millis())
                    .map_err(|_| DueError::OutOfRange(text.to_owned()))?
            }
        };
        let max_attempts = match optional_u64(obj, "max_attempts")? {
            None => ctx.default_max_attempts.clamp(1, MAX_ATTEMPTS_LIMIT),
            Some(n) if (1..=u64::from(MAX_ATTEMPTS_LIMIT)).contains(&n) => n as u32,
            Some(_) => return Err(invalid("max_attempts", "must be between 1 and 20")),
        };
        let launch = match obj.get("launch") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(
                Slug::parse(s)
                    .map_err(|_| invalid("launch", "must be a launch slug"))?
                    .to_string(),
            ),
            Some(_) => return Err(invalid("launch", "must be a launch slug")),
        };
        Ok(Self {
            kind,
            budget_key: budget_key(target.host_str().unwrap_or_default(), target.path()),
            target: target.into(),
            payload: payload.clone(),
            due_at_ms,
            idempotency_key: idempotency_key.to_owned(),
            max_attempts,
            cost,
            launch,
        })
    }

    /// The target for listings and logs, without the path that may hold a secret.
    pub fn redacted_target(&self) -> String {
        redact_url(&self.target)
    }

    /// The HTTP request of one attempt. `endpoints` may redirect Product Hunt calls to a
    /// local fake in dev; the budget key stays the real endpoint's.
    pub fn request(&self, endpoints: &Endpoints) -> OutboundRequest {
        let (url, credential) = match self.kind {
            TaskKind::PhGraphql => (
                endpoints.product_hunt_graphql.to_string(),
                Credential::ProductHuntToken,
            ),
            TaskKind::WebhookPost => (self.target.clone(), Credential::None),
        };
        let headers = vec![
            ("content-type", "application/json".to_owned()),
            ("accept", "application/json".to_owned()),
            (
                "user-agent",
                concat!("launch-edge/", env!("CARGO_PKG_VERSION")).to_owned(),
            ),
            ("idempotency-key", self.idempotency_key.clone()),
            ("x-request-id", self.idempotency_key.clone()),
        ];
        OutboundRequest {
            method: "POST",
            url,
            headers,
            body: self.payload.to_string(),
            credential,
            budget_key: self.budget_key.clone(),
            cost: self.cost,
        }
    }
}

/// Checks `{query, variables?, operationName?}` and returns the estimated cost.
fn check_graphql_payload(payload: &Value) -> Result<u64, TaskError> {
    let obj = payload
        .as_object()
        .ok_or(invalid("payload", "must be a JSON object"))?;
    if obj
        .keys()
        .any(|k| !matches!(k.as_str(), "query" | "variables" | "operationName"))
    {
        return Err(invalid(
            "payload",
            "a ph_graphql payload has only query, variables and operationName",
        ));
    }
    let query = obj
        .get("query")
        .and_then(Value::as_str)
        .ok_or(invalid("payload", "query must be a string"))?;
    let variables = match obj.get("variables") {
        None | Some(Value::Null) => &Value::Null,
        Some(v @ Value::Object(_)) => v,
        Some(_) => return Err(invalid("payload", "variables must be an object")),
    };
    let operation_name = match obj.get("operationName") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => return Err(invalid("payload", "operationName must be a string")),
    };
    let doc = Document::parse(query)?;
    doc.check_allowed(query, variables)?;
    doc.check_operation_name(operation_name)?;
    Ok(doc.estimated_cost(operation_name, variables))
}

/// Which secret the glue adds as `Authorization: Bearer …` (never stored in a task).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    None,
    ProductHuntToken,
}

/// One attempt's HTTP request, as plain data for the glue to turn into a `fetch`.
#[derive(Clone, PartialEq, Eq)]
pub struct OutboundRequest {
    pub method: &'static str,
    pub url: String,
    /// Lowercase names.
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
    pub credential: Credential,
    /// Charge [`OutboundRequest::cost`] to this budget before sending.
    pub budget_key: String,
    pub cost: u64,
}

impl std::fmt::Debug for OutboundRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboundRequest")
            .field("method", &self.method)
            .field("url", &redact_url(&self.url))
            .field("credential", &self.credential)
            .field("budget_key", &self.budget_key)
            .field("cost", &self.cost)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
