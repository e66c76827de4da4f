//! Counting from the request path (glue): who is visiting, which shard counts it, and
//! the click and beacon endpoints. Views are counted in `wait_until` (the page never
//! waits); clicks and conversions are answered only after their shard stored them.

use std::rc::Rc;

use launch_edge_proto::{Secret, Slug};
use serde_json::json;
use worker::{Context, Env, Request, Response, Url};

use launch_edge_core::bindings;
use launch_edge_core::config::{Config, ConfigError};
use launch_edge_core::count::beacon::{parse_event_with_landing, EventRules, MAX_EVENT_BODY_BYTES};
use launch_edge_core::count::conversion::{self, ConversionError};
use launch_edge_core::count::cors::{judge, OriginVerdict, PREFLIGHT_MAX_AGE_SECS};
use launch_edge_core::count::shard::{shard_for, CountedEvent, DayCounts, EventKind};
use launch_edge_core::pacific;
use launch_edge_core::page::entry::PageEntry;
use launch_edge_core::page::key::PageKey;
use launch_edge_core::tally::launch_key;
use launch_edge_core::visit::attribution::DIRECT;
use launch_edge_core::visit::visitors::limiter_key;

use crate::error::AppError;
use crate::isolate::{batcher, tally};
use crate::net::origin::now_ms;
use crate::objects::counter_shard::client::{Counted, ShardClient};
use crate::page_store;
use crate::visit::{event_time, Visit};

/// The worker counter of a request the per-IP limit refused.
const INBOUND_RATE_LIMITED: &str = "inbound_rate_limited";

/// Per-client limit on the click and event endpoints (Cloudflare's Rate Limiting
/// binding), keyed by IPv4 address or IPv6 /64 ([`limiter_key`]). Each refusal counts
/// the worker counter `inbound_rate_limited` for `slug`, tallied in the isolate
/// ([`tally::count_edge_later`]), so a flood of refusals costs no call per request.
async fn enforce_rate_limit(
    req: &Request,
    slug: &Slug,
    env: &Env,
    ctx: &Context,
) -> Result<(), AppError> {
    let ip = req.headers().get("cf-connecting-ip")?.unwrap_or_default();
    let outcome = env
        .rate_limiter(bindings::EVENTS_LIMITER)?
        .limit(limiter_key(&ip))
        .await?;
    if outcome.success {
        Ok(())
    } else {
        let key = launch_key(INBOUND_RATE_LIMITED, slug.as_str());
        tally::count_edge_later(env, ctx, key);
        Err(AppError::RateLimited)
    }
}

/// `GET /go/:slug?to=<name>`: counts a click, then redirects to a configured destination.
pub async fn click(
    req: &Request,
    raw_slug: &str,
    config: Rc<Config>,
    env: &Env,
    ctx: &Context,
) -> Result<Response, AppError> {
    let slug = Slug::parse(raw_slug)?;
    enforce_rate_limit(req, &slug, env, ctx).await?;
    let url = req.url()?;
    let to = url
        .query_pairs()
        .find(|(k, _)| k == "to")
        .map(|(_, v)| v.into_owned())
        .ok_or(AppError::BadRequest("missing_destination"))?;
    let entry = known_launch(&slug, &config, env, ctx).await?;
    let destination = entry
        .destinations
        .get(&to)
        .ok_or(AppError::BadRequest("unknown_destination"))?;
    let target = Url::parse(destination)
        .map_err(|_| AppError::Internal(format!("destination {to} of {slug} is not a URL")))?;
    let now = event_time(req, &config);
    let visit = Visit::of(req, &url, &config, now)?;
    if !visit.traffic.is_bot() {
        let event = visit.event(&slug, EventKind::Click, 0, now);
        batcher::count_acked(env, &config, ctx, event).await?;
    }
    Ok(Response::redirect_with_status(target, 302)?)
}

/// The launch's cached page entry (its destinations), or `unknown_launch`: the same
/// layered lookup as the page itself, so clicks and events never ask the origin more.
async fn known_launch(
    slug: &Slug,
    config: &Rc<Config>,
    env: &Env,
    ctx: &Context,
) -> Result<PageEntry, AppError> {
    let key = PageKey::normalize(slug.clone(), [], &config.variants);
    let (entry, _) = page_store::resolve(config, env, ctx, &key).await?;
    if entry.is_found() {
        Ok(entry)
    } else {
        Err(AppError::UnknownLaunch)
    }
}

