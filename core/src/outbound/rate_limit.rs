//! Lenient parsing of the rate-limit headers that real APIs send, into one shape.
//!
//! Servers disagree on names and units, and a proxy may duplicate a header, so every
//! form seen in the wild is accepted and anything unparseable is ignored (never an
//! error, never a panic): a missing number only means the budget learns less.
//!
//! | headers | meaning of reset |
//! | --- | --- |
//! | `X-Rate-Limit-Limit/Remaining/Reset` (Product Hunt) | seconds until reset |
//! | `X-RateLimit-Limit/Remaining/Reset` (GitHub, Discord, ...) | seconds until, or a Unix epoch |
//! | `X-RateLimit-Reset-After` (Discord) | seconds until, with decimals; preferred |
//! | `RateLimit-Limit/Remaining/Reset` (IETF draft) | seconds until |
//! | `RateLimit: limit=.., remaining=.., reset=..` or `"p";r=..;t=..` (later drafts) | seconds until |
//! | `Retry-After` | delta-seconds or an HTTP-date |
//!
//! A reset value of at least 10^9 cannot be a delay (that would be 31 years), so it is
//! read as a Unix epoch in seconds, and from 10^12 as one in milliseconds. All times are
//! returned as milliseconds from `now_ms`, clamped at zero for instants in the past.
//! Numeric headers take the first comma-separated item and drop `;param`s, so
//! `RateLimit-Limit: 100, 100;w=60` reads as 100.

use chrono::{DateTime, NaiveDateTime};

/// Epochs in milliseconds, and the largest delay worth representing (about 317 years).
const MAX_MS: f64 = 1e13;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimitInfo {
    /// Requests or points per window.
    pub limit: Option<u64>,
    /// Left in the current window.
    pub remaining: Option<u64>,
    /// Until the window resets.
    pub reset_after_ms: Option<u64>,
    /// From `Retry-After`.
    pub retry_after_ms: Option<u64>,
}

impl RateLimitInfo {
    /// Reads every supported form. `header` looks a name up case-insensitively (as
    /// `fetch`'s `Headers::get` does); names are passed in lowercase.
    pub fn parse(header: impl Fn(&str) -> Option<String>, now_ms: u64) -> Self {
        let structured = header("ratelimit")
            .map(|v| parse_structured(&v))
            .unwrap_or_default();
        let first_count = |names: &[&str]| names.iter().find_map(|n| header(n).and_then(count));

        let limit = first_count(&["x-rate-limit-limit", "x-ratelimit-limit", "ratelimit-limit"])
            .or(structured.limit);
        let remaining = first_count(&[
            "x-rate-limit-remaining",
            "x-ratelimit-remaining",
            "ratelimit-remaining",
        ])
        .or(structured.remaining);
        let reset_after_ms = header("x-ratelimit-reset-after")
            .and_then(|v| number(&v))
            .and_then(secs_to_ms)
            .or_else(|| {
                ["x-rate-limit-reset", "x-ratelimit-reset", "ratelimit-reset"]
                    .iter()
                    .find_map(|n| reset_to_ms(number(&header(n)?)?, now_ms))
            })
            .or(structured.reset_after_ms);
        let retry_after_ms = header("retry-after").and_then(|v| retry_after(&v, now_ms));

        Self {
            limit,
            remaining,
            reset_after_ms,
            retry_after_ms,
        }
    }

    /// True when the server said nothing usable.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// The delay the server asked for before the next call, if any: `Retry-After`
    /// always; otherwise the window reset, but only when throttled (a 429, or nothing
    /// remaining). A 503 that merely reports a quarter-hour window with plenty left must
    /// not postpone a retry by the whole window.
    pub fn server_delay_ms(&self, status: Option<u16>) -> Option<u64> {
        let throttled = status == Some(429) || self.remaining == Some(0);
        self.retry_after_ms
            .or(if throttled { self.reset_after_ms } else { None })
    }
}

/// The first item of a possibly repeated header, without parameters or quotes.
fn first_item(value: &str) -> &str {
    let item = value.split(',').next().unwrap_or("");
    let item = item.split(';').next().unwrap_or("");
    item.trim().trim_matches('"').trim()
}

