//! What the dashboard, the index and the `/metrics` gauges read: queries plus the pure
//! functions that shape their rows (minute gaps filled, vote velocity, cache hit ratio).
//!
//! Pacific days are computed by Postgres (`AT TIME ZONE 'America/Los_Angeles'`), never
//! with a fixed offset.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use launch_edge_proto::Slug;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use crate::error::AppError;
use crate::reports::currency::{self, CurrencyRevenue, RevenueIn};
use crate::reports::metric;

/// A launch's headline numbers over all days (the index page and the gauges).
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Headline {
    pub slug: String,
    pub name: String,
    pub launch_at: DateTime<Utc>,
    pub currency: String,
    pub views: i64,
    pub conversions: i64,
    /// In the launch's currency.
    pub revenue_cents: i64,
    #[sqlx(default)]
    pub unique_visitors: i64,
    /// Revenue in other currencies, shown apart.
    #[sqlx(skip)]
    pub other_currency_revenue: Vec<CurrencyRevenue>,
}

/// Sum of the per-day sketch estimates of a set of sketches (visitor-days).
pub async fn headlines(pool: &PgPool) -> Result<Vec<Headline>, AppError> {
    let mut rows = sqlx::query_as::<_, Headline>(
        "SELECT l.slug, l.name, l.launch_at, l.currency,
                COALESCE(sum(d.value) FILTER (WHERE d.metric = $1), 0)::bigint AS views,
                COALESCE(sum(d.value) FILTER (WHERE split_part(d.metric, '.', 1) <> ALL($2::text[])),
                         0)::bigint AS conversions,
                COALESCE(sum(d.value) FILTER (WHERE d.metric = $3
                                                 OR d.metric = $3 || '.' || lower(l.currency)),
                         0)::bigint AS revenue_cents
           FROM launches l LEFT JOIN metrics_day d ON d.launch = l.slug
          GROUP BY l.slug ORDER BY l.launch_at DESC, l.slug",
    )
    .bind(metric::VIEW)
    .bind(metric::NOT_CONVERSIONS)
    .bind(metric::REVENUE_CENTS)
    .fetch_all(pool)
    .await?;
    let revenue: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT launch, metric, sum(value)::bigint FROM metrics_day
          WHERE starts_with(metric, $1) GROUP BY launch, metric",
    )
    .bind(metric::REVENUE_CURRENCY_PREFIX)
    .fetch_all(pool)
    .await?;
    for row in &mut rows {
        for (launch, name, value) in &revenue {
            if *launch == row.slug {
                if let Some(RevenueIn::Other(code)) = currency::revenue_in(name, &row.currency) {
                    currency::add(&mut row.other_currency_revenue, &code, *value);
                }
            }
        }
    }
    let sketches: Vec<(String, Vec<u8>)> =
        sqlx::query_as("SELECT launch, sketch FROM visitor_sketches")
            .fetch_all(pool)
            .await?;
    let mut by_launch: BTreeMap<String, Vec<Vec<u8>>> = BTreeMap::new();
    for (launch, sketch) in sketches {
        by_launch.entry(launch).or_default().push(sketch);
    }
    for row in &mut rows {
        if let Some(sketches) = by_launch.get(&row.slug) {
            row.unique_visitors = crate::reports::sum_estimates(sketches)?;
        }
    }
    Ok(rows)
}

/// Every edge counter summed over days: `(launch if it is in launches, name, value)`;
/// worker-wide counters and those of unknown launches have no launch.
pub async fn edge_totals(pool: &PgPool) -> Result<Vec<(Option<String>, String, i64)>, AppError> {
    Ok(sqlx::query_as(
        "SELECT l.slug, e.name, sum(e.value)::bigint FROM edge_counters e
           LEFT JOIN launches l ON l.slug = e.launch
          GROUP BY l.slug, e.name ORDER BY l.slug, e.name",
    )
    .fetch_all(pool)
    .await?)
}

/// The latest Pacific day with counted traffic for the launch.
pub async fn latest_day(pool: &PgPool, slug: &Slug) -> Result<Option<NaiveDate>, AppError> {
    Ok(
        sqlx::query_scalar("SELECT max(day) FROM metrics_day WHERE launch = $1")
            .bind(slug.as_str())
            .fetch_one(pool)
            .await?,
    )
}

