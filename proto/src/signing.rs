//! Signatures on internal requests from the worker to the origin.
//!
//! The worker signs `v1\n{METHOD}\n{path?query}\n{timestamp}\n{body}` with HMAC-SHA256 and
//! sends the timestamp and `v1=<hex>` in [`crate::headers`]. The origin recomputes the MAC
//! over the raw request, compares in constant time and rejects timestamps further than
//! [`TOLERANCE_SECS`] from its own clock, either way. This is a webhook-style scheme: a
//! header like `X-Internal-Request: true` would not be authentication.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::Secret;

/// How far a signed timestamp may be from the verifier's clock, in either direction.
pub const TOLERANCE_SECS: i64 = 300;
const VERSION_PREFIX: &str = "v1=";

type HmacSha256 = Hmac<Sha256>;

/// What is signed: everything that changes the meaning of the request.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    pub method: &'a str,
    pub path_and_query: &'a str,
    pub body: &'a [u8],
}

impl SignedRequest<'_> {
    fn mac(&self, key: &Secret, timestamp: i64) -> HmacSha256 {
        let mut mac =
            HmacSha256::new_from_slice(key.expose()).expect("HMAC accepts any key length");
        mac.update(b"v1\n");
        mac.update(self.method.to_ascii_uppercase().as_bytes());
        mac.update(b"\n");
        mac.update(self.path_and_query.as_bytes());
        mac.update(b"\n");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b"\n");
        mac.update(self.body);
        mac
    }

    /// The signature header value for this request at `timestamp` (Unix seconds).
    pub fn sign(&self, key: &Secret, timestamp: i64) -> String {
        let tag = self.mac(key, timestamp).finalize().into_bytes();
        format!("{VERSION_PREFIX}{}", hex::encode(tag))
    }

    /// Checks the presented headers against this request and the verifier's clock.
    pub fn verify(
        &self,
        key: &Secret,
        timestamp_header: Option<&str>,
        signature_header: Option<&str>,
        now_secs: i64,
    ) -> Result<(), VerifyError> {
        let (timestamp, tag) = parse_headers(timestamp_header, signature_header, now_secs)?;
        self.mac(key, timestamp)
            .verify_slice(&tag)
            .map_err(|_| VerifyError::Mismatch)
    }

    /// [`Self::verify`] against each key in turn (the current one first, then the previous
    /// one during a rotation); `Ok` with the index of the key that matched, so the answer
    /// can be signed with the same key. Every key is compared in constant time.
    pub fn verify_any(
        &self,
        keys: &[&Secret],
        timestamp_header: Option<&str>,
        signature_header: Option<&str>,
        now_secs: i64,
    ) -> Result<usize, VerifyError> {
        let (timestamp, tag) = parse_headers(timestamp_header, signature_header, now_secs)?;
        keys.iter()
            .position(|key| self.mac(key, timestamp).verify_slice(&tag).is_ok())
            .ok_or(VerifyError::Mismatch)
    }
}

/// What the origin signs in its answer to a signed request: the status, the request's own
/// signature header (so an answer is bound to the one request it answers and cannot be
/// replayed for another batch) and the body. No timestamp: the request's signature
/// already carries one, and the worker only ever checks an answer against the request it
/// just sent.
#[derive(Debug, Clone, Copy)]
pub struct SignedResponse<'a> {
    pub status: u16,
    /// The request's signature header value (`v1=<hex>`), as sent.
    pub request_signature: &'a str,
    pub body: &'a [u8],
}

impl SignedResponse<'_> {
    fn mac(&self, key: &Secret) -> HmacSha256 {
        let mut mac =
            HmacSha256::new_from_slice(key.expose()).expect("HMAC accepts any key length");
        mac.update(b"v1\nresponse\n");
        mac.update(self.status.to_string().as_bytes());
        mac.update(b"\n");
        mac.update(self.request_signature.trim().as_bytes());
        mac.update(b"\n");
        mac.update(self.body);
        mac
    }

    /// The [`crate::headers::RESPONSE_SIGNATURE`] value for this answer.
    pub fn sign(&self, key: &Secret) -> String {
        let tag = self.mac(key).finalize().into_bytes();
        format!("{VERSION_PREFIX}{}", hex::encode(tag))
    }

    /// Checks a presented answer signature in constant time.
    pub fn verify(&self, key: &Secret, signature_header: Option<&str>) -> Result<(), VerifyError> {
        let raw = signature_header.ok_or(VerifyError::MissingSignature)?;
        let tag = raw
            .trim()
            .strip_prefix(VERSION_PREFIX)
            .and_then(|h| hex::decode(h).ok())
            .filter(|t| t.len() == 32)
            .ok_or(VerifyError::MalformedSignature)?;
        self.mac(key)
            .verify_slice(&tag)
            .map_err(|_| VerifyError::Mismatch)
    }
}

