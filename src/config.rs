//! Typed settings, parsed once per request from the worker's vars and secrets.
//!
//! Parsing takes a lookup function so it is tested natively; `from_env` is the thin glue.
//! A missing or malformed setting is a clear error naming the variable, never a default
//! that silently hides a deployment mistake (secrets especially).

use launch_edge_proto::Secret;

use crate::bindings;
use crate::cache_key::VariantAllowlist;
use crate::outbound::settings::OutboundSettings;
use crate::page_cache::CachePolicy;

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
    /// Tests only: count events at the instant a request header names (see `counting`).
    pub client_clock_for_tests: bool,
    pub admin_token: Secret,
    pub origin_signing_secret: Secret,
    /// Outbound tasks and the launch monitor (optional settings, see the module).
    pub outbound: OutboundSettings,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("setting {0} is missing")]
    Missing(&'static str),
    #[error("setting {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

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

        let origin_url = required(bindings::ORIGIN_URL)?
            .trim_end_matches('/')
            .to_owned();
        if !(origin_url.starts_with("http://") || origin_url.starts_with("https://")) {
            return Err(ConfigError::Invalid {
                name: bindings::ORIGIN_URL,
                reason: "must start with http:// or https://".into(),
            });
        }
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

        Ok(Self {
            origin_url,
            cache,
            variants,
            memory_cache_entries,
            counter_shards,
            visitor_salt: Secret::new(required(bindings::VISITOR_SALT_SECRET)?),
            client_clock_for_tests: lookup(bindings::TEST_CLIENT_CLOCK).as_deref()
                == Some("enabled"),
            admin_token: Secret::new(required(bindings::ADMIN_TOKEN)?),
            origin_signing_secret: Secret::new(required(bindings::ORIGIN_SIGNING_SECRET)?),
            outbound: OutboundSettings::parse(&lookup)?,
        })
    }

    /// The isolate's configuration, parsed on its first request and kept: vars and
    /// secrets cannot change under a running isolate (a deploy starts new isolates), and
    /// parsing a dozen bindings through JS on every request is measurable on the hot path.
    #[cfg(target_arch = "wasm32")]
    pub fn cached(env: &worker::Env) -> Result<std::rc::Rc<Self>, ConfigError> {
        thread_local! {
            static CONFIG: std::cell::RefCell<Option<std::rc::Rc<Config>>> = const { std::cell::RefCell::new(None) };
        }
        if let Some(config) = CONFIG.with(|c| c.borrow().clone()) {
            return Ok(config);
        }
        let config = std::rc::Rc::new(Self::from_env(env)?);
        CONFIG.with(|c| *c.borrow_mut() = Some(config.clone()));
        Ok(config)
    }

    #[cfg(target_arch = "wasm32")]
    pub fn from_env(env: &worker::Env) -> Result<Self, ConfigError> {
        Self::parse(|name| {
            env.var(name)
                .map(|v| v.to_string())
                .or_else(|_| env.secret(name).map(|s| s.to_string()))
                .ok()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(overrides: &[(&str, &str)]) -> HashMap<String, String> {
        let mut map: HashMap<String, String> = [
            ("ORIGIN_URL", "http://127.0.0.1:8788/"),
            ("PAGE_SOFT_TTL_SECONDS", "60"),
            ("PAGE_MAX_STALE_SECONDS", "86400"),
            ("PAGE_NOT_FOUND_TTL_SECONDS", "30"),
            ("PAGE_VARIANTS", "lang=en|fr"),
            ("MEMORY_CACHE_ENTRIES", "256"),
            ("COUNTER_SHARDS", "8"),
            ("VISITOR_SALT_SECRET", "salt-secret"),
            ("ADMIN_TOKEN", "admin"),
            ("ORIGIN_SIGNING_SECRET", "sign"),
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
    fn secrets_stay_out_of_debug_output() {
        let config = parse(settings(&[("ADMIN_TOKEN", "very-secret-admin")])).unwrap();
        assert!(!format!("{config:?}").contains("very-secret-admin"));
    }
}