/// Views, clicks and conversions of one UTC minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct MinutePoint {
    pub minute: DateTime<Utc>,
    pub views: i64,
    pub clicks: i64,
    pub conversions: i64,
}

/// The per-minute series of one Pacific day, from its first to its last counted minute,
/// with the silent minutes in between present as zeros (a chart must show the gaps).
pub async fn minute_series(
    pool: &PgPool,
    slug: &Slug,
    day: NaiveDate,
) -> Result<Vec<MinutePoint>, AppError> {
    let rows = sqlx::query_as::<_, MinutePoint>(
        "SELECT minute,
                COALESCE(sum(value) FILTER (WHERE metric = $3), 0)::bigint AS views,
                COALESCE(sum(value) FILTER (WHERE metric = $4), 0)::bigint AS clicks,
                COALESCE(sum(value) FILTER (WHERE split_part(metric, '.', 1) <> ALL($5::text[])),
                         0)::bigint AS conversions
           FROM metrics_minute
          WHERE launch = $1 AND (minute AT TIME ZONE 'America/Los_Angeles')::date = $2
          GROUP BY minute ORDER BY minute",
    )
    .bind(slug.as_str())
    .bind(day)
    .bind(metric::VIEW)
    .bind(metric::CLICK)
    .bind(metric::NOT_CONVERSIONS)
    .fetch_all(pool)
    .await?;
    Ok(fill_minutes(&rows))
}

/// Inserts a zero point for every minute missing between the first and the last. Pure.
pub fn fill_minutes(rows: &[MinutePoint]) -> Vec<MinutePoint> {
    let mut out: Vec<MinutePoint> = Vec::with_capacity(rows.len());
    for row in rows {
        if let Some(last) = out.last().copied() {
            let mut minute = last.minute + Duration::minutes(1);
            while minute < row.minute {
                out.push(MinutePoint {
                    minute,
                    views: 0,
                    clicks: 0,
                    conversions: 0,
                });
                minute += Duration::minutes(1);
            }
        }
        out.push(*row);
    }
    out
}

/// Unique visitors per Pacific day (the sketches are per day: no per-minute uniques).
pub async fn daily_uniques(pool: &PgPool, slug: &Slug) -> Result<Vec<(NaiveDate, i64)>, AppError> {
    let rows: Vec<(NaiveDate, Vec<u8>)> =
        sqlx::query_as("SELECT day, sketch FROM visitor_sketches WHERE launch = $1 ORDER BY day")
            .bind(slug.as_str())
            .fetch_all(pool)
            .await?;
    rows.into_iter()
        .map(|(day, sketch)| Ok((day, crate::reports::sum_estimates(&[sketch])?)))
        .collect()
}

/// One observation of the launch's Product Hunt post.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct PhObservation {
    pub observed_at: DateTime<Utc>,
    pub votes: i32,
    pub comments: i32,
    pub featured_at: Option<DateTime<Utc>>,
}

pub async fn ph_stats(pool: &PgPool, slug: &Slug) -> Result<Vec<PhObservation>, AppError> {
    Ok(sqlx::query_as(
        "SELECT observed_at, votes, comments, featured_at FROM ph_post_stats
          WHERE launch = $1 ORDER BY observed_at",
    )
    .bind(slug.as_str())
    .fetch_all(pool)
    .await?)
}

/// Votes per hour over the last hour of observations: from the latest observation back to
/// the newest one at least an hour older (or the first one, when the data is younger).
/// None with fewer than two observations. Pure; `observations` sorted by time.
pub fn vote_velocity(observations: &[PhObservation]) -> Option<f64> {
    let latest = observations.last()?;
    let hour_ago = latest.observed_at - Duration::hours(1);
    let reference = observations
        .iter()
        .rev()
        .find(|o| o.observed_at <= hour_ago)
        .or_else(|| observations.first())?;
    let seconds = (latest.observed_at - reference.observed_at).num_seconds();
    (seconds > 0).then(|| f64::from(latest.votes - reference.votes) * 3600.0 / seconds as f64)
}

