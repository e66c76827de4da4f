//! `GET /launch/:slug`: memory → Cache API → KV → origin, with SWR and stale-if-error.
//!
//! The lookup walks the layers from fastest to slowest and promotes what it finds. Origin
//! fetches for one key are coalesced per isolate ([`single_flight`]): N concurrent
//! misses, or a miss racing a background revalidation, cause one origin request. Writes to
//! KV and the Cache API happen in `wait_until`, never on the response path. A slug no
//! layer holds is checked against the launch list ([`known_launches`]) before any render,
//! so random slugs never reach the origin's renderer; per-key state (the failure
//! backoff) is a bounded map like the memory layer.

use std::rc::Rc;

use launch_edge_proto::Slug;
use worker::{Cache, Context, Env, Headers, Method, Response};

use crate::error::AppError;
use crate::isolate::handoff::{self, Slot};
use crate::isolate::memory;
use crate::isolate::single_flight::{self, Role};
use crate::net::origin::{self, now_ms, OriginError, ORIGIN_TIMEOUT};
use launch_edge_core::bindings;
use launch_edge_core::config::Config;
use launch_edge_core::page::entry::{Freshness, PageEntry};
use launch_edge_core::page::key::PageKey;
use launch_edge_core::page::known_launches::Verdict as Listed;
pub use launch_edge_core::page::served::{Layer, Served, Verdict};

/// After a failed revalidation, the key is not revalidated again for this long, so an
/// origin outage does not turn every stale hit into another doomed origin request.
const REVALIDATE_FAILURE_BACKOFF_MS: u64 = 5_000;
const CACHE_URL_BASE: &str = "https://page-cache.launch-edge.internal/";

/// The page for `key` from the fastest layer that has a servable copy, else the origin,
/// with how it was served (the layer and the `X-Cache` verdict). A stale copy triggers
/// one background revalidation.
pub async fn resolve(
    config: &Rc<Config>,
    env: &Env,
    ctx: &Context,
    key: &PageKey,
) -> Result<(PageEntry, Served), AppError> {
    let served = |layer, verdict| Served { layer, verdict };
    let now = now_ms();
    if let Some((entry, layer)) = lookup(config, env, ctx, key).await {
        match config.cache.classify(&entry, now) {
            Freshness::Fresh => return Ok((entry, served(layer, Verdict::Hit))),
            Freshness::Stale => {
                if should_revalidate(key, now) {
                    let (config, env, key) = (config.clone(), env.clone(), key.clone());
                    ctx.wait_until(async move {
                        if let (Ok(fresh), _) = fetch_coalesced(&config, &key, Reuse::Never).await {
                            persist(&config, &env, &key, &fresh).await;
                        }
                    });
                }
                return Ok((entry, served(layer, Verdict::Stale)));
            }
            Freshness::Expired => {}
        }
    }
    // A render of this key already in flight means the slug is being checked: join it.
    if !single_flight::in_flight(key) && !is_known(config, key.slug()).await? {
        let entry = PageEntry::new(404, not_found_html(key.slug()), now);
        return Ok((entry, served(Layer::LaunchList, Verdict::Hit)));
    }
    match fetch_coalesced(config, key, Reuse::FreshFromMemory).await {
        (Ok(entry), fetched) => {
            if fetched {
                let (config, env, key, entry) =
                    (config.clone(), env.clone(), key.clone(), entry.clone());
                ctx.wait_until(async move { persist(&config, &env, &key, &entry).await });
            }
            Ok((entry, served(Layer::Origin, Verdict::Miss)))
        }
        (Err(err), _) => Err(AppError::OriginUnavailable(err.to_string())),
    }
}

/// Whether `slug` may be rendered: listed, found in a fresh fetch of the launch list, or
/// within the budget for unlisted slugs (see [`launch_edge_core::page::known_launches`]).
/// `OriginUnavailable` while the list cannot be had.
async fn is_known(config: &Config, slug: &Slug) -> Result<bool, AppError> {
    loop {
        let now = now_ms();
        match memory::with(|m| m.known.verdict(slug.as_str(), now)) {
            Listed::Known | Listed::Probe => return Ok(true),
            Listed::Unknown => return Ok(false),
            Listed::Unavailable => {
                return Err(AppError::OriginUnavailable(
                    "launch list unavailable".into(),
                ))
            }
            Listed::Wait => {
                let slot = Slot::new();
                memory::with(|m| m.list_waiters.push(slot.clone()));
                let patience = ORIGIN_TIMEOUT + std::time::Duration::from_secs(1);
                if handoff::wait(&slot, patience).await.is_none() {
                    return Err(AppError::OriginUnavailable("launch list timed out".into()));
                }
            }
            Listed::Refresh => {
                memory::with(|m| m.known.fetching(now));
                let listed = fetch_launch_list(config).await;
                let waiters = memory::with(|state| {
                    match listed {
                        Ok(slugs) => state.known.fetched(slugs),
                        Err(e) => {
                            worker::console_warn!("launch list fetch failed: {e}");
                            state.known.failed();
                        }
                    }
                    std::mem::take(&mut state.list_waiters)
                });
                for slot in waiters {
                    slot.fill(());
                }
            }
        }
    }
}

