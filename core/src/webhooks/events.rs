//! What a verified body means: its event type, and whether it is a conversion to count.
//!
//! Two shapes are conversions:
//! - Stripe `checkout.session.completed` (when paid) or
//!   `checkout.session.async_payment_succeeded`, whose session carries `launch_slug` (or
//!   `launch`) in `metadata`: a `purchase` worth `amount_total` minor units. A session paid
//!   later (`payment_status: unpaid`) is counted on its `async_payment_succeeded` event, so
//!   a purchase is counted once and only when paid. A checkout without a launch in its
//!   metadata is someone else's business: stored, not counted.
//! - A generic `{"type":"conversion","launch":"acme","kind":"signup","amount_cents":0}`,
//!   fields at the top level or inside `data` (the Standard Webhooks payload shape).
//!
//! A sender that names a launch or amount we cannot use gets a 400 naming the field rather
//! than a silent drop, so the mistake shows in its delivery log.

use launch_edge_proto::Slug;
use serde_json::{Map, Value};

use super::{Scheme, WebhookError};

/// Largest revenue accepted for one conversion, in minor units; far above any real
/// checkout, low enough that sums of many never overflow an `i64`.
pub const MAX_REVENUE_CENTS: i64 = 100_000_000_000;
/// Longest event type kept; longer or non-printable types are recorded as [`UNKNOWN_TYPE`].
pub const MAX_EVENT_TYPE_LEN: usize = 128;
pub const UNKNOWN_TYPE: &str = "unknown";
/// The conversion kind of a Stripe checkout.
pub const PURCHASE: &str = "purchase";
/// Counter metrics a conversion kind may not impersonate.
const RESERVED_KINDS: &[&str] = &[
    "view",
    "bot_view",
    "click",
    "revenue_cents",
    "unique",
    "uniques",
];
const MAX_KIND_LEN: usize = 32;
const MAX_SOURCE_LEN: usize = 64;

/// A conversion for the counting path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversion {
    pub launch: Slug,
    /// The counter metric: `purchase`, `signup`, ... (`[a-z0-9_]`, never a reserved metric).
    pub kind: String,
    /// Revenue in minor units (0 for conversions without revenue).
    pub revenue_cents: i64,
    /// ISO currency code, lowercase, when the sender gave one (Stripe's `currency`, a
    /// generic event's `currency`); its revenue is counted per currency.
    pub currency: Option<String>,
    /// Attribution source (`utm_source`, `ref` or `source`), normalized, when present.
    pub source: Option<String>,
    /// `utm_medium` and `utm_campaign`, as given (the counter shard sanitizes and bounds
    /// them like a landing's).
    pub medium: Option<String>,
    pub campaign: Option<String>,
}

/// A verified body, interpreted.
#[derive(Debug, Clone, PartialEq)]
pub struct InterpretedEvent {
    pub event_type: String,
    /// The parsed body, stored for the origin as received.
    pub payload: Value,
    pub conversion: Option<Conversion>,
}

/// Interprets a verified body. Every scheme's body must be a JSON object.
pub fn interpret(scheme: Scheme, body: &[u8]) -> Result<InterpretedEvent, WebhookError> {
    let payload: Value = serde_json::from_slice(body).map_err(|_| WebhookError::InvalidJson)?;
    let object = payload.as_object().ok_or(WebhookError::InvalidJson)?;
    let event_type = event_type(object);
    let conversion = match (scheme, event_type.as_str()) {
        (
            Scheme::Stripe,
            "checkout.session.completed" | "checkout.session.async_payment_succeeded",
        ) => stripe_checkout(object, &event_type)?,
        (_, "conversion") => Some(generic_conversion(object)?),
        _ => None,
    };
    Ok(InterpretedEvent {
        event_type,
        payload,
        conversion,
    })
}

fn event_type(object: &Map<String, Value>) -> String {
    match object.get("type").and_then(Value::as_str) {
        Some(t)
            if !t.is_empty()
                && t.len() <= MAX_EVENT_TYPE_LEN
                && !t.chars().any(char::is_control) =>
        {
            t.to_owned()
        }
        _ => UNKNOWN_TYPE.to_owned(),
    }
}

