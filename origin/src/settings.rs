//! Origin settings, from the environment (or flags), validated once at start-up.
//!
//! Secrets are parsed as opaque [`Secret`]s and checked by [`ServerSettings::validate`]
//! rather than by a clap value parser: clap quotes a refused value in its error, and a
//! refused secret must never reach a terminal or a log.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;
use launch_edge_proto::{Secret, MIN_SECRET_BYTES};

use crate::launches::spec::{HostPattern, Rules};

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

pub const DEFAULT_HEADER_TIMEOUT_SECS: u64 = 10;
pub const DEFAULT_BODY_TIMEOUT_SECS: u64 = 10;
pub const DEFAULT_REQUEST_TIMEOUT_SECS: u64 = 30;
pub const DEFAULT_METRICS_CACHE_SECS: u64 = 5;

/// How long a client may take: a connection that dribbles its request (slowloris) is cut
/// off instead of holding a task, a socket and a buffer for ever.
#[derive(Debug, Clone, Args)]
pub struct HttpLimits {
    /// Seconds to receive a request's headers (also how long an idle keep-alive
    /// connection stays open).
    #[arg(long, env = "HTTP_HEADER_TIMEOUT_SECONDS", default_value_t = DEFAULT_HEADER_TIMEOUT_SECS)]
    pub header_timeout_secs: u64,
    /// Seconds the body may go without sending a byte.
    #[arg(long, env = "HTTP_BODY_TIMEOUT_SECONDS", default_value_t = DEFAULT_BODY_TIMEOUT_SECS)]
    pub body_timeout_secs: u64,
    /// Seconds for a whole request, body and handler included (answered 408 after).
    #[arg(long, env = "HTTP_REQUEST_TIMEOUT_SECONDS", default_value_t = DEFAULT_REQUEST_TIMEOUT_SECS)]
    pub request_timeout_secs: u64,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            header_timeout_secs: DEFAULT_HEADER_TIMEOUT_SECS,
            body_timeout_secs: DEFAULT_BODY_TIMEOUT_SECS,
            request_timeout_secs: DEFAULT_REQUEST_TIMEOUT_SECS,
        }
    }
}

impl HttpLimits {
    pub fn header_timeout(&self) -> Duration {
        Duration::from_secs(self.header_timeout_secs)
    }
    pub fn body_timeout(&self) -> Duration {
        Duration::from_secs(self.body_timeout_secs)
    }
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }
}

fn secret(raw: &str) -> Result<Secret, String> {
    Ok(Secret::new(raw))
}

#[derive(Debug, Clone, Args)]
pub struct ServerSettings {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "ORIGIN_BIND", default_value = "127.0.0.1:8788")]
    pub bind: SocketAddr,
    /// HMAC key shared with the worker (`ORIGIN_SIGNING_SECRET` there too), at least 32 bytes.
    #[arg(long, env = "ORIGIN_SIGNING_SECRET", value_parser = secret, hide_env_values = true)]
    pub signing_secret: Secret,
    /// The previous signing key, only during a rotation (see docs/launch-week.md,
    /// "Rotating secrets"): requests the worker still signs with it are accepted and
    /// answered with it, so the worker can switch to the new key at any moment.
    #[arg(long, env = "ORIGIN_SIGNING_SECRET_PREVIOUS", value_parser = secret, hide_env_values = true)]
    pub signing_secret_previous: Option<Secret>,
    /// Opens the dashboard (`/launches`): a bearer token, or typed once into `/login`
    /// (then a cookie). Unset: the dashboard answers 401 to everyone.
    #[arg(long, env = "DASHBOARD_TOKEN", value_parser = secret, hide_env_values = true)]
    pub dashboard_token: Option<Secret>,
    /// The previous dashboard token, only during a rotation: still opens the dashboard.
    #[arg(long, env = "DASHBOARD_TOKEN_PREVIOUS", value_parser = secret, hide_env_values = true)]
    pub dashboard_token_previous: Option<Secret>,
    /// Bearer token Prometheus presents on `/metrics`. Unset: `/metrics` answers 401.
    #[arg(long, env = "METRICS_TOKEN", value_parser = secret, hide_env_values = true)]
    pub metrics_token: Option<Secret>,
    /// The origin's public base URL (e.g. `https://origin.example.com`); when it is
    /// https, the dashboard cookie is always `Secure`.
    #[arg(long, env = "ORIGIN_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Seconds a scrape reuses the launch figures read from Postgres for an earlier one.
    #[arg(long, env = "METRICS_CACHE_SECONDS", default_value_t = DEFAULT_METRICS_CACHE_SECS)]
    pub metrics_cache_secs: u64,
    #[command(flatten)]
    pub limits: HttpLimits,
    #[command(flatten)]
    pub launches: LaunchSettings,
}

