//! Counting from the request path (glue): who is visiting, which shard counts it, and
//! the click and beacon endpoints. Views are counted in `wait_until` (the page never
//! waits); clicks and conversions are answered only after their shard stored them.

use std::cell::RefCell;
use std::rc::Rc;

use futures_util::StreamExt;
use launch_edge_proto::{Secret, Slug};
use serde_json::json;
use worker::{Context, Env, Method, Request, RequestInit, Response, Url};

use launch_edge_core::visit::attribution::{attribute, DIRECT};
use launch_edge_core::count::cors::{judge, OriginVerdict, PREFLIGHT_MAX_AGE_SECS};
use launch_edge_core::bindings;
use launch_edge_core::body_limit::LimitedBody;
use launch_edge_core::visit::bots::{classify, Traffic};
use launch_edge_core::page::key::PageKey;
use launch_edge_core::config::{Config, ConfigError};
use launch_edge_core::count::conversion::{self, ConversionError};
use crate::isolate::batcher;
use crate::objects::counter_shard::{EVENT_ID_HEADER, FLUSH_ID_HEADER, SHARD_HEADER};
use launch_edge_core::count::shard::{shard_for, shard_name, CountedEvent, DayCounts, EventKind};
use crate::error::AppError;
use launch_edge_core::count::beacon::{parse_event_with_landing, EventRules, MAX_EVENT_BODY_BYTES};
use crate::net::origin::now_ms;
use launch_edge_core::pacific;
use launch_edge_core::page::entry::PageEntry;
use crate::page_store;
use launch_edge_core::visit::visitors::{limiter_key, visitor_hash, SaltCache};


/// Sends one event to its shard and waits until the shard has stored it; with an
/// `event_id` the shard counts the event at most once per id (within
/// `recent_ids::DEDUPE_WINDOW_MS`, 30 days), answering a repeat without counting. `shard_key` must then be derived from the id,
/// so every repeat reaches the shard that remembers it. (Views, clicks and beacons go
/// through [`count_batcher`] instead, many to a call.)
pub async fn count_once(
    env: &Env,
    config: &Config,
    event: &CountedEvent,
    shard_key: u64,
    event_id: Option<&str>,
) -> Result<(), AppError> {
    let name = shard_name(&event.launch, shard_for(shard_key, config.counter_shards));
    let body = serde_json::to_string(event)?;
    post_to_shard(env, &name, "/count", body, event_id).await
}

/// POSTs a JSON `body` to the counter shard `name` (route `path`, see `counter_shard`),
/// with an optional idempotency key; `Ok` once the shard answered 200 (stored).
pub async fn post_to_shard(
    env: &Env,
    name: &str,
    path: &str,
    body: String,
    event_id: Option<&str>,
) -> Result<(), AppError> {
    let key = event_id.map(|id| (EVENT_ID_HEADER, id));
    match shard_status(env, name, path, body, key).await? {
        200 => Ok(()),
        status => Err(AppError::Internal(format!(
            "shard {name} answered {status}"
        ))),
    }
}

/// What a shard said to a batch of events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardAnswer {
    /// Counted now, or already counted under this flush id.
    Stored,
    /// The shard can never count it (an invalid event): resending cannot help.
    Refused(u16),
}

/// POSTs a batch (`count_batcher`) to `/count-batch` of shard `name` under its flush id.
/// A 5xx or a network error is an `Err`: the batch may or may not have been applied,
/// and is resent under the same id.
pub async fn post_batch_to_shard(
    env: &Env,
    name: &str,
    body: String,
    flush_id: &str,
) -> Result<ShardAnswer, AppError> {
    let key = Some((FLUSH_ID_HEADER, flush_id));
    match shard_status(env, name, "/count-batch", body, key).await? {
        200 => Ok(ShardAnswer::Stored),
        status @ 400..=499 => Ok(ShardAnswer::Refused(status)),
        status => Err(AppError::Internal(format!(
            "shard {name} answered {status}"
        ))),
    }
}

async fn shard_status(
    env: &Env,
    name: &str,
    path: &str,
    body: String,
    key: Option<(&str, &str)>,
) -> Result<u16, AppError> {
    Ok(shard_call(env, name, path, body, key).await?.status_code())
}

async fn shard_call(
    env: &Env,
    name: &str,
    path: &str,
    body: String,
    key: Option<(&str, &str)>,
) -> Result<Response, AppError> {
    let stub = env
        .durable_object(bindings::COUNTER_SHARD)?
        .id_from_name(name)?
        .get_stub()?;
    let headers = worker::Headers::new();
    headers.set(SHARD_HEADER, name)?;
    headers.set("content-type", "application/json")?;
    if let Some((header, id)) = key {
        headers.set(header, id)?;
    }
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(body.into()));
    let url = format!("https://shard{path}");
    Ok(stub
        .fetch_with_request(Request::new_with_init(&url, &init)?)
        .await?)
}

