//! `GET /render/:slug`: the launch page HTML, for the worker only (signed requests).
//! An archived launch answers the same 404 page as an unknown one.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use launch_edge_proto::{headers, Slug};
use serde::Deserialize;

use crate::error::AppError;
use crate::launches::store::{self, LoadError};
use crate::launches::{page, values::Lang};
use crate::metrics::Metrics;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct RenderQuery {
    lang: Option<String>,
}

#[derive(Template)]
#[template(path = "not_found.html")]
struct NotFoundPage<'a> {
    slug: &'a str,
}

pub async fn render(
    State(state): State<AppState>,
    Path(raw_slug): Path<String>,
    Query(query): Query<RenderQuery>,
) -> Result<Response, AppError> {
    let slug = Slug::parse(&raw_slug).map_err(|e| AppError::BadRequest(e.code()))?;
    Metrics::inc(&state.metrics.renders_total);
    let stored = match store::load(&state.pool, &slug).await {
        Ok(stored) => stored.filter(|s| s.archived_at.is_none()),
        Err(LoadError::Database(e)) => return Err(e.into()),
        Err(LoadError::Corrupt(e)) => return Err(AppError::Page(e)),
    };
    let Some(stored) = stored else {
        Metrics::inc(&state.metrics.renders_not_found_total);
        let body = NotFoundPage {
            slug: slug.as_str(),
        }
        .render()?;
        return Ok((
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            body,
        )
            .into_response());
    };
    let spec = &stored.spec;
    // A language the page has no texts in gets the page's own language.
    let lang = query
        .lang
        .as_deref()
        .and_then(|l| Lang::parse(l).ok())
        .unwrap_or(spec.lang);
    let html = page::render(spec, lang, state.launches.page_base_url.as_deref())
        .map_err(|e| AppError::Page(e.to_string()))?;
    let mut response = Html(html).into_response();
    let destinations: std::collections::BTreeMap<&str, &str> = spec
        .ctas
        .iter()
        .map(|c| (c.name.as_str(), c.url.as_str()))
        .collect();
    let destinations = serde_json::to_string(&destinations).unwrap_or_default();
    if let Ok(value) = header::HeaderValue::from_str(&destinations) {
        response
            .headers_mut()
            .insert(headers::LAUNCH_DESTINATIONS, value);
    }
    let origins: Vec<String> = spec
        .beacon_origins
        .iter()
        .map(ToString::to_string)
        .collect();
    if let Ok(value) =
        header::HeaderValue::from_str(&serde_json::to_string(&origins).unwrap_or_default())
    {
        response
            .headers_mut()
            .insert(headers::LAUNCH_BEACON_ORIGINS, value);
    }
    Ok(response)
}
