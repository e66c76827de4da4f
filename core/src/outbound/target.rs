//! Where outbound calls may go: Product Hunt's GraphQL endpoint, and allowlisted webhooks.
//!
//! The worker holds a Product Hunt token and posts wherever a task says, so a task's
//! target is the one thing that must never be open-ended: `ph_graphql` always means
//! exactly [`PRODUCT_HUNT_GRAPHQL_URL`], and `webhook_post` goes only to an https URL on
//! the default port whose host is on the [`WebhookAllowlist`] (never a Product Hunt host,
//! whatever the configuration says, so the generic webhook kind cannot reach its API).
//!
//! Local e2e tests need plain `http://127.0.0.1:PORT` fake servers. That is allowed only
//! when the allowlist configuration carries the explicit token [`LOOPBACK_HTTP_FLAG`];
//! the same flag lets [`Endpoints`] point Product Hunt calls at a local fake API.
//! Webhook URLs carry their own secret (Discord's token is in the path), so errors name
//! only the host, and [`redact_url`] keeps paths out of logs.

use url::{Host, Url};

pub const PRODUCT_HUNT_GRAPHQL_URL: &str = "https://api.producthunt.com/v2/api/graphql";
/// Webhook hosts allowed without configuration.
pub const DEFAULT_WEBHOOK_HOSTS: &[&str] = &["discord.com", "discordapp.com", "hooks.slack.com"];
/// The allowlist token that permits `http://` to loopback addresses (dev and tests only).
pub const LOOPBACK_HTTP_FLAG: &str = "dev:allow-loopback-http";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("the target is not an absolute URL")]
    Malformed,
    #[error("the target must be an https URL on the default port, without credentials")]
    NotHttps,
    #[error("host {0:?} is not on the webhook allowlist")]
    HostNotAllowed(String),
    #[error("Product Hunt hosts are reachable only through the ph_graphql task kind")]
    ForbiddenHost,
    #[error("ph_graphql tasks target only {PRODUCT_HUNT_GRAPHQL_URL}")]
    NotProductHuntGraphql,
}

impl TargetError {
    pub fn code(&self) -> &'static str {
        match self {
            TargetError::Malformed | TargetError::NotHttps => "invalid_target",
            TargetError::HostNotAllowed(_) => "host_not_allowed",
            TargetError::ForbiddenHost => "forbidden_host",
            TargetError::NotProductHuntGraphql => "invalid_target",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "webhook allowlist entry {0:?} is not a host name (examples: hooks.example.com, *.example.com)"
)]
pub struct AllowlistError(pub String);

/// Hosts that `webhook_post` tasks may reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookAllowlist {
    /// Exact hosts, and suffixes (`.example.com`) from `*.example.com` entries.
    exact: Vec<String>,
    suffixes: Vec<String>,
    allow_loopback_http: bool,
}

impl Default for WebhookAllowlist {
    fn default() -> Self {
        Self {
            exact: DEFAULT_WEBHOOK_HOSTS
                .iter()
                .map(|h| (*h).to_owned())
                .collect(),
            suffixes: Vec::new(),
            allow_loopback_http: false,
        }
    }
}

fn is_product_hunt(host: &str) -> bool {
    let host = host.trim_end_matches('.');
    host == "producthunt.com" || host.ends_with(".producthunt.com")
}

fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(d) => *d == "localhost",
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => ip.is_loopback(),
    }
}

