//! The pieces every scheme shares: HMAC-SHA256 over the signed content, constant-time
//! matching against several presented signatures and several active secrets, timestamp
//! parsing and the tolerance window, and the content-hash event id.
//!
//! Kept in one place so the three schemes differ only in how they frame the signed
//! content and encode the tag, never in how they compare it.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

use launch_edge_proto::Secret;

use super::{VerifiedEvent, WebhookError};

type HmacSha256 = Hmac<Sha256>;

/// Length of an HMAC-SHA256 tag in bytes.
pub const TAG_LEN: usize = 32;

/// Longest event id kept as a dedupe key; longer ids are refused or replaced by a hash.
pub const MAX_EVENT_ID_LEN: usize = 256;

/// A Unix timestamp has 10 digits until 2286; 12 leaves room and keeps parsing overflow-free.
const MAX_TIMESTAMP_DIGITS: usize = 12;

/// HMAC-SHA256 of the concatenation of `parts`, so callers never build a joined copy of a
/// large body just to sign it.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; TAG_LEN] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts any key length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Lowercase hex HMAC-SHA256, the encoding of GitHub-style `sha256=` and Stripe `v1=` tags.
pub fn hex_hmac_sha256(key: &[u8], message: &[u8]) -> String {
    hex::encode(hmac_sha256(key, &[message]))
}

/// True when some active secret produced some presented tag.
///
/// Each secret's tag is computed once, then compared with every presented tag in constant
/// time; the results are OR-ed without branching, so timing tells an attacker nothing about
/// how close a forged tag came (which secret matched is not secret, but costs nothing to hide).
pub fn any_tag_matches(secrets: &[Secret], parts: &[&[u8]], presented: &[[u8; TAG_LEN]]) -> bool {
    let mut matched = Choice::from(0);
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        let expected = hmac_sha256(secret.expose(), parts);
        for tag in presented {
            matched |= expected.ct_eq(tag);
        }
    }
    bool::from(matched)
}

/// Parses a non-negative decimal Unix timestamp (seconds). Signs, spaces inside, and
/// overlong values are malformed rather than silently clamped.
pub fn parse_timestamp(raw: &str) -> Option<i64> {
    let digits = raw.trim();
    if digits.is_empty()
        || digits.len() > MAX_TIMESTAMP_DIGITS
        || !digits.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    digits.parse().ok()
}

/// Refuses a timestamp further than `tolerance_secs` from `now_secs`, in either direction:
/// too old is a replay, too far ahead is a pre-signed message or a broken clock.
pub fn check_tolerance(
    timestamp: i64,
    now_secs: i64,
    tolerance_secs: u64,
) -> Result<(), WebhookError> {
    if now_secs.abs_diff(timestamp) > tolerance_secs {
        return Err(WebhookError::TimestampOutsideTolerance);
    }
    Ok(())
}

/// Whether a presented id is usable as a dedupe key: bounded, non-empty, printable.
pub fn is_valid_event_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_EVENT_ID_LEN && !id.chars().any(char::is_control)
}

/// `sha256:<hex>` of the concatenated parts: the form of every content-derived id. The
/// prefix keeps such ids apart from ids chosen by senders.
pub fn content_hash_id(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    format!("sha256:{}", hex::encode(hasher.finalize()))
}

/// The id of a body that carries none: a hash of its content alone, not of the signed
/// timestamp, so a sender's retry (the same event signed again at a later time) maps onto
/// the same id and is deduped. A JSON body is hashed in a canonical form (keys sorted,
/// no whitespace: `serde_json`'s map is ordered), so a relay that re-serializes the event
/// on retry still gets the same id; anything else is hashed as its bytes. The price: two
/// distinct events with identical content within the dedupe window are one event, so a
/// sender must give distinct events an `id` (or any field that differs).
pub fn body_hash_id(body: &[u8]) -> String {
    match serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|value| serde_json::to_vec(&value).ok())
    {
        Some(canonical) => content_hash_id(&[&canonical]),
        None => content_hash_id(&[body]),
    }
}

/// The body's top-level `id` (a string or an integer), when the body is a JSON object that
/// has a usable one. Used by schemes whose id travels inside the signed body.
pub fn json_body_id(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct IdOnly {
        #[serde(default)]
        id: Option<serde_json::Value>,
    }
    let id = match serde_json::from_slice::<IdOnly>(body).ok()?.id? {
        serde_json::Value::String(s) => s,
        serde_json::Value::Number(n) if n.is_u64() || n.is_i64() => n.to_string(),
        _ => return None,
    };
    is_valid_event_id(&id).then_some(id)
}

/// Decodes a hex tag of exactly [`TAG_LEN`] bytes.
pub fn decode_hex_tag(raw: &str) -> Option<[u8; TAG_LEN]> {
    let mut tag = [0u8; TAG_LEN];
    hex::decode_to_slice(raw, &mut tag).ok()?;
    Some(tag)
}

/// The tag over `timestamp.body`, the framing Stripe and the Product Hunt relay share.
pub fn timestamp_dot_body_tag(key: &Secret, timestamp: i64, body: &[u8]) -> [u8; TAG_LEN] {
    let ts = timestamp.to_string();
    hmac_sha256(key.expose(), &[ts.as_bytes(), b".", body])
}

