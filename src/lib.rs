//! launch-edge: the edge worker (Rust compiled to WASM, run by workerd). This crate is
//! glue only: what the worker decides lives in `launch-edge-core` (no `worker` types,
//! tested natively); what is here moves bytes between workerd's bindings and that core,
//! and is tested end to end in workerd (`worker-tests/`).
//!
//! Layout (dependencies run downwards only: routes → objects, isolate, net → core → proto):
//! - entry: [`fetch`] and [`scheduled`] below; `router` dispatches a request to a route
//!   with an [`edge::Edge`] (env, ctx, config) built once; `error` is the one error type,
//!   mapped to HTTP once; `cron` runs the Cron Triggers' plan.
//! - `routes/`: one file per public surface (pages, counting, webhooks, admin, tasks,
//!   test hooks).
//! - `page_store`: a page through memory → Cache API → KV → origin (stale-while-revalidate,
//!   stale-if-error, pre-warming, eviction); `visit`: a [`Visit`](visit::Visit) read off a
//!   request (source, bot verdict, visitor hash).
//! - `objects/`: the Durable Objects, each with the typed client its callers use
//!   (`counter_shard`, `webhook_inbox`, `task_scheduler`), and their shared drain and SQL.
//! - `isolate/`: per-isolate state: page memory, single-flight, the counting batcher, the
//!   worker-counter tally, and the hand-off by which one request leaves a value for others.
//! - `net/`: the signed origin client and outbound HTTP.
//!
//! Naming: a folder or file is named for what it is in the worker (`counting` is the
//! route, `counter_shard` the object, `batcher` the isolate's sender); the pure state of
//! the same thing has the core's name (`count::shard`, `count::lanes`).

#[cfg(target_arch = "wasm32")]
mod cron;
#[cfg(target_arch = "wasm32")]
mod edge;
#[cfg(target_arch = "wasm32")]
mod error;
#[cfg(target_arch = "wasm32")]
mod isolate;
#[cfg(target_arch = "wasm32")]
mod net;
#[cfg(target_arch = "wasm32")]
mod objects;
#[cfg(target_arch = "wasm32")]
mod page_store;
#[cfg(target_arch = "wasm32")]
mod router;
#[cfg(target_arch = "wasm32")]
mod routes;
#[cfg(target_arch = "wasm32")]
mod visit;

#[cfg(target_arch = "wasm32")]
#[worker::event(fetch)]
async fn fetch(
    req: worker::worker_sys::web_sys::Request,
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
