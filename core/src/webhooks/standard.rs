//! Standard Webhooks (the svix scheme): `webhook-id`, `webhook-timestamp` and
//! `webhook-signature: v1,<base64 HMAC-SHA256>` over `id.timestamp.body`.
//!
//! Secrets are `whsec_<base64>` and the HMAC key is the decoded bytes. A sender rotating
//! keys sends several space-separated signatures; any one valid suffices. The `webhook-id`
//! is the dedupe id, and it is signed, so it cannot be swapped to replay an event.
//! svix senders use `svix-*` header names for the same values; both are read.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use launch_edge_proto::Secret;

use super::crypto::{self, TAG_LEN};
use super::{VerifiedEvent, WebhookError};

pub const ID_HEADER: &str = "webhook-id";
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
pub const SIGNATURE_HEADER: &str = "webhook-signature";
/// The prefix of a Standard Webhooks secret; what follows is base64.
pub const SECRET_PREFIX: &str = "whsec_";
/// The only symmetric signature version; others (e.g. `v1a`, asymmetric) are skipped.
const VERSION: &str = "v1";
/// More signatures than any rotation needs; the bound caps work per request.
pub const MAX_SIGNATURES: usize = 16;

const SVIX_ID_HEADER: &str = "svix-id";
const SVIX_TIMESTAMP_HEADER: &str = "svix-timestamp";
const SVIX_SIGNATURE_HEADER: &str = "svix-signature";

/// Why a secret could not be decoded. Carries no part of the secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SecretDecodeError {
    #[error("is not base64 (after the optional whsec_ prefix)")]
    NotBase64,
    #[error("decodes to an empty key")]
    Empty,
}

/// Decodes `whsec_<base64>` (or bare base64, as the svix libraries accept) into the key.
pub fn decode_secret(raw: &str) -> Result<Secret, SecretDecodeError> {
    let encoded = raw.trim();
    let encoded = encoded.strip_prefix(SECRET_PREFIX).unwrap_or(encoded);
    let key = BASE64
        .decode(encoded)
        .map_err(|_| SecretDecodeError::NotBase64)?;
    if key.is_empty() {
        return Err(SecretDecodeError::Empty);
    }
    Ok(Secret::new(key))
}

/// Parses `webhook-signature`: space-separated `version,base64` entries. Returns the `v1`
/// tags. Like the reference libraries, an entry that cannot match is skipped rather than
/// spoiling the others: another version (`v1a`, asymmetric), no comma, or a `v1` value
/// that is not base64 of exactly 32 bytes (`v1,AAAA v1,<valid>` verifies on the valid
/// one). Malformed only when no entry is a usable `v1` tag (nothing could ever verify)
/// or when there are more than [`MAX_SIGNATURES`] entries (work per request is bounded).
pub fn parse_signature_header(raw: &str) -> Result<Vec<[u8; TAG_LEN]>, WebhookError> {
    let malformed = WebhookError::MalformedHeader(SIGNATURE_HEADER);
    let mut tags = Vec::new();
    for (index, entry) in raw.split_whitespace().enumerate() {
        if index >= MAX_SIGNATURES {
            return Err(malformed);
        }
        let Some((VERSION, encoded)) = entry.split_once(',') else {
            continue;
        };
        let mut tag = [0u8; TAG_LEN];
        if let Ok(TAG_LEN) = BASE64.decode_slice(encoded, &mut tag) {
            tags.push(tag);
        }
    }
    if tags.is_empty() {
        return Err(malformed);
    }
    Ok(tags)
}

/// The `webhook-signature` value for this message (`v1,<base64>`), as a sender computes it.
pub fn sign(key: &Secret, id: &str, timestamp: i64, body: &[u8]) -> String {
    let ts = timestamp.to_string();
    let tag = crypto::hmac_sha256(key.expose(), &signed_parts(id, &ts, body));
    format!("{VERSION},{}", BASE64.encode(tag))
}

fn signed_parts<'a>(id: &'a str, timestamp: &'a str, body: &'a [u8]) -> [&'a [u8]; 5] {
    [id.as_bytes(), b".", timestamp.as_bytes(), b".", body]
}

