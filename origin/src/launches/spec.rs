//! A launch file validated into a typed [`LaunchSpec`], every problem reported at once.
//!
//! Each value with rules of its own is a newtype with a `parse` that says what is allowed;
//! [`LaunchSpec::validate`] runs them all and collects a [`FieldError`] (the field's path,
//! e.g. `cta[1].url`, and the problem) for each failure instead of stopping at the first.
//! [`LaunchSpec::to_file`] gives back the canonical [`LaunchFile`]: defaults filled in,
//! the launch time with its Pacific offset. The canonical form is what is stored and
//! compared, so re-applying a file that only differs in spelled-out defaults changes nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, FixedOffset, LocalResult, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use chrono_tz::America::Los_Angeles;
use launch_edge_proto::Slug;

use super::file::{
    BusinessFile, CtaFile, ImageFile, LaunchFile, ProductHuntFile, SocialFile, VariantFile,
};
pub use super::values::*;

/// One problem with one field of a launch file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    /// Where, as a path into the file: `slug`, `cta[0].url`, `variants.fr.tagline`.
    pub field: String,
    /// What is wrong and what is allowed.
    pub problem: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.problem)
    }
}

/// Every problem found in a launch file (never empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecErrors(pub Vec<FieldError>);

impl fmt::Display for SpecErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "the launch file has {} problem(s):", self.0.len())?;
        for e in &self.0 {
            writeln!(f, "  {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SpecErrors {}

/// What validation needs beyond the file.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    /// The origin's `LAUNCH_CTA_HOSTS`: when set, a file's `cta_hosts` must stay within it.
    pub origin_cta_hosts: Vec<HostPattern>,
    /// Reloading a stored spec: the host allowlist was enforced when it was applied.
    pub stored: bool,
}

pub const MAX_CTAS: usize = 6;
pub const MAX_HOSTS: usize = 10;
pub const MAX_BEACON_ORIGINS: usize = 10;
pub const MAX_CHANNELS: usize = 20;
pub const MAX_DESCRIPTION_BYTES: usize = 20_000;
pub const MAX_TEMPLATE_BYTES: usize = 32 * 1024;
/// Largest amount in minor units (10^13: a hundred billion dollars).
pub const MAX_AMOUNT: i64 = 10_000_000_000_000;

#[derive(Debug, Clone, PartialEq)]
pub struct Cta {
    pub name: CtaName,
    pub url: HttpsUrl,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    pub url: HttpsUrl,
    pub width: u32,
    pub height: u32,
    pub alt: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Social {
    pub title: String,
    pub description: String,
    pub image: Option<Image>,
    pub twitter_card: TwitterCard,
    pub twitter_site: Option<TwitterHandle>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Variant {
    pub tagline: Option<String>,
    pub description: Option<Markdown>,
    pub social_title: Option<String>,
    pub social_description: Option<String>,
    pub cta_labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Business {
    pub currency: Currency,
    pub spend: BTreeMap<Channel, i64>,
    pub expected_ltv: Option<i64>,
    pub revenue_window_days: Option<u32>,
    pub cost_per_visitor: Option<i64>,
}

impl Business {
    /// The report's spend: every channel added up.
    pub fn total_spend(&self) -> i64 {
        self.spend.values().sum()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct LaunchSpec {
    pub slug: Slug,
    pub name: String,
    pub tagline: String,
    pub description: Markdown,
    pub lang: Lang,
    pub canonical_url: Option<HttpsUrl>,
    pub theme_color: Color,
    pub template_html: Option<String>,
    pub post_slug: PostSlug,
    pub launch_at: LaunchTime,
    pub cta_hosts: Vec<HostPattern>,
    pub ctas: Vec<Cta>,
    pub hero: Option<Image>,
    pub social: Social,
    pub variants: BTreeMap<Lang, Variant>,
    pub beacon_origins: Vec<HttpsOrigin>,
    pub business: Business,
}

/// Collects field errors while values are parsed.
#[derive(Default)]
struct Check {
    errors: Vec<FieldError>,
}

impl Check {
    fn fail(&mut self, field: impl Into<String>, problem: impl Into<String>) {
        self.errors.push(FieldError {
            field: field.into(),
            problem: problem.into(),
        });
    }

    fn ok<T>(&mut self, field: impl Into<String>, result: Result<T, String>) -> Option<T> {
        result.map_err(|p| self.fail(field, p)).ok()
    }

    fn required<'a, T>(&mut self, field: &str, value: &'a Option<T>, what: &str) -> Option<&'a T> {
        if value.is_none() {
            self.fail(field, format!("required: {what}"));
        }
        value.as_ref()
    }

    /// A one-line text of at most `max` characters; `None` stays `None`.
    fn line(&mut self, field: &str, value: Option<&String>, max: usize) -> Option<String> {
        let value = value?;
        self.ok(field, plain_text(value, max, false))
    }
}

/// Text without control characters (newlines only when `multiline`), at most `max`
/// characters, not blank.
pub fn plain_text(value: &str, max: usize, multiline: bool) -> Result<String, String> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err("must not be empty".into());
    }
    let count = trimmed.chars().count();
    if count > max {
        return Err(format!("at most {max} characters (it has {count})"));
    }
    if trimmed
        .chars()
        .any(|c| c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t')))
    {
        return Err("must not contain control characters".into());
    }
    Ok(trimmed.to_owned())
}

fn amount(value: i64) -> Result<i64, String> {
    if (0..=MAX_AMOUNT).contains(&value) {
        Ok(value)
    } else {
        Err(format!(
            "an amount in minor units from 0 to {MAX_AMOUNT} (it is {value})"
        ))
    }
}

fn pixels(value: Option<i64>) -> Result<u32, String> {
    match value {
        None => Err("required: the image's size in pixels (1 to 8192), so the page does not shift when it loads".into()),
        Some(v @ 1..=8192) => Ok(v as u32),
        Some(v) => Err(format!("pixels from 1 to 8192 (it is {v})")),
    }
}

fn image(check: &mut Check, path: &str, file: &ImageFile) -> Option<Image> {
    let url = check.required(&format!("{path}.url"), &file.url, "an https URL");
    let url = url.and_then(|u| check.ok(format!("{path}.url"), HttpsUrl::parse(u)));
    let width = check.ok(format!("{path}.width"), pixels(file.width));
    let height = check.ok(format!("{path}.height"), pixels(file.height));
    let alt = check.required(
        &format!("{path}.alt"),
        &file.alt,
        "a text alternative for people who cannot see the image",
    );
    let alt = check.line(&format!("{path}.alt"), alt, 200);
    Some(Image {
        url: url?,
        width: width?,
        height: height?,
        alt: alt?,
    })
}

impl LaunchSpec {
    /// Every field checked; all problems or the typed spec.
    pub fn validate(file: &LaunchFile, rules: &Rules) -> Result<Self, SpecErrors> {
        let mut c = Check::default();

        let slug = c.required(
            "slug",
            &file.slug,
            "the page's address, e.g. \"acme-notes\"",
        );
        let slug = slug.and_then(|s| {
            c.ok(
                "slug",
                Slug::parse(s).map_err(|_| {
                    "1 to 64 characters of a-z, 0-9 and single hyphens, e.g. \"acme-notes\"".into()
                }),
            )
        });
        let name = c.required("name", &file.name, "the product's name");
        let name = c.line("name", name, 100);
        let tagline = c.line("tagline", file.tagline.as_ref(), 120);
        let description = match &file.description {
            None => Some(Markdown::default()),
            Some(d) => c.ok("description", Markdown::parse(d)),
        };
        let lang = match &file.lang {
            None => Some(Lang::En),
            Some(l) => c.ok("lang", Lang::parse(l)),
        };
        let canonical_url = file
            .canonical_url
            .as_ref()
            .map(|u| c.ok("canonical_url", HttpsUrl::parse(u)));
        let theme_color = match &file.theme_color {
            None => Some(Color::default()),
            Some(t) => c.ok("theme_color", Color::parse(t)),
        };
        let template_html = match (&file.template, &file.template_html) {
            (Some(_), Some(_)) => {
                c.fail(
                    "template",
                    "give either template (a path) or template_html, not both",
                );
                None
            }
            (Some(_), None) => {
                c.fail(
                    "template",
                    "a template path is read by `launch apply FILE` (relative to the file); over the admin API send the template's text as template_html",
                );
                None
            }
            (None, Some(html)) if html.len() > MAX_TEMPLATE_BYTES => {
                c.fail(
                    "template_html",
                    format!("at most {MAX_TEMPLATE_BYTES} bytes (it has {})", html.len()),
                );
                None
            }
            (None, html) => html.clone(),
        };

        let ph = c.required(
            "product_hunt",
            &file.product_hunt,
            "a [product_hunt] table with post_slug and launch_at",
        );
        let empty = ProductHuntFile::default();
        let ph = ph.unwrap_or(&empty);
        let post_slug = if file.product_hunt.is_some() {
            let p = c.required(
                "product_hunt.post_slug",
                &ph.post_slug,
                "the post's slug, as in producthunt.com/posts/<post_slug>",
            );
            p.and_then(|p| c.ok("product_hunt.post_slug", PostSlug::parse(p)))
        } else {
            None
        };
        let launch_at = if file.product_hunt.is_some() {
            let t = c.required(
                "product_hunt.launch_at",
                &ph.launch_at,
                "the launch time, e.g. \"2026-12-10T00:01:00\" (Pacific time)",
            );
            t.and_then(|t| c.ok("product_hunt.launch_at", LaunchTime::parse(t)))
        } else {
            None
        };

        let cta_hosts = hosts(&mut c, &file.cta_hosts, rules);
        let ctas = ctas(&mut c, &file.cta, cta_hosts.as_deref(), rules);
        let hero = file.hero.as_ref().map(|h| image(&mut c, "hero", h));
        let social = social(&mut c, file, name.as_deref(), tagline.as_deref());
        let variants = variants(&mut c, &file.variants, lang, ctas.as_deref());

        if file.beacon_origins.len() > MAX_BEACON_ORIGINS {
            c.fail(
                "beacon_origins",
                format!("at most {MAX_BEACON_ORIGINS} origins"),
            );
        }
        let mut beacon_origins = Vec::new();
        for (i, o) in file.beacon_origins.iter().enumerate() {
            if let Some(o) = c.ok(format!("beacon_origins[{i}]"), HttpsOrigin::parse(o)) {
                if beacon_origins.contains(&o) {
                    c.fail(format!("beacon_origins[{i}]"), "listed twice");
                } else {
                    beacon_origins.push(o);
                }
            }
        }
        let business = business(&mut c, file.business.as_ref());

        if !c.errors.is_empty() {
            return Err(SpecErrors(c.errors));
        }
        // Every `?` below is Some: each None pushed an error above.
        let missing = || SpecErrors(vec![]);
        Ok(LaunchSpec {
            slug: slug.ok_or_else(missing)?,
            name: name.ok_or_else(missing)?,
            tagline: tagline.unwrap_or_default(),
            description: description.ok_or_else(missing)?,
            lang: lang.ok_or_else(missing)?,
            canonical_url: canonical_url.flatten(),
            theme_color: theme_color.ok_or_else(missing)?,
            template_html,
            post_slug: post_slug.ok_or_else(missing)?,
            launch_at: launch_at.ok_or_else(missing)?,
            cta_hosts: cta_hosts.unwrap_or_default(),
            ctas: ctas.ok_or_else(missing)?,
            hero: hero.flatten(),
            social: social.ok_or_else(missing)?,
            variants: variants.ok_or_else(missing)?,
            beacon_origins,
            business: business.ok_or_else(missing)?,
        })
    }

    /// Languages the page has texts in: its own and every variant's.
    pub fn languages(&self) -> Vec<Lang> {
        let mut langs = vec![self.lang];
        langs.extend(self.variants.keys().copied());
        langs
    }

    pub fn launch_at_utc(&self) -> DateTime<Utc> {
        self.launch_at.utc()
    }

    /// The canonical file: what is stored, shown and compared.
    pub fn to_file(&self) -> LaunchFile {
        let image_file = |i: &Image| ImageFile {
            url: Some(i.url.to_string()),
            width: Some(i64::from(i.width)),
            height: Some(i64::from(i.height)),
            alt: Some(i.alt.clone()),
        };
        LaunchFile {
            slug: Some(self.slug.as_str().to_owned()),
            name: Some(self.name.clone()),
            tagline: Some(self.tagline.clone()).filter(|t| !t.is_empty()),
            description: Some(self.description.as_str().to_owned()).filter(|d| !d.is_empty()),
            lang: Some(self.lang.as_str().to_owned()),
            canonical_url: self.canonical_url.as_ref().map(ToString::to_string),
            theme_color: Some(self.theme_color.as_str().to_owned()),
            template: None,
            template_html: self.template_html.clone(),
            product_hunt: Some(ProductHuntFile {
                post_slug: Some(self.post_slug.as_str().to_owned()),
                launch_at: Some(self.launch_at.to_string()),
            }),
            cta_hosts: self.cta_hosts.iter().map(ToString::to_string).collect(),
            cta: self
                .ctas
                .iter()
                .map(|c| CtaFile {
                    name: Some(c.name.as_str().to_owned()),
                    url: Some(c.url.to_string()),
                    label: Some(c.label.clone()),
                })
                .collect(),
            hero: self.hero.as_ref().map(image_file),
            social: Some(SocialFile {
                title: Some(self.social.title.clone()),
                description: Some(self.social.description.clone()),
                image: self.social.image.as_ref().map(image_file),
                twitter_card: Some(self.social.twitter_card.as_str().to_owned()),
                twitter_site: self.social.twitter_site.as_ref().map(ToString::to_string),
            }),
            variants: self
                .variants
                .iter()
                .map(|(lang, v)| {
                    (
                        lang.as_str().to_owned(),
                        VariantFile {
                            tagline: v.tagline.clone(),
                            description: v.description.as_ref().map(|d| d.as_str().to_owned()),
                            social_title: v.social_title.clone(),
                            social_description: v.social_description.clone(),
                            cta_labels: v.cta_labels.clone(),
                        },
                    )
                })
                .collect(),
            beacon_origins: self
                .beacon_origins
                .iter()
                .map(ToString::to_string)
                .collect(),
            business: Some(BusinessFile {
                currency: Some(self.business.currency.as_str().to_owned()),
                spend: self
                    .business
                    .spend
                    .iter()
                    .map(|(k, v)| (k.as_str().to_owned(), *v))
                    .collect(),
                expected_ltv: self.business.expected_ltv,
                revenue_window_days: self.business.revenue_window_days.map(i64::from),
                cost_per_visitor: self.business.cost_per_visitor,
            }),
        }
    }
}

/// The effective host allowlist: the file's (within the origin's, when that is set), or
/// the origin's. `None` when it is unusable (an error was recorded).
fn hosts(c: &mut Check, listed: &[String], rules: &Rules) -> Option<Vec<HostPattern>> {
    if listed.len() > MAX_HOSTS {
        c.fail("cta_hosts", format!("at most {MAX_HOSTS} hosts"));
        return None;
    }
    let mut hosts = Vec::new();
    let mut ok = true;
    for (i, h) in listed.iter().enumerate() {
        match HostPattern::parse(h) {
            Ok(h) => {
                let allowed = rules.stored
                    || rules.origin_cta_hosts.is_empty()
                    || rules.origin_cta_hosts.iter().any(|o| o.covers(h.as_str()));
                if allowed {
                    hosts.push(h);
                } else {
                    ok = false;
                    c.fail(
                        format!("cta_hosts[{i}]"),
                        format!(
                            "{h} is outside the origin's LAUNCH_CTA_HOSTS ({})",
                            list(&rules.origin_cta_hosts)
                        ),
                    );
                }
            }
            Err(p) => {
                ok = false;
                c.fail(format!("cta_hosts[{i}]"), p);
            }
        }
    }
    if hosts.is_empty() && ok && !rules.stored {
        if rules.origin_cta_hosts.is_empty() {
            c.fail(
                "cta_hosts",
                "required: the hosts your call-to-action URLs may point at, e.g. [\"acme.dev\"] (or set LAUNCH_CTA_HOSTS on the origin)",
            );
            return None;
        }
        return Some(rules.origin_cta_hosts.clone());
    }
    ok.then_some(hosts)
}

fn list(hosts: &[HostPattern]) -> String {
    hosts
        .iter()
        .map(HostPattern::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

fn ctas(
    c: &mut Check,
    files: &[CtaFile],
    hosts: Option<&[HostPattern]>,
    rules: &Rules,
) -> Option<Vec<Cta>> {
    if files.is_empty() && rules.stored {
        return Some(Vec::new());
    }
    if files.is_empty() {
        c.fail(
            "cta",
            "required: at least one [[cta]] with name and url (the page's buttons)",
        );
        return None;
    }
    if files.len() > MAX_CTAS {
        c.fail("cta", format!("at most {MAX_CTAS} buttons"));
        return None;
    }
    let mut ctas = Vec::new();
    let mut names = BTreeSet::new();
    let mut all = true;
    for (i, f) in files.iter().enumerate() {
        let path = format!("cta[{i}]");
        let name = c.required(
            &format!("{path}.name"),
            &f.name,
            "the link's name, e.g. \"signup\"",
        );
        let name = name.and_then(|n| c.ok(format!("{path}.name"), CtaName::parse(n)));
        if let Some(n) = &name {
            if !names.insert(n.as_str().to_owned()) {
                c.fail(
                    format!("{path}.name"),
                    format!("{n} is used by another button"),
                );
            }
        }
        let url = c.required(&format!("{path}.url"), &f.url, "an https URL");
        let url = url.and_then(|u| c.ok(format!("{path}.url"), HttpsUrl::parse(u)));
        if let (Some(u), Some(hosts)) = (&url, hosts) {
            if !rules.stored && !hosts.iter().any(|h| h.covers(u.host())) {
                c.fail(
                    format!("{path}.url"),
                    format!("host {} is not in cta_hosts ({})", u.host(), list(hosts)),
                );
            }
        }
        let label = match &f.label {
            None => name.as_ref().map(|n| n.as_str().to_owned()),
            Some(l) => c.ok(format!("{path}.label"), plain_text(l, 40, false)),
        };
        match (name, url, label) {
            (Some(name), Some(url), Some(label)) => ctas.push(Cta { name, url, label }),
            _ => all = false,
        }
    }
    all.then_some(ctas)
}

fn social(
    c: &mut Check,
    file: &LaunchFile,
    name: Option<&str>,
    tagline: Option<&str>,
) -> Option<Social> {
    let empty = SocialFile::default();
    let s = file.social.as_ref().unwrap_or(&empty);
    // Each part is checked even when another failed, so every problem is reported.
    let title = match &s.title {
        Some(t) => c.ok("social.title", plain_text(t, 100, false)),
        None => name.map(|name| match tagline {
            Some(t) => format!("{name} — {t}"),
            None => name.to_owned(),
        }),
    };
    let description = match &s.description {
        Some(d) => c.ok("social.description", plain_text(d, 300, false)),
        None => Some(tagline.unwrap_or_default().to_owned()),
    };
    let image = s.image.as_ref().map(|i| image(c, "social.image", i));
    let twitter_card = match &s.twitter_card {
        Some(t) => c.ok("social.twitter_card", TwitterCard::parse(t)),
        None if s.image.is_some() => Some(TwitterCard::SummaryLargeImage),
        None => Some(TwitterCard::Summary),
    };
    let twitter_site = s
        .twitter_site
        .as_ref()
        .map(|h| c.ok("social.twitter_site", TwitterHandle::parse(h)));
    let (title, description, twitter_card) = (title?, description?, twitter_card?);
    let image = match image {
        Some(i) => Some(i?),
        None => None,
    };
    let twitter_site = match twitter_site {
        Some(h) => Some(h?),
        None => None,
    };
    Some(Social {
        title,
        description,
        image,
        twitter_card,
        twitter_site,
    })
}

fn variants(
    c: &mut Check,
    files: &BTreeMap<String, VariantFile>,
    base: Option<Lang>,
    ctas: Option<&[Cta]>,
) -> Option<BTreeMap<Lang, Variant>> {
    let mut variants = BTreeMap::new();
    let mut all = true;
    for (key, f) in files {
        let path = format!("variants.{key}");
        let Some(lang) = c.ok(&path, Lang::parse(key)) else {
            all = false;
            continue;
        };
        if Some(lang) == base {
            c.fail(
                &path,
                format!(
                    "{key} is the page's own language (lang): its texts are the top-level ones"
                ),
            );
            all = false;
            continue;
        }
        let before = c.errors.len();
        let mut v = Variant {
            tagline: c.line(&format!("{path}.tagline"), f.tagline.as_ref(), 120),
            description: f
                .description
                .as_ref()
                .and_then(|d| c.ok(format!("{path}.description"), Markdown::parse(d))),
            social_title: c.line(
                &format!("{path}.social_title"),
                f.social_title.as_ref(),
                100,
            ),
            social_description: c.line(
                &format!("{path}.social_description"),
                f.social_description.as_ref(),
                300,
            ),
            cta_labels: BTreeMap::new(),
        };
        for (name, label) in &f.cta_labels {
            let field = format!("{path}.cta_labels.{name}");
            let known = ctas.is_none_or(|ctas| ctas.iter().any(|c| c.name.as_str() == name));
            if !known {
                c.fail(&field, "no [[cta]] has this name");
            } else if let Some(label) = c.ok(&field, plain_text(label, 40, false)) {
                v.cta_labels.insert(name.clone(), label);
            }
        }
        if c.errors.len() == before {
            variants.insert(lang, v);
        } else {
            all = false;
        }
    }
    all.then_some(variants)
}

fn business(c: &mut Check, file: Option<&BusinessFile>) -> Option<Business> {
    let file = match file {
        Some(f) => f,
        None => {
            c.fail(
                "business",
                "required: a [business] table with at least currency (spend, expected_ltv or revenue_window_days for the report)",
            );
            return None;
        }
    };
    let currency = c.required(
        "business.currency",
        &file.currency,
        "an ISO 4217 code, e.g. \"USD\"",
    );
    let currency = currency.and_then(|cur| c.ok("business.currency", Currency::parse(cur)));
    if file.spend.len() > MAX_CHANNELS {
        c.fail("business.spend", format!("at most {MAX_CHANNELS} channels"));
    }
    let mut spend = BTreeMap::new();
    for (channel, value) in &file.spend {
        let field = format!("business.spend.{channel}");
        let channel = c.ok(&field, Channel::parse(channel));
        let value = c.ok(&field, amount(*value));
        if let (Some(ch), Some(v)) = (channel, value) {
            spend.insert(ch, v);
        }
    }
    let expected_ltv = file
        .expected_ltv
        .and_then(|v| c.ok("business.expected_ltv", amount(v)));
    let revenue_window_days = match file.revenue_window_days {
        None => None,
        Some(d @ 1..=365) => Some(d as u32),
        Some(d) => {
            c.fail(
                "business.revenue_window_days",
                format!("days from 1 to 365 (it is {d})"),
            );
            None
        }
    };
    if file.expected_ltv.is_some() && file.revenue_window_days.is_some() {
        c.fail(
            "business.revenue_window_days",
            "give either expected_ltv or revenue_window_days, not both",
        );
    }
    let cost_per_visitor = file
        .cost_per_visitor
        .and_then(|v| c.ok("business.cost_per_visitor", amount(v)));
    Some(Business {
        currency: currency?,
        spend,
        expected_ltv,
        revenue_window_days,
        cost_per_visitor,
    })
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
    use super::*;

    #[test]
    fn a_pacific_launch_time_becomes_utc_across_daylight_saving() {
        let winter = LaunchTime::parse("2026-12-10T00:01:00").unwrap();
        assert_eq!(winter.utc().to_rfc3339(), "2026-12-10T08:01:00+00:00");
        assert_eq!(winter.to_string(), "2026-12-10T00:01:00-08:00");
        let summer = LaunchTime::parse("2026-07-01T00:01").unwrap();
        assert_eq!(summer.utc().to_rfc3339(), "2026-07-01T07:01:00+00:00");
        assert_eq!(summer.to_string(), "2026-07-01T00:01:00-07:00");
    }

    #[test]
    fn an_explicit_offset_is_kept_as_the_same_instant_in_pacific_time() {
        let t = LaunchTime::parse("2026-12-10T08:01:00Z").unwrap();
        assert_eq!(t.to_string(), "2026-12-10T00:01:00-08:00");
        let t = LaunchTime::parse("2026-11-01T01:30:00-07:00").unwrap();
        assert_eq!(t.utc().to_rfc3339(), "2026-11-01T08:30:00+00:00");
    }

    #[test]
    fn a_host_pattern_allows_its_subdomains_and_nothing_that_merely_ends_like_it() {
        let host = HostPattern::parse("Acme.dev").unwrap();
        assert!(host.covers("acme.dev"));
        assert!(host.covers("app.acme.dev"));
        assert!(!host.covers("evilacme.dev"));
        assert!(!host.covers("acme.dev.evil.example"));
        for bad in [
            "*.acme.dev",
            "https://acme.dev",
            "acme.dev/x",
            "localhost",
            "10.0.0.1",
        ] {
            assert!(HostPattern::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_beacon_origin_is_scheme_and_host_only() {
        assert_eq!(
            HttpsOrigin::parse("https://App.Acme.dev")
                .unwrap()
                .to_string(),
            "https://app.acme.dev"
        );
        assert_eq!(
            HttpsOrigin::parse("https://acme.dev:8443/")
                .unwrap()
                .to_string(),
            "https://acme.dev:8443"
        );
        for bad in [
            "http://acme.dev",
            "https://acme.dev/app",
            "https://acme.dev?x=1",
        ] {
            assert!(HttpsOrigin::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_cta_url_with_credentials_or_an_ip_address_is_refused() {
        assert!(HttpsUrl::parse("https://user:pw@acme.dev/").is_err());
        assert!(HttpsUrl::parse("https://127.0.0.1/").is_err());
        assert!(HttpsUrl::parse("https://acme.dev/signup?plan=a").is_ok());
    }

    #[test]
    fn the_canonical_file_validates_to_the_same_spec() {
        let file = LaunchFile::from_toml(crate::launches::DEMO_FILE).unwrap();
        let spec = LaunchSpec::validate(&file, &Rules::default()).unwrap();
        let again = LaunchSpec::validate(&spec.to_file(), &Rules::default()).unwrap();
        assert_eq!(spec, again);
        assert_eq!(spec.business.total_spend(), 50_000);
    }
}
