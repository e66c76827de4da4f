//! The state every handler and middleware shares ([`AppState`]) and the clock it reads.
//!
//! Built once by [`crate::startup::Application`]; nothing here depends on the routes.

use std::sync::Arc;
use std::time::Duration;

use launch_edge_proto::Secret;
use sqlx::PgPool;
use tokio::sync::Semaphore;

use crate::metrics::Metrics;

/// Unix seconds. A function so tests can pin the clock.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(|| chrono::Utc::now().timestamp())
}

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub signing_secret: Secret,
    /// Also accepted during a rotation (`ORIGIN_SIGNING_SECRET_PREVIOUS`).
    pub signing_secret_previous: Option<Secret>,
    pub dashboard_token: Option<Secret>,
    /// Also opens the dashboard during a rotation (`DASHBOARD_TOKEN_PREVIOUS`).
    pub dashboard_token_previous: Option<Secret>,
    /// Bearer token for `/metrics`; `None` closes it.
    pub metrics_token: Option<Secret>,
    /// The configured public URL is https: the dashboard cookie is always `Secure`.
    pub public_https: bool,
    pub metrics: Arc<Metrics>,
    /// How long a scrape reuses the launch figures an earlier scrape read.
    pub metrics_cache: Duration,
    /// Unauthenticated bodies larger than [`crate::auth::PRE_AUTH_BODY_BYTES`] being read now.
    pub large_pre_auth_reads: Arc<Semaphore>,
    pub clock: Clock,
    /// Applies ingest batches, grouping those that arrive together into one transaction.
    pub ingest: crate::ingest::IngestWriter,
    /// Validation rules, page base URL and edge refresh of launches (`/admin/launches`).
    pub launches: Arc<crate::settings::LaunchSettings>,
}
