//! Any `webhook-signature` (and `webhook-timestamp`) value: the parser and the whole
//! verification never panic, refuse only as malformed or mismatched, a parsed header
//! holds between one and `MAX_SIGNATURES` tags, and no entry spoils a valid one next to it.
#![no_main]

use launch_edge_core::webhooks::{header_pairs, standard, WebhookError, DEFAULT_TOLERANCE_SECS};
use launch_edge_proto::Secret;
use libfuzzer_sys::fuzz_target;

const NOW: i64 = 1_649_367_553;
const NOW_STR: &str = "1649367553";
const WELL_FORMED_SIGNATURE: &str = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(tags) = standard::parse_signature_header(raw) {
        assert!(!tags.is_empty() && tags.len() <= standard::MAX_SIGNATURES);
    }
    let key = [Secret::new(*b"fuzzing-key-0123456789ab")];
    let verify = |timestamp: &str, signature: &str| {
        let pairs = [
            (standard::ID_HEADER, "msg_fuzz"),
            (standard::TIMESTAMP_HEADER, timestamp),
            (standard::SIGNATURE_HEADER, signature),
        ];
        standard::verify(
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
    // Entries that cannot match never hide a valid one: the bytes as extra entries next
    // to a genuine signature still verify (while the entry bound leaves room for it).
    if raw.split_whitespace().count() < standard::MAX_SIGNATURES {
        let genuine = standard::sign(&key[0], "msg_fuzz", NOW, b"{}");
        assert!(verify(NOW_STR, &format!("{raw} {genuine}")).is_ok());
    }
    // The same bytes as a timestamp exercise its parser and the tolerance arithmetic.
    let _ = verify(raw, WELL_FORMED_SIGNATURE);
});
