//! Origin settings, from the environment (or flags), validated once at start-up.

use std::net::SocketAddr;

use clap::Args;
use launch_edge_proto::Secret;

#[derive(Debug, Clone, Args)]
pub struct DatabaseSettings {
    /// Postgres connection URL.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: String,
    /// Upper bound on pooled connections: a launch spike must not exhaust Postgres.
    #[arg(long, env = "DB_MAX_CONNECTIONS", default_value_t = 10)]
    pub db_max_connections: u32,
    /// Set when connecting through PgBouncer in transaction mode: disables the
    /// prepared-statement cache, which transaction pooling cannot support.
    #[arg(long, env = "DB_PGBOUNCER", default_value_t = false)]
    pub pgbouncer: bool,
}

#[derive(Debug, Clone, Args)]
pub struct ServerSettings {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "ORIGIN_BIND", default_value = "127.0.0.1:8788")]
    pub bind: SocketAddr,
    /// HMAC key shared with the worker (`ORIGIN_SIGNING_SECRET` there too).
    #[arg(long, env = "ORIGIN_SIGNING_SECRET", value_parser = parse_secret, hide_env_values = true)]
    pub signing_secret: Secret,
    /// Opens the dashboard (`/launches`): a bearer token, or `?token=` once (then a
    /// cookie). Unset: the dashboard answers 401 to everyone.
    #[arg(long, env = "DASHBOARD_TOKEN", value_parser = parse_dashboard_token, hide_env_values = true)]
    pub dashboard_token: Option<Secret>,
}

fn parse_secret(raw: &str) -> Result<Secret, String> {
    if raw.len() < 16 {
        return Err("ORIGIN_SIGNING_SECRET must be at least 16 characters".into());
    }
    Ok(Secret::new(raw))
}

/// At least 16 characters, and only ones that travel unchanged in a URL query, a cookie
/// and a header: the token is presented in all three.
pub fn parse_dashboard_token(raw: &str) -> Result<Secret, String> {
    let safe = raw
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'));
    if raw.len() < 16 || !safe {
        return Err("DASHBOARD_TOKEN must be at least 16 characters of A-Z a-z 0-9 - _ . ~".into());
    }
    Ok(Secret::new(raw))
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub database: DatabaseSettings,
    pub server: ServerSettings,
}
