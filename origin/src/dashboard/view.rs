//! The dashboard and index page models (askama templates in `origin/templates/`).
//!
//! Every figure arrives computed (by [`Report::compute`] or [`super::data`]); this module
//! formats and charts them. Each shown figure carries a stable `key` that the template
//! puts in `data-figure`, so the browser test can compare the page with the report API.

use askama::Template;
use chrono::{NaiveDate, Utc};

use super::data::{EdgeSummary, Headline, MinutePoint, PhObservation};
use super::svg::{bar_chart, line_chart, Series};
use super::{count, money, money_or_dash, percent, times};
use crate::reports::{Report, SpendBasis};

/// How often the page reloads itself, in seconds.
pub const REFRESH_SECS: u32 = 15;

pub struct Figure {
    pub key: &'static str,
    pub label: &'static str,
    pub value: String,
}

fn figure(key: &'static str, label: &'static str, value: String) -> Figure {
    Figure { key, label, value }
}

pub struct FunnelRow {
    pub step: String,
    pub count: String,
    pub rate: String,
}

pub struct SourceRow {
    pub source: String,
    pub views: String,
    pub clicks: String,
    pub conversions: String,
    pub rate: String,
    pub revenue: String,
}

/// Everything the dashboard template shows.
#[derive(Template)]
#[template(path = "dashboard.html")]
pub struct DashboardPage {
    pub slug: String,
    pub name: String,
    pub period: String,
    pub chart_day: String,
    pub refresh_secs: u32,
    pub generated_at: String,
    pub figures: Vec<Figure>,
    pub money: Vec<Figure>,
    pub traffic_chart: String,
    pub conversions_chart: String,
    pub uniques_chart: String,
    pub funnel: Vec<FunnelRow>,
    pub sources: Vec<SourceRow>,
    pub ph_chart: String,
    pub ph: Vec<Figure>,
    pub has_ph: bool,
    pub edge: Vec<Figure>,
    pub rejections: Vec<(String, String)>,
}

/// The inputs of one dashboard rendering.
pub struct DashboardData<'a> {
    pub report: &'a Report,
    pub chart_day: Option<NaiveDate>,
    pub minutes: &'a [MinutePoint],
    pub daily_uniques: &'a [(NaiveDate, i64)],
    pub ph: &'a [PhObservation],
    pub vote_velocity: Option<f64>,
    pub edge: &'a EdgeSummary,
}

fn step_label(step: &str) -> String {
    step.replace('_', " ")
}

impl DashboardPage {
    pub fn new(d: &DashboardData<'_>) -> Self {
        let r = d.report;
        let cur = r.currency.as_str();
        let figures = vec![
            figure("views", "Views", count(r.views)),
            figure(
                "unique_visitors",
                "Unique visitors",
                count(r.unique_visitors),
            ),
            figure("clicks", "Clicks", count(r.clicks)),
            figure("conversions", "Conversions", count(r.conversions)),
            figure(
                "conversion_rate",
                "Conversion rate",
                percent(r.conversion_rate),
            ),
            figure("bot_views", "Bot views", count(r.bot_views)),
        ];
        let spend_label = match r.spend_basis {
            SpendBasis::Fixed => "Spend (fixed)",
            SpendBasis::PerVisitor => "Spend (per visitor)",
        };
        let money_figures = vec![
            figure("revenue", "Revenue", money(r.revenue_cents, cur)),
            figure("spend", spend_label, money(r.spend_cents, cur)),
            figure("cac", "CAC", money_or_dash(r.cac_cents, cur)),
            figure("ltv", "LTV", money_or_dash(r.ltv_cents, cur)),
            figure("ltv_to_cac", "LTV / CAC", times(r.ltv_to_cac)),
            figure("roi", "ROI", percent(r.roi)),
        ];
        let (first, last) = match (d.minutes.first(), d.minutes.last()) {
            (Some(a), Some(b)) => (
                a.minute.format("%H:%M UTC").to_string(),
                b.minute.format("%H:%M UTC").to_string(),
            ),
            _ => (String::new(), String::new()),
        };
        let column = |f: fn(&MinutePoint) -> i64| -> Vec<f64> {
            d.minutes.iter().map(|p| f(p) as f64).collect()
        };
        let traffic_chart = line_chart(
            "Views and clicks per minute",
            &first,
            &last,
            &[
                Series {
                    label: "views",
                    color: "#da552f",
                    values: column(|p| p.views),
                },
                Series {
                    label: "clicks",
                    color: "#2f6fda",
                    values: column(|p| p.clicks),
                },
            ],
        );
        let conversions_chart = line_chart(
            "Conversions per minute",
            &first,
            &last,
            &[Series {
                label: "conversions",
                color: "#1a9a5b",
                values: column(|p| p.conversions),
            }],
        );
        let uniques: Vec<(String, f64)> = d
            .daily_uniques
            .iter()
            .map(|(day, n)| (day.to_string(), *n as f64))
            .collect();
        let uniques_chart = bar_chart("Unique visitors per Pacific day", "#7a4fd6", &uniques);
        let funnel = r
            .funnel
            .iter()
            .map(|s| FunnelRow {
                step: step_label(&s.step),
                count: count(s.count),
                rate: percent(s.rate_from_previous),
            })
            .collect();
        let sources = r
            .conversions_by_source
            .iter()
            .map(|s| SourceRow {
                source: s.source.clone(),
                views: count(s.views),
                clicks: count(s.clicks),
                conversions: count(s.conversions),
                rate: percent(s.conversion_rate_per_view),
                revenue: money(s.revenue_cents, cur),
            })
            .collect();
        Self {
            slug: r.launch.clone(),
            name: r.name.clone(),
            period: r
                .day
                .map_or_else(|| "all days".to_owned(), |day| day.to_string()),
            chart_day: d
                .chart_day
                .map_or_else(|| "no traffic yet".to_owned(), |day| day.to_string()),
            refresh_secs: REFRESH_SECS,
            generated_at: Utc::now().format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            figures,
            money: money_figures,
            traffic_chart,
            conversions_chart,
            uniques_chart,
            funnel,
            sources,
            ph_chart: ph_chart(d.ph),
            ph: ph_figures(d.ph, d.vote_velocity),
            has_ph: !d.ph.is_empty(),
            edge: edge_figures(d.edge),
            rejections: d
                .edge
                .webhook_rejected
                .iter()
                .map(|(reason, n)| (reason.clone(), count(*n)))
                .collect(),
        }
    }
}