/// A non-negative decimal (`60`, `1.337`): digits, optionally a point and more digits.
/// Read here rather than by `str::parse::<f64>`, whose general float grammar (exponents,
/// `inf`, `NaN`) no rate-limit header uses and whose tables are 17 KiB of the WASM.
fn number(value: &str) -> Option<f64> {
    let item = first_item(value);
    let (int, frac) = item.split_once('.').unwrap_or((item, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) {
        return None;
    }
    // Anything past 20 integer digits is far beyond MAX_MS anyway; beyond 9 fraction
    // digits is below a nanosecond.
    if int.len() > 20 {
        return None;
    }
    let whole = int
        .bytes()
        .fold(0f64, |n, b| n * 10.0 + f64::from(b - b'0'));
    let (fraction, _) = frac.bytes().take(9).fold((0f64, 0.1), |(sum, unit), b| {
        (sum + f64::from(b - b'0') * unit, unit / 10.0)
    });
    Some(whole + fraction)
}

fn count(value: String) -> Option<u64> {
    let v = number(&value)?;
    (v <= MAX_MS).then(|| v.floor() as u64)
}

fn secs_to_ms(secs: f64) -> Option<u64> {
    let ms = (secs * 1000.0).round();
    (ms <= MAX_MS).then_some(ms as u64)
}

/// A reset value: seconds until the reset, or a Unix epoch in seconds or milliseconds.
fn reset_to_ms(value: f64, now_ms: u64) -> Option<u64> {
    if value >= 1e12 {
        (value <= MAX_MS).then(|| (value.round() as u64).saturating_sub(now_ms))
    } else if value >= 1e9 {
        secs_to_ms(value).map(|at| at.saturating_sub(now_ms))
    } else {
        secs_to_ms(value)
    }
}

/// `Retry-After`: delta-seconds (decimals tolerated) or an HTTP-date.
fn retry_after(value: &str, now_ms: u64) -> Option<u64> {
    let value = value.trim();
    if value.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
        return secs_to_ms(number(value)?);
    }
    let at_ms = http_date_ms(value)?;
    Some(u64::try_from(at_ms).unwrap_or(0).saturating_sub(now_ms))
}

/// The three HTTP-date forms of RFC 9110: IMF-fixdate, RFC 850 and asctime, all UTC.
pub fn http_date_ms(value: &str) -> Option<i64> {
    let value = value.trim();
    if let Ok(t) = DateTime::parse_from_rfc2822(value) {
        return Some(t.timestamp_millis());
    }
    ["%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"]
        .iter()
        .find_map(|fmt| NaiveDateTime::parse_from_str(value, fmt).ok())
        .map(|t| t.and_utc().timestamp_millis())
}

