//! `/admin/...`: operations behind a bearer token (`ADMIN_TOKEN`, compared in constant time),
//! among them the dead letters of the drain (`/admin/dead-letters`).

use futures_util::future::join_all;
use serde_json::json;
use worker::{Env, Method, Request, Response};

use launch_edge_proto::Slug;

use crate::error::AppError;
use crate::net::origin;
use crate::objects::counter_shard::client::ShardClient;
use crate::objects::dead_letters::DeadLetterHolder;
use crate::objects::webhook_inbox::client::InboxClient;
use crate::page_store;
use launch_edge_core::bindings;
use launch_edge_core::config::{Config, ConfigError};

/// Refuses the request unless it carries `Authorization: Bearer <ADMIN_TOKEN>`.
pub fn authorize(req: &Request, config: &Config) -> Result<(), AppError> {
    let header = req
        .headers()
        .get("authorization")?
        .ok_or(AppError::Unauthorized("missing_token"))?;
    let token = header
        .strip_prefix("Bearer ")
        .ok_or(AppError::Unauthorized("malformed_authorization"))?;
    if config.admits_admin_token(token.trim().as_bytes()) {
        Ok(())
    } else {
        Err(AppError::Unauthorized("bad_token"))
    }
}

/// `POST /admin/launches/:slug/prewarm`: renders every variant of the page and stores it.
pub async fn prewarm(raw_slug: &str, config: &Config, env: &Env) -> Result<Response, AppError> {
    let slug = Slug::parse(raw_slug)?;
    let mut warmed = Vec::new();
    for key in config.variants.keys_for(&slug) {
        let entry = page_store::prewarm(config, env, &key).await?;
        warmed.push(json!({ "key": key.to_string(), "status": entry.status, "etag": entry.etag }));
    }
    Ok(Response::from_json(
        &json!({ "slug": slug.as_str(), "pages": warmed }),
    )?)
}

/// `GET /admin/health`: the worker runs and its configuration (secrets included) parsed.
/// Reaching this handler means every required secret is set; values are never shown.
pub fn health(config: &Config) -> Result<Response, AppError> {
    Ok(Response::from_json(&json!({
        "ok": true,
        "secrets": { "ADMIN_TOKEN": true, "ORIGIN_SIGNING_SECRET": true, "VISITOR_SALT_SECRET": true },
        "origin_url": config.origin_url,
        "counter_shards": config.counter_shards,
        "local_development": config.local_development,
    }))?)
}

/// Every request while the configuration does not parse: `500 misconfigured` (the reason
/// goes to the log only: a stranger must not learn that, say, the admin token is short),
/// except `GET /admin/health` with the configured `ADMIN_TOKEN` however short it is, which
/// answers the reason, so `preflight` can name it.
pub fn health_when_misconfigured(
    req: &Request,
    env: &Env,
    err: ConfigError,
) -> Result<Response, AppError> {
    let admin_token = env
        .secret(bindings::ADMIN_TOKEN)
        .map(|s| s.to_string())
        .or_else(|_| env.var(bindings::ADMIN_TOKEN).map(|v| v.to_string()))
        .ok()
        .map(launch_edge_proto::Secret::new);
    let presented = req
        .headers()
        .get("authorization")?
        .and_then(|h| h.strip_prefix("Bearer ").map(|t| t.trim().to_owned()));
    let authorized = match (admin_token, presented) {
        (Some(expected), Some(token)) => expected.matches(token.as_bytes()),
        _ => false,
    };
    if req.method() != worker::Method::Get || req.path() != "/admin/health" || !authorized {
        return Err(AppError::Config(err));
    }
    worker::console_error!("misconfigured: {err}");
    Ok(Response::from_json(&json!({
        "ok": false,
        "error": "misconfigured",
        "problem": err.to_string(),
    }))?
    .with_status(500))
}

/// `GET /admin/pages`: the page keys stored in KV.
pub async fn list_pages(env: &Env) -> Result<Response, AppError> {
    let keys = page_store::stored_keys(env).await?;
    Ok(Response::from_json(
        &json!({ "count": keys.len(), "keys": keys }),
    )?)
}

/// Every object whose set-aside batches `/admin/dead-letters` collects: each shard of
/// each launch the origin lists, each inbox of each configured webhook source.
async fn holders(config: &Config, env: &Env) -> (Vec<DeadLetterHolder>, Option<String>) {
    use launch_edge_core::count::shard::shard_name;
    use launch_edge_core::webhooks::inbox::INBOX_SHARDS;
    let mut found = Vec::new();
    let sources = launch_edge_core::webhooks::WebhookSources::parse(|name| {
        env.var(name)
            .map(|v| v.to_string())
            .or_else(|_| env.secret(name).map(|s| s.to_string()))
            .ok()
    });
    if let Ok(sources) = sources {
        for source in sources.names() {
            for i in 0..INBOX_SHARDS {
                found.push(InboxClient::dead_letters(format!("inbox/{source}/{i}")));
            }
        }
    }
    let launches = match launch_slugs(config).await {
        Ok(launches) => launches,
        Err(e) => return (found, Some(e)),
    };
    for slug in launches {
        for i in 0..config.counter_shards {
            found.push(ShardClient::dead_letters(shard_name(&slug, i)));
        }
    }
    (found, None)
}