/// `POST /launch/:slug/events`: the page's conversion beacon.
pub async fn beacon(
    req: &mut Request,
    raw_slug: &str,
    config: Rc<Config>,
    env: &Env,
    ctx: &Context,
) -> Result<Response, AppError> {
    let slug = Slug::parse(raw_slug)?;
    enforce_rate_limit(req, &slug, env, ctx).await?;
    let body = super::read_body_limited(req, MAX_EVENT_BODY_BYTES)
        .await?
        .ok_or(launch_edge_core::count::beacon::EventError::TooLarge)?;
    let (conversion, landing) = parse_event_with_landing(&body, &EventRules::public())?;
    let entry = known_launch(&slug, &config, env, ctx).await?;
    let url = req.url()?;
    let cors_origin = allowed_origin(req, &url, &entry)?;
    let now = event_time(req, &config);
    let visit = Visit::with_landing(req, &url, &landing, &config, now)?;
    let event = visit.event(
        &slug,
        EventKind::Conversion(conversion.kind),
        conversion.amount_cents,
        now,
    );
    batcher::count_acked(env, &config, ctx, event).await?;
    let mut response = Response::from_json(
        &json!({ "counted": conversion.kind.as_str(), "launch": slug.as_str() }),
    )?;
    response = response.with_status(202);
    if let Some(origin) = cors_origin {
        let headers = response.headers_mut();
        headers.set("access-control-allow-origin", &origin)?;
        headers.set("vary", "Origin")?;
    }
    Ok(response)
}

/// The request's `Origin` when the launch lists it (the answer then carries
/// `Access-Control-Allow-Origin`), `None` for no Origin or the page's own, and
/// 403 `origin_not_allowed` for any other page (see `launch_edge_core::count::cors`).
fn allowed_origin(req: &Request, url: &Url, entry: &PageEntry) -> Result<Option<String>, AppError> {
    let origin = req.headers().get("origin")?;
    let own = url.origin().ascii_serialization();
    match judge(origin.as_deref(), &own, &entry.beacon_origins) {
        OriginVerdict::Absent | OriginVerdict::SameOrigin => Ok(None),
        OriginVerdict::Allowed => Ok(origin),
        OriginVerdict::Refused => Err(AppError::OriginNotAllowed),
    }
}

/// `OPTIONS /launch/:slug/events`: the CORS preflight of a listed page's beacon (a
/// `fetch` with a JSON body); `navigator.sendBeacon`'s `text/plain` needs none.
pub async fn beacon_preflight(
    req: &Request,
    raw_slug: &str,
    config: Rc<Config>,
    env: &Env,
    ctx: &Context,
) -> Result<Response, AppError> {
    let slug = Slug::parse(raw_slug)?;
    let entry = known_launch(&slug, &config, env, ctx).await?;
    let mut response = Response::empty()?.with_status(204);
    let Some(origin) = allowed_origin(req, &req.url()?, &entry)? else {
        return Ok(response);
    };
    let headers = response.headers_mut();
    headers.set("access-control-allow-origin", &origin)?;
    headers.set("access-control-allow-methods", "POST")?;
    headers.set("access-control-allow-headers", "content-type")?;
    headers.set(
        "access-control-max-age",
        &PREFLIGHT_MAX_AGE_SECS.to_string(),
    )?;
    headers.set("vary", "Origin")?;
    Ok(response)
}

/// The master secret of signed conversions (at least 32 bytes, like every signing key),
/// or `misconfigured` naming it.
fn conversions_secret(env: &Env) -> Result<Secret, AppError> {
    let name = bindings::CONVERSIONS_SECRET;
    let value = env
        .secret(name)
        .map(|s| s.to_string())
        .or_else(|_| env.var(name).map(|v| v.to_string()))
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or(AppError::Config(ConfigError::Missing(name)))?;
    if value.len() < launch_edge_proto::MIN_SECRET_BYTES {
        return Err(AppError::Config(ConfigError::Invalid {
            name,
            reason: format!(
                "must be at least {} bytes",
                launch_edge_proto::MIN_SECRET_BYTES
            ),
        }));
    }
    Ok(Secret::new(value))
}

