//! Launches in Postgres: apply a spec (one transaction), list, show, archive.
//!
//! The canonical launch file is stored whole in `launches.spec`; the columns the reports,
//! the dashboard and the worker's crons read (`name`, `launch_at`, `destinations`,
//! `spend_cents` = the channels' sum, `ltv_cents`, `currency`...) are written from it in
//! the same statement. Rows made before launches were data (`spec` NULL, e.g. by tests
//! that insert SQL) are read through [`legacy_file`].
//!
//! Rules:
//! - Applies are serialized (a transaction-scoped advisory lock), so two tools applying
//!   at once cannot both pass the rename check.
//! - A slug cannot be renamed: a live launch (not archived) with the same Product Hunt
//!   post under another slug refuses the apply ([`ApplyError::Renamed`]): the counts
//!   belong to the old slug. Archive it first to start anew under the new one.
//! - Re-applying the same spec writes nothing (`updated_at` stays).
//! - An archived launch is applied again only with `unarchive` (`--unarchive`,
//!   `?unarchive=true`); otherwise [`ApplyError::Archived`].

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use launch_edge_proto::Slug;
use serde::Serialize;
use sqlx::types::Json;
use sqlx::{PgPool, Postgres, Transaction};

use super::diff::{self, Change};
use super::file::{BusinessFile, CtaFile, LaunchFile, ProductHuntFile};
use super::spec::{LaunchSpec, Rules};

/// Key of the advisory lock every apply takes (`"launches"` in ASCII).
const APPLY_LOCK: i64 = 0x6c61_756e_6368_6573;

#[derive(Debug, Clone, Serialize)]
pub struct Applied {
    pub slug: String,
    pub created: bool,
    pub unarchived: bool,
    pub changes: Vec<Change>,
}

impl Applied {
    /// Whether anything was written.
    pub fn wrote(&self) -> bool {
        self.created || self.unarchived || !self.changes.is_empty()
    }

