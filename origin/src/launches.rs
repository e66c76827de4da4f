//! Launches as stored in Postgres.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use launch_edge_proto::Slug;
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use sqlx::PgPool;

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
    pub currency: String,
}

pub async fn find(pool: &PgPool, slug: &Slug) -> Result<Option<Launch>, sqlx::Error> {
    sqlx::query_as::<_, Launch>(
        "SELECT slug, name, tagline, description, launch_at, destinations, product_hunt_url,
                spend_cents, cost_per_visitor_cents, ltv_cents, currency
           FROM launches WHERE slug = $1",
    )
    .bind(slug.as_str())
    .fetch_optional(pool)
    .await
}

/// Inserts or replaces a launch (used by `seed-demo` and tests).
pub async fn upsert(pool: &PgPool, launch: &Launch) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO launches (slug, name, tagline, description, launch_at, destinations, product_hunt_url,
                               spend_cents, cost_per_visitor_cents, ltv_cents, currency)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (slug) DO UPDATE SET
            name = EXCLUDED.name, tagline = EXCLUDED.tagline, description = EXCLUDED.description,
            launch_at = EXCLUDED.launch_at, destinations = EXCLUDED.destinations,
            product_hunt_url = EXCLUDED.product_hunt_url, spend_cents = EXCLUDED.spend_cents,
            cost_per_visitor_cents = EXCLUDED.cost_per_visitor_cents, ltv_cents = EXCLUDED.ltv_cents,
            currency = EXCLUDED.currency, updated_at = now()",
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
    .execute(pool)
    .await?;
    Ok(())
}

/// The demo launch that `seed-demo` creates for local development.
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
        currency: "USD".into(),
    }
}
