//! `X-ProductHunt-Signature`, for relays that forward Product Hunt data to us (Product
//! Hunt itself sends no webhooks).
//!
//! The contract of our relay design, which a relay must follow:
//! - `X-ProductHunt-Timestamp: <unix seconds>`;
//! - `X-ProductHunt-Signature: sha256=<hex HMAC-SHA256>` over `<timestamp>.<raw body>`,
//!   GitHub-style encoding, keyed with the shared secret's bytes as configured. Signing the
//!   timestamp with the body is what makes the tolerance window a replay defence; a
//!   signature over the body alone could be replayed forever.
//! - Several signatures (one per active key while rotating) may be sent separated by
//!   commas or spaces; any one valid suffices.
//! - The event id is the body's top-level `id` (string or integer) when present;
//!   otherwise a hash of the body's content (canonical JSON, without the timestamp). Either
//!   way a relay's retry of the same event (signed again with a new timestamp) is
//!   recognised. Distinct events must therefore differ in content: give each an `id`.
//!   An unsigned delivery-id header would let a replay choose a fresh id, so none is read.

use launch_edge_proto::Secret;

use super::crypto::{self, TAG_LEN};
use super::{VerifiedEvent, WebhookError};

pub const SIGNATURE_HEADER: &str = "x-producthunt-signature";
pub const TIMESTAMP_HEADER: &str = "x-producthunt-timestamp";
const ALGORITHM_PREFIX: &str = "sha256=";
/// More signatures than any rotation needs; the bound caps work per request.
pub const MAX_SIGNATURES: usize = 16;

/// Parses `sha256=<64 hex>` entries separated by commas or whitespace. An entry that
/// cannot match (another algorithm, bad hex, wrong length) is skipped, as the Standard
/// Webhooks and Stripe parsers do, so one odd entry never hides a valid one. Malformed
/// when no entry is usable or there are more than [`MAX_SIGNATURES`] entries.
pub fn parse_signature_header(raw: &str) -> Result<Vec<[u8; TAG_LEN]>, WebhookError> {
    let malformed = WebhookError::MalformedHeader(SIGNATURE_HEADER);
    let mut tags = Vec::new();
    for (index, entry) in raw
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|e| !e.is_empty())
        .enumerate()
    {
        if index == MAX_SIGNATURES {
            return Err(malformed);
        }
        if let Some(tag) = entry
            .strip_prefix(ALGORITHM_PREFIX)
            .and_then(crypto::decode_hex_tag)
        {
            tags.push(tag);
        }
    }
    if tags.is_empty() {
        return Err(malformed);
    }
    Ok(tags)
}

/// The `X-ProductHunt-Signature` value a relay sends for this body at `timestamp`.
pub fn sign(key: &Secret, timestamp: i64, body: &[u8]) -> String {
    let tag = crypto::timestamp_dot_body_tag(key, timestamp, body);
    format!("{ALGORITHM_PREFIX}{}", hex::encode(tag))
}

