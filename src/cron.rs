//! Cron Triggers (glue): carries out [`launch_edge_core::cron_plan::plan`] against the shards, KV and
//! the origin. Every step is idempotent, so a repeated or overlapping firing is harmless.

use launch_edge_core::bindings;
use launch_edge_core::config::Config;
use launch_edge_core::cron_plan::{plan, runs_monitor, LaunchSchedule};
use launch_edge_core::pacific;
use launch_edge_proto::Slug;
use worker::{Env, Method};

use crate::error::AppError;
use crate::net::origin::send_signed;
use crate::objects::counter_shard::client::ShardClient;
use crate::objects::task_scheduler::client::{Scheduler, SchedulerCall};
use crate::page_store;

/// Where the worker remembers the last Pacific day it finalized (in the `PAGES` KV
/// namespace, outside the `page:` keys), so a sweep can catch up a missed rollover.
const FINALIZED_KEY: &str = "meta:last-finalized-day";

pub async fn run(cron: &str, now_ms: u64, env: &Env) -> Result<(), AppError> {
    let config = crate::edge::config_from_env(env)?;
    // The monitor talks to Product Hunt, not the origin: it runs even while the origin is down.
    if runs_monitor(cron) {
        if let Err(e) = run_monitor(env, &config, now_ms).await {
            worker::console_error!("launch monitor failed: {e}");
        }
    }
    let launches = launch_schedule(&config).await?;
    let kv = env.kv(bindings::PAGES)?;
    let last_finalized = kv
        .get(FINALIZED_KEY)
        .text()
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
        .as_deref()
        .and_then(pacific::parse_day_key);
    let plan = plan(cron, now_ms as i64, &launches, last_finalized);
    for slug in &plan.flush {
        flush_launch(env, &config, slug).await?;
    }
    for day in &plan.finalize_days {
        let body = serde_json::to_vec(&serde_json::json!({ "day": pacific::day_key(*day) }))?;
        let response = send_signed(&config, Method::Post, "/ingest/finalize-day", Some(body))
            .await
            .map_err(|e| AppError::OriginUnavailable(e.to_string()))?;
        if response.status_code() != 200 {
            return Err(AppError::Internal(format!(
                "finalize-day answered {}",
                response.status_code()
            )));
        }
        if last_finalized.is_none_or(|last| *day > last) {
            kv.put(FINALIZED_KEY, pacific::day_key(*day))
                .map_err(|e| AppError::Internal(e.to_string()))?
                .execute()
                .await
                .map_err(|e| AppError::Internal(e.to_string()))?;
        }
    }
    if let Some(day) = plan.forget_before {
        for slug in &plan.flush {
            forget_days_before(env, &config, slug, day).await?;
        }
    }
    for slug in &plan.prewarm {
        prewarm_if_missing(env, &config, slug).await?;
    }
    Ok(())
}

/// Asks every shard of a launch to forget the live stats of days before `day` (days it
/// has drained; see `CounterState::forget_days_before`). A shard that fails keeps them.
async fn forget_days_before(
    env: &Env,
    config: &Config,
    slug: &str,
    day: chrono::NaiveDate,
) -> Result<(), AppError> {
    for index in 0..config.counter_shards {
        let shard = ShardClient::of(env, slug, index)?;
        if let Err(e) = shard.forget_before(&pacific::day_key(day)).await {
            worker::console_warn!("forgetting old days of {} failed: {e}", shard.name());
        }
    }
    Ok(())
}

async fn launch_schedule(config: &Config) -> Result<Vec<LaunchSchedule>, AppError> {
    let mut response = send_signed(config, Method::Get, "/internal/launches", None)
        .await
        .map_err(|e| AppError::OriginUnavailable(e.to_string()))?;
    if response.status_code() != 200 {
        return Err(AppError::OriginUnavailable(format!(
            "launch list answered {}",
            response.status_code()
        )));
    }
    Ok(response.json().await?)
}

/// Asks every shard of a launch to drain now. A shard that fails keeps its alarm.
async fn flush_launch(env: &Env, config: &Config, slug: &str) -> Result<(), AppError> {
    for index in 0..config.counter_shards {
        let shard = ShardClient::of(env, slug, index)?;
        if let Err(e) = shard.flush().await {
            worker::console_warn!("flush of {} failed: {e}", shard.name());
        }
    }
    Ok(())
}

async fn prewarm_if_missing(env: &Env, config: &Config, slug: &str) -> Result<(), AppError> {
    let slug = Slug::parse(slug)?;
    for key in config.variants.keys_for(&slug) {
        let stored = env
            .kv(bindings::PAGES)?
            .get(&key.storage_key())
            .text()
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?;
        if stored.is_none() {
            page_store::prewarm(config, env, &key).await?;
        }
    }
    Ok(())
}

/// One launch-monitor run: polls the configured launches that are due, within the
/// Product Hunt budget, and enqueues the alerts of newly crossed milestones. Called by
/// the every-minute cron; does nothing when `MONITOR_LAUNCHES` is empty.
async fn run_monitor(env: &Env, config: &Config, now_ms: u64) -> Result<(), AppError> {
    if config.outbound.monitor_launches.is_empty() {
        return Ok(());
    }
    let answer = Scheduler::new(env)?
        .call(SchedulerCall::RunMonitor { now_ms })
        .await?;
    match answer.status {
        200 => Ok(()),
        status => Err(AppError::Internal(format!("monitor run answered {status}"))),
    }
}
