//! Typed settings, parsed once per isolate (and once per Durable Object instance) from
//! the worker's vars and secrets.
//!
//! Parsing takes a lookup function so it is tested natively; the worker's `edge` module
//! is the thin glue that reads `worker::Env`.
//! A missing or malformed setting is a clear error naming the variable, never a default
//! that silently hides a deployment mistake (secrets especially).
//!
//! Refused outright, so a deployment mistake shows on the first request (500
//! `misconfigured`, the reason in the log and in `/admin/health`) rather than as a weak
//! point in production:
//! - `ADMIN_TOKEN`, `ORIGIN_SIGNING_SECRET` and `VISITOR_SALT_SECRET` shorter than
//!   [`MIN_SECRET_BYTES`];
//! - an `ORIGIN_URL` that is `http://` or a loopback address (`localhost`, `127.0.0.0/8`,
//!   `::1`), unless `LOCAL_DEVELOPMENT` is `true`: wrangler dev, the tests and
//!   `scripts/dev.sh` set it (never `wrangler.toml`, whose vars are deployed).

pub mod error;

use launch_edge_proto::{Secret, MIN_SECRET_BYTES};

use crate::bindings;
use crate::outbound::settings::OutboundSettings;
use crate::page::entry::CachePolicy;
use crate::page::key::VariantAllowlist;

#[derive(Debug, Clone)]
pub struct Config {
    /// Base URL of the origin service, without a trailing slash.
    pub origin_url: String,
    pub cache: CachePolicy,
    pub variants: VariantAllowlist,
    /// Entries kept in each isolate's memory cache.
    pub memory_cache_entries: usize,
    /// Counter shards per launch (Durable Objects); reads merge all of them.
    pub counter_shards: u32,
    pub visitor_salt: Secret,
    /// `BOT_MANAGEMENT=enabled`: the bot verdict also uses Cloudflare Bot Management's
    /// score and verified-bot flag from `request.cf`. Off (the default, and `disabled`),
    /// the worker never reads `request.cf`: workerd parses that object from JSON on its
    /// first read (7% of a counted view's isolate profile samples in local workerd,
    /// docs/benchmarks.md), and without the Bot Management product it carries no score.
    pub bot_management: bool,
    /// Tests only: count events at the instant a request header names (see `counting`).
    pub client_clock_for_tests: bool,
    /// `LOCAL_DEVELOPMENT=true`: an http or loopback `ORIGIN_URL` is allowed.
    pub local_development: bool,
    pub admin_token: Secret,
    /// `ADMIN_TOKEN_PREVIOUS`, set only while a rotation is under way: still accepted.
    pub admin_token_previous: Option<Secret>,
    pub origin_signing_secret: Secret,
    /// Outbound tasks and the launch monitor (optional settings, see the module).
    pub outbound: OutboundSettings,
}

pub use error::ConfigError;

