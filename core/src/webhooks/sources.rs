//! Which webhook sources exist, with which scheme and which secrets.
//!
//! `WEBHOOK_SOURCES` (a var, not secret) lists `name=scheme` pairs separated by `;`, e.g.
//! `stripe=stripe;relay=producthunt;billing=standard`. Each source's secrets come from the
//! secret `WEBHOOK_SECRETS_<NAME>` (name uppercased, `-` as `_`), several separated by
//! spaces or commas so a rotation keeps the old key active next to the new one.
//!
//! Each source remembers delivered ids for its dedupe window: the optional var
//! `WEBHOOK_DEDUPE_HOURS_<NAME>` (whole hours, 1 to 720), else
//! [`DEFAULT_DEDUPE_WINDOW_MS`] (4 days, beyond Stripe's three days of retries). A
//! redelivery within the window is answered as a duplicate and applied no second time.
//!
//! Parsed once, failing fast: a source without secrets, or a Standard Webhooks secret that
//! is not `whsec_<base64>`, is a deployment mistake reported with the variable's name and
//! never its value. A missing or empty `WEBHOOK_SOURCES` means no sources (every
//! `/webhooks/:source` is 404), which is a valid deployment.

use std::collections::BTreeMap;

use launch_edge_proto::Secret;

use super::{standard, Scheme, VerifiedEvent, WebhookError, DEFAULT_TOLERANCE_SECS};
use crate::recent_ids::{DEFAULT_DEDUPE_WINDOW_MS, MAX_DEDUPE_WINDOW_MS, MIN_DEDUPE_WINDOW_MS};

/// The var listing the sources.
pub const SOURCES_VAR: &str = "WEBHOOK_SOURCES";
/// Prefix of each source's secrets variable.
pub const SECRETS_VAR_PREFIX: &str = "WEBHOOK_SECRETS_";
/// Prefix of each source's optional dedupe window variable (whole hours).
pub const DEDUPE_HOURS_VAR_PREFIX: &str = "WEBHOOK_DEDUPE_HOURS_";
const HOUR_MS: i64 = 60 * 60 * 1000;
/// Longest source name (it appears in URLs and variable names).
pub const MAX_SOURCE_NAME_LEN: usize = 32;
/// Shortest raw (Stripe, relay) secret accepted: a shorter one is guessable or a paste error.
pub const MIN_SECRET_BYTES: usize = 16;

/// One configured source. `Debug` shows the secrets only as `[REDACTED]`.
#[derive(Debug, Clone)]
pub struct WebhookSource {
    pub name: String,
    pub scheme: Scheme,
    pub tolerance_secs: u64,
    /// How long a delivered id is remembered (see the module header).
    pub dedupe_window_ms: i64,
    secrets: Vec<Secret>,
}

impl WebhookSource {
    pub fn new(name: impl Into<String>, scheme: Scheme, secrets: Vec<Secret>) -> Self {
        Self {
            name: name.into(),
            scheme,
            tolerance_secs: DEFAULT_TOLERANCE_SECS,
            dedupe_window_ms: DEFAULT_DEDUPE_WINDOW_MS,
            secrets,
        }
    }

    /// The active HMAC keys (Standard Webhooks secrets already base64-decoded).
    pub fn secrets(&self) -> &[Secret] {
        &self.secrets
    }

    /// Verifies a request with this source's scheme, secrets and tolerance.
    pub fn verify(
        &self,
        headers: impl Fn(&str) -> Option<String>,
        body: &[u8],
        now_secs: i64,
    ) -> Result<VerifiedEvent, WebhookError> {
        super::verify(
            self.scheme,
            &self.secrets,
            headers,
            body,
            now_secs,
            self.tolerance_secs,
        )
    }
}

/// Why the sources configuration is refused. Names variables, never secret values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourcesError {
    #[error("{SOURCES_VAR} entry {entry:?} is invalid: {reason}")]
    InvalidEntry { entry: String, reason: &'static str },
    #[error("{SOURCES_VAR} names source {0:?} twice (or two names map to one secrets variable)")]
    Duplicate(String),
    #[error("secret {var} is missing or empty")]
    MissingSecrets { var: String },
    #[error("{var} must be a whole number of hours from 1 to 720")]
    InvalidDedupeWindow { var: String },
    #[error("secret {var}, entry {position}, {reason}")]
    InvalidSecret {
        var: String,
        /// 1-based position of the offending secret in the list.
        position: usize,
        reason: String,
    },
}