fn stripe_checkout(
    event: &Map<String, Value>,
    event_type: &str,
) -> Result<Option<Conversion>, WebhookError> {
    let session = event
        .get("data")
        .and_then(|d| d.get("object"))
        .and_then(Value::as_object);
    let Some(session) = session else {
        return Ok(None);
    };
    // Delayed payment methods complete unpaid and succeed later: count the later event.
    if event_type == "checkout.session.completed"
        && session.get("payment_status").and_then(Value::as_str) == Some("unpaid")
    {
        return Ok(None);
    }
    let metadata = session.get("metadata").and_then(Value::as_object);
    let field = |name: &str| metadata.and_then(|m| m.get(name)).and_then(Value::as_str);
    let Some(launch) = field("launch_slug").or_else(|| field("launch")) else {
        return Ok(None);
    };
    Ok(Some(Conversion {
        launch: Slug::parse(launch).map_err(|_| WebhookError::InvalidConversion("launch"))?,
        kind: PURCHASE.to_owned(),
        revenue_cents: amount(session.get("amount_total"), "amount_total")?,
        currency: currency(session.get("currency"))?,
        source: field("utm_source")
            .or_else(|| field("ref"))
            .and_then(normalize_source),
        medium: field("utm_medium").map(str::to_owned),
        campaign: field("utm_campaign").map(str::to_owned),
    }))
}

fn generic_conversion(event: &Map<String, Value>) -> Result<Conversion, WebhookError> {
    let fields = event
        .get("data")
        .and_then(Value::as_object)
        .unwrap_or(event);
    let text = |name: &str| fields.get(name).and_then(Value::as_str);
    let launch = text("launch").ok_or(WebhookError::InvalidConversion("launch"))?;
    let kind = text("kind")
        .filter(|k| is_valid_kind(k))
        .ok_or(WebhookError::InvalidConversion("kind"))?;
    Ok(Conversion {
        launch: Slug::parse(launch).map_err(|_| WebhookError::InvalidConversion("launch"))?,
        kind: kind.to_owned(),
        revenue_cents: amount(fields.get("amount_cents"), "amount_cents")?,
        currency: currency(fields.get("currency"))?,
        source: text("utm_source")
            .or_else(|| text("ref"))
            .or_else(|| text("source"))
            .and_then(normalize_source),
        medium: text("utm_medium").map(str::to_owned),
        campaign: text("utm_campaign").map(str::to_owned),
    })
}

/// Absent or `null` is 0; otherwise a whole number in `0..=MAX_REVENUE_CENTS`.
fn amount(value: Option<&Value>, field: &'static str) -> Result<i64, WebhookError> {
    match value {
        None | Some(Value::Null) => Ok(0),
        Some(v) => v
            .as_i64()
            .filter(|cents| (0..=MAX_REVENUE_CENTS).contains(cents))
            .ok_or(WebhookError::InvalidConversion(field)),
    }
}

/// Absent or `null`: no currency named (the launch's own, by contract). Otherwise three
/// letters, kept lowercase; anything else is refused rather than guessed, since revenue
/// in an unknown currency cannot be reported next to any other.
fn currency(value: Option<&Value>) -> Result<Option<String>, WebhookError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(code))
            if code.len() == 3 && code.bytes().all(|b| b.is_ascii_alphabetic()) =>
        {
            Ok(Some(code.to_ascii_lowercase()))
        }
        Some(_) => Err(WebhookError::InvalidConversion("currency")),
    }
}

fn is_valid_kind(kind: &str) -> bool {
    !kind.is_empty()
        && kind.len() <= MAX_KIND_LEN
        && kind
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !RESERVED_KINDS.contains(&kind)
}

