//! The dashboard and index page models (askama templates in `origin/templates/`).
//!
//! Every figure arrives computed (by [`Report::compute`] or [`super::data`]); this module
//! formats and charts them. Each shown figure carries a stable `key` that the template
//! puts in `data-figure`, so the browser test can compare the page with the report API.

use askama::Template;
use chrono::{DateTime, NaiveDate, Utc};

use super::csv::{Cell, Table};
use super::data::{
    conversions_per_view, DeadLetters, Dimension, EdgeSummary, FunnelByRow, Headline, MinutePoint,
    PhObservation, EDGE_DEAD_KINDS,
};
use super::period::{pacific_today, pt_day_time, pt_full, pt_time, Period};
use super::svg::{bar_chart, line_chart, line_chart_marked, Series};
use super::{count, money, money_or_dash, percent, times};
use crate::reports::{ratio, Report, SpendBasis};

/// How often the page polls its live figures, in seconds (`?refresh=` overrides it
/// within [`REFRESH_MIN_SECS`]..=[`REFRESH_MAX_SECS`]).
pub const REFRESH_SECS: u32 = 15;
pub const REFRESH_MIN_SECS: u32 = 2;
pub const REFRESH_MAX_SECS: u32 = 300;

/// Product Hunt vote counts marked on the curve when first reached.
pub const VOTE_MILESTONES: &[i32] = &[50, 100, 250, 500, 1_000, 2_500, 5_000];

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
    pub per_view: String,
}

pub struct DimRow {
    pub key: String,
    pub views: String,
    pub clicks: String,
    pub conversions: String,
    pub rate: String,
    pub revenue: String,
}

/// The funnel broken down by one dimension (source today; medium and campaign once the
/// day table holds them).
pub struct DimTable {
    pub slug: &'static str,
    pub label: &'static str,
    pub rows: Vec<DimRow>,
}

pub struct DeadKind {
    pub kind: String,
    pub label: String,
    pub count: String,
    pub requeue_here: bool,
}

pub struct DeadRow {
    pub id: i64,
    pub kind: String,
    pub reason: String,
    pub batch_id: String,
    pub created: String,
}

pub struct Nav {
    pub prev: String,
    pub next: String,
    pub today: String,
    pub all: String,
    pub from: String,
    pub to: String,
}

/// Everything the dashboard template shows.
#[derive(Template)]
#[template(path = "dashboard.html")]
pub struct DashboardPage {
    pub slug: String,
    pub name: String,
    pub period: String,
    pub period_query: String,
    pub chart_day: String,
    pub refresh_secs: u32,
    pub generated_at: String,
    pub nav: Nav,
    pub figures: Vec<Figure>,
    pub money: Vec<Figure>,
    pub currency: String,
    /// Revenue in other currencies than the launch's, `(code, amount)`: shown apart,
    /// flagged, in none of the money figures.
    pub other_currencies: Vec<(String, String)>,
    pub traffic_chart: String,
    pub conversions_chart: String,
    pub uniques_chart: String,
    pub funnel: Vec<FunnelRow>,
    pub dims: Vec<DimTable>,
    pub kinds: Vec<(String, String)>,
    pub ph_chart: String,
    pub ph: Vec<Figure>,
    pub has_ph: bool,
    pub edge: Vec<Figure>,
    pub rejections: Vec<(String, String)>,
    pub dead_kinds: Vec<DeadKind>,
    pub dead_rows: Vec<DeadRow>,
    pub notice: Option<String>,
}

/// The inputs of one dashboard rendering.
pub struct DashboardData<'a> {
    pub report: &'a Report,
    pub period: Period,
    pub chart_day: Option<NaiveDate>,
    pub minutes: &'a [MinutePoint],
    pub daily_uniques: &'a [(NaiveDate, i64)],
    pub dims: &'a [(Dimension, Vec<FunnelByRow>)],
    pub ph: &'a [PhObservation],
    pub launch_at: Option<DateTime<Utc>>,
    pub vote_velocity: Option<f64>,
    pub edge: &'a EdgeSummary,
    pub dead: &'a DeadLetters,
}

fn step_label(step: &str) -> String {
    step.replace('_', " ")
}

