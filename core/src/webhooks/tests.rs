//! Tests of the whole receive path: source → verify → interpret → record.

use super::*;

const NOW: i64 = 1_764_300_000;

fn stripe_source() -> WebhookSource {
    WebhookSource::new(
        "stripe",
        Scheme::Stripe,
        vec![Secret::new("whsec_stripe_endpoint_secret")],
    )
}

const CHECKOUT: &[u8] = br#"{"id":"evt_42","type":"checkout.session.completed","data":{"object":{"amount_total":4900,"currency":"usd","payment_status":"paid","metadata":{"launch_slug":"acme","utm_source":"producthunt"}}}}"#;

#[test]
fn a_signed_stripe_checkout_is_received_as_a_counted_purchase_and_a_record() {
    let source = stripe_source();
    let sig = stripe::sign(&source.secrets()[0], NOW, CHECKOUT);
    let event = receive(
        &source,
        header_pairs(&[("Stripe-Signature", &sig)]),
        CHECKOUT,
        NOW,
    )
    .unwrap();
    assert_eq!(event.event_id, "evt_42");
    assert_eq!(event.timestamp, NOW);
    let conversion = event.conversion.clone().unwrap();
    assert_eq!(
        (conversion.launch.as_str(), conversion.revenue_cents),
        ("acme", 4900)
    );

    let record = event.record("stripe", NOW * 1000);
    assert_eq!(record.source, "stripe");
    assert_eq!(record.event_id, "evt_42");
    assert_eq!(record.event_type, "checkout.session.completed");
    assert_eq!(record.received_at_ms, NOW * 1000);
    assert_eq!(record.payload["data"]["object"]["amount_total"], 4900);
}

#[test]
fn a_standard_webhooks_conversion_is_received_with_its_webhook_id() {
    let key = standard::decode_secret("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
    let source = WebhookSource::new("billing", Scheme::StandardWebhooks, vec![key.clone()]);
    let body = br#"{"type":"conversion","data":{"launch":"acme","kind":"signup"}}"#;
    let sig = standard::sign(&key, "msg_1", NOW, body);
    let ts = NOW.to_string();
    let pairs = [
        ("webhook-id", "msg_1"),
        ("webhook-timestamp", ts.as_str()),
        ("webhook-signature", sig.as_str()),
    ];
    let event = receive(&source, header_pairs(&pairs), body, NOW).unwrap();
    assert_eq!(event.event_id, "msg_1");
    assert_eq!(event.conversion.unwrap().kind, "signup");
}

#[test]
fn a_body_over_the_limit_is_refused_before_anything_else() {
    let body = vec![b' '; MAX_BODY_BYTES + 1];
    for scheme in [
        Scheme::StandardWebhooks,
        Scheme::Stripe,
        Scheme::ProductHunt,
    ] {
        let err = verify(
            scheme,
            &[],
            |_: &str| None,
            &body,
            NOW,
            DEFAULT_TOLERANCE_SECS,
        )
        .unwrap_err();
        assert_eq!(
            (err, err.status(), err.code()),
            (WebhookError::BodyTooLarge, 413, "body_too_large")
        );
    }
}

#[test]
fn a_validly_signed_body_that_is_not_json_is_invalid_json() {
    let source = stripe_source();
    let sig = stripe::sign(&source.secrets()[0], NOW, b"hello");
    let err = receive(
        &source,
        header_pairs(&[("stripe-signature", &sig)]),
        b"hello",
        NOW,
    )
    .unwrap_err();
    assert_eq!((err.status(), err.code()), (400, "invalid_json"));
}

#[test]
fn a_forged_body_fails_on_its_signature_before_its_json_is_read() {
    let source = stripe_source();
    let sig = stripe::sign(&Secret::new("attacker-guessed-secret"), NOW, b"hello");
    let err = receive(
        &source,
        header_pairs(&[("stripe-signature", &sig)]),
        b"hello",
        NOW,
    )
    .unwrap_err();
    assert_eq!((err.status(), err.code()), (401, "signature_mismatch"));
}

#[test]
fn rejections_never_reveal_the_expected_signature() {
    let source = stripe_source();
    let expected = stripe::sign(&source.secrets()[0], NOW, CHECKOUT);
    let expected_tag = expected.split_once("v1=").unwrap().1;
    let forged = format!("t={NOW},v1={}", "00".repeat(32));
    let err = receive(
        &source,
        header_pairs(&[("stripe-signature", &forged)]),
        CHECKOUT,
        NOW,
    )
    .unwrap_err();
    for shown in [
        err.reason().into_owned(),
        err.to_string(),
        format!("{err:?}"),
    ] {
        assert!(!shown.contains(expected_tag), "{shown}");
        assert!(!shown.contains("whsec_stripe"), "{shown}");
    }
}

#[test]
fn every_error_has_its_documented_status_and_code() {
    let cases = [
        (WebhookError::BodyTooLarge, 413, "body_too_large"),
        (
            WebhookError::MissingHeader("webhook-id"),
            400,
            "missing_header:webhook-id",
        ),
        (
            WebhookError::MalformedHeader("stripe-signature"),
            400,
            "malformed_header:stripe-signature",
        ),
        (
            WebhookError::TimestampOutsideTolerance,
            401,
            "timestamp_outside_tolerance",
        ),
        (WebhookError::SignatureMismatch, 401, "signature_mismatch"),
        (WebhookError::UnknownSource, 404, "unknown_source"),
        (WebhookError::InvalidJson, 400, "invalid_json"),
        (
            WebhookError::InvalidConversion("kind"),
            400,
            "invalid_conversion:kind",
        ),
    ];
    for (err, status, reason) in cases {
        assert_eq!((err.status(), err.reason().as_ref()), (status, reason));
    }
}

#[test]
fn scheme_names_round_trip() {
    for scheme in [
        Scheme::StandardWebhooks,
        Scheme::Stripe,
        Scheme::ProductHunt,
    ] {
        assert_eq!(Scheme::parse(scheme.name()), Some(scheme));
    }
    assert_eq!(Scheme::parse(" Stripe "), Some(Scheme::Stripe));
    assert_eq!(Scheme::parse("github"), None);
}
