//! Outbound calls: scheduled tasks to Product Hunt's API and community webhooks, the
//! pure half (no `worker` types; `now` and randomness are arguments).
//!
//! The Durable Object, Queue and cron glue stays thin by leaning on these pieces:
//! - [`task`]: the admin API's task body validated into a [`TaskSpec`] (kinds `ph_graphql`
//!   and `webhook_post`, nothing that can vote or comment), and the plain
//!   [`OutboundRequest`] of each attempt.
//! - [`graphql`]: the strict parser behind the mutation allowlist, and the cost estimate.
//! - [`target`]: the Product Hunt endpoint, the webhook host allowlist, URL redaction.
//! - [`due`]: due times in RFC 3339, Pacific wall-clock, or relative to the launch.
//! - [`rate_limit`]: every rate-limit header form, read leniently into [`RateLimitInfo`].
//! - [`budget`]: per-destination budgets that hold calls back before a 429.
//! - [`backoff`]: outcome classification, full-jitter retry delays, dead-lettering.
//! - [`milestones`]: the launch monitor's query, poll record and once-only milestones.
//! - [`rng`]: small random sources for jitter (seeded for tests and simulations).
//!
//! One attempt, as the glue runs it: `spec.request(&endpoints)` → `budgets.admit(
//! &req.budget_key, req.cost, now)` (on `WaitUntil`, reschedule; on `TooExpensive`,
//! dead-letter) → fetch, adding the bearer token for [`Credential::ProductHuntToken`] →
//! `RateLimitInfo::parse(headers, now)` → `budgets.observe(..)` →
//! `policy.decide(attempt, &outcome, info.server_delay_ms(status), rng)`.

pub mod backoff;
pub mod budget;
pub mod due;
pub mod graphql;
pub mod milestones;
pub mod rate_limit;
pub mod record;
pub mod rng;
pub mod settings;
pub mod target;
pub mod task;

pub use backoff::{BackoffPolicy, DeadReason, Decision, Outcome, OutcomeClass};
pub use budget::{budget_key, Admit, Budget, BudgetTable, WindowPolicy};
pub use due::{parse_due, DueError};
pub use milestones::{milestone_task_key, MilestoneState, PollRecord, MONITOR_QUERY};
pub use rate_limit::RateLimitInfo;
pub use rng::{FnRng, SplitMix64};
pub use target::{Endpoints, WebhookAllowlist};
pub use task::{Credential, OutboundRequest, TaskContext, TaskError, TaskKind, TaskSpec};
