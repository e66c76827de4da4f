//! `/admin/test/...`: fault injection and cache eviction for the end-to-end tests (glue).
//!
//! Exists only when `TEST_HOOKS = "enabled"` (never in `wrangler.toml`), behind the admin
//! token like every admin route; otherwise these paths are 404 `not_found`. The tests
//! need them because workerd offers no way to make one Durable Object call fail or to
//! drop one layer of a cached page from outside.
//!
//! - `POST /admin/test/shard-faults` `{"fail": n, "lose_answer": m}`: the isolate's next
//!   `n` batch calls to a counter shard fail before reaching it, then the next `m` reach
//!   it (and are counted) but their answer is treated as lost. State of this isolate only.
//! - `POST /admin/test/evict/:slug?layers=memory,cache,kv`: removes the page's default
//!   variant from those layers.
//! - `POST /admin/test/lose-alarms/:slug`: every counter shard of the launch deletes its
//!   alarm but keeps believing it is set, as if the runtime had lost it (the shard sets it
//!   again once it is overdue, `launch_edge_core::drain::ALARM_OVERDUE_MS`).
//! - `POST /admin/test/panic`: panics, so a test can read what a panic logs from a module
//!   without its names section (workerd answers 500 and the next request gets a fresh
//!   instance).

use launch_edge_proto::Slug;
use serde::Deserialize;
use serde_json::json;
use worker::{Env, Method, Request, Response};

use crate::edge::test_hooks_enabled;
use crate::error::AppError;
use crate::isolate::shard_faults;
use crate::objects::counter_shard::client::ShardClient;
use crate::page_store::{self, Layer};
use launch_edge_core::config::Config;
use launch_edge_core::page::key::PageKey;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Faults {
    #[serde(default)]
    fail: u32,
    #[serde(default)]
    lose_answer: u32,
}

/// Dispatches `/admin/test/<rest>` (already authorized).
pub async fn handle(
    req: &mut Request,
    rest: &[&str],
    config: &Config,
    env: &Env,
) -> Result<Response, AppError> {
    if !test_hooks_enabled(env) {
        return Err(AppError::RouteNotFound);
    }
    match (req.method(), rest) {
        (Method::Post, ["shard-faults"]) => {
            let faults: Faults = serde_json::from_slice(&req.bytes().await?)
                .map_err(|_| AppError::BadRequest("invalid_json"))?;
            shard_faults::arm(faults.fail, faults.lose_answer);
            Ok(Response::from_json(&json!({ "armed": true }))?)
        }
        (Method::Get, ["shard-faults"]) => {
            let (fail, lose_answer) = shard_faults::armed();
            Ok(Response::from_json(
                &json!({ "fail": fail, "lose_answer": lose_answer }),
            )?)
        }
        (Method::Post, ["panic"]) => panic!("test hook panic"),
        (Method::Post, ["lose-alarms", slug]) => {
            let slug = Slug::parse(slug)?;
            for index in 0..config.counter_shards {
                ShardClient::of(env, slug.as_str(), index)?
                    .lose_alarm()
                    .await?;
            }
            Ok(Response::from_json(
                &json!({ "shards": config.counter_shards }),
            )?)
        }
        (Method::Post, ["evict", slug]) => {
            let slug = Slug::parse(slug)?;
            let key = PageKey::normalize(slug, [], &config.variants);
            let url = req.url()?;
            let layers = url
                .query_pairs()
                .find(|(k, _)| k == "layers")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            let mut evicted = Vec::new();
            for name in layers.split(',').filter(|n| !n.is_empty()) {
                let layer = Layer::parse(name).ok_or(AppError::BadRequest("unknown_layer"))?;
                page_store::evict(env, &key, layer).await?;
                evicted.push(name.to_owned());
            }
            Ok(Response::from_json(
                &json!({ "key": key.to_string(), "evicted": evicted }),
            )?)
        }
        _ => Err(AppError::RouteNotFound),
    }
}
