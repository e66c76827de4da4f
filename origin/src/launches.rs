//! Launches: the launch file (`launch.toml`) and its validation, storage, diff and page.
//!
//! - [`file`]: the file as serde reads it (unknown fields refused).
//! - [`spec`] and [`values`]: validation into a typed [`spec::LaunchSpec`], all errors at once.
//! - [`store`]: apply (one transaction, no-op when unchanged, no renames), list, archive.
//! - [`diff`]: what an apply changed, field by field.
//! - [`page`] and [`markdown`]: the landing page (MiniJinja; a team's template or ours).
//! - [`edge`]: asking the worker to re-render the page after a change.
//! - [`Launch`], [`find`], [`upsert`]: the row as reports read it (and bare rows for tests).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use launch_edge_proto::Slug;
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use sqlx::PgPool;

pub mod diff;
pub mod edge;
pub mod file;
pub mod markdown;
pub mod page;
pub mod spec;
pub mod store;
pub mod values;

/// `examples/demo-launch.toml`, what `seed-demo` applies.
pub const DEMO_FILE: &str = include_str!("../../examples/demo-launch.toml");

#[derive(Debug, Clone, Serialize, Deserialize, sqlx::FromRow)]
pub struct Launch {
    pub slug: String,
    pub name: String,
    pub tagline: String,
    pub description: String,
    pub launch_at: DateTime<Utc>,
    pub destinations: Json<BTreeMap<String, String>>,
    pub product_hunt_url: Option<String>,
    pub spend_cents: i64,
    pub cost_per_visitor_cents: Option<i64>,
    pub ltv_cents: Option<i64>,
    /// Days from the Pacific launch day whose revenue per paying conversion is the LTV
    /// when no `ltv_cents` is configured (`[business] revenue_window_days`).
    #[serde(default)]
    pub revenue_window_days: Option<i32>,
    pub currency: String,
}

pub async fn find(pool: &PgPool, slug: &Slug) -> Result<Option<Launch>, sqlx::Error> {
    sqlx::query_as::<_, Launch>(
        "SELECT slug, name, tagline, description, launch_at, destinations, product_hunt_url,
                spend_cents, cost_per_visitor_cents, ltv_cents, revenue_window_days, currency
           FROM launches WHERE slug = $1",
    )
    .bind(slug.as_str())
    .fetch_optional(pool)
    .await
}

/// Inserts or replaces a bare launch row, without a spec (tests; `launch apply` is the way
/// to create one).
pub async fn upsert(pool: &PgPool, launch: &Launch) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO launches (slug, name, tagline, description, launch_at, destinations, product_hunt_url,
                               spend_cents, cost_per_visitor_cents, ltv_cents, currency,
                               revenue_window_days)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (slug) DO UPDATE SET
            name = EXCLUDED.name, tagline = EXCLUDED.tagline, description = EXCLUDED.description,
            launch_at = EXCLUDED.launch_at, destinations = EXCLUDED.destinations,
            product_hunt_url = EXCLUDED.product_hunt_url, spend_cents = EXCLUDED.spend_cents,
            cost_per_visitor_cents = EXCLUDED.cost_per_visitor_cents, ltv_cents = EXCLUDED.ltv_cents,
            currency = EXCLUDED.currency, revenue_window_days = EXCLUDED.revenue_window_days,
            updated_at = now()",
    )
    .bind(&launch.slug)
    .bind(&launch.name)
    .bind(&launch.tagline)
    .bind(&launch.description)
    .bind(launch.launch_at)
    .bind(&launch.destinations)
    .bind(&launch.product_hunt_url)
    .bind(launch.spend_cents)
    .bind(launch.cost_per_visitor_cents)
    .bind(launch.ltv_cents)
    .bind(&launch.currency)
    .bind(launch.revenue_window_days)
    .execute(pool)
    .await?;
    Ok(())
}

/// A launch row like the demo's, for tests.
pub fn demo(launch_at: DateTime<Utc>) -> Launch {
    Launch {
        slug: "demo-launch".into(),
        name: "Demo Launch".into(),
        tagline: "The fastest way to ship your Product Hunt launch".into(),
        description: "launch-edge serves this page from the edge: memory, Cache API, KV, and only then the origin.".into(),
        launch_at,
        destinations: Json(BTreeMap::from([
            ("signup".to_owned(), "https://example.com/signup".to_owned()),
            ("pricing".to_owned(), "https://example.com/pricing".to_owned()),
        ])),
        product_hunt_url: Some("https://www.producthunt.com/posts/demo-launch".into()),
        spend_cents: 50_000,
        cost_per_visitor_cents: None,
        ltv_cents: Some(12_000),
        revenue_window_days: None,
        currency: "USD".into(),
    }
}

/// Why a launch file was not applied.
#[derive(Debug, thiserror::Error)]
pub enum ApplyFailure {
    /// Not TOML/JSON, a field of the wrong type, or an unknown field.
    #[error("the launch file cannot be read: {0}")]
    Malformed(#[from] file::SyntaxError),
    #[error("{0}")]
    Invalid(#[from] spec::SpecErrors),
    #[error(transparent)]
    Refused(#[from] store::ApplyError),
}

/// Validates `file` under `settings` (the spec, then a team template rendered in every
/// language), with every problem at once.
pub fn validate(
    file: &file::LaunchFile,
    settings: &crate::settings::LaunchSettings,
) -> Result<spec::LaunchSpec, spec::SpecErrors> {
    let spec = spec::LaunchSpec::validate(file, &settings.rules())?;
    page::check_template(&spec).map_err(|problem| {
        spec::SpecErrors(vec![spec::FieldError {
            field: "template_html".into(),
            problem,
        }])
    })?;
    Ok(spec)
}

/// Validates and stores `file`, then (when something was written) asks the edge to
/// re-render the page. Nothing is written unless the whole file is valid.
pub async fn apply(
    pool: &PgPool,
    file: &file::LaunchFile,
    settings: &crate::settings::LaunchSettings,
    unarchive: bool,
) -> Result<(store::Applied, Option<edge::EdgeRefresh>), ApplyFailure> {
    let spec = validate(file, settings)?;
    let applied = store::apply(pool, &spec, unarchive).await?;
    let refreshed = if applied.wrote() {
        Some(edge::refresh(settings, spec.slug.as_str()).await)
    } else {
        None
    };
    Ok((applied, refreshed))
}