/// The live figures (key → formatted value) the page polls. Pure.
pub fn live_figures(d: &DashboardData<'_>) -> Vec<Figure> {
    let r = d.report;
    let cur = r.currency.as_str();
    let source_rows = d
        .dims
        .iter()
        .find(|(dim, _)| *dim == Dimension::Source)
        .map_or(&[][..], |(_, rows)| rows.as_slice());
    let (per_view, unviewed) = conversions_per_view(source_rows);
    let spend_label = match r.spend_basis {
        SpendBasis::Fixed => "Spend (fixed)",
        SpendBasis::PerVisitor => "Spend (per visitor)",
    };
    let mut out = vec![
        figure("views", "Views", count(r.views)),
        figure(
            "unique_visitors",
            "Unique visitor-days",
            count(r.unique_visitors),
        ),
        figure("clicks", "Clicks", count(r.clicks)),
        figure("conversions", "Conversions", count(r.conversions)),
        figure(
            "conversion_rate",
            "Conversions per view (sources with views)",
            percent(per_view),
        ),
        figure(
            "conversions_without_views",
            "Conversions from sources without views",
            count(unviewed),
        ),
        figure("bot_views", "Bot views", count(r.bot_views)),
        figure("revenue", "Revenue", money(r.revenue_cents, cur)),
        figure("spend", spend_label, money(r.spend_cents, cur)),
        figure(
            "cac",
            "CAC (spend / conversions)",
            money_or_dash(r.cac_cents, cur),
        ),
        figure("ltv", "LTV", money_or_dash(r.ltv_cents, cur)),
        figure("ltv_to_cac", "LTV / CAC", times(r.ltv_to_cac)),
        figure("roi", "ROI ((revenue − spend) / spend)", percent(r.roi)),
        figure(
            "dead_letters",
            "Dead letters (all kinds)",
            count(d.dead.total()),
        ),
    ];
    out.extend(ph_figures(d.ph, d.vote_velocity));
    out.extend(edge_figures(d.edge));
    out
}

const MONEY_KEYS: &[&str] = &["revenue", "spend", "cac", "ltv", "ltv_to_cac", "roi"];
const EDGE_KEYS: &[&str] = &[
    "cache_hit_ratio",
    "cache_hit",
    "cache_stale",
    "cache_miss",
    "origin_fetch",
    "outbound_429",
    "task_retry",
    "task_dead_letter",
];

fn link(slug: &str, period: Option<Period>) -> String {
    match period {
        Some(p) if p != Period::All => format!("/launches/{slug}?{}", p.query()),
        _ => format!("/launches/{slug}"),
    }
}

/// Where the vote curve first reaches each milestone, and the featured and launch moments,
/// as `(observation index, label)`. Pure.
pub fn ph_milestones(
    ph: &[PhObservation],
    launch_at: Option<DateTime<Utc>>,
) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    if let Some(at) = launch_at {
        if let Some(i) = ph.iter().position(|o| o.observed_at >= at) {
            out.push((i, format!("launch {}", pt_time(at))));
        }
    }
    for m in VOTE_MILESTONES {
        if let Some(i) = ph.iter().position(|o| o.votes >= *m) {
            out.push((
                i,
                format!(
                    "{} votes {}",
                    count(i64::from(*m)),
                    pt_time(ph[i].observed_at)
                ),
            ));
        }
    }
    if let Some(featured) = ph.iter().find_map(|o| o.featured_at) {
        if let Some(i) = ph.iter().position(|o| o.observed_at >= featured) {
            out.push((i, format!("featured {}", pt_time(featured))));
        }
    }
    out
}

