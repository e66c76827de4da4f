//! Launch reports: funnel, conversion, CAC vs LTV, ROI, per launch and Pacific day.
//!
//! [`build`] reads the day tables and the visitor sketches and hands plain totals to
//! [`Report::compute`], a pure function of its inputs: the JSON API and the `report`
//! subcommand both call [`build`], so they cannot disagree.
//!
//! Definitions (all money in integer minor units of the launch's currency):
//! - views / bot views / clicks: the `view`, `bot_view`, `click` metrics; revenue:
//!   `revenue_cents` (no currency named) plus `revenue_cents.<the launch's currency>`;
//!   revenue in any other currency is listed apart in `other_currency_revenue` and the
//!   report is flagged `mixed_currencies`, never added (see [`currency`]); every other
//!   metric is a conversion of that kind.
//! - unique visitors: the sketch estimate per Pacific day; across days, the sum of the
//!   daily estimates (visitor-days: the hashing salt rotates at PT midnight, so the same
//!   person cannot be recognised on two days).
//! - spend: `cost_per_visitor_cents × unique visitors` when the launch sets a cost per
//!   visitor, else the launch's fixed `spend_cents` (the campaign total, counted in full
//!   in a single-day report too: it is not prorated).
//! - CAC = spend / conversions; LTV = the launch's `ltv_cents`, else revenue / paying
//!   conversions (kinds in [`metric::PAYING_KINDS`]). Both rounded half up to a whole
//!   minor unit; null when the denominator is zero. A derived LTV is null too when
//!   currencies are mixed: the paying conversions cannot be split by currency, so the
//!   quotient would divide one currency's revenue by every currency's customers.
//! - ROI = (revenue − spend) / spend, on realised revenue (not LTV-projected), so it
//!   states what the launch has actually returned; null when spend is zero.
//! - Rates are unrounded `f64` fractions (0.25 = 25%), null when the denominator is zero;
//!   the CLI table shows them as percentages with two decimals.

pub mod currency;
mod table;

use std::collections::BTreeMap;

use chrono::NaiveDate;
use launch_edge_proto::{uniques, Slug};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

pub use currency::CurrencyRevenue;
pub use table::render_table;

use crate::error::AppError;
use crate::launches::{self, Launch};

/// Metric names with a fixed meaning; any other metric name is a conversion kind.
pub mod metric {
    pub const VIEW: &str = "view";
    pub const BOT_VIEW: &str = "bot_view";
    pub const CLICK: &str = "click";
    pub const REVENUE_CENTS: &str = "revenue_cents";
    /// `revenue_cents.<currency>`: revenue in a named currency (see `currency`).
    pub const REVENUE_CURRENCY_PREFIX: &str = "revenue_cents.";
    /// Not conversions, compared with the part of a metric name before its first dot
    /// (SQL: `split_part(metric, '.', 1)`), so every `revenue_cents.<code>` is excluded.
    pub const NOT_CONVERSIONS: &[&str] = &[VIEW, BOT_VIEW, CLICK, REVENUE_CENTS];
    /// Conversion kinds that are paying customers, the denominator of a derived LTV.
    pub const PAYING_KINDS: &[&str] = &["purchase"];
    /// The headline source, listed first.
    pub const HEADLINE_SOURCE: &str = "producthunt";
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub launch: String,
    pub name: String,
    pub currency: String,
    /// The Pacific day reported, or null for all days.
    pub day: Option<NaiveDate>,
    pub views: i64,
    pub bot_views: i64,
    pub unique_visitors: i64,
    pub clicks: i64,
    pub conversions: i64,
    pub conversions_by_kind: BTreeMap<String, i64>,
    /// Every source seen, the headline source first, then by conversions and views.
    pub conversions_by_source: Vec<SourceReport>,
    /// The same funnel by the landing's `utm_medium` (`(none)` for visits without
    /// one), by conversions then views.
    #[serde(default)]
    pub conversions_by_medium: Vec<BreakdownRow>,
    /// The same by `utm_campaign`.
    #[serde(default)]
    pub conversions_by_campaign: Vec<BreakdownRow>,
    /// conversions / unique visitors.
    pub conversion_rate: Option<f64>,
    /// Revenue in the launch's currency (`currency`): the base of ROI and LTV.
    pub revenue_cents: i64,
    /// Revenue in other currencies, per currency, in none of the ratios.
    #[serde(default)]
    pub other_currency_revenue: Vec<CurrencyRevenue>,
    /// True when some revenue is in another currency than the launch's.
    #[serde(default)]
    pub mixed_currencies: bool,
    pub spend_cents: i64,
    pub spend_basis: SpendBasis,
    pub cac_cents: Option<i64>,
    pub paying_conversions: i64,
    pub ltv_cents: Option<i64>,
    pub ltv_basis: Option<LtvBasis>,
    /// With `ltv_basis` `revenue_window`: the window's length in days from the Pacific
    /// launch day (whatever period the report covers, the LTV is the window's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ltv_window_days: Option<u32>,
    /// LTV / CAC.
    pub ltv_to_cac: Option<f64>,
    /// (revenue − spend) / spend.
    pub roi: Option<f64>,
    pub funnel: Vec<FunnelStep>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceReport {
    pub source: String,
    pub views: i64,
    pub clicks: i64,
    pub conversions: i64,
    /// In the launch's currency only.
    pub revenue_cents: i64,
    /// conversions / views of this source: sketches are kept per launch and day, not per
    /// source, so unique visitors per source are not known.
    pub conversion_rate_per_view: Option<f64>,
}

/// One value of a utm dimension (medium or campaign) and its funnel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BreakdownRow {
    /// The label, or [`NONE_LABEL`] for visits without one.
    pub value: String,
    pub views: i64,
    pub clicks: i64,
    pub conversions: i64,
    /// In the launch's currency only.
    pub revenue_cents: i64,
    pub conversion_rate_per_view: Option<f64>,
}