/// The worker's counters for a launch page view of the dashboard.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EdgeSummary {
    pub cache_hit: i64,
    pub cache_stale: i64,
    pub cache_miss: i64,
    pub origin_fetch: i64,
    /// `outbound_429` plus any `outbound_429.<target>` breakdown.
    pub outbound_429: i64,
    pub task_retry: i64,
    pub task_dead_letter: i64,
    /// `(reason, count)` from `webhook_rejected.<reason>`.
    pub webhook_rejected: Vec<(String, i64)>,
}

impl EdgeSummary {
    /// Folds `(name, value)` rows. Pure.
    pub fn from_rows(rows: &[(String, i64)]) -> Self {
        let mut s = EdgeSummary::default();
        let mut rejected: BTreeMap<String, i64> = BTreeMap::new();
        for (name, value) in rows {
            let slot = match name.as_str() {
                "cache_hit" => &mut s.cache_hit,
                "cache_stale" => &mut s.cache_stale,
                "cache_miss" => &mut s.cache_miss,
                "origin_fetch" => &mut s.origin_fetch,
                "task_retry" => &mut s.task_retry,
                "task_dead_letter" => &mut s.task_dead_letter,
                n if n == "outbound_429" || n.starts_with("outbound_429.") => &mut s.outbound_429,
                n => match n.strip_prefix("webhook_rejected.") {
                    Some(reason) => rejected.entry(reason.to_owned()).or_default(),
                    None => continue,
                },
            };
            *slot = slot.saturating_add(*value);
        }
        s.webhook_rejected = rejected.into_iter().collect();
        s
    }

    /// Requests answered from a cache (fresh or stale) over all cache lookups.
    pub fn cache_hit_ratio(&self) -> Option<f64> {
        let served = self.cache_hit + self.cache_stale;
        crate::reports::ratio(served, served + self.cache_miss)
    }
}

/// The launch's own edge counters plus the worker-wide ones (launch `''`).
pub async fn edge_summary(
    pool: &PgPool,
    slug: &Slug,
    day: Option<NaiveDate>,
) -> Result<EdgeSummary, AppError> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT name, sum(value)::bigint FROM edge_counters
          WHERE launch IN ($1, '') AND ($2::date IS NULL OR day = $2)
          GROUP BY name ORDER BY name",
    )
    .bind(slug.as_str())
    .bind(day)
    .fetch_all(pool)
    .await?;
    Ok(EdgeSummary::from_rows(&rows))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(minute: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).unwrap() + Duration::minutes(minute)
    }

    fn point(minute: i64, views: i64) -> MinutePoint {
        MinutePoint {
            minute: at(minute),
            views,
            clicks: 0,
            conversions: 0,
        }
    }

    #[test]
    fn silent_minutes_between_counted_ones_become_zeros() {
        let filled = fill_minutes(&[point(0, 3), point(3, 5)]);
        let views: Vec<i64> = filled.iter().map(|p| p.views).collect();
        assert_eq!(views, [3, 0, 0, 5]);
        assert_eq!(filled[2].minute, at(2));
        assert!(fill_minutes(&[]).is_empty());
    }

    fn seen(minute: i64, votes: i32) -> PhObservation {
        PhObservation {
            observed_at: at(minute),
            votes,
            comments: 0,
            featured_at: None,
        }
    }

    #[test]
    fn vote_velocity_is_votes_per_hour_over_the_last_hour() {
        assert_eq!(vote_velocity(&[]), None);
        assert_eq!(vote_velocity(&[seen(0, 10)]), None);
        // Younger than an hour: measured from the first observation, scaled to an hour.
        assert_eq!(vote_velocity(&[seen(0, 10), seen(30, 40)]), Some(60.0));
        // Older data: the reference is the newest observation at least an hour back.
        let obs = [seen(0, 0), seen(60, 100), seen(90, 130), seen(120, 220)];
        assert_eq!(vote_velocity(&obs), Some(120.0));
    }

    #[test]
    fn conversions_per_view_counts_only_sources_that_had_views() {
        let row = |key: &str, views, conversions| FunnelByRow {
            key: key.into(),
            views,
            conversions,
            ..FunnelByRow::default()
        };
        let rows = [
            row("producthunt", 30, 3),
            row("direct", 10, 1),
            row("stripe", 0, 6),
        ];
        assert_eq!(conversions_per_view(&rows), (Some(0.1), 6));
        assert_eq!(conversions_per_view(&[row("stripe", 0, 2)]), (None, 2));
    }

    #[test]
    fn edge_rows_fold_into_named_figures_and_rejections_by_reason() {
        let rows: Vec<(String, i64)> = [
            ("cache_hit", 90),
            ("cache_stale", 5),
            ("cache_miss", 5),
            ("outbound_429", 2),
            ("outbound_429.producthunt", 1),
            ("webhook_rejected.signature_mismatch", 4),
            ("webhook_rejected.stale_timestamp", 1),
            ("something_new", 9),
        ]
        .iter()
        .map(|(n, v)| ((*n).to_owned(), *v))
        .collect();
        let s = EdgeSummary::from_rows(&rows);
        assert_eq!(s.outbound_429, 3);
        assert_eq!(s.cache_hit_ratio(), Some(0.95));
        assert_eq!(
            s.webhook_rejected,
            [
                ("signature_mismatch".to_owned(), 4),
                ("stale_timestamp".to_owned(), 1)
            ]
        );
        assert_eq!(EdgeSummary::default().cache_hit_ratio(), None);
    }
}