/// Verifies a relay request; the event id is the body's `id`, else a content hash.
pub fn verify(
    secrets: &[Secret],
    headers: impl Fn(&str) -> Option<String>,
    body: &[u8],
    now_secs: i64,
    tolerance_secs: u64,
) -> Result<VerifiedEvent, WebhookError> {
    super::check_body_size(body)?;
    let timestamp_raw =
        headers(TIMESTAMP_HEADER).ok_or(WebhookError::MissingHeader(TIMESTAMP_HEADER))?;
    let signature_raw =
        headers(SIGNATURE_HEADER).ok_or(WebhookError::MissingHeader(SIGNATURE_HEADER))?;
    let timestamp = crypto::parse_timestamp(&timestamp_raw)
        .ok_or(WebhookError::MalformedHeader(TIMESTAMP_HEADER))?;
    let tags = parse_signature_header(&signature_raw)?;
    crypto::verify_timestamp_dot_body(secrets, timestamp, &tags, body, now_secs, tolerance_secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhooks::header_pairs;

    const NOW: i64 = 1_764_300_000;
    const NOW_STR: &str = "1764300000";
    const TOL: u64 = crate::webhooks::DEFAULT_TOLERANCE_SECS;
    const BODY: &[u8] = br#"{"type":"conversion","launch":"acme","kind":"signup"}"#;

    fn key() -> Secret {
        Secret::new("relay-shared-secret-0123456789")
    }

    fn check(
        sig: &str,
        ts: &str,
        body: &[u8],
        secrets: &[Secret],
        now: i64,
    ) -> Result<VerifiedEvent, WebhookError> {
        let pairs = [
            ("X-ProductHunt-Signature", sig),
            ("X-ProductHunt-Timestamp", ts),
        ];
        verify(secrets, header_pairs(&pairs), body, now, TOL)
    }

    #[test]
    fn the_signature_is_githubs_hex_hmac_over_timestamp_dot_body() {
        let message = [format!("{NOW}.").as_bytes(), BODY].concat();
        let expected = crypto::hex_hmac_sha256(key().expose(), &message);
        assert_eq!(sign(&key(), NOW, BODY), format!("sha256={expected}"));
    }

    #[test]
    fn a_relay_event_without_an_id_keeps_its_content_hash_id_when_retried_with_a_new_timestamp() {
        let event = check(&sign(&key(), NOW, BODY), NOW_STR, BODY, &[key()], NOW).unwrap();
        assert_eq!(event.timestamp, NOW);
        assert_eq!(event.event_id, crypto::body_hash_id(BODY));
        let retry = check(
            &sign(&key(), NOW + 90, BODY),
            "1764300090",
            BODY,
            &[key()],
            NOW + 90,
        )
        .unwrap();
        assert_eq!(
            retry.event_id, event.event_id,
            "the retry is the same event"
        );
        let reserialized = br#"{"kind": "signup", "launch": "acme", "type": "conversion"}"#;
        let again = check(
            &sign(&key(), NOW, reserialized),
            NOW_STR,
            reserialized,
            &[key()],
            NOW,
        );
        assert_eq!(again.unwrap().event_id, event.event_id);
    }

    #[test]
    fn a_body_id_survives_a_retry_with_a_new_timestamp() {
        let body = br#"{"id":"rel_42","type":"conversion"}"#;
        let first = check(&sign(&key(), NOW, body), NOW_STR, body, &[key()], NOW).unwrap();
        let retry = check(
            &sign(&key(), NOW + 60, body),
            "1764300060",
            body,
            &[key()],
            NOW + 60,
        )
        .unwrap();
        assert_eq!(first.event_id, "rel_42");
        assert_eq!(retry.event_id, "rel_42");
    }

    #[test]
    fn old_and_new_secrets_are_both_accepted_and_one_valid_signature_among_several_suffices() {
        let new = Secret::new("relay-shared-secret-rotated-99");
        let both = [key(), new.clone()];
        for signer in [key(), new.clone()] {
            assert!(check(&sign(&signer, NOW, BODY), NOW_STR, BODY, &both, NOW).is_ok());
        }
        let several = format!(
            "{}, {}",
            sign(&Secret::new("stale"), NOW, BODY),
            sign(&new, NOW, BODY)
        );
        assert!(check(&several, NOW_STR, BODY, &[new], NOW).is_ok());
    }

    #[test]
    fn an_entry_that_cannot_match_is_skipped_when_another_one_verifies() {
        let sig = sign(&key(), NOW, BODY);
        for bad in ["sha256=abcd", "sha1=abcd", "md5=00", "garbage"] {
            let header = format!("{bad}, {sig}");
            assert!(
                check(&header, NOW_STR, BODY, &[key()], NOW).is_ok(),
                "{header}"
            );
        }
    }

    #[test]
    fn a_wrong_secret_changed_timestamp_or_changed_body_is_a_signature_mismatch() {
        let sig = sign(&key(), NOW, BODY);
        let mismatch = Err(WebhookError::SignatureMismatch);
        assert_eq!(
            check(&sig, NOW_STR, BODY, &[Secret::new("wrong")], NOW),
            mismatch
        );
        assert_eq!(check(&sig, "1764300001", BODY, &[key()], NOW), mismatch);
        assert_eq!(check(&sig, NOW_STR, b"{}", &[key()], NOW), mismatch);
    }

    #[test]
    fn exactly_at_the_tolerance_is_accepted_and_one_second_beyond_either_way_is_refused() {
        let sig = sign(&key(), NOW, BODY);
        let tol = TOL as i64;
        assert!(check(&sig, NOW_STR, BODY, &[key()], NOW + tol).is_ok());
        assert!(check(&sig, NOW_STR, BODY, &[key()], NOW - tol).is_ok());
        for now in [NOW + tol + 1, NOW - tol - 1] {
            assert_eq!(
                check(&sig, NOW_STR, BODY, &[key()], now),
                Err(WebhookError::TimestampOutsideTolerance)
            );
        }
    }

    #[test]
    fn each_missing_header_is_named_and_a_negative_timestamp_is_malformed() {
        let sig = sign(&key(), NOW, BODY);
        let only_sig = [("x-producthunt-signature", sig.as_str())];
        let only_ts = [("x-producthunt-timestamp", NOW_STR)];
        assert_eq!(
            verify(&[key()], header_pairs(&only_sig), BODY, NOW, TOL),
            Err(WebhookError::MissingHeader(TIMESTAMP_HEADER))
        );
        assert_eq!(
            verify(&[key()], header_pairs(&only_ts), BODY, NOW, TOL),
            Err(WebhookError::MissingHeader(SIGNATURE_HEADER))
        );
        assert_eq!(
            check(&sig, "-1764300000", BODY, &[key()], NOW),
            Err(WebhookError::MalformedHeader(TIMESTAMP_HEADER))
        );
    }

    #[test]
    fn truncated_empty_or_foreign_signatures_are_malformed() {
        let sig = sign(&key(), NOW, BODY);
        for bad in [
            &sig[..sig.len() - 2],
            "sha256=",
            "",
            " , ",
            &sig[7..],
            "sha1=abcd",
            "sha256=zz",
            "SHA256=00",
        ] {
            assert_eq!(
                parse_signature_header(bad),
                Err(WebhookError::MalformedHeader(SIGNATURE_HEADER)),
                "{bad:?}"
            );
        }
        let many = [sig.as_str(); MAX_SIGNATURES + 1].join(",");
        assert!(parse_signature_header(&many).is_err());
    }
}
