//! Finalizing a Pacific day: one `daily_summaries` row per launch, from the day tables.
//!
//! The worker's rollover cron calls this after the last flush of the day, and may call it
//! more than once (the 07:00 and 08:00 UTC crons, retries). Re-running recomputes the
//! figures (a late batch is picked up) but keeps the first `finalized_at`, and leaves the
//! row untouched when nothing changed, so a repeat is a no-op.

use chrono::{DateTime, NaiveDate, Utc};
use launch_edge_proto::{uniques, Slug};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use crate::error::AppError;
use crate::ingest::parse_day;
use crate::reports::metric;

/// `POST /ingest/finalize-day` body: one Pacific day, for one launch or for all of them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FinalizeRequest {
    pub day: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch: Option<String>,
}

/// The answer: the summaries of that day after finalization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinalizeResponse {
    pub day: NaiveDate,
    pub summaries: Vec<DailySummary>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct DailySummary {
    pub launch: String,
    pub day: NaiveDate,
    pub views: i64,
    pub bot_views: i64,
    pub unique_visitors: i64,
    pub clicks: i64,
    pub conversions: i64,
    pub revenue_cents: i64,
    pub finalized_at: DateTime<Utc>,
}

/// Validates a finalize request body. Pure.
pub fn parse_request(body: &[u8]) -> Result<(NaiveDate, Option<Slug>), AppError> {
    let request: FinalizeRequest =
        serde_json::from_slice(body).map_err(|_| AppError::BadRequest("malformed_json"))?;
    let day = parse_day(&request.day)?;
    let launch = request
        .launch
        .as_deref()
        .map(Slug::parse)
        .transpose()
        .map_err(|_| AppError::BadRequest("invalid_launch"))?;
    Ok((day, launch))
}

/// Writes (or refreshes) the summaries of `day`: for `launch` alone (which must exist,
/// and gets a row even with no traffic), or for every known launch with data that day.
pub async fn finalize(
    pool: &PgPool,
    day: NaiveDate,
    launch: Option<&Slug>,
) -> Result<FinalizeResponse, AppError> {
    let launch = launch.map(Slug::as_str);
    if let Some(slug) = launch {
        let known: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM launches WHERE slug = $1)")
                .bind(slug)
                .fetch_one(pool)
                .await?;
        if !known {
            return Err(AppError::NotFound);
        }
    }
    let sketches: Vec<(String, Vec<u8>)> = sqlx::query_as(
        "SELECT launch, sketch FROM visitor_sketches
          WHERE day = $1 AND ($2::text IS NULL OR launch = $2)",
    )
    .bind(day)
    .bind(launch)
    .fetch_all(pool)
    .await?;
    let mut sketch_launch = Vec::with_capacity(sketches.len());
    let mut sketch_uniques = Vec::with_capacity(sketches.len());
    for (l, bytes) in sketches {
        // A stored sketch always parsed on the way in; an unreadable one is corruption.
        let estimate = uniques::estimate_serialized(&bytes)
            .map_err(|_| AppError::Unprocessable("stored_sketch_unreadable"))?;
        sketch_launch.push(l);
        sketch_uniques.push(i64::try_from(estimate).unwrap_or(i64::MAX));
    }
    sqlx::query(
        "WITH totals AS (
             SELECT launch,
                    COALESCE(sum(value) FILTER (WHERE metric = $3), 0)::bigint AS views,
                    COALESCE(sum(value) FILTER (WHERE metric = $4), 0)::bigint AS bot_views,
                    COALESCE(sum(value) FILTER (WHERE metric = $5), 0)::bigint AS clicks,
                    -- Revenue in the launch's currency only (no currency named, or its own).
                    COALESCE(sum(value) FILTER (WHERE metric = $6
                                                   OR metric = $6 || '.' || lower(l.currency)),
                             0)::bigint AS revenue_cents,
                    COALESCE(sum(value) FILTER (WHERE split_part(metric, '.', 1) <> ALL($7::text[])),
                             0)::bigint AS conversions
               FROM metrics_day JOIN launches l ON l.slug = launch
              WHERE day = $1 GROUP BY launch
         ), uniq AS (
             SELECT * FROM UNNEST($8::text[], $9::bigint[]) AS u(launch, unique_visitors)
         )
         INSERT INTO daily_summaries AS d
                (launch, day, views, bot_views, unique_visitors, clicks, conversions, revenue_cents)
         SELECT l.slug, $1, COALESCE(t.views, 0), COALESCE(t.bot_views, 0),
                COALESCE(u.unique_visitors, 0), COALESCE(t.clicks, 0),
                COALESCE(t.conversions, 0), COALESCE(t.revenue_cents, 0)
           FROM launches l
           LEFT JOIN totals t ON t.launch = l.slug
           LEFT JOIN uniq u ON u.launch = l.slug
          WHERE CASE WHEN $2::text IS NULL THEN t.launch IS NOT NULL OR u.launch IS NOT NULL
                     ELSE l.slug = $2 END
          ORDER BY l.slug
         ON CONFLICT (launch, day) DO UPDATE SET
                views = EXCLUDED.views, bot_views = EXCLUDED.bot_views,
                unique_visitors = EXCLUDED.unique_visitors, clicks = EXCLUDED.clicks,
                conversions = EXCLUDED.conversions, revenue_cents = EXCLUDED.revenue_cents,
                updated_at = now()
          WHERE (d.views, d.bot_views, d.unique_visitors, d.clicks, d.conversions, d.revenue_cents)
                IS DISTINCT FROM
                (EXCLUDED.views, EXCLUDED.bot_views, EXCLUDED.unique_visitors, EXCLUDED.clicks,
                 EXCLUDED.conversions, EXCLUDED.revenue_cents)",
    )
    .bind(day)
    .bind(launch)
    .bind(metric::VIEW)
    .bind(metric::BOT_VIEW)
    .bind(metric::CLICK)
    .bind(metric::REVENUE_CENTS)
    .bind(metric::NOT_CONVERSIONS)
    .bind(&sketch_launch)
    .bind(&sketch_uniques)
    .execute(pool)
    .await?;
    let summaries = sqlx::query_as::<_, DailySummary>(
        "SELECT launch, day, views, bot_views, unique_visitors, clicks, conversions,
                revenue_cents, finalized_at
           FROM daily_summaries
          WHERE day = $1 AND ($2::text IS NULL OR launch = $2)
          ORDER BY launch",
    )
    .bind(day)
    .bind(launch)
    .fetch_all(pool)
    .await?;
    Ok(FinalizeResponse { day, summaries })
}
