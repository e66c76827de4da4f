//! Settings of the task scheduler and the launch monitor, parsed once with the rest of
//! [`crate::config::Config`] (pure: a lookup function in, typed values out).
//!
//! Every setting here is optional with a documented default, because a worker that
//! never schedules a task must not need them; a setting that is present but malformed
//! is still a clear error naming it. `PRODUCT_HUNT_TOKEN` is optional too: without it
//! the monitor skips its polls and `ph_graphql` tasks are dead-lettered with an error
//! that says so, rather than the whole worker refusing to start.

use launch_edge_proto::{Secret, Slug};

use super::backoff::BackoffPolicy;
use super::milestones::parse_milestones;
use super::target::{Endpoints, WebhookAllowlist};
use crate::bindings;
use crate::config::error::ConfigError;

/// Attempts per task unless the task says otherwise (`TASK_MAX_ATTEMPTS`).
pub const DEFAULT_MAX_ATTEMPTS: u32 = 8;
/// Full-jitter base and cap of the retry delays (`TASK_BACKOFF_BASE_MS`, `_CAP_MS`).
pub const DEFAULT_BACKOFF_BASE_MS: u64 = 1_000;
pub const DEFAULT_BACKOFF_CAP_MS: u64 = 5 * 60 * 1000;
/// An outbound call that has not answered by then counts as a timeout (retryable).
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;
/// The monitor polls each launch at most this often (`MONITOR_INTERVAL_SECONDS`).
pub const DEFAULT_MONITOR_INTERVAL_SECONDS: u64 = 300;

/// One launch the monitor watches: our slug, and the Product Hunt post slug.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitoredLaunch {
    pub launch: String,
    pub post_slug: String,
}

#[derive(Debug, Clone)]
pub struct OutboundSettings {
    pub webhooks: WebhookAllowlist,
    pub endpoints: Endpoints,
    /// `Authorization: Bearer …` for Product Hunt calls; never logged (see [`Secret`]).
    pub product_hunt_token: Option<Secret>,
    pub default_max_attempts: u32,
    pub backoff_base_ms: u64,
    pub backoff_cap_ms: u64,
    pub timeout_ms: u64,
    pub monitor_launches: Vec<MonitoredLaunch>,
    pub monitor_milestones: Vec<u64>,
    /// The allowlisted webhook a crossed milestone posts to (none: milestones are
    /// recorded but alert nobody).
    pub monitor_alert_webhook: Option<String>,
    pub monitor_interval_ms: u64,
}

impl OutboundSettings {
    /// The retry policy of a task allowed `max_attempts` attempts.
    pub fn backoff(&self, max_attempts: u32) -> BackoffPolicy {
        BackoffPolicy {
            base_ms: self.backoff_base_ms,
            cap_ms: self.backoff_cap_ms,
            max_attempts,
            ..BackoffPolicy::default()
        }
    }

    pub fn parse(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let optional = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let invalid = |name: &'static str, reason: String| ConfigError::Invalid { name, reason };
        let number = |name: &'static str, default: u64, range: std::ops::RangeInclusive<u64>| {
            match optional(name) {
                None => Ok(default),
                Some(raw) => raw
                    .parse::<u64>()
                    .ok()
                    .filter(|n| range.contains(n))
                    .ok_or_else(|| {
                        invalid(
                            name,
                            format!(
                                "must be a whole number from {} to {}",
                                range.start(),
                                range.end()
                            ),
                        )
                    }),
            }
        };

        let webhooks =
            WebhookAllowlist::parse(&optional(bindings::WEBHOOK_ALLOWLIST).unwrap_or_default())
                .map_err(|e| invalid(bindings::WEBHOOK_ALLOWLIST, e.to_string()))?;
        let endpoints = Endpoints::new(optional(bindings::PRODUCT_HUNT_API_URL).as_deref(), &webhooks)
            .map_err(|_| {
                invalid(
                    bindings::PRODUCT_HUNT_API_URL,
                    "only an http://127.0.0.1 fake, and only with dev:allow-loopback-http in WEBHOOK_ALLOWLIST".into(),
                )
            })?;
        let backoff_base_ms = number(
            bindings::TASK_BACKOFF_BASE_MS,
            DEFAULT_BACKOFF_BASE_MS,
            1..=3_600_000,
        )?;
        let backoff_cap_ms = number(
            bindings::TASK_BACKOFF_CAP_MS,
            DEFAULT_BACKOFF_CAP_MS,
            1..=86_400_000,
        )?;
        if backoff_cap_ms < backoff_base_ms {
            return Err(invalid(
                bindings::TASK_BACKOFF_CAP_MS,
                "must be at least TASK_BACKOFF_BASE_MS".into(),
            ));
        }
        let default_max_attempts = number(
            bindings::TASK_MAX_ATTEMPTS,
            DEFAULT_MAX_ATTEMPTS.into(),
            1..=super::task::MAX_ATTEMPTS_LIMIT.into(),
        )? as u32;
        let timeout_ms = number(bindings::TASK_TIMEOUT_MS, DEFAULT_TIMEOUT_MS, 100..=120_000)?;

