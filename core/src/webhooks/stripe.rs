//! Stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...]`, hex HMAC-SHA256 over
//! `t.body`.
//!
//! The key is the endpoint secret exactly as Stripe shows it (`whsec_...` included: Stripe
//! does not base64-decode it). Several `v1` entries appear while Stripe rolls a secret;
//! other schemes (`v0`, a test-mode leftover) are ignored. The event id is the body's `id`
//! (`evt_...`), which is signed and stable across Stripe's retries; a body without one is
//! identified by a hash of its content (`crypto::body_hash_id`).

use launch_edge_proto::Secret;

use super::crypto::{self, TAG_LEN};
use super::{VerifiedEvent, WebhookError};

pub const SIGNATURE_HEADER: &str = "stripe-signature";
const TIMESTAMP_KEY: &str = "t";
const SCHEME_KEY: &str = "v1";
/// More signatures than any roll needs; the bound caps work per request.
pub const MAX_SIGNATURES: usize = 16;

/// A parsed `Stripe-Signature` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeSignatureHeader {
    pub timestamp: i64,
    /// The `v1` tags, in header order.
    pub signatures: Vec<[u8; TAG_LEN]>,
}

/// Parses `t=..,v1=..[,v1=..]`. Malformed when an item has no `=`, `t` is missing,
/// repeated or not a non-negative integer, or no `v1` is 64 hex digits. A `v1` entry of
/// another length is skipped, not fatal: Stripe's own libraries compare every `v1` and
/// accept when one matches, so one odd entry must not hide a valid one.
pub fn parse_signature_header(raw: &str) -> Result<StripeSignatureHeader, WebhookError> {
    let malformed = WebhookError::MalformedHeader(SIGNATURE_HEADER);
    let mut timestamp = None;
    let mut signatures = Vec::new();
    let mut v1_entries = 0;
    for item in raw.split(',') {
        let (key, value) = item.trim().split_once('=').ok_or(malformed)?;
        match key {
            TIMESTAMP_KEY => {
                // Two timestamps would leave it ambiguous which one was signed.
                if timestamp.is_some() {
                    return Err(malformed);
                }
                timestamp = Some(crypto::parse_timestamp(value).ok_or(malformed)?);
            }
            SCHEME_KEY => {
                // Counted before decoding, so skipped entries are bounded too.
                v1_entries += 1;
                if v1_entries > MAX_SIGNATURES {
                    return Err(malformed);
                }
                if let Some(tag) = crypto::decode_hex_tag(value) {
                    signatures.push(tag);
                }
            }
            _ => {}
        }
    }
    match timestamp {
        Some(timestamp) if !signatures.is_empty() => Ok(StripeSignatureHeader {
            timestamp,
            signatures,
        }),
        _ => Err(malformed),
    }
}

/// The `Stripe-Signature` value Stripe would send for this body (tests, local relays).
pub fn sign(key: &Secret, timestamp: i64, body: &[u8]) -> String {
    let tag = crypto::timestamp_dot_body_tag(key, timestamp, body);
    format!(
        "{TIMESTAMP_KEY}={timestamp},{SCHEME_KEY}={}",
        hex::encode(tag)
    )
}