/// All configured sources, by name.
#[derive(Debug, Clone, Default)]
pub struct WebhookSources {
    sources: BTreeMap<String, WebhookSource>,
}

impl WebhookSources {
    /// Parses [`SOURCES_VAR`] and each source's secrets through `lookup` (vars and secrets).
    pub fn parse(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SourcesError> {
        let spec = lookup(SOURCES_VAR).unwrap_or_default();
        let mut sources = BTreeMap::new();
        let mut vars = BTreeMap::new();
        for entry in spec.split(';').map(str::trim).filter(|e| !e.is_empty()) {
            let invalid = |reason| SourcesError::InvalidEntry {
                entry: entry.to_owned(),
                reason,
            };
            let (name, scheme) = entry
                .split_once('=')
                .ok_or_else(|| invalid("expected name=scheme"))?;
            let name = name.trim();
            if !is_valid_source_name(name) {
                return Err(invalid("name must be 1-32 of a-z, 0-9, '-', '_'"));
            }
            let scheme = Scheme::parse(scheme)
                .ok_or_else(|| invalid("scheme must be standard, stripe or producthunt"))?;
            let var = secrets_var(name);
            if sources.contains_key(name) || vars.insert(var.clone(), ()).is_some() {
                return Err(SourcesError::Duplicate(name.to_owned()));
            }
            let secrets = parse_secrets(scheme, &var, lookup(&var).as_deref())?;
            let mut source = WebhookSource::new(name, scheme, secrets);
            let window_var = dedupe_hours_var(name);
            if let Some(raw) = lookup(&window_var).filter(|v| !v.trim().is_empty()) {
                source.dedupe_window_ms = parse_window(&raw)
                    .ok_or(SourcesError::InvalidDedupeWindow { var: window_var })?;
            }
            sources.insert(name.to_owned(), source);
        }
        Ok(Self { sources })
    }

    /// The source for `/webhooks/:source`, or [`WebhookError::UnknownSource`] (404).
    pub fn get(&self, name: &str) -> Result<&WebhookSource, WebhookError> {
        self.sources.get(name).ok_or(WebhookError::UnknownSource)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.sources.keys().map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }
}

/// The secrets variable of a source: `billing-eu` → `WEBHOOK_SECRETS_BILLING_EU`.
pub fn secrets_var(source_name: &str) -> String {
    format!(
        "{SECRETS_VAR_PREFIX}{}",
        source_name.to_ascii_uppercase().replace('-', "_")
    )
}

/// The dedupe window variable of a source: `billing-eu` → `WEBHOOK_DEDUPE_HOURS_BILLING_EU`.
pub fn dedupe_hours_var(source_name: &str) -> String {
    format!(
        "{DEDUPE_HOURS_VAR_PREFIX}{}",
        source_name.to_ascii_uppercase().replace('-', "_")
    )
}

/// Whole hours within the allowed windows, as milliseconds.
fn parse_window(raw: &str) -> Option<i64> {
    let hours: i64 = raw.trim().parse().ok()?;
    let ms = hours.checked_mul(HOUR_MS)?;
    (MIN_DEDUPE_WINDOW_MS..=MAX_DEDUPE_WINDOW_MS)
        .contains(&ms)
        .then_some(ms)
}

fn is_valid_source_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_SOURCE_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Splits and decodes one source's secrets. Only Standard Webhooks secrets are decoded;
/// Stripe and relay secrets are used as the bytes configured (Stripe's `whsec_` included).
fn parse_secrets(
    scheme: Scheme,
    var: &str,
    raw: Option<&str>,
) -> Result<Vec<Secret>, SourcesError> {
    let raw = raw.unwrap_or_default();
    let mut secrets = Vec::new();
    for (index, item) in raw
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .enumerate()
    {
        let invalid = |reason: String| SourcesError::InvalidSecret {
            var: var.to_owned(),
            position: index + 1,
            reason,
        };
        let secret = match scheme {
            Scheme::StandardWebhooks => {
                if !item.starts_with(standard::SECRET_PREFIX) {
                    return Err(invalid("must start with whsec_".into()));
                }
                standard::decode_secret(item).map_err(|e| invalid(e.to_string()))?
            }
            Scheme::Stripe | Scheme::ProductHunt => Secret::new(item.as_bytes()),
        };
        if secret.expose().len() < MIN_SECRET_BYTES {
            return Err(invalid(format!("is shorter than {MIN_SECRET_BYTES} bytes")));
        }
        secrets.push(secret);
    }
    if secrets.is_empty() {
        return Err(SourcesError::MissingSecrets {
            var: var.to_owned(),
        });
    }
    Ok(secrets)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SVIX_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    const NEW_SVIX_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn each_source_gets_its_scheme_and_all_its_rotated_secrets() {
        let vars = [
            (
                SOURCES_VAR,
                "stripe=stripe; relay=producthunt;billing-eu=standard;",
            ),
            (
                "WEBHOOK_SECRETS_STRIPE",
                "whsec_old_stripe_secret_1234, whsec_new_stripe_secret_5678",
            ),
            ("WEBHOOK_SECRETS_RELAY", "relay-secret-0123456789"),
            (
                "WEBHOOK_SECRETS_BILLING_EU",
                &format!("{SVIX_SECRET} {NEW_SVIX_SECRET}"),
            ),
        ];
        let sources = WebhookSources::parse(env(&vars)).unwrap();
        assert_eq!(
            sources.names().collect::<Vec<_>>(),
            ["billing-eu", "relay", "stripe"]
        );

        let stripe = sources.get("stripe").unwrap();
        assert_eq!(stripe.scheme, Scheme::Stripe);
        assert_eq!(
            stripe.secrets()[0].expose(),
            b"whsec_old_stripe_secret_1234"
        );
        assert_eq!(stripe.secrets().len(), 2);

        let billing = sources.get("billing-eu").unwrap();
        assert_eq!(billing.scheme, Scheme::StandardWebhooks);
        assert_eq!(
            billing.secrets()[0],
            standard::decode_secret(SVIX_SECRET).unwrap()
        );
        assert_eq!(billing.secrets().len(), 2);
        assert_eq!(billing.tolerance_secs, DEFAULT_TOLERANCE_SECS);

        assert_eq!(sources.get("relay").unwrap().scheme, Scheme::ProductHunt);
    }

    #[test]
    fn a_source_remembers_ids_for_at_least_three_days_unless_it_sets_its_own_window() {
        let vars = [
            (SOURCES_VAR, "stripe=stripe;relay=producthunt"),
            ("WEBHOOK_SECRETS_STRIPE", "whsec_stripe_secret_123456"),
            ("WEBHOOK_SECRETS_RELAY", "relay-secret-0123456789"),
            ("WEBHOOK_DEDUPE_HOURS_RELAY", " 12 "),
        ];
        let sources = WebhookSources::parse(env(&vars)).unwrap();
        let stripe = sources.get("stripe").unwrap();
        assert!(stripe.dedupe_window_ms >= 3 * 24 * HOUR_MS);
        assert_eq!(stripe.dedupe_window_ms, DEFAULT_DEDUPE_WINDOW_MS);
        assert_eq!(sources.get("relay").unwrap().dedupe_window_ms, 12 * HOUR_MS);
    }

    #[test]
    fn a_dedupe_window_outside_1_to_720_hours_is_refused_naming_the_variable() {
        for bad in ["0", "721", "-5", "3d", "1.5", "99999999999999999999"] {
            let vars = [
                (SOURCES_VAR, "relay=producthunt"),
                ("WEBHOOK_SECRETS_RELAY", "relay-secret-0123456789"),
                ("WEBHOOK_DEDUPE_HOURS_RELAY", bad),
            ];
            let err = WebhookSources::parse(env(&vars)).unwrap_err();
            assert_eq!(
                err.to_string(),
                "WEBHOOK_DEDUPE_HOURS_RELAY must be a whole number of hours from 1 to 720",
                "{bad}"
            );
        }
        assert_eq!(
            dedupe_hours_var("billing-eu"),
            "WEBHOOK_DEDUPE_HOURS_BILLING_EU"
        );
    }

    #[test]
    fn an_unknown_source_is_a_404() {
        let sources = WebhookSources::parse(env(&[])).unwrap();
        assert!(sources.is_empty());
        let err = sources.get("stripe").unwrap_err();
        assert_eq!(
            (err, err.status(), err.code()),
            (WebhookError::UnknownSource, 404, "unknown_source")
        );
    }

    #[test]
    fn secrets_variables_are_named_after_the_source() {
        assert_eq!(secrets_var("stripe"), "WEBHOOK_SECRETS_STRIPE");
        assert_eq!(secrets_var("billing-eu"), "WEBHOOK_SECRETS_BILLING_EU");
    }

    #[test]
    fn malformed_entries_unknown_schemes_and_bad_names_are_refused() {
        for spec in [
            "stripe",
            "stripe=paypal",
            "=stripe",
            "Stripe=stripe",
            "a/b=stripe",
            &format!("{}=stripe", "a".repeat(33)),
        ] {
            let vars = [(SOURCES_VAR, spec)];
            assert!(
                matches!(
                    WebhookSources::parse(env(&vars)),
                    Err(SourcesError::InvalidEntry { .. })
                ),
                "{spec}"
            );
        }
    }

    #[test]
    fn two_names_for_one_secrets_variable_are_refused() {
        let vars = [
            (SOURCES_VAR, "a-b=stripe;a_b=stripe"),
            ("WEBHOOK_SECRETS_A_B", "whsec_stripe_secret_123456"),
        ];
        assert_eq!(
            WebhookSources::parse(env(&vars)).unwrap_err(),
            SourcesError::Duplicate("a_b".into())
        );
    }

    #[test]
    fn a_source_without_secrets_fails_naming_the_variable() {
        for secrets in [None, Some(""), Some(" , ")] {
            let mut vars = vec![(SOURCES_VAR, "relay=producthunt")];
            if let Some(s) = secrets {
                vars.push(("WEBHOOK_SECRETS_RELAY", s));
            }
            let err = WebhookSources::parse(env(&vars)).unwrap_err();
            assert_eq!(
                err.to_string(),
                "secret WEBHOOK_SECRETS_RELAY is missing or empty"
            );
        }
    }

    #[test]
    fn a_bad_standard_secret_fails_naming_the_variable_and_never_the_value() {
        for bad in [
            "C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
            "whsec_%%%not-base64%%%",
            "whsec_c2hvcnQ=",
        ] {
            let value = format!("{SVIX_SECRET} {bad}");
            let vars = [
                (SOURCES_VAR, "billing=standard"),
                ("WEBHOOK_SECRETS_BILLING", value.as_str()),
            ];
            let err = WebhookSources::parse(env(&vars)).unwrap_err();
            let message = err.to_string();
            assert!(
                message.starts_with("secret WEBHOOK_SECRETS_BILLING, entry 2, "),
                "{message}"
            );
            assert!(
                !message.contains(bad) && !format!("{err:?}").contains(bad),
                "{message}"
            );
        }
    }

    #[test]
    fn short_raw_secrets_are_refused() {
        let vars = [
            (SOURCES_VAR, "relay=producthunt"),
            ("WEBHOOK_SECRETS_RELAY", "short"),
        ];
        assert!(matches!(
            WebhookSources::parse(env(&vars)),
            Err(SourcesError::InvalidSecret { position: 1, .. })
        ));
    }

    #[test]
    fn debug_output_of_sources_never_shows_a_secret() {
        let vars = [
            (SOURCES_VAR, "relay=producthunt"),
            ("WEBHOOK_SECRETS_RELAY", "relay-secret-0123456789"),
        ];
        let sources = WebhookSources::parse(env(&vars)).unwrap();
        let debug = format!("{sources:?}");
        assert!(
            debug.contains("[REDACTED]") && !debug.contains("relay-secret"),
            "{debug}"
        );
    }
}
