//! The conversion beacon: the body of `POST /launch/:slug/events`, parsed and bounded.
//!
//! The launch page sends `{"kind":"signup"}`. The beacon is public: anyone can post it
//! from anywhere (a cross-site form included), so it carries no money: a monetary kind
//! (`purchase`, `subscribe`) is 400 `kind_requires_signature` and an `amount_cents` or
//! `currency` is 400 `amount_requires_signature` ([`EventRules::public`]). Revenue comes
//! only from verified webhooks and signed server-side calls (`conversions`), which parse
//! the same body with every kind and amounts allowed. Anything that could turn
//! into a wrong count is rejected with a specific error, before anything is counted:
//! a body over [`MAX_EVENT_BODY_BYTES`] is 413 (checked on `Content-Length` first, then
//! on the bytes as they stream in, see `body_limit`), malformed JSON is 400
//! `invalid_json`, a kind outside the allowed set is 400 `unknown_event_kind`, and (on
//! the signed path) an amount must be a whole number of minor units within bounds, only
//! on a kind that carries revenue, and a `currency`, when given, must be a three-letter
//! ISO 4217 code: the amount is then counted as revenue in that currency
//! (`revenue_cents.<code>`), never added to another currency's (without one it is in the
//! launch's own currency).
//! Unknown extra fields are ignored so older workers accept newer pages.

use std::fmt;

use serde_json::Value;

/// Largest accepted beacon body, in bytes.
pub const MAX_EVENT_BODY_BYTES: usize = 4 * 1024;
/// Largest accepted amount, in minor units (one million in major units).
pub const MAX_AMOUNT_CENTS: i64 = 100_000_000;

/// The conversion kinds the beacon may report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConversionKind {
    Signup,
    Trial,
    Lead,
    Subscribe,
    Purchase,
}

impl ConversionKind {
    pub const ALL: [ConversionKind; 5] = [
        ConversionKind::Signup,
        ConversionKind::Trial,
        ConversionKind::Lead,
        ConversionKind::Subscribe,
        ConversionKind::Purchase,
    ];

    /// The metric name in counters and batches.
    pub fn as_str(self) -> &'static str {
        match self {
            ConversionKind::Signup => "signup",
            ConversionKind::Trial => "trial",
            ConversionKind::Lead => "lead",
            ConversionKind::Subscribe => "subscribe",
            ConversionKind::Purchase => "purchase",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    /// Whether this kind may carry an amount (counted as revenue).
    pub fn carries_revenue(self) -> bool {
        matches!(self, ConversionKind::Subscribe | ConversionKind::Purchase)
    }
}

impl fmt::Display for ConversionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a launch accepts from its beacon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRules {
    pub allowed: Vec<ConversionKind>,
    /// Whether monetary kinds and amounts are accepted (only from a signed sender).
    pub amounts: bool,
}

impl Default for EventRules {
    fn default() -> Self {
        Self {
            allowed: ConversionKind::ALL.to_vec(),
            amounts: true,
        }
    }
}

impl EventRules {
    /// What the public beacon accepts: the kinds without revenue, no amounts.
    pub fn public() -> Self {
        Self {
            allowed: ConversionKind::ALL
                .into_iter()
                .filter(|k| !k.carries_revenue())
                .collect(),
            amounts: false,
        }
    }

    /// Parses a comma-separated kind list such as `signup,purchase` (for a config var).
    pub fn with_kinds(mut self, spec: &str) -> Result<Self, String> {
        let mut allowed = Vec::new();
        for name in spec.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let kind =
                ConversionKind::parse(name).ok_or_else(|| format!("unknown kind {name:?}"))?;
            if !allowed.contains(&kind) {
                allowed.push(kind);
            }
        }
        if allowed.is_empty() {
            return Err("no event kinds listed".to_owned());
        }
        self.allowed = allowed;
        Ok(self)
    }
}