/// Verification for the `timestamp.body` schemes once their headers are parsed: the
/// tolerance window, then any presented tag under any active secret; the event id is the
/// body's `id`, else a hash of the body's content ([`body_hash_id`]).
pub fn verify_timestamp_dot_body(
    secrets: &[Secret],
    timestamp: i64,
    presented: &[[u8; TAG_LEN]],
    body: &[u8],
    now_secs: i64,
    tolerance_secs: u64,
) -> Result<VerifiedEvent, WebhookError> {
    check_tolerance(timestamp, now_secs, tolerance_secs)?;
    let ts = timestamp.to_string();
    let parts: [&[u8]; 3] = [ts.as_bytes(), b".", body];
    if !any_tag_matches(secrets, &parts, presented) {
        return Err(WebhookError::SignatureMismatch);
    }
    Ok(VerifiedEvent {
        event_id: json_body_id(body).unwrap_or_else(|| body_hash_id(body)),
        timestamp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hex_hmac_matches_githubs_documented_x_hub_signature_256_vector() {
        assert_eq!(
            hex_hmac_sha256(b"It's a Secret to Everybody", b"Hello, World!"),
            "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }

    #[test]
    fn signing_parts_equals_signing_their_concatenation() {
        let key = b"k";
        assert_eq!(
            hmac_sha256(key, &[b"12.", b"body"]),
            hmac_sha256(key, &[b"12.body"])
        );
    }

    #[test]
    fn any_of_several_secrets_and_any_of_several_tags_may_match() {
        let old = Secret::new("old-secret-0123456789");
        let new = Secret::new("new-secret-0123456789");
        let tag = hmac_sha256(old.expose(), &[b"msg"]);
        let junk = [7u8; TAG_LEN];
        assert!(any_tag_matches(
            &[new.clone(), old.clone()],
            &[b"msg"],
            &[junk, tag]
        ));
        assert!(!any_tag_matches(&[new], &[b"msg"], &[junk, tag]));
        assert!(!any_tag_matches(&[old], &[b"msg"], &[]));
    }

    #[test]
    fn an_empty_secret_never_verifies_anything() {
        let tag = hmac_sha256(b"", &[b"msg"]);
        assert!(!any_tag_matches(&[Secret::new("")], &[b"msg"], &[tag]));
    }

    #[test]
    fn timestamps_are_plain_non_negative_decimals() {
        assert_eq!(parse_timestamp("1649367553"), Some(1_649_367_553));
        assert_eq!(parse_timestamp(" 0 "), Some(0));
        for bad in [
            "",
            "-5",
            "+5",
            "1.5",
            "12 34",
            "0x10",
            "9999999999999",
            "soon",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_tolerance_window_is_inclusive_and_symmetric() {
        let now = 1_000_000;
        assert!(check_tolerance(now - 300, now, 300).is_ok());
        assert!(check_tolerance(now + 300, now, 300).is_ok());
        assert!(check_tolerance(now - 301, now, 300).is_err());
        assert!(check_tolerance(now + 301, now, 300).is_err());
        assert!(check_tolerance(0, i64::MAX, 300).is_err());
    }

    #[test]
    fn json_ids_come_from_the_top_level_id_field_only() {
        assert_eq!(
            json_body_id(br#"{"id":"evt_1","x":1}"#).as_deref(),
            Some("evt_1")
        );
        assert_eq!(json_body_id(br#"{"id":42}"#).as_deref(), Some("42"));
        assert_eq!(json_body_id(br#"{"data":{"id":"inner"}}"#), None);
        assert_eq!(json_body_id(br#"{"id":""}"#), None);
        assert_eq!(json_body_id(br#"{"id":1.5}"#), None);
        assert_eq!(json_body_id(b"[1,2]"), None);
        assert_eq!(json_body_id(b"not json"), None);
    }

    #[test]
    fn content_hash_ids_are_prefixed_and_depend_on_every_byte() {
        let a = content_hash_id(&[b"1.", b"body"]);
        assert!(a.starts_with("sha256:") && a.len() == 7 + 64);
        assert_eq!(a, content_hash_id(&[b"1.body"]));
        assert_ne!(a, content_hash_id(&[b"1.bodY"]));
    }

    #[test]
    fn a_body_hash_id_ignores_key_order_and_whitespace_but_not_content() {
        let a = body_hash_id(br#"{"type":"conversion","launch":"acme","n":1}"#);
        assert!(a.starts_with("sha256:"));
        assert_eq!(
            a,
            body_hash_id(b"{ \"n\": 1, \"launch\": \"acme\",\n \"type\": \"conversion\" }")
        );
        assert_ne!(
            a,
            body_hash_id(br#"{"type":"conversion","launch":"acme","n":2}"#)
        );
        assert_eq!(body_hash_id(b"not json"), content_hash_id(&[b"not json"]));
    }

    #[test]
    fn hex_tags_must_be_exactly_32_bytes() {
        assert!(decode_hex_tag(&"ab".repeat(32)).is_some());
        assert!(decode_hex_tag(&"AB".repeat(32)).is_some());
        assert!(decode_hex_tag(&"ab".repeat(31)).is_none());
        assert!(decode_hex_tag(&"ab".repeat(33)).is_none());
        assert!(decode_hex_tag(&"zz".repeat(32)).is_none());
    }
}
