//! `GET /internal/launches`: the launches the worker's crons act on (signed, worker only).
//! Archived launches are left out: the worker treats their slugs as unknown.

use axum::extract::State;
use axum::Json;
use serde::Serialize;

use crate::error::AppError;
use crate::state::AppState;

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct LaunchSchedule {
    pub slug: String,
    /// Unix milliseconds.
    pub launch_at_ms: i64,
    /// https origins allowed to send this launch's beacon events (the launch file's
    /// `beacon_origins`), for the worker's CORS.
    pub beacon_origins: Vec<String>,
}

pub async fn launches(
    State(state): State<AppState>,
) -> Result<Json<Vec<LaunchSchedule>>, AppError> {
    let launches = sqlx::query_as::<_, LaunchSchedule>(
        "SELECT slug, (extract(epoch FROM launch_at) * 1000)::bigint AS launch_at_ms, beacon_origins
           FROM launches WHERE archived_at IS NULL ORDER BY launch_at, slug",
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(launches))
}
