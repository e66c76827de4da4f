//! The community-webhook allowlist check, with the worker's rules
//! (`core/src/outbound/target.rs`): https on the default port, no credentials, the host on the
//! allowlist (the defaults plus `WEBHOOK_ALLOWLIST`: hosts and `*.example.com`), never a
//! Product Hunt host; `http://` to loopback only with the `dev:allow-loopback-http` flag.
//! Webhook URLs carry their secret in the path, so only hosts are ever reported.

use reqwest::Url;

/// Webhook hosts the worker allows without configuration.
pub const DEFAULT_WEBHOOK_HOSTS: &[&str] = &["discord.com", "discordapp.com", "hooks.slack.com"];
pub const LOOPBACK_HTTP_FLAG: &str = "dev:allow-loopback-http";

fn entries(spec: &str) -> impl Iterator<Item = &str> {
    spec.split([',', ' ', '\n', '\t']).filter(|e| !e.is_empty())
}

fn is_product_hunt(host: &str) -> bool {
    host == "producthunt.com" || host.ends_with(".producthunt.com")
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Why a webhook URL would be refused by the worker, naming only its host; None if fine.
pub fn refusal(raw_url: &str, allowlist: &str) -> Option<String> {
    let Ok(url) = Url::parse(raw_url.trim()) else {
        return Some("a URL that does not parse".to_owned());
    };
    let host = url
        .host_str()
        .unwrap_or("")
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let loopback_ok = entries(allowlist).any(|e| e == LOOPBACK_HTTP_FLAG) && is_loopback(&url);
    if loopback_ok && url.scheme() == "http" {
        return None;
    }
    if url.scheme() != "https" || url.port().is_some() || !url.username().is_empty() {
        return Some(format!("{host}: not https on the default port"));
    }
    if is_product_hunt(&host) {
        return Some(format!(
            "{host}: Product Hunt hosts are never webhook targets"
        ));
    }
    let allowed = DEFAULT_WEBHOOK_HOSTS.contains(&host.as_str())
        || entries(allowlist).any(|e| {
            let e = e.to_ascii_lowercase();
            match e.strip_prefix("*.") {
                Some(suffix) => host.ends_with(&format!(".{suffix}")),
                None => e == host,
            }
        });
    (!allowed).then(|| format!("{host}: not on WEBHOOK_ALLOWLIST"))
}

#[cfg(test)]
mod tests {
    use super::refusal;

    #[test]
    fn defaults_and_configured_hosts_pass_and_others_are_named_by_host_only() {
        assert_eq!(
            refusal("https://discord.com/api/webhooks/1/secret", ""),
            None
        );
        assert_eq!(
            refusal("https://a.hooks.example.com/x", "*.example.com"),
            None
        );
        assert_eq!(
            refusal("https://chat.example.org/x", "chat.example.org"),
            None
        );
        let refused = refusal("https://evil.example.net/hook/s3cret", "example.com").unwrap();
        assert!(refused.contains("evil.example.net") && !refused.contains("s3cret"));
        assert!(refusal("http://discord.com/x", "").is_some());
        assert!(refusal("https://discord.com:8443/x", "").is_some());
        assert!(refusal("https://api.producthunt.com/x", "api.producthunt.com").is_some());
    }

    #[test]
    fn loopback_http_needs_the_explicit_dev_flag() {
        assert!(refusal("http://127.0.0.1:9000/hook", "").is_some());
        assert_eq!(
            refusal("http://127.0.0.1:9000/hook", "dev:allow-loopback-http"),
            None
        );
    }
}