/// What applying and rendering launches needs: shared by `serve` (the admin API, pages)
/// and the `launch` subcommands.
#[derive(Debug, Clone, Default, Args)]
pub struct LaunchSettings {
    /// Hosts call-to-action URLs may point at, for every launch (comma or space
    /// separated; each allows its subdomains). A launch file's own `cta_hosts` must stay
    /// within them. Empty: each file lists its own.
    #[arg(long, env = "LAUNCH_CTA_HOSTS", default_value = "")]
    pub cta_hosts: String,
    /// Public base URL of the launch pages (the worker), e.g. https://launch.example.com:
    /// a page's canonical URL is `<this>/launch/<slug>` unless its file sets canonical_url.
    #[arg(long, env = "PAGE_BASE_URL")]
    pub page_base_url: Option<String>,
    /// The worker, e.g. https://launch.example.com: after a change, `launch apply` and
    /// `PUT /admin/launches/:slug` ask it to re-render the page
    /// (`POST /admin/launches/:slug/prewarm`).
    #[arg(long, env = "EDGE_URL")]
    pub edge_url: Option<String>,
    /// The worker's `ADMIN_TOKEN`, for that call.
    #[arg(long, env = "EDGE_ADMIN_TOKEN", value_parser = secret, hide_env_values = true)]
    pub edge_admin_token: Option<Secret>,
}

impl LaunchSettings {
    fn hosts(&self) -> impl Iterator<Item = &str> {
        self.cta_hosts
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|h| !h.is_empty())
    }

    pub fn validate(&self) -> Result<(), SettingsError> {
        for host in self.hosts() {
            HostPattern::parse(host).map_err(|problem| SettingsError {
                name: "LAUNCH_CTA_HOSTS",
                problem,
            })?;
        }
        for (name, url) in [
            ("PAGE_BASE_URL", &self.page_base_url),
            ("EDGE_URL", &self.edge_url),
        ] {
            let url = url.as_deref().unwrap_or("https://");
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(SettingsError {
                    name,
                    problem: "must start with https:// or http://".into(),
                });
            }
        }
        if let Some(token) = &self.edge_admin_token {
            check_secret("EDGE_ADMIN_TOKEN", token)?;
        }
        Ok(())
    }

    /// The validation rules of a launch applied with these settings.
    pub fn rules(&self) -> Rules {
        Rules {
            origin_cta_hosts: self
                .hosts()
                .filter_map(|h| HostPattern::parse(h).ok())
                .collect(),
            stored: false,
        }
    }
}

/// A setting refused at start-up. Names the variable, never shows its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name} {problem}")]
pub struct SettingsError {
    pub name: &'static str,
    pub problem: String,
}

/// At least [`MIN_SECRET_BYTES`] bytes: a shorter key or token can be guessed.
pub fn check_secret(name: &'static str, secret: &Secret) -> Result<(), SettingsError> {
    let len = secret.expose().len();
    if len < MIN_SECRET_BYTES {
        return Err(SettingsError {
            name,
            problem: format!("must be at least {MIN_SECRET_BYTES} bytes (it has {len})"),
        });
    }
    Ok(())
}

/// A bearer token that also travels in a cookie and a form field: long enough, and only
/// characters that pass through all three unchanged.
pub fn check_token(name: &'static str, token: &Secret) -> Result<(), SettingsError> {
    check_secret(name, token)?;
    let safe = token
        .expose()
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'));
    if !safe {
        return Err(SettingsError {
            name,
            problem: "may hold only A-Z a-z 0-9 - _ . ~".into(),
        });
    }
    Ok(())
}

impl ServerSettings {
    /// Settings for a local server on `bind` with every optional part off and the
    /// default limits (tests start from this).
    pub fn local(bind: SocketAddr, signing_secret: Secret) -> Self {
        Self {
            bind,
            signing_secret,
            signing_secret_previous: None,
            dashboard_token: None,
            dashboard_token_previous: None,
            metrics_token: None,
            public_url: None,
            metrics_cache_secs: DEFAULT_METRICS_CACHE_SECS,
            limits: HttpLimits::default(),
            launches: LaunchSettings::default(),
        }
    }

