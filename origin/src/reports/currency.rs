//! Revenue by currency: which revenue metric is in the launch's own currency and which
//! is not, so reports never add amounts of different currencies together.
//!
//! The worker counts revenue as `revenue_cents` when the sender named no currency (by
//! contract the launch's own) and as `revenue_cents.<code>` (`revenue_cents.eur`) when it
//! named one. A report takes `revenue_cents` plus `revenue_cents.<the launch's currency>`
//! as its revenue, the base of ROI and of a derived LTV; every other currency is listed
//! apart ([`CurrencyRevenue`]) and the report is flagged `mixed_currencies`. No rates are
//! known here, so nothing is converted.

use serde::{Deserialize, Serialize};

use super::metric;

/// Revenue in one currency other than the launch's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrencyRevenue {
    /// ISO 4217, uppercase (`EUR`), like the launch's `currency`.
    pub currency: String,
    pub revenue_cents: i64,
}

/// What a revenue metric is worth to a launch whose currency is `launch_currency`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevenueIn {
    /// In the launch's own currency: part of its revenue.
    Own,
    /// In another currency (uppercase code): listed apart.
    Other(String),
}

/// Classifies `name`: `None` when it is not a revenue metric at all.
pub fn revenue_in(name: &str, launch_currency: &str) -> Option<RevenueIn> {
    if name == metric::REVENUE_CENTS {
        return Some(RevenueIn::Own);
    }
    let code = name.strip_prefix(metric::REVENUE_CURRENCY_PREFIX)?;
    Some(if code.eq_ignore_ascii_case(launch_currency) {
        RevenueIn::Own
    } else {
        RevenueIn::Other(code.to_ascii_uppercase())
    })
}

/// Whether an ingested metric name is well formed as far as currencies go: a
/// `revenue_cents.` metric must end in three lowercase letters.
pub fn is_valid_revenue_metric(name: &str) -> bool {
    match name.strip_prefix(metric::REVENUE_CURRENCY_PREFIX) {
        Some(code) => code.len() == 3 && code.bytes().all(|b| b.is_ascii_lowercase()),
        None => true,
    }
}

/// Adds `value` to the entry of `currency` in `list` (kept sorted by currency).
pub fn add(list: &mut Vec<CurrencyRevenue>, currency: &str, value: i64) {
    match list.binary_search_by(|c| c.currency.as_str().cmp(currency)) {
        Ok(i) => list[i].revenue_cents = list[i].revenue_cents.saturating_add(value),
        Err(i) => list.insert(
            i,
            CurrencyRevenue {
                currency: currency.to_owned(),
                revenue_cents: value,
            },
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unstated_and_own_currency_revenue_is_the_launchs_and_the_rest_is_apart() {
        assert_eq!(revenue_in("revenue_cents", "USD"), Some(RevenueIn::Own));
        assert_eq!(revenue_in("revenue_cents.usd", "USD"), Some(RevenueIn::Own));
        assert_eq!(
            revenue_in("revenue_cents.eur", "USD"),
            Some(RevenueIn::Other("EUR".into()))
        );
        assert_eq!(revenue_in("purchase", "USD"), None);
        assert_eq!(revenue_in("revenue_centsx", "USD"), None);
    }

    #[test]
    fn only_three_lowercase_letters_make_a_currency_metric() {
        for ok in ["revenue_cents", "revenue_cents.usd", "signup", "view"] {
            assert!(is_valid_revenue_metric(ok), "{ok}");
        }
        for bad in [
            "revenue_cents.",
            "revenue_cents.USD",
            "revenue_cents.usdx",
            "revenue_cents.u1d",
        ] {
            assert!(!is_valid_revenue_metric(bad), "{bad}");
        }
    }

    #[test]
    fn amounts_add_up_per_currency_only() {
        let mut list = Vec::new();
        add(&mut list, "GBP", 5);
        add(&mut list, "EUR", 7);
        add(&mut list, "GBP", 1);
        let shown: Vec<(&str, i64)> = list
            .iter()
            .map(|c| (c.currency.as_str(), c.revenue_cents))
            .collect();
        assert_eq!(shown, [("EUR", 7), ("GBP", 6)]);
    }
}
