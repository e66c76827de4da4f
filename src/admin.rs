//! `/admin/...`: operations behind a bearer token (`ADMIN_TOKEN`, compared in constant time).

use serde_json::json;
use worker::{Env, Request, Response};

use launch_edge_proto::Slug;

use crate::bindings;
use crate::config::{Config, ConfigError};
use crate::error::AppError;
use crate::pages;

/// Refuses the request unless it carries `Authorization: Bearer <ADMIN_TOKEN>`.
pub fn authorize(req: &Request, config: &Config) -> Result<(), AppError> {
    let header = req
        .headers()
        .get("authorization")?
        .ok_or(AppError::Unauthorized("missing_token"))?;
    let token = header
        .strip_prefix("Bearer ")
        .ok_or(AppError::Unauthorized("malformed_authorization"))?;
    if config.admin_token.matches(token.trim().as_bytes()) {
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
        let entry = pages::prewarm(config, env, &key).await?;
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
    let keys = pages::stored_keys(env).await?;
    Ok(Response::from_json(
        &json!({ "count": keys.len(), "keys": keys }),
    )?)
}
