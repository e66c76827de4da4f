//! `GET /api/launches/:slug/report?day=YYYY-MM-DD`: the report as JSON.
//!
//! Signed like the other internal routes: revenue and spend are business data, and the
//! worker's bearer-token `/admin` routes (or the dashboard) proxy it with a signature.

use axum::extract::{Path, Query, State};
use axum::Json;
use launch_edge_proto::Slug;
use serde::Deserialize;

use crate::error::AppError;
use crate::ingest::parse_day;
use crate::reports::{self, Report};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct ReportQuery {
    day: Option<String>,
}

pub async fn report(
    State(state): State<AppState>,
    Path(raw_slug): Path<String>,
    Query(query): Query<ReportQuery>,
) -> Result<Json<Report>, AppError> {
    let slug = Slug::parse(&raw_slug).map_err(|e| AppError::BadRequest(e.code()))?;
    let day = query.day.as_deref().map(parse_day).transpose()?;
    Ok(Json(reports::build(&state.pool, &slug, day).await?))
}
