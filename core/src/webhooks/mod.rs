//! Signed webhook receiver, the pure half: verify, identify and interpret an event from
//! its raw body bytes, headers and `now`, with no `worker` types.
//!
//! Why pure: every rule that decides whether an event is genuine (the signature schemes,
//! key rotation, the replay window, the dedupe id) is tested natively and fuzzed here; the
//! glue only reads the request, remembers ids in a Durable Object and counts.
//!
//! Layout:
//! - [`standard`], [`stripe`], [`producthunt`]: one signature scheme each (header parser,
//!   `verify`, and a `sign` used by tests and relays).
//! - [`crypto`]: HMAC, constant-time matching, timestamps and ids shared by the schemes.
//! - [`sources`]: `WEBHOOK_SOURCES` and `WEBHOOK_SECRETS_<NAME>` parsed into sources.
//! - [`events`]: a verified JSON body interpreted into an event type and a conversion.
//! - [`inbox`]: where an event is deduped, its counted conversion, its ingest batches.
//!
//! Glue, in order: look the source up ([`WebhookSources::get`], 404), refuse a
//! `Content-Length` above [`MAX_BODY_BYTES`] before reading, then [`receive`]; map any
//! [`WebhookError`] with [`WebhookError::status`] and [`WebhookError::reason`]. Dedupe on
//! `(source, event_id)`: the id is always covered by the signature, so it cannot be
//! changed to slip a replay past the dedupe store.

pub mod crypto;
pub mod events;
pub mod inbox;
pub mod producthunt;
pub mod sources;
pub mod standard;
pub mod stripe;

use std::borrow::Cow;
use std::fmt;

use launch_edge_proto::batch::WebhookEventRecord;
use launch_edge_proto::Secret;

pub use events::{interpret, Conversion, InterpretedEvent};
pub use sources::{SourcesError, WebhookSource, WebhookSources};

/// How far a signed timestamp may be from our clock, either way (Standard Webhooks and
/// Stripe both default to five minutes).
pub const DEFAULT_TOLERANCE_SECS: u64 = 300;

/// Largest body accepted, in bytes. Real events are a few KiB; the bound keeps hashing and
/// JSON parsing within a worker's CPU budget and the stored payload small.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// A signature scheme a source is configured with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Standard Webhooks (svix): `webhook-id`, `webhook-timestamp`, `webhook-signature`.
    StandardWebhooks,
    /// `Stripe-Signature: t=..,v1=..`.
    Stripe,
    /// `X-ProductHunt-Signature: sha256=..` with `X-ProductHunt-Timestamp`, for relays.
    ProductHunt,
}

impl Scheme {
    /// The name used in `WEBHOOK_SOURCES` (`standard`, `stripe`, `producthunt`).
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "standard" => Some(Self::StandardWebhooks),
            "stripe" => Some(Self::Stripe),
            "producthunt" => Some(Self::ProductHunt),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::StandardWebhooks => "standard",
            Self::Stripe => "stripe",
            Self::ProductHunt => "producthunt",
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a webhook was refused. Nothing in it carries a secret or an expected signature:
/// [`WebhookError::reason`] is safe to send back and to log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("body is larger than {MAX_BODY_BYTES} bytes")]
    BodyTooLarge,
    #[error("header {0} is missing")]
    MissingHeader(&'static str),
    #[error("header {0} is malformed")]
    MalformedHeader(&'static str),
    #[error("timestamp is outside the tolerance window")]
    TimestampOutsideTolerance,
    /// No active secret produced any presented signature (wrong secret, unknown key,
    /// tampered body, id or timestamp).
    #[error("no signature matches an active secret")]
    SignatureMismatch,
    #[error("no webhook source has this name")]
    UnknownSource,
    #[error("body is not a JSON object")]
    InvalidJson,
    /// A conversion event whose named field is missing or out of range.
    #[error("conversion field {0} is missing or invalid")]
    InvalidConversion(&'static str),
}

impl WebhookError {
    pub fn status(&self) -> u16 {
        match self {
            Self::MissingHeader(_)
            | Self::MalformedHeader(_)
            | Self::InvalidJson
            | Self::InvalidConversion(_) => 400,
            Self::TimestampOutsideTolerance | Self::SignatureMismatch => 401,
            Self::UnknownSource => 404,
            Self::BodyTooLarge => 413,
        }
    }

    /// A stable machine-readable code, one per variant.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BodyTooLarge => "body_too_large",
            Self::MissingHeader(_) => "missing_header",
            Self::MalformedHeader(_) => "malformed_header",
            Self::TimestampOutsideTolerance => "timestamp_outside_tolerance",
            Self::SignatureMismatch => "signature_mismatch",
            Self::UnknownSource => "unknown_source",
            Self::InvalidJson => "invalid_json",
            Self::InvalidConversion(_) => "invalid_conversion",
        }
    }

    /// The code with the header or field it concerns, e.g. `missing_header:webhook-id`.
    pub fn reason(&self) -> Cow<'static, str> {
        match self {
            Self::MissingHeader(what)
            | Self::MalformedHeader(what)
            | Self::InvalidConversion(what) => Cow::Owned(format!("{}:{what}", self.code())),
            _ => Cow::Borrowed(self.code()),
        }
    }
}