/// How a medium or campaign row stands for visits that had none (labels are
/// `[a-z0-9._-]`, so no real value reads the same).
pub const NONE_LABEL: &str = "(none)";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpendBasis {
    Fixed,
    PerVisitor,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LtvBasis {
    /// `expected_ltv` from the launch file.
    Configured,
    /// Own-currency revenue / paying conversions over the reported period.
    Revenue,
    /// Own-currency revenue / paying conversions over the launch's revenue window
    /// (`revenue_window_days` from its Pacific launch day).
    RevenueWindow,
}

/// What a launch earned in its revenue window: own-currency revenue and paying
/// conversions over `days` Pacific days from its launch day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevenueWindow {
    pub days: u32,
    pub revenue_cents: i64,
    pub paying_conversions: i64,
}

/// The launch's [`RevenueWindow`], or `None` when it has no `revenue_window_days`.
pub async fn revenue_window(
    pool: &PgPool,
    launch: &Launch,
) -> Result<Option<RevenueWindow>, sqlx::Error> {
    let Some(days) = launch
        .revenue_window_days
        .and_then(|d| u32::try_from(d).ok())
    else {
        return Ok(None);
    };
    let own = format!(
        "{}.{}",
        metric::REVENUE_CENTS,
        launch.currency.to_ascii_lowercase()
    );
    let (revenue_cents, paying_conversions): (i64, i64) = sqlx::query_as(
        "SELECT COALESCE(sum(d.value) FILTER (WHERE d.metric = $2 OR d.metric = $3), 0)::bigint,
                COALESCE(sum(d.value) FILTER (WHERE d.metric = ANY($4)), 0)::bigint
           FROM launches l JOIN metrics_day d ON d.launch = l.slug
          WHERE l.slug = $1
            AND d.day >= (l.launch_at AT TIME ZONE 'America/Los_Angeles')::date
            AND d.day < (l.launch_at AT TIME ZONE 'America/Los_Angeles')::date + $5::int",
    )
    .bind(&launch.slug)
    .bind(metric::REVENUE_CENTS)
    .bind(own)
    .bind(metric::PAYING_KINDS)
    .bind(days as i32)
    .fetch_one(pool)
    .await?;
    Ok(Some(RevenueWindow {
        days,
        revenue_cents,
        paying_conversions,
    }))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunnelStep {
    pub step: String,
    pub count: i64,
    /// count / the previous step's count; null for the first step or a zero denominator.
    pub rate_from_previous: Option<f64>,
}

/// One summed metric of one source, medium and campaign over the reported period
/// (medium and campaign `""` when the visits had none).
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct MetricTotal {
    pub source: String,
    pub medium: String,
    pub campaign: String,
    pub metric: String,
    pub value: i64,
}

/// `numerator / denominator` rounded half up, for non-negative operands; None on zero.
pub fn div_round_half_up(numerator: i64, denominator: i64) -> Option<i64> {
    if denominator == 0 {
        return None;
    }
    let (n, d) = (i128::from(numerator), i128::from(denominator));
    let q = (2 * n + d).div_euclid(2 * d);
    Some(i64::try_from(q).unwrap_or(i64::MAX))
}

/// `numerator / denominator` as a fraction; None when the denominator is zero.
pub fn ratio(numerator: i64, denominator: i64) -> Option<f64> {
    (denominator != 0).then(|| numerator as f64 / denominator as f64)
}

#[derive(Default)]
struct SourceTotals {
    views: i64,
    clicks: i64,
    conversions: i64,
    revenue_cents: i64,
}

impl SourceTotals {
    /// Adds one metric total (own-currency revenue, views, clicks or a conversion kind).
    fn add(&mut self, metric: &str, value: i64, own_revenue: bool) {
        let slot = match metric {
            _ if own_revenue => &mut self.revenue_cents,
            metric::VIEW => &mut self.views,
            metric::CLICK => &mut self.clicks,
            metric::BOT_VIEW => return,
            _ => &mut self.conversions,
        };
        *slot = slot.saturating_add(value);
    }
}

/// The rows of one utm dimension, by conversions then views then label.
fn breakdown(by: BTreeMap<String, SourceTotals>) -> Vec<BreakdownRow> {
    let mut rows: Vec<BreakdownRow> = by
        .into_iter()
        .map(|(value, t)| BreakdownRow {
            value: if value.is_empty() {
                NONE_LABEL.to_owned()
            } else {
                value
            },
            conversion_rate_per_view: ratio(t.conversions, t.views),
            views: t.views,
            clicks: t.clicks,
            conversions: t.conversions,
            revenue_cents: t.revenue_cents,
        })
        .collect();
    rows.sort_by(|a, b| {
        (b.conversions, b.views)
            .cmp(&(a.conversions, a.views))
            .then(a.value.cmp(&b.value))
    });
    rows
}

impl Report {
    /// The report of `launch` from summed metrics and the unique-visitor count. Pure.
    pub fn compute(
        launch: &Launch,
        day: Option<NaiveDate>,
        totals: &[MetricTotal],
        unique_visitors: i64,
    ) -> Report {
        let (mut views, mut bot_views, mut clicks, mut revenue_cents) = (0i64, 0i64, 0i64, 0i64);
        let mut by_kind: BTreeMap<String, i64> = BTreeMap::new();
        let mut by_source: BTreeMap<String, SourceTotals> = BTreeMap::new();
        let mut by_medium: BTreeMap<String, SourceTotals> = BTreeMap::new();
        let mut by_campaign: BTreeMap<String, SourceTotals> = BTreeMap::new();
        let mut other_currency_revenue = Vec::new();
        for t in totals {
            let revenue = currency::revenue_in(&t.metric, &launch.currency);
            // A source with revenue in another currency only still gets its row.
            let source = by_source.entry(t.source.clone()).or_default();
            if let Some(currency::RevenueIn::Other(code)) = revenue {
                currency::add(&mut other_currency_revenue, &code, t.value);
                continue;
            }
            let own = revenue.is_some();
            source.add(&t.metric, t.value, own);
            for (by, key) in [(&mut by_medium, &t.medium), (&mut by_campaign, &t.campaign)] {
                by.entry(key.clone())
                    .or_default()
                    .add(&t.metric, t.value, own);
            }
            let total = match t.metric.as_str() {
                _ if own => &mut revenue_cents,
                metric::VIEW => &mut views,
                metric::BOT_VIEW => &mut bot_views,
                metric::CLICK => &mut clicks,
                kind => by_kind.entry(kind.to_owned()).or_default(),
            };
            *total = total.saturating_add(t.value);
        }
        let conversions = by_kind.values().fold(0i64, |a, v| a.saturating_add(*v));
        let paying_conversions = metric::PAYING_KINDS
            .iter()
            .filter_map(|k| by_kind.get(*k))
            .fold(0i64, |a, v| a.saturating_add(*v));

        let (spend_cents, spend_basis) = match launch.cost_per_visitor_cents {
            Some(per_visitor) => (
                per_visitor.saturating_mul(unique_visitors),
                SpendBasis::PerVisitor,
            ),
            None => (launch.spend_cents, SpendBasis::Fixed),
        };
        let cac_cents = div_round_half_up(spend_cents, conversions);
        let (ltv_cents, ltv_basis) = match launch.ltv_cents {
            Some(ltv) => (Some(ltv), Some(LtvBasis::Configured)),
            None if !other_currency_revenue.is_empty() => (None, None),
            None => match div_round_half_up(revenue_cents, paying_conversions) {
                Some(ltv) => (Some(ltv), Some(LtvBasis::Revenue)),
                None => (None, None),
            },
        };
        let ltv_to_cac = match (ltv_cents, cac_cents) {
            (Some(ltv), Some(cac)) => ratio(ltv, cac),
            _ => None,
        };
        let roi = ratio(revenue_cents.saturating_sub(spend_cents), spend_cents);

        let mut sources: Vec<SourceReport> = by_source
            .into_iter()
            .map(|(source, t)| SourceReport {
                conversion_rate_per_view: ratio(t.conversions, t.views),
                source,
                views: t.views,
                clicks: t.clicks,
                conversions: t.conversions,
                revenue_cents: t.revenue_cents,
            })
            .collect();
        sources.sort_by(|a, b| {
            (b.source == metric::HEADLINE_SOURCE)
                .cmp(&(a.source == metric::HEADLINE_SOURCE))
                .then(b.conversions.cmp(&a.conversions))
                .then(b.views.cmp(&a.views))
                .then(a.source.cmp(&b.source))
        });

        let steps = [
            ("views", views),
            ("unique_visitors", unique_visitors),
            ("clicks", clicks),
            ("conversions", conversions),
        ];
        let funnel = steps
            .iter()
            .enumerate()
            .map(|(i, (step, count))| FunnelStep {
                step: (*step).to_owned(),
                count: *count,
                rate_from_previous: i
                    .checked_sub(1)
                    .and_then(|previous| ratio(*count, steps[previous].1)),
            })
            .collect();

        Report {
            launch: launch.slug.clone(),
            name: launch.name.clone(),
            currency: launch.currency.clone(),
            day,
            views,
            bot_views,
            unique_visitors,
            clicks,
            conversions,
            conversions_by_kind: by_kind,
            conversions_by_source: sources,
            conversions_by_medium: breakdown(by_medium),
            conversions_by_campaign: breakdown(by_campaign),
            conversion_rate: ratio(conversions, unique_visitors),
            revenue_cents,
            mixed_currencies: !other_currency_revenue.is_empty(),
            other_currency_revenue,
            spend_cents,
            spend_basis,
            cac_cents,
            paying_conversions,
            ltv_cents,
            ltv_basis,
            ltv_window_days: None,
            ltv_to_cac,
            roi,
            funnel,
        }
    }

    /// The LTV from the launch's revenue window instead of the reported period, unless
    /// an LTV is configured (it wins) or currencies are mixed (no LTV then). Pure.
    pub fn with_revenue_window(mut self, window: Option<RevenueWindow>) -> Self {
        let Some(w) = window else { return self };
        if self.ltv_basis == Some(LtvBasis::Configured) || self.mixed_currencies {
            return self;
        }
        self.ltv_cents = div_round_half_up(w.revenue_cents, w.paying_conversions);
        self.ltv_basis = self.ltv_cents.map(|_| LtvBasis::RevenueWindow);
        self.ltv_window_days = Some(w.days);
        self.ltv_to_cac = match (self.ltv_cents, self.cac_cents) {
            (Some(ltv), Some(cac)) => ratio(ltv, cac),
            _ => None,
        };
        self
    }
}

/// Builds the report of a launch for one Pacific day (or all days). Unknown launch: 404.
pub async fn build(pool: &PgPool, slug: &Slug, day: Option<NaiveDate>) -> Result<Report, AppError> {
    build_period(pool, slug, day, day).await
}

/// The report of a launch over a range of Pacific days, each end optional (both `None`:
/// all days; `from == to`: that one day, named in the report). Unknown launch: 404.
pub async fn build_period(
    pool: &PgPool,
    slug: &Slug,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Result<Report, AppError> {
    let launch = launches::find(pool, slug)
        .await?
        .ok_or(AppError::NotFound)?;
    let totals = sqlx::query_as::<_, MetricTotal>(
        "SELECT source, medium, campaign, metric, sum(value)::bigint AS value
           FROM metrics_day
          WHERE launch = $1 AND ($2::date IS NULL OR day >= $2) AND ($3::date IS NULL OR day <= $3)
          GROUP BY source, medium, campaign, metric
          ORDER BY source, medium, campaign, metric",
    )
    .bind(slug.as_str())
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await?;
    let sketches: Vec<Vec<u8>> = sqlx::query_scalar(
        "SELECT sketch FROM visitor_sketches
          WHERE launch = $1 AND ($2::date IS NULL OR day >= $2) AND ($3::date IS NULL OR day <= $3)",
    )
    .bind(slug.as_str())
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await?;
    let day = if from.is_some() && from == to {
        from
    } else {
        None
    };
    let window = revenue_window(pool, &launch).await?;
    Ok(
        Report::compute(&launch, day, &totals, sum_estimates(&sketches)?)
            .with_revenue_window(window),
    )
}

/// The unique visitors of several stored day sketches (visitor-days: salts rotate daily).
pub(crate) fn sum_estimates(sketches: &[Vec<u8>]) -> Result<i64, AppError> {
    sketches.iter().try_fold(0i64, |sum, bytes| {
        let estimate = uniques::estimate_serialized(bytes)
            .map_err(|_| AppError::Unprocessable("stored_sketch_unreadable"))?;
        Ok(sum.saturating_add(i64::try_from(estimate).unwrap_or(i64::MAX)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_division_rounds_half_up_to_a_whole_minor_unit() {
        assert_eq!(div_round_half_up(5, 2), Some(3));
        assert_eq!(div_round_half_up(7, 2), Some(4));
        assert_eq!(div_round_half_up(4, 3), Some(1));
        assert_eq!(div_round_half_up(5, 3), Some(2));
        assert_eq!(div_round_half_up(0, 9), Some(0));
        assert_eq!(div_round_half_up(i64::MAX, 1), Some(i64::MAX));
        assert_eq!(div_round_half_up(10, 0), None);
    }

    #[test]
    fn a_rate_over_a_zero_denominator_is_undefined_not_zero() {
        assert_eq!(ratio(3, 0), None);
        assert_eq!(ratio(0, 4), Some(0.0));
        assert_eq!(ratio(1, 4), Some(0.25));
    }

    #[test]
    fn revenue_in_other_currencies_is_listed_apart_and_kept_out_of_roi_and_ltv() {
        let mut launch = launches::demo(chrono::Utc::now());
        launch.currency = "USD".into();
        launch.spend_cents = 10_000;
        launch.cost_per_visitor_cents = None;
        launch.ltv_cents = None;
        let total = |source: &str, metric: &str, value: i64| MetricTotal {
            source: source.into(),
            metric: metric.into(),
            value,
            ..MetricTotal::default()
        };
        let totals = [
            total("producthunt", "purchase", 3),
            total("producthunt", "revenue_cents", 1_000),
            total("producthunt", "revenue_cents.usd", 14_000),
            total("producthunt", "revenue_cents.eur", 9_000),
            total("direct", "revenue_cents.eur", 500),
            total("direct", "revenue_cents.gbp", 200),
        ];
        let r = Report::compute(&launch, None, &totals, 10);
        assert_eq!(r.revenue_cents, 15_000);
        assert!(r.mixed_currencies);
        let other: Vec<(&str, i64)> = r
            .other_currency_revenue
            .iter()
            .map(|c| (c.currency.as_str(), c.revenue_cents))
            .collect();
        assert_eq!(other, [("EUR", 9_500), ("GBP", 200)]);
        assert_eq!(r.conversions, 3, "no revenue metric counts as a conversion");
        assert_eq!(r.conversions_by_kind.len(), 1);
        // (15,000 − 10,000) / 10,000: USD only.
        assert_eq!(r.roi, Some(0.5));
        assert_eq!((r.ltv_cents, r.ltv_basis), (None, None));
        assert_eq!(r.conversions_by_source[0].revenue_cents, 15_000);

        let single = Report::compute(&launch, None, &totals[..3], 10);
        assert!(!single.mixed_currencies && single.other_currency_revenue.is_empty());
        assert_eq!(single.ltv_cents, Some(5_000));
    }

    #[test]
    fn the_headline_source_comes_first_even_with_fewer_conversions() {
        let launch = launches::demo(chrono::Utc::now());
        let total = |source: &str, metric: &str, value: i64| MetricTotal {
            source: source.into(),
            metric: metric.into(),
            value,
            ..MetricTotal::default()
        };
        let totals = [
            total("direct", "signup", 9),
            total("producthunt", "signup", 1),
            total("zeta", "view", 3),
            total("alpha", "view", 3),
        ];
        let report = Report::compute(&launch, None, &totals, 0);
        let order: Vec<&str> = report
            .conversions_by_source
            .iter()
            .map(|s| s.source.as_str())
            .collect();
        assert_eq!(order, ["producthunt", "direct", "alpha", "zeta"]);
        assert_eq!(report.conversion_rate, None);
    }

    #[test]
    fn medium_and_campaign_break_the_funnel_down_with_none_for_visits_without_them() {
        let launch = launches::demo(chrono::Utc::now());
        let total = |medium: &str, campaign: &str, metric: &str, value: i64| MetricTotal {
            source: "newsletter".into(),
            medium: medium.into(),
            campaign: campaign.into(),
            metric: metric.into(),
            value,
        };
        let own = format!("revenue_cents.{}", launch.currency.to_ascii_lowercase());
        let totals = [
            total("email", "dec-launch", "view", 4),
            total("email", "dec-launch", "click", 2),
            total("email", "dec-launch", "purchase", 1),
            total("email", "dec-launch", &own, 4_900),
            total("email", "dec-launch", "revenue_cents.zzz", 100),
            total("email", "", "view", 3),
            total("", "", "view", 7),
            total("", "", "bot_view", 50),
        ];
        let r = Report::compute(&launch, None, &totals, 5);
        let rows = |rows: &[BreakdownRow]| -> Vec<(String, i64, i64, i64, i64)> {
            rows.iter()
                .map(|b| {
                    (
                        b.value.clone(),
                        b.views,
                        b.clicks,
                        b.conversions,
                        b.revenue_cents,
                    )
                })
                .collect()
        };
        assert_eq!(
            rows(&r.conversions_by_medium),
            [
                ("email".into(), 7, 2, 1, 4_900),
                (NONE_LABEL.into(), 7, 0, 0, 0)
            ]
        );
        assert_eq!(
            rows(&r.conversions_by_campaign),
            [
                ("dec-launch".into(), 4, 2, 1, 4_900),
                (NONE_LABEL.into(), 10, 0, 0, 0)
            ]
        );
        assert_eq!(
            r.conversions_by_campaign[0].conversion_rate_per_view,
            Some(0.25)
        );
        // Each breakdown adds up to the report's own totals.
        for by in [&r.conversions_by_medium, &r.conversions_by_campaign] {
            assert_eq!(by.iter().map(|b| b.views).sum::<i64>(), r.views);
            assert_eq!(
                by.iter().map(|b| b.revenue_cents).sum::<i64>(),
                r.revenue_cents
            );
        }
    }
}
