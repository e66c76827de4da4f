//! Any `X-ProductHunt-Signature` (and `X-ProductHunt-Timestamp`) value: the parser and the
//! whole verification never panic, refuse only for the documented reasons, and a parsed
//! header holds between one and `MAX_SIGNATURES` tags.
#![no_main]

use launch_edge_core::webhooks::{header_pairs, producthunt, WebhookError, DEFAULT_TOLERANCE_SECS};
use launch_edge_proto::Secret;
use libfuzzer_sys::fuzz_target;

const NOW: i64 = 1_764_300_000;
const NOW_STR: &str = "1764300000";

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(tags) = producthunt::parse_signature_header(raw) {
        assert!(!tags.is_empty() && tags.len() <= producthunt::MAX_SIGNATURES);
    }
    let key = [Secret::new(*b"relay-fuzzing-secret-0123")];
    let verify = |timestamp: &str, signature: &str| {
        let pairs = [
            (producthunt::TIMESTAMP_HEADER, timestamp),
            (producthunt::SIGNATURE_HEADER, signature),
        ];
        producthunt::verify(
            &key,
            header_pairs(&pairs),
            b"{}",
            NOW,
            DEFAULT_TOLERANCE_SECS,
        )
    };
    if let Err(err) = verify(NOW_STR, raw) {
        assert!(matches!(
            err,
            WebhookError::MalformedHeader(_) | WebhookError::SignatureMismatch
        ));
    }
    let valid = producthunt::sign(&key[0], NOW, b"{}");
    if let Err(err) = verify(raw, &valid) {
        assert!(matches!(
            err,
            WebhookError::MalformedHeader(_)
                | WebhookError::TimestampOutsideTolerance
                | WebhookError::SignatureMismatch
        ));
    }
});
