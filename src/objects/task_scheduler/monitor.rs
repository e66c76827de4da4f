//! The launch monitor and the origin drain, inside the scheduler object because both
//! spend what it guards: the monitor's polls come out of the same Product Hunt budget as
//! the `ph_graphql` tasks, and its milestone alerts are tasks.
//!
//! A run (every minute from the cron, or `POST /admin/monitor/run`) polls each
//! configured launch whose last poll is at least `MONITOR_INTERVAL_SECONDS` old, if the
//! budget admits the query now (otherwise it waits for a later run: a missed poll is
//! not worth a retry). A poll is recorded, and the milestones it crosses for the first
//! time are marked fired and their alert tasks enqueued in the same synchronous block,
//! so a milestone fires once even if the object restarts right after; the alert's
//! idempotency key ([`milestone_task_key`]) makes a second enqueue find the first task.
//!
//! The series is kept in this object (`GET /admin/monitor/:launch`) and drained to the
//! origin's `ph_post_stats` as the batch's `ph_stats` rows. The operational counters (429s,
//! retries, dead letters, deliveries) go to the origin as `edge_` counter rows, in the same
//! batches with deterministic
//! ids (`task-scheduler:{incarnation}:{seq}`) sent through [`launch_edge_core::drain::send_batch`].

use serde_json::{json, Value};
use worker::Result;

use super::store::Store;
use super::{TaskScheduler, COUNTER_OUTBOUND_429};
use crate::net::origin::now_ms;
use crate::net::outbound;
use crate::objects::drain::{send_batch, Sent};
use launch_edge_core::config::Config;
use launch_edge_core::outbound::budget::{PRODUCT_HUNT_API_HOST, PRODUCT_HUNT_GRAPHQL_PATH};
use launch_edge_core::outbound::milestones::{monitor_payload, MONITOR_QUERY_COST};
use launch_edge_core::outbound::record::TaskRecord;
use launch_edge_core::outbound::settings::MonitoredLaunch;
use launch_edge_core::outbound::{
    budget_key, milestone_task_key, Admit, Credential, OutboundRequest, PollRecord, TaskContext,
    TaskSpec,
};

impl TaskScheduler {
    pub(super) async fn run_monitor(
        &self,
        store: &Store,
        config: &Config,
        now: u64,
    ) -> Result<Value> {
        let settings = &config.outbound;
        let mut report = Vec::new();
        for launch in &settings.monitor_launches {
            let outcome = self.poll_launch(store, config, launch, now).await?;
            report.push(
                json!({ "launch": launch.launch, "post": launch.post_slug, "result": outcome }),
            );
        }
        self.drain(store, config).await?;
        Ok(json!({ "launches": report }))
    }

