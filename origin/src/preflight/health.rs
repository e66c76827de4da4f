//! What the worker's `GET /admin/health` answers, as `preflight` reads it.

use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct Health {
    pub ok: bool,
    #[serde(default)]
    pub secrets: std::collections::BTreeMap<String, bool>,
    /// The worker accepts an http or loopback `ORIGIN_URL` (`LOCAL_DEVELOPMENT=true`).
    #[serde(default)]
    pub local_development: bool,
}

/// What a misconfigured worker answers on `/admin/health` to its admin: the setting it
/// refused and why (never a value).
#[derive(Debug, Deserialize)]
pub struct Misconfigured {
    pub problem: String,
}

/// Whether the worker's URL is this machine: only there may it run in local development.
pub fn is_local(base: &str) -> bool {
    match reqwest::Url::parse(base)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
    {
        Some(host) => {
            let host = host.trim_start_matches('[').trim_end_matches(']');
            host == "localhost"
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::is_local;

    #[test]
    fn only_loopback_worker_urls_count_as_local() {
        assert!(is_local("http://127.0.0.1:8787"));
        assert!(is_local("http://localhost:8787"));
        assert!(is_local("http://[::1]:8787"));
        assert!(!is_local("https://launch.example.com"));
        assert!(!is_local("not a url"));
    }
}
