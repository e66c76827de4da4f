//! Signed server-side conversions (pure): the only way besides a verified webhook for
//! revenue and purchases to reach the counters. The glue is `counting::signed_conversion`
//! (`POST /launch/:slug/conversions`).
//!
//! The public beacon (`POST /launch/:slug/events`) can be sent by anyone from anywhere, a
//! cross-site form included, so it accepts only non-monetary kinds without amounts
//! (`events::EventRules::public`). Money needs a signature a stranger cannot make:
//!
//! - Each launch has its own key, `HMAC-SHA256(CONVERSIONS_SECRET, "conversions:" ‖
//!   slug)`, shown to its operator as a Standard Webhooks secret `whsec_<base64 key>`
//!   (`GET /admin/launches/:slug/conversion-key`). Nothing is stored per launch, and the
//!   key of one launch verifies only requests for that launch's URL, so a key handed to
//!   one team can never move another launch's numbers.
//! - The request is signed exactly like a Standard Webhooks delivery (`webhook-id`,
//!   `webhook-timestamp`, `webhook-signature: v1,<base64>` over `id.timestamp.body`,
//!   300 s tolerance both ways), so any Standard Webhooks library can sign it, and it is
//!   verified by the same code as webhooks (`webhooks::standard`).
//! - The `webhook-id` is the idempotency key: the counter shard remembers it (per launch)
//!   in the same write as the count, so a retried request is answered as a duplicate and
//!   counted once.
//! - The body is the beacon's (`{"kind":"purchase","amount_cents":4900,"currency":"USD"}`,
//!   every kind allowed, amounts on `purchase` and `subscribe`), plus an optional
//!   attribution `source`.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use launch_edge_proto::{Secret, Slug};
use sha2::{Digest, Sha256};

use crate::count::beacon::{parse_event, ConversionEvent, EventError, EventRules};
use crate::visit::attribution::sanitize_label;
use crate::webhooks::crypto::hmac_sha256;
use crate::webhooks::standard::{self, SECRET_PREFIX};
use crate::webhooks::{WebhookError, DEFAULT_TOLERANCE_SECS};

/// The attribution source of a signed conversion that names none.
pub const SERVER_SOURCE: &str = "server";
const KEY_LABEL: &[u8] = b"conversions:";

/// The key of one launch's signed conversions (the raw HMAC key, never printed).
pub fn launch_key(master: &Secret, slug: &Slug) -> Secret {
    Secret::new(hmac_sha256(
        master.expose(),
        &[KEY_LABEL, slug.as_str().as_bytes()],
    ))
}

/// The key as its operator configures it in a Standard Webhooks signer: `whsec_<base64>`.
pub fn display_secret(key: &Secret) -> String {
    format!("{SECRET_PREFIX}{}", BASE64.encode(key.expose()))
}

