//! Target validation: the Product Hunt endpoint, the webhook allowlist, loopback in dev.

use super::*;

const DISCORD: &str = "https://discord.com/api/webhooks/123/secret-token";

#[test]
fn default_hosts_accept_discord_and_slack_webhooks() {
    let list = WebhookAllowlist::default();
    assert!(list.check(DISCORD).is_ok());
    assert!(list
        .check("https://discordapp.com/api/webhooks/1/t")
        .is_ok());
    assert!(list.check("https://hooks.slack.com/services/T/B/x").is_ok());
    assert!(list
        .check("https://discord.com:443/api/webhooks/1/t")
        .is_ok());
}

#[test]
fn configured_hosts_and_wildcards_extend_the_defaults() {
    let list = WebhookAllowlist::parse("alerts.example.org, *.hooks.example.net").unwrap();
    assert!(list.check("https://alerts.example.org/in").is_ok());
    assert!(list.check("https://a.hooks.example.net/in").is_ok());
    assert!(list.check(DISCORD).is_ok());
    assert_eq!(
        list.check("https://hooks.example.net/in"),
        Err(TargetError::HostNotAllowed("hooks.example.net".into()))
    );
    assert_eq!(
        list.check("https://evil-alerts.example.org/in")
            .unwrap_err()
            .code(),
        "host_not_allowed"
    );
}

#[test]
fn hosts_off_the_allowlist_are_refused_naming_only_the_host() {
    let err = WebhookAllowlist::default()
        .check("https://attacker.example/api/webhooks/1/secret")
        .unwrap_err();
    assert_eq!(err, TargetError::HostNotAllowed("attacker.example".into()));
    assert!(!err.to_string().contains("secret"));
}

#[test]
fn lookalike_and_tricky_urls_are_refused() {
    let list = WebhookAllowlist::default();
    for bad in [
        "https://discord.com.attacker.example/x",
        "https://discord.com@attacker.example/x",
        "https://user:pass@discord.com/x",
        "https://xn--dscord-6ve.com/x",
        "https://dіscord.com/x",
        "https://93.184.216.34/x",
        "https://[::1]/x",
    ] {
        assert!(list.check(bad).is_err(), "{bad}");
    }
}

#[test]
fn webhooks_must_use_https_on_the_default_port() {
    let list = WebhookAllowlist::default();
    for bad in [
        "http://discord.com/api/webhooks/1/t",
        "https://discord.com:8443/api/webhooks/1/t",
        "ftp://discord.com/x",
    ] {
        assert_eq!(
            list.check(bad).unwrap_err().code(),
            "invalid_target",
            "{bad}"
        );
    }
    for bad in ["", "discord.com/api", "not a url", "/relative"] {
        assert_eq!(list.check(bad), Err(TargetError::Malformed), "{bad}");
    }
}

#[test]
fn product_hunt_is_never_a_webhook_target_even_if_configured() {
    let list = WebhookAllowlist::default();
    for bad in [
        "https://api.producthunt.com/v2/api/graphql",
        "https://www.producthunt.com/posts/x",
        "https://producthunt.com./x",
        "https://API.ProductHunt.com/x",
    ] {
        assert_eq!(list.check(bad), Err(TargetError::ForbiddenHost), "{bad}");
    }
    for bad in [
        "producthunt.com",
        "*.producthunt.com",
        "api.producthunt.com",
    ] {
        assert!(WebhookAllowlist::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn malformed_allowlist_entries_fail_fast() {
    for bad in [
        "https://x.example.com",
        "x.example.com/path",
        "localhost",
        "*.",
        "a..b",
    ] {
        assert_eq!(
            WebhookAllowlist::parse(bad),
            Err(AllowlistError(bad.into())),
            "{bad}"
        );
    }
    assert_eq!(
        WebhookAllowlist::parse("").unwrap(),
        WebhookAllowlist::default()
    );
}

#[test]
fn loopback_http_is_allowed_only_with_the_explicit_dev_flag() {
    let fake = "http://127.0.0.1:8787/discord";
    assert_eq!(
        WebhookAllowlist::default().check(fake).unwrap_err().code(),
        "invalid_target"
    );
    let dev = WebhookAllowlist::parse(LOOPBACK_HTTP_FLAG).unwrap();
    assert!(dev.allows_loopback_http());
    assert!(dev.check(fake).is_ok());
    assert!(dev.check("http://localhost:9000/x").is_ok());
    assert!(dev.check("http://[::1]:9000/x").is_ok());
    // The flag covers loopback only.
    assert!(dev.check("http://10.0.0.1:9000/x").is_err());
    assert!(dev.check("http://alerts.example.org/x").is_err());
}

#[test]
fn ph_graphql_targets_only_the_graphql_endpoint() {
    assert_eq!(
        check_product_hunt_target(None).unwrap().as_str(),
        PRODUCT_HUNT_GRAPHQL_URL
    );
    assert!(check_product_hunt_target(Some(PRODUCT_HUNT_GRAPHQL_URL)).is_ok());
    for bad in [
        "https://api.producthunt.com/v2/api/graphql?x=1",
        "https://api.producthunt.com/v1/posts",
        "http://api.producthunt.com/v2/api/graphql",
        "https://www.producthunt.com/v2/api/graphql",
        "https://discord.com/api/webhooks/1/t",
        "not a url",
    ] {
        assert!(check_product_hunt_target(Some(bad)).is_err(), "{bad}");
    }
}

#[test]
fn the_product_hunt_endpoint_can_point_at_a_local_fake_only_in_dev() {
    let prod = WebhookAllowlist::default();
    let dev = WebhookAllowlist::parse(LOOPBACK_HTTP_FLAG).unwrap();
    assert_eq!(Endpoints::new(None, &prod).unwrap(), Endpoints::default());
    assert_eq!(
        Endpoints::new(Some(""), &prod).unwrap(),
        Endpoints::default()
    );
    let fake = "http://127.0.0.1:9100/v2/api/graphql";
    assert!(Endpoints::new(Some(fake), &prod).is_err());
    assert_eq!(
        Endpoints::new(Some(fake), &dev)
            .unwrap()
            .product_hunt_graphql
            .as_str(),
        fake
    );
    assert!(Endpoints::new(Some("https://evil.example/graphql"), &dev).is_err());
}

#[test]
fn redacted_urls_keep_only_scheme_host_and_port() {
    assert_eq!(redact_url(DISCORD), "https://discord.com/…");
    assert_eq!(
        redact_url("http://127.0.0.1:9000/x"),
        "http://127.0.0.1:9000/…"
    );
    assert_eq!(
        redact_url("https://hooks.slack.com"),
        "https://hooks.slack.com"
    );
    assert_eq!(redact_url("garbage"), "<invalid url>");
}