impl WebhookAllowlist {
    /// The defaults plus configured entries, separated by commas or whitespace: host names,
    /// `*.example.com` for any subdomain, and [`LOOPBACK_HTTP_FLAG`].
    pub fn parse(spec: &str) -> Result<Self, AllowlistError> {
        let mut list = Self::default();
        for entry in spec.split([',', ' ', '\n', '\t']).filter(|e| !e.is_empty()) {
            if entry == LOOPBACK_HTTP_FLAG {
                list.allow_loopback_http = true;
                continue;
            }
            let entry_lower = entry.to_ascii_lowercase();
            let (wildcard, host) = match entry_lower.strip_prefix("*.") {
                Some(rest) => (true, rest),
                None => (false, entry_lower.as_str()),
            };
            let valid = !host.is_empty()
                && host.contains('.')
                && host.split('.').all(|label| {
                    !label.is_empty()
                        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                });
            if !valid || is_product_hunt(host) {
                return Err(AllowlistError(entry.to_owned()));
            }
            if wildcard {
                list.suffixes.push(format!(".{host}"));
            } else {
                list.exact.push(host.to_owned());
            }
        }
        Ok(list)
    }

    pub fn allows_loopback_http(&self) -> bool {
        self.allow_loopback_http
    }

    fn allows_host(&self, host: &str) -> bool {
        self.exact.iter().any(|h| h == host)
            || self.suffixes.iter().any(|s| host.ends_with(s.as_str()))
    }

    /// Validates a `webhook_post` target.
    pub fn check(&self, target: &str) -> Result<Url, TargetError> {
        let url = Url::parse(target.trim()).map_err(|_| TargetError::Malformed)?;
        let host = url.host().ok_or(TargetError::Malformed)?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(TargetError::NotHttps);
        }
        if let Host::Domain(domain) = host {
            if is_product_hunt(domain) {
                return Err(TargetError::ForbiddenHost);
            }
        }
        if self.allow_loopback_http && url.scheme() == "http" && is_loopback(&host) {
            return Ok(url);
        }
        if url.scheme() != "https" || url.port().is_some() {
            return Err(TargetError::NotHttps);
        }
        match host {
            Host::Domain(domain) if self.allows_host(domain) => Ok(url),
            other => Err(TargetError::HostNotAllowed(other.to_string())),
        }
    }
}

/// Validates a `ph_graphql` target (absent means the endpoint).
pub fn check_product_hunt_target(target: Option<&str>) -> Result<Url, TargetError> {
    let target = target.map(str::trim).unwrap_or(PRODUCT_HUNT_GRAPHQL_URL);
    let url = Url::parse(target).map_err(|_| TargetError::Malformed)?;
    if url.as_str() == PRODUCT_HUNT_GRAPHQL_URL {
        Ok(url)
    } else {
        Err(TargetError::NotProductHuntGraphql)
    }
}

/// Where Product Hunt calls are actually sent: the real endpoint, or in dev and tests
/// a local fake, allowed only with the loopback flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub product_hunt_graphql: Url,
}

impl Default for Endpoints {
    fn default() -> Self {
        Self {
            product_hunt_graphql: Url::parse(PRODUCT_HUNT_GRAPHQL_URL).expect("constant URL"),
        }
    }
}

impl Endpoints {
    /// `override_url`, when set, must be `http://` to a loopback address and the
    /// allowlist must carry [`LOOPBACK_HTTP_FLAG`].
    pub fn new(
        override_url: Option<&str>,
        allowlist: &WebhookAllowlist,
    ) -> Result<Self, TargetError> {
        let Some(raw) = override_url.map(str::trim).filter(|s| !s.is_empty()) else {
            return Ok(Self::default());
        };
        let url = Url::parse(raw).map_err(|_| TargetError::Malformed)?;
        let loopback = url.host().as_ref().is_some_and(is_loopback);
        if allowlist.allow_loopback_http && url.scheme() == "http" && loopback {
            Ok(Self {
                product_hunt_graphql: url,
            })
        } else {
            Err(TargetError::NotProductHuntGraphql)
        }
    }
}

/// `https://discord.com/…`: the scheme, host and port of a URL, for logs and listings.
pub fn redact_url(url: &str) -> String {
    match Url::parse(url) {
        Ok(u) if u.path() != "/" || u.query().is_some() => {
            format!("{}/…", u.origin().ascii_serialization())
        }
        Ok(u) => u.origin().ascii_serialization(),
        Err(_) => "<invalid url>".to_owned(),
    }
}

#[cfg(test)]
mod tests;