impl Config {
    pub fn parse(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |name: &'static str| {
            lookup(name)
                .filter(|v| !v.is_empty())
                .ok_or(ConfigError::Missing(name))
        };
        let number = |name: &'static str| -> Result<u64, ConfigError> {
            required(name)?
                .trim()
                .parse()
                .map_err(|e: std::num::ParseIntError| ConfigError::Invalid {
                    name,
                    reason: e.to_string(),
                })
        };

        let local_development = lookup(bindings::LOCAL_DEVELOPMENT).as_deref() == Some("true");
        let origin_url = required(bindings::ORIGIN_URL)?
            .trim_end_matches('/')
            .to_owned();
        check_origin_url(&origin_url, local_development)?;
        let secret = |name: &'static str| -> Result<Secret, ConfigError> {
            let value = required(name)?;
            if value.len() < MIN_SECRET_BYTES {
                return Err(ConfigError::Invalid {
                    name,
                    reason: format!(
                        "must be at least {MIN_SECRET_BYTES} bytes (it has {})",
                        value.len()
                    ),
                });
            }
            Ok(Secret::new(value))
        };
        let cache = CachePolicy {
            soft_ttl_secs: number(bindings::PAGE_SOFT_TTL_SECONDS)?,
            max_stale_secs: number(bindings::PAGE_MAX_STALE_SECONDS)?,
            not_found_ttl_secs: number(bindings::PAGE_NOT_FOUND_TTL_SECONDS)?,
        };
        if cache.max_stale_secs < cache.soft_ttl_secs {
            return Err(ConfigError::Invalid {
                name: bindings::PAGE_MAX_STALE_SECONDS,
                reason: "must be at least PAGE_SOFT_TTL_SECONDS".into(),
            });
        }
        let variants = VariantAllowlist::parse(
            &lookup(bindings::PAGE_VARIANTS).unwrap_or_default(),
        )
        .map_err(|e| ConfigError::Invalid {
            name: bindings::PAGE_VARIANTS,
            reason: e.to_string(),
        })?;
        let counter_shards = u32::try_from(number(bindings::COUNTER_SHARDS)?)
            .ok()
            .filter(|n| (1..=256).contains(n))
            .ok_or(ConfigError::Invalid {
                name: bindings::COUNTER_SHARDS,
                reason: "must be 1 to 256".into(),
            })?;
        let memory_cache_entries = number(bindings::MEMORY_CACHE_ENTRIES)? as usize;
        let bot_management = match lookup(bindings::BOT_MANAGEMENT).as_deref() {
            None | Some("" | "disabled") => false,
            Some("enabled") => true,
            Some(_) => {
                return Err(ConfigError::Invalid {
                    name: bindings::BOT_MANAGEMENT,
                    reason: "must be `enabled` or `disabled`".into(),
                })
            }
        };

        Ok(Self {
            origin_url,
            cache,
            variants,
            memory_cache_entries,
            counter_shards,
            visitor_salt: secret(bindings::VISITOR_SALT_SECRET)?,
            bot_management,
            client_clock_for_tests: lookup(bindings::TEST_CLIENT_CLOCK).as_deref()
                == Some("enabled"),
            local_development,
            admin_token: secret(bindings::ADMIN_TOKEN)?,
            admin_token_previous: match lookup(bindings::ADMIN_TOKEN_PREVIOUS) {
                Some(v) if !v.is_empty() => Some(secret(bindings::ADMIN_TOKEN_PREVIOUS)?),
                _ => None,
            },
            origin_signing_secret: secret(bindings::ORIGIN_SIGNING_SECRET)?,
            outbound: OutboundSettings::parse(&lookup)?,
        })
    }

    /// Whether `token` is the admin token, or the previous one during a rotation; each is
    /// compared in constant time.
    pub fn admits_admin_token(&self, token: &[u8]) -> bool {
        let previous = self.admin_token_previous.as_ref();
        self.admin_token.matches(token) | previous.is_some_and(|p| p.matches(token))
    }
}

