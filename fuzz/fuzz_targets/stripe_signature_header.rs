//! Any `Stripe-Signature` value: the parser and the whole verification never panic,
//! refuse only for the documented reasons, and a parsed header holds a non-negative
//! timestamp and between one and `MAX_SIGNATURES` tags.
#![no_main]

use launch_edge_core::webhooks::{header_pairs, stripe, WebhookError, DEFAULT_TOLERANCE_SECS};
use launch_edge_proto::Secret;
use libfuzzer_sys::fuzz_target;

const NOW: i64 = 1_764_300_000;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(header) = stripe::parse_signature_header(raw) {
        assert!(header.timestamp >= 0);
        assert!(!header.signatures.is_empty() && header.signatures.len() <= stripe::MAX_SIGNATURES);
    }
    let key = [Secret::new(*b"whsec_fuzzing_endpoint_secret")];
    let pairs = [(stripe::SIGNATURE_HEADER, raw)];
    let body = br#"{"id":"evt_fuzz"}"#;
    if let Err(err) = stripe::verify(
        &key,
        header_pairs(&pairs),
        body,
        NOW,
        DEFAULT_TOLERANCE_SECS,
    ) {
        assert!(matches!(
            err,
            WebhookError::MalformedHeader(_)
                | WebhookError::TimestampOutsideTolerance
                | WebhookError::SignatureMismatch
        ));
    }
});