/// `POST /launch/:slug/conversions`: a conversion signed with the launch's own key (see
/// `conversions`): 202 when counted, 200 with `X-Webhook-Duplicate: true` for a
/// `webhook-id` already counted; signature refusals are the webhook codes.
pub async fn signed_conversion(
    req: &mut Request,
    raw_slug: &str,
    config: Rc<Config>,
    env: &Env,
    ctx: &Context,
) -> Result<Response, AppError> {
    let slug = Slug::parse(raw_slug)?;
    let master = conversions_secret(env)?;
    let body = super::read_body_limited(req, MAX_EVENT_BODY_BYTES)
        .await?
        .ok_or(launch_edge_core::count::beacon::EventError::TooLarge)?;
    let headers = req.headers();
    let now_secs = (now_ms() / 1000) as i64;
    let signed = conversion::verify(
        &master,
        &slug,
        |name| headers.get(name).ok().flatten(),
        &body,
        now_secs,
    )
    .map_err(|e| match e {
        ConversionError::Signature(e) => AppError::Webhook(e),
        ConversionError::Event(e) => AppError::Event(e),
    })?;
    known_launch(&slug, &config, env, ctx).await?;
    let event = CountedEvent {
        launch: slug.to_string(),
        kind: EventKind::Conversion(signed.event.kind),
        source: signed.source,
        medium: None,
        campaign: None,
        revenue_cents: signed.event.amount_cents,
        currency: signed.event.currency.clone(),
        at_ms: event_time(req, &config) as i64,
        visitor: None,
        edge: Vec::new(),
    };
    let shard = shard_for(signed.shard_key, config.counter_shards);
    let counted = ShardClient::of(env, slug.as_str(), shard)?
        .count(&event, Some(&signed.count_id))
        .await?;
    let duplicate = counted == Counted::Duplicate;
    let mut response = Response::from_json(&json!({
        "counted": signed.event.kind.as_str(),
        "launch": slug.as_str(),
        "duplicate": duplicate,
    }))?
    .with_status(if duplicate { 200 } else { 202 });
    if duplicate {
        response.headers_mut().set("x-webhook-duplicate", "true")?;
    }
    Ok(response)
}

/// `GET /admin/launches/:slug/conversion-key`: the launch's signing secret for
/// `POST /launch/:slug/conversions`, as `whsec_<base64>` (admin only; never logged).
pub fn conversion_key(raw_slug: &str, env: &Env) -> Result<Response, AppError> {
    let slug = Slug::parse(raw_slug)?;
    let key = conversion::launch_key(&conversions_secret(env)?, &slug);
    Ok(Response::from_json(&json!({
        "launch": slug.as_str(),
        "endpoint": format!("/launch/{slug}/conversions"),
        "scheme": "standard-webhooks",
        "secret": conversion::display_secret(&key),
    }))?)
}

/// `GET /admin/launches/:slug/stats?day=YYYY-MM-DD`: counters merged over all shards.
pub async fn stats(
    req: &Request,
    raw_slug: &str,
    config: &Config,
    env: &Env,
) -> Result<Response, AppError> {
    let slug = Slug::parse(raw_slug)?;
    let url = req.url()?;
    let day = match url.query_pairs().find(|(k, _)| k == "day") {
        Some((_, d)) => pacific::parse_day_key(&d)
            .map(pacific::day_key)
            .ok_or(AppError::BadRequest("invalid_day"))?,
        None => pacific::day_key(pacific::pacific_day_at_ms(now_ms() as i64)),
    };
    let mut shards = Vec::new();
    for index in 0..config.counter_shards {
        let shard = ShardClient::of(env, slug.as_str(), index)?;
        shards.push(shard.totals(slug.as_str(), &day).await?);
    }
    let merged = DayCounts::merge_all(slug.as_str(), &day, &shards)
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let stats = merged
        .stats()
        .map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(Response::from_json(
        &json!({ "shards": config.counter_shards, "source_default": DIRECT, "stats": stats }),
    )?)
}
