//! `GET /render/:slug`: the launch page HTML, for the worker only (signed requests).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use launch_edge_proto::{headers, Slug};
use serde::Deserialize;

use crate::error::AppError;
use crate::launches::{self, Launch};
use crate::routes::metrics::Metrics;
use crate::startup::AppState;

#[derive(Debug, Deserialize)]
pub struct RenderQuery {
    lang: Option<String>,
}

#[derive(Template)]
#[template(path = "launch.html")]
struct LaunchPage<'a> {
    launch: &'a Launch,
    lang: &'a str,
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
    let lang = query
        .lang
        .as_deref()
        .filter(|l| matches!(*l, "en" | "fr" | "de"))
        .unwrap_or("en");
    Metrics::inc(&state.metrics.renders_total);
    match launches::find(&state.pool, &slug).await? {
        Some(launch) => {
            let page = LaunchPage {
                launch: &launch,
                lang,
            }
            .render()?;
            let mut response = Html(page).into_response();
            let destinations = serde_json::to_string(&launch.destinations.0).unwrap_or_default();
            if let Ok(value) = header::HeaderValue::from_str(&destinations) {
                response
                    .headers_mut()
                    .insert(headers::LAUNCH_DESTINATIONS, value);
            }
            Ok(response)
        }
        None => {
            Metrics::inc(&state.metrics.renders_not_found_total);
            let body = NotFoundPage {
                slug: slug.as_str(),
            }
            .render()?;
            Ok((
                StatusCode::NOT_FOUND,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                body,
            )
                .into_response())
        }
    }
}