/// A column of `metrics_day` the funnel table can be broken down by. Adding a breakdown
/// is one variant here and its column name in [`Dimension::column`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    Source,
    /// `utm_medium` of the landing.
    Medium,
    /// `utm_campaign` of the landing.
    Campaign,
}

impl Dimension {
    pub const ALL: &'static [Dimension] =
        &[Dimension::Source, Dimension::Medium, Dimension::Campaign];

    /// The `metrics_day` column (a fixed identifier, never user input).
    fn column(self) -> &'static str {
        self.slug()
    }

    /// Its name in URLs, CSV table names (`{slug}s`) and the report's JSON.
    pub fn slug(self) -> &'static str {
        match self {
            Dimension::Source => "source",
            Dimension::Medium => "medium",
            Dimension::Campaign => "campaign",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Dimension::Source => "Source",
            Dimension::Medium => "Medium (utm_medium)",
            Dimension::Campaign => "Campaign (utm_campaign)",
        }
    }

    /// The dimension whose CSV table is `name` (`sources`, `mediums`, `campaigns`).
    pub fn of_table(name: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|d| name.strip_suffix('s') == Some(d.slug()))
    }
}

/// One row of the funnel by a dimension: the value and its counts over the period.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FunnelByRow {
    pub key: String,
    pub views: i64,
    pub clicks: i64,
    pub conversions: i64,
    /// Revenue in the launch's currency only.
    pub revenue_cents: i64,
}

/// Views, clicks, conversions and own-currency revenue per value of `dim`, most views first.
pub async fn funnel_by(
    pool: &PgPool,
    slug: &Slug,
    currency: &str,
    dim: Dimension,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Result<Vec<FunnelByRow>, AppError> {
    let sql = format!(
        "SELECT {col} AS key,
                COALESCE(sum(value) FILTER (WHERE metric = $4), 0)::bigint,
                COALESCE(sum(value) FILTER (WHERE metric = $5), 0)::bigint,
                COALESCE(sum(value) FILTER (WHERE split_part(metric, '.', 1) <> ALL($6::text[])), 0)::bigint,
                COALESCE(sum(value) FILTER (WHERE metric = $7 OR metric = $7 || '.' || lower($8)), 0)::bigint
           FROM metrics_day
          WHERE launch = $1 AND ($2::date IS NULL OR day >= $2) AND ($3::date IS NULL OR day <= $3)
          GROUP BY 1 ORDER BY ({col} = $9) DESC, 2 DESC, 1",
        col = dim.column()
    );
    let rows: Vec<(String, i64, i64, i64, i64)> = sqlx::query_as(&sql)
        .bind(slug.as_str())
        .bind(from)
        .bind(to)
        .bind(metric::VIEW)
        .bind(metric::CLICK)
        .bind(metric::NOT_CONVERSIONS)
        .bind(metric::REVENUE_CENTS)
        .bind(currency)
        .bind(metric::HEADLINE_SOURCE)
        .fetch_all(pool)
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(key, views, clicks, conversions, revenue_cents)| FunnelByRow {
                key: if key.is_empty() {
                    crate::reports::NONE_LABEL.to_owned()
                } else {
                    key
                },
                views,
                clicks,
                conversions,
                revenue_cents,
            },
        )
        .collect())
}