async fn fetch_launch_list(config: &Config) -> Result<Vec<String>, AppError> {
    let mut response = origin::send_signed(config, Method::Get, "/internal/launches", None)
        .await
        .map_err(|e| AppError::OriginUnavailable(e.to_string()))?;
    if response.status_code() != 200 {
        return Err(AppError::OriginUnavailable(format!(
            "launch list answered {}",
            response.status_code()
        )));
    }
    let launches: Vec<launch_edge_core::cron_plan::LaunchSchedule> = response.json().await?;
    Ok(launches.into_iter().map(|l| l.slug).collect())
}

/// The edge's own 404 page for a slug that is not a launch (the slug is `[a-z0-9-]`).
fn not_found_html(slug: &Slug) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Launch not found</title></head>\n<body><main><h1>No launch called “{slug}”</h1><p>Check the link, or come back on launch day.</p></main></body>\n</html>\n"
    )
}

/// Renders through the origin and stores the page in every layer before answering.
pub async fn prewarm(config: &Config, env: &Env, key: &PageKey) -> Result<PageEntry, AppError> {
    let (result, _) = fetch_coalesced(config, key, Reuse::Never).await;
    let entry = result.map_err(|e| AppError::OriginUnavailable(e.to_string()))?;
    persist(config, env, key, &entry).await;
    // A page the origin no longer has (an archived launch): its KV copy must go too, or
    // locations whose Cache API never held the 404 would serve the old page for up to
    // PAGE_MAX_STALE_SECONDS. Only here, on the signed admin path: a stranger's unknown
    // slugs never cost a KV write.
    if !entry.is_found() {
        let kv = env.kv(bindings::PAGES)?;
        if let Err(e) = kv.delete(&key.storage_key()).await {
            worker::console_error!("KV delete for {key} failed: {e}");
        }
    }
    Ok(entry)
}

/// The keys currently stored in KV (the durable page layer), for operators and tests.
pub async fn stored_keys(env: &Env) -> Result<Vec<String>, AppError> {
    let kv = env.kv(bindings::PAGES)?;
    let mut keys = Vec::new();
    let mut cursor = None;
    loop {
        let mut list = kv.list().prefix("page:".into());
        if let Some(c) = cursor.take() {
            list = list.cursor(c);
        }
        let page = list
            .execute()
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?;
        keys.extend(page.keys.into_iter().map(|k| k.name));
        match page.cursor {
            Some(c) if !page.list_complete => cursor = Some(c),
            _ => break,
        }
    }
    Ok(keys)
}

/// Removes `key` from one layer (test hooks: proving each layer answers on its own).
pub async fn evict(env: &Env, key: &PageKey, layer: Layer) -> Result<(), AppError> {
    match layer {
        Layer::Memory => memory::remove(key),
        Layer::CacheApi => {
            Cache::default().delete(cache_url(key), true).await?;
        }
        Layer::Kv => env
            .kv(bindings::PAGES)?
            .delete(&key.storage_key())
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?,
        Layer::Origin | Layer::LaunchList => {}
    }
    Ok(())
}

fn should_revalidate(key: &PageKey, now: u64) -> bool {
    !single_flight::in_flight(key)
        && memory::with(|m| m.last_failure_ms(key))
            .is_none_or(|t| now.saturating_sub(t) >= REVALIDATE_FAILURE_BACKOFF_MS)
}

async fn lookup(
    config: &Config,
    env: &Env,
    ctx: &Context,
    key: &PageKey,
) -> Option<(PageEntry, Layer)> {
    if let Some(entry) = memory::get(key) {
        return Some((entry, Layer::Memory));
    }
    if let Some(entry) = cache_get(key).await {
        memory::put(config, key, &entry);
        return Some((entry, Layer::CacheApi));
    }
    let kv = env.kv(bindings::PAGES).ok()?;
    let entry: PageEntry = kv.get(&key.storage_key()).json().await.ok().flatten()?;
    memory::put(config, key, &entry);
    let (ttl, key2, entry2) = (
        config.cache.storage_ttl_secs(&entry),
        key.clone(),
        entry.clone(),
    );
    ctx.wait_until(async move { cache_put(&key2, &entry2, ttl).await });
    Some((entry, Layer::Kv))
}