impl DashboardPage {
    pub fn new(d: &DashboardData<'_>, refresh_secs: u32, notice: Option<String>) -> Self {
        let r = d.report;
        let cur = r.currency.as_str();
        let mut all = live_figures(d);
        let take = |all: &mut Vec<Figure>, keys: &[&str]| -> Vec<Figure> {
            let (picked, rest): (Vec<Figure>, Vec<Figure>) =
                all.drain(..).partition(|f| keys.contains(&f.key));
            *all = rest;
            picked
        };
        let money_figures = take(&mut all, MONEY_KEYS);
        let edge = take(&mut all, EDGE_KEYS);
        let ph = take(
            &mut all,
            &["ph_votes", "ph_comments", "ph_vote_velocity", "ph_featured"],
        );
        let figures = all;
        let (first, last) = match (d.minutes.first(), d.minutes.last()) {
            (Some(a), Some(b)) => (pt_time(a.minute), pt_time(b.minute)),
            _ => (String::new(), String::new()),
        };
        let column = |f: fn(&MinutePoint) -> i64| -> Vec<f64> {
            d.minutes.iter().map(|p| f(p) as f64).collect()
        };
        let traffic_chart = line_chart(
            "Views and clicks per minute (Pacific time)",
            &first,
            &last,
            &[
                Series {
                    label: "views",
                    color: "#c2410c",
                    values: column(|p| p.views),
                },
                Series {
                    label: "clicks",
                    color: "#2563eb",
                    values: column(|p| p.clicks),
                },
            ],
        );
        let conversions_chart = line_chart(
            "Conversions per minute (Pacific time)",
            &first,
            &last,
            &[Series {
                label: "conversions",
                color: "#15803d",
                values: column(|p| p.conversions),
            }],
        );
        let uniques: Vec<(String, f64)> = d
            .daily_uniques
            .iter()
            .map(|(day, n)| (format!("{day} PT"), *n as f64))
            .collect();
        let uniques_chart = bar_chart("Unique visitors per Pacific day", "#7c3aed", &uniques);
        let funnel = r
            .funnel
            .iter()
            .map(|s| FunnelRow {
                step: step_label(&s.step),
                count: count(s.count),
                per_view: match s.step.as_str() {
                    "clicks" | "conversions" => percent(ratio(s.count, r.views)),
                    _ => String::new(),
                },
            })
            .collect();
        let dims = d
            .dims
            .iter()
            .map(|(dim, rows)| DimTable {
                slug: dim.slug(),
                label: dim.label(),
                rows: rows
                    .iter()
                    .map(|s| DimRow {
                        key: s.key.clone(),
                        views: count(s.views),
                        clicks: count(s.clicks),
                        conversions: count(s.conversions),
                        rate: percent(ratio(s.conversions, s.views)),
                        revenue: money(s.revenue_cents, cur),
                    })
                    .collect(),
            })
            .collect();
        let labels: std::collections::BTreeMap<&str, &str> =
            EDGE_DEAD_KINDS.iter().copied().collect();
        let mut dead_kinds: Vec<DeadKind> = d
            .dead
            .origin_open_by_kind
            .iter()
            .map(|(kind, n)| DeadKind {
                kind: format!("origin:{kind}"),
                label: format!("Rows the origin could not store ({kind}), open"),
                count: count(*n),
                requeue_here: true,
            })
            .collect();
        dead_kinds.extend(d.dead.edge.iter().map(|(name, n)| DeadKind {
            kind: format!("edge:{name}"),
            label: format!(
                "{} (counted in the period)",
                labels.get(name).copied().unwrap_or(name)
            ),
            count: count(*n),
            requeue_here: false,
        }));
        let dead_rows = d
            .dead
            .origin_rows
            .iter()
            .map(|r| DeadRow {
                id: r.id,
                kind: r.kind.clone(),
                reason: r.reason.clone(),
                batch_id: r.batch_id.clone(),
                created: DateTime::from_timestamp_millis(r.created_at_ms)
                    .map(pt_day_time)
                    .unwrap_or_default(),
            })
            .collect();
        let slug = r.launch.clone();
        let today = Period::Days {
            from: pacific_today(),
            to: pacific_today(),
        };
        let anchor = match d.period {
            Period::All => d.chart_day.map(|c| Period::Days { from: c, to: c }),
            p => Some(p),
        };
        let (from, to) = d.period.bounds();
        let nav = Nav {
            prev: link(
                &slug,
                anchor.and_then(|p| {
                    if d.period == Period::All {
                        Some(p)
                    } else {
                        p.shifted(-1)
                    }
                }),
            ),
            next: link(
                &slug,
                anchor.and_then(|p| {
                    if d.period == Period::All {
                        Some(p)
                    } else {
                        p.shifted(1)
                    }
                }),
            ),
            today: link(&slug, Some(today)),
            all: link(&slug, None),
            from: from.map(|d| d.to_string()).unwrap_or_default(),
            to: to.map(|d| d.to_string()).unwrap_or_default(),
        };
        Self {
            name: r.name.clone(),
            period: d.period.label(),
            period_query: d.period.query(),
            chart_day: d
                .chart_day
                .map_or_else(|| "no traffic yet".to_owned(), |day| day.to_string()),
            refresh_secs,
            generated_at: pt_full(Utc::now()),
            nav,
            figures,
            money: money_figures,
            currency: cur.to_owned(),
            other_currencies: r
                .other_currency_revenue
                .iter()
                .map(|c| (c.currency.clone(), money(c.revenue_cents, &c.currency)))
                .collect(),
            traffic_chart,
            conversions_chart,
            uniques_chart,
            funnel,
            dims,
            kinds: r
                .conversions_by_kind
                .iter()
                .map(|(k, n)| (k.clone(), count(*n)))
                .collect(),
            ph_chart: ph_chart(d.ph, d.launch_at),
            ph,
            has_ph: !d.ph.is_empty(),
            edge,
            rejections: d
                .edge
                .webhook_rejected
                .iter()
                .map(|(reason, n)| (reason.clone(), count(*n)))
                .collect(),
            dead_kinds,
            dead_rows,
            notice,
            slug,
        }
    }
}