/// What a valid signature establishes: which event this is and when it was signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedEvent {
    /// The dedupe id: the scheme's id, or `sha256:<hex>` of the signed content.
    pub event_id: String,
    /// The signed timestamp, Unix seconds.
    pub timestamp: i64,
}

/// Checks `body` against the headers with the given scheme and active secrets.
///
/// `headers` looks a header up by name and must be case-insensitive (as `worker::Headers`
/// is). Checks run cheapest first: body size (413), headers present and well formed (400),
/// timestamp within `tolerance_secs` of `now_secs` (401), then the signature (401).
pub fn verify(
    scheme: Scheme,
    secrets: &[Secret],
    headers: impl Fn(&str) -> Option<String>,
    body: &[u8],
    now_secs: i64,
    tolerance_secs: u64,
) -> Result<VerifiedEvent, WebhookError> {
    // Each scheme checks the body size first itself, as its `verify` is public too.
    match scheme {
        Scheme::StandardWebhooks => {
            standard::verify(secrets, headers, body, now_secs, tolerance_secs)
        }
        Scheme::Stripe => stripe::verify(secrets, headers, body, now_secs, tolerance_secs),
        Scheme::ProductHunt => {
            producthunt::verify(secrets, headers, body, now_secs, tolerance_secs)
        }
    }
}

pub(crate) fn check_body_size(body: &[u8]) -> Result<(), WebhookError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(WebhookError::BodyTooLarge);
    }
    Ok(())
}

/// A verified, interpreted event: what the glue dedupes, stores and counts.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedEvent {
    pub event_id: String,
    pub timestamp: i64,
    pub event_type: String,
    pub payload: serde_json::Value,
    pub conversion: Option<Conversion>,
}

impl ReceivedEvent {
    /// The row the origin stores once per `(source, event_id)`.
    pub fn record(&self, source: &str, received_at_ms: i64) -> WebhookEventRecord {
        WebhookEventRecord {
            source: source.to_owned(),
            event_id: self.event_id.clone(),
            event_type: self.event_type.clone(),
            received_at_ms,
            payload: self.payload.clone(),
        }
    }
}

/// Verifies with the source's scheme, secrets and tolerance, then interprets the body.
/// Any error means the event must be neither stored nor counted.
pub fn receive(
    source: &WebhookSource,
    headers: impl Fn(&str) -> Option<String>,
    body: &[u8],
    now_secs: i64,
) -> Result<ReceivedEvent, WebhookError> {
    let verified = source.verify(headers, body, now_secs)?;
    let interpreted = interpret(source.scheme, body)?;
    Ok(ReceivedEvent {
        event_id: verified.event_id,
        timestamp: verified.timestamp,
        event_type: interpreted.event_type,
        payload: interpreted.payload,
        conversion: interpreted.conversion,
    })
}

/// A header lookup over fixed pairs, case-insensitive like real HTTP headers (tests, fuzzing).
pub fn header_pairs<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
    move |name| {
        pairs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| (*v).to_owned())
    }
}

#[cfg(test)]
mod tests;