async fn launch_slugs(config: &Config) -> Result<Vec<String>, String> {
    #[derive(serde::Deserialize)]
    struct Launch {
        slug: String,
    }
    let mut response = origin::send_signed(config, Method::Get, "/internal/launches", None)
        .await
        .map_err(|e| e.to_string())?;
    if response.status_code() != 200 {
        return Err(format!("launch list answered {}", response.status_code()));
    }
    let launches: Vec<Launch> = response.json().await.map_err(|e| e.to_string())?;
    Ok(launches.into_iter().map(|l| l.slug).collect())
}

/// `GET /admin/dead-letters`: the batches shards and inboxes set aside (a signed refusal
/// from the origin) and the rows the origin kept in its `dead_letters`.
pub async fn dead_letters(config: &Config, env: &Env) -> Result<Response, AppError> {
    let (holders, launches_error) = holders(config, env).await;
    let calls = holders.iter().map(|h| h.list(env));
    let mut batches: Vec<serde_json::Value> = Vec::new();
    let mut errors: Vec<String> = launches_error.into_iter().collect();
    for (holder, answer) in holders.iter().zip(join_all(calls).await) {
        match answer {
            Ok(listed) => batches.extend(listed),
            Err(e) => errors.push(format!("{}: {e}", holder.name())),
        }
    }
    let origin = match origin::send_signed(config, Method::Get, "/ingest/dead-letters", None).await
    {
        Ok(mut r) if r.status_code() == 200 => r.json::<serde_json::Value>().await?,
        Ok(r) => json!({ "error": "origin_unavailable", "status": r.status_code() }),
        Err(e) => json!({ "error": "origin_unavailable", "message": e.to_string() }),
    };
    Ok(Response::from_json(&json!({
        "worker": {
            "count": batches.len(),
            "objects_checked": holders.len(),
            "dead_letters": batches,
            "errors": errors,
        },
        "origin": origin,
    }))?)
}

/// `POST /admin/dead-letters/:id/requeue`: a set-aside batch's rows back into its
/// object's drain (`worker:{batch_id}`), or an origin dead letter applied again
/// (`origin:{n}`, the origin's answer passed on).
pub async fn requeue_dead_letter(
    raw_id: &str,
    config: &Config,
    env: &Env,
) -> Result<Response, AppError> {
    use launch_edge_core::drain::DeadLetterId;
    let id = DeadLetterId::parse(raw_id).ok_or(AppError::BadRequest("invalid_dead_letter_id"))?;
    let (object, batch_id) = match id {
        DeadLetterId::Origin(n) => {
            let path = format!("/ingest/dead-letters/{n}/requeue");
            let mut answer = origin::send_signed(config, Method::Post, &path, None)
                .await
                .map_err(|e| AppError::OriginUnavailable(e.to_string()))?;
            let status = answer.status_code();
            if status >= 500 {
                return Err(AppError::OriginUnavailable(format!("status {status}")));
            }
            let body: serde_json::Value = answer.json().await?;
            return Ok(Response::from_json(&body)?.with_status(status));
        }
        DeadLetterId::Worker { object, batch_id } => (object, batch_id),
    };
    let holder = holder_named(&object, config, env)?;
    let answer = holder.requeue(env, &batch_id).await?;
    Ok(Response::from_json(&answer)?)
}

/// The object a worker-side dead letter names, if it is one that can exist: a shard of a
/// valid slug within `COUNTER_SHARDS`, or an inbox of a configured source.
fn holder_named(object: &str, config: &Config, env: &Env) -> Result<DeadLetterHolder, AppError> {
    let unknown = || AppError::DeadLetterNotFound;
    if let Some(rest) = object.strip_prefix("inbox/") {
        let (source, index) = rest.rsplit_once('/').ok_or_else(unknown)?;
        let index: u64 = index.parse().map_err(|_| unknown())?;
        let configured = env
            .var(launch_edge_core::bindings::WEBHOOK_SOURCES)
            .map(|v| v.to_string())
            .unwrap_or_default();
        let known = configured
            .split(';')
            .filter_map(|entry| entry.split_once('=').map(|(name, _)| name.trim()))
            .any(|name| name == source);
        if !known || index >= launch_edge_core::webhooks::inbox::INBOX_SHARDS {
            return Err(unknown());
        }
        return Ok(InboxClient::dead_letters(object.to_owned()));
    }
    let (slug, index) = object.rsplit_once('/').ok_or_else(unknown)?;
    let index: u32 = index.parse().map_err(|_| unknown())?;
    Slug::parse(slug).map_err(|_| unknown())?;
    if index >= config.counter_shards {
        return Err(unknown());
    }
    Ok(ShardClient::dead_letters(object.to_owned()))
}