/// The checks of [`SignedRequest::verify`] that need no body (headers present and
/// well-formed, timestamp within tolerance), so a verifier can refuse a request before
/// reading its body. `verify` repeats them.
pub fn check_headers(
    timestamp_header: Option<&str>,
    signature_header: Option<&str>,
    now_secs: i64,
) -> Result<(), VerifyError> {
    parse_headers(timestamp_header, signature_header, now_secs).map(|_| ())
}

fn parse_headers(
    timestamp_header: Option<&str>,
    signature_header: Option<&str>,
    now_secs: i64,
) -> Result<(i64, Vec<u8>), VerifyError> {
    let timestamp_raw = timestamp_header.ok_or(VerifyError::MissingTimestamp)?;
    let signature_raw = signature_header.ok_or(VerifyError::MissingSignature)?;
    let timestamp: i64 = timestamp_raw
        .trim()
        .parse()
        .map_err(|_| VerifyError::MalformedTimestamp)?;
    if timestamp < 0 {
        return Err(VerifyError::MalformedTimestamp);
    }
    let hex_tag = signature_raw
        .trim()
        .strip_prefix(VERSION_PREFIX)
        .ok_or(VerifyError::MalformedSignature)?;
    let tag = hex::decode(hex_tag).map_err(|_| VerifyError::MalformedSignature)?;
    if tag.len() != 32 {
        return Err(VerifyError::MalformedSignature);
    }
    if (now_secs - timestamp).abs() > TOLERANCE_SECS {
        return Err(VerifyError::OutsideTolerance);
    }
    Ok((timestamp, tag))
}

/// Why a signature was refused. [`VerifyError::code`] is safe to return to the caller:
/// it never carries the expected value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("timestamp header is missing")]
    MissingTimestamp,
    #[error("signature header is missing")]
    MissingSignature,
    #[error("timestamp header is not a non-negative integer")]
    MalformedTimestamp,
    #[error("signature header is not v1=<64 hex digits>")]
    MalformedSignature,
    #[error("timestamp is outside the tolerance window")]
    OutsideTolerance,
    #[error("signature does not match")]
    Mismatch,
}

impl VerifyError {
    pub fn code(&self) -> &'static str {
        match self {
            VerifyError::MissingTimestamp => "missing_timestamp",
            VerifyError::MissingSignature => "missing_signature",
            VerifyError::MalformedTimestamp => "malformed_timestamp",
            VerifyError::MalformedSignature => "malformed_signature",
            VerifyError::OutsideTolerance => "timestamp_outside_tolerance",
            VerifyError::Mismatch => "signature_mismatch",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_764_300_000;

    fn key() -> Secret {
        Secret::new("test-signing-key")
    }

    fn request(body: &[u8]) -> SignedRequest<'_> {
        SignedRequest {
            method: "POST",
            path_and_query: "/ingest/batch?x=1",
            body,
        }
    }

    #[test]
    fn a_fresh_signature_verifies() {
        let sig = request(b"{}").sign(&key(), NOW);
        assert!(sig.starts_with("v1=") && sig.len() == 3 + 64);
        let ts = NOW.to_string();
        assert_eq!(
            request(b"{}").verify(&key(), Some(&ts), Some(&sig), NOW + 10),
            Ok(())
        );
    }

    #[test]
    fn the_signature_is_a_fixed_function_of_its_inputs() {
        let a = request(b"body").sign(&key(), NOW);
        assert_eq!(a, request(b"body").sign(&key(), NOW));
        assert_ne!(a, request(b"body").sign(&key(), NOW + 1));
        assert_ne!(a, request(b"bodY").sign(&key(), NOW));
        assert_ne!(a, request(b"body").sign(&Secret::new("other"), NOW));
    }