/// A validated conversion from the beacon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversionEvent {
    pub kind: ConversionKind,
    /// Minor units; 0 when the event carries no amount.
    pub amount_cents: i64,
    /// The amount's ISO 4217 code, lowercase (`usd`); `None`: the launch's own currency.
    pub currency: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("event body is larger than {MAX_EVENT_BODY_BYTES} bytes")]
    TooLarge,
    #[error("event body is not a JSON object")]
    InvalidJson,
    #[error("event body has no string \"kind\"")]
    MissingKind,
    #[error("event kind is not one this launch accepts")]
    UnknownKind,
    #[error("amount_cents must be a whole number from 0 to {MAX_AMOUNT_CENTS}")]
    InvalidAmount,
    #[error("this event kind carries no amount")]
    AmountNotAllowed,
    #[error("currency must be a three-letter ISO 4217 code")]
    UnsupportedCurrency,
    #[error("purchases and subscriptions are counted only from a signed server-side call or a verified webhook")]
    KindRequiresSignature,
    #[error("amounts are accepted only from a signed server-side call or a verified webhook")]
    AmountRequiresSignature,
}

impl EventError {
    pub fn status(&self) -> u16 {
        match self {
            EventError::TooLarge => 413,
            _ => 400,
        }
    }

    /// Stable machine-readable code for error bodies.
    pub fn code(&self) -> &'static str {
        match self {
            EventError::TooLarge => "event_too_large",
            EventError::InvalidJson => "invalid_json",
            EventError::MissingKind => "missing_event_kind",
            EventError::UnknownKind => "unknown_event_kind",
            EventError::InvalidAmount => "invalid_amount",
            EventError::AmountNotAllowed => "amount_not_allowed",
            EventError::UnsupportedCurrency => "unsupported_currency",
            EventError::KindRequiresSignature => "kind_requires_signature",
            EventError::AmountRequiresSignature => "amount_requires_signature",
        }
    }
}

/// The fields of a beacon body that carry the landing visit's source (the page's script
/// copies them from the landing URL, see `origin/templates/launch_beacon.html`).
pub const LANDING_FIELDS: [&str; 5] = [
    "ref",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "landing_referrer",
];
/// Longest landing value kept; attribution sanitises and bounds labels further.
pub const MAX_LANDING_VALUE_BYTES: usize = 500;

/// Parses and validates a beacon body.
pub fn parse_event(body: &[u8], rules: &EventRules) -> Result<ConversionEvent, EventError> {
    parse_event_with_landing(body, rules).map(|(event, _)| event)
}

/// [`parse_event`], plus the body's [`LANDING_FIELDS`] as `(name, value)` pairs (string
/// values only, each cut to [`MAX_LANDING_VALUE_BYTES`] at a character boundary), so a
/// beacon sent from the landing page is attributed to the visit's source.
pub fn parse_event_with_landing(
    body: &[u8],
    rules: &EventRules,
) -> Result<(ConversionEvent, Vec<(String, String)>), EventError> {
    if body.len() > MAX_EVENT_BODY_BYTES {
        return Err(EventError::TooLarge);
    }
    let value: Value = serde_json::from_slice(body).map_err(|_| EventError::InvalidJson)?;
    let object = value.as_object().ok_or(EventError::InvalidJson)?;
    let landing = LANDING_FIELDS
        .iter()
        .filter_map(|&name| {
            let value = object.get(name)?.as_str()?;
            let mut end = value.len().min(MAX_LANDING_VALUE_BYTES);
            while !value.is_char_boundary(end) {
                end -= 1;
            }
            Some((name.to_owned(), value[..end].to_owned()))
        })
        .collect();
    parse_object(object, rules).map(|event| (event, landing))
}