/// Conversions per view over one population: the rows (sources) that had views, their
/// conversions over their views. Conversions of rows without a counted view (a webhook
/// sale with no landing visit) are returned apart. Pure.
pub fn conversions_per_view(rows: &[FunnelByRow]) -> (Option<f64>, i64) {
    let (mut conv, mut views, mut unviewed) = (0i64, 0i64, 0i64);
    for r in rows {
        if r.views > 0 {
            conv = conv.saturating_add(r.conversions);
            views = views.saturating_add(r.views);
        } else {
            unviewed = unviewed.saturating_add(r.conversions);
        }
    }
    (crate::reports::ratio(conv, views), unviewed)
}

/// Most open origin dead letters the dashboard lists (each with a requeue button).
pub const DEAD_LETTER_ROWS: usize = 25;

/// Everything set aside that the origin can see, per kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DeadLetters {
    /// Open (not requeued) rows of `dead_letters`, per row kind: requeueable here.
    pub origin_open_by_kind: Vec<(String, i64)>,
    /// The newest open ones (at most [`DEAD_LETTER_ROWS`]).
    pub origin_rows: Vec<launch_edge_proto::batch::OriginDeadLetter>,
    /// Worker counters over the period (set aside at the edge, requeued there):
    /// `drain_dead_letter` (batches), `task_dead_letter` (tasks),
    /// `webhook_inbox_dead_letter` (webhook records, when the worker reports them).
    pub edge: Vec<(&'static str, i64)>,
}

/// Worker counter names of set-aside work, with their dashboard labels.
pub const EDGE_DEAD_KINDS: &[(&str, &str)] = &[
    (
        "drain_dead_letter",
        "Counter batches set aside by the worker's drain",
    ),
    ("task_dead_letter", "Outbound tasks set aside"),
    (
        "webhook_inbox_dead_letter",
        "Webhook inbox records set aside",
    ),
];

impl DeadLetters {
    pub fn total(&self) -> i64 {
        let origin: i64 = self.origin_open_by_kind.iter().map(|(_, n)| n).sum();
        self.edge
            .iter()
            .fold(origin, |a, (_, n)| a.saturating_add(*n))
    }
}

pub async fn dead_letters(
    pool: &PgPool,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Result<DeadLetters, AppError> {
    let origin_open_by_kind = crate::ingest::dead_letters::open_by_kind(pool).await?;
    let (mut origin_rows, _) = crate::ingest::dead_letters::list(pool, false).await?;
    origin_rows.truncate(DEAD_LETTER_ROWS);
    let names: Vec<&str> = EDGE_DEAD_KINDS.iter().map(|(n, _)| *n).collect();
    let counted: Vec<(String, i64)> = sqlx::query_as(
        "SELECT name, sum(value)::bigint FROM edge_counters
          WHERE name = ANY($1) AND ($2::date IS NULL OR day >= $2) AND ($3::date IS NULL OR day <= $3)
          GROUP BY name",
    )
    .bind(&names)
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await?;
    let edge = EDGE_DEAD_KINDS
        .iter()
        .map(|(name, _)| {
            let n = counted
                .iter()
                .find(|(c, _)| c == name)
                .map_or(0, |(_, v)| *v);
            (*name, n)
        })
        .collect();
    Ok(DeadLetters {
        origin_open_by_kind,
        origin_rows,
        edge,
    })
}

/// The launch's own edge counters plus the worker-wide ones over a range of days.
pub async fn edge_summary_range(
    pool: &PgPool,
    slug: &Slug,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Result<EdgeSummary, AppError> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT name, sum(value)::bigint FROM edge_counters
          WHERE launch IN ($1, '') AND ($2::date IS NULL OR day >= $2) AND ($3::date IS NULL OR day <= $3)
          GROUP BY name ORDER BY name",
    )
    .bind(slug.as_str())
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await?;
    Ok(EdgeSummary::from_rows(&rows))
}