/// Whether a fetch may be answered by a page that became fresh in memory meanwhile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reuse {
    FreshFromMemory,
    Never,
}

/// Runs at most one origin fetch per key in this isolate (see [`single_flight`]); returns
/// whether this call fetched (and so should persist the page).
async fn fetch_coalesced(
    config: &Config,
    key: &PageKey,
    reuse: Reuse,
) -> (Result<PageEntry, OriginError>, bool) {
    // A caller that waited on KV while another finished the fetch finds the fresh page here.
    if reuse == Reuse::FreshFromMemory {
        if let Some(entry) =
            memory::get(key).filter(|e| config.cache.classify(e, now_ms()) == Freshness::Fresh)
        {
            return (Ok(entry), false);
        }
    }
    let leader = match single_flight::join(key) {
        Role::Follower(follower) => match follower.wait().await {
            Some(result) => return (result, false),
            // The leader went away: fetch for ourselves, without coalescing.
            None => None,
        },
        Role::Leader(leader) => Some(leader),
    };
    let result = origin::render(config, key).await;
    memory::with(|state| {
        state.record_fetch(config, key, result.is_err().then(now_ms));
        if result.as_ref().is_ok_and(PageEntry::is_found) {
            state.known.found(key.slug().as_str());
        }
    });
    if let Ok(entry) = &result {
        memory::put(config, key, entry);
    }
    if let Some(leader) = leader {
        leader.finish(&result);
    }
    (result, true)
}

async fn persist(config: &Config, env: &Env, key: &PageKey, entry: &PageEntry) {
    memory::put(config, key, entry);
    let ttl = config.cache.storage_ttl_secs(entry);
    cache_put(key, entry, ttl).await;
    // KV keeps launch pages only: a flood of unknown slugs must not grow it.
    if entry.is_found() {
        if let Err(e) = kv_put(env, key, entry, ttl).await {
            worker::console_error!("KV write for {key} failed: {e}");
        }
    }
    // Only fetches that produced a page come here: the worker's count of origin renders.
    crate::isolate::tally::count_edge(env, "origin_fetch").await;
}

async fn kv_put(env: &Env, key: &PageKey, entry: &PageEntry, ttl: u64) -> worker::Result<()> {
    let kv = env.kv(bindings::PAGES)?;
    // KV refuses TTLs under 60 seconds.
    kv.put(&key.storage_key(), serde_json::to_string(entry)?)?
        .expiration_ttl(ttl.max(60))
        .execute()
        .await?;
    Ok(())
}

fn cache_url(key: &PageKey) -> String {
    format!("{CACHE_URL_BASE}{}", key.storage_key())
}

async fn cache_get(key: &PageKey) -> Option<PageEntry> {
    let mut response = Cache::default()
        .get(cache_url(key), true)
        .await
        .ok()
        .flatten()?;
    let headers = response.headers();
    let status = headers.get("x-le-status").ok().flatten()?.parse().ok()?;
    let fetched_at_ms = headers
        .get("x-le-fetched-at")
        .ok()
        .flatten()?
        .parse()
        .ok()?;
    let etag = headers.get("etag").ok().flatten()?;
    let destinations = crate::net::origin::json_header(headers, "x-le-destinations");
    let beacon_origins = crate::net::origin::json_header(headers, "x-le-beacon-origins");
    let html = response.text().await.ok()?;
    Some(PageEntry {
        status,
        html,
        etag,
        fetched_at_ms,
        destinations,
        beacon_origins,
    })
}

async fn cache_put(key: &PageKey, entry: &PageEntry, ttl: u64) {
    let headers = Headers::new();
    let stored = (|| -> worker::Result<Response> {
        headers.set("content-type", "text/html; charset=utf-8")?;
        headers.set("cache-control", &format!("public, max-age={ttl}"))?;
        headers.set("etag", &entry.etag)?;
        headers.set("x-le-status", &entry.status.to_string())?;
        headers.set("x-le-fetched-at", &entry.fetched_at_ms.to_string())?;
        headers.set(
            "x-le-destinations",
            &serde_json::to_string(&entry.destinations)?,
        )?;
        headers.set(
            "x-le-beacon-origins",
            &serde_json::to_string(&entry.beacon_origins)?,
        )?;
        Ok(Response::from_html(&entry.html)?.with_headers(headers.clone()))
    })();
    let result = match stored {
        Ok(response) => Cache::default().put(cache_url(key), response).await,
        Err(e) => Err(e),
    };
    if let Err(e) = result {
        worker::console_error!("Cache API write for {key} failed: {e}");
    }
}