fn ph_chart(ph: &[PhObservation]) -> String {
    let label = |o: Option<&PhObservation>| {
        o.map(|o| o.observed_at.format("%m-%d %H:%M").to_string())
            .unwrap_or_default()
    };
    let votes = ph.iter().map(|o| f64::from(o.votes)).collect();
    let comments = ph.iter().map(|o| f64::from(o.comments)).collect();
    let series = if ph.is_empty() {
        Vec::new()
    } else {
        vec![
            Series {
                label: "votes",
                color: "#da552f",
                values: votes,
            },
            Series {
                label: "comments",
                color: "#2f6fda",
                values: comments,
            },
        ]
    };
    line_chart(
        "Product Hunt votes and comments",
        &label(ph.first()),
        &label(ph.last()),
        &series,
    )
}

fn ph_figures(ph: &[PhObservation], velocity: Option<f64>) -> Vec<Figure> {
    let Some(latest) = ph.last() else {
        return Vec::new();
    };
    vec![
        figure("ph_votes", "Votes", count(i64::from(latest.votes))),
        figure("ph_comments", "Comments", count(i64::from(latest.comments))),
        figure(
            "ph_vote_velocity",
            "Votes / hour",
            velocity.map_or_else(|| "—".to_owned(), |v| format!("{v:.1}")),
        ),
        figure(
            "ph_featured",
            "Featured",
            latest.featured_at.map_or_else(
                || "not yet".to_owned(),
                |t| t.format("%Y-%m-%d %H:%M UTC").to_string(),
            ),
        ),
    ]
}

fn edge_figures(e: &EdgeSummary) -> Vec<Figure> {
    vec![
        figure(
            "cache_hit_ratio",
            "Cache hit ratio",
            percent(e.cache_hit_ratio()),
        ),
        figure("cache_hit", "Cache hits", count(e.cache_hit)),
        figure("cache_stale", "Stale served", count(e.cache_stale)),
        figure("cache_miss", "Cache misses", count(e.cache_miss)),
        figure("origin_fetch", "Origin fetches", count(e.origin_fetch)),
        figure("outbound_429", "Outbound 429s", count(e.outbound_429)),
        figure("task_retry", "Task retries", count(e.task_retry)),
        figure(
            "task_dead_letter",
            "Dead letters",
            count(e.task_dead_letter),
        ),
    ]
}

pub struct IndexRow {
    pub slug: String,
    pub name: String,
    pub launch_at: String,
    pub views: String,
    pub unique_visitors: String,
    pub conversions: String,
    pub revenue: String,
}

#[derive(Template)]
#[template(path = "dashboard_index.html")]
pub struct IndexPage {
    pub refresh_secs: u32,
    pub rows: Vec<IndexRow>,
}

impl IndexPage {
    pub fn new(headlines: &[Headline]) -> Self {
        let rows = headlines
            .iter()
            .map(|h| IndexRow {
                slug: h.slug.clone(),
                name: h.name.clone(),
                launch_at: h.launch_at.format("%Y-%m-%d %H:%M UTC").to_string(),
                views: count(h.views),
                unique_visitors: count(h.unique_visitors),
                conversions: count(h.conversions),
                revenue: money(h.revenue_cents, &h.currency),
            })
            .collect();
        Self {
            refresh_secs: REFRESH_SECS,
            rows,
        }
    }
}

/// `GET /login` (and a refused `POST /login`): the form that exchanges the dashboard token
/// for a cookie, so the token never goes into a URL.
#[derive(Template)]
#[template(path = "dashboard_login.html")]
pub struct LoginPage<'a> {
    /// Where to go after signing in (already checked to be a dashboard path).
    pub next: &'a str,
    pub problem: Option<&'static str>,
}
