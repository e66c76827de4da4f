//! `/admin/...`: operations behind a bearer token (`ADMIN_TOKEN`, compared in constant time).

use serde_json::json;
use worker::{Env, Request, Response};

use launch_edge_proto::Slug;

use crate::config::Config;
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
    }))?)
}

/// `GET /admin/pages`: the page keys stored in KV.
pub async fn list_pages(env: &Env) -> Result<Response, AppError> {
    let keys = pages::stored_keys(env).await?;
    Ok(Response::from_json(
        &json!({ "count": keys.len(), "keys": keys }),
    )?)
}