/// A verified conversion, ready to count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedConversion {
    pub event: ConversionEvent,
    pub source: String,
    /// The shard's idempotency key: per launch and `webhook-id`.
    pub count_id: String,
    /// Picks the shard: the same for every retry, so it meets the shard that remembers.
    pub shard_key: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConversionError {
    /// Headers, timestamp or signature (the webhook error codes).
    #[error(transparent)]
    Signature(#[from] WebhookError),
    /// The body (the beacon's error codes).
    #[error(transparent)]
    Event(#[from] EventError),
}

/// Verifies a signed conversion for `slug` at `now_secs`, then parses its body. Cheapest
/// checks first; the body is interpreted only once the signature is good.
pub fn verify(
    master: &Secret,
    slug: &Slug,
    headers: impl Fn(&str) -> Option<String>,
    body: &[u8],
    now_secs: i64,
) -> Result<SignedConversion, ConversionError> {
    let key = launch_key(master, slug);
    let verified = standard::verify(
        std::slice::from_ref(&key),
        headers,
        body,
        now_secs,
        DEFAULT_TOLERANCE_SECS,
    )?;
    let event = parse_event(body, &EventRules::default())?;
    let source = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("source")?.as_str().and_then(sanitize_label))
        .unwrap_or_else(|| SERVER_SOURCE.to_owned());
    let digest = Sha256::new()
        .chain_update(slug.as_str())
        .chain_update([0])
        .chain_update(&verified.event_id)
        .finalize();
    Ok(SignedConversion {
        event,
        source,
        count_id: format!("conversion:{}", hex::encode(digest)),
        shard_key: u64::from_be_bytes(digest[..8].try_into().expect("8 bytes")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::count::beacon::ConversionKind;
    use crate::webhooks::header_pairs;
    use crate::webhooks::standard::{decode_secret, ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER};

    const NOW: i64 = 1_780_000_000;
    const BODY: &[u8] =
        br#"{"kind":"purchase","amount_cents":4900,"currency":"USD","source":"Newsletter"}"#;

    fn master() -> Secret {
        Secret::new(b"conversions-master-secret-0123456789".to_vec())
    }

    fn slug(s: &str) -> Slug {
        Slug::parse(s).unwrap()
    }

    /// Signs as an operator would: with the `whsec_` secret the admin route shows.
    fn check(
        signed_for: &str,
        sent_to: &str,
        id: &str,
        body: &[u8],
        at: i64,
    ) -> Result<SignedConversion, ConversionError> {
        let shown = display_secret(&launch_key(&master(), &slug(signed_for)));
        let signature = standard::sign(&decode_secret(&shown).unwrap(), id, at, body);
        let ts = at.to_string();
        let pairs = [
            (ID_HEADER, id),
            (TIMESTAMP_HEADER, ts.as_str()),
            (SIGNATURE_HEADER, signature.as_str()),
        ];
        verify(&master(), &slug(sent_to), header_pairs(&pairs), body, NOW)
    }

    #[test]
    fn a_purchase_signed_with_its_launchs_key_is_accepted_with_its_amount_and_source() {
        let ok = check("acme", "acme", "order_1", BODY, NOW).unwrap();
        assert_eq!(
            ok.event,
            ConversionEvent {
                kind: ConversionKind::Purchase,
                amount_cents: 4900,
                currency: Some("usd".into()),
            }
        );
        assert_eq!(ok.source, "newsletter");
        assert!(ok.count_id.starts_with("conversion:"));
        let plain = check(
            "acme",
            "acme",
            "order_2",
            br#"{"kind":"subscribe","amount_cents":900}"#,
            NOW,
        )
        .unwrap();
        assert_eq!(plain.source, SERVER_SOURCE);
    }

    #[test]
    fn the_key_of_one_launch_never_moves_another() {
        assert_eq!(
            check("acme", "rival", "order_1", BODY, NOW).unwrap_err(),
            ConversionError::Signature(WebhookError::SignatureMismatch)
        );
        assert_ne!(
            launch_key(&master(), &slug("acme")).expose(),
            launch_key(&master(), &slug("rival")).expose()
        );
        let other_master = Secret::new(b"another-master".to_vec());
        assert_ne!(
            launch_key(&master(), &slug("acme")).expose(),
            launch_key(&other_master, &slug("acme")).expose()
        );
    }

    #[test]
    fn the_key_is_hmac_sha256_of_the_label_and_slug_shown_as_a_whsec_secret() {
        let key = launch_key(&master(), &slug("acme"));
        assert_eq!(
            key.expose(),
            hmac_sha256(master().expose(), &[b"conversions:acme"])
        );
        let shown = display_secret(&key);
        assert!(shown.starts_with("whsec_"));
        assert_eq!(decode_secret(&shown).unwrap().expose(), key.expose());
        assert!(
            !format!("{key:?}").contains(&shown[6..]),
            "Debug never shows the key"
        );
    }

    #[test]
    fn retries_share_an_idempotency_key_and_other_ids_or_launches_do_not() {
        let a = check("acme", "acme", "order_1", BODY, NOW).unwrap();
        let again = check("acme", "acme", "order_1", BODY, NOW - 10).unwrap();
        assert_eq!(
            (&a.count_id, a.shard_key),
            (&again.count_id, again.shard_key)
        );
        assert_ne!(
            a.count_id,
            check("acme", "acme", "order_9", BODY, NOW)
                .unwrap()
                .count_id
        );
        assert_ne!(
            a.count_id,
            check("beta", "beta", "order_1", BODY, NOW)
                .unwrap()
                .count_id
        );
    }

    #[test]
    fn stale_unsigned_or_tampered_requests_are_refused_before_the_body_is_read() {
        assert_eq!(
            check("acme", "acme", "order_1", BODY, NOW - 301).unwrap_err(),
            ConversionError::Signature(WebhookError::TimestampOutsideTolerance)
        );
        let unsigned = verify(&master(), &slug("acme"), header_pairs(&[]), BODY, NOW);
        assert_eq!(
            unsigned.unwrap_err(),
            ConversionError::Signature(WebhookError::MissingHeader(ID_HEADER))
        );
        // Signed over a different body than the one sent.
        let shown = display_secret(&launch_key(&master(), &slug("acme")));
        let sig = standard::sign(
            &decode_secret(&shown).unwrap(),
            "o",
            NOW,
            br#"{"kind":"purchase","amount_cents":1}"#,
        );
        let ts = NOW.to_string();
        let pairs = [
            (ID_HEADER, "o"),
            (TIMESTAMP_HEADER, ts.as_str()),
            (SIGNATURE_HEADER, sig.as_str()),
        ];
        assert_eq!(
            verify(&master(), &slug("acme"), header_pairs(&pairs), BODY, NOW).unwrap_err(),
            ConversionError::Signature(WebhookError::SignatureMismatch)
        );
    }

    #[test]
    fn a_signed_body_still_obeys_the_event_rules() {
        let bad = check(
            "acme",
            "acme",
            "o",
            br#"{"kind":"signup","amount_cents":5}"#,
            NOW,
        );
        assert_eq!(
            bad.unwrap_err(),
            ConversionError::Event(EventError::AmountNotAllowed)
        );
        let bad = check("acme", "acme", "o", b"nope", NOW);
        assert_eq!(
            bad.unwrap_err(),
            ConversionError::Event(EventError::InvalidJson)
        );
    }
}
