//! The launch dashboard: the page a team keeps open on launch day, and the launch index.
//!
//! - [`data`]: the queries (minute series, Product Hunt stats, edge counters, headlines).
//! - [`svg`]: the server-side SVG chart renderer (no scripts, no CDN, works offline).
//! - [`view`]: turns a [`crate::reports::Report`] and the series into the page model;
//!   figures are computed by the report and only formatted here.
//!
//! Routes and access control live in [`crate::routes::dashboard`].

pub mod csv;
pub mod data;
pub mod period;
pub mod svg;
pub mod view;

const DASH: &str = "—";

/// An integer with thousands separators: `12,345`.
pub fn count(value: i64) -> String {
    let digits = value.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if value < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Minor units as `1,234.56 USD` (two decimals, as every configured currency has).
pub fn money(cents: i64, currency: &str) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    let whole = count(i64::try_from(abs / 100).unwrap_or(i64::MAX));
    format!("{sign}{whole}.{:02} {currency}", abs % 100)
}

pub fn money_or_dash(cents: Option<i64>, currency: &str) -> String {
    cents.map_or_else(|| DASH.to_owned(), |c| money(c, currency))
}

/// A fraction as a percentage with two decimals, or a dash when undefined.
pub fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| DASH.to_owned(), |r| format!("{:.2}%", r * 100.0))
}

pub fn times(rate: Option<f64>) -> String {
    rate.map_or_else(|| DASH.to_owned(), |r| format!("{r:.2}x"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_get_thousands_separators() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_000), "1,000");
        assert_eq!(count(45_000_123), "45,000,123");
        assert_eq!(count(-12_345), "-12,345");
    }

    #[test]
    fn money_and_rates_are_formatted_for_people() {
        assert_eq!(money(123_456, "USD"), "1,234.56 USD");
        assert_eq!(money(-5, "EUR"), "-0.05 EUR");
        assert_eq!(percent(Some(0.275)), "27.50%");
        assert_eq!(percent(None), DASH);
        assert_eq!(times(Some(3.0)), "3.00x");
    }
}
