//! The Postgres pool (bounded) and migrations.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::settings::DatabaseSettings;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub fn connect_options(settings: &DatabaseSettings) -> Result<PgConnectOptions, sqlx::Error> {
    let mut options = PgConnectOptions::from_str(&settings.database_url)?;
    if settings.pgbouncer {
        options = options.statement_cache_capacity(0);
    }
    Ok(options)
}

/// A lazily-connecting pool: the origin starts (and serves health) while Postgres restarts.
pub fn pool(settings: &DatabaseSettings) -> Result<PgPool, sqlx::Error> {
    Ok(PgPoolOptions::new()
        .max_connections(settings.db_max_connections)
        .acquire_timeout(Duration::from_secs(3))
        .connect_lazy_with(connect_options(settings)?))
}

pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(pool).await
}