/// The exportable tables, by name, the same rows the page shows (raw numbers).
pub const TABLES: &[&str] = &[
    "funnel",
    "sources",
    "mediums",
    "campaigns",
    "kinds",
    "minutes",
    "ph",
    "dead_letters",
    "edge",
];

pub fn table(d: &DashboardData<'_>, name: &str) -> Option<Table> {
    let r = d.report;
    let t = match name {
        "funnel" => Table {
            header: vec!["step", "count", "per_view"],
            rows: r
                .funnel
                .iter()
                .map(|s| {
                    let per_view = match s.step.as_str() {
                        "clicks" | "conversions" => ratio(s.count, r.views),
                        _ => None,
                    };
                    vec![
                        Cell::from(s.step.as_str()),
                        Cell::Int(s.count),
                        Cell::Rate(per_view),
                    ]
                })
                .collect(),
        },
        "sources" | "mediums" | "campaigns" => {
            let dim = Dimension::of_table(name)?;
            let rows = d
                .dims
                .iter()
                .find(|(d, _)| *d == dim)
                .map_or(&[][..], |(_, r)| r.as_slice());
            Table {
                header: vec![
                    dim.slug(),
                    "views",
                    "clicks",
                    "conversions",
                    "conversions_per_view",
                    "revenue_minor_units",
                    "currency",
                ],
                rows: rows
                    .iter()
                    .map(|s| {
                        vec![
                            Cell::from(s.key.as_str()),
                            Cell::Int(s.views),
                            Cell::Int(s.clicks),
                            Cell::Int(s.conversions),
                            Cell::Rate(ratio(s.conversions, s.views)),
                            Cell::Int(s.revenue_cents),
                            Cell::from(r.currency.as_str()),
                        ]
                    })
                    .collect(),
            }
        }
        "kinds" => Table {
            header: vec!["kind", "conversions"],
            rows: r
                .conversions_by_kind
                .iter()
                .map(|(k, n)| vec![Cell::from(k.as_str()), Cell::Int(*n)])
                .collect(),
        },
        "minutes" => Table {
            header: vec!["minute_utc", "minute_pt", "views", "clicks", "conversions"],
            rows: d
                .minutes
                .iter()
                .map(|m| {
                    vec![
                        Cell::from(m.minute.to_rfc3339()),
                        Cell::from(pt_day_time(m.minute)),
                        Cell::Int(m.views),
                        Cell::Int(m.clicks),
                        Cell::Int(m.conversions),
                    ]
                })
                .collect(),
        },
        "ph" => Table {
            header: vec!["observed_at_utc", "observed_at_pt", "votes", "comments"],
            rows: d
                .ph
                .iter()
                .map(|o| {
                    vec![
                        Cell::from(o.observed_at.to_rfc3339()),
                        Cell::from(pt_day_time(o.observed_at)),
                        Cell::Int(i64::from(o.votes)),
                        Cell::Int(i64::from(o.comments)),
                    ]
                })
                .collect(),
        },
        "dead_letters" => {
            let mut rows: Vec<Vec<Cell>> = d
                .dead
                .origin_open_by_kind
                .iter()
                .map(|(k, n)| vec![Cell::from(format!("origin:{k}")), Cell::Int(*n)])
                .collect();
            rows.extend(
                d.dead
                    .edge
                    .iter()
                    .map(|(k, n)| vec![Cell::from(format!("edge:{k}")), Cell::Int(*n)]),
            );
            rows.extend(d.dead.origin_rows.iter().map(|row| {
                vec![
                    Cell::from(format!("origin:{}#{}", row.kind, row.id)),
                    Cell::Int(1),
                    Cell::from(row.reason.as_str()),
                ]
            }));
            Table {
                header: vec!["kind", "count", "reason"],
                rows,
            }
        }
        "edge" => Table {
            header: vec!["figure", "value"],
            rows: edge_figures(d.edge)
                .into_iter()
                .map(|f| vec![Cell::from(f.key), Cell::from(f.value)])
                .collect(),
        },
        _ => return None,
    };
    Some(t)
}