/// Verifies a Stripe request; the event id is the body's `id`, else a content hash.
pub fn verify(
    secrets: &[Secret],
    headers: impl Fn(&str) -> Option<String>,
    body: &[u8],
    now_secs: i64,
    tolerance_secs: u64,
) -> Result<VerifiedEvent, WebhookError> {
    super::check_body_size(body)?;
    let raw = headers(SIGNATURE_HEADER).ok_or(WebhookError::MissingHeader(SIGNATURE_HEADER))?;
    let header = parse_signature_header(&raw)?;
    crypto::verify_timestamp_dot_body(
        secrets,
        header.timestamp,
        &header.signatures,
        body,
        now_secs,
        tolerance_secs,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhooks::header_pairs;

    const NOW: i64 = 1_764_300_000;
    const TOL: u64 = crate::webhooks::DEFAULT_TOLERANCE_SECS;
    const BODY: &[u8] =
        br#"{"id":"evt_1NG8Du2eZvKYlo2CUI79vXWy","type":"checkout.session.completed"}"#;

    fn key() -> Secret {
        Secret::new("whsec_test_stripe_endpoint_secret")
    }

    fn check(
        header: &str,
        body: &[u8],
        secrets: &[Secret],
        now: i64,
    ) -> Result<VerifiedEvent, WebhookError> {
        verify(
            secrets,
            header_pairs(&[("Stripe-Signature", header)]),
            body,
            now,
            TOL,
        )
    }

    #[test]
    fn a_header_built_like_stripes_verifies_with_the_body_id_as_event_id() {
        let header = sign(&key(), NOW, BODY);
        assert!(header.starts_with(&format!("t={NOW},v1=")));
        let event = check(&header, BODY, &[key()], NOW).unwrap();
        assert_eq!(event.event_id, "evt_1NG8Du2eZvKYlo2CUI79vXWy");
        assert_eq!(event.timestamp, NOW);
    }

    #[test]
    fn the_tag_is_the_hex_hmac_of_timestamp_dot_body() {
        let message = [format!("{NOW}.").as_bytes(), BODY].concat();
        let expected = crypto::hex_hmac_sha256(key().expose(), &message);
        assert_eq!(sign(&key(), NOW, BODY), format!("t={NOW},v1={expected}"));
    }

    #[test]
    fn a_body_without_an_id_is_identified_by_a_hash_of_its_content() {
        let body = br#"{"type":"ping"}"#;
        let event = check(&sign(&key(), NOW, body), body, &[key()], NOW).unwrap();
        assert_eq!(event.event_id, crypto::body_hash_id(body));
        let retry = check(&sign(&key(), NOW + 5, body), body, &[key()], NOW + 5).unwrap();
        assert_eq!(retry.event_id, event.event_id);
    }

    #[test]
    fn other_schemes_are_ignored_and_one_valid_v1_among_several_suffices() {
        let good = sign(&key(), NOW, BODY);
        let good_tag = good.split_once(",v1=").unwrap().1;
        let header = format!(
            "t={NOW}, v1={}, v0={}, v1={good_tag}",
            "00".repeat(32),
            "ab".repeat(32)
        );
        assert!(check(&header, BODY, &[key()], NOW).is_ok());
    }

    #[test]
    fn a_v1_entry_of_the_wrong_length_is_skipped_when_another_one_verifies() {
        let good = sign(&key(), NOW, BODY);
        let good_tag = good.split_once(",v1=").unwrap().1;
        for bad in ["abcd", "", "zz", &"ab".repeat(33)] {
            let header = format!("t={NOW},v1={bad},v1={good_tag}");
            assert!(check(&header, BODY, &[key()], NOW).is_ok(), "{header:?}");
        }
        let forged = format!("t={NOW},v1=abcd,v1={}", "00".repeat(32));
        assert_eq!(
            check(&forged, BODY, &[key()], NOW),
            Err(WebhookError::SignatureMismatch)
        );
    }

    #[test]
    fn old_and_new_secrets_are_both_accepted_during_rotation() {
        let new = Secret::new("whsec_the_new_endpoint_secret");
        for signer in [key(), new.clone()] {
            assert!(check(&sign(&signer, NOW, BODY), BODY, &[key(), new.clone()], NOW).is_ok());
        }
        assert_eq!(
            check(&sign(&new, NOW, BODY), BODY, &[key()], NOW),
            Err(WebhookError::SignatureMismatch)
        );
    }

    #[test]
    fn a_changed_timestamp_or_body_is_a_signature_mismatch() {
        let header =
            sign(&key(), NOW, BODY).replace(&format!("t={NOW}"), &format!("t={}", NOW + 1));
        assert_eq!(
            check(&header, BODY, &[key()], NOW),
            Err(WebhookError::SignatureMismatch)
        );
        let header = sign(&key(), NOW, BODY);
        assert_eq!(
            check(&header, b"{}", &[key()], NOW),
            Err(WebhookError::SignatureMismatch)
        );
    }

    #[test]
    fn exactly_at_the_tolerance_is_accepted_and_one_second_beyond_either_way_is_refused() {
        let header = sign(&key(), NOW, BODY);
        let tol = TOL as i64;
        assert!(check(&header, BODY, &[key()], NOW + tol).is_ok());
        assert!(check(&header, BODY, &[key()], NOW - tol).is_ok());
        for now in [NOW + tol + 1, NOW - tol - 1] {
            let err = check(&header, BODY, &[key()], now).unwrap_err();
            assert_eq!(err, WebhookError::TimestampOutsideTolerance);
            assert_eq!(
                (err.status(), err.code()),
                (401, "timestamp_outside_tolerance")
            );
        }
    }

    #[test]
    fn a_missing_header_is_named() {
        let err = verify(&[key()], |_: &str| None, BODY, NOW, TOL).unwrap_err();
        assert_eq!(err.reason(), "missing_header:stripe-signature");
    }

    #[test]
    fn malformed_headers_are_refused_before_any_signature_check() {
        let tag = "ab".repeat(32);
        let cases = [
            String::new(),
            format!("t={NOW}"),
            format!("t={NOW},v1="),
            format!("v1={tag}"),
            format!("t=-{NOW},v1={tag}"),
            format!("t=soon,v1={tag}"),
            format!("t={NOW},t={NOW},v1={tag}"),
            format!("t={NOW},v1={}", &tag[..62]),
            format!("t={NOW},v1={tag}00"),
            format!("t={NOW},v1"),
            format!("t={NOW},v0={tag}"),
        ];
        for header in &cases {
            assert_eq!(
                parse_signature_header(header),
                Err(WebhookError::MalformedHeader(SIGNATURE_HEADER)),
                "{header:?}"
            );
        }
    }

    #[test]
    fn the_parser_returns_the_timestamp_and_every_v1_tag() {
        let a = "0a".repeat(32);
        let b = "0b".repeat(32);
        let parsed = parse_signature_header(&format!("t=12,v1={a},v1={b}")).unwrap();
        assert_eq!(parsed.timestamp, 12);
        assert_eq!(parsed.signatures, vec![[0x0a; 32], [0x0b; 32]]);
    }
}