    /// What `launch apply` prints: a headline, then one line per changed field.
    pub fn report(&self) -> String {
        let headline = match (self.created, self.unarchived, self.changes.len()) {
            (true, _, _) => "created".to_owned(),
            (false, true, 0) => "unarchived (no other changes)".to_owned(),
            (false, true, n) => format!("unarchived, {n} field(s) changed"),
            (false, false, 0) => "no changes (nothing written)".to_owned(),
            (false, false, n) => format!("{n} field(s) changed"),
        };
        let mut out = format!("launch {}: {headline}\n", self.slug);
        for change in &self.changes {
            out.push_str(&format!("  {change}\n"));
        }
        out
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("Product Hunt post {post_slug} already belongs to launch {existing_slug}: a launch cannot be renamed (its counts stay under {existing_slug}). Keep slug = \"{existing_slug}\", or archive it first (`launch archive {existing_slug}`) and apply again to start a new launch")]
    Renamed {
        post_slug: String,
        existing_slug: String,
    },
    #[error("launch {slug} is archived (since {archived_at}); apply it with --unarchive (admin API: ?unarchive=true) to bring its page back")]
    Archived { slug: String, archived_at: String },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

#[derive(Debug, sqlx::FromRow)]
struct Row {
    slug: String,
    name: String,
    tagline: String,
    description: String,
    launch_at: DateTime<Utc>,
    destinations: Json<BTreeMap<String, String>>,
    product_hunt_url: Option<String>,
    product_hunt_slug: Option<String>,
    spend_cents: i64,
    cost_per_visitor_cents: Option<i64>,
    ltv_cents: Option<i64>,
    currency: String,
    spec: Option<Json<LaunchFile>>,
    archived_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "slug, name, tagline, description, launch_at, destinations, product_hunt_url,
    product_hunt_slug, spend_cents, cost_per_visitor_cents, ltv_cents, currency, spec, archived_at,
    updated_at";

/// A stored launch: its spec and state.
#[derive(Debug, Clone)]
pub struct Stored {
    pub spec: LaunchSpec,
    pub archived_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// The launch file a row made before `spec` existed stands for.
fn legacy_file(row: &Row) -> LaunchFile {
    let nonempty = |s: &str| Some(s.to_owned()).filter(|s| !s.trim().is_empty());
    let post_slug = row.product_hunt_slug.clone().or_else(|| {
        row.product_hunt_url
            .as_deref()
            .and_then(|u| u.split("/posts/").nth(1))
            .map(|s| s.trim_end_matches('/').to_owned())
    });
    LaunchFile {
        slug: Some(row.slug.clone()),
        name: Some(row.name.clone()),
        tagline: nonempty(&row.tagline),
        description: nonempty(&row.description),
        product_hunt: Some(ProductHuntFile {
            post_slug: post_slug.or_else(|| Some(row.slug.clone())),
            launch_at: Some(row.launch_at.to_rfc3339_opts(SecondsFormat::Secs, true)),
        }),
        cta: row
            .destinations
            .0
            .iter()
            .map(|(name, url)| CtaFile {
                name: Some(name.clone()),
                url: Some(url.clone()),
                label: None,
            })
            .collect(),
        business: Some(BusinessFile {
            currency: Some(row.currency.clone()),
            spend: if row.spend_cents > 0 {
                BTreeMap::from([("total".to_owned(), row.spend_cents)])
            } else {
                BTreeMap::new()
            },
            expected_ltv: row.ltv_cents,
            revenue_window_days: None,
            cost_per_visitor: row.cost_per_visitor_cents,
        }),
        ..LaunchFile::default()
    }
}

fn spec_of(row: &Row) -> Result<LaunchSpec, String> {
    let file = match &row.spec {
        Some(spec) => spec.0.clone(),
        None => legacy_file(row),
    };
    let rules = Rules {
        stored: true,
        ..Rules::default()
    };
    LaunchSpec::validate(&file, &rules).map_err(|e| e.to_string())
}

fn stored(row: Row) -> Result<Stored, String> {
    let spec = spec_of(&row)?;
    Ok(Stored {
        spec,
        archived_at: row.archived_at,
        updated_at: row.updated_at,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A stored row no longer reads as a spec (never expected: it was validated).
    #[error("stored launch does not read as a spec: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// The stored launch `slug`, archived or not.
pub async fn load(pool: &PgPool, slug: &Slug) -> Result<Option<Stored>, LoadError> {
    let row = sqlx::query_as::<_, Row>(&format!("SELECT {COLUMNS} FROM launches WHERE slug = $1"))
        .bind(slug.as_str())
        .fetch_optional(pool)
        .await?;
    row.map(stored).transpose().map_err(LoadError::Corrupt)
}

/// Validates nothing (the caller did): writes `spec` in one transaction, or nothing when
/// it is what is stored.
pub async fn apply(
    pool: &PgPool,
    spec: &LaunchSpec,
    unarchive: bool,
) -> Result<Applied, ApplyError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(APPLY_LOCK)
        .execute(&mut *tx)
        .await?;
    let slug = spec.slug.as_str();
    let existing: Option<String> = sqlx::query_scalar(
        "SELECT slug FROM launches WHERE product_hunt_slug = $1 AND slug <> $2 AND archived_at IS NULL",
    )
    .bind(spec.post_slug.as_str())
    .bind(slug)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(existing_slug) = existing {
        return Err(ApplyError::Renamed {
            post_slug: spec.post_slug.as_str().to_owned(),
            existing_slug,
        });
    }
    let old = sqlx::query_as::<_, Row>(&format!(
        "SELECT {COLUMNS} FROM launches WHERE slug = $1 FOR UPDATE"
    ))
    .bind(slug)
    .fetch_optional(&mut *tx)
    .await?;
    let archived_at = old.as_ref().and_then(|r| r.archived_at);
    if let (Some(at), false) = (archived_at, unarchive) {
        return Err(ApplyError::Archived {
            slug: slug.to_owned(),
            archived_at: at.to_rfc3339_opts(SecondsFormat::Secs, true),
        });
    }
    let new_file = spec.to_file();
    let old_file = old.as_ref().map(|row| match &row.spec {
        Some(spec) => spec.0.clone(),
        None => spec_of(row).map_or_else(|_| legacy_file(row), |s| s.to_file()),
    });
    let applied = Applied {
        slug: slug.to_owned(),
        created: old.is_none(),
        unarchived: archived_at.is_some(),
        changes: diff::changes(old_file.as_ref(), &new_file),
    };
    // A legacy row is rewritten once, to store its spec, even if nothing visible changed.
    let legacy = old.as_ref().is_some_and(|r| r.spec.is_none());
    if !applied.wrote() && !legacy {
        return Ok(applied);
    }
    write(&mut tx, spec, &new_file).await?;
    tx.commit().await?;
    Ok(applied)
}

async fn write(
    tx: &mut Transaction<'_, Postgres>,
    spec: &LaunchSpec,
    file: &LaunchFile,
) -> Result<(), sqlx::Error> {
    let destinations: BTreeMap<String, String> = spec
        .ctas
        .iter()
        .map(|c| (c.name.to_string(), c.url.to_string()))
        .collect();
    let spend: BTreeMap<&str, i64> = spec
        .business
        .spend
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    let beacon_origins: Vec<String> = spec
        .beacon_origins
        .iter()
        .map(ToString::to_string)
        .collect();
    sqlx::query(
        "INSERT INTO launches (slug, name, tagline, description, launch_at, destinations,
                               product_hunt_url, product_hunt_slug, spend_cents, spend_by_channel,
                               cost_per_visitor_cents, ltv_cents, revenue_window_days, currency,
                               beacon_origins, spec, archived_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, NULL)
         ON CONFLICT (slug) DO UPDATE SET
            name = EXCLUDED.name, tagline = EXCLUDED.tagline, description = EXCLUDED.description,
            launch_at = EXCLUDED.launch_at, destinations = EXCLUDED.destinations,
            product_hunt_url = EXCLUDED.product_hunt_url,
            product_hunt_slug = EXCLUDED.product_hunt_slug, spend_cents = EXCLUDED.spend_cents,
            spend_by_channel = EXCLUDED.spend_by_channel,
            cost_per_visitor_cents = EXCLUDED.cost_per_visitor_cents,
            ltv_cents = EXCLUDED.ltv_cents, revenue_window_days = EXCLUDED.revenue_window_days,
            currency = EXCLUDED.currency, beacon_origins = EXCLUDED.beacon_origins,
            spec = EXCLUDED.spec, archived_at = NULL, updated_at = now()",
    )
    .bind(spec.slug.as_str())
    .bind(&spec.name)
    .bind(&spec.tagline)
    .bind(spec.description.as_str())
    .bind(spec.launch_at_utc())
    .bind(Json(&destinations))
    .bind(spec.post_slug.url())
    .bind(spec.post_slug.as_str())
    .bind(spec.business.total_spend())
    .bind(Json(&spend))
    .bind(spec.business.cost_per_visitor)
    .bind(spec.business.expected_ltv)
    .bind(spec.business.revenue_window_days.map(|d| d as i32))
    .bind(spec.business.currency.as_str())
    .bind(&beacon_origins)
    .bind(Json(file))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// One line of `launch list` / `GET /admin/launches`.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Summary {
    pub slug: String,
    pub name: String,
    pub product_hunt_slug: Option<String>,
    pub launch_at: DateTime<Utc>,
    pub archived_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// Every launch, by launch time; archived ones too (they say so).
pub async fn list(pool: &PgPool) -> Result<Vec<Summary>, sqlx::Error> {
    sqlx::query_as::<_, Summary>(
        "SELECT slug, name, product_hunt_slug, launch_at, archived_at, updated_at
           FROM launches ORDER BY launch_at, slug",
    )
    .fetch_all(pool)
    .await
}

#[derive(Debug, Clone, Serialize)]
pub struct Archived {
    pub slug: String,
    pub archived_at: DateTime<Utc>,
    /// It was archived before this call (nothing changed).
    pub already: bool,
}

/// Archives `slug`: its page answers 404 from now on; its counts and reports stay.
/// `None`: no such launch.
pub async fn archive(pool: &PgPool, slug: &Slug) -> Result<Option<Archived>, sqlx::Error> {
    let row: Option<(DateTime<Utc>, bool)> = sqlx::query_as(
        "WITH before AS (SELECT slug, archived_at FROM launches WHERE slug = $1 FOR UPDATE)
         UPDATE launches l SET archived_at = COALESCE(b.archived_at, now())
           FROM before b WHERE l.slug = b.slug
         RETURNING l.archived_at, b.archived_at IS NOT NULL",
    )
    .bind(slug.as_str())
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(archived_at, already)| Archived {
        slug: slug.as_str().to_owned(),
        archived_at,
        already,
    }))
}
