//! `GET /launch/:slug`: the page from [`crate::page_store`], its view counted in the
//! background, with `ETag`/`304`, `Cache-Control` and the `X-Cache` verdict.

use std::rc::Rc;

use launch_edge_core::config::Config;
use launch_edge_core::count::shard::EventKind;
use launch_edge_core::page::entry::{if_none_match_hits, PageEntry};
use launch_edge_core::page::key::PageKey;
use launch_edge_proto::Slug;
use worker::{Context, Env, Headers, Request, Response, Url};

use crate::error::AppError;
use crate::isolate::batcher;
use crate::page_store::{self, Served};
use crate::visit::{event_time, Visit};

pub async fn serve(
    req: &Request,
    raw_slug: &str,
    config: Rc<Config>,
    env: &Env,
    ctx: &Context,
) -> Result<Response, AppError> {
    let slug = Slug::parse(raw_slug)?;
    let url = req.url()?;
    let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let key = PageKey::normalize(
        slug.clone(),
        query.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        &config.variants,
    );
    let if_none_match = req.headers().get("if-none-match")?;
    let (entry, served) = page_store::resolve(&config, env, ctx, &key).await?;
    if entry.is_found() && req.method() == worker::Method::Get {
        count_view_later(req, &url, &slug, served, config.clone(), env, ctx)?;
    }
    respond(&config, &entry, served, if_none_match.as_deref())
}

/// Counts a page view in the background (bots separately, never as visitors), with how
/// it was served as worker counters riding along: the edge cache's verdict
/// (`cache_hit`, `cache_stale`, `cache_miss`) and the layer that served it
/// (`page_<layer>_hit|stale`, `page_origin_render`; see
/// `launch_edge_core::page::served`). They travel with the view, so they cost no call
/// of their own.
fn count_view_later(
    req: &Request,
    url: &Url,
    slug: &Slug,
    served: Served,
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
    event.edge.extend(served.counters().map(str::to_owned));
    batcher::count_later(env, &config, ctx, event);
    Ok(())
}

fn respond(
    config: &Config,
    entry: &PageEntry,
    served: Served,
    if_none_match: Option<&str>,
) -> Result<Response, AppError> {
    let headers = Headers::new();
    headers.set("cache-control", &config.cache.cache_control(entry))?;
    headers.set("etag", &entry.etag)?;
    headers.set("x-cache", served.verdict.header())?;
    headers.set("x-cache-layer", served.layer.as_str())?;
    if entry.is_found() && if_none_match.is_some_and(|h| if_none_match_hits(h, &entry.etag)) {
        return Ok(Response::empty()?.with_status(304).with_headers(headers));
    }
    headers.set("content-type", "text/html; charset=utf-8")?;
    Ok(Response::from_html(&entry.html)?
        .with_status(entry.status)
        .with_headers(headers))
}
