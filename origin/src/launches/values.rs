//! The launch file's values that have rules of their own, each a newtype whose `parse`
//! says what is allowed when it refuses.

use std::fmt;

use chrono::{DateTime, FixedOffset, LocalResult, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use chrono_tz::America::Los_Angeles;

use super::markdown;

/// A page language the worker asks for (`PAGE_VARIANTS = "lang=en|fr|de"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Lang {
    En,
    Fr,
    De,
}

impl Lang {
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "en" => Ok(Self::En),
            "fr" => Ok(Self::Fr),
            "de" => Ok(Self::De),
            other => Err(format!(
                "{other:?} is not a page language: en, fr or de (the worker's PAGE_VARIANTS)"
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Fr => "fr",
            Self::De => "de",
        }
    }
}

/// `[a-z0-9_-]{1,32}`: a call-to-action's name in `/go/<slug>?to=<name>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CtaName(String);

impl CtaName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let ok = (1..=32).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(format!(
                "{raw:?}: 1 to 32 characters of a-z, 0-9, - and _ (it is the link's ?to= value)"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CtaName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An absolute https URL on a domain name (no credentials, no IP address), at most 2,000
/// characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpsUrl(url::Url);

impl HttpsUrl {
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.len() > 2000 {
            return Err("at most 2000 characters".into());
        }
        let url = url::Url::parse(raw).map_err(|e| format!("{raw:?} is not a URL ({e})"))?;
        if url.scheme() != "https" {
            return Err(format!("{raw:?}: only https:// URLs are allowed"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(format!("{raw:?}: a URL must not carry credentials"));
        }
        match url.host() {
            Some(url::Host::Domain(_)) => Ok(Self(url)),
            _ => Err(format!("{raw:?}: the host must be a domain name")),
        }
    }

    pub fn host(&self) -> &str {
        self.0.host_str().unwrap_or_default()
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Display for HttpsUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

/// A host of the call-to-action allowlist: it allows itself and its subdomains
/// (`acme.dev` allows `app.acme.dev`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern(String);

impl HostPattern {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let host = raw.trim().to_ascii_lowercase();
        let label_ok = |l: &str| {
            (1..=63).contains(&l.len())
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        };
        let ok = host.len() <= 253
            && host.contains('.')
            && host.split('.').all(label_ok)
            && !host.bytes().all(|b| b.is_ascii_digit() || b == b'.');
        if ok {
            Ok(Self(host))
        } else {
            Err(format!(
                "{raw:?} is not a host name: e.g. \"acme.dev\" (no scheme, port, path or wildcard; it also allows its subdomains)"
            ))
        }
    }

    /// Whether `host` is this host or one of its subdomains.
    pub fn covers(&self, host: &str) -> bool {
        host == self.0
            || host
                .strip_suffix(self.0.as_str())
                .is_some_and(|rest| rest.ends_with('.'))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An https origin (`https://app.acme.dev`, a port allowed), the form a browser sends in
/// `Origin`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpsOrigin(String);

impl HttpsOrigin {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let url = HttpsUrl::parse(raw)?;
        let bare = url.0.path() == "/" && url.0.query().is_none() && url.0.fragment().is_none();
        if !bare || raw.trim_end_matches('/').matches('/').count() != 2 {
            return Err(format!(
                "{raw:?}: an origin is scheme and host only, e.g. \"https://app.acme.dev\""
            ));
        }
        Ok(Self(url.0.origin().ascii_serialization()))
    }
}

impl fmt::Display for HttpsOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A Product Hunt post slug: `[a-z0-9-]`, at most 100 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostSlug(String);

impl PostSlug {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let ok = (1..=100).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !raw.starts_with('-')
            && !raw.ends_with('-');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(format!(
                "{raw:?}: the slug of producthunt.com/posts/<slug>: a-z, 0-9 and hyphens"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn url(&self) -> String {
        format!("https://www.producthunt.com/posts/{}", self.0)
    }
}

/// `#rgb` or `#rrggbb`, lowercased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Color(String);

impl Default for Color {
    /// Product Hunt's orange.
    fn default() -> Self {
        Self("#da552f".into())
    }
}

impl Color {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let hex = raw.strip_prefix('#').unwrap_or("");
        if matches!(hex.len(), 3 | 6) && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self(raw.to_ascii_lowercase()))
        } else {
            Err(format!(
                "{raw:?}: a colour as #rgb or #rrggbb, e.g. \"#da552f\""
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An ISO 4217 currency code, uppercase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Currency(iso_currency::Currency);

impl Currency {
    pub fn parse(raw: &str) -> Result<Self, String> {
        iso_currency::Currency::from_code(raw)
            .filter(|_| raw.bytes().all(|b| b.is_ascii_uppercase()))
            .map(Self)
            .ok_or_else(|| {
                format!(
                    "{raw:?} is not an ISO 4217 currency code: e.g. \"USD\", \"EUR\" (uppercase)"
                )
            })
    }

    pub fn as_str(&self) -> &'static str {
        self.0.code()
    }
}

/// A spend channel: `[a-z0-9._-]{1,64}`, the shape of the worker's source labels.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Channel(String);

impl Channel {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let ok = (1..=64).contains(&raw.len())
            && raw.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
            });
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(format!(
                "{raw:?} is not a channel name: 1 to 64 characters of a-z, 0-9, ., _ and -"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TwitterCard {
    Summary,
    SummaryLargeImage,
}

impl TwitterCard {
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "summary" => Ok(Self::Summary),
            "summary_large_image" => Ok(Self::SummaryLargeImage),
            other => Err(format!("{other:?}: \"summary\" or \"summary_large_image\"")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Summary => "summary",
            Self::SummaryLargeImage => "summary_large_image",
        }
    }
}

/// `@handle`: 1 to 15 letters, digits or underscores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwitterHandle(String);

impl TwitterHandle {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let name = raw.strip_prefix('@').unwrap_or("");
        if (1..=15).contains(&name.len())
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            Ok(Self(raw.to_owned()))
        } else {
            Err(format!(
                "{raw:?}: a handle like \"@acme\" (1 to 15 letters, digits or _)"
            ))
        }
    }
}

impl fmt::Display for TwitterHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A description in Markdown that [`markdown::check`] accepted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Markdown(String);

impl Markdown {
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.len() > super::spec::MAX_DESCRIPTION_BYTES {
            return Err(format!(
                "at most {} bytes of Markdown (it has {})",
                super::spec::MAX_DESCRIPTION_BYTES,
                raw.len()
            ));
        }
        if raw
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err("must not contain control characters".into());
        }
        markdown::check(raw)?;
        Ok(Self(raw.trim().to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn to_html(&self) -> String {
        markdown::to_html(&self.0)
    }
}

/// `2026-12-10T00:01:00` in Pacific time, or RFC 3339 with an explicit offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LaunchTime(DateTime<chrono_tz::Tz>);

impl LaunchTime {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if let Ok(t) = DateTime::<FixedOffset>::parse_from_rfc3339(raw) {
            return Ok(Self(t.with_timezone(&Los_Angeles)));
        }
        let naive = NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S")
            .or_else(|_| NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M"))
            .map_err(|_| {
                format!("{raw:?} is not a time: use \"2026-12-10T00:01:00\" (Pacific time) or add an offset (\"2026-12-10T08:01:00Z\")")
            })?;
        match Los_Angeles.from_local_datetime(&naive) {
            LocalResult::Single(t) => Ok(Self(t)),
            LocalResult::Ambiguous(..) => Err(format!(
                "{raw} happens twice in Pacific time (clocks go back that night): add the offset, -07:00 or -08:00"
            )),
            LocalResult::None => Err(format!(
                "{raw} does not exist in Pacific time (clocks skip that hour): pick another time"
            )),
        }
    }

    pub fn utc(&self) -> DateTime<Utc> {
        self.0.with_timezone(&Utc)
    }

    pub fn pacific(&self) -> DateTime<chrono_tz::Tz> {
        self.0
    }
}

impl fmt::Display for LaunchTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::Secs, false))
    }
}

#[cfg(test)]
mod tests {
    use super::HttpsUrl;

    /// The origin keeps full IDNA (its own Cargo.lock; the worker's pins an ASCII-only
    /// `idna_adapter`): a CTA on a Unicode host is stored, and reaches the worker, in
    /// its ASCII form.
    #[test]
    fn a_cta_on_a_unicode_host_is_kept_in_its_ascii_form() {
        let url = HttpsUrl::parse("https://bücher.example/signup").unwrap();
        assert_eq!(url.host(), "xn--bcher-kva.example");
        assert_eq!(url.as_str(), "https://xn--bcher-kva.example/signup");
    }
}