/// Verifies a Standard Webhooks request; the event id is the `webhook-id`.
pub fn verify(
    secrets: &[Secret],
    headers: impl Fn(&str) -> Option<String>,
    body: &[u8],
    now_secs: i64,
    tolerance_secs: u64,
) -> Result<VerifiedEvent, WebhookError> {
    super::check_body_size(body)?;
    let header = |name: &'static str, svix: &str| {
        headers(name)
            .or_else(|| headers(svix))
            .ok_or(WebhookError::MissingHeader(name))
    };
    let id = header(ID_HEADER, SVIX_ID_HEADER)?;
    let timestamp_raw = header(TIMESTAMP_HEADER, SVIX_TIMESTAMP_HEADER)?;
    let signature_raw = header(SIGNATURE_HEADER, SVIX_SIGNATURE_HEADER)?;

    let id = id.trim();
    if !crypto::is_valid_event_id(id) {
        return Err(WebhookError::MalformedHeader(ID_HEADER));
    }
    let timestamp = crypto::parse_timestamp(&timestamp_raw)
        .ok_or(WebhookError::MalformedHeader(TIMESTAMP_HEADER))?;
    let tags = parse_signature_header(&signature_raw)?;
    crypto::check_tolerance(timestamp, now_secs, tolerance_secs)?;

    // Sign the canonical decimal, as the reference libraries do after parsing the header.
    let ts = timestamp.to_string();
    if !crypto::any_tag_matches(secrets, &signed_parts(id, &ts, body), &tags) {
        return Err(WebhookError::SignatureMismatch);
    }
    Ok(VerifiedEvent {
        event_id: id.to_owned(),
        timestamp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhooks::header_pairs;

    // The published Standard Webhooks / svix test vector.
    const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    const ID: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
    const TS: i64 = 1_649_367_553;
    const TS_STR: &str = "1649367553";
    const BODY: &[u8] = br#"{"email":"test@example.com","username":"test_user"}"#;
    const SIGNATURE: &str = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";
    const TOL: u64 = crate::webhooks::DEFAULT_TOLERANCE_SECS;

    fn key() -> Secret {
        decode_secret(SECRET).unwrap()
    }

    fn check(
        sig: &str,
        ts: &str,
        now: i64,
        secrets: &[Secret],
    ) -> Result<VerifiedEvent, WebhookError> {
        let pairs = [
            (ID_HEADER, ID),
            (TIMESTAMP_HEADER, ts),
            (SIGNATURE_HEADER, sig),
        ];
        verify(secrets, header_pairs(&pairs), BODY, now, TOL)
    }

    #[test]
    fn the_published_svix_vector_signs_to_the_published_signature() {
        assert_eq!(sign(&key(), ID, TS, BODY), SIGNATURE);
    }

    #[test]
    fn the_published_svix_vector_verifies_with_the_webhook_id_as_event_id() {
        let event = check(SIGNATURE, TS_STR, TS, &[key()]).unwrap();
        assert_eq!(
            event,
            VerifiedEvent {
                event_id: ID.into(),
                timestamp: TS
            }
        );
    }

    #[test]
    fn svix_header_names_are_read_too() {
        let pairs = [
            ("svix-id", ID),
            ("svix-timestamp", TS_STR),
            ("svix-signature", SIGNATURE),
        ];
        assert!(verify(&[key()], header_pairs(&pairs), BODY, TS, TOL).is_ok());
    }

    #[test]
    fn one_valid_signature_among_several_suffices() {
        let other = sign(&Secret::new("another key"), ID, TS, BODY);
        let header = format!("{other} v1a,c29tZXRoaW5n {SIGNATURE}");
        assert!(check(&header, TS_STR, TS, &[key()]).is_ok());
    }

    #[test]
    fn entries_that_cannot_match_are_skipped_when_another_one_verifies() {
        let garbled = [
            "v1,AAAA",
            "v1,!!!!",
            "v1,",
            "v1",
            "nocomma",
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3",
        ];
        for bad in garbled {
            for header in [format!("{bad} {SIGNATURE}"), format!("{SIGNATURE} {bad}")] {
                assert_eq!(
                    parse_signature_header(&header).map(|tags| tags.len()),
                    Ok(1),
                    "{header:?}"
                );
                assert!(check(&header, TS_STR, TS, &[key()]).is_ok(), "{header:?}");
            }
        }
        // A skipped entry never makes a forged header pass.
        let forged = format!("v1,AAAA v1,{}", BASE64.encode([0u8; TAG_LEN]));
        assert_eq!(
            check(&forged, TS_STR, TS, &[key()]),
            Err(WebhookError::SignatureMismatch)
        );
    }

    /// The reference implementation (the `standardwebhooks` crate) signs; we verify, with
    /// a malformed entry in front as a sender rotating in an odd format would send.
    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn a_signature_from_the_reference_library_verifies_next_to_a_malformed_entry() {
        let reference = standardwebhooks::Webhook::new(SECRET).unwrap();
        let now = 1_764_300_000;
        let signature = reference.sign(ID, now, BODY).unwrap();
        let header = format!("v1,AAAA {signature}");
        let ts = now.to_string();
        let pairs = [
            (ID_HEADER, ID),
            (TIMESTAMP_HEADER, ts.as_str()),
            (SIGNATURE_HEADER, header.as_str()),
        ];
        let event = verify(&[key()], header_pairs(&pairs), BODY, now, TOL).unwrap();
        assert_eq!(event.event_id, ID);
        // Our signer agrees with the reference byte for byte.
        assert_eq!(sign(&key(), ID, now, BODY), signature);
    }

    /// The reference library accepts such a header too (with its own clock), so skipping
    /// is what a sender built on it expects.
    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn the_reference_library_itself_accepts_a_header_with_a_malformed_entry() {
        let reference = standardwebhooks::Webhook::new(SECRET).unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let header = format!("v1,AAAA {}", reference.sign(ID, now, BODY).unwrap());
        let mut headers = http::HeaderMap::new();
        headers.insert(ID_HEADER, ID.parse().unwrap());
        headers.insert(TIMESTAMP_HEADER, now.to_string().parse().unwrap());
        headers.insert(SIGNATURE_HEADER, header.parse().unwrap());
        assert!(reference.verify(BODY, &headers).is_ok());
        let ts = now.to_string();
        let pairs = [
            (ID_HEADER, ID),
            (TIMESTAMP_HEADER, ts.as_str()),
            (SIGNATURE_HEADER, header.as_str()),
        ];
        assert!(verify(&[key()], header_pairs(&pairs), BODY, now, TOL).is_ok());
    }

    #[test]
    fn old_and_new_secrets_are_both_accepted_during_rotation() {
        let new = decode_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let secrets = [new.clone(), key()];
        assert!(check(SIGNATURE, TS_STR, TS, &secrets).is_ok());
        let by_new = sign(&new, ID, TS, BODY);
        assert!(check(&by_new, TS_STR, TS, &secrets).is_ok());
        assert_eq!(
            check(&by_new, TS_STR, TS, &[key()]),
            Err(WebhookError::SignatureMismatch)
        );
    }

    #[test]
    fn a_wrong_secret_is_a_signature_mismatch() {
        let wrong = decode_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(
            check(SIGNATURE, TS_STR, TS, &[wrong]),
            Err(WebhookError::SignatureMismatch)
        );
        assert_eq!(
            check(SIGNATURE, TS_STR, TS, &[]),
            Err(WebhookError::SignatureMismatch)
        );
    }

    #[test]
    fn a_changed_timestamp_id_or_body_is_a_signature_mismatch() {
        assert_eq!(
            check(SIGNATURE, "1649367554", TS, &[key()]),
            Err(WebhookError::SignatureMismatch)
        );
        let pairs = [
            (ID_HEADER, "msg_other"),
            (TIMESTAMP_HEADER, TS_STR),
            (SIGNATURE_HEADER, SIGNATURE),
        ];
        assert_eq!(
            verify(&[key()], header_pairs(&pairs), BODY, TS, TOL),
            Err(WebhookError::SignatureMismatch)
        );
        let pairs = [
            (ID_HEADER, ID),
            (TIMESTAMP_HEADER, TS_STR),
            (SIGNATURE_HEADER, SIGNATURE),
        ];
        assert_eq!(
            verify(&[key()], header_pairs(&pairs), b"{}", TS, TOL),
            Err(WebhookError::SignatureMismatch)
        );
    }

    #[test]
    fn exactly_at_the_tolerance_is_accepted_and_one_second_beyond_either_way_is_refused() {
        let at = TS as u64;
        assert!(check(SIGNATURE, TS_STR, (at + TOL) as i64, &[key()]).is_ok());
        assert!(check(SIGNATURE, TS_STR, (at - TOL) as i64, &[key()]).is_ok());
        for now in [(at + TOL + 1) as i64, (at - TOL - 1) as i64] {
            assert_eq!(
                check(SIGNATURE, TS_STR, now, &[key()]),
                Err(WebhookError::TimestampOutsideTolerance)
            );
        }
    }

    #[test]
    fn a_negative_or_non_numeric_timestamp_is_malformed() {
        for ts in ["-1649367553", "-1", "soon", "", "1649367553.0"] {
            assert_eq!(
                check(SIGNATURE, ts, TS, &[key()]),
                Err(WebhookError::MalformedHeader(TIMESTAMP_HEADER)),
                "{ts}"
            );
        }
    }

    #[test]
    fn each_missing_header_is_named() {
        let all = [
            (ID_HEADER, ID),
            (TIMESTAMP_HEADER, TS_STR),
            (SIGNATURE_HEADER, SIGNATURE),
        ];
        for missing in [ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER] {
            let pairs: Vec<_> = all.iter().copied().filter(|(k, _)| *k != missing).collect();
            let err = verify(&[key()], header_pairs(&pairs), BODY, TS, TOL).unwrap_err();
            assert_eq!(err, WebhookError::MissingHeader(missing));
            assert_eq!(err.status(), 400);
            assert_eq!(err.reason(), format!("missing_header:{missing}"));
        }
    }

    #[test]
    fn truncated_empty_or_garbled_signatures_are_malformed() {
        let truncated = &SIGNATURE[..SIGNATURE.len() - 4];
        let short_but_valid_base64 = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3";
        for bad in [
            truncated,
            short_but_valid_base64,
            "v1,",
            "v1",
            "",
            "   ",
            "v1,!!!!",
            "v2,abc",
            &SIGNATURE[3..],
        ] {
            assert_eq!(
                parse_signature_header(bad),
                Err(WebhookError::MalformedHeader(SIGNATURE_HEADER)),
                "{bad:?}"
            );
            assert_eq!(
                check(bad, TS_STR, TS, &[key()]).unwrap_err().status(),
                400,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_flood_of_signatures_is_refused() {
        let many = [SIGNATURE; MAX_SIGNATURES + 1].join(" ");
        assert!(parse_signature_header(&many).is_err());
        let enough = [SIGNATURE; MAX_SIGNATURES].join(" ");
        assert_eq!(
            parse_signature_header(&enough).unwrap().len(),
            MAX_SIGNATURES
        );
    }

    #[test]
    fn an_empty_or_control_character_id_is_malformed() {
        for id in ["", "a\nb"] {
            let pairs = [
                (ID_HEADER, id),
                (TIMESTAMP_HEADER, TS_STR),
                (SIGNATURE_HEADER, SIGNATURE),
            ];
            assert_eq!(
                verify(&[key()], header_pairs(&pairs), BODY, TS, TOL),
                Err(WebhookError::MalformedHeader(ID_HEADER))
            );
        }
    }

    #[test]
    fn secrets_decode_with_or_without_the_prefix_and_never_echo_the_value() {
        assert_eq!(
            decode_secret("C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap(),
            key()
        );
        assert_eq!(key().expose().len(), 24);
        assert_eq!(
            decode_secret("whsec_not base64!"),
            Err(SecretDecodeError::NotBase64)
        );
        assert_eq!(decode_secret("whsec_"), Err(SecretDecodeError::Empty));
        assert!(!format!("{:?}", key()).contains("C2FV"));
    }
}