/// An http(s) URL; outside local development only https to a host that is not loopback:
/// batches carry revenue and the signing key protects them only against tampering, not
/// reading, and a loopback origin in production means a deploy kept the dev value.
fn check_origin_url(origin_url: &str, local_development: bool) -> Result<(), ConfigError> {
    let invalid = |reason: &str| ConfigError::Invalid {
        name: bindings::ORIGIN_URL,
        reason: reason.into(),
    };
    let url = url::Url::parse(origin_url).map_err(|_| {
        if origin_url.is_ascii() {
            invalid("is not a URL")
        } else {
            // The worker's lockfile leaves out url's Unicode tables (Cargo.toml says why).
            invalid(
                "is not a URL the worker can read: give a host name outside ASCII in its xn-- form",
            )
        }
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(invalid("must start with http:// or https://"));
    }
    if local_development {
        return Ok(());
    }
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.');
            d == "localhost" || d.ends_with(".localhost")
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback() || ip.is_unspecified(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback() || ip.is_unspecified(),
        None => false,
    };
    if url.scheme() != "https" || loopback {
        return Err(invalid(
            "must be https:// to a non-loopback host outside local development \
             (LOCAL_DEVELOPMENT=true allows http and loopback, for wrangler dev only)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(overrides: &[(&str, &str)]) -> HashMap<String, String> {
        let mut map: HashMap<String, String> = [
            ("ORIGIN_URL", "http://127.0.0.1:8788/"),
            ("LOCAL_DEVELOPMENT", "true"),
            ("PAGE_SOFT_TTL_SECONDS", "60"),
            ("PAGE_MAX_STALE_SECONDS", "86400"),
            ("PAGE_NOT_FOUND_TTL_SECONDS", "30"),
            ("PAGE_VARIANTS", "lang=en|fr"),
            ("MEMORY_CACHE_ENTRIES", "256"),
            ("COUNTER_SHARDS", "8"),
            ("VISITOR_SALT_SECRET", "salt-secret-0123456789abcdef-0123"),
            ("ADMIN_TOKEN", "admin-token-0123456789abcdef-01234"),
            ("ORIGIN_SIGNING_SECRET", "signing-secret-0123456789abcdef-0"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        for (k, v) in overrides {
            map.insert((*k).to_owned(), (*v).to_owned());
        }
        map
    }

    fn parse(map: HashMap<String, String>) -> Result<Config, ConfigError> {
        Config::parse(|name| map.get(name).cloned())
    }

    #[test]
    fn a_complete_configuration_parses() {
        let config = parse(settings(&[])).unwrap();
        assert_eq!(config.origin_url, "http://127.0.0.1:8788");
        assert_eq!(config.cache.soft_ttl_secs, 60);
        assert_eq!(config.memory_cache_entries, 256);
    }

    #[test]
    fn during_a_rotation_the_previous_admin_token_is_accepted_too_and_no_other() {
        let current = "admin-token-0123456789abcdef-01234";
        let previous = "the-old-admin-token-0123456789abcdef";
        let config = parse(settings(&[("ADMIN_TOKEN_PREVIOUS", previous)])).unwrap();
        assert!(config.admits_admin_token(current.as_bytes()));
        assert!(config.admits_admin_token(previous.as_bytes()));
        assert!(!config.admits_admin_token(b"the-old-admin-token-0123456789abcdeX"));
        let config = parse(settings(&[])).unwrap();
        assert!(!config.admits_admin_token(previous.as_bytes()));
    }

    #[test]
    fn a_short_previous_admin_token_is_refused_by_name() {
        assert!(matches!(
            parse(settings(&[("ADMIN_TOKEN_PREVIOUS", "short")])).unwrap_err(),
            ConfigError::Invalid {
                name: "ADMIN_TOKEN_PREVIOUS",
                ..
            }
        ));
        assert!(parse(settings(&[("ADMIN_TOKEN_PREVIOUS", "")]))
            .unwrap()
            .admin_token_previous
            .is_none());
    }

    #[test]
    fn missing_secrets_are_named() {
        let mut map = settings(&[]);
        map.remove("ADMIN_TOKEN");
        assert_eq!(parse(map).unwrap_err(), ConfigError::Missing("ADMIN_TOKEN"));
        assert_eq!(
            parse(settings(&[("ORIGIN_SIGNING_SECRET", "")])).unwrap_err(),
            ConfigError::Missing("ORIGIN_SIGNING_SECRET")
        );
    }

    #[test]
    fn malformed_values_are_named() {
        let err = parse(settings(&[("PAGE_SOFT_TTL_SECONDS", "soon")])).unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Invalid {
                name: "PAGE_SOFT_TTL_SECONDS",
                ..
            }
        ));
        let err = parse(settings(&[("PAGE_MAX_STALE_SECONDS", "10")])).unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Invalid {
                name: "PAGE_MAX_STALE_SECONDS",
                ..
            }
        ));
        let err = parse(settings(&[("ORIGIN_URL", "ftp://x")])).unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Invalid {
                name: "ORIGIN_URL",
                ..
            }
        ));
    }

    #[test]
    fn bot_management_is_off_unless_enabled_and_any_other_word_is_refused() {
        assert!(!parse(settings(&[])).unwrap().bot_management);
        assert!(
            !parse(settings(&[("BOT_MANAGEMENT", "")]))
                .unwrap()
                .bot_management
        );
        assert!(
            !parse(settings(&[("BOT_MANAGEMENT", "disabled")]))
                .unwrap()
                .bot_management
        );
        assert!(
            parse(settings(&[("BOT_MANAGEMENT", "enabled")]))
                .unwrap()
                .bot_management
        );
        for word in ["true", "Enabled", "on", "1"] {
            let err = parse(settings(&[("BOT_MANAGEMENT", word)])).unwrap_err();
            assert_eq!(
                err,
                ConfigError::Invalid {
                    name: "BOT_MANAGEMENT",
                    reason: "must be `enabled` or `disabled`".into()
                },
                "{word}"
            );
        }
    }

    /// The worker's lockfile pins url's ASCII-only IDNA back end (Cargo.toml): a Unicode
    /// origin host is refused with what to write instead, and that form works.
    #[test]
    fn an_origin_on_a_unicode_host_is_given_in_its_xn_form() {
        let err = parse(settings(&[("ORIGIN_URL", "https://bücher.example")])).unwrap_err();
        assert!(err.to_string().contains("xn--"), "{err}");
        let config = parse(settings(&[
            ("ORIGIN_URL", "https://xn--bcher-kva.example"),
            ("LOCAL_DEVELOPMENT", "false"),
        ]))
        .unwrap();
        assert_eq!(config.origin_url, "https://xn--bcher-kva.example");
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let admin = "very-secret-admin-token-0123456789";
        let config = parse(settings(&[("ADMIN_TOKEN", admin)])).unwrap();
        assert!(!format!("{config:?}").contains(admin));
    }

    #[test]
    fn a_secret_shorter_than_32_bytes_is_refused_by_name_without_its_value() {
        let short = "a-31-byte-secret-0123456789abcd";
        assert_eq!(short.len(), 31);
        for name in [
            "ADMIN_TOKEN",
            "ORIGIN_SIGNING_SECRET",
            "VISITOR_SALT_SECRET",
        ] {
            let err = parse(settings(&[(name, short)])).unwrap_err();
            assert!(
                matches!(&err, ConfigError::Invalid { name: got, .. } if *got == name),
                "{err}"
            );
            assert!(err.to_string().contains("32 bytes"), "{err}");
            assert!(!err.to_string().contains(short), "{err}");
        }
        let exactly = "a-32-byte-secret-0123456789abcde";
        assert_eq!(exactly.len(), 32);
        assert!(parse(settings(&[("ADMIN_TOKEN", exactly)])).is_ok());
    }

    #[test]
    fn an_http_or_loopback_origin_is_refused_outside_local_development() {
        let deployed = |url: &str| {
            let mut map = settings(&[("ORIGIN_URL", url)]);
            map.remove("LOCAL_DEVELOPMENT");
            parse(map)
        };
        for url in [
            "http://origin.example.com",
            "https://127.0.0.1:8788",
            "https://127.9.0.1",
            "https://localhost",
            "https://api.localhost",
            "https://[::1]:8788",
            "https://0.0.0.0",
            "http://127.0.0.1:8788",
        ] {
            let err = deployed(url).unwrap_err();
            assert!(
                matches!(&err, ConfigError::Invalid { name: "ORIGIN_URL", reason } if reason.contains("LOCAL_DEVELOPMENT")),
                "{url}: {err}"
            );
        }
        let ok = deployed("https://origin.example.com/").unwrap();
        assert_eq!(ok.origin_url, "https://origin.example.com");
        assert!(!ok.local_development);
        // Any value but `true` is not the flag.
        let flagged = parse(settings(&[("LOCAL_DEVELOPMENT", "yes")]));
        assert!(matches!(
            flagged,
            Err(ConfigError::Invalid {
                name: "ORIGIN_URL",
                ..
            })
        ));
        assert!(parse(settings(&[])).unwrap().local_development);
    }
}