/// Like [`count_once`] with an id, and says whether the shard had counted that id
/// already (`true`: a duplicate, not counted again).
async fn count_once_or_duplicate(
    env: &Env,
    config: &Config,
    event: &CountedEvent,
    shard_key: u64,
    event_id: &str,
) -> Result<bool, AppError> {
    let name = shard_name(&event.launch, shard_for(shard_key, config.counter_shards));
    let body = serde_json::to_string(event)?;
    let key = Some((EVENT_ID_HEADER, event_id));
    let mut response = shard_call(env, &name, "/count", body, key).await?;
    match response.status_code() {
        200 => Ok(response.text().await? == crate::objects::counter_shard::ALREADY_COUNTED),
        status => Err(AppError::Internal(format!(
            "shard {name} answered {status}"
        ))),
    }
}


/// Counts a page view in the background (bots separately, never as visitors), with the
/// edge cache's verdict (`HIT`, `MISS`, `STALE`) as the worker counter `cache_<verdict>`.
pub fn count_view_later(
    req: &Request,
    url: &Url,
    slug: &Slug,
    cache_verdict: &str,
    config: Rc<Config>,
    env: &Env,
    ctx: &Context,
) -> Result<(), AppError> {
    let now = event_time(req, &config);
    let visit = Visit::of(req, url, &config, now)?;
    let kind = if visit.traffic.is_bot() {
        EventKind::BotView
    } else {
        EventKind::View
    };
    let mut event = visit.event(slug, kind, 0, now);
    event
        .edge
        .push(format!("cache_{}", cache_verdict.to_ascii_lowercase()));
    count_batcher::count_later(env, &config, ctx, event);
    Ok(())
}

/// Per-client limit on the click and event endpoints (Cloudflare's Rate Limiting
/// binding), keyed by IPv4 address or IPv6 /64 ([`limiter_key`]).
async fn enforce_rate_limit(req: &Request, env: &Env) -> Result<(), AppError> {
    let ip = req.headers().get("cf-connecting-ip")?.unwrap_or_default();
    let outcome = env
        .rate_limiter(bindings::EVENTS_LIMITER)?
        .limit(limiter_key(&ip))
        .await?;
    if outcome.success {
        Ok(())
    } else {
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
    enforce_rate_limit(req, env).await?;
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
        count_batcher::count_acked(env, &config, ctx, event).await?;
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
    let (entry, _, _) = pages::resolve(config, env, ctx, &key).await?;
    if entry.is_found() {
        Ok(entry)
    } else {
        Err(AppError::UnknownLaunch)
    }
}

/// Reads a request body with a running byte limit (see [`LimitedBody`]): `None` when the
/// declared length or the bytes streamed pass `limit`; reading stops there, whatever
/// `Content-Length` said or omitted.
pub async fn read_body_limited(
    req: &mut Request,
    limit: usize,
) -> Result<Option<Vec<u8>>, AppError> {
    let mut body = LimitedBody::new(limit);
    if body
        .check_declared(req.headers().get("content-length")?.as_deref())
        .is_err()
    {
        return Ok(None);
    }
    if req.inner().body().is_none() {
        return Ok(Some(Vec::new()));
    }
    let mut stream = req.stream()?;
    while let Some(chunk) = stream.next().await {
        if body.push(&chunk?).is_err() {
            // Dropping the stream cancels the rest of the upload.
            return Ok(None);
        }
    }
    Ok(Some(body.into_bytes()))
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
    enforce_rate_limit(req, env).await?;
    let body = read_body_limited(req, MAX_EVENT_BODY_BYTES)
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
    count_batcher::count_acked(env, &config, ctx, event).await?;
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
/// 403 `origin_not_allowed` for any other page (see `beacon_cors`).
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
    let body = read_body_limited(req, MAX_EVENT_BODY_BYTES)
        .await?
        .ok_or(launch_edge_core::count::beacon::EventError::TooLarge)?;
    let headers = req.headers();
    let now_secs = (now_ms() / 1000) as i64;
    let signed = conversions::verify(
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
        revenue_cents: signed.event.amount_cents,
        currency: signed.event.currency.clone(),
        at_ms: event_time(req, &config) as i64,
        visitor: None,
        edge: Vec::new(),
    };
    let duplicate =
        count_once_or_duplicate(env, &config, &event, signed.shard_key, &signed.count_id).await?;
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
    let key = conversions::launch_key(&conversions_secret(env)?, &slug);
    Ok(Response::from_json(&json!({
        "launch": slug.as_str(),
        "endpoint": format!("/launch/{slug}/conversions"),
        "scheme": "standard-webhooks",
        "secret": conversions::display_secret(&key),
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
    let namespace = env.durable_object(bindings::COUNTER_SHARD)?;
    let mut shards = Vec::new();
    for index in 0..config.counter_shards {
        let name = shard_name(slug.as_str(), index);
        let stub = namespace.id_from_name(&name)?.get_stub()?;
        let mut query = Url::parse("https://shard/totals").expect("static URL");
        query
            .query_pairs_mut()
            .append_pair("launch", slug.as_str())
            .append_pair("day", &day);
        let headers = worker::Headers::new();
        headers.set(SHARD_HEADER, &name)?;
        let mut init = RequestInit::new();
        init.with_headers(headers);
        let mut response = stub
            .fetch_with_request(Request::new_with_init(query.as_str(), &init)?)
            .await?;
        shards.push(response.json::<DayCounts>().await?);
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