        let monitor_launches = optional(bindings::MONITOR_LAUNCHES)
            .unwrap_or_default()
            .split([',', ' ', '\n'])
            .filter(|e| !e.is_empty())
            .map(|entry| {
                parse_monitored(entry).ok_or_else(|| {
                    invalid(
                        bindings::MONITOR_LAUNCHES,
                        format!("{entry:?} is not launch-slug=post-slug"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let monitor_milestones =
            parse_milestones(&optional(bindings::MONITOR_MILESTONES).unwrap_or_default())
                .map_err(|e| invalid(bindings::MONITOR_MILESTONES, e.to_string()))?;
        let monitor_alert_webhook = match optional(bindings::MONITOR_ALERT_WEBHOOK) {
            None => None,
            Some(url) => Some(
                webhooks
                    .check(&url)
                    .map_err(|e| invalid(bindings::MONITOR_ALERT_WEBHOOK, e.to_string()))?
                    .into(),
            ),
        };
        let monitor_interval_ms = number(
            bindings::MONITOR_INTERVAL_SECONDS,
            DEFAULT_MONITOR_INTERVAL_SECONDS,
            0..=86_400,
        )? * 1000;

        Ok(Self {
            webhooks,
            endpoints,
            product_hunt_token: optional(bindings::PRODUCT_HUNT_TOKEN).map(Secret::new),
            default_max_attempts,
            backoff_base_ms,
            backoff_cap_ms,
            timeout_ms,
            monitor_launches,
            monitor_milestones,
            monitor_alert_webhook,
            monitor_interval_ms,
        })
    }
}

/// `demo-launch=producthunt-post-slug`; a bare slug means the same slug on both sides.
fn parse_monitored(entry: &str) -> Option<MonitoredLaunch> {
    let (launch, post) = entry.split_once('=').unwrap_or((entry, entry));
    let post_ok = !post.is_empty()
        && post.len() <= 128
        && post
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    Some(MonitoredLaunch {
        launch: Slug::parse(launch).ok()?.to_string(),
        post_slug: post_ok.then(|| post.to_owned())?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(pairs: &[(&str, &str)]) -> Result<OutboundSettings, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        OutboundSettings::parse(|name| map.get(name).cloned())
    }

    #[test]
    fn nothing_configured_means_the_documented_defaults_and_no_monitor() {
        let s = parse(&[]).unwrap();
        assert_eq!(s.endpoints, Endpoints::default());
        assert_eq!(
            (s.default_max_attempts, s.backoff_base_ms, s.timeout_ms),
            (8, 1_000, 10_000)
        );
        assert!(s.product_hunt_token.is_none() && s.monitor_launches.is_empty());
        assert_eq!(s.monitor_interval_ms, 300_000);
    }

    #[test]
    fn a_local_fake_api_is_accepted_only_with_the_loopback_flag() {
        let fake = ("PRODUCT_HUNT_API_URL", "http://127.0.0.1:9999/graphql");
        assert!(matches!(
            parse(&[fake]).unwrap_err(),
            ConfigError::Invalid {
                name: "PRODUCT_HUNT_API_URL",
                ..
            }
        ));
        let s = parse(&[fake, ("WEBHOOK_ALLOWLIST", "dev:allow-loopback-http")]).unwrap();
        assert_eq!(
            s.endpoints.product_hunt_graphql.as_str(),
            "http://127.0.0.1:9999/graphql"
        );
    }

    #[test]
    fn monitored_launches_milestones_and_the_alert_webhook_parse() {
        let s = parse(&[
            ("MONITOR_LAUNCHES", "demo-launch=rocket-2, solo"),
            ("MONITOR_MILESTONES", "500,100 250"),
            (
                "MONITOR_ALERT_WEBHOOK",
                "https://discord.com/api/webhooks/1/abc",
            ),
            ("MONITOR_INTERVAL_SECONDS", "0"),
        ])
        .unwrap();
        assert_eq!(
            s.monitor_launches,
            [
                MonitoredLaunch {
                    launch: "demo-launch".into(),
                    post_slug: "rocket-2".into()
                },
                MonitoredLaunch {
                    launch: "solo".into(),
                    post_slug: "solo".into()
                },
            ]
        );
        assert_eq!(s.monitor_milestones, [100, 250, 500]);
        assert_eq!(s.monitor_interval_ms, 0);
        assert!(s
            .monitor_alert_webhook
            .unwrap()
            .starts_with("https://discord.com/"));
    }

    #[test]
    fn malformed_settings_are_named() {
        for (name, value) in [
            ("MONITOR_LAUNCHES", "Bad Slug=x"),
            ("MONITOR_MILESTONES", "ten"),
            ("MONITOR_ALERT_WEBHOOK", "https://evil.example/hook"),
            ("TASK_MAX_ATTEMPTS", "0"),
            ("TASK_BACKOFF_BASE_MS", "soon"),
            ("WEBHOOK_ALLOWLIST", "api.producthunt.com"),
        ] {
            match parse(&[(name, value)]) {
                Err(ConfigError::Invalid { name: got, .. }) => assert_eq!(got, name),
                other => panic!("{name}={value}: {other:?}"),
            }
        }
    }

    #[test]
    fn the_token_stays_out_of_debug_output() {
        let s = parse(&[("PRODUCT_HUNT_TOKEN", "ph-very-secret-token")]).unwrap();
        assert!(!format!("{s:?}").contains("ph-very-secret-token"));
    }
}