fn ph_chart(ph: &[PhObservation], launch_at: Option<DateTime<Utc>>) -> String {
    let label =
        |o: Option<&PhObservation>| o.map(|o| pt_day_time(o.observed_at)).unwrap_or_default();
    let votes = ph.iter().map(|o| f64::from(o.votes)).collect();
    let comments = ph.iter().map(|o| f64::from(o.comments)).collect();
    let series = if ph.is_empty() {
        Vec::new()
    } else {
        vec![
            Series {
                label: "votes",
                color: "#c2410c",
                values: votes,
            },
            Series {
                label: "comments",
                color: "#2563eb",
                values: comments,
            },
        ]
    };
    line_chart_marked(
        "Product Hunt votes and comments (Pacific time)",
        &label(ph.first()),
        &label(ph.last()),
        &series,
        &ph_milestones(ph, launch_at),
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
            "Votes / hour (last hour)",
            velocity.map_or_else(|| "—".to_owned(), |v| format!("{v:.1}")),
        ),
        figure(
            "ph_featured",
            "Featured",
            latest
                .featured_at
                .map_or_else(|| "not yet".to_owned(), pt_day_time),
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
            "Tasks set aside",
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
    /// Revenue in other currencies, e.g. `9.00 EUR, 2.00 GBP`; empty when there is none.
    pub other_revenue: String,
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
                launch_at: pt_day_time(h.launch_at),
                views: count(h.views),
                unique_visitors: count(h.unique_visitors),
                conversions: count(h.conversions),
                revenue: money(h.revenue_cents, &h.currency),
                other_revenue: h
                    .other_currency_revenue
                    .iter()
                    .map(|c| money(c.revenue_cents, &c.currency))
                    .collect::<Vec<_>>()
                    .join(", "),
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    #[test]
    fn milestones_mark_the_launch_the_first_observation_past_each_vote_count_and_featuring() {
        let start = Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).unwrap();
        let seen = |i: i64, votes: i32, featured: bool| PhObservation {
            observed_at: start + Duration::minutes(10 * i),
            votes,
            comments: 0,
            featured_at: featured.then(|| start + Duration::minutes(15)),
        };
        let ph = [
            seen(0, 0, false),
            seen(1, 60, false),
            seen(2, 120, true),
            seen(3, 130, true),
        ];
        let marks = ph_milestones(&ph, Some(start + Duration::minutes(5)));
        assert_eq!(
            marks,
            [
                (1, "launch 00:05 PT".to_owned()),
                (1, "50 votes 00:10 PT".to_owned()),
                (2, "100 votes 00:20 PT".to_owned()),
                (2, "featured 00:15 PT".to_owned()),
            ]
        );
        assert!(ph_milestones(&[], None).is_empty());
    }
}