    #[test]
    fn any_change_to_method_path_body_or_timestamp_is_a_mismatch() {
        let sig = request(b"{}").sign(&key(), NOW);
        let ts = NOW.to_string();
        let other_method = SignedRequest {
            method: "GET",
            ..request(b"{}")
        };
        let other_path = SignedRequest {
            path_and_query: "/ingest/batch?x=2",
            ..request(b"{}")
        };
        for tampered in [other_method, other_path, request(b"{ }")] {
            assert_eq!(
                tampered.verify(&key(), Some(&ts), Some(&sig), NOW),
                Err(VerifyError::Mismatch)
            );
        }
        let moved = (NOW + 1).to_string();
        assert_eq!(
            request(b"{}").verify(&key(), Some(&moved), Some(&sig), NOW),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn timestamps_beyond_the_tolerance_either_way_are_refused() {
        let sig = request(b"").sign(&key(), NOW);
        let ts = NOW.to_string();
        let ok = |now| request(b"").verify(&key(), Some(&ts), Some(&sig), now);
        assert_eq!(ok(NOW + TOLERANCE_SECS), Ok(()));
        assert_eq!(ok(NOW - TOLERANCE_SECS), Ok(()));
        assert_eq!(
            ok(NOW + TOLERANCE_SECS + 1),
            Err(VerifyError::OutsideTolerance)
        );
        assert_eq!(
            ok(NOW - TOLERANCE_SECS - 1),
            Err(VerifyError::OutsideTolerance)
        );
    }

    #[test]
    fn an_answer_verifies_only_with_its_status_body_and_request() {
        let request_sig = request(b"{}").sign(&key(), NOW);
        let answer = SignedResponse {
            status: 422,
            request_signature: &request_sig,
            body: br#"{"error":"x"}"#,
        };
        let sig = answer.sign(&key());
        assert_eq!(answer.verify(&key(), Some(&sig)), Ok(()));
        let other_request = request(b"{ }").sign(&key(), NOW);
        for tampered in [
            SignedResponse {
                status: 400,
                ..answer
            },
            SignedResponse {
                body: br#"{"error":"y"}"#,
                ..answer
            },
            SignedResponse {
                request_signature: &other_request,
                ..answer
            },
        ] {
            assert_eq!(
                tampered.verify(&key(), Some(&sig)),
                Err(VerifyError::Mismatch)
            );
        }
        assert_eq!(
            answer.verify(&Secret::new("other"), Some(&sig)),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            answer.verify(&key(), None),
            Err(VerifyError::MissingSignature)
        );
        for bad in ["", "v1=", "v1=zz", &sig[3..], &sig[..sig.len() - 2]] {
            assert_eq!(
                answer.verify(&key(), Some(bad)),
                Err(VerifyError::MalformedSignature),
                "{bad}"
            );
        }
    }

    #[test]
    fn missing_and_malformed_headers_have_their_own_codes() {
        let sig = request(b"").sign(&key(), NOW);
        let ts = NOW.to_string();
        let r = request(b"");
        assert_eq!(
            r.verify(&key(), None, Some(&sig), NOW),
            Err(VerifyError::MissingTimestamp)
        );
        assert_eq!(
            r.verify(&key(), Some(&ts), None, NOW),
            Err(VerifyError::MissingSignature)
        );
        assert_eq!(
            r.verify(&key(), Some("soon"), Some(&sig), NOW),
            Err(VerifyError::MalformedTimestamp)
        );
        assert_eq!(
            r.verify(&key(), Some("-5"), Some(&sig), NOW),
            Err(VerifyError::MalformedTimestamp)
        );
        for bad in [
            "",
            "v1=",
            "v2=00",
            &sig[3..],
            "v1=zz",
            &sig[..sig.len() - 2],
        ] {
            assert_eq!(
                r.verify(&key(), Some(&ts), Some(bad), NOW),
                Err(VerifyError::MalformedSignature),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_header_checks_refuse_without_a_body_what_verify_would_refuse() {
        let sig = request(b"any body").sign(&key(), NOW);
        let ts = NOW.to_string();
        assert_eq!(check_headers(Some(&ts), Some(&sig), NOW), Ok(()));
        assert_eq!(
            check_headers(None, Some(&sig), NOW),
            Err(VerifyError::MissingTimestamp)
        );
        assert_eq!(
            check_headers(Some(&ts), Some("v1=zz"), NOW),
            Err(VerifyError::MalformedSignature)
        );
        assert_eq!(
            check_headers(Some(&ts), Some(&sig), NOW + TOLERANCE_SECS + 1),
            Err(VerifyError::OutsideTolerance)
        );
    }

    #[test]
    fn during_a_rotation_either_key_verifies_and_says_which_one_did() {
        let (old, new, other) = (
            Secret::new("the-old-signing-secret-0123456789abcdef"),
            Secret::new("the-new-signing-secret-0123456789abcdef"),
            Secret::new("a-third-signing-secret-0123456789abcdef"),
        );
        let request = SignedRequest {
            method: "POST",
            path_and_query: "/ingest/batch",
            body: b"{}",
        };
        let ts = NOW.to_string();
        let keys = [&new, &old];
        let verify = |sig: &str| request.verify_any(&keys, Some(&ts), Some(sig), NOW);
        assert_eq!(verify(&request.sign(&old, NOW)), Ok(1));
        assert_eq!(verify(&request.sign(&new, NOW)), Ok(0));
        assert_eq!(
            verify(&request.sign(&other, NOW)),
            Err(VerifyError::Mismatch)
        );
    }
}