    async fn poll_launch(
        &self,
        store: &Store,
        config: &Config,
        launch: &MonitoredLaunch,
        now: u64,
    ) -> Result<Value> {
        let settings = &config.outbound;
        if let Some(last) = store.last_poll_ms(&launch.launch)? {
            if now < last.saturating_add(settings.monitor_interval_ms) {
                return Ok(
                    json!({ "status": "not_due", "next_poll_at_ms": last + settings.monitor_interval_ms }),
                );
            }
        }
        let Some(token) = settings.product_hunt_token.as_ref() else {
            return Ok(json!({ "status": "skipped", "error": "PRODUCT_HUNT_TOKEN is not set" }));
        };
        let request = OutboundRequest {
            method: "POST",
            url: settings.endpoints.product_hunt_graphql.to_string(),
            headers: vec![
                ("content-type", "application/json".to_owned()),
                ("accept", "application/json".to_owned()),
                ("x-request-id", format!("monitor:{}:{now}", launch.launch)),
            ],
            body: monitor_payload(&launch.post_slug).to_string(),
            credential: Credential::ProductHuntToken,
            budget_key: budget_key(PRODUCT_HUNT_API_HOST, PRODUCT_HUNT_GRAPHQL_PATH),
            cost: MONITOR_QUERY_COST,
        };
        let wall = now_ms();
        match self.with_budgets(store, |b| b.admit(&request.budget_key, request.cost, wall))? {
            Admit::Now => {}
            Admit::WaitUntil(at) => {
                return Ok(json!({ "status": "waiting_for_budget", "until_ms": at }))
            }
            Admit::TooExpensive { .. } => {
                return Ok(json!({ "status": "skipped", "error": "query too expensive" }))
            }
        }
        store.set_last_poll_ms(&launch.launch, now)?;
        let answer = outbound::send(&request, Some(token), settings.timeout_ms).await;
        let wall = now_ms();
        self.with_budgets(store, |b| {
            b.observe(&request.budget_key, &answer.rate_limit, answer.status, wall)
        })?;
        if answer.status == Some(429) {
            store.bump(COUNTER_OUTBOUND_429, wall)?;
        }
        if answer.status != Some(200) {
            return Ok(json!({ "status": "failed", "error": answer.describe() }));
        }
        let body: Value = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
        let record = match PollRecord::from_response(&launch.launch, &body, now) {
            Ok(record) => record,
            Err(e) => return Ok(json!({ "status": "failed", "error": e.to_string() })),
        };

        // From here to the end: no await, so the poll, the fired milestones and their
        // alert tasks are stored together or not at all.
        store.record_poll(&record)?;
        let mut milestones = store.milestones(&launch.launch)?;
        let crossed = milestones.observe(&settings.monitor_milestones, record.votes);
        let mut alerts = Vec::new();
        if let Some(webhook) = settings.monitor_alert_webhook.as_deref() {
            for milestone in &crossed {
                let key = milestone_task_key(&launch.launch, *milestone);
                if store.task(&key)?.is_some() {
                    continue;
                }
                let body = json!({
                    "kind": "webhook_post",
                    "target": webhook,
                    "payload": alert_payload(&launch.launch, *milestone, &record),
                    "due": "now",
                    "idempotency_key": key,
                    "launch": launch.launch,
                });
                let ctx = TaskContext {
                    now_ms: wall,
                    launch_at: None,
                    webhooks: &settings.webhooks,
                    default_max_attempts: settings.default_max_attempts,
                };
                let spec = TaskSpec::from_json(&body, &ctx)
                    .map_err(|e| worker::Error::RustError(format!("milestone alert: {e}")))?;
                store.save(&TaskRecord::new(spec, wall))?;
                alerts.push(key);
            }
        }
        store.save_milestones(&launch.launch, &milestones)?;
        Ok(json!({
            "status": "polled",
            "votes": record.votes,
            "comments": record.comments,
            "milestones_crossed": crossed,
            "alerts_enqueued": alerts,
        }))
    }

    /// Cuts pending counters into a batch and sends the outbox's batch if it is due.
    pub(super) async fn drain(&self, store: &Store, config: &Config) -> Result<()> {
        let now = now_ms();
        store.cut_batch(now)?;
        let Some((batch_id, body)) = store.outbox_due(now)? else {
            return Ok(());
        };
        match send_batch(
            config,
            store.sql(),
            &self.drain_failures,
            &batch_id,
            body.into_bytes(),
        )
        .await?
        {
            Sent::Acked | Sent::DeadLettered => {
                self.drain_failures.set(0);
                store.forget_batch(&batch_id)
            }
            Sent::RetryIn(delay) => store.retry_batch_at(&batch_id, now_ms() + delay.max(0) as u64),
        }
    }
}

/// Discord reads `content`, Slack reads `text`; each ignores the other.
fn alert_payload(launch: &str, milestone: u64, record: &PollRecord) -> Value {
    let message = format!(
        "{launch} passed {milestone} upvotes on Product Hunt ({} votes, {} comments).",
        record.votes, record.comments
    );
    json!({ "content": message, "text": message })
}