/// Attribution labels become counter dimensions, so keep them short and tame; an unusable
/// one is dropped rather than failing a genuine conversion.
fn normalize_source(raw: &str) -> Option<String> {
    let source = raw.trim().to_ascii_lowercase();
    let tame = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_');
    (!source.is_empty() && source.len() <= MAX_SOURCE_LEN && source.bytes().all(tame))
        .then_some(source)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stripe(event: Value) -> Result<InterpretedEvent, WebhookError> {
        interpret(Scheme::Stripe, event.to_string().as_bytes())
    }

    fn checkout(event_type: &str, session: Value) -> Value {
        json!({"id": "evt_1", "type": event_type, "data": {"object": session}})
    }

    #[test]
    fn a_paid_stripe_checkout_with_a_launch_slug_is_a_purchase_with_revenue_and_source() {
        let session = json!({"amount_total": 4900, "currency": "USD", "payment_status": "paid",
            "metadata": {"launch_slug": "acme", "utm_source": "ProductHunt",
                "utm_medium": "email", "utm_campaign": "dec-launch"}});
        let event = stripe(checkout("checkout.session.completed", session)).unwrap();
        assert_eq!(event.event_type, "checkout.session.completed");
        assert_eq!(
            event.conversion,
            Some(Conversion {
                launch: Slug::parse("acme").unwrap(),
                kind: "purchase".into(),
                revenue_cents: 4900,
                currency: Some("usd".into()),
                source: Some("producthunt".into()),
                medium: Some("email".into()),
                campaign: Some("dec-launch".into()),
            })
        );
    }

    #[test]
    fn the_launch_metadata_key_and_ref_attribution_are_accepted_too() {
        let session =
            json!({"amount_total": null, "metadata": {"launch": "acme", "ref": "twitter.com"}});
        let conversion = stripe(checkout("checkout.session.completed", session))
            .unwrap()
            .conversion
            .unwrap();
        assert_eq!(
            (conversion.revenue_cents, conversion.source.as_deref()),
            (0, Some("twitter.com"))
        );
    }

    #[test]
    fn an_unpaid_checkout_counts_only_when_its_async_payment_succeeds() {
        let session = json!({"amount_total": 1000, "payment_status": "unpaid", "metadata": {"launch_slug": "acme"}});
        assert_eq!(
            stripe(checkout("checkout.session.completed", session.clone()))
                .unwrap()
                .conversion,
            None
        );
        let paid = stripe(checkout(
            "checkout.session.async_payment_succeeded",
            session,
        ))
        .unwrap();
        assert_eq!(paid.conversion.unwrap().revenue_cents, 1000);
    }

    #[test]
    fn stripe_events_without_a_launch_are_stored_but_not_counted() {
        let plain = stripe(checkout(
            "checkout.session.completed",
            json!({"amount_total": 5, "metadata": {}}),
        ))
        .unwrap();
        assert_eq!(plain.conversion, None);
        let other =
            stripe(json!({"id": "evt_2", "type": "invoice.paid", "data": {"object": {}}})).unwrap();
        assert_eq!(
            (other.event_type.as_str(), other.conversion),
            ("invoice.paid", None)
        );
    }

    #[test]
    fn a_bad_launch_slug_or_amount_in_a_checkout_names_the_field() {
        let bad_slug = json!({"amount_total": 5, "metadata": {"launch_slug": "../etc"}});
        let err = stripe(checkout("checkout.session.completed", bad_slug)).unwrap_err();
        assert_eq!(
            (err.status(), err.reason().as_ref()),
            (400, "invalid_conversion:launch")
        );
        for amount in [
            json!(-1),
            json!(1.5),
            json!("4900"),
            json!(MAX_REVENUE_CENTS + 1),
        ] {
            let session = json!({"amount_total": amount, "metadata": {"launch_slug": "acme"}});
            assert_eq!(
                stripe(checkout("checkout.session.completed", session)).unwrap_err(),
                WebhookError::InvalidConversion("amount_total")
            );
        }
    }

    #[test]
    fn a_generic_conversion_event_is_read_from_the_top_level_or_from_data() {
        let flat = br#"{"type":"conversion","launch":"acme","kind":"signup","amount_cents":0,"ref":"producthunt"}"#;
        let nested = br#"{"type":"conversion","timestamp":"2026-11-28T00:00:00Z","data":{"launch":"acme","kind":"signup","source":"producthunt"}}"#;
        for (scheme, body) in [
            (Scheme::ProductHunt, &flat[..]),
            (Scheme::StandardWebhooks, &nested[..]),
        ] {
            let conversion = interpret(scheme, body).unwrap().conversion.unwrap();
            assert_eq!(conversion.launch.as_str(), "acme");
            assert_eq!(conversion.kind, "signup");
            assert_eq!(conversion.revenue_cents, 0);
            assert_eq!(conversion.source.as_deref(), Some("producthunt"));
        }
    }

    #[test]
    fn a_generic_conversion_with_a_missing_or_reserved_field_names_it() {
        let cases: [(&[u8], &str); 5] = [
            (br#"{"type":"conversion","kind":"signup"}"#, "launch"),
            (
                br#"{"type":"conversion","launch":"Acme","kind":"signup"}"#,
                "launch",
            ),
            (br#"{"type":"conversion","launch":"acme"}"#, "kind"),
            (
                br#"{"type":"conversion","launch":"acme","kind":"view"}"#,
                "kind",
            ),
            (
                br#"{"type":"conversion","launch":"acme","kind":"signup","amount_cents":-5}"#,
                "amount_cents",
            ),
        ];
        for (body, field) in cases {
            assert_eq!(
                interpret(Scheme::ProductHunt, body),
                Err(WebhookError::InvalidConversion(field)),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn the_currency_travels_with_the_amount_and_a_malformed_one_is_refused() {
        let eur = br#"{"type":"conversion","launch":"acme","kind":"purchase","amount_cents":900,"currency":"EUR"}"#;
        let conversion = interpret(Scheme::ProductHunt, eur)
            .unwrap()
            .conversion
            .unwrap();
        assert_eq!(
            (conversion.revenue_cents, conversion.currency.as_deref()),
            (900, Some("eur"))
        );
        for bad in [json!("euro"), json!("E1R"), json!(978), json!("")] {
            let body = json!({"type": "conversion", "launch": "acme", "kind": "purchase",
                "amount_cents": 900, "currency": bad});
            assert_eq!(
                interpret(Scheme::ProductHunt, body.to_string().as_bytes()),
                Err(WebhookError::InvalidConversion("currency")),
                "{body}"
            );
        }
        let session =
            json!({"amount_total": 4900, "currency": 840, "metadata": {"launch_slug": "acme"}});
        assert_eq!(
            stripe(checkout("checkout.session.completed", session)).unwrap_err(),
            WebhookError::InvalidConversion("currency")
        );
    }

    #[test]
    fn non_json_or_non_object_bodies_are_invalid_json() {
        for body in [
            &b"not json"[..],
            b"",
            b"[1,2]",
            b"\"conversion\"",
            b"{\"type\":",
        ] {
            let err = interpret(Scheme::StandardWebhooks, body).unwrap_err();
            assert_eq!(
                (err, err.status(), err.code()),
                (WebhookError::InvalidJson, 400, "invalid_json")
            );
        }
    }

    #[test]
    fn odd_event_types_are_recorded_as_unknown_and_odd_sources_dropped() {
        let body = json!({"type": "x".repeat(MAX_EVENT_TYPE_LEN + 1)}).to_string();
        assert_eq!(
            interpret(Scheme::ProductHunt, body.as_bytes())
                .unwrap()
                .event_type,
            UNKNOWN_TYPE
        );
        assert_eq!(
            interpret(Scheme::ProductHunt, b"{}").unwrap().event_type,
            UNKNOWN_TYPE
        );
        assert_eq!(normalize_source("  Reddit.COM "), Some("reddit.com".into()));
        assert_eq!(normalize_source("<script>"), None);
        assert_eq!(normalize_source(""), None);
    }
}
