//! The `report` subcommand's readable table. It only formats figures that
//! [`super::Report::compute`] already computed: no arithmetic beyond display scaling.

use std::fmt::Write;

use super::{Report, SpendBasis};

const DASH: &str = "—";

/// Minor units as `12.34 USD` (assumes two decimals, as every currency here does).
fn money(cents: i64, currency: &str) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}{}.{:02} {currency}", abs / 100, abs % 100)
}

fn money_or_dash(cents: Option<i64>, currency: &str) -> String {
    cents.map_or_else(|| DASH.to_owned(), |c| money(c, currency))
}

/// A fraction as a percentage with two decimals, or a dash when undefined.
fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| DASH.to_owned(), |r| format!("{:.2}%", r * 100.0))
}

fn times(rate: Option<f64>) -> String {
    rate.map_or_else(|| DASH.to_owned(), |r| format!("{r:.2}x"))
}

/// Renders a report as aligned plain text for a terminal.
pub fn render_table(report: &Report) -> String {
    let mut out = String::new();
    let day = report
        .day
        .map_or_else(|| "all days".to_owned(), |d| d.to_string());
    let cur = report.currency.as_str();
    let _ = writeln!(out, "Report: {} ({}), {day}", report.name, report.launch);
    let mut row = |label: &str, value: String| {
        let _ = writeln!(out, "  {label:<22} {value:>18}");
    };
    row("views", report.views.to_string());
    row("unique visitors", report.unique_visitors.to_string());
    row("bot views", report.bot_views.to_string());
    row("clicks", report.clicks.to_string());
    row("conversions", report.conversions.to_string());
    row("conversion rate", percent(report.conversion_rate));
    row("revenue", money(report.revenue_cents, cur));
    // Never added to the revenue above nor used in a ratio: there is no rate to convert.
    for other in &report.other_currency_revenue {
        row(
            "  other currency (apart)",
            money(other.revenue_cents, &other.currency),
        );
    }
    let basis = match report.spend_basis {
        SpendBasis::Fixed => "spend (fixed)",
        SpendBasis::PerVisitor => "spend (per visitor)",
    };
    row(basis, money(report.spend_cents, cur));
    row("CAC", money_or_dash(report.cac_cents, cur));
    let ltv_label = match report.ltv_window_days {
        Some(days) => format!("LTV ({days}-day window)"),
        None => "LTV".to_owned(),
    };
    row(&ltv_label, money_or_dash(report.ltv_cents, cur));
    row("LTV / CAC", times(report.ltv_to_cac));
    row("ROI", percent(report.roi));

    if report.mixed_currencies {
        let _ = writeln!(
            out,
            "  note: revenue in other currencies than {cur} is listed apart and left out of ROI and LTV"
        );
    }

    let _ = writeln!(out, "\nConversions by kind");
    if report.conversions_by_kind.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    for (kind, count) in &report.conversions_by_kind {
        let _ = writeln!(out, "  {kind:<22} {count:>18}");
    }

    let _ = writeln!(out, "\nBy source");
    let _ = writeln!(
        out,
        "  {:<22} {:>10} {:>10} {:>12} {:>12}",
        "source", "views", "clicks", "conversions", "conv/view"
    );
    for s in &report.conversions_by_source {
        let _ = writeln!(
            out,
            "  {:<22} {:>10} {:>10} {:>12} {:>12}",
            s.source,
            s.views,
            s.clicks,
            s.conversions,
            percent(s.conversion_rate_per_view)
        );
    }

    for (title, rows) in [
        ("By medium (utm_medium)", &report.conversions_by_medium),
        (
            "By campaign (utm_campaign)",
            &report.conversions_by_campaign,
        ),
    ] {
        let _ = writeln!(out, "\n{title}");
        let _ = writeln!(
            out,
            "  {:<22} {:>10} {:>10} {:>12} {:>12}",
            "value", "views", "clicks", "conversions", "conv/view"
        );
        for r in rows {
            let _ = writeln!(
                out,
                "  {:<22} {:>10} {:>10} {:>12} {:>12}",
                r.value,
                r.views,
                r.clicks,
                r.conversions,
                percent(r.conversion_rate_per_view)
            );
        }
    }

    let _ = writeln!(out, "\nFunnel");
    for step in &report.funnel {
        let rate = match step.rate_from_previous {
            Some(_) => percent(step.rate_from_previous),
            None if step.step == "views" => String::new(),
            None => DASH.to_owned(),
        };
        let _ = writeln!(out, "  {:<22} {:>10} {:>12}", step.step, step.count, rate);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_printed_with_two_decimals_and_the_currency() {
        assert_eq!(money(123_456, "USD"), "1234.56 USD");
        assert_eq!(money(5, "EUR"), "0.05 EUR");
        assert_eq!(money(-250, "USD"), "-2.50 USD");
    }

    #[test]
    fn undefined_rates_print_as_a_dash() {
        assert_eq!(percent(None), DASH);
        assert_eq!(percent(Some(0.125)), "12.50%");
        assert_eq!(times(Some(2.0)), "2.00x");
    }
}
