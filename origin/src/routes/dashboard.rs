//! `GET /launches`, `GET /launches/:slug` (HTML) and `GET /api/launches/:slug/series`
//! (JSON), behind the dashboard token.
//!
//! The dashboard shows revenue, so it is never public. Access takes the `DASHBOARD_TOKEN`
//! as a bearer header, or once as `?token=` in a link: that answer sets an HttpOnly,
//! SameSite=Strict cookie and redirects to the same URL without the token, so the token
//! does not stay in the address bar, the history or the self-refreshing page. Tokens are
//! compared in constant time ([`Secret::matches`]); with no token configured the dashboard
//! is closed rather than open.

use askama::Template;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use chrono::NaiveDate;
use launch_edge_proto::{Secret, Slug};
use serde::{Deserialize, Serialize};

use crate::dashboard::data::{self, MinutePoint};
use crate::dashboard::view::{DashboardData, DashboardPage, IndexPage};
use crate::error::AppError;
use crate::ingest::parse_day;
use crate::startup::AppState;
use crate::{launches, reports};

pub const COOKIE: &str = "launch_edge_dashboard";
/// A week: the whole launch week from one link.
const COOKIE_MAX_AGE_SECS: u32 = 7 * 24 * 3600;

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

fn cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(COOKIE)?.strip_prefix('='))
}

/// Splits `?token=` out of a query string: `(token, the other parameters)`.
fn split_token(query: &str) -> (Option<&str>, Vec<&str>) {
    let mut token = None;
    let mut rest = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.strip_prefix("token=") {
            Some(t) => token = Some(t),
            None => rest.push(pair),
        }
    }
    (token, rest)
}

fn check(expected: &Secret, presented: &str) -> Result<(), AppError> {
    expected
        .matches(presented.as_bytes())
        .then_some(())
        .ok_or(AppError::DashboardAuth("dashboard_token_invalid"))
}

pub async fn require_dashboard_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, AppError> {
    let expected = state
        .dashboard_token
        .as_ref()
        .ok_or(AppError::DashboardAuth("dashboard_token_not_configured"))?;
    let uri: &Uri = request.uri();
    let (query_token, rest) = split_token(uri.query().unwrap_or(""));
    if let Some(token) = query_token {
        check(expected, token)?;
        let location = if rest.is_empty() {
            uri.path().to_owned()
        } else {
            format!("{}?{}", uri.path(), rest.join("&"))
        };
        let cookie = format!(
            "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={COOKIE_MAX_AGE_SECS}"
        );
        let mut response = StatusCode::SEE_OTHER.into_response();
        let headers = response.headers_mut();
        // The token passed the check against a configured value whose charset is
        // validated at start-up, so it is a valid header value.
        if let (Ok(loc), Ok(set)) = (
            HeaderValue::from_str(&location),
            HeaderValue::from_str(&cookie),
        ) {
            headers.insert(header::LOCATION, loc);
            headers.insert(header::SET_COOKIE, set);
        }
        return Ok(response);
    }
    match bearer(request.headers()).or_else(|| cookie(request.headers())) {
        Some(presented) => check(expected, presented)?,
        None => return Err(AppError::DashboardAuth("dashboard_token_required")),
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    Ok(response)
}

#[derive(Debug, Deserialize)]
pub struct DayQuery {
    day: Option<String>,
}

fn parse(raw_slug: &str, query: &DayQuery) -> Result<(Slug, Option<NaiveDate>), AppError> {
    let slug = Slug::parse(raw_slug).map_err(|e| AppError::BadRequest(e.code()))?;
    let day = query.day.as_deref().map(parse_day).transpose()?;
    Ok((slug, day))
}

pub async fn index(State(state): State<AppState>) -> Result<Html<String>, AppError> {
    let headlines = data::headlines(&state.pool).await?;
    Ok(Html(IndexPage::new(&headlines).render()?))
}

pub async fn page(
    State(state): State<AppState>,
    Path(raw_slug): Path<String>,
    Query(query): Query<DayQuery>,
) -> Result<Html<String>, AppError> {
    let (slug, day) = parse(&raw_slug, &query)?;
    let pool = &state.pool;
    let report = reports::build(pool, &slug, day).await?;
    let chart_day = match day {
        Some(day) => Some(day),
        None => data::latest_day(pool, &slug).await?,
    };
    let minutes = match chart_day {
        Some(d) => data::minute_series(pool, &slug, d).await?,
        None => Vec::new(),
    };
    let daily_uniques = data::daily_uniques(pool, &slug).await?;
    let ph = data::ph_stats(pool, &slug).await?;
    let edge = data::edge_summary(pool, &slug, day).await?;
    let page = DashboardPage::new(&DashboardData {
        report: &report,
        chart_day,
        minutes: &minutes,
        daily_uniques: &daily_uniques,
        vote_velocity: data::vote_velocity(&ph),
        ph: &ph,
        edge: &edge,
    });
    Ok(Html(page.render()?))
}

#[derive(Debug, Serialize, Deserialize)]
pub struct SeriesResponse {
    pub launch: String,
    /// The Pacific day charted: the one asked for, else the latest with traffic.
    pub day: Option<NaiveDate>,
    pub minutes: Vec<MinutePoint>,
}

pub async fn series(
    State(state): State<AppState>,
    Path(raw_slug): Path<String>,
    Query(query): Query<DayQuery>,
) -> Result<Json<SeriesResponse>, AppError> {
    let (slug, day) = parse(&raw_slug, &query)?;
    launches::find(&state.pool, &slug)
        .await?
        .ok_or(AppError::NotFound)?;
    let day = match day {
        Some(day) => Some(day),
        None => data::latest_day(&state.pool, &slug).await?,
    };
    let minutes = match day {
        Some(d) => data::minute_series(&state.pool, &slug, d).await?,
        None => Vec::new(),
    };
    Ok(Json(SeriesResponse {
        launch: slug.as_str().to_owned(),
        day,
        minutes,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_split_out_of_the_query_and_the_rest_kept() {
        assert_eq!(
            split_token("token=abc&day=2026-12-01"),
            (Some("abc"), vec!["day=2026-12-01"])
        );
        assert_eq!(split_token(""), (None, vec![]));
    }

    #[test]
    fn the_dashboard_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; launch_edge_dashboard=tok; b=2"),
        );
        assert_eq!(cookie(&headers), Some("tok"));
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("launch_edge_dashboardX=1"),
        );
        assert_eq!(cookie(&headers), None);
    }
}