    /// Every check that needs more than a type: the server does not start otherwise.
    pub fn validate(&self) -> Result<(), SettingsError> {
        check_secret("ORIGIN_SIGNING_SECRET", &self.signing_secret)?;
        if let Some(previous) = &self.signing_secret_previous {
            check_secret("ORIGIN_SIGNING_SECRET_PREVIOUS", previous)?;
        }
        if let Some(token) = &self.dashboard_token {
            check_token("DASHBOARD_TOKEN", token)?;
        }
        match (&self.dashboard_token, &self.dashboard_token_previous) {
            (_, None) => {}
            (None, Some(_)) => {
                return Err(SettingsError {
                    name: "DASHBOARD_TOKEN_PREVIOUS",
                    problem: "is set without DASHBOARD_TOKEN: set the new token there".into(),
                })
            }
            (Some(_), Some(previous)) => check_token("DASHBOARD_TOKEN_PREVIOUS", previous)?,
        }
        if let Some(token) = &self.metrics_token {
            check_token("METRICS_TOKEN", token)?;
        }
        if let Some(url) = &self.public_url {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(SettingsError {
                    name: "ORIGIN_PUBLIC_URL",
                    problem: "must start with https:// or http://".into(),
                });
            }
        }
        self.launches.validate()?;
        let limits = &self.limits;
        for (name, secs) in [
            ("HTTP_HEADER_TIMEOUT_SECONDS", limits.header_timeout_secs),
            ("HTTP_BODY_TIMEOUT_SECONDS", limits.body_timeout_secs),
            ("HTTP_REQUEST_TIMEOUT_SECONDS", limits.request_timeout_secs),
        ] {
            if secs == 0 {
                return Err(SettingsError {
                    name,
                    problem: "must be at least 1".into(),
                });
            }
        }
        Ok(())
    }

    /// Whether the configured public URL says the origin is reached over https.
    pub fn public_https(&self) -> bool {
        self.public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub database: DatabaseSettings,
    pub server: ServerSettings,
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: &str = "0123456789abcdef0123456789abcdef";

    fn settings() -> ServerSettings {
        ServerSettings::local("127.0.0.1:0".parse().unwrap(), Secret::new(LONG))
    }

    #[test]
    fn a_secret_or_token_shorter_than_32_bytes_is_refused_by_name_without_its_value() {
        let short = "short-but-secret-value-31-bytes";
        assert_eq!(short.len(), 31);
        let mut s = settings();
        s.signing_secret = Secret::new(short);
        let err = s.validate().unwrap_err();
        assert_eq!(err.name, "ORIGIN_SIGNING_SECRET");
        assert!(!err.to_string().contains(short), "{err}");
        assert!(err.to_string().contains("32 bytes"), "{err}");

        let mut s = settings();
        s.dashboard_token = Some(Secret::new(short));
        assert_eq!(s.validate().unwrap_err().name, "DASHBOARD_TOKEN");
        let mut s = settings();
        s.metrics_token = Some(Secret::new(short));
        assert_eq!(s.validate().unwrap_err().name, "METRICS_TOKEN");
    }

    #[test]
    fn long_secrets_and_tokens_of_plain_characters_pass() {
        let mut s = settings();
        s.dashboard_token = Some(Secret::new(LONG));
        s.metrics_token = Some(Secret::new(format!("{LONG}-_.~")));
        s.public_url = Some("https://origin.example.com".into());
        assert_eq!(s.validate(), Ok(()));
        assert!(s.public_https());
    }

    #[test]
    fn a_token_with_characters_a_cookie_would_change_is_refused() {
        let mut s = settings();
        s.dashboard_token = Some(Secret::new(format!("{LONG};x")));
        assert_eq!(s.validate().unwrap_err().name, "DASHBOARD_TOKEN");
    }

    #[test]
    fn a_zero_timeout_and_a_public_url_without_a_scheme_are_refused() {
        let mut s = settings();
        s.limits.body_timeout_secs = 0;
        assert_eq!(s.validate().unwrap_err().name, "HTTP_BODY_TIMEOUT_SECONDS");
        let mut s = settings();
        s.public_url = Some("origin.example.com".into());
        assert_eq!(s.validate().unwrap_err().name, "ORIGIN_PUBLIC_URL");
        assert!(!settings().public_https());
    }
}