/// `RateLimit: limit=100, remaining=50, reset=30` or `RateLimit: "default";r=50;t=30`.
fn parse_structured(value: &str) -> RateLimitInfo {
    let mut info = RateLimitInfo::default();
    for part in value.split([',', ';']) {
        let Some((key, raw)) = part.split_once('=') else {
            continue;
        };
        let raw = raw.trim().trim_matches('"');
        match key.trim().to_ascii_lowercase().as_str() {
            "limit" | "l" => info.limit = info.limit.or(count(raw.to_owned())),
            "remaining" | "r" => info.remaining = info.remaining.or(count(raw.to_owned())),
            "reset" | "t" => {
                info.reset_after_ms = info.reset_after_ms.or(number(raw).and_then(secs_to_ms))
            }
            _ => {}
        }
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-01T08:00:00Z.
    const NOW_MS: u64 = 1_796_112_000_000;

    fn parse(headers: &[(&str, &str)]) -> RateLimitInfo {
        let lookup = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| (*v).to_owned())
        };
        RateLimitInfo::parse(lookup, NOW_MS)
    }

    #[test]
    fn product_hunt_headers_give_seconds_until_reset() {
        let info = parse(&[
            ("X-Rate-Limit-Limit", "6250"),
            ("X-Rate-Limit-Remaining", "5000"),
            ("X-Rate-Limit-Reset", "812"),
        ]);
        assert_eq!(
            info,
            RateLimitInfo {
                limit: Some(6250),
                remaining: Some(5000),
                reset_after_ms: Some(812_000),
                retry_after_ms: None,
            }
        );
    }

    #[test]
    fn x_ratelimit_reset_as_an_epoch_becomes_a_delay_from_now() {
        let info = parse(&[
            ("x-ratelimit-limit", "60"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", &(NOW_MS / 1000 + 42).to_string()),
        ]);
        assert_eq!(info.limit, Some(60));
        assert_eq!(info.remaining, Some(0));
        assert_eq!(info.reset_after_ms, Some(42_000));
        // Discord sends the epoch with decimals; a millisecond epoch works too.
        let discord = parse(&[("X-RateLimit-Reset", &format!("{}.250", NOW_MS / 1000 + 1))]);
        assert_eq!(discord.reset_after_ms, Some(1_250));
        let ms = parse(&[("X-RateLimit-Reset", &(NOW_MS + 1_500).to_string())]);
        assert_eq!(ms.reset_after_ms, Some(1_500));
    }

    #[test]
    fn an_epoch_in_the_past_means_reset_now() {
        let info = parse(&[("X-RateLimit-Reset", &(NOW_MS / 1000 - 5).to_string())]);
        assert_eq!(info.reset_after_ms, Some(0));
    }

    #[test]
    fn x_ratelimit_reset_as_seconds_until_is_kept_as_a_delay() {
        assert_eq!(
            parse(&[("X-RateLimit-Reset", "30")]).reset_after_ms,
            Some(30_000)
        );
    }

    #[test]
    fn discord_reset_after_has_decimals_and_wins_over_reset() {
        let info = parse(&[
            ("X-RateLimit-Limit", "5"),
            ("X-RateLimit-Remaining", "0"),
            ("X-RateLimit-Reset", &(NOW_MS / 1000 + 60).to_string()),
            ("X-RateLimit-Reset-After", "1.337"),
        ]);
        assert_eq!(info.reset_after_ms, Some(1_337));
        assert_eq!(info.limit, Some(5));
    }

    #[test]
    fn ietf_draft_ratelimit_fields_are_read() {
        let info = parse(&[
            ("RateLimit-Limit", "100, 100;w=60"),
            ("RateLimit-Remaining", "37"),
            ("RateLimit-Reset", "21"),
        ]);
        assert_eq!(info.limit, Some(100));
        assert_eq!(info.remaining, Some(37));
        assert_eq!(info.reset_after_ms, Some(21_000));
    }

    #[test]
    fn the_structured_ratelimit_header_is_read_in_both_draft_styles() {
        let old = parse(&[("RateLimit", "limit=10, remaining=4, reset=7")]);
        assert_eq!(
            (old.limit, old.remaining, old.reset_after_ms),
            (Some(10), Some(4), Some(7_000))
        );
        let new = parse(&[("RateLimit", "\"default\";r=0;t=12")]);
        assert_eq!(
            (new.limit, new.remaining, new.reset_after_ms),
            (None, Some(0), Some(12_000))
        );
    }

    #[test]
    fn retry_after_in_delta_seconds() {
        assert_eq!(
            parse(&[("Retry-After", "120")]).retry_after_ms,
            Some(120_000)
        );
        assert_eq!(parse(&[("Retry-After", " 0 ")]).retry_after_ms, Some(0));
        assert_eq!(parse(&[("Retry-After", "2.5")]).retry_after_ms, Some(2_500));
    }

    #[test]
    fn retry_after_as_an_http_date_in_all_three_forms_is_relative_to_now() {
        // NOW is Tue, 01 Dec 2026 08:00:00 GMT.
        for date in [
            "Tue, 01 Dec 2026 08:01:30 GMT",
            "Tuesday, 01-Dec-26 08:01:30 GMT",
            "Tue Dec  1 08:01:30 2026",
        ] {
            assert_eq!(
                parse(&[("Retry-After", date)]).retry_after_ms,
                Some(90_000),
                "{date}"
            );
        }
        let past = parse(&[("Retry-After", "Mon, 30 Nov 2026 08:00:00 GMT")]);
        assert_eq!(past.retry_after_ms, Some(0));
    }

    #[test]
    fn product_hunt_headers_take_precedence_over_other_families() {
        let info = parse(&[
            ("X-RateLimit-Remaining", "9"),
            ("X-Rate-Limit-Remaining", "3"),
            ("RateLimit", "remaining=1"),
        ]);
        assert_eq!(info.remaining, Some(3));
    }

    #[test]
    fn garbage_values_are_ignored_without_panicking() {
        let garbage = [
            "",
            " ",
            "abc",
            "-5",
            "NaN",
            "inf",
            "-inf",
            "1e400",
            "0x10",
            "12abc",
            ",,,",
            ";;",
            "\"\"",
            "999999999999999999999999",
            "1.2.3",
            ".",
            "+5",
            "5.-1",
            "Tue, 99 Foo 2026",
            "=",
            "💥",
        ];
        for g in garbage {
            let info = parse(&[
                ("X-Rate-Limit-Limit", g),
                ("X-Rate-Limit-Remaining", g),
                ("X-Rate-Limit-Reset", g),
                ("X-RateLimit-Reset-After", g),
                ("Retry-After", g),
                ("RateLimit", g),
            ]);
            assert!(info.is_empty(), "{g:?} gave {info:?}");
        }
        assert!(parse(&[]).is_empty());
    }

    #[test]
    fn one_bad_header_does_not_hide_a_good_one_of_another_family() {
        let info = parse(&[
            ("X-Rate-Limit-Remaining", "lots"),
            ("X-RateLimit-Remaining", "7"),
        ]);
        assert_eq!(info.remaining, Some(7));
    }

    #[test]
    fn retry_after_always_sets_the_server_delay_but_reset_only_when_throttled() {
        let retry = parse(&[("Retry-After", "3"), ("X-Rate-Limit-Reset", "600")]);
        assert_eq!(retry.server_delay_ms(Some(503)), Some(3_000));

        let plenty = parse(&[
            ("X-Rate-Limit-Remaining", "4000"),
            ("X-Rate-Limit-Reset", "600"),
        ]);
        assert_eq!(plenty.server_delay_ms(Some(503)), None);
        assert_eq!(plenty.server_delay_ms(Some(429)), Some(600_000));

        let spent = parse(&[
            ("X-Rate-Limit-Remaining", "0"),
            ("X-Rate-Limit-Reset", "600"),
        ]);
        assert_eq!(spent.server_delay_ms(None), Some(600_000));
    }
}
