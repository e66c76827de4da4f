//! launch-edge: the edge worker (Rust compiled to WASM, run by workerd).
//!
//! Layout:
//! - Entry and glue (use `worker` types, stay thin): [`router`] dispatches requests,
//!   [`pages`] serves launch pages through memory → Cache API → KV → origin,
//!   [`admin`] holds bearer-token operations, [`origin_client`] signs calls to the origin.
//! - Pure logic (no `worker` types, tested natively with `cargo test`): [`cache_key`]
//!   normalizes page keys, [`page_cache`] decides freshness and ETags, [`memory_cache`]
//!   bounds the isolate cache, [`known_launches`] keeps random slugs off the origin,
//!   [`config`] parses settings.
//! - Counting, pure too: [`pacific`] is the launch-day calendar, [`attribution`] labels
//!   sources, [`bots`] separates crawlers, [`visitors`] hashes visitor ids and limiter
//!   keys, [`events`] parses the beacon, [`conversions`] verifies signed server-side
//!   conversions, [`counters`] is a shard's exact state and its batches,
//!   [`count_lanes`] groups an isolate's events into shard calls (`count_batcher` sends them).
//! - Webhooks: [`webhooks`] verifies and interprets (pure), [`recent_ids`] remembers
//!   delivered ids; `webhook_receiver` serves `POST /webhooks/:source` and the
//!   `WebhookInbox` Durable Object (`webhook_inbox`) dedupes, counts once and drains
//!   through [`drain`], shared with the counter shards.
//! - Outbound tasks: [`outbound`] is the pure half (validation, budgets, backoff,
//!   milestones, settings); `tasks` serves `/admin/tasks` and `/admin/monitor` and
//!   exposes `run_monitor` for the cron; the `TaskScheduler` Durable Object
//!   (`task_scheduler`) stores tasks and runs them from its alarm through `outbound_http`;
//!   [`edge_tally`] aggregates worker counters in the isolate before they reach it.
//! - [`body_limit`] reads untrusted bodies with a running byte limit.
//! - [`bindings`] names every binding, var and secret that `wrangler.toml` declares.

pub mod attribution;
pub mod beacon_cors;
pub mod bindings;
pub mod body_limit;
pub mod bots;
pub mod cache_key;
pub mod config;
pub mod conversions;
pub mod count_lanes;
pub mod counters;
pub mod drain;
pub mod edge_tally;
pub mod events;
pub mod known_launches;
pub mod memory_cache;
pub mod outbound;
pub mod pacific;
pub mod page_cache;
pub mod recent_ids;
pub mod schedule;
pub mod visitors;
pub mod webhooks;

#[cfg(target_arch = "wasm32")]
mod admin;
#[cfg(target_arch = "wasm32")]
mod count_batcher;
#[cfg(target_arch = "wasm32")]
mod counter_shard;
#[cfg(target_arch = "wasm32")]
mod counting;
#[cfg(target_arch = "wasm32")]
mod cron;
#[cfg(target_arch = "wasm32")]
mod do_sql;
#[cfg(target_arch = "wasm32")]
mod error;
#[cfg(target_arch = "wasm32")]
mod origin_client;
#[cfg(target_arch = "wasm32")]
mod outbound_http;
#[cfg(target_arch = "wasm32")]
mod pages;
#[cfg(target_arch = "wasm32")]
mod router;
#[cfg(target_arch = "wasm32")]
mod single_flight;
#[cfg(target_arch = "wasm32")]
mod task_scheduler;
#[cfg(target_arch = "wasm32")]
pub mod tasks;
#[cfg(target_arch = "wasm32")]
mod test_hooks;
#[cfg(target_arch = "wasm32")]
mod webhook_inbox;
#[cfg(target_arch = "wasm32")]
mod webhook_receiver;

#[cfg(target_arch = "wasm32")]
#[worker::event(fetch)]
async fn fetch(
    req: worker::Request,
    env: worker::Env,
    ctx: worker::Context,
) -> worker::Result<worker::Response> {
    Ok(router::handle(req, env, ctx).await)
}

#[cfg(target_arch = "wasm32")]
#[worker::event(scheduled)]
async fn scheduled(event: worker::ScheduledEvent, env: worker::Env, _ctx: worker::ScheduleContext) {
    let cron = event.cron();
    if let Err(e) = cron::run(&cron, event.schedule() as u64, &env).await {
        worker::console_error!("cron {cron} failed: {e}");
    }
}