fn parse_object(
    object: &serde_json::Map<String, Value>,
    rules: &EventRules,
) -> Result<ConversionEvent, EventError> {
    let kind_name = object
        .get("kind")
        .and_then(Value::as_str)
        .ok_or(EventError::MissingKind)?;
    let kind = ConversionKind::parse(kind_name).ok_or(EventError::UnknownKind)?;
    if kind.carries_revenue() && !rules.amounts {
        return Err(EventError::KindRequiresSignature);
    }
    if !rules.allowed.contains(&kind) {
        return Err(EventError::UnknownKind);
    }
    let has = |field: &str| !matches!(object.get(field), None | Some(Value::Null));
    if !rules.amounts && (has("amount_cents") || has("currency")) {
        return Err(EventError::AmountRequiresSignature);
    }

    let amount_cents = match object.get("amount_cents") {
        None | Some(Value::Null) => 0,
        Some(amount) => {
            let amount = amount
                .as_i64()
                .filter(|a| (0..=MAX_AMOUNT_CENTS).contains(a))
                .ok_or(EventError::InvalidAmount)?;
            if !kind.carries_revenue() {
                return Err(EventError::AmountNotAllowed);
            }
            amount
        }
    };
    let currency = match object.get("currency") {
        None | Some(Value::Null) => None,
        Some(Value::String(code))
            if code.len() == 3 && code.bytes().all(|b| b.is_ascii_alphabetic()) =>
        {
            Some(code.to_ascii_lowercase())
        }
        Some(_) => return Err(EventError::UnsupportedCurrency),
    };
    Ok(ConversionEvent {
        kind,
        amount_cents,
        currency,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<ConversionEvent, EventError> {
        parse_event(body.as_bytes(), &EventRules::default())
    }

    #[test]
    fn a_beacon_carries_the_landing_visits_source_fields_and_nothing_else() {
        let long = "x".repeat(2_000);
        let body = format!(
            r#"{{"kind":"signup","ref":"producthunt","utm_campaign":"launch-day","other":"no","utm_medium":7,"landing_referrer":"{long}"}}"#
        );
        let (event, landing) =
            parse_event_with_landing(body.as_bytes(), &EventRules::public()).unwrap();
        assert_eq!(event.kind, ConversionKind::Signup);
        let names: Vec<&str> = landing.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["ref", "utm_campaign", "landing_referrer"]);
        assert_eq!(landing[0].1, "producthunt");
        assert_eq!(landing[2].1.len(), MAX_LANDING_VALUE_BYTES);
    }

    #[test]
    fn a_signup_is_accepted_without_an_amount() {
        assert_eq!(
            parse(r#"{"kind":"signup"}"#),
            Ok(ConversionEvent {
                kind: ConversionKind::Signup,
                amount_cents: 0,
                currency: None,
            })
        );
    }

    #[test]
    fn a_purchase_carries_its_amount_in_minor_units() {
        assert_eq!(
            parse(r#"{"kind":"purchase","amount_cents":4900,"currency":"USD"}"#),
            Ok(ConversionEvent {
                kind: ConversionKind::Purchase,
                amount_cents: 4900,
                currency: Some("usd".into()),
            })
        );
        assert_eq!(
            parse(r#"{"kind":"purchase","amount_cents":4900,"currency":"usd"}"#)
                .unwrap()
                .amount_cents,
            4900
        );
    }

    #[test]
    fn malformed_json_is_invalid_json() {
        for body in [
            "",
            "{",
            "not json",
            "[1,2]",
            "\"signup\"",
            "null",
            "{\"kind\":}",
        ] {
            let error = parse(body).unwrap_err();
            assert_eq!(
                (error.status(), error.code()),
                (400, "invalid_json"),
                "{body}"
            );
        }
    }

    #[test]
    fn an_unknown_kind_is_rejected_with_its_own_code() {
        for body in [
            r#"{"kind":"vote"}"#,
            r#"{"kind":"SIGNUP"}"#,
            r#"{"kind":"view"}"#,
        ] {
            let error = parse(body).unwrap_err();
            assert_eq!(
                (error.status(), error.code()),
                (400, "unknown_event_kind"),
                "{body}"
            );
        }
        assert_eq!(parse(r#"{"amount_cents":1}"#), Err(EventError::MissingKind));
        assert_eq!(parse(r#"{"kind":7}"#), Err(EventError::MissingKind));
    }

    #[test]
    fn a_kind_the_launch_did_not_enable_is_unknown() {
        let rules = EventRules::default()
            .with_kinds("signup, purchase")
            .unwrap();
        assert!(parse_event(br#"{"kind":"signup"}"#, &rules).is_ok());
        assert_eq!(
            parse_event(br#"{"kind":"trial"}"#, &rules),
            Err(EventError::UnknownKind)
        );
        assert!(EventRules::default().with_kinds("signup,vote").is_err());
        assert!(EventRules::default().with_kinds(" , ").is_err());
    }

    #[test]
    fn amounts_must_be_whole_bounded_and_on_a_revenue_kind() {
        for body in [
            r#"{"kind":"purchase","amount_cents":-1}"#,
            r#"{"kind":"purchase","amount_cents":49.5}"#,
            r#"{"kind":"purchase","amount_cents":"4900"}"#,
            r#"{"kind":"purchase","amount_cents":100000001}"#,
            r#"{"kind":"purchase","amount_cents":1e30}"#,
        ] {
            assert_eq!(parse(body), Err(EventError::InvalidAmount), "{body}");
        }
        assert_eq!(
            parse(r#"{"kind":"signup","amount_cents":100}"#),
            Err(EventError::AmountNotAllowed)
        );
        assert_eq!(
            parse(r#"{"kind":"purchase","amount_cents":100000000}"#)
                .unwrap()
                .amount_cents,
            MAX_AMOUNT_CENTS
        );
    }

    #[test]
    fn a_currency_is_kept_with_its_amount_and_a_malformed_one_is_refused() {
        assert_eq!(
            parse(r#"{"kind":"purchase","amount_cents":100,"currency":"EUR"}"#)
                .unwrap()
                .currency
                .as_deref(),
            Some("eur")
        );
        for bad in [r#""EURO""#, r#""€""#, r#""E1R""#, "5"] {
            let body = format!(r#"{{"kind":"purchase","amount_cents":100,"currency":{bad}}}"#);
            assert_eq!(parse(&body), Err(EventError::UnsupportedCurrency), "{bad}");
        }
    }

    #[test]
    fn oversized_bodies_are_413() {
        let error = EventError::TooLarge;
        assert_eq!((error.status(), error.code()), (413, "event_too_large"));

        let padding = "x".repeat(MAX_EVENT_BODY_BYTES);
        let body = format!(r#"{{"kind":"signup","pad":"{padding}"}}"#);
        assert_eq!(parse(&body), Err(EventError::TooLarge));
    }

    #[test]
    fn the_public_beacon_refuses_money_with_its_own_codes_and_accepts_the_rest() {
        let public = |body: &str| parse_event(body.as_bytes(), &EventRules::public());
        for body in [
            r#"{"kind":"purchase","amount_cents":2000000}"#,
            r#"{"kind":"purchase"}"#,
            r#"{"kind":"subscribe","amount_cents":900}"#,
        ] {
            let error = public(body).unwrap_err();
            assert_eq!(
                (error.status(), error.code()),
                (400, "kind_requires_signature"),
                "{body}"
            );
        }
        for body in [
            r#"{"kind":"signup","amount_cents":100}"#,
            r#"{"kind":"signup","amount_cents":0}"#,
            r#"{"kind":"lead","currency":"USD"}"#,
        ] {
            let error = public(body).unwrap_err();
            assert_eq!(
                (error.status(), error.code()),
                (400, "amount_requires_signature"),
                "{body}"
            );
        }
        for kind in ["signup", "trial", "lead"] {
            let event = public(&format!(r#"{{"kind":"{kind}","amount_cents":null}}"#)).unwrap();
            assert_eq!((event.kind.as_str(), event.amount_cents), (kind, 0));
        }
        assert_eq!(public(r#"{"kind":"vote"}"#), Err(EventError::UnknownKind));
    }

    #[test]
    fn unknown_extra_fields_are_ignored() {
        assert_eq!(
            parse(r#"{"kind":"lead","page":"/pricing","v":2}"#)
                .unwrap()
                .kind,
            ConversionKind::Lead
        );
    }

    #[test]
    fn kind_names_round_trip() {
        for kind in ConversionKind::ALL {
            assert_eq!(ConversionKind::parse(kind.as_str()), Some(kind));
            assert_eq!(kind.to_string(), kind.as_str());
        }
    }
}
